"""benchmarks/families.py: its test sets and table (the restorers themselves are exercised
elsewhere)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.families import load_clean_sets, load_test_sets, table  # noqa: E402


@pytest.fixture()
def family_pairs(tmp_path) -> Path:
    from datasets import Dataset, DatasetDict

    rows = {"spun": [f"spun {i}" for i in range(6)], "original": [f"orig {i}" for i in range(6)],
            "family": ["a", "b", "a", "b", "a", "c"]}
    DatasetDict({"test": Dataset.from_dict(rows)}).save_to_disk(str(tmp_path / "fam"))
    plain = {k: v for k, v in rows.items() if k != "family"}
    DatasetDict({"test": Dataset.from_dict(plain)}).save_to_disk(str(tmp_path / "plain"))
    return tmp_path


def test_one_set_per_family_in_order_plus_the_others(family_pairs):
    sets = load_test_sets(str(family_pairs / "plain"), str(family_pairs / "fam"), 10,
                     [f"more={family_pairs / 'plain'}"])
    assert list(sets) == ["content-farm (today)", "more", "a", "b", "c"]
    assert sets["a"] == (["spun 0", "spun 2", "spun 4"], ["orig 0", "orig 2", "orig 4"], None)
    assert sets["c"] == (["spun 5"], ["orig 5"], None)
    assert len(load_test_sets(None, str(family_pairs / "fam"), 2)["a"][0]) == 2


def test_swaps_ride_along_with_their_pairs(tmp_path):
    from datasets import Dataset, DatasetDict

    swaps = [[{"start": 0, "end": 1, "original": f"o{i}"}] for i in range(6)]
    rows = {"spun": [f"s {i}" for i in range(6)], "original": [f"o{i} {i}" for i in range(6)],
            "family": ["a", "b"] * 3, "swaps": swaps}
    DatasetDict({"test": Dataset.from_dict(rows)}).save_to_disk(str(tmp_path / "fam"))
    sets = load_test_sets(None, str(tmp_path / "fam"), 2)
    assert sets["b"][0] == ["s 1", "s 5"]
    assert [s[0]["original"] for s in sets["b"][2]] == ["o1", "o5"]


def test_table_rows():
    m = {"n": 3, "precision": 0.5, "recall": 0.25, "f05": 0.4167, "clean_text_changed": 0.004}
    swapped = dict(m, swap_precision=0.75, swap_recall=0.5, swap_f05=0.6818)
    lines = table({"default": {"a": m, "b": swapped}}).splitlines()
    assert len(lines) == 4
    assert lines[2] == "| default | a | 3 | 0.500 | 0.250 | **0.417** | – | – | – | 0.40% |"
    assert lines[3] == ("| default | b | 3 | 0.500 | 0.250 | **0.417** | 0.750 | 0.500 | "
                        "**0.682** | 0.40% |")


def test_clean_sets_one_per_source_of_originals(family_pairs):
    sets = load_clean_sets(str(family_pairs / "plain"), str(family_pairs / "fam"), 2,
                           [f"more={family_pairs / 'plain'}"])
    assert list(sets) == ["content-farm (today)", "more", "families' windows"]
    assert sets["content-farm (today)"] == ["orig 0", "orig 3"]
    assert sets["families' windows"] == ["orig 0", "orig 4"]  # family "a", the first


def test_table_row_of_a_clean_sample():
    lines = table({"m": {"clean x": {"n": 600, "clean_text_changed": 0.0045}}}).splitlines()
    assert lines[2] == "| m | clean x | 600 | – | – | – | – | – | – | 0.45% |"
