"""Baseline restorers, scored next to every model: ``identity`` and ``InverseThesaurus``.

Both are restorers in the evaluation's sense: callables ``list[str] -> list[str]``.
"""
from __future__ import annotations

from typing import Any, Iterable

from .candidates import Candidate, CandidateIndex
from .resources import resolve
from .synonyms import DEFAULT_SOURCES, zipf
from .text import is_word, protected_mask, tokenize

__all__ = ["identity", "InverseThesaurus", "default_index"]

MOBY_ONLY: list[dict[str, Any]] = [{"name": "moby", "kind": "moby", "weight": 1.0}]


def identity(texts: list[str]) -> list[str]:
    """Change nothing (the floor every restorer must beat on precision of clean text)."""
    return list(texts)


def default_index() -> CandidateIndex:
    """The index of :data:`DEFAULT_SOURCES`, or Moby alone while a TSV table is missing."""
    specs = [s for s in DEFAULT_SOURCES if s.get("kind") != "tsv" or resolve(s["path"]).exists()]
    return CandidateIndex.from_config(specs or MOBY_ONLY)


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
    ``configs/spinner.yaml`` and the default index: min_prior 0.7, min_gain 0 (F0.5 ≈ 0.25,
    P ≈ 0.36). With a Moby-only index and Moby-only spinning, min_prior 0.4 is best (F0.5 ≈ 0.08).
    A deliberately model-free floor that any real restorer must beat.
    """

    def __init__(self, index: CandidateIndex | None = None, min_prior: float = 0.7,
                 min_gain: float = 0.0, max_words: int = 3):
        self.index = index if index is not None else default_index()
        self.min_prior = min_prior
        self.min_gain = min_gain
        self.max_words = max(1, min(max_words, self.index.max_span_words))
        self._cache: dict[str, Candidate | None] = {}

    def best(self, span: str) -> Candidate | None:
        """The highest-prior candidate for ``span`` (memoised), or None."""
        if span not in self._cache:
            cands = self.index.lookup(span, top_k=1)
            self._cache[span] = cands[0] if cands else None
        return self._cache[span]

    def looks_spun(self, span: str, cand: Candidate | None) -> bool:
        """The documented rule: prior and frequency gain both above their thresholds."""
        return (cand is not None and cand.prior >= self.min_prior
                and zipf(cand.text.lower()) - zipf(span.lower()) >= self.min_gain)

    def restore(self, text: str) -> str:
        """Restore one text."""
        tokens = tokenize(text)
        mask = protected_mask(text, tokens)
        ok = [not m and is_word(t.text) for t, m in zip(tokens, mask)]
        out, pos, i = [], 0, 0
        while i < len(tokens):
            done = 0
            for n in range(min(self.max_words, len(tokens) - i), 0, -1):
                if not all(ok[i:i + n]) or any(
                        text[tokens[k].end:tokens[k + 1].start] != " " for k in range(i, i + n - 1)):
                    continue
                a, b = tokens[i].start, tokens[i + n - 1].end
                span = text[a:b]
                cand = self.best(span)
                if self.looks_spun(span, cand):
                    out.append(text[pos:a])
                    out.append(cand.text)
                    pos, done = b, n
                    break
            i += done or 1
        out.append(text[pos:])
        return "".join(out)

    def __call__(self, texts: Iterable[str]) -> list[str]:
        return [self.restore(t) for t in texts]
