"""The choice margin (despin.fast.choice_edits): an edit whose best runner-up comes within
``choice_margin`` nats of it is left undone. Tested as a function, in the settings, through the
tuning that chooses it, and on the shipped default (fast core and accurate profile)."""
from __future__ import annotations

import itertools
import math

import pytest

from despin.despinner import Despinner
from despin.edits import Alternative, Edit
from despin.fast import (FastSettings, choice_edits, choice_gap, gate_edits, kept_edits,
                         same_reading)
from training.tune_fast import tune

SPUN = ["Officers stated the hearth began within the kitchen.",
        "The firm reported a decline in income final yr.",
        "Police stated the automobile was stolen final night time.",
        "We had to endeavor to keep our lead in simple weapons."]


def _edit(i: int, score: float, gaps: list[float]) -> Edit:
    """An edit whose runner-ups are ``gaps`` nats behind it (the decoder's best path is never
    behind another: gaps ≥ 0), best first."""
    alts = tuple(Alternative(f"alt{j}", score - g) for j, g in enumerate(sorted(gaps)))
    return Edit(4 * i, 4 * i + 3, "abc", "xyz", score, alternatives=alts)


def test_choice_edits_keeps_edits_whose_runner_up_is_far_enough_behind():
    scores = [0.5, 2.0, 4.0]
    gaps = [[], [3.0], [0.5, 7.0], [0.1], [0.0]]
    edits = [_edit(i, s, g) for i, (s, g) in enumerate(itertools.product(scores, gaps))]
    for margin in [0.0, 0.1, 0.5, 1.0, 2.5, 10.0]:
        kept = choice_edits(edits, margin)
        assert kept == [e for e in edits if not e.alternatives
                        or e.score - max(a.score for a in e.alternatives) >= margin]
        # dropping never reorders or changes the edits kept
        assert all(e in edits for e in kept) and kept == sorted(kept, key=edits.index)
    assert choice_edits(edits, 0.0) == edits  # 0: every edit, runner-ups or not
    assert choice_gap(_edit(0, 2.0, [])) == math.inf
    assert choice_gap(_edit(0, 2.0, [1.25, 0.75])) == pytest.approx(0.75)
    assert choice_edits([], 3.0) == []


def test_kept_edits_is_the_gate_then_the_choice_margin():
    """What every restorer keeps: the spin gate on the group's log-odds, then the choice
    margin, over many edits, log-odds and settings; no gate (None) leaves the margin alone."""
    edits = [_edit(i, s, g) for i, (s, g) in enumerate(itertools.product(
        [0.5, 2.0, 4.0, 6.0], [[], [3.0], [0.5, 7.0], [0.1]]))]
    for z, cut, gate_margin, margin in itertools.product(
            [-3.0, 0.0, 2.5, None], [None, -1.0, 1.0], [None, 1.0, 4.0], [0.0, 0.5, 2.0]):
        kept = kept_edits(edits, z, cut, gate_margin, margin)
        gated = edits if cut is None or z is None else gate_edits(edits, z, cut, gate_margin)
        assert kept == choice_edits(gated, margin)
        if cut is not None and z is not None and z < cut:
            assert all(gate_margin is not None and e.score >= gate_margin for e in kept)
        assert all(choice_gap(e) >= margin for e in kept)
    assert kept_edits(edits, None, None, None, 0.0) == edits


def test_a_runner_up_with_the_same_reading_is_no_choice():
    """"it's" against "it is", "colour" against "color": the gap is to the best runner-up
    that reads otherwise."""
    assert same_reading("It's") == same_reading("it is") == ("it", "is")
    assert same_reading("can't") == same_reading("cannot") == ("can", "not")
    assert same_reading("don't") == ("do", "not") and same_reading("colour") == ("color",)
    assert same_reading("its") != same_reading("it is")
    e = Edit(0, 11, "it truly is", "it is", 4.5,
             alternatives=(Alternative("it's", 3.6), Alternative("it was", 1.0)))
    assert choice_gap(e) == pytest.approx(3.5) and choice_edits([e], 1.0) == [e]
    alone = Edit(0, 11, "it truly is", "it is", 4.5, alternatives=(Alternative("It's", 4.4),))
    assert choice_gap(alone) == math.inf


@pytest.mark.parametrize("bad, error", [(-0.5, ValueError), (math.nan, ValueError),
                                        (math.inf, ValueError), ("1", TypeError),
                                        (True, TypeError)])
def test_settings_reject_a_bad_choice_margin(bad, error):
    with pytest.raises(error, match="choice_margin"):
        FastSettings(choice_margin=bad)
    assert FastSettings().choice_margin == 0.0  # folders written before it load unchanged
    assert FastSettings(choice_margin=1.5).to_dict()["choice_margin"] == 1.5


