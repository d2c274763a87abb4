"""The `despin` command: files, stdin, line-for-line output, blank lines, errors."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from despin.despinner import SEARCH_PATH, Despinner
from despin.synonyms import DEFAULT_SOURCES

from .conftest import REPO


@pytest.fixture(scope="module")
def copy_model(tmp_path_factory) -> Path:
    """A Despinner with no scorer: it copies its input, which isolates the CLI's plumbing."""
    return Despinner(DEFAULT_SOURCES, []).save_pretrained(tmp_path_factory.mktemp("m") / "copy")


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "despin", "--quiet", *args], input=stdin,
                          capture_output=True, text=True, cwd=REPO, timeout=600)


def test_files_line_for_line(tmp_path, copy_model):
    a = tmp_path / "a.txt"
    a.write_text("First line.\n\n\nThird, after blanks.\n   \nLast")
    b = tmp_path / "b.txt"
    b.write_text("Another file.\n")
    r = run("--model", str(copy_model), str(a), str(b))
    assert r.returncode == 0, r.stderr
    assert r.stdout == a.read_text() + b.read_text()


def test_stdin_and_dash(copy_model):
    text = "From stdin.\n\nTwo paragraphs.\n"
    assert run("--model", str(copy_model), stdin=text).stdout == text
    assert run("--model", str(copy_model), "-", stdin=text).stdout == text


SPUN = "The men stated the navy know-how was extra superior.\n"


def test_json_format_follows_languagetool_matches(copy_model):
    import json

    r = run("--format", "json", stdin="Nothing to do.\r\n\nSecond line.")
    assert r.returncode == 0, r.stderr
    header, *records = [json.loads(l) for l in r.stdout.splitlines()]
    assert header["model"] == "default" and header["despin"]
    assert len(header["model_version"]) == 12
    assert [(x["line"], x["input"]) for x in records] == [(1, "Nothing to do."), (2, ""),
                                                          (3, "Second line.")]
    r = run("--format", "json", stdin=SPUN + SPUN)
    records = [json.loads(l) for l in r.stdout.splitlines()[1:]]
    assert len(records) == 2 and records[0] == {**records[1], "line": 1}
    rec = records[0]
    assert rec["edits"] and rec["output"] != rec["input"]
    for e in rec["edits"]:
        assert rec["input"][e["offset"]:e["offset"] + e["length"]] == e["spun"]
        assert e["sentence"] == rec["input"] and e["source"]
        assert e["scorer"] == "fast"  # the default: the fast core's margin (nats)
        assert all(a["score"] <= e["score"] for a in e["alternatives"])
    # the edits rebuild the output
    out, pos = "", 0
    for e in rec["edits"]:
        out += rec["input"][pos:e["offset"]] + e["restored"]
        pos = e["offset"] + e["length"]
    assert out + rec["input"][pos:] == rec["output"]


def test_diff_format_marks_edits_inline():
    import re

    text = run(stdin=SPUN).stdout
    diff = run("--format", "diff", stdin=SPUN).stdout
    assert "[stated→said]" in diff
    # dropping the marks' left sides gives the restored text, their right sides the input
    assert re.sub(r"\[([^\[\]→]*)→([^\[\]]*)\]", r"\2", diff) == text
    assert re.sub(r"\[([^\[\]→]*)→([^\[\]]*)\]", r"\1", diff) == SPUN


