"""The fitted edit score: logistic regression, features, and a calibrated restorer end to end
(with the toy scorer of test_despinner, whose preferences are known)."""
from __future__ import annotations

import json
import math
import random
from dataclasses import replace

import numpy as np
import pytest

from despin.calibration import (FEATURES_VERSION, Calibration, EditNetwork, candidate_features,
                                fit_logistic, fit_network, linear_score)
from despin.despinner import SEARCH_PATH as SEARCHER, Despinner, ScorerSpec
from despin.detector import SpunDetector
from despin.lattice import Slot, build_slots
from despin.candidates import Candidate
from despin.synonyms import zipf
from tests.test_despinner import index, toy  # noqa: F401  (fixture)
from training.calibrate import log_loss, _same_rows, calibrate, collect, rows_key


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
    assert "log_channel" not in f1  # a hand-built candidate has no channel
    assert "cold" not in f1 and "cold_log_rank" not in f1
    cold = candidate_features(replace(slot, cold=True), 1)
    assert cold["cold"] == 1.0 and cold["cold_log_rank"] == cold["log_rank"] == math.log(2)
    assert cal.bias()(replace(slot, cold=True), 1) == cal.bias()(slot, 1)  # fitted before: same
    assert f1["zipf_spun"] == zipf("uncommon") and f1["zipf_gain"] == zipf("few") - zipf("uncommon")
    assert cal.bias()(slot, 0) == pytest.approx(-1.0 + 2.0 * math.log(0.6))
    assert cal.bias()(slot, 1) == pytest.approx(-1.0 + 2.0 * math.log(0.4) - 3.0 + math.log(2))


def _xor_rows(n: int, seed: int) -> tuple[list[dict[str, float]], list[int]]:
    """Right when Δ and gap have the same sign (with 5 % label noise): no line separates it."""
    rng = random.Random(seed)
    rows, labels = [], []
    for _ in range(n):
        d, g = rng.uniform(-3, 3), rng.uniform(-3, 3)
        rows.append({"intercept": 1.0, "term:0": d, "term:0:gap": g, "log_prior": rng.gauss(0, 1)})
        labels.append(int(((d > 0) == (g > 0)) != (rng.random() < 0.05)))
    return rows, labels


def test_fit_network_learns_what_a_line_cannot():
    rows, labels = _xor_rows(4000, 0)
    test_rows, test_labels = _xor_rows(1000, 1)
    net = fit_network(rows, labels, batch_size=256)
    w = fit_logistic(rows, labels)
    assert log_loss(lambda r: linear_score(w, r), test_rows, test_labels) > 0.6  # ≈ ln 2
    assert log_loss(net, test_rows, test_labels) < 0.35
    hits = sum((net(r) > 0) == bool(y) for r, y in zip(test_rows, test_labels))
    assert hits / len(test_rows) > 0.88
    # deterministic for a seed, and another seed gives another network
    assert fit_network(rows, labels, batch_size=256).layers == net.layers
    assert fit_network(rows, labels, batch_size=256, seed=1).layers != net.layers
    with pytest.raises(ValueError):
        fit_network(rows[:3], [1, 1, 1])


def test_network_edit_score_is_the_network_on_all_features():
    """The search's split of the network — candidate facts once, deltas per call — must give
    the network's own value on the whole row, also after a trip through JSON."""
    rows, labels = _xor_rows(500, 2)
    net = fit_network(rows, labels, epochs=3)
    again = EditNetwork.from_dict(json.loads(json.dumps(net.to_dict())))
    slot = Slot(0, 8, 0, 1, "uncommon", [Candidate("rare", 0.6, "curated"),
                                        Candidate("few", 0.4, "moby")])
    cal = Calibration.from_dict(json.loads(json.dumps(Calibration(network=net).to_dict())))
    score = cal.edit_score(1)
    assert Calibration({"intercept": 1.0}).edit_score(1) is None  # linear: the search's own
    for j in (0, 1):
        for d, g in [(0.0, 0.0), (2.5, -1.0), (-4.0, -7.5)]:
            full = {**candidate_features(slot, j), "term:0": d, "term:0:gap": g}
            assert score(score.prepare(slot, j), [d], [g]) == pytest.approx(net(full), abs=1e-9)
            assert again(full) == pytest.approx(net(full), abs=1e-12)
    assert score(score.prepare(slot, 0), [2.0], [0.0]) != score(score.prepare(slot, 0), [2.0], [-1.0])


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


