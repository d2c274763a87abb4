"""The real-world test set (benchmarks/realworld/): its format, and the benchmark's scoring."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rw():
    spec = importlib.util.spec_from_file_location("realworld", REPO / "benchmarks" / "realworld.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rows(rw):
    return rw.load(rw.DATA)


def test_header_and_three_columns(rw):
    lines = rw.DATA.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "source_id\tspun\toriginal"
    assert len(lines) > 1
    for n, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        assert len(fields) == 3, f"line {n}: {len(fields)} fields"
        assert all(f.strip() == f and f for f in fields), f"line {n}: empty or padded field"


def test_size_and_sources(rows):
    assert len(rows) >= 15
    assert len({r["source_id"] for r in rows}) >= 3
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r["source_id"]) for r in rows)


def test_every_source_is_listed(rw, rows):
    listed = set(re.findall(r"^### (\S+)\s*$", rw.SOURCES.read_text(encoding="utf-8"), re.M))
    used = {r["source_id"] for r in rows}
    assert used <= listed, f"not in SOURCES.md: {sorted(used - listed)}"
    assert listed <= used, f"listed but without rows: {sorted(listed - used)}"


def test_pairs_are_word_swaps(rw, rows):
    for r in rows:
        assert r["spun"] != r["original"], r
        assert rw.shared_share(r["spun"], r["original"]) >= rw.MIN_SHARED, r
    assert len({(r["spun"], r["original"]) for r in rows}) == len(rows), "duplicate pair"


def test_shared_share_measures_overlap(rw):
    assert rw.shared_share("the cat sat on the mat", "the cat sat on the mat") == 1.0
    assert rw.shared_share("a feline perched upon a rug", "the cat sat on the mat") == 0.0
    assert rw.shared_share("the feline sat on the mat", "the cat sat on the mat") == pytest.approx(5 / 6)


def test_load_rejects_bad_files(rw, tmp_path):
    bad_header = tmp_path / "h.tsv"
    bad_header.write_text("spun\toriginal\tsource_id\na\tb\tc\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        rw.load(bad_header)
    two_fields = tmp_path / "f.tsv"
    two_fields.write_text("source_id\tspun\toriginal\nx\tonly spun\n", encoding="utf-8")
    with pytest.raises(ValueError, match="fields"):
        rw.load(two_fields)


def test_identity_scores_zero_recall(rw, rows):
    from despin.baselines import identity

    m = rw.evaluate(identity, rows)
    assert m["pairs"] == len(rows)
    assert m["recall"] == 0.0 and m["f05"] == 0.0
    assert m["precision"] == 1.0  # nothing predicted
    assert m["n_gold"] > 0 and m["tp"] == 0
    assert 0.0 < m["spun_differ"] < 0.6  # word-swapped: some words, not most
    assert m["clean_text_changed"] == 0.0
    assert set(m["per_source"]) == {r["source_id"] for r in rows}
    assert all(s["recall"] == 0.0 for s in m["per_source"].values())


def test_perfect_restorer_scores_one(rw, rows):
    lookup = {r["spun"]: r["original"] for r in rows}
    m = rw.evaluate(lambda texts: [lookup[t] for t in texts], rows, clean=False)
    assert m["precision"] == m["recall"] == m["f05"] == 1.0
