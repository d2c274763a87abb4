"""A fitted edit score: the log-odds that taking candidate ``j`` of a slot restores the original.

The search's gain (:mod:`despin.search`) is a sum of scorer deltas and a constant *bias* per
candidate. Left to hand-set weights, the bias is ``prior_weight · log prior + spun_weight ·
log-odds(spun)``. A :class:`Calibration` instead learns, by logistic regression on synthetic
pairs (:mod:`training.calibrate`), the weight of every scorer delta and of a few cheap facts
about the candidate — its prior and rank (by the language model, or by the prior in a *cold* slot
at a sentence's start), the spinner's probability of writing the spun span for
it (its *channel*), which synonym source proposed it, how frequent the spun word is and how much
more frequent the candidate is, how many words it spans — so that an edit's score is
``log P(right) − log P(wrong)`` and the copy bonus is a threshold on those odds.

A linear score cannot say "a large Δ counts for more when the candidate is also the slot's
favourite" or "when the word looks spun". An :class:`EditNetwork` — a small multilayer
perceptron fitted on the same rows (:func:`fit_network`) — can; when a calibration holds one, it
replaces the linear sum, scorer weights included (:meth:`Calibration.edit_score`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .lattice import Slot
from .search import EditScore
from .spunness import SpunnessTable
from .synonyms import zipf

__all__ = ["Calibration", "EditNetwork", "FEATURES_VERSION", "candidate_features", "fit_logistic",
           "fit_network", "linear_score", "logistic_lbfgs", "term_names"]

# Bumped whenever candidate_features changes, so that rows collected before are not reused.
FEATURES_VERSION = 2


def candidate_features(slot: Slot, j: int, spunness: Optional[SpunnessTable] = None
                       ) -> dict[str, float]:
    """The constant features of taking candidate ``j`` of ``slot`` (scorer deltas aside).

    ``log_channel`` (log of the spinner's probability of writing the span for this candidate)
    is left out for a hand-built candidate that has no channel: it then counts 0. A cold slot's
    rank is the prior's, not the language model's: ``cold`` and ``cold_log_rank`` let a fit
    price it apart (a calibration fitted before them has no weight for them)."""
    c = slot.candidates[j]
    spun_zipf = zipf(slot.text.lower())
    return {
        "intercept": 1.0,
        "log_prior": c.log_prior,
        "log_rank": math.log1p(j),
        **({"cold": 1.0, "cold_log_rank": math.log1p(j)} if slot.cold else {}),
        **({"log_channel": math.log(max(c.channel, 1e-9))} if c.channel is not None else {}),
        "spunness": spunness.log_odds(slot.text) if spunness is not None else 0.0,
        "zipf_spun": spun_zipf,
        "zipf_gain": zipf(c.text.lower()) - spun_zipf,
        "span_words": float(slot.text.count(" ")),
        "cand_words": float(c.text.count(" ")),
        f"source={c.source}": 1.0,
        **({"detector": slot.detector} if slot.detector is not None else {}),
    }


def term_names(t: int) -> tuple[str, str]:
    """The feature names of scorer ``t``'s Δ and of its gap behind the slot's best Δ."""
    return f"term:{t}", f"term:{t}:gap"


def linear_score(weights: dict[str, float], features: dict[str, float]) -> float:
    """``Σ weights[k] · features[k]`` (features without a weight count 0): the log-odds."""
    return sum(weights.get(k, 0.0) * v for k, v in features.items())


@dataclass
class EditNetwork:
    """A multilayer perceptron (tanh hidden layers) from standardised features to log-odds.

    ``names`` orders the inputs; a feature a row lacks counts 0 (as in :func:`linear_score`).
    ``layers`` holds ``(W, b)`` per layer as nested lists (``W``: out × in), so that the
    network travels in ``despin.json``.
    """

    names: list[str]
    mean: list[float]
    std: list[float]
    layers: list[tuple[list[list[float]], list[float]]]

    def __post_init__(self) -> None:
        self._w = [(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64))
                   for w, b in self.layers]
        self._mean = np.asarray(self.mean, dtype=np.float64)
        self._std = np.asarray(self.std, dtype=np.float64)
        self._col = {k: i for i, k in enumerate(self.names)}

    def first_layer(self, features: dict[str, float]) -> np.ndarray:
        """The first layer's pre-activation from ``features`` alone (other inputs at 0)."""
        w, b = self._w[0]
        x = np.zeros(len(self.names))
        for k, v in features.items():
            if k in self._col:
                x[self._col[k]] = v
        return b + w @ ((x - self._mean) / self._std)

    def _above_first(self, h: np.ndarray) -> np.ndarray:
        """The output layer's values from first-layer pre-activations ``h`` (``[hidden]`` or
        ``[N, hidden]``): tanh, then each further layer."""
        for w, b in self._w[1:]:
            h = np.tanh(h) @ w.T + b
        return h

    def finish(self, h: np.ndarray) -> float:
        """The log-odds from a first-layer pre-activation."""
        return float(self._above_first(h)[0])

    def __call__(self, features: dict[str, float]) -> float:
        """The log-odds of one feature row."""
        return self.finish(self.first_layer(features))

    def batch(self, x: np.ndarray) -> np.ndarray:
        """The log-odds ``[N]`` of the rows of ``x`` ``[N, len(names)]`` (columns in the order
        of ``names``; raw, unstandardised features)."""
        w, b = self._w[0]
        h = ((np.asarray(x, dtype=np.float64) - self._mean) / self._std) @ w.T + b
        return self._above_first(h)[:, 0]

    def to_dict(self) -> dict:
        return {"names": self.names, "mean": self.mean, "std": self.std,
                "layers": [[w, b] for w, b in self.layers]}

    @classmethod
    def from_dict(cls, data: dict) -> "EditNetwork":
        return cls(list(data["names"]), [float(v) for v in data["mean"]],
                   [float(v) for v in data["std"]], [(w, b) for w, b in data["layers"]])


class _NetworkScore:
    """:class:`despin.search.EditScore` of a network: the constant features' share of the first
    layer is computed once per candidate, the scorer deltas and gaps added per call."""

    def __init__(self, net: EditNetwork, n_terms: int, spunness: Optional[SpunnessTable]):
        self.net, self.spunness = net, spunness
        cols = [net._col.get(k) for t in range(n_terms) for k in term_names(t)]
        w = net._w[0][0]
        # prepare() reads the deltas and gaps as 0, so a call adds W[:, c] · value / std[c]
        self.w = np.stack([w[:, c] / net._std[c] if c is not None else np.zeros(w.shape[0])
                           for c in cols], axis=1)

    def prepare(self, slot: Slot, j: int) -> Any:
        return self.net.first_layer(candidate_features(slot, j, self.spunness))

    def __call__(self, prepared: Any, deltas: Sequence[float], gaps: Sequence[float]) -> float:
        x = np.array([v for d, g in zip(deltas, gaps) for v in (d, g)])
        return self.net.finish(prepared + self.w @ x)


@dataclass
class Calibration:
    """A fitted edit score: linear ``weights`` of the constant features (the scorer weights
    then live in the scorer specs), or, when ``network`` is set, that network on every feature
    (constant ones, scorer deltas and gaps), which replaces the linear sum."""

    weights: dict[str, float] = field(default_factory=dict)
    network: Optional[EditNetwork] = None

    def bias(self, spunness: Optional[SpunnessTable] = None) -> Callable[[Slot, int], float]:
        """``bias(slot, j)`` of the linear score, for :func:`despin.search.search`."""
        w = self.weights

        def bias(slot: Slot, j: int) -> float:
            return linear_score(w, candidate_features(slot, j, spunness))
        return bias

    def edit_score(self, n_terms: int, spunness: Optional[SpunnessTable] = None
                   ) -> Optional[EditScore]:
        """The network as the search's :class:`~despin.search.EditScore` (None: linear)."""
        return None if self.network is None else _NetworkScore(self.network, n_terms, spunness)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"weights": dict(sorted(self.weights.items()))}
        if self.network is not None:
            out["network"] = self.network.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        net = EditNetwork.from_dict(data["network"]) if data.get("network") else None
        return cls({k: float(v) for k, v in data.get("weights", {}).items()}, net)