def test_network_calibrated_restorer_restores_and_round_trips(index, tmp_path):  # noqa: F811
    d = toy(index)
    rows, labels, _ = collect(d, [p[0] for p in PAIRS], [p[1] for p in PAIRS], desc="t")
    assert calibrate(d, rows * 30, labels * 30, kind="mlp") is None
    assert d.calibration.network is not None and d.settings.copy_bonus == 0.0
    assert d.scorer_specs[0].weight == 1.0 and d.scorer_specs[0].gap_weight == 0.0
    # "second" and "navy" are clean words in one of the four pairs too ("A second look at the
    # navy."): a network fitted on them need not restore those two (seed 0 keeps "second"
    # since the index offers "second" no other ordinal); the unambiguous swaps it must
    assert d.restore("They want new know-how.") == "They need new technology."
    spun = "It comes at a uncommon second of mutual want."
    out = d.restore(spun)
    assert out.startswith("It comes at a rare ") and out.endswith(" of mutual need.")
    clean = "They said the rare moment of war was over."
    assert d.restore(clean) == clean
    d.save_pretrained(tmp_path)
    again = Despinner.from_pretrained(tmp_path)
    assert again.calibration.network.layers == d.calibration.network.layers
    with pytest.raises(ValueError):
        calibrate(d, rows, labels, kind="forest")
    # the tuning prefix rule holds for a network score too, with and without pair moves
    from training.tune import outputs_at, ranked_edits

    texts = [spun, "The navy stated the warfare was over.", clean]
    for pair_top in (0, 2):
        d.settings.pair_top = pair_top
        ranked = ranked_edits(d, texts, floor=-3.0)
        for bonus in (-3.0, -1.0, 0.0, 0.5, 2.0, 6.0):
            d.settings.copy_bonus = bonus
            assert outputs_at(texts, ranked, bonus, -3.0) == d.restore(texts)


def test_rows_key_ignores_search_only_settings(index):  # noqa: F811
    """Rows depend on the lattice and the scorers, not on how the search then uses them: a
    cache collected under another copy bonus or pair setting still applies (older caches
    recorded those settings too)."""
    from datasets import Dataset

    ds = Dataset.from_dict({"spun": ["a"], "swaps": [[]], "original": ["a"]})
    key = rows_key(toy(index, copy_bonus=0.0), "d", "train", ds)
    assert rows_key(toy(index, copy_bonus=-0.25, pair_top=3, pair_floor=-5.0, max_edits=4),
                    "d", "train", ds) == key
    assert rows_key(toy(index, window=9), "d", "train", ds) != key
    assert rows_key(toy(index, top_k=7), "d", "train", ds) != key
    with_detector = toy(index)
    with_detector.detector = SpunDetector("toy", 1, np.ones(2), 0.0, np.zeros(2), np.ones(2))
    assert rows_key(with_detector, "d", "train", ds) != key  # the rows read its log-odds
    old = json.loads(json.dumps(key))
    old["settings"].update(copy_bonus=5.0, pair_top=0)
    del old["detector"]  # caches from before detectors
    assert _same_rows(old, key)
    old["settings"]["prefilter"] = 99
    assert not _same_rows(old, key)
    del old["features"]
    old["settings"]["prefilter"] = key["settings"]["prefilter"]
    assert _same_rows({**old, "features": FEATURES_VERSION}, key)
    assert not _same_rows(old, key)  # rows from before log_channel / zipf_spun


