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
replaces the whole sum. This linear gain is one :class:`EditScore` (:class:`LinearScore`); a
fitted network (:class:`despin.calibration.EditNetwork`) is another, which reads the same
deltas, gaps and candidate facts but combines them nonlinearly.

A *term* is one scorer's view of how much an edit improves the
sentence (a fine-tuned restoration model reading the whole sentence, a language model reading a
window around the edit). Terms with a finite ``radius`` are only re-scored for slots within
that many tokens of an edit just taken — their other gains cannot have changed — which keeps
the search to a few batched model calls per sentence.

*Pair moves* (``pair_top > 0``): two swaps side by side ("a uncommon second" for "a rare moment")
often pass only together — each alone reads worse than the spun pair. So the search also tries
the ``pair_top`` best candidates of each slot jointly with those of a neighbouring slot (at most
``pair_reach`` tokens apart). A pair is scored as the gain each of its edits would have once the
other is taken — ``Δ(a | b) = Δ(a and b) − Δ(b)`` — and its score is the smaller of the two, so
that each edit is justified given the other; it competes with the single edits and both of its
edits are taken at once, with that score.

*Joint decoding* (``joint_top > 0``, for bare phrases): a tortured phrase ("profound learning")
has every word spun and no sentence around it, so no single edit is justified by its
neighbours. :func:`joint_search` scores every combination of the ``joint_top`` best candidates
of each slot (copy included) as a whole — the language model's log-probability of the phrase
plus ``joint_prior`` · the candidates' log priors — and takes the best one when it beats the
input by ``joint_bonus`` nats per edit. It applies to texts of at most ``joint_slots`` slots
(longer ones take the greedy search).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Hashable, Iterable, Optional, Protocol, Sequence, Union

from .edits import Edit, apply_edits
from .lattice import Slot

__all__ = ["Term", "SearchSettings", "search", "prior_bias", "candidate_edit", "slot_options",
           "slot_best", "Move", "move_edits", "EditScore", "LinearScore", "joint_search"]

Move = Union[Edit, tuple[Edit, ...]]
"""What a term scores: one edit, or several taken together (a pair move)."""


def move_edits(move: Move) -> list[Edit]:
    """The edits of a move, as a list."""
    return list(move) if isinstance(move, tuple) else [move]


@dataclass
class Term:
    """One scorer's contribution: ``delta(current_edits, proposals) -> Δ log-scores`` (a
    proposal is a :data:`Move`: one edit or a tuple of edits taken together), its weights in the
    linear gain (see the module docstring; a network :class:`EditScore` has its own) and its
    reach.

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
    pair_top: int = 0         # candidates per slot tried jointly with a neighbour's (0: no pairs)
    pair_reach: int = 1       # most tokens between the two slots of a pair
    pair_floor: Optional[float] = None  # only candidates whose own score (copy bonus aside) is above
    joint_top: int = 0        # candidates per slot combined by joint decoding (0: off) ...
    joint_slots: int = 3      # ... of texts with at most this many slots
    joint_prior: float = 1.0  # of the log priors in a joint combination's score
    joint_bonus: float = 3.0  # what each edit of a joint combination must gain (nats)

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


class EditScore(Protocol):
    """How the search scores taking candidate ``j`` of a slot, copy bonus aside.

    ``prepare(slot, j)`` computes once what does not depend on the sentence's other edits;
    ``score(prepared, deltas, gaps)`` adds each term's Δ and its gap behind the slot's best Δ.
    """

    def prepare(self, slot: Slot, j: int) -> Any: ...

    def __call__(self, prepared: Any, deltas: Sequence[float], gaps: Sequence[float]
                 ) -> float: ...


class LinearScore:
    """The module docstring's gain: ``bias(slot, j) + Σ_t weight_t · Δ_t + gap_weight_t · gap_t``."""

    def __init__(self, terms: Sequence[Term], bias: Callable[[Slot, int], float]):
        self.weights = [(t.weight, t.gap_weight) for t in terms]
        self.bias = bias

    def prepare(self, slot: Slot, j: int) -> float:
        return self.bias(slot, j)

    def __call__(self, prepared: float, deltas: Sequence[float], gaps: Sequence[float]
                 ) -> float:
        return prepared + sum(w * d + gw * g
                              for (w, gw), d, g in zip(self.weights, deltas, gaps))