def test_output_streams_before_the_input_ends(copy_model):
    """A pipe sees the first lines' output while later input has not been written yet."""
    p = subprocess.Popen([sys.executable, "-m", "despin", "--quiet", "--model", str(copy_model)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        p.stdin.write("First line.\n" * 300)  # more sentences than one batch
        p.stdin.flush()
        assert p.stdout.readline() == "First line.\n"  # the input is still open
        for _ in range(299):
            assert p.stdout.readline() == "First line.\n"
        p.stdin.write("A line typed later.\n")  # fewer than a batch: answered at once
        p.stdin.flush()
        assert p.stdout.readline() == "A line typed later.\n"
        p.stdin.write("Last line.\n")
        p.stdin.close()
        assert p.stdout.read() == "Last line.\n"
        assert p.wait(timeout=120) == 0
    finally:
        p.kill()


def test_detect_prints_sentence_and_document_probabilities(tmp_path):
    import json

    clean = "The men said the military technology was more advanced.\n"
    (tmp_path / "spun.txt").write_text(SPUN * 3)
    (tmp_path / "clean.txt").write_text(clean * 3)
    r = run("--detect", str(tmp_path / "spun.txt"), str(tmp_path / "clean.txt"))
    assert r.returncode == 0, r.stderr
    lines = [l.split("\t") for l in r.stdout.splitlines()]
    assert len(lines) == 8 and lines[3][1].startswith("[document") and lines[7][1].startswith(
        "[document")
    assert float(lines[3][0]) > 0.5 > float(lines[7][0])
    r = run("--detect", "--format", "json", str(tmp_path / "spun.txt"))
    d = json.loads(r.stdout)
    assert len(d["sentences"]) == 3 and d["probability"] == float(lines[3][0])


@pytest.mark.parametrize("args,message", [
    (["/no/such/file.txt"], "cannot read input"),
    (["tests"], "cannot read input"),
    (["tests/latin1.txt"], "not UTF-8"),
    (["--model", "/no/such/model"], "cannot load model"),
    (["--profile", "nope"], "no 'nope' profile"),
    pytest.param(["--device", "cuda"], "no CUDA GPU", marks=pytest.mark.skipif(
        __import__("torch").cuda.is_available(), reason="this machine has a CUDA GPU")),
])
def test_errors_are_one_line(args, message, tmp_path):
    if args == ["tests/latin1.txt"]:
        args = [str(tmp_path / "latin1.txt")]
        Path(args[0]).write_bytes("café na\xefve\n".encode("latin-1"))
    r = run(*args, stdin="x\n")
    assert r.returncode != 0
    assert message in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_bad_batch_size():
    r = run("--batch-size", "0", stdin="x\n")
    assert r.returncode == 2 and "batch-size" in r.stderr
    r = run("--margin", "1.5", stdin="x\n")  # a margin needs a searcher profile
    assert r.returncode == 2 and "--margin" in r.stderr and "--profile" in r.stderr


def test_profile_and_copy_bonus_reach_the_restorer(tmp_path, capsys, monkeypatch):
    from despin.cli import main

    d = Despinner(DEFAULT_SOURCES, [])
    fitted = d.derive()
    fitted.settings.top_k = 3
    d.set_profile("phrase", fitted)
    folder = d.save_pretrained(tmp_path / "m")
    (tmp_path / "t.txt").write_text("navy know-how\n")
    seen = []
    real = Despinner.restore_lines
    monkeypatch.setattr(Despinner, "restore_lines", lambda self, lines, *args, **kwargs: (
        seen.append((self.settings.top_k, self.settings.copy_bonus)),
        real(self, lines, *args, **kwargs))[1])
    assert main(["--model", str(folder), "--profile", "phrase", "--copy-bonus", "7",
                 "--quiet", str(tmp_path / "t.txt")]) == 0
    assert capsys.readouterr().out == "navy know-how\n"
    assert main(["--model", str(folder), "--quiet", str(tmp_path / "t.txt")]) == 0
    assert seen == [(3, 7.0), (d.settings.top_k, d.settings.copy_bonus)]


def test_a_pipe_or_fifo_is_read_once(tmp_path, copy_model):
    """A FIFO (or ``<(...)``) can be read only once: no UTF-8 pre-check may use it up."""
    import os
    import threading

    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    text = "Through a pipe.\nSecond line.\n"

    def write() -> None:
        with open(fifo, "w") as f:
            f.write(text)

    threading.Thread(target=write, daemon=True).start()
    r = run("--model", str(copy_model), str(fifo))
    assert r.returncode == 0, r.stderr
    assert r.stdout == text


@pytest.mark.parametrize("content,message", [
    ('{"format": 1}', "names no synonym 'sources'"),
    ("not json", "cannot load model"),
])
def test_a_broken_model_folder_is_one_line(tmp_path, content, message):
    (tmp_path / "despin.json").write_text(content)
    r = run("--model", str(tmp_path), stdin="x\n")
    assert r.returncode == 2 and message in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_missing_encoder_folder_is_one_line(tmp_path):
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(REPO / "despin" / "default", folder, ignore=shutil.ignore_patterns("encoder"))
    r = run("--model", str(folder), stdin="x\n")
    assert r.returncode == 2 and f"{folder / 'encoder'} is missing" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args,message", [
    (["--detect", "--format", "diff"], "--detect writes text or json"),
    (["--copy-bonus", "nan"], "--copy-bonus takes a finite number"),
    (["--choice-margin", "-1"], "--choice-margin takes a finite number ≥ 0"),
    (["--choice-margin", "inf"], "--choice-margin takes a finite number ≥ 0"),
])
def test_bad_flag_combinations(args, message):
    r = run(*args, stdin="x\n")
    assert r.returncode == 2 and message in r.stderr