def test_index_candidates_carry_their_channel_into_the_features(index):  # noqa: F811
    slots = build_slots("a uncommon second", index)
    assert slots
    for slot in slots:
        for j, c in enumerate(slot.candidates):
            assert c.channel > 0.0
            assert candidate_features(slot, j)["log_channel"] == pytest.approx(math.log(c.channel))


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
            "--rows", str(tmp_path / "rows.json"), "--kind", "linear",
            "--out", str(out)]
    weights = main(args)
    printed = capsys.readouterr().out
    assert "held-out log-loss" in printed and "term:0" in printed
    assert "base rate" in printed and "mlp" in printed and "linear" in printed
    model = Despinner.from_pretrained(out)
    assert model.settings.top_k == 10 and model.settings.prefilter == 4
    assert model.settings.prefilter_context == 1 and model.settings.copy_bonus == 0.0
    assert model.settings.window == 4
    assert model.scorer_specs[0].weight == pytest.approx(weights["term:0"])
    assert model.scorer_specs[0].gap_weight == pytest.approx(weights["term:0:gap"])
    # a second run reads the collected rows back and fits the same weights
    assert main(args) == weights and "rows read from" in capsys.readouterr().out
    # a network, from the same cached rows
    out3 = tmp_path / "mlp"
    assert main(args[:-3] + ["mlp", "--out", str(out3)]) is None
    printed = capsys.readouterr().out
    assert "rows read from" in printed and "network: " in printed
    net_model = Despinner.from_pretrained(out3)
    assert net_model.calibration.network is not None and net_model.calibration.weights == {}
    r = net_model.restore_with_edits(PAIRS[1][0])  # the network path with a real LM
    assert all(e.score > 0 for e in r.edits)
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
    # --profile: the fit (and its lattice settings) become a profile; the model's own stay
    out4 = tmp_path / "profiled"
    w4 = main(args[:4] + ["--top-k", "5", "--profile", "phrase", "--out", str(out4)])
    saved, shipped = Despinner.from_pretrained(out4), Despinner.from_pretrained(SEARCHER)
    assert saved.settings == shipped.settings and saved.calibration.weights == pytest.approx(
        shipped.calibration.weights)
    prof = saved.profiles["phrase"]
    assert prof["search"] == {"top_k": 5, "copy_bonus": 0.0}
    assert prof["scorers"][0]["weight"] == pytest.approx(w4["term:0"])
    assert prof["calibration"]["weights"]["intercept"] == pytest.approx(w4["intercept"])
    with pytest.raises(SystemExit):
        main(args + ["--profile", "phrase", "--scorer", "smollm2-135m"])


def test_gap_features_and_gap_weight(index):  # noqa: F811
    d = toy(index)
    rows, labels, _ = collect(d, [p[0] for p in PAIRS], [p[1] for p in PAIRS], desc="t")
    gaps = [r["term:0:gap"] for r in rows]
    assert all(g <= 0 for g in gaps) and 0.0 in gaps
    assert all(r["term:0:gap"] == 0.0 for r, y in zip(rows, labels) if y)  # toy: gold is best
    weights = calibrate(d, rows, labels)
    assert d.scorer_specs[0].gap_weight == weights["term:0:gap"]


def test_profiles_weigh_the_same_lattice_differently_and_round_trip(index, tmp_path):  # noqa: F811
    d = toy(index)
    spun = "It comes at a uncommon second of mutual want."
    fitted = d.derive()
    fitted.settings.copy_bonus = 100.0  # a profile that wants far more evidence
    fitted.scorer_specs[0].weight = 2.0
    d.set_profile("strict", fitted)
    assert d.profiles["strict"]["search"] == {"copy_bonus": 100.0}  # only what differs
    assert d.profiles["strict"]["scorers"] == [{"weight": 2.0, "gap_weight": 0.0}]
    strict = d.profile("strict")
    assert strict is d.profile("strict") and d.profile(None) is d
    assert strict.scorers[0].model is d.scorers[0].model and strict.index is d.index  # shared
    assert strict.scorer_specs[0].weight == 2.0 and d.scorer_specs[0].weight == 1.0
    assert strict.restore(spun) == spun
    assert d.restore(spun) == "It comes at a rare moment of mutual need."
    # a calibrated profile: its calibration, not the model's, scores the edits
    rows, labels, _ = collect(d, [p[0] for p in PAIRS], [p[1] for p in PAIRS], desc="t")
    cal = d.derive()
    calibrate(cal, rows, labels)
    d.set_profile("cal", cal)
    assert d.calibration is None and d.profile("cal").calibration.weights == pytest.approx(
        cal.calibration.weights)
    assert d.profile("cal").restore(spun) == "It comes at a rare moment of mutual need."
    d.save_pretrained(tmp_path)
    assert Despinner.from_pretrained(tmp_path).profiles == json.loads(json.dumps(d.profiles))
    with pytest.raises(KeyError, match="has \\['cal', 'strict'\\]"):
        d.profile("phrase")
    with pytest.raises(ValueError, match="same scorer models"):
        d.derive([ScorerSpec("other", 1.0, True)])