def prior_bias(settings: SearchSettings) -> Callable[[Slot, int], float]:
    """The default bias: ``prior_weight · log prior`` of the candidate."""
    w = settings.prior_weight
    return lambda slot, j: w * slot.candidates[j].log_prior


def search(slots: list[Slot], terms: list[Term], settings: SearchSettings,
           bias: Optional[Callable[[Slot, int], float]] = None,
           score: Optional[EditScore] = None) -> list[Edit]:
    """Greedy best-first search over ``slots``; returns the accepted edits (sentence offsets)
    in the order they were taken, each with ``score`` = its gain (copy bonus included) then —
    both edits of a pair move get the pair's score.

    Raising ``copy_bonus`` by ``b`` stops the search at the first edit whose score is ≤ ``b``:
    the edits for a higher bonus are a prefix of these (:mod:`training.tune` relies on it).
    ``score`` turns each term's Δ and gap into the gain (default: :class:`LinearScore` with the
    terms' weights and ``bias``); ``bias(slot, j)`` is the linear gain's constant part of taking
    candidate ``j`` of ``slot`` (default: :func:`prior_bias`).
    """
    score = score or LinearScore(terms, bias or prior_bias(settings))
    options = slot_options(slots, settings.top_k)
    prepared = {o: score.prepare(slots[o[0]], o[1]) for o in options}
    caches: list[dict] = [{} for _ in terms]  # per term: option or pair of options → Δ
    chosen: list[tuple[int, Edit]] = []
    used: set[int] = set()
    while len(chosen) < settings.max_edits:
        live = [o for o in options
                if not used.intersection(range(slots[o[0]].tok_start, slots[o[0]].tok_end))]
        if not live:
            break
        current = [e for _, e in chosen]
        _fill(terms, caches, current, live, lambda o: candidate_edit(slots[o[0]], o[1]))
        tops = [slot_best((i for i, _ in live), (cache[o] for o in live))
                for cache in caches]  # per term and slot: the best live Δ
        gains = {o: _gain(score, prepared[o], [c[o] for c in caches],
                          lambda t: tops[t][o[0]]) - settings.copy_bonus
                 for o in live}
        best = max(live, key=lambda o: gains[o])
        move, value = ((best,), gains[best])
        if settings.pair_top and len(chosen) + 2 <= settings.max_edits:
            pair, pair_value = _best_pair(slots, live, gains, terms, caches, current, score,
                                          prepared, settings)
            if pair is not None and pair_value > value:
                move, value = pair, pair_value
        if value <= 0.0:
            break
        for i, j in move:
            e = candidate_edit(slots[i], j)
            chosen.append((i, Edit(e.start, e.end, e.spun, e.restored, value, e.prior, e.source,
                                    scorer="search")))
            a, b = slots[i].tok_start, slots[i].tok_end
            used.update(range(a, b))
            for term, cache in zip(terms, caches):
                if term.radius is None:
                    cache.clear()
                else:  # only gains whose window holds the new edit are stale
                    r = term.radius
                    for key in list(cache):
                        if any(slots[k].tok_start - r < b and a < slots[k].tok_end + r
                               for k, _ in (key if isinstance(key[0], tuple) else (key,))):
                            del cache[key]
    return [e for _, e in chosen]


def _gain(score: EditScore, prepared: Any, deltas: list[float],
          best: Callable[[int], float]) -> float:
    """``score`` of an option given each term's Δ, its gap being ``Δ_t − best(t)`` (term t's
    best Δ in the slot); copy bonus aside."""
    return score(prepared, deltas, [d - best(t) for t, d in enumerate(deltas)])


def _fill(terms: list[Term], caches: list[dict], current: list[Edit], keys: list,
          move: Callable[[Hashable], Move]) -> None:
    """Score, for every term, the ``keys`` its cache lacks (one batched call per term)."""
    for term, cache in zip(terms, caches):
        todo = [k for k in keys if k not in cache]
        if todo:
            for k, d in zip(todo, term.delta(current, [move(k) for k in todo])):
                cache[k] = d


