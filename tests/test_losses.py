"""benchmarks/losses.py: gold edits as spans, and the stage that loses each (coverage or
choice), read from the shipped default's own output."""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import benchmarks.losses  # noqa: E402
from despin.despinner import Despinner  # noqa: E402


@pytest.fixture(scope="module")
def losses():
    return benchmarks.losses


@pytest.fixture(scope="module")
def model() -> Despinner:
    return Despinner.from_pretrained()


def test_gold_spans(losses):
    spun = "He was brought to a major hospital by the ambulance."
    original = "He was taken to a big hospital by ambulance."
    assert losses.gold_spans(spun, original) == [
        (7, 14, "taken"), (20, 25, "big"), (38, 41, "")]
    assert losses.gold_spans(original, original) == []
    # a dropped word is an empty span where it stood
    assert losses.gold_spans("a hospital", "a big hospital") == [(2, 2, "big")]


SPUN = ["The men stated the navy know-how was more superior.",
        "The protection minister stated the defence finances would develop.",
        "It was a uncommon second of mutual want in the capital."]


def test_the_restorers_own_output_is_all_restored(losses, model):
    """Round trip: with the default's own restoration as the original, every gold edit is
    one the default made, so every one is classed restored."""
    outs = model.restore(SPUN)
    assert sum(o != s for o, s in zip(outs, SPUN)) >= 2
    classes = losses.classify(model, SPUN, outs)
    assert [len(c) for c in classes] == [len(losses.gold_spans(s, o)) for s, o in zip(SPUN, outs)]
    assert all(c == "restored" for row in classes for c in row)


def test_each_stage_is_named(losses, model):
    spun = SPUN[0]
    out = model.restore(spun)
    assert "said" in out and "Paris" not in out
    # an original no index lists, and a name (never a slot): coverage
    orig = out.replace("said", "zzqx").replace(".", " in London.")
    spun_named = spun.replace(".", " in Paris.")
    assert losses.classify(model, [spun_named], [orig]) == [["not a candidate", "no slot"]]
    # originals the index lists but the default does not take: choice
    classes = losses.classify(model, [spun], ["The men said the military technology was far "
                                              "superior."])[0]
    # said (restored); military, technology (listed, not taken); far (this index has no
    # slot for "more" nor for "more superior")
    assert classes[0] == "restored" and classes[3] == "no slot" and len(classes) == 4
    assert all(c in losses.CLASSES[3:] for c in classes[1:3]), classes
    table = losses.table({"x": Counter(classes)})
    assert "| x | 4 | 25.0 % | 25.0 % |" in table and table.rstrip().endswith("| 25.0 % |")


def test_an_edit_inside_a_phrase_slot_follows_that_slot(losses):
    spun = "it was more superior"
    cands = lambda *texts: SimpleNamespace(slots=[SimpleNamespace(  # noqa: E731
        candidates=[SimpleNamespace(text=t) for t in texts])])
    slots = {(7, 20): (0, cands("far superior", "better"), None),
             (7, 11): (0, cands("most"), None)}
    # "more" -> "far": the two-word slot whose candidate makes that edit, not "more"'s own
    assert losses._target(spun, 7, 11, "far", slots) == ((7, 20), "far superior")
    assert losses._target(spun, 7, 11, "most", slots) == ((7, 11), "most")
    assert losses._target(spun, 7, 11, "less", slots) == ((7, 11), "less")  # not a candidate
    assert losses._target(spun, 7, 11, "less", {(7, 20): slots[(7, 20)]}) is None
    assert losses._target(spun, 7, 7, "far", slots) is None  # a dropped word: no span