def _design(rows: Sequence[dict[str, float]], labels: Sequence[int]):
    """Checked fit inputs: feature names (intercept aside), the standardised float64 matrix,
    the labels, and the columns' mean and standard deviation."""
    import torch

    if len(rows) != len(labels) or not rows:
        raise ValueError(f"need as many labels as rows, got {len(rows)} and {len(labels)}")
    if len(set(labels)) < 2:
        raise ValueError("labels are all one class: nothing to fit")
    names = sorted({k for r in rows for k in r} - {"intercept"})
    x = torch.tensor([[r.get(k, 0.0) for k in names] for r in rows], dtype=torch.float64)
    y = torch.tensor(list(labels), dtype=torch.float64)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    return names, (x - mean) / std, y, mean, std


def logistic_lbfgs(z, y, l2: float, max_iter: int = 200):
    """Weights and intercept (tensors) of the logistic regression of ``y`` on the standardised
    matrix ``z``, penalty ``l2 · Σ w²`` (the intercept is not penalised), by full-batch L-BFGS:
    deterministic."""
    import torch

    w = torch.zeros(z.shape[1], dtype=z.dtype, requires_grad=True)
    b = torch.zeros((), dtype=z.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, y) \
            + l2 * (w ** 2).sum()
        loss.backward()
        return loss
    opt.step(closure)
    return w.detach(), b.detach()


