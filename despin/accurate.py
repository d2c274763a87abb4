"""The ``accurate`` profile: the fast restorer first, then the language-model search
(:mod:`despin.search`, Gemma-3-270m in the shipped setting) asked only about the slots where
the fast decoder is unsure.

For each sentence:

1. the fast restorer (:mod:`despin.fast`) decodes it; every edit it took has a *margin* (how
   much its objective prefers the output to the same output with the edit undone, nats), and
   every shortlisted candidate it did not take has one too (how much worse the output gets with
   that candidate swapped in, negative);
2. a slot is *sure* when its edit's margin is at least ``margin`` and its best runner-up is
   at least the fast settings' ``choice_margin`` behind it (:func:`despin.fast.choice_gap`),
   or, untaken, when none of its candidates comes within ``margin`` of the best output. Sure
   edits are kept as they are (with ``margin`` 0 nothing is unsure: an edit within the choice
   margin is left undone, as the fast core leaves it);
3. the search Despinner restores the sentence (with the sure edits applied) over the unsure
   slots only, each offered the best ``candidates`` of its fast shortlist (the fast path's own
   choice first; all of it with ``candidates`` None) — so its expensive language model scores
   a few candidates of a few slots, not the whole lattice. The search's time grows with the
   candidates it is offered: a fast core fitted with a shortlist of 8 was offered 1,976
   candidates on 100 test pairs (487 s of search), 1,079 with a bound of 4 (349 s).

The edits of both steps are returned in the input's offsets. An edit from step 3 carries the
search's score (a calibrated log-odds, ``scorer="search"``), one from step 1 the fast margin
(nats, ``scorer="fast"``). A sentence
that the fast core's spin gate calls clean (:meth:`despin.fast.FastRestorer.kept`) keeps the
fast edits that the gate and the choice margin let through and is not searched.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Hashable, Sequence

from .decoder import Arc
from .edits import Edit, Restoration
from .fast import choice_gap, kept_edits
from .lattice import Slot
from .search import search
from .text import tokenize

__all__ = ["AccurateRestorer", "check_candidates"]


def check_candidates(candidates: int | None) -> int | None:
    """``candidates`` (the most candidates of an unsure slot offered to the search; None: all)
    as given. Raises TypeError for one that is not an int or None, ValueError for one below
    1."""
    if candidates is not None and (isinstance(candidates, bool)
                                   or not isinstance(candidates, int)):
        raise TypeError(f"candidates must be an int or None, not "
                        f"{type(candidates).__name__} {candidates!r}")
    if candidates is not None and candidates < 1:
        raise ValueError(f"candidates must be at least 1 (or None: all), got {candidates}")
    return candidates


class AccurateRestorer:
    """``fast`` (:class:`despin.fast.FastRestorer`) settles what it is sure of; ``searcher``
    (a search-core :class:`despin.despinner.Despinner`) decides the unsure slots. ``margin``:
    nats of the fast objective below which a decision counts as unsure; ``candidates``: the
    most candidates of an unsure slot offered to the search, the fast shortlist's best first
    (None: all of the shortlist).

    Raises TypeError for a ``candidates`` that is not an int (or None), ValueError for one
    below 1."""

    def __init__(self, fast: Any, searcher: Any, margin: float = 2.0,
                 candidates: int | None = None):
        self.fast, self.searcher, self.margin = fast, searcher, margin
        self.candidates = check_candidates(candidates)

    def restore_sentences(self, sentences: Sequence[str],
                          groups: Sequence[Hashable] | None = None) -> list[list[Edit]]:
        """Edits (sentence offsets) for each sentence. With the fast core's spin gate, a
        sentence whose group (``groups`` ids, as :meth:`despin.fast.FastRestorer.kept`)
        the gate calls clean keeps the fast edits the gate lets through, unsearched."""
        fast = self.fast
        lattices = fast.lattices(sentences)
        g = fast.settings
        if g.gate_cut is None:
            return [self._one(x) for x in lattices]
        found = fast.restore_sentences(sentences, lattices, gate=False)
        z = fast.spin_log_odds(lattices, found, groups)
        return [kept_edits(es, zz, g.gate_cut, g.gate_margin, g.choice_margin)
                if zz < g.gate_cut else self._one(x)
                for x, es, zz in zip(lattices, found, z)]

    def _one(self, x) -> list[Edit]:
        fast = self.fast
        shortlist = fast.shortlist(x)
        if not shortlist:
            return []
        best = fast.best_path(x, shortlist)
        taken = {a.slot: a for a in best.edits}
        sure: list[Edit] = []
        unsure: list[int] = []
        for k, options in shortlist.items():
            if k in taken:
                margin = fast.margin(x, best, drop=taken[k])
                edit = fast.edit(x, taken[k], margin,
                                 fast.alternatives(x, best, taken[k], margin, shortlist))
                if margin >= self.margin and choice_gap(edit) >= fast.settings.choice_margin:
                    sure.append(edit)
                elif self.margin > 0:  # at 0 nothing is searched: left undone, as the fast
                    unsure.append(k)   # core leaves it
            elif not any(a.start < e.end and e.start < a.end for e in best.edits
                         for a in options):  # one overlapping a taken edit: that edit decides
                if min(fast.margin(x, best, add=a) for a in options) < self.margin:
                    unsure.append(k)
        if not unsure:
            return sorted(sure, key=lambda e: e.start)
        if self.candidates is not None:  # the fast path's own choice first, then the best by
            shortlist = {k: ([taken[k]] if k in taken else [])  # unary score
                         + [a for a in shortlist[k] if a != taken.get(k)] for k in unsure}
        edits = sure + self._search(x.sentence, x.slots, sure, unsure, shortlist)
        return sorted(edits, key=lambda e: e.start)

    def _search(self, sentence: str, slots: list[Slot], sure: list[Edit], unsure: list[int],
                shortlist: dict[int, list[Arc]]) -> list[Edit]:
        """The searcher's edits over the unsure slots of ``sentence`` with ``sure`` applied,
        mapped back to ``sentence``'s offsets."""
        applied = Restoration(sentence, sure)
        text = applied.text
        tokens = tokenize(text)
        starts = {t.start: i for i, t in enumerate(tokens)}
        ends = {t.end: i + 1 for i, t in enumerate(tokens)}
        local: list[Slot] = []
        back: dict[tuple[int, int], int] = {}
        for k in unsure:
            slot = slots[k]
            a, b = applied.output_offset(slot.start), applied.output_offset(slot.end)
            if a not in starts or b not in ends or text[a:b] != slot.text:
                continue
            # the searcher replaces words by words: it is offered no deletion (""), so an unsure
            # deletion is left undone
            cands = [slot.candidates[arc.cand] for arc in shortlist[k]
                     if slot.candidates[arc.cand].text][:self.candidates]
            if not cands:
                continue
            local.append(replace(slot, start=a, end=b, tok_start=starts[a], tok_end=ends[b],
                                 candidates=cands, cold=False))
            back[(a, b)] = k
        if not local:
            return []
        d = self.searcher
        terms = d.terms(text, local)
        found = search(local, terms, d.settings, score=d.edit_score(terms))
        out = []
        for e in found:
            k = back[(e.start, e.end)]
            out.append(replace(e, start=slots[k].start, end=slots[k].end))
        return out


