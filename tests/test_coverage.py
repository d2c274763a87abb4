"""benchmarks/coverage.py: the lattice-path reachability of a spun phrase's expected wording."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.coverage import TwoSteps, reachable, tortured_reachability  # noqa: E402
from despin.candidates import CandidateIndex  # noqa: E402
from despin.synonyms import load_source  # noqa: E402

from .conftest import write_table  # noqa: E402


@pytest.fixture()
def index(tmp_path) -> CandidateIndex:
    # (original, replacement): the spinner wrote the replacement where the original stood
    words = write_table(tmp_path / "w.tsv", [("deep", "profound", "x"), ("artery", "supply route", "x"),
                                             ("data", "information", "x"), ("learn", "study", "x"),
                                             ("spectral", "ghostly", "x"), ("ghostly", "ghastly", "x")],
                        "kind")
    fillers = tmp_path / "f.tsv"
    fillers.write_text("insert\tside\tcontext\tweight\nreally\tbefore\tgood\t1.0\n")
    return CandidateIndex([load_source({"name": "w", "kind": "tsv", "path": str(words),
                                        "inflect": False}),
                           load_source({"name": "f", "kind": "insertions", "path": str(fillers)})])


@pytest.mark.parametrize("spun, expected", [
    ("profound learning", "deep learning"),            # one word of two
    ("profound information", "deep data"),             # every word
    ("carotid supply route", "carotid artery"),        # two words for one
    ("a really good result", "a good result"),         # a deletion
    ("Profound Learning", "deep learning"),            # case ignored
    ("profound learning, information", "deep learning, data"),  # punctuation copied
    ("deep learning", "deep learning"),                # nothing to change
])
def test_reachable_paths(index, spun, expected):
    assert reachable(index, spun, expected)


@pytest.mark.parametrize("spun, expected", [
    ("profound learning", "deep studying"),            # "learning" is no candidate of itself
    ("supply route", "artery road"),                   # a word more than any path spells
    ("profound learning", "learning deep"),            # word order is no path
    ("profound, learning", "deep learning"),           # punctuation is never replaced
    ("supply, route", "artery"),                       # a slot never crosses punctuation
    ("ghastly", "spectral"),                           # two steps away
])
def test_unreachable_paths(index, spun, expected):
    assert not reachable(index, spun, expected)


def test_two_steps_reach_a_synonyms_synonym_and_the_share_counts_reasons(index):
    assert reachable(TwoSteps(index), "ghastly", "spectral")
    rows = [{"tortured": "profound learning", "expected": "deep learning"},
            {"tortured": "ghastly", "expected": "spectral"},
            {"tortured": "supply route", "expected": "artery road works"}]
    share, why = tortured_reachability(index, rows)
    assert share == pytest.approx(1 / 3)
    assert why == {"same length": 1, "other length": 1}
