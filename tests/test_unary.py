"""The fast core's unary score: slot features read from the encoder's word log-odds, the
conditional-logit fit (linear or a small network) and the network inside the unary score."""
from __future__ import annotations

import math

import numpy as np
import pytest

from despin.calibration import EditNetwork
from despin.fast import FEATURES, FastRestorer, FastSettings, slot_features
from training.fit_fast import fit_choice, fit_weights


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
    assert set(weights) == {"a", "b", "intercept"} and isinstance(lm_weight, float)
    assert EditNetwork.from_dict(network).names == ["a", "b"]
    weights, lm_weight, network = fit_weights(rows, labels, groups, kind="choice")
    assert network is None and set(weights) == {"a", "b", "intercept"}
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
