"""A spun-word detector: the log-odds that a word is a spinner's output, read off a language
model's hidden states in context.

The spun-ness table (:mod:`despin.spunness`) knows which word *types* spinners produce; it cannot
tell "second" in "a uncommon second" (spun) from "second" in "the second round" (not). A causal
language model's hidden states can: a logistic probe on the states around a word — the token
before it, its last token and the two after it, so that some right context is seen — is fitted
on synthetic pairs (:mod:`training.detector`). The language model stays frozen, so fitting takes
one forward pass per training sentence, and restoring costs nothing extra: the lattice's
prefilter already runs that forward pass (:meth:`despin.despinner.Despinner.lattice`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .calibration import logistic_lbfgs
from .text import Token

__all__ = ["SpunDetector", "word_token_ends", "word_features"]

OFFSETS = (-1, 0, 1, 2)
"""Token positions read for a word, relative to its last token (−1: the token before its first
token instead)."""


def word_token_ends(offsets: Sequence[tuple[int, int]], words: Sequence[Token]
                    ) -> list[tuple[int, int] | None]:
    """Per word, ``(first, last)`` index of the tokens (by their character ``offsets``) that
    overlap it, or None when no token does."""
    out: list[tuple[int, int] | None] = []
    k = 0
    for w in words:
        while k < len(offsets) and offsets[k][1] <= w.start:
            k += 1
        j = k
        while j < len(offsets) and offsets[j][0] < w.end:
            j += 1
        out.append((k, j - 1) if j > k else None)
    return out


def word_features(hidden, span: tuple[int, int], head: int = 1) -> np.ndarray:
    """The probe's input for one word: hidden states (``[positions, width]``, the first
    ``head`` positions before the text's tokens, e.g. BOS) at :data:`OFFSETS`, concatenated;
    positions past the end repeat the last."""
    first, last = span[0] + head, span[1] + head
    n = hidden.shape[0]
    idx = [first - 1] + [min(last + d, n - 1) for d in OFFSETS[1:]]
    return np.concatenate([np.asarray(hidden[i], dtype=np.float32) for i in idx])


@dataclass
class SpunDetector:
    """A logistic probe on layer ``layer`` of ``model``'s hidden states (see the module
    docstring); ``mean``/``std`` standardise the features, ``weight``/``bias`` score them."""

    FILE = "detector.npz"

    model: str
    layer: int
    weight: np.ndarray
    bias: float
    mean: np.ndarray
    std: np.ndarray

    def log_odds(self, features: np.ndarray) -> np.ndarray:
        """Log-odds that each word is spun, from :func:`word_features` rows."""
        z = (np.atleast_2d(features) - self.mean) / self.std
        return z @ self.weight + self.bias

    def key(self) -> str:
        """A short fingerprint of the fitted probe (for caches of what it was used for)."""
        import hashlib

        h = hashlib.sha1(f"{self.model}:{self.layer}:{self.bias!r}".encode())
        for a in (self.weight, self.mean, self.std):
            h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
        return h.hexdigest()[:16]

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / self.FILE
        np.savez(path, model=self.model, layer=self.layer, weight=self.weight,
                 bias=self.bias, mean=self.mean, std=self.std)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SpunDetector":
        with np.load(path) as z:
            return cls(str(z["model"]), int(z["layer"]), z["weight"], float(z["bias"]),
                       z["mean"], z["std"])

    @classmethod
    def fit(cls, model: str, layer: int, features: np.ndarray, labels: Sequence[int],
            l2: float = 0.1, max_iter: int = 200) -> "SpunDetector":
        """L2-regularised logistic regression (penalty ``l2`` × mean squared weight) on
        standardised features; deterministic (full-batch L-BFGS)."""
        import torch

        if len(features) != len(labels) or not len(labels):
            raise ValueError(f"need as many labels as rows, got {len(features)} and {len(labels)}")
        if len(set(labels)) < 2:
            raise ValueError("labels are all one class: nothing to fit")
        x = torch.tensor(np.asarray(features), dtype=torch.float32)
        y = torch.tensor(list(labels), dtype=torch.float32)
        mean, std = x.mean(0), x.std(0).clamp_min(1e-5)
        w, b = logistic_lbfgs((x - mean) / std, y, l2 / x.shape[1], max_iter)
        return cls(model, layer, w.numpy(), float(b), mean.numpy(), std.numpy())
