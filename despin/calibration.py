"""A fitted edit score: the log-odds that taking candidate ``j`` of a slot restores the original.

The search's gain (:mod:`despin.search`) is a sum of scorer deltas and a constant *bias* per
candidate. Left to hand-set weights, the bias is ``prior_weight · log prior + spun_weight ·
log-odds(spun)``. A :class:`Calibration` instead learns, by logistic regression on synthetic
pairs (:mod:`training.calibrate`), the weight of every scorer delta and of a few cheap facts
about the candidate — its prior and rank, which synonym source proposed it, how much more
frequent it is than the spun word, how many words it spans — so that an edit's score is
``log P(right) − log P(wrong)`` and the copy bonus is a threshold on those odds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from .lattice import Slot
from .spunness import SpunnessTable
from .synonyms import zipf

__all__ = ["Calibration", "candidate_features", "fit_logistic", "linear_score"]


def candidate_features(slot: Slot, j: int, spunness: Optional[SpunnessTable] = None
                       ) -> dict[str, float]:
    """The constant features of taking candidate ``j`` of ``slot`` (scorer deltas aside)."""
    c = slot.candidates[j]
    return {
        "intercept": 1.0,
        "log_prior": c.log_prior,
        "log_rank": math.log1p(j),
        "spunness": spunness.log_odds(slot.text) if spunness is not None else 0.0,
        "zipf_gain": zipf(c.text.lower()) - zipf(slot.text.lower()),
        "span_words": float(slot.text.count(" ")),
        "cand_words": float(c.text.count(" ")),
        f"source={c.source}": 1.0,
    }


def linear_score(weights: dict[str, float], features: dict[str, float]) -> float:
    """``Σ weights[k] · features[k]`` (features without a weight count 0): the log-odds."""
    return sum(weights.get(k, 0.0) * v for k, v in features.items())


@dataclass
class Calibration:
    """Weights of the constant features (scorer weights live in the scorer specs)."""

    weights: dict[str, float] = field(default_factory=dict)

    def bias(self, spunness: Optional[SpunnessTable] = None) -> Callable[[Slot, int], float]:
        """``bias(slot, j)`` for :func:`despin.search.search`."""
        w = self.weights

        def bias(slot: Slot, j: int) -> float:
            return linear_score(w, candidate_features(slot, j, spunness))
        return bias

    def to_dict(self) -> dict:
        return {"weights": dict(sorted(self.weights.items()))}

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        return cls({k: float(v) for k, v in data["weights"].items()})


def fit_logistic(rows: Sequence[dict[str, float]], labels: Sequence[int], l2: float = 1e-3,
                 max_iter: int = 200) -> dict[str, float]:
    """L2-regularised logistic regression on feature dicts (missing features are 0).

    Features are standardised for the fit and the weights mapped back, so the result applies to
    raw features; the intercept is not penalised. Deterministic (full-batch L-BFGS).
    """
    import torch

    if len(rows) != len(labels) or not rows:
        raise ValueError(f"need as many labels as rows, got {len(rows)} and {len(labels)}")
    if len(set(labels)) < 2:
        raise ValueError("labels are all one class: nothing to fit")
    names = sorted({k for r in rows for k in r} - {"intercept"})
    x = torch.tensor([[r.get(k, 0.0) for k in names] for r in rows], dtype=torch.float64)
    y = torch.tensor(list(labels), dtype=torch.float64)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mean) / std
    w = torch.zeros(len(names), dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, y) \
            + l2 * (w ** 2).sum()
        loss.backward()
        return loss
    opt.step(closure)
    raw = (w / std).detach()
    out = {k: float(v) for k, v in zip(names, raw)}
    out["intercept"] = float(b.detach() - (raw * mean).sum())
    return out
