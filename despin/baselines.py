"""Baseline restorers, scored next to every model: ``identity`` and ``InverseThesaurus``.

Both are restorers in the evaluation's sense: callables ``list[str] -> list[str]``.
"""
from __future__ import annotations

from typing import Any, Iterable

from .candidates import Candidate, CandidateIndex
from .edits import Edit, apply_edits
from .lattice import build_slots
from .synonyms import zipf

__all__ = ["identity", "InverseThesaurus"]

# A small, table-free index spec (tests and quick experiments).
MOBY_ONLY: list[dict[str, Any]] = [{"name": "moby", "kind": "moby", "weight": 1.0}]


def identity(texts: list[str]) -> list[str]:
    """Change nothing (the floor every restorer must beat on precision of clean text)."""
    return list(texts)


class InverseThesaurus:
    """Replace spans that look spun by their most likely pre-image; no model.

    For every unprotected run of 1–``max_words`` words (:func:`despin.text.protected_mask`:
    quoted text, numbers and proper names are never touched) the index gives candidates. A span
    *looks spun* when its best candidate ``c`` (highest prior) satisfies::

        c.prior >= min_prior   and   zipf(c) - zipf(span) >= min_gain

    i.e. the index is fairly sure what the span stands for and that original is clearly more
    common English than the span (spinners trade common words for rarer synonyms). Spans are
    scanned left to right, longest first; a replaced span is skipped over. Text outside the
    replaced spans is copied byte for byte.

    Defaults were tuned for edit F0.5 on 600 SOTU sentences (1950–89) spun with
    ``configs/spinner.yaml`` and the default index: min_prior 0.7, min_gain 0. On the test split
    of the default pairs they give F0.5 0.31 (P 0.40, R 0.16). With a Moby-only index and
    Moby-only spinning, min_prior 0.4 is best (F0.5 ≈ 0.08).
    A deliberately model-free floor that any real restorer must beat.
    """

    def __init__(self, index: CandidateIndex | None = None, min_prior: float = 0.7,
                 min_gain: float = 0.0, max_words: int = 3):
        self.index = index if index is not None else CandidateIndex.from_config()
        self.min_prior = min_prior
        self.min_gain = min_gain
        self.max_words = max(1, min(max_words, self.index.max_span_words))

    def looks_spun(self, span: str, cand: Candidate | None) -> bool:
        """The documented rule: prior and frequency gain both above their thresholds."""
        return (cand is not None and cand.prior >= self.min_prior
                and zipf(cand.text.lower()) - zipf(span.lower()) >= self.min_gain)

    def restore(self, text: str) -> str:
        """Restore one text."""
        edits, pos = [], 0
        # build_slots lists spans left to right, longest first at each start
        for slot in build_slots(text, self.index, top_k=1, max_words=self.max_words):
            if slot.start >= pos and self.looks_spun(slot.text, slot.candidates[0]):
                c = slot.candidates[0]
                edits.append(Edit(slot.start, slot.end, slot.text, c.text, 0.0, c.prior, c.source))
                pos = slot.end
        return apply_edits(text, edits)

    def __call__(self, texts: Iterable[str]) -> list[str]:
        return [self.restore(t) for t in texts]