def test_tune_cli_writes_the_chosen_copy_bonus(tmp_path, capsys):
    """`python -m training.tune --write` on a copy of the shipped default (greedy search): it
    prints the sweep and the choice, and saves the chosen bonus, nothing else."""
    from datasets import Dataset, DatasetDict

    from training.tune import main

    data = tmp_path / "pairs"
    DatasetDict({"validation": Dataset.from_dict({
        "spun": ["It comes at a uncommon second.", "The navy know-how was new."],
        "original": ["It comes at a rare moment.", "The military technology was new."]})}
    ).save_to_disk(str(data))
    folder = Despinner.from_pretrained(SEARCHER).save_pretrained(tmp_path / "m")
    best = main(["--model", str(folder), "--data", str(data), "--limit", "2",
                 "--bonuses", "3", "9", "--write"])
    printed = capsys.readouterr().out
    assert f"best copy_bonus {best['copy_bonus']} (F0.5" in printed
    # the printed sweep: bonus, P, R, F0.5, clean-text changed; the chosen row is the lowest
    # bonus within --tie (0.01) of the best F0.5 among rows within --max-clean (1 %)
    rows = [ln.split() for ln in printed.splitlines() if ln.strip().startswith(("3.00", "9.00"))]
    assert [float(r[0]) for r in rows] == [3.0, 9.0]
    ok = [r for r in rows if float(r[4].rstrip("%")) <= 1.0] or rows
    top = max(float(r[3]) for r in ok)
    assert best["copy_bonus"] == min(float(r[0]) for r in ok if float(r[3]) >= top - 0.01)
    again = Despinner.from_pretrained(folder)
    assert again.settings == replace(Despinner.from_pretrained(SEARCHER).settings,
                                     copy_bonus=best["copy_bonus"])


def test_tune_cli_creates_a_joint_phrase_profile(tmp_path, capsys):
    """`python -m training.tune --profile phrase --set joint_top=3 --write` on a copy of the
    shipped default: the sweep runs with its Gemma scorer and only the profile changes."""
    from datasets import Dataset, DatasetDict

    from training.tune import main

    data = tmp_path / "phrases"
    DatasetDict({"validation": Dataset.from_dict({
        "spun": ["navy know-how", "uncommon second", "foreign policy"],
        "original": ["military technology", "rare moment", "foreign policy"]})}
    ).save_to_disk(str(data))
    folder = Despinner.from_pretrained(SEARCHER).save_pretrained(tmp_path / "m")
    best = main(["--model", str(folder), "--data", str(data), "--limit", "3", "--profile",
                 "phrase", "--set", "joint_top=3", "--bonuses", "0", "4", "--joint-priors", "1",
                 "--write"])
    printed = capsys.readouterr().out
    assert "best joint_bonus" in printed and best["joint_prior"] == 1.0
    again = Despinner.from_pretrained(folder)
    assert again.settings == Despinner.from_pretrained(SEARCHER).settings  # the model's own: unchanged
    # only what differs from the model's own settings (joint_prior 1 is its default too)
    assert again.profiles["phrase"] == {"search": {"joint_top": 3,
                                                   "joint_bonus": best["joint_bonus"]}}
