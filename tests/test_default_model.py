"""The shipped default restores held spun sentences written for this test (not from any
training corpus), leaves clean text alone, and works through `despin.restore` and the CLI."""
from __future__ import annotations

import subprocess
import sys

import pytest

import despin
from despin.despinner import Despinner
from training.evaluate import score

from .conftest import REPO

# (spun, original): spinner-style swaps of the kind the seed article shows.
HELD = [
    ("Officers stated the hearth began within the kitchen.",
     "Officials said the fire started in the kitchen."),
    ("The firm reported a decline in income final yr.",
     "The company reported a decline in revenue last year."),
    ("Scientists say the drug may assist sufferers with coronary heart illness.",
     "Scientists say the drug may help patients with heart disease."),
    ("The council will vote on the price range subsequent week.",
     "The council will vote on the budget next week."),
    ("Local weather change is a severe downside for farmers.",
     "Climate change is a serious problem for farmers."),
    ("The scholars had been requested to go away the constructing.",
     "The students were asked to leave the building."),
]
CLEAN = [
    "The museum opened in 1998 and attracts thousands of visitors every summer.",
    "She said the new bridge would be finished before the end of the year.",
    "Most of the workers in the factory were hired last spring.",
]


@pytest.fixture(scope="module")
def model() -> Despinner:
    return Despinner.from_pretrained()


@pytest.fixture(scope="module")
def restored(model) -> list[str]:
    return model.restore([s for s, _ in HELD])


def test_held_sentences(restored):
    spun, original = [s for s, _ in HELD], [o for _, o in HELD]
    m = score(spun, restored, original)
    exact = sum(r == o for r, o in zip(restored, original))
    print("\n".join(restored), m)
    # measured when the default shipped: P 0.90, R 0.45 (9 of 20 swaps), 1 sentence exact.
    # (Its window-5 predecessor: R 0.55 here — it also made "severe" → "serious" — but on 100
    # synthetic test pairs it was the weaker, F0.5 .628 against .649; the SmolLM2-scored
    # default before that: R 0.60 here, .545 there. Twenty swaps are a spot check; the
    # 100-pair table of benchmarks/quality.py is the measure.)
    assert m["precision"] >= 0.9, m
    assert m["recall"] >= 0.45, m
    assert exact >= 1
    for spun, good in [("final yr", "last year"), ("price range", "budget"), ("stated", "said"),
                       ("had been", "were"), ("hearth", "fire"), ("firm", "company")]:
        assert any(spun in s and good in r for (s, _), r in zip(HELD, restored)), spun


def test_clean_text_left_alone(model):
    assert model.restore(CLEAN) == CLEAN


def test_one_off_api_and_cli(restored):
    assert despin.restore(HELD[0][0]) == restored[0]
    text = f"{HELD[0][0]}\n\n{HELD[3][0]}\n"
    r = subprocess.run([sys.executable, "-m", "despin", "--quiet"], input=text, text=True,
                       capture_output=True, cwd=REPO, timeout=900)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{restored[0]}\n\n{restored[3]}\n"


def test_edits_carry_calibrated_scores(model, restored):
    """The default is calibrated: each edit's score is its log-odds of being right minus the
    threshold, so every edit it takes scores above 0, and the edits rebuild the output."""
    assert model.calibration is not None
    r = model.restore_with_edits(HELD[0][0])
    assert r.text == restored[0] and r.edits
    assert all(e.score > 0 and HELD[0][0][e.start:e.end] == e.spun for e in r.edits)


def test_prefilter_skips_slots_without_left_context(model):
    """Slots with fewer than `prefilter_context` tokens before them keep their best
    `prefilter_cold` candidates by prior; later slots get the language-model check."""
    from dataclasses import replace

    from despin.lattice import build_slots

    text = "hereditary data is shared with the whole group"
    raw = {s.start: s for s in build_slots(text, model.index, top_k=model.settings.top_k)}
    saved = model.settings
    try:
        model.settings = replace(saved, prefilter_context=2, prefilter_cold=20)
        lattice = model.lattice(text)
    finally:
        model.settings = saved
    for slot in lattice:
        assert slot.cold == (slot.tok_start < 2)  # its rank is the prior's: priced apart
        if slot.tok_start < 2:
            assert slot.candidates == raw[slot.start].candidates[:20]
        else:
            assert len(slot.candidates) <= saved.prefilter
    starts = {s.tok_start for s in lattice}
    assert {0, 1} <= starts and max(starts) >= 2
    assert len(lattice[0].candidates) == min(20, len(raw[0].candidates)) > saved.prefilter
