"""The fitted edit score: logistic regression, features, and a calibrated restorer end to end
(with the toy scorer of test_despinner, whose preferences are known)."""
from __future__ import annotations

import json
import math
import random

import pytest

from despin.calibration import Calibration, candidate_features, fit_logistic
from despin.despinner import Despinner
from despin.lattice import Slot
from despin.candidates import Candidate
from tests.test_despinner import index, toy  # noqa: F401  (fixture)
from training.calibrate import calibrate, collect


def test_fit_logistic_recovers_known_weights():
    rng = random.Random(0)
    rows, labels = [], []
    for _ in range(20000):
        x1, x2 = rng.gauss(0, 1), rng.gauss(3, 2)
        z = 0.5 + 2.0 * x1 - 1.0 * x2
        rows.append({"intercept": 1.0, "x1": x1, "x2": x2})
        labels.append(int(rng.random() < 1 / (1 + math.exp(-z))))
    w = fit_logistic(rows, labels, l2=0.0)
    assert w["x1"] == pytest.approx(2.0, abs=0.1)
    assert w["x2"] == pytest.approx(-1.0, abs=0.06)
    assert w["intercept"] == pytest.approx(0.5, abs=0.2)


def test_fit_logistic_rejects_bad_input():
    with pytest.raises(ValueError):
        fit_logistic([{"a": 1.0}], [1, 0])
    with pytest.raises(ValueError):
        fit_logistic([{"a": 1.0}, {"a": 2.0}], [1, 1])


def test_bias_is_the_weighted_feature_sum():
    slot = Slot(0, 8, 0, 1, "uncommon", [Candidate("rare", 0.6, "curated"),
                                        Candidate("few", 0.4, "moby")])
    cal = Calibration({"intercept": -1.0, "log_prior": 2.0, "source=moby": -3.0, "log_rank": 1.0})
    f1 = candidate_features(slot, 1)
    assert f1["source=moby"] == 1.0 and "source=curated" not in f1
    assert cal.bias()(slot, 0) == pytest.approx(-1.0 + 2.0 * math.log(0.6))
    assert cal.bias()(slot, 1) == pytest.approx(-1.0 + 2.0 * math.log(0.4) - 3.0 + math.log(2))


def _pair(original: str, spun: str, swaps: list[tuple[str, str]]
          ) -> tuple[str, list[dict], str]:
    """A spun text, its swaps (spun offsets, found left to right) and its original."""
    out, pos = [], 0
    for orig, rep in swaps:
        start = spun.index(rep, pos)
        out.append({"start": start, "end": start + len(rep), "original": orig, "spun": rep})
        pos = start + len(rep)
    return spun, out, original


PAIRS = [
    _pair("It comes at a rare moment of mutual need.", "It comes at a uncommon second of mutual want.",
          [("rare", "uncommon"), ("moment", "second"), ("need", "want")]),
    _pair("The military said the war was over.", "The navy stated the warfare was over.",
          [("military", "navy"), ("said", "stated"), ("war", "warfare")]),
    _pair("They need new technology.", "They want new know-how.",
          [("need", "want"), ("technology", "know-how")]),
    _pair("A second look at the navy.", "A second look at the navy.", []),
]


def test_collect_labels_gold_candidates(index):  # noqa: F811
    d = toy(index)
    rows, labels, groups = collect(d, [p[0] for p in PAIRS], [p[1] for p in PAIRS], desc="t")
    assert len(rows) == len(labels) == len(groups) and set(groups) <= {0, 1, 2, 3}
    assert all("term:0" in r and "log_prior" in r for r in rows)
    # every labelled-right row has the toy scorer's +4-per-word preference (or more)
    assert sum(labels) >= 6 and all(r["term:0"] > 0 for r, y in zip(rows, labels) if y)
    assert not any(y for y, g in zip(labels, groups) if g == 3)  # the clean text


