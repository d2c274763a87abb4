"""The spin gate (despin.fast.gate_edits): a sentence that spin detection calls clean keeps only
its sure edits. Tested as a function, through the tuning that chooses it, and on the shipped
default (fast core and accurate profile)."""
from __future__ import annotations

import itertools
import json
import shutil

import pytest

from despin.despinner import DEFAULT_PATH, Despinner
from despin.edits import Edit
from despin.fast import FastSettings, gate_edits
from training.tune_fast import tune

SPUN = ["Officers stated the hearth began within the kitchen.",
        "The firm reported a decline in income final yr.",
        "Police stated the automobile was stolen final night time."]
CLEAN = ["The museum opened in 1998 and attracts thousands of visitors every summer.",
         "She said the new bridge would be finished before the end of the year.",
         "Officials said the fire started in the kitchen.",
         "The council approved the budget on Tuesday after a long debate.",
         "He said the team had worked hard all season."]


def _edits(scores):
    return [Edit(4 * i, 4 * i + 3, "abc", "xyz", s) for i, s in enumerate(scores)]


def test_gate_edits_keeps_sure_edits_below_the_cut():
    edits = _edits([0.5, 2.0, 4.0, 7.5])
    for cut, z, margin in itertools.product([None, -2.0, 0.0, 3.0], [-5.0, -2.0, 0.0, 5.0],
                                            [None, 0.0, 2.0, 5.0, 100.0]):
        kept = gate_edits(edits, z, cut, margin)
        if cut is None or z >= cut:
            assert kept == edits
        elif margin is None:
            assert kept == []
        else:
            assert kept == [e for e in edits if e.score >= margin]
    assert gate_edits([], -9.0, 0.0, None) == []


class _GatedStandIn:
    """A stand-in restorer: below threshold 1 it restores "stated" to "said", below 0 "large"
    to "huge" (a change of clean text). Its spin detection says +2 for a sentence with
    "stated" and -3 for any other."""

    def __init__(self, rules=None):
        self.settings = FastSettings(threshold=2.0, lm_weight=1.0)
        self.rules = rules or [("stated", "said", 1.0), ("large", "huge", 0.0)]

    def lattices(self, sentences):
        return list(sentences)

    def restore_sentences(self, sentences, lattices=None, gate=True):
        assert gate is False  # tune gates the edits itself
        out = []
        for s in sentences:
            edits = []
            for spun, restored, below in self.rules:
                i = s.find(spun)
                if i >= 0 and self.settings.threshold < below:
                    edits.append(Edit(i, i + len(spun), spun, restored, 1.0))
            out.append(edits)
        return out

    def spin_log_odds(self, lattices, edits, groups):
        """Each line of a text is one group: +2 when one of its sentences has "stated"."""
        spun = {g for x, g in zip(lattices, groups) if "stated" in x}
        return [2.0 if g in spun else -3.0 for g in groups]


def test_tune_chooses_a_gate_that_keeps_clean_text():
    # each line is one group for the gate
    spun = ["He stated it.\nThe news was large."] * 2
    original = ["He said it.\nThe news was large."] * 2
    # without a gate, -0.5 changes "large" in the originals (1 of 7 words): over a 5 % bound
    best, table = tune(_GatedStandIn(), spun, original, [-0.5, 0.5], [1.0], max_clean=0.05)
    assert best["threshold"] == 0.5 and best["gate_cut"] is None and best["clean_text"] == 0
    # with one, the "large" sentence (log-odds -3) loses its edit; "stated" (+2) keeps it
    gates = [(None, None), (0.0, 5.0), (0.0, 0.5)]
    best, table = tune(_GatedStandIn(), spun, original, [-0.5, 0.5], [1.0], max_clean=0.05,
                       gates=gates)
    assert best["f05"] == 1.0 and best["clean_text"] == 0
    assert (best["gate_cut"], best["gate_margin"]) == (0.0, 5.0)  # 0.5 would keep "huge"
    assert len(table.splitlines()) == 1 + 2 * 3



