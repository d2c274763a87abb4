"""The notebooks run top to bottom in a real Jupyter kernel (nbclient), from notebooks/ as
Jupyter would, on small settings; the values they compute are read back and checked. The
committed notebooks carry no outputs."""
from __future__ import annotations

import json
import math

import pytest

from .conftest import REPO

NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
MARK = "@@despin-notebook-values@@"
TIMEOUT = 300  # seconds per cell

# notebooks/02 on small settings: pairs-tiny.yaml's own size, a few steps, a short sweep
SMALL_02 = """\
WIKI_DOCS = 12
STEPS = 4
N_SWEEP = 8
THRESHOLDS = [-1, 0, 1, 2, 4]
"""


def _run(name: str, replace_first: str | None = None, report: str = "") -> dict:
    """Execute notebook ``name`` in a fresh python3 kernel with notebooks/ as its working
    folder and return the JSON that ``report`` (a Python expression run in a cell appended at
    the end) evaluates to. ``replace_first``: code run right after the first code cell (the
    parameters cell), overriding its values."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    if replace_first is not None:
        first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        nb.cells.insert(first + 1, nbformat.v4.new_code_cell(replace_first))
    nb.cells.append(nbformat.v4.new_code_cell(
        f"import json as _json\nprint({MARK!r} + _json.dumps({report}))"))
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=TIMEOUT,
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()
    for out in nb.cells[-1].outputs:
        if out.get("name") == "stdout" and MARK in out.get("text", ""):
            return json.loads(out["text"].split(MARK, 1)[1])
    raise AssertionError(f"{name}: the values cell printed nothing: {nb.cells[-1].outputs}")


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["01-quickstart.ipynb", "02-train-and-evaluate.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebooks_have_no_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name}: strip the outputs before committing"
            assert cell.get("execution_count") is None, f"{path.name}: execution counts left"


def test_quickstart():
    import despin
    from despin.edits import apply_edits
    from training.evaluate import score
    from training.spinner import Spinner

    nb = json.loads((NOTEBOOK_DIR / "01-quickstart.ipynb").read_text(encoding="utf-8"))
    last = nb["cells"][-1]
    assert "".join(nb["cells"][-2]["source"]).startswith("## Spin detection")
    assert "".join(last["source"]) == "detection = model.detect(result.input)\ndetection"

    report = """{
        "input": result.input, "text": result.text,
        "edits": [[e.start, e.end, e.spun, e.restored, e.out_start, e.out_end]
                  for e in result.edits],
        "table_rows": len(edits), "html": diff_html(result),
        "original": original, "spun": spun.text, "restored": check.text, "metrics": metrics,
        "detection": detection.to_dict(),
    }"""
    v = _run("01-quickstart.ipynb", report=report)

    article = (REPO / "seeds" / "nyt-putin-kim-spun.txt").read_text(encoding="utf-8")
    assert v["input"] == article
    # every edit fits the input, its output span holds its restored text, and applying the
    # edits gives the restored text
    assert v["edits"] and v["table_rows"] == len(v["edits"])
    for start, end, spun, restored, out_start, out_end in v["edits"]:
        assert article[start:end] == spun and spun != restored
        assert v["text"][out_start:out_end] == restored
    from despin.edits import Edit

    assert apply_edits(article, [Edit(s, e, a, b, 0.0) for s, e, a, b, *_ in v["edits"]]) \
        == v["text"]
    # the HTML diff marks every edit and escapes the text
    assert v["html"].count("<del ") == v["html"].count("<ins ") == len(v["edits"])
    assert "’" in v["html"] and "<script" not in v["html"]

    # the score: sane, and what a direct call computes
    m = v["metrics"]
    assert 0.2 <= m["f05"] <= 1.0 and 0.0 < m["recall"] <= 1.0 and m["n_gold"] > 0
    spun = Spinner("spinner.yaml").spin(v["original"], seed=3, rate=0.35)
    assert spun.text == v["spun"]
    restored = despin.Despinner.from_pretrained().restore(spun.text)
    assert restored == v["restored"]
    direct = score([spun.text], [restored], [v["original"]])
    for k in ("precision", "recall", "f05", "tp", "n_pred", "n_gold"):
        assert math.isclose(m[k], direct[k], rel_tol=1e-9), k

    # detection: the seed article (real spinner output) is called spun, sentence by sentence
    # offsets into the article, and the same as a direct call
    d = v["detection"]
    assert d["probability"] > 0.9
    assert all(article[s["start"]:s["end"]] == s["text"] for s in d["sentences"])
    assert d == despin.Despinner.from_pretrained().detect(article).to_dict()


def test_train_and_evaluate():
    import tempfile
    from pathlib import Path

    small = SMALL_02
    report = """{
        "n_pairs": n_pairs, "pairs_dir": str(pairs_dir), "encoder_dir": str(encoder_dir),
        "encoder_files": sorted(p.name for p in encoder_dir.iterdir()),
        "train_steps": max(r["step"] for r in log if r["type"] == "train"),
        "thresholds": list(THRESHOLDS), "precision": precision, "recall": recall, "f05": f05,
        "n_pred": sweep["n_pred"].tolist(), "evaluated": table.to_dict(orient="index"),
        "threshold_after": default.fast.settings.threshold, "shipped": shipped_threshold,
    }"""
    v = _run("02-train-and-evaluate.ipynb", replace_first=small, report=report)

    # pairs: regenerated from pairs-tiny.yaml (591 training pairs, capped at 300 windows)
    assert v["n_pairs"]["train"] > 100 and v["n_pairs"]["test"] > 0
    assert v["n_pairs"]["validation"] > 0
    # the tiny encoder was trained (in a temporary folder, not in the repository)
    assert "encoder.json" in v["encoder_files"] and "encoder.safetensors" in v["encoder_files"]
    assert v["train_steps"] == 4
    for key in ("pairs_dir", "encoder_dir"):
        path = Path(v[key]).resolve()
        assert not path.is_relative_to(REPO.resolve())
        assert path.is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert not Path(v["encoder_dir"]).exists()  # the temporary folder went with the kernel
    # both restorers were evaluated on the whole test split
    for name in ("tiny", "shipped default"):
        row = v["evaluated"][name]
        assert row["n"] == v["n_pairs"]["test"]
        assert 0.0 <= row["precision"] <= 1.0 and 0.0 <= row["recall"] <= 1.0
    # the sweep: one point per threshold; a higher copy bonus never makes more edits or
    # restores more
    n = len(v["thresholds"])
    assert n == 5 and len(v["precision"]) == len(v["recall"]) == len(v["f05"]) == n
    assert all(0.0 <= x <= 1.0 for x in v["precision"] + v["recall"] + v["f05"])
    assert all(a >= b for a, b in zip(v["recall"], v["recall"][1:])), v["recall"]
    assert all(a >= b for a, b in zip(v["n_pred"], v["n_pred"][1:])), v["n_pred"]
    assert v["n_pred"][0] > v["n_pred"][-1]  # the sweep is not degenerate
    assert v["threshold_after"] == v["shipped"]
