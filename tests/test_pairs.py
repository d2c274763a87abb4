"""Training pairs: windows, reproducibility, swap offsets, splits and the CLI."""
from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from despin.resources import REPO_ROOT, resolve
from despin.text import split_sentences
from training.pairs import build_pairs, count_words, load_config, sentence_windows, summarize

COLUMNS = {"original", "spun", "swaps", "rate", "source", "doc_id", "unit", "spin", "words"}


@pytest.fixture(scope="module")
def tiny_config():
    return load_config("pairs-tiny.yaml")


@pytest.fixture(scope="module")
def tiny(tiny_config):
    return build_pairs(tiny_config, progress=False)


def test_configs_load():
    cfg = load_config("pairs.yaml")
    assert [c["kind"] for c in cfg["corpora"]] == ["sotu", "wiki"]
    assert resolve(cfg["spinner"]).exists() and cfg["spins_per_original"] == 3


def test_unknown_setting_is_an_error(tmp_path):
    (tmp_path / "bad.yaml").write_text("pairs:\n  max_wrods: 10\n")
    with pytest.raises(ValueError, match="max_wrods"):
        load_config(tmp_path / "bad.yaml")


def test_sentence_windows_keep_bytes_and_limits():
    para = ("The first sentence is here. Mr. Jones said so. A third one follows! "
            + "Then a much longer sentence " + "with many words " * 30 + "ends. Short end.")
    for rng in (None, random.Random(1), random.Random(2)):
        wins = sentence_windows(para, max_words=20, max_sentences=3, rng=rng)
        assert all(w in para and w == w.strip() for w in wins)
        assert " ".join(wins) == para  # single spaces between sentences here
        for w in wins:
            n_sent = len(split_sentences(w))
            assert 1 <= n_sent <= 3
            assert count_words(w) <= 20 or n_sent == 1
    assert sentence_windows(para, max_words=1000)[0].count(".") == 3


def test_columns_and_splits(tiny, tiny_config):
    assert list(tiny) == ["train", "validation", "test"]
    assert all(set(ds.column_names) == COLUMNS for ds in tiny.values())
    assert len(tiny["train"]) > 100
    ids = [set(ds["doc_id"]) for ds in tiny.values()]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set(tiny["train"]["source"]) == {"sotu", "wiki"}
    units = {(r["doc_id"], r["unit"]) for r in tiny["train"]}
    assert len(units) == tiny_config["max_units"]["train"]
    spins = tiny["train"]["spin"]
    assert set(spins) <= set(range(tiny_config["spins_per_original"]))


def test_swaps_point_at_their_text(tiny):
    n_swaps = 0
    for ds in tiny.values():
        for row in ds:
            orig, spun = row["original"], row["spun"]
            rebuilt, pos = [], 0
            for s in row["swaps"]:
                assert spun[s["start"]:s["end"]] == s["spun"]
                assert orig[s["orig_start"]:s["orig_end"]] == s["original"]
                rebuilt += [spun[pos:s["start"]], s["original"]]
                pos = s["end"]
            assert "".join(rebuilt) + spun[pos:] == orig  # undoing the swaps restores the original
            assert (row["rate"] == 0) == (not row["swaps"]) == (spun == orig)
            assert 0 <= row["rate"] <= 1 and row["words"] == count_words(orig)
            n_swaps += len(row["swaps"])
    assert n_swaps > 100
    json.dumps(tiny["train"][:5]["swaps"])  # JSON-serialisable


def test_reproducible(tiny, tiny_config):
    again = build_pairs(tiny_config, progress=False)
    for split in tiny:
        assert again[split].to_dict() == tiny[split].to_dict()
    # only the seed differs (it draws the windows and the swaps): other pairs
    same = build_pairs(tiny_config, max_docs=3, progress=False)
    other = build_pairs({**tiny_config, "seed": 1}, max_docs=3, progress=False)
    assert other["train"].to_dict() != same["train"].to_dict()
    assert other["train"]["spun"] != same["train"]["spun"]


def _split_of_docs(dd) -> dict[str, str]:
    out: dict[str, str] = {}
    for split, ds in dd.items():
        for doc in ds["doc_id"]:
            assert out.setdefault(doc, split) == split, f"{doc} in two splits"
    return out


