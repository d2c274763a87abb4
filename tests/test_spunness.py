"""Spun-ness counts: hand-computed cases, save/load, and their use by the search."""
from __future__ import annotations

import math

from despin.spunness import SpunnessTable


def table() -> SpunnessTable:
    texts = ["the navy know-how grew final yr", "the navy sailed", "know-how matters"]
    swaps = [[{"start": 9, "end": 17}, {"start": 23, "end": 31}], [], []]
    return SpunnessTable.from_pairs(texts, swaps)


def test_counts_by_hand():
    t = table()
    assert t.occurrences["know-how"] == 2 and t.swapped["know-how"] == 1
    assert t.occurrences["the"] == 2 and "the" not in t.swapped
    assert t.occurrences["final yr"] == 1 and t.swapped["final yr"] == 1
    assert t.swapped["yr"] == 1 and t.swapped["final"] == 1  # inside a phrase swap
    # 1-word spans: 6 + 3 + 2 = 11 occurrences, 3 inside swaps ("know-how", "final", "yr")
    assert math.isclose(t.base_rate, 3 / 11)


def test_log_odds_by_hand():
    t = table()
    a, p = t.alpha, t.base_rate
    assert math.isclose(t.log_odds("Know-How"), math.log((1 + a * p) / (1 + a * (1 - p))))
    assert math.isclose(t.log_odds("the"), math.log((a * p) / (2 + a * (1 - p))))
    assert math.isclose(t.log_odds("unseen"), math.log(p / (1 - p)))
    assert t.log_odds("yr") > t.log_odds("unseen") > t.log_odds("the")


def test_save_load_round_trip(tmp_path):
    t = table()
    again = SpunnessTable.load(t.save(tmp_path))
    assert again.occurrences == t.occurrences and again.swapped == t.swapped
    assert again.log_odds("final yr") == t.log_odds("final yr")