def test_calibrated_restorer_restores_and_round_trips(index, tmp_path):  # noqa: F811
    d = toy(index)
    rows, labels, _ = collect(d, [p[0] for p in PAIRS], [p[1] for p in PAIRS], desc="t")
    weights = calibrate(d, rows, labels)
    assert d.scorer_specs[0].weight == weights["term:0"] > 0
    assert d.calibration is not None and d.settings.copy_bonus == 0.0
    spun = "It comes at a uncommon second of mutual want."
    assert d.restore(spun) == "It comes at a rare moment of mutual need."
    clean = "They said the rare moment of war was over."  # only words the scorer likes
    assert d.restore(clean) == clean
    # the calibration travels with the folder (toy scorer aside: check the config)
    d.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "despin.json").read_text())
    assert cfg["calibration"]["weights"] == pytest.approx(d.calibration.weights)
    again = Despinner.from_pretrained(tmp_path)
    assert again.calibration.weights == pytest.approx(d.calibration.weights)
    assert again.scorer_specs[0].weight == pytest.approx(weights["term:0"])


def test_cli_fits_and_writes_a_calibrated_folder(tmp_path, capsys):
    """`python -m training.calibrate` on a tiny pairs folder, scored by the default's SmolLM2."""
    from datasets import Dataset, DatasetDict

    from training.calibrate import main

    data = tmp_path / "pairs"
    DatasetDict({"train": Dataset.from_dict({
        "spun": [p[0] for p in PAIRS], "swaps": [p[1] for p in PAIRS],
        "original": [p[2] for p in PAIRS]})}).save_to_disk(str(data))
    out = tmp_path / "calibrated"
    args = ["--data", str(data), "--limit", "4", "--holdout", "0.25", "--top-k", "10",
            "--prefilter", "4", "--prefilter-context", "1", "--window", "4",
            "--rows", str(tmp_path / "rows.json"),
            "--out", str(out)]
    weights = main(args)
    printed = capsys.readouterr().out
    assert "held-out log-loss" in printed and "term:0" in printed
    model = Despinner.from_pretrained(out)
    assert model.settings.top_k == 10 and model.settings.prefilter == 4
    assert model.settings.prefilter_context == 1 and model.settings.copy_bonus == 0.0
    assert model.settings.window == 4
    assert model.scorer_specs[0].weight == pytest.approx(weights["term:0"])
    assert model.scorer_specs[0].gap_weight == pytest.approx(weights["term:0:gap"])
    # a second run reads the collected rows back and fits the same weights
    assert main(args) == weights and "rows read from" in capsys.readouterr().out
    # other settings: the cache does not apply
    main(args[:6] + ["--top-k", "5"] + args[8:])
    assert "rows read from" not in capsys.readouterr().out
    assert model.calibration.weights["intercept"] == pytest.approx(weights["intercept"])
    assert (out / "spunness.tsv").exists()
    # another scorer (with its dtype) replaces the model's own, is saved, and misses the cache
    out2 = tmp_path / "bf16"
    main(args[:-1] + [str(out2), "--scorer", "smollm2-135m", "--scorer-dtype", "bfloat16"])
    assert "rows read from" not in capsys.readouterr().out
    specs = Despinner.from_pretrained(out2).scorer_specs
    assert [(s.model, s.dtype, s.uses_source) for s in specs] == [
        ("smollm2-135m", "bfloat16", False)]
    with pytest.raises(SystemExit):
        main(args + ["--scorer-dtype", "bfloat16"])


def test_gap_features_and_gap_weight(index):  # noqa: F811
    d = toy(index)
    rows, labels, _ = collect(d, [p[0] for p in PAIRS], [p[1] for p in PAIRS], desc="t")
    gaps = [r["term:0:gap"] for r in rows]
    assert all(g <= 0 for g in gaps) and 0.0 in gaps
    assert all(r["term:0:gap"] == 0.0 for r, y in zip(rows, labels) if y)  # toy: gold is best
    weights = calibrate(d, rows, labels)
    assert d.scorer_specs[0].gap_weight == weights["term:0:gap"]