def test_another_seed_keeps_the_split(tiny_config):
    """Pairs spun afresh (`--seed`) must never put a test or validation document into
    training: the split by document is drawn by split_seed alone (until session 40 the seed
    drew it too, and pairs spun with --seed 2 held 299 of data/pairs' 471 test documents)."""
    cfg = {**tiny_config, "max_units": None}
    base = _split_of_docs(build_pairs(cfg, max_docs=6, progress=False))
    assert len(set(base.values())) >= 2  # the check below has splits to confuse
    for seed in (1, 2, 3):
        other = _split_of_docs(build_pairs({**cfg, "seed": seed}, max_docs=6, progress=False))
        shared = base.keys() & other.keys()
        assert len(shared) >= 0.9 * len(base)
        assert all(other[d] == base[d] for d in shared), seed
    moved = _split_of_docs(build_pairs({**cfg, "split_seed": 1}, max_docs=6, progress=False))
    assert any(moved[d] != base[d] for d in base.keys() & moved.keys())


def test_summary(tiny):
    from datasets import Dataset, DatasetDict

    table = summarize(tiny)
    assert "mean rate" in table and all(s in table for s in tiny)
    # hand-counted: 2 documents, 2 windows of 10 and 5 words, 3 pairs, rates .5 / 0 / .25
    dd = DatasetDict({"train": Dataset.from_dict({
        "doc_id": ["a", "a", "b"], "unit": [0, 0, 1], "words": [10, 10, 5],
        "rate": [0.5, 0.0, 0.25], "family": ["x", "y", "x"]})})
    lines = summarize(dd).splitlines()
    assert lines[2].split() == ["train", "2", "2", "3", "15", "0.250", "33.3%"]
    assert lines[3].split() == ["x", "2", "0.375", "0.0%"]
    assert lines[4].split() == ["y", "1", "0.000", "100.0%"]