@pytest.mark.parametrize("settings, error, message", [
    ({"weights": "x"}, TypeError, "weights must be a dict"),
    ({"weights": None}, TypeError, "weights must be a dict"),
    ({"weights": {"intercept": "a"}}, TypeError, r"weights\['intercept'\] must be a number"),
    ({"weights": {"intercept": math.nan}}, ValueError, "not nan"),
    ({"weights": {"enc": 1e308}}, ValueError, "within"),
    ({"weights": {"no_such_feature": 5.0}}, ValueError, "unknown feature"),
    ({"network": "abc"}, TypeError, "network must be"),
    ({"network": {"bad": 1}}, ValueError, "not a fitted EditNetwork"),
    ({"threshold": -1e308}, ValueError, "within"),
    ({"lm_weight": 1e300}, ValueError, "within"),
    ({"max_length": 1}, ValueError, "max_length must be at least 3"),
    ({"max_length": 2}, ValueError, "max_length must be at least 3"),
])
def test_settings_reject_bad_weights_networks_and_extremes(settings, error, message):
    """Found by trying every setting (session 41): these loaded, then crashed deep in the
    first restore (a str's ``.get``, numpy's matmul, ``KeyError: 'names'``), or quietly gave
    infinite scores, no edits (a nan weight) or no cut at all (``max_length=1``: the tokenizer
    cannot cut below [CLS] and [SEP], so long sentences overran the encoder's positions)."""
    with pytest.raises(error, match=message):
        FastSettings(**settings)


def test_settings_take_numpy_numbers_and_store_python_ones():
    import json

    import numpy as np

    s = FastSettings(top_k=np.int64(5), threshold=np.float32(1.5),
                     weights={"intercept": np.float64(2.0)}, max_length=3, floor=-math.inf)
    assert s.top_k == 5 and type(s.top_k) is int
    assert s.threshold == 1.5 and type(s.threshold) is float
    assert type(s.weights["intercept"]) is float
    assert json.loads(json.dumps(s.to_dict()))["top_k"] == 5  # despin.json can hold them
    with pytest.raises(TypeError, match="top_k must be an integer"):
        FastSettings(top_k=np.float64(5.0))


class _ChoiceStandIn:
    """A stand-in restorer whose edits carry runner-ups: "stated" → "said" (runner-up 3 nats
    behind), "big" → "huge" (the wrong original; the right one, "large", 0.5 nats behind)."""

    def __init__(self):
        self.settings = FastSettings(threshold=2.0, lm_weight=1.0)
        self.rules = [("stated", "said", 4.0, [1.0]), ("big", "huge", 1.0, [0.5])]

    def lattices(self, sentences):
        return list(sentences)

    def restore_sentences(self, sentences, lattices=None, gate=True):
        assert gate is False  # tune filters the edits itself
        out = []
        for s in sentences:
            edits = []
            for spun, restored, score, runner_ups in self.rules:
                i = s.find(spun)
                if i >= 0 and self.settings.threshold < 3.0:
                    alts = tuple(Alternative("large", score - g) for g in runner_ups)
                    edits.append(Edit(i, i + len(spun), spun, restored, score,
                                      alternatives=alts))
            out.append(edits)
        return out


def test_tune_chooses_a_choice_margin_that_drops_a_guessed_original():
    spun = ["He stated it. The town was big."]
    original = ["He said it. The town was large."]
    best, table = tune(_ChoiceStandIn(), spun, original, [1.0], [1.0], max_clean=1.0)
    assert best["choice_margin"] == 0.0 and best["precision"] == 0.5  # "huge" is wrong
    best, table = tune(_ChoiceStandIn(), spun, original, [1.0], [1.0], max_clean=1.0,
                       choice_margins=[0.0, 1.0, 5.0])
    # 1 nat drops "huge" (its runner-up is 0.5 behind) and keeps "said" (3 behind): P 1, R .5;
    # 5 nats drops both (F0.5 0)
    assert best["choice_margin"] == 1.0 and best["precision"] == 1.0
    assert best["recall"] == 0.5
    assert len(table.splitlines()) == 1 + 3
    with pytest.raises(ValueError, match="choice margins"):
        tune(_ChoiceStandIn(), spun, original, [1.0], [1.0], max_clean=1.0,
             choice_margins=[-1.0])


@pytest.fixture(scope="module")
def model() -> Despinner:
    return Despinner.from_pretrained()


