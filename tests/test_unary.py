"""The fast core's unary score: slot features read from the encoder's word log-odds, the
conditional-logit fit (linear or a small network) and the network inside the unary score."""
from __future__ import annotations

import math

import numpy as np
import pytest

from despin.calibration import EditNetwork
from despin.edits import Edit
from despin.fast import FEATURES, FastRestorer, FastSettings, network_rows, slot_features
from training.fit_fast import fit_choice, fit_weights
from training.tune_fast import tune


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def test_slot_features_read_the_slot_its_neighbours_and_its_sentence():
    nan = float("nan")
    logodds = [1.0, nan, -2.0, 3.0, -1.0, 0.5, 4.0]
    spun, context, sentence = slot_features(logodds, 2, 4)
    assert spun == pytest.approx(0.5)  # mean of -2 and 3
    assert context == pytest.approx(1.0)  # 1.0 left (the nan skipped), -1.0 and 0.5 right
    rest = [1.0, -1.0, 0.5, 4.0]
    assert sentence == pytest.approx(sum(map(_sigmoid, rest)) / len(rest))
    assert slot_features([nan, 2.0], 1, 2) == (2.0, 0.0, 0.0)  # no neighbour, no other word


def _xor_rows(n_groups: int, seed: int):
    """One candidate per slot; it is right exactly when features a and b agree in sign (no
    linear score separates that), else the copy is; lm_delta is noise."""
    rng = np.random.default_rng(seed)
    rows, labels, groups = [], [], []
    for g in range(n_groups):
        a, b = rng.choice([-1.0, 1.0], size=2)
        rows.append({"a": a + rng.normal(0, 0.1), "b": b + rng.normal(0, 0.1),
                     "lm_delta": rng.normal()})
        labels.append(int(a * b > 0))
        groups.append(g)
    return rows, labels, groups


def _nll(scores: np.ndarray, labels: list[int]) -> float:
    """Mean negative log-likelihood of one candidate against the copy (score 0)."""
    return float(np.mean([math.log1p(math.exp(-s)) if y else math.log1p(math.exp(s))
                          for s, y in zip(scores, labels)]))


def test_network_choice_fits_what_a_linear_score_cannot():
    rows, labels, groups = _xor_rows(600, 0)
    test_rows, test_labels, _ = _xor_rows(300, 1)
    linear, none = fit_choice(rows, labels, groups, hidden=0)
    assert none is None
    lin = np.array([sum(linear.get(k, 0.0) * v for k, v in r.items()) + linear["intercept"]
                    for r in test_rows])
    w, net = fit_choice(rows, labels, groups, hidden=8)
    assert set(w) == {"a", "b", "lm_delta", "intercept"} and net.names == ["a", "b"]
    x = np.array([[r["a"], r["b"]] for r in test_rows])
    nn = net.batch(x) + np.array([sum(w.get(k, 0.0) * v for k, v in r.items()) + w["intercept"]
                                  for r in test_rows])  # the linear part and the network
    assert _nll(lin, test_labels) > 0.6  # about log 2: a linear score knows nothing here
    assert _nll(nn, test_labels) < 0.2
    assert ((nn > 0) == np.array(test_labels, dtype=bool)).mean() > 0.95
    # deterministic: the same rows give the same network
    _, again = fit_choice(rows, labels, groups, hidden=8)
    assert again.to_dict() == net.to_dict()


def test_fit_weights_returns_the_network_and_the_lm_weight():
    rows, labels, groups = _xor_rows(200, 2)
    weights, lm_weight, network = fit_weights(rows, labels, groups, kind="network", hidden=4)
    fitted, net = fit_choice(rows, labels, groups, 1e-3, hidden=4)
    assert set(weights) == {"a", "b", "intercept"} and lm_weight == fitted["lm_delta"]
    assert EditNetwork.from_dict(network).names == ["a", "b"]
    assert network == {**net.to_dict(), "max_words": None}
    weights, lm_weight, network = fit_weights(rows, labels, groups, kind="choice")
    assert network is None and set(weights) == {"a", "b", "intercept"}
    assert lm_weight == fit_choice(rows, labels, groups, 1e-3, hidden=0)[0]["lm_delta"]
    assert abs(lm_weight) < 0.5  # lm_delta is noise here: it earns little weight
    with pytest.raises(ValueError, match="kind must be"):
        fit_weights(rows, labels, groups, kind="forest")
    with pytest.raises(ValueError, match="lm_delta"):
        fit_choice([{"a": 1.0}, {"a": -1.0}], [1, 0], [0, 1], hidden=4)


def test_unary_adds_the_network_to_the_linear_score():
    rng = np.random.default_rng(3)
    names = ["enc", "spun", "deletion"]
    net = EditNetwork(names, [0.1, -0.2, 0.0], [1.0, 2.0, 0.5],
                      [(rng.normal(size=(4, 3)).tolist(), rng.normal(size=4).tolist()),
                       (rng.normal(size=(1, 4)).tolist(), [0.3])])
    settings = FastSettings(weights={"intercept": 0.5, "log_prior": 2.0}, threshold=1.5,
                            network=net.to_dict())
    restorer = FastRestorer(None, None, None, None, settings)
    matrix = rng.normal(size=(5, len(FEATURES)))
    matrix[2, FEATURES.index("lm_gap")] = np.nan  # outside the pool: never an edit
    u = restorer.unary(matrix)
    cols = [FEATURES.index(k) for k in names]
    expected = (0.5 * matrix[:, 0] + 2.0 * matrix[:, FEATURES.index("log_prior")]
                + net.batch(matrix[:, cols]) - 1.5)
    keep = [0, 1, 3, 4]
    assert np.allclose(u[keep], expected[keep]) and u[2] == -np.inf
    restorer.settings.network = dict(net.to_dict(), names=["enc", "spun", "made_up"])
    with pytest.raises(ValueError, match="made_up"):
        restorer.unary(matrix)