def test_the_first_bad_byte_of_a_large_file_is_named_by_its_offset(tmp_path):
    """The UTF-8 check reads 1 MiB chunks; the offset it reports counts from the file's start,
    also for a character split between two chunks."""
    from despin.cli import _check_readable

    for data, at in [(b"a" * (1 << 20) + b"0123456789\xff", (1 << 20) + 10),
                     (b"a" * ((1 << 20) - 1) + "é".encode() + b"ok\xff", (1 << 20) + 3),
                     (b"abc\xc3", 3)]:
        path = tmp_path / "f.txt"
        path.write_bytes(data)
        with pytest.raises(UnicodeDecodeError) as info:
            _check_readable(str(path))
        assert info.value.start == at


def test_dtype_on_the_fast_core_says_it_does_nothing():
    r = run("--quiet", "--dtype", "bfloat16", stdin="The men stated it.\n")
    assert r.returncode == 0 and r.stdout == "The men said it.\n"
    assert "--dtype has no effect on the fast core" in r.stderr
    r = run("--quiet", stdin="The men stated it.\n")
    assert "--dtype" not in r.stderr


def _broken_copy(tmp_path, change):
    """The shipped default's despin.json, changed by ``change(cfg)``, in a folder of its own
    (the encoder and tables are not copied: every case fails before they are read)."""
    cfg = json.loads((REPO / "despin" / "default" / "despin.json").read_text())
    change(cfg)
    (tmp_path / "despin.json").write_text(json.dumps(cfg))
    return tmp_path


@pytest.mark.parametrize("change,message", [
    (lambda c: c.update(scorers=[{"modell": "x"}]), "unexpected keyword argument 'modell'"),
    (lambda c: c["fast"]["settings"].update(threshold="high"), "threshold must be a number"),
    (lambda c: c["fast"].pop("encoder"), "names no 'encoder' folder"),
    (lambda c: c.update(calibration={"network": {"names": []}}), "'mean'"),
    (lambda c: c["sources"].append({"name": "x", "kind": "nonsense"}), "known kind"),
    (lambda c: c.update(search={"top_kk": 3}), "unexpected keyword argument 'top_kk'"),
])
def test_a_broken_despin_json_is_a_value_error_naming_the_file(tmp_path, change, message):
    folder = _broken_copy(tmp_path, change)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        Despinner.from_pretrained(folder)
    assert str(folder / "despin.json") in str(info.value)


def test_a_broken_model_folder_from_the_cli_names_the_file(tmp_path):
    folder = _broken_copy(tmp_path, lambda c: c["fast"]["settings"].update(threshold="high"))
    for extra in ([], ["--no-gate"]):  # --no-gate once turned any TypeError into its message
        r = run("--model", str(folder), *extra, stdin="x\n")
        assert r.returncode == 2 and "threshold must be a number" in r.stderr, r.stderr
        assert str(folder / "despin.json") in r.stderr and "Traceback" not in r.stderr