def test_shipped_default_leaves_undone_edits_with_a_close_runner_up(model, monkeypatch):
    """With a choice margin, restoring drops exactly the edits whose runner-up is within it,
    after the spin gate (which reads every edit found), and keeps the others as they were."""
    fast = model.fast
    s = fast.settings
    monkeypatch.setattr(s, "threshold", -1.0)  # more edits, more of them with runner-ups
    monkeypatch.setattr(s, "choice_margin", 0.0)  # every edit found, to compare with
    lattices = fast.lattices(SPUN)
    every = fast.restore_sentences(SPUN, lattices)
    gaps = sorted(choice_gap(e) for es in every for e in es if e.alternatives)
    assert len(gaps) >= 4, gaps  # the sentences give runner-ups to weigh
    margin = gaps[len(gaps) // 2]  # about half of them within it
    monkeypatch.setattr(s, "choice_margin", margin)
    kept = fast.restore_sentences(SPUN, lattices)
    assert kept == [choice_edits(es, margin) for es in every]
    assert sum(map(len, kept)) < sum(map(len, every))
    assert all(choice_gap(e) >= margin for es in kept for e in es)
    # and through the Despinner, which restores with the same settings
    monkeypatch.setattr(s, "choice_margin", margin)
    restored = model.restore(SPUN)
    monkeypatch.setattr(s, "choice_margin", 0.0)
    assert restored != model.restore(SPUN)


def test_accurate_profile_asks_the_search_about_guessed_originals(model, monkeypatch):
    """In the accurate profile, an edit whose runner-up is within the choice margin is not
    kept as sure: its slot goes to the search (stubbed here: it keeps nothing)."""
    from despin.accurate import AccurateRestorer

    asked: list[list[int]] = []
    monkeypatch.setattr(AccurateRestorer, "_search",
                        lambda self, sentence, slots, sure, unsure, shortlist:
                        asked.append(list(unsure)) or [])
    s = model.fast.settings
    monkeypatch.setattr(s, "gate_cut", None)
    monkeypatch.setattr(s, "choice_margin", 0.0)
    accurate = model.profile("accurate")
    # every taken edit sure by its margin (at 0 the profile searches nothing at all)
    monkeypatch.setattr(accurate.engine, "margin", 1e-6)
    sure = accurate.restore(SPUN)
    assert sure != SPUN and not any(asked)
    found = model.fast.restore_sentences(SPUN, gate=False)  # every edit, none left undone
    monkeypatch.setattr(s, "choice_margin", 1e6)  # no runner-up is that far behind
    guessed = accurate.restore(SPUN)
    assert any(asked)
    # only edits without a runner-up stay sure: a sentence all of whose edits have one is
    # left as it was
    for text, spun, es in zip(guessed, SPUN, found):
        assert (text == spun) == all(e.alternatives for e in es), (spun, es)


def test_accurate_profile_offers_the_search_at_most_its_candidates(model, monkeypatch):
    """With ``candidates`` N, the search is offered, for each unsure slot, N of the candidates
    it is offered without a bound (all the non-deletion shortlist), the fast path's own choice
    among them; the search's language model is stubbed (it keeps nothing)."""
    import despin.accurate as accurate_module

    offered: list[list] = []
    monkeypatch.setattr(accurate_module, "search",
                        lambda local, terms, settings, score: offered.append(local) or [])
    s = model.fast.settings
    monkeypatch.setattr(s, "gate_cut", None)  # every sentence decoded slot by slot
    monkeypatch.setattr(s, "choice_margin", 0.0)
    engine = model.profile("accurate").engine
    monkeypatch.setattr(type(engine.searcher), "terms", lambda self, text, slots: [])
    monkeypatch.setattr(type(engine.searcher), "edit_score", lambda self, terms: None)
    monkeypatch.setattr(engine, "margin", 1e6)  # every slot unsure: offsets stay the input's
    sentences = SPUN + ["The boss stated the meeting was a large success final week."]
    chosen = [{(e.start, e.end): e.restored for e in es}
              for es in model.fast.restore_sentences(sentences, gate=False)]
    whole = {}
    for candidates in (None, 1, 2):
        monkeypatch.setattr(engine, "candidates", candidates)
        offered.clear()
        engine.restore_sentences(sentences)
        assert len(offered) == len(sentences)
        whole[candidates] = [{(x.start, x.end): [c.text for c in x.candidates] for x in local}
                             for local in offered]
    assert any(len(c) > 2 for slots in whole[None] for c in slots.values())
    for n in (1, 2):
        for full, capped, fast in zip(whole[None], whole[n], chosen):
            assert full.keys() == capped.keys()
            for span, texts in capped.items():
                assert set(texts) <= set(full[span])
                assert len(texts) == min(n, len(full[span]))
                if span in fast and fast[span] in full[span]:
                    assert fast[span] in texts, (span, fast[span], texts)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-3, ValueError), (2.0, TypeError),
                                        (True, TypeError), ("4", TypeError)])
def test_accurate_restorer_rejects_bad_candidates(bad, error):
    from despin.accurate import AccurateRestorer

    with pytest.raises(error, match="candidates"):
        AccurateRestorer(None, None, 2.0, bad)
    assert AccurateRestorer(None, None, 2.0, 3).candidates == 3