def _best_pair(slots: list[Slot], live: list[tuple[int, int]], gains: dict, terms: list[Term],
               caches: list[dict], current: list[Edit], score: EditScore, prepared: dict,
               settings: SearchSettings) -> tuple[Optional[tuple], float]:
    """The best pair move among neighbouring live slots and its score (see the module
    docstring): ``(None, -inf)`` when there is none."""
    floor = -math.inf if settings.pair_floor is None else settings.pair_floor
    ranked: dict[int, list[tuple[float, int]]] = {}
    for (i, j) in live:  # which candidates to pair: by own score, copy bonus aside
        if gains[(i, j)] + settings.copy_bonus > floor:
            ranked.setdefault(i, []).append((-gains[(i, j)], j))
    tried = {i: [j for _, j in sorted(v)[:settings.pair_top]] for i, v in ranked.items()}
    pairs = [((i, a), (k, b)) for i in tried for k in tried
             if 0 <= slots[k].tok_start - slots[i].tok_end <= settings.pair_reach
             for a in tried[i] for b in tried[k]]
    if not pairs:
        return None, -math.inf
    _fill(terms, caches, current, pairs,
          lambda p: tuple(candidate_edit(slots[i], j) for i, j in p))
    # Per term and slot, the best Δ of the candidates not tried in pairs (their Δ given the
    # neighbour's edit is taken as unchanged) — the reference of the gap given that edit.
    rest = [o for o in live if o[1] not in tried.get(o[0], ())]
    untried = [slot_best((i for i, _ in rest), (cache[o] for o in rest)) for cache in caches]

    def given(o, other, t):  # Δ of option o once `other` is taken, by term t
        p = (o, other) if o[0] < other[0] else (other, o)
        return caches[t][p] - caches[t][other]

    def gain(o, other) -> float:
        return _gain(score, prepared[o], [given(o, other, t) for t in range(len(terms))],
                     lambda t: max([given((o[0], a), other, t) for a in tried[o[0]]]
                                   + [untried[t].get(o[0], -math.inf)])) - settings.copy_bonus

    best, best_value = None, -math.inf
    for p in pairs:
        value = min(gain(p[0], p[1]), gain(p[1], p[0]))
        if value > best_value:
            best, best_value = p, value
    return best, best_value


def joint_search(text: str, slots: list[Slot], score_texts: Callable[[list[str]], Sequence[float]],
                 settings: SearchSettings) -> list[Edit]:
    """The best combination of the ``joint_top`` first candidates of each slot (or none) for
    ``text``, scored as a whole: ``score_texts`` (e.g. a language model's log-probability) of the
    restored text + ``joint_prior`` · Σ log prior − ``joint_bonus`` per edit, against the input's
    own score. Returns its edits, each scored with the combination's margin over the input
    (empty when nothing beats the input)."""
    slots = sorted(slots, key=lambda sl: (sl.start, sl.end))
    options = [[None] + list(range(min(settings.joint_top, len(sl.candidates)))) for sl in slots]
    combos: list[list[tuple[Slot, int]]] = [[]]  # the input first
    for choice in itertools.product(*options):
        taken = [(sl, j) for sl, j in zip(slots, choice) if j is not None]
        if taken and all(a.end <= b.start for (a, _), (b, _) in zip(taken, taken[1:])):
            combos.append(taken)
    edits = [[candidate_edit(sl, j) for sl, j in c] for c in combos]
    scores = score_texts([apply_edits(text, e) for e in edits])
    totals = [v + sum(settings.joint_prior * sl.candidates[j].log_prior - settings.joint_bonus
                      for sl, j in c) for v, c in zip(scores, combos)]
    best = max(range(len(combos)), key=lambda k: (totals[k], -k))  # ties: fewer, likelier first
    margin = totals[best] - totals[0]
    if not best or margin <= 0:
        return []
    return [replace(e, score=margin) for e in edits[best]]