def test_tune_tolerance_prefers_precision():
    """At -0.5 the stand-in makes 3 right edits and 1 wrong (P .75, R 1, F0.5 .789), at 0.5
    one right edit (P 1, R .333, F0.5 .714): the best F0.5 wins unless a tolerance of at
    least their difference lets precision decide."""
    rules = [("stated", "said", 1.0), ("big", "large", 0.0), ("small", "little", 0.0),
             ("large", "huge", 0.0)]
    spun = ["He stated it. The town was big. The boy was small. The news was large."]
    original = ["He said it. The town was large. The boy was little. The news was large."]
    args = ([-0.5, 0.5], [1.0])
    best, _ = tune(_GatedStandIn(rules), spun, original, *args, max_clean=1.0)
    assert best["threshold"] == -0.5 and best["f05"] == pytest.approx(1.25 * 0.75 / 1.1875)
    best, _ = tune(_GatedStandIn(rules), spun, original, *args, max_clean=1.0, tolerance=0.05)
    assert best["threshold"] == -0.5
    best, _ = tune(_GatedStandIn(rules), spun, original, *args, max_clean=1.0, tolerance=0.1)
    assert best["threshold"] == 0.5 and best["precision"] == 1.0


def test_tune_can_average_the_families_f05():
    """``families``: the F0.5 maximised is the mean of each family's own."""
    spun = ["He stated it. The news was large.", "He stated it."]
    original = ["He said it. The news was large.", "He said it."]
    best, _ = tune(_GatedStandIn(), spun, original, [-0.5], [1.0], max_clean=1.0,
                   families=["a", "b"])
    # family a: "said" right, "huge" wrong (P .5, R 1); family b: right (F0.5 1)
    f_a = 1.25 * 0.5 / (0.25 * 0.5 + 1)
    assert best["f05"] == pytest.approx((f_a + 1.0) / 2)
    assert best["f05_pooled"] == pytest.approx(1.25 * (2 / 3) / (0.25 * 2 / 3 + 1))
    with pytest.raises(ValueError, match="families"):
        tune(_GatedStandIn(), spun, original, [-0.5], [1.0], max_clean=1.0, families=["a"])


def test_tune_can_score_the_recorded_swaps():
    """``swaps``: P/R/F0.5 of the swap edits. Restoring "in the event that" alone is one
    right swap (swap P 1, R .5) but, as a diff, half of the merged gold edit "in the event
    that large" -> "if big": wrong."""
    rules = [("in the event that", "if", 1.0), ("large", "big", 0.0), ("crowds", "mobs", 0.0)]
    spun = ["He left in the event that large crowds came."]
    original = ["He left if big crowds came."]
    swaps = [[{"start": 8, "end": 25, "original": "if"}, {"start": 26, "end": 31,
                                                          "original": "big"}]]
    assert spun[0][8:25] == "in the event that" and spun[0][26:31] == "large"
    best, _ = tune(_GatedStandIn(rules), spun, original, [-0.5, 0.5], [1.0], max_clean=1.0)
    assert best["f05"] == 0.0  # every diff edit is wrong at either threshold
    best, table = tune(_GatedStandIn(rules), spun, original, [-0.5, 0.5], [1.0],
                       max_clean=1.0, swaps=swaps)
    # at -0.5: 2 right swaps and "mobs" wrong (P 2/3, R 1, F0.5 .714); at 0.5: P 1, R .5
    assert best["threshold"] == 0.5 and best["precision"] == 1.0 and best["recall"] == 0.5
    assert best["f05"] == pytest.approx(1.25 * 0.5 / (0.25 + 0.5))
    with pytest.raises(ValueError, match="swap lists"):
        tune(_GatedStandIn(rules), spun, original, [0.5], [1.0], max_clean=1.0, swaps=[])


@pytest.fixture(scope="module")
def model() -> Despinner:
    return Despinner.from_pretrained()


def test_shipped_gate_drops_only_edits_of_sentences_called_clean(model, monkeypatch):
    """At a threshold of −2 some clean sentences get edits (session 36's default: "council" →
    "congress"; session 32's: "started" → "began" as well); the shipped gate drops edits only
    in sentences it calls clean, and keeps every edit of the spun sentences, each sentence
    read alone (:func:`gate_edits` on its own log-odds)."""
    fast = model.fast
    s = fast.settings
    assert s.gate_cut is not None and fast.detection is not None
    monkeypatch.setattr(s, "threshold", -2.0)  # more edits, some in clean sentences
    texts = SPUN + CLEAN
    lattices = fast.lattices(texts)
    every = fast.restore_sentences(texts, lattices, gate=False)
    gated = fast.restore_sentences(texts, lattices)
    z = fast.spin_log_odds(lattices, every)
    assert gated == [gate_edits(es, zz, s.gate_cut, s.gate_margin) for es, zz in zip(every, z)]
    dropped = [i for i, (es, kept) in enumerate(zip(every, gated)) if kept != es]
    assert dropped and all(i >= len(SPUN) and z[i] < s.gate_cut for i in dropped)
    for i in dropped:  # below the cut, only sure edits stay
        assert all(e.score >= s.gate_margin for e in gated[i])
        assert all(e.score < s.gate_margin for e in every[i] if e not in gated[i])
    # the spun sentences are not called clean: their edits stay
    assert gated[:len(SPUN)] == every[:len(SPUN)] and all(gated[:len(SPUN)])
    # read as one group, all six sentences share the group's log-odds
    group = fast.spin_log_odds(lattices, every, [0] * len(texts))
    assert len(set(group)) == 1