def test_cli(tmp_path):
    import datasets

    out = tmp_path / "pairs"
    proc = subprocess.run(
        [sys.executable, "-m", "training.pairs", "--config", "configs/pairs-tiny.yaml",
         "--out", str(out), "--max-docs", "3", "--seed", "5", "--no-progress"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "orig words" in proc.stdout and "train" in proc.stdout
    dd = datasets.load_from_disk(str(out))
    assert set(dd) == {"train", "validation", "test"} and len(dd["train"]) > 0
    assert set(dd["train"].column_names) == COLUMNS
    assert json.loads((out / "pairs_config.json").read_text())["seed"] == 5


def test_duplicate_paragraphs_reach_one_split_once(tmp_path, tiny_config):
    for i in range(40):
        (tmp_path / f"d{i:02d}.txt").write_text(
            f"Paragraph number {i} is unique to its file.\n\nThis shared paragraph is everywhere.")
    cfg = {**tiny_config, "corpora": [{"kind": "files", "paths": [str(tmp_path)]}],
           "spins_per_original": 1, "max_units": None}
    dd = build_pairs(cfg, progress=False)
    originals = [o for ds in dd.values() for o in ds["original"]]
    assert originals.count("This shared paragraph is everywhere.") == 1
    assert len(originals) == 41


def test_the_cache_marks_use_and_removes_stale_files_of_its_kind(tmp_path, monkeypatch):
    """A cache read is marked as used; writing a new file of a kind removes that kind's files
    unused for CACHE_MAX_AGE_DAYS, and no other kind's."""
    import os
    import time

    from despin.resources import CACHE_MAX_AGE_DAYS, cached

    monkeypatch.setenv("DESPIN_CACHE", str(tmp_path))
    assert cached("kind", 1, lambda: "one") == "one"
    assert cached("kind", 2, lambda: "two") == "two"
    assert cached("kind-other", 1, lambda: "x") == "x"
    old = time.time() - (CACHE_MAX_AGE_DAYS + 1) * 86400
    for f in tmp_path.glob("*.pkl"):
        os.utime(f, (old, old))
    assert cached("kind", 1, lambda: "rebuilt") == "one"  # read back: now used
    assert cached("kind", 3, lambda: "three") == "three"  # a new one: "kind" 2 is stale
    assert cached("kind", 2, lambda: "rebuilt") == "rebuilt"
    assert cached("kind", 1, lambda: "rebuilt") == "one"
    assert cached("kind-other", 1, lambda: "rebuilt") == "x"  # another kind is left alone


def test_without_family_leaves_out_exactly_that_family():
    """A leave-one-family-out test (issue 15 §2) drops one family's rows from every split and
    keeps all others in order; a misspelt family or pairs without families are errors."""
    from datasets import Dataset, DatasetDict

    from training.pairs import without_family

    fams = ["wordnet", "spinbot", "wordnet", "content-farm", "insert-delete", "spinbot"]
    dd = DatasetDict({s: Dataset.from_dict({"spun": [f"{s}{i}" for i in range(len(fams))],
                                            "family": fams}) for s in ("train", "test")})
    for left in sorted(set(fams)):
        out = without_family(dd, left)
        for split in dd:
            kept = [i for i, f in enumerate(fams) if f != left]
            assert out[split]["spun"] == [f"{split}{i}" for i in kept]
            assert left not in out[split]["family"]
    assert without_family(dd["train"], "spinbot")["family"] == [
        "wordnet", "wordnet", "content-farm", "insert-delete"]
    assert without_family(dd, None) is dd and without_family(dd, "") is dd
    with pytest.raises(ValueError, match="no pairs of family 'word-net'.*'wordnet'"):
        without_family(dd, "word-net")
    with pytest.raises(ValueError, match="data/x have no family column"):
        without_family(dd.remove_columns("family"), "wordnet", "data/x")


@pytest.mark.parametrize("change,message", [
    ({"spins_per_original": 0}, "spins_per_original: expected a whole number ≥ 1, got 0"),
    ({"spins_per_original": "two"}, "spins_per_original: expected a whole number"),
    ({"max_units": -5}, "max_units: expected None or a whole number ≥ 0, got -5"),
    ({"max_units": {"train": 10, "dev": 2}}, "max_units: unknown split 'dev'"),
    ({"max_sentences": 0}, "max_sentences: expected a whole number ≥ 1"),
    ({"family_mix": "some"}, "family_mix must be 'all' or 'one'"),
    ({"families": {}}, "families: expected a mapping"),
    ({"spinner": {"rte": 0.2}}, r"unknown spinner settings \['rte'\]"),
    ({"corpora": [{"kind": "sotu", "max_docs": -1}]}, "corpus sotu: max_docs must be"),
    ({"corpora": [{"kind": "sotu", "max_doc": 1}]}, r"corpus sotu: unknown settings \['max_doc'\]"),
    ({"corpora": {"kind": "wiki"}}, "corpora: expected a list of corpus settings"),
    ({"corpora": [{"kind": "files"}]}, "corpus files: needs paths"),
    ({"spinner": 5}, "pairs setting spinner: expected a spinner YAML path or settings"),
    ({"spinner": {"sources": "moby"}}, "sources must be a non-empty list"),
    ({"spinner": {"rate": "high"}}, "rate must be a number"),
    ({"families": {"x": 5}}, "pairs setting families.x: expected a spinner YAML"),
])
def test_pairs_settings_that_cannot_be_meant_are_refused(tiny_config, change, message):
    """Values that would build an empty or silently truncated dataset, or crash deep inside,
    are refused before any corpus is read."""
    with pytest.raises(ValueError, match=message):
        build_pairs({**tiny_config, **change}, progress=False)


def test_spinner_override_is_refused_for_family_configs(tmp_path):
    r = subprocess.run([sys.executable, "-m", "training.pairs", "--config", "pairs-mixed.yaml",
                        "--spinner", "spinner.yaml", "--out", str(tmp_path / "x")],
                       capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert r.returncode == 2 and "spins with families (content-farm, wordnet" in r.stderr


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO_ROOT / "configs").glob("pairs*.yaml")))
def test_every_shipped_pairs_config_loads(name):
    """The README's commands build pairs from these configs; each must pass its own checks
    (pairs-families.yaml and pairs-mythes.yaml, whose train and validation caps are 0, were
    once refused: a cap of 0 leaves that split empty, below)."""
    assert load_config(name)["spins_per_original"] >= 1


def test_a_split_capped_at_zero_is_empty(tiny_config):
    dd = build_pairs({**tiny_config, "max_units": {"train": 0, "validation": 3, "test": 0}},
                     progress=False)
    assert len(dd["train"]) == 0 and len(dd["test"]) == 0
    assert 0 < len(dd["validation"]) <= 3 * tiny_config["spins_per_original"]


def test_a_config_that_is_no_mapping_is_refused(tmp_path):
    bad = tmp_path / "list.yaml"
    bad.write_text("- corpora: []\n")
    with pytest.raises(ValueError, match="expected pairs settings"):
        load_config(bad)


def test_missing_spinner_file_names_where_it_looked(tiny_config):
    with pytest.raises(FileNotFoundError, match="looked in the working folder and in"):
        build_pairs({**tiny_config, "spinner": "nothere.yaml"}, progress=False)
