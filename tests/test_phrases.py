"""Phrase pairs: term counting, splits by term, spins, reproducibility and the CLI."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from despin.resources import REPO_ROOT
from despin.text import words
from training.phrases import build_phrases, count_terms, load_config

TEXT = ("Public health care is costly. The public health service grew, and health care "
        "reform failed. Public health matters! We spoke of Public Health Week. The cost of "
        "the war was high.")


def test_count_terms_keeps_lower_case_runs_without_function_word_edges():
    counts = count_terms([TEXT], 2, 3)
    assert counts["public health"] == 1  # "Public health" opens two sentences: not lower case
    assert counts["health care"] == 2 and counts["public health care"] == 0
    assert counts["health service"] == 1 and counts["care reform"] == 1
    assert "the war" not in counts and "cost of" not in counts  # function word at an edge
    assert counts["cost of the war"] == 0  # longer than max_words
    assert "care is" not in counts and "health week" not in counts  # capitals: a name
    assert "failed public" not in counts  # never across a sentence end
    assert all(2 <= len(t.split()) <= 3 for t in counts)


@pytest.fixture(scope="module")
def tiny():
    cfg = {**load_config("phrases.yaml"), "corpora": [{"kind": "sotu", "min_year": 1990, "max_docs": 8}],
           "spinner": {"sources": [{"name": "moby", "kind": "moby", "weight": 1.0}]},
           "min_count": 2, "max_terms": {"train": 300}}
    return cfg, build_phrases(cfg, progress=False)


def test_phrase_pairs_are_spun_terms_split_by_term(tiny):
    cfg, dd = tiny
    assert list(dd) == ["train", "validation", "test"] and len(dd["train"]) == 300
    terms = [set(ds["original"]) for ds in dd.values()]
    assert not (terms[0] & terms[1] or terms[0] & terms[2] or terms[1] & terms[2])
    rows = dd["train"]
    spun = [s != o for s, o in zip(rows["spun"], rows["original"])]
    assert 0.7 < sum(spun) / len(spun) < 0.97  # 10 % kept clean, a few have no synonym
    # most frequent first; each swap's offsets point at its text in both sides
    assert rows["unit"] == sorted(rows["unit"], reverse=True) and min(rows["unit"]) >= 2
    for row in rows:
        assert 2 <= len(words(row["original"])) <= 3
        for s in row["swaps"]:
            assert row["spun"][s["start"]:s["end"]] == s["spun"]
            assert row["original"][s["orig_start"]:s["orig_end"]] == s["original"]
    # hard spins: swapped words / words, over the spun terms, well above a sentence's 1 in 5
    rates = [r for r, changed in zip(rows["rate"], spun) if changed]
    assert sum(rates) / len(rates) > 0.55


def test_phrase_pairs_are_reproducible(tiny):
    cfg, dd = tiny
    again = build_phrases(cfg, progress=False)
    for split in dd:
        assert dd[split]["spun"] == again[split]["spun"]
    other = build_phrases({**cfg, "seed": 1}, progress=False)
    assert other["train"]["spun"] != dd["train"]["spun"]


def test_bad_settings_are_errors(tmp_path):
    (tmp_path / "bad.yaml").write_text("phrases:\n  min_cuont: 2\n")
    with pytest.raises(ValueError, match="min_cuont"):
        load_config(tmp_path / "bad.yaml")
    with pytest.raises(ValueError, match="rate"):
        build_phrases({"rate": [0.9, 0.5]}, progress=False)


def test_cli(tmp_path):
    import datasets

    out = tmp_path / "phrases"
    proc = subprocess.run(
        [sys.executable, "-m", "training.phrases", "--out", str(out), "--max-docs", "20",
         "--no-progress"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "orig words" in proc.stdout
    dd = datasets.load_from_disk(str(out))
    assert len(dd["train"]) > 0 and {"spun", "original", "swaps"} <= set(dd["train"].column_names)
    assert json.loads((out / "phrases_config.json").read_text())["max_docs"] == 20