def test_the_gate_reads_each_line_as_a_group(model, monkeypatch):
    """Despinner passes each sentence's line as its group: two sentences on one line share a
    group, on two lines they do not."""
    from despin.fast import FastRestorer

    seen = []
    real = FastRestorer.kept
    monkeypatch.setattr(FastRestorer, "kept", lambda self, lat, edits, groups=None: (
        seen.append(list(groups)), real(self, lat, edits, groups))[1])
    model.restore(SPUN[0] + " " + CLEAN[0] + "\n" + SPUN[1] + "\n")
    assert seen == [[0, 0, 1]]


def test_a_gate_needs_detection(tmp_path, capsys):
    """A gated model without detection.json fails at load with a message naming the fix;
    gate_cut=None (the CLI's --no-gate) loads it; the CLI says so in one line."""
    from despin.cli import main

    folder = tmp_path / "model"
    shutil.copytree(DEFAULT_PATH, folder)
    cfg = json.loads((folder / "despin.json").read_text())
    assert cfg["fast"]["settings"]["gate_cut"] is not None
    (folder / "detection.json").unlink()
    with pytest.raises(ValueError, match="detection.json"):
        Despinner.from_pretrained(folder)
    assert Despinner.from_pretrained(folder, gate_cut=None).restore(CLEAN[0]) == CLEAN[0]
    (tmp_path / "t.txt").write_text(CLEAN[0] + "\n")
    capsys.readouterr()
    assert main(["--quiet", "--model", str(folder), str(tmp_path / "t.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot load model" in err and "detection.json" in err
    assert main(["--quiet", "--no-gate", "--model", str(folder), str(tmp_path / "t.txt")]) == 0
    assert capsys.readouterr().out == CLEAN[0] + "\n"
    assert main(["--quiet", "--no-gate", "--detect", "--model", str(folder),
                 str(tmp_path / "t.txt")]) == 2
    assert "--detect needs" in capsys.readouterr().err


@pytest.mark.parametrize("bad, error", [(float("nan"), ValueError), ("0", TypeError),
                                        ([0], TypeError), (True, TypeError)])
def test_gate_settings_are_checked(bad, error):
    for name in ("gate_cut", "gate_margin"):
        with pytest.raises(error, match=name):
            FastSettings(**{name: bad})
    with pytest.raises(error, match="gate_cut"):
        Despinner.from_pretrained(gate_cut=bad)
    assert FastSettings(gate_cut=float("inf"), gate_margin=-1).gate_margin == -1


def test_line_parts_never_split_a_line_below_the_budget():
    import random

    from despin.despinner import _line_parts

    rng = random.Random(0)
    for _ in range(300):
        budget = rng.randint(1, 8)
        sizes = [rng.randint(0, 12) for _ in range(rng.randint(0, 10))]
        sentences = [(i, k, f"s{i}.{k}") for i, n in enumerate(sizes) for k in range(n)]
        parts = list(_line_parts(sentences, budget))
        assert [s for p in parts for s in p] == sentences
        assert all(0 < len(p) <= budget for p in parts)
        for i, n in enumerate(sizes):
            holding = [p for p in parts if any(s[0] == i for s in p)]
            if 0 < n <= budget:
                assert len(holding) == 1  # the whole line in one call
            elif n > budget:
                assert all(all(s[0] == i for s in p) for p in holding)  # calls of its own


def test_the_gate_reads_a_line_whole_whatever_comes_before(model, monkeypatch):
    """A line after 63 sentences (one short of a 64-sentence call) has both its sentences read
    together, and restores as it does alone."""
    from despin.fast import FastRestorer

    before = "The sky was blue. " * 63 + "\n"
    line = SPUN[0] + " " + CLEAN[1] + "\n"
    seen = []
    real = FastRestorer.kept
    monkeypatch.setattr(FastRestorer, "kept", lambda self, lat, edits, groups=None: (
        seen.append([x.sentence for x in lat]), real(self, lat, edits, groups))[1])
    together = model.restore_with_edits([before, line])[1]
    assert any(SPUN[0] in p and CLEAN[1] in p for p in seen)
    assert together == model.restore_with_edits(line)
    assert model.restore(before + line) == before + together.text


def test_accurate_profile_shares_the_fast_core(model, monkeypatch):
    """Settings changed on the model (as --no-gate and --copy-bonus do) reach the profile
    (its search on unsure slots stubbed out: the fast core's sure edits are what it keeps)."""
    from despin.accurate import AccurateRestorer

    monkeypatch.setattr(AccurateRestorer, "_search", lambda self, *a: [])
    accurate = model.profile("accurate")
    assert accurate.fast is model.fast and accurate.engine.fast is model.fast
    assert accurate.restore(SPUN[0]) != SPUN[0]
    monkeypatch.setattr(model.fast.settings, "threshold", 40.0)  # no edit is that sure
    assert accurate.restore(SPUN[0]) == SPUN[0]


def test_accurate_profile_leaves_gated_sentences_unsearched(model, monkeypatch):
    """A gate that calls every sentence clean and keeps no edit: the accurate profile returns
    the text unchanged and never asks the search."""
    from despin.accurate import AccurateRestorer

    asked = []
    monkeypatch.setattr(AccurateRestorer, "_search", lambda self, *a: asked.append(a) or [])
    s = model.fast.settings
    monkeypatch.setattr(s, "gate_cut", 1e9)
    monkeypatch.setattr(s, "gate_margin", None)
    assert model.profile("accurate").restore(SPUN) == SPUN
    assert model.restore(SPUN) == SPUN
    assert asked == []


def test_cli_no_gate_turns_the_gate_off(tmp_path, capsys, monkeypatch):
    from despin.cli import main
    from despin.fast import FastRestorer

    (tmp_path / "t.txt").write_text(SPUN[0] + "\n")
    seen = []
    real = FastRestorer.restore_sentences
    monkeypatch.setattr(FastRestorer, "restore_sentences", lambda self, *a, **k: (
        seen.append(self.settings.gate_cut), real(self, *a, **k))[1])
    assert main(["--quiet", str(tmp_path / "t.txt")]) == 0
    gated = capsys.readouterr().out
    assert main(["--quiet", "--no-gate", str(tmp_path / "t.txt")]) == 0
    assert capsys.readouterr().out == gated  # a spun sentence is not gated
    assert seen[0] is not None and seen[-1] is None


def test_tuning_scores_what_restoring_returns(model):
    """``training.tune_fast`` with ``finish=Despinner.finish_edits`` (as its command runs it)
    scores, at the model's own settings, exactly the texts that ``restore`` returns: names in
    capitals (the case table), articles agreeing, protected spans kept."""
    from despin.truecase import CaseTable
    from training.evaluate import score

    spun = SPUN + ["The bill now goes to sexual intercourse for a final vote.",
                   "An three-toed sloth research lab opened in Boston.",
                   'He said "the hearth" was in a uncommon kitchen.'] + CLEAN
    original = ["Officials said the fire started in the kitchen.",
                "The firm reported a decline in revenue last year.",
                "Police said the car was stolen last night.",
                "The bill now goes to Congress for a final vote.",
                "An AI research lab opened in Boston.",
                'He said "the hearth" was in a rare kitchen.'] + CLEAN
    s = model.fast.settings
    gate = [(s.gate_cut, s.gate_margin)]
    best, _ = tune(model.fast, spun, original, [s.threshold], [1.0], 1.0, gates=gate,
                   finish=model.finish_edits, choice_margins=[s.choice_margin])
    restored = model.restore(spun)
    assert any("Congress" in r for r in restored) and any("An AI" in r for r in restored)
    want = score(spun, restored, original)
    assert (best["precision"], best["recall"], best["f05"]) == \
        (want["precision"], want["recall"], want["f05"])
    raw, _ = tune(model.fast, spun, original, [s.threshold], [1.0], 1.0, gates=gate,
                  choice_margins=[s.choice_margin])
    assert raw["f05"] < best["f05"]  # without it, "congress" and "ai" count as wrong
    assert isinstance(model.truecase, CaseTable)
