"""Constrained restoration of one sentence: a greedy search over its candidate lattice.

The output is the input with some slots (see :mod:`despin.lattice`) replaced by one of their
candidates — nothing else can come out, so nothing is invented. The search starts from the
input and repeatedly takes the single edit with the largest *gain*::

    gain = Σ_terms [weight · Δ + gap_weight · (Δ − max Δ in the slot)]
           +  bias(slot, candidate)  −  copy_bonus

until no edit gains anything. ``Δ`` is how much the term's scorer prefers the sentence with the
edit; the *gap* says how far the candidate falls behind the scorer's favourite among the slot's
other candidates (0 for the favourite) — a language model prefers frequent words everywhere, so
"is this the best fit here" carries evidence that the raw Δ does not. The *bias* holds what
does not depend on the rest of the sentence: by default ``prior_weight · log prior``; a
Despinner adds the spun-ness log-odds, or a fitted :class:`despin.calibration.Calibration`
replaces the whole sum.

A *term* is one scorer's view of how much an edit improves the
sentence (a fine-tuned restoration model reading the whole sentence, a language model reading a
window around the edit). Terms with a finite ``radius`` are only re-scored for slots within
that many tokens of an edit just taken — their other gains cannot have changed — which keeps
the search to a few batched model calls per sentence.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Hashable, Iterable, Optional

from .edits import Edit
from .lattice import Slot

__all__ = ["Term", "SearchSettings", "search", "prior_bias", "candidate_edit", "slot_options",
           "slot_best"]


@dataclass
class Term:
    """One scorer's contribution: ``delta(current_edits, proposals) -> Δ log-scores``, its
    weights in the gain (see the module docstring) and its reach.

    ``radius=None``: every gain may change after any edit (a whole-sentence scorer).
    """

    delta: Callable[[list[Edit], list[Edit]], list[float]]
    radius: Optional[int] = None
    weight: float = 1.0
    gap_weight: float = 0.0


@dataclass
class SearchSettings:
    """Knobs of the lattice search (saved with a Despinner)."""

    top_k: int = 25           # candidates per slot looked up (and tried, unless prefiltered)
    n_show: int = 3           # candidates per slot shown to the model in its input
    copy_bonus: float = 5.0   # what an edit must gain over leaving the text alone
    prior_weight: float = 1.0  # of log prior: in the gain (uncalibrated) and the prefilter
    max_edits: int = 16       # per sentence
    window: int = 5           # tokens of context each side for windowed (LM) scorers
    spun_weight: float = 1.0  # of the spun-ness log-odds (uncalibrated models with the table)
    prefilter: int = 4        # candidates per slot kept by a one-pass LM check (0: off)
    prefilter_margin: float = 4.0
    prefilter_context: int = 0  # slots with fewer tokens before them skip the LM check ...
    prefilter_cold: int = 32    # ... and keep this many candidates by prior instead

    def to_dict(self) -> dict:
        return asdict(self)


def candidate_edit(slot: Slot, cand_idx: int) -> Edit:
    """The edit that takes candidate ``cand_idx`` of ``slot`` (score 0: not yet scored)."""
    c = slot.candidates[cand_idx]
    return Edit(slot.start, slot.end, slot.text, c.text, 0.0, c.prior, c.source)


def slot_options(slots: list[Slot], top_k: int) -> list[tuple[int, int]]:
    """``(slot index, candidate index)`` of every edit the search may take: each slot's first
    ``top_k`` candidates."""
    return [(i, j) for i, s in enumerate(slots) for j in range(min(top_k, len(s.candidates)))]


def slot_best(slot_ids: Iterable[Hashable], values: Iterable[float]) -> dict[Hashable, float]:
    """The largest value per slot, from parallel sequences (the reference point of the gap)."""
    best: dict[Hashable, float] = {}
    for k, v in zip(slot_ids, values):
        if v > best.get(k, -math.inf):
            best[k] = v
    return best


def prior_bias(settings: SearchSettings) -> Callable[[Slot, int], float]:
    """The default bias: ``prior_weight · log prior`` of the candidate."""
    w = settings.prior_weight
    return lambda slot, j: w * slot.candidates[j].log_prior


def search(slots: list[Slot], terms: list[Term], settings: SearchSettings,
           bias: Optional[Callable[[Slot, int], float]] = None) -> list[Edit]:
    """Greedy best-first search over ``slots``; returns the accepted edits (sentence offsets)
    in the order they were taken, each with ``score`` = its gain (copy bonus included) then.

    Raising ``copy_bonus`` by ``b`` stops the search at the first edit whose score is ≤ ``b``:
    the edits for a higher bonus are a prefix of these (:mod:`training.tune` relies on it).
    ``bias(slot, j)`` is the constant part of the gain of taking candidate ``j`` of ``slot``
    (default: :func:`prior_bias`).
    """
    bias = bias or prior_bias(settings)
    options = slot_options(slots, settings.top_k)
    biases = {o: bias(slots[o[0]], o[1]) for o in options}
    caches: list[dict[tuple[int, int], float]] = [{} for _ in terms]
    chosen: list[tuple[int, Edit]] = []
    used: set[int] = set()
    for _ in range(settings.max_edits):
        live = [o for o in options
                if not used.intersection(range(slots[o[0]].tok_start, slots[o[0]].tok_end))]
        if not live:
            break
        current = [e for _, e in chosen]
        for term, cache in zip(terms, caches):
            todo = [o for o in live if o not in cache]
            if todo:
                proposals = [candidate_edit(slots[o[0]], o[1]) for o in todo]
                for o, g in zip(todo, term.delta(current, proposals)):
                    cache[o] = g
        tops = [slot_best((i for i, _ in live), (cache[o] for o in live)) if term.gap_weight
                else {} for term, cache in zip(terms, caches)]  # per slot: the best live Δ
        best, best_gain = None, 0.0
        for i, j in live:
            gain = biases[(i, j)] - settings.copy_bonus
            for term, cache, top in zip(terms, caches, tops):
                d = cache[(i, j)]
                gain += term.weight * d + (term.gap_weight * (d - top[i]) if term.gap_weight
                                           else 0.0)
            if gain > best_gain:
                best, best_gain = (i, j), gain
        if best is None:
            break
        i, j = best
        e = candidate_edit(slots[i], j)
        chosen.append((i, Edit(e.start, e.end, e.spun, e.restored, best_gain, e.prior, e.source)))
        a, b = slots[i].tok_start, slots[i].tok_end
        used.update(range(a, b))
        for term, cache in zip(terms, caches):
            if term.radius is None:
                cache.clear()
            else:  # only gains whose window holds the new edit are stale
                r = term.radius
                for (k, m) in list(cache):
                    if slots[k].tok_start - r < b and a < slots[k].tok_end + r:
                        del cache[(k, m)]
    return [e for _, e in chosen]