def fit_logistic(rows: Sequence[dict[str, float]], labels: Sequence[int], l2: float = 1e-3,
                 max_iter: int = 200) -> dict[str, float]:
    """L2-regularised logistic regression on feature dicts (missing features are 0).

    Features are standardised for the fit and the weights mapped back, so the result applies to
    raw features; the intercept is not penalised. Deterministic (full-batch L-BFGS).
    """
    names, z, y, mean, std = _design(rows, labels)
    w, b = logistic_lbfgs(z, y, l2, max_iter)
    raw = w / std
    out = {k: float(v) for k, v in zip(names, raw)}
    out["intercept"] = float(b - (raw * mean).sum())
    return out


def fit_network(rows: Sequence[dict[str, float]], labels: Sequence[int], hidden: int = 16,
                depth: int = 2, epochs: int = 60, weight_decay: float = 1e-3, lr: float = 3e-3,
                batch_size: int = 1024, seed: int = 0) -> EditNetwork:
    """Fit an :class:`EditNetwork` (``depth`` tanh layers of ``hidden`` units) by AdamW on the
    binary cross-entropy. Deterministic for a given ``seed``."""
    import torch

    names, z, y, mean, std = _design(rows, labels)
    gen = torch.Generator().manual_seed(seed)
    mods, n = [], len(names)
    for _ in range(depth):
        lin = torch.nn.Linear(n, hidden, dtype=torch.float64)
        mods += [lin, torch.nn.Tanh()]
        n = hidden
    mods.append(torch.nn.Linear(n, 1, dtype=torch.float64))
    net = torch.nn.Sequential(*mods)
    with torch.no_grad():  # seeded initialisation, independent of the global RNG
        for m in net:
            if isinstance(m, torch.nn.Linear):
                bound = 1 / math.sqrt(m.in_features)
                m.weight.uniform_(-bound, bound, generator=gen)
                m.bias.uniform_(-bound, bound, generator=gen)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        perm = torch.randperm(len(z), generator=gen)
        for b in range(0, len(z), batch_size):
            idx = perm[b:b + batch_size]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                net(z[idx]).squeeze(-1), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    layers = [(m.weight.detach().tolist(), m.bias.detach().tolist())
              for m in net if isinstance(m, torch.nn.Linear)]
    return EditNetwork(names, mean.tolist(), std.tolist(), layers)
