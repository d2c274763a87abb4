"""Exact lattice decoding: the best restoration of a sentence under an n-gram model and per-edit
scores, by Viterbi search.

The lattice of a sentence of N tokens has nodes ``0..N`` and *arcs*: a copy arc ``i → i+1`` for
every token (score 0), and for every candidate of every slot an arc ``slot.tok_start →
slot.tok_end`` whose score is that edit's *unary* score (encoder, channel, prior, bias: see
:mod:`despin.fast`). A path from 0 to N is a restoration; its score is::

    lm_weight · log P_ngram(words of the path)  +  Σ unary scores of its edit arcs

with ``log P`` in nats from ``<s>`` to ``</s>`` (punctuation is not read by the n-gram model).
Viterbi over states (node, last two words) finds the best path exactly (a trigram model only
looks two words back), in time linear in the sentence for a fixed shortlist. Overlapping slots
("in opposition to" and "opposition") are alternative arcs, so at most one of them is taken.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from .ngram import BOS, EOS

__all__ = ["Arc", "Path", "viterbi", "path_score", "local_gain", "local_gains", "LogProb"]

LogProb = Callable[[str, str, Optional[str]], float]
"""``logprob(word, prev1, prev2)`` in nats (see :meth:`despin.ngram.NGramLM.logprob`)."""


@dataclass(frozen=True)
class Arc:
    """Tokens ``start:end`` of the sentence read as ``words`` (lower case; empty for
    punctuation) at a cost of ``score`` (a unary score in nats; 0 for a copy). ``slot`` and
    ``cand`` name the edit (None for a copy arc)."""

    start: int
    end: int
    words: tuple[str, ...]
    score: float = 0.0
    slot: int | None = None
    cand: int | None = None


@dataclass
class Path:
    """The best path: its ``score`` (nats), its arcs in order and the n-gram part of the
    score (``lm``, unweighted nats)."""

    score: float
    arcs: list[Arc]
    lm: float

    @property
    def edits(self) -> list[Arc]:
        """The edit arcs of the path (those with a slot)."""
        return [a for a in self.arcs if a.slot is not None]


def _advance(logprob: LogProb, words: Sequence[str], h1: str, h2: str | None
             ) -> tuple[float, str, str | None]:
    total = 0.0
    for w in words:
        total += logprob(w, h1, h2)
        h1, h2 = w, h1
    return total, h1, h2


def viterbi(n_tokens: int, arcs: Sequence[Arc], logprob: LogProb, lm_weight: float = 1.0,
            eos: bool = True) -> Path:
    """The best path from node 0 to ``n_tokens`` (see the module docstring).

    ``arcs`` must include a copy arc for every token (``i → i+1``), so that a path always
    exists; raises ValueError otherwise. Ties go to the path found first (copy arcs before
    edits when listed first)."""
    out: dict[int, list[Arc]] = {}
    for a in arcs:
        if not 0 <= a.start < a.end <= n_tokens:
            raise ValueError(f"arc {a} outside 0..{n_tokens}")
        out.setdefault(a.start, []).append(a)
    # states[i]: (h1, h2) -> (total score, lm part, back-pointer (i, state, arc))
    states: list[dict] = [dict() for _ in range(n_tokens + 1)]
    states[0][(BOS, None)] = (0.0, 0.0, None)
    for i in range(n_tokens):
        here = states[i]
        if not here:
            continue
        for arc in out.get(i, ()):
            nxt = states[arc.end]
            for key, (score, lm, _) in here.items():
                gain, h1, h2 = _advance(logprob, arc.words, *key)
                total = score + lm_weight * gain + arc.score
                new = (h1, h2)
                old = nxt.get(new)
                if old is None or total > old[0]:
                    nxt[new] = (total, lm + gain, (i, key, arc))
    final = states[n_tokens]
    if not final:
        raise ValueError("no path through the lattice: every token needs a copy arc")
    best_key, best = None, None
    for key, (score, lm, back) in final.items():
        end = logprob(EOS, *key) if eos else 0.0
        cand = (score + lm_weight * end, lm + end)
        if best is None or cand[0] > best[0]:
            best_key, best = key, cand
    path: list[Arc] = []
    i, key = n_tokens, best_key
    while True:
        back = states[i][key][2]
        if back is None:
            break
        i, key, arc = back
        path.append(arc)
    path.reverse()
    return Path(best[0], path, best[1])


def path_score(arcs: Sequence[Arc], logprob: LogProb, lm_weight: float = 1.0,
               eos: bool = True) -> float:
    """The score of one path given as its arcs in order (what :func:`viterbi` maximises)."""
    h1, h2, lm, unary = BOS, None, 0.0, 0.0
    for a in arcs:
        gain, h1, h2 = _advance(logprob, a.words, h1, h2)
        lm += gain
        unary += a.score
    if eos:
        lm += logprob(EOS, h1, h2)
    return lm_weight * lm + unary


def local_gain(copies: Sequence[Arc], arc: Arc, logprob: LogProb, eos: bool = True) -> float:
    """``path_score(copies with arc in place of its tokens) − path_score(copies)`` at
    ``lm_weight`` 1, computed over the few words a trigram model lets it touch: the arc's
    words and the two words after it, read after the two words before it."""
    return local_gains(copies, [arc], logprob, eos)[0]


def local_gains(copies: Sequence[Arc], arcs: Sequence[Arc], logprob: LogProb, eos: bool = True
                ) -> list[float]:
    """:func:`local_gain` of each of ``arcs``, which all span the same tokens (one slot's
    candidates): the copied words' own score is computed once for them all. Raises
    ValueError when the arcs span different tokens."""
    if not arcs:
        return []
    start, end = arcs[0].start, arcs[0].end
    if any(a.start != start or a.end != end for a in arcs):
        raise ValueError("local_gains: every arc must span the same tokens")
    before: list[str] = []
    for a in reversed(copies[:start]):
        before = list(a.words) + before
        if len(before) >= 2:
            break
    history = [None, BOS] + before  # the sentence starts after <s>, with no word before it
    h1, h2 = history[-1], history[-2]
    after: list[str] = []
    for a in copies[end:]:
        after += a.words
        if len(after) >= 2:
            break
    tail = after[:2] + ([EOS] if eos and len(after) < 2 else [])
    old_words = [w for a in copies[start:end] for w in a.words]
    old, _, _ = _advance(logprob, old_words + tail, h1, h2)
    out = []
    for arc in arcs:
        new, _, _ = _advance(logprob, list(arc.words) + tail, h1, h2)
        out.append(new + arc.score - old)
    return out