def test_no_gate_and_ngram_need_a_fast_core_model():
    with pytest.raises(ValueError, match=r"gate_cut \(--no-gate\) needs a fast-core model"):
        Despinner.from_pretrained(SEARCH_PATH, gate_cut=None)
    with pytest.raises(ValueError, match=r"n-gram model .* needs a fast-core model"):
        Despinner.from_pretrained(SEARCH_PATH, ngram="x.arpa")


def test_a_max_length_beyond_the_encoders_positions_is_refused_at_load():
    # by from_pretrained itself (it used to load, then fail at the first restore)
    with pytest.raises(ValueError, match="max_length 600 is beyond the encoder's 512 positions"):
        Despinner.from_pretrained(max_length=600)
    assert Despinner.from_pretrained(max_length=512).restore("a b.") == "a b."


def test_copy_bonus_and_threshold_together_are_refused(tmp_path):
    """Two names of one fast-core setting: copy_bonus used to be dropped silently."""
    with pytest.raises(TypeError, match="copy_bonus and threshold are one setting"):
        Despinner.from_pretrained(copy_bonus=5.0, threshold=0.0)
    assert Despinner.from_pretrained(copy_bonus=5.0).fast.settings.threshold == 5.0
    with pytest.raises(ValueError, match="truecase must be a case table file"):
        Despinner.from_pretrained(truecase=tmp_path)


def test_a_margin_that_is_not_a_number_is_a_type_error():
    d = Despinner.from_pretrained()
    for margin in ("1", True):
        with pytest.raises(TypeError, match="margin must be a number of nats"):
            d.profile("accurate", margin=margin)


@pytest.mark.parametrize("content", ["{", '{"sentence": {}}', "[]", '{"document": 1}'])
def test_a_broken_detection_json_is_a_value_error_naming_it(tmp_path, content):
    from despin.detection import DetectionModel

    (tmp_path / "detection.json").write_text(content)
    with pytest.raises(ValueError, match="is not a fitted detection model") as info:
        DetectionModel.load(tmp_path)
    assert str(tmp_path / "detection.json") in str(info.value)


def test_a_model_path_may_start_with_a_tilde(monkeypatch, tmp_path):
    import shutil

    for name in ("despin.json", "detection.json"):
        shutil.copy(REPO / "despin" / "default" / name, tmp_path / name)
    monkeypatch.setenv("HOME", str(tmp_path.parent))
    d = Despinner.from_pretrained(f"~/{tmp_path.name}")
    assert d.recipe["path_or_name"] == str(tmp_path.resolve())
    # a missing one is a missing folder, not a hub name ("~/x" has one slash, as "owner/name")
    with pytest.raises(FileNotFoundError, match=f"no Despinner folder at {tmp_path}-missing"):
        Despinner.from_pretrained(f"~/{tmp_path.name}-missing")


def test_choice_margin_leaves_guessed_originals_undone():
    """The shipped default restores all five swaps; "stated" and "firm" have a runner-up
    (told, corporation) about 3.6 nats behind, the others 7 nats or more (or none): a choice
    margin of 5 leaves those two as written."""
    text = "The men stated it. The firm reported a decline in income final yr.\n"
    r = run("--quiet", stdin=text)
    assert r.returncode == 0
    assert r.stdout == "The men said it. The company reported a decline in revenue last year.\n"
    r = run("--quiet", "--choice-margin", "5", stdin=text)
    assert r.returncode == 0
    assert r.stdout == "The men stated it. The firm reported a decline in revenue last year.\n"
    r = run("--quiet", "--choice-margin", "1", "--model", str(SEARCH_PATH), stdin=text)
    assert r.returncode == 2 and "--choice-margin needs a fast-core model" in r.stderr