def test_network_rows_keep_spans_and_candidates_of_at_most_max_words():
    spaces = np.array([0, 0, 1, 2, 0, 4])
    cand = np.array([0, 1, 0, 0, 5, 0])
    assert network_rows(spaces, cand, None).all()
    assert network_rows(spaces, cand, 1).tolist() == [True, False, False, False, False, False]
    assert network_rows(spaces, cand, 2).tolist() == [True, True, True, False, False, False]
    assert network_rows(spaces, cand, 6).all()


def test_a_gated_network_leaves_long_spans_to_the_linear_score():
    rng = np.random.default_rng(4)
    names = ["enc", "spun"]
    net = EditNetwork(names, [0.0, 0.0], [1.0, 1.0],
                      [(rng.normal(size=(3, 2)).tolist(), rng.normal(size=3).tolist()),
                       (rng.normal(size=(1, 3)).tolist(), [2.0])])
    settings = FastSettings(weights={"enc": 1.0}, threshold=0.5,
                            network={**net.to_dict(), "max_words": 1})
    restorer = FastRestorer(None, None, None, None, settings)
    matrix = rng.normal(size=(4, len(FEATURES)))
    sw, cw = FEATURES.index("span_words"), FEATURES.index("cand_words")
    matrix[:, sw] = [0, 3, 0, 0]  # "owing to the fact that" has 3+ spaces
    matrix[:, cw] = [0, 0, 2, 0]
    linear = matrix[:, FEATURES.index("enc")] - 0.5
    net_part = net.batch(matrix[:, [FEATURES.index(k) for k in names]])
    u = restorer.unary(matrix)
    assert np.allclose(u, linear + np.array([1, 0, 0, 1]) * net_part)


def test_a_gated_fit_learns_the_interaction_on_single_words_only():
    rows, labels, groups = _xor_rows(600, 5)
    for i, r in enumerate(rows):  # every third slot is a phrase: its label is always 1
        r["span_words"], r["cand_words"] = (3.0, 0.0) if i % 3 == 0 else (0.0, 0.0)
        if i % 3 == 0:
            labels[i] = 1
    w, net = fit_choice(rows, labels, groups, hidden=8, max_words=1)
    single = [(r, y) for i, (r, y) in enumerate(zip(rows, labels)) if i % 3]
    x = np.array([[r[k] for k in net.names] for r, _ in single])
    lin = np.array([sum(w.get(k, 0.0) * v for k, v in r.items()) + w["intercept"]
                    for r, _ in single])
    assert ((lin + net.batch(x) > 0) == np.array([y for _, y in single], bool)).mean() > 0.9
    # the phrases' score is the linear part alone, and it has learnt that they are right
    phrase = [r for i, r in enumerate(rows) if i % 3 == 0]
    assert all(sum(w.get(k, 0.0) * v for k, v in r.items()) + w["intercept"] > 0
               for r in phrase)
    # stagewise: the linear part is the linear fit itself, so long spans score exactly as
    # they would without the network
    linear, _ = fit_choice(rows, labels, groups, hidden=0)
    assert w == pytest.approx(linear, rel=1e-9, abs=1e-12)
    with pytest.raises(ValueError, match="span_words"):
        fit_choice(_xor_rows(50, 6)[0], [1] * 50, list(range(50)), hidden=4, max_words=1)


class _WordRestorer:
    """A stand-in fast restorer: below threshold 1 it restores "stated" to "said"; below 0
    "big" to "large" and "large" to "huge" (right on the spun text, a change of the clean
    text); below -1 "the" to "a" as well (wrong everywhere)."""

    def __init__(self):
        self.settings = FastSettings(threshold=2.0, lm_weight=1.0)

    def lattices(self, sentences):
        return [None] * len(sentences)

    def restore_sentences(self, sentences, lattices=None, gate=True):
        rules = [("stated", "said", 1.0), ("big", "large", 0.0), ("large", "huge", 0.0),
                 ("the", "a", -1.0)]
        out = []
        for s in sentences:
            edits = []
            for spun, restored, below in rules:
                i = s.find(spun)
                if i >= 0 and self.settings.threshold < below:
                    edits.append(Edit(i, i + len(spun), spun, restored, 1.0))
            out.append(sorted(edits, key=lambda e: e.start))
        return out


def test_tune_bounds_the_clean_text_or_the_clean_words_in_spun_text():
    spun = ["He stated it was big news for the town."] * 3
    original = ["He said it was large news for the town."] * 3
    args = ([-2.0, -0.5, 0.5, 1.5], [1.0])
    # at -0.5 both spun words are restored (F0.5 1) and 1 of the originals' 9 words changes
    best, table = tune(_WordRestorer(), spun, original, *args, max_clean=0.12, bound="text")
    assert best["threshold"] == -0.5 and best["f05"] == 1.0
    assert best["clean_text"] == pytest.approx(1 / 9) and best["clean_changed"] == 0.0
    assert "clean text" in table and len(table.splitlines()) == 5
    best, _ = tune(_WordRestorer(), spun, original, *args, max_clean=0.05, bound="text")
    assert best["threshold"] == 0.5 and best["recall"] == 0.5 and best["clean_text"] == 0.0
    # in the spun view, -0.5 changes no word outside the gold edits
    best, _ = tune(_WordRestorer(), spun, original, *args, max_clean=0.05, bound="spun")
    assert best["threshold"] == -0.5 and best["clean_text"] == pytest.approx(1 / 9)
    with pytest.raises(ValueError, match="bound must be"):
        tune(_WordRestorer(), spun, original, *args, max_clean=0.05, bound="both")
