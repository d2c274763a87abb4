"""Constrained restoration of one sentence: a greedy search over its candidate lattice.

The output is the input with some slots (see :mod:`despin.lattice`) replaced by one of their
candidates — nothing else can come out, so nothing is invented. Each hypothesis is scored by a
weighted sum of scorers (the fine-tuned restoration model, a plain language model), plus
``prior_weight · log prior`` of each chosen candidate, minus ``copy_bonus`` per change: an edit
is only taken when the evidence for it beats leaving the text alone.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence

from .edits import Edit, apply_edits
from .lattice import Slot

__all__ = ["Scorer", "SearchSettings", "search"]

# A scorer maps (sources, hypotheses) to log-scores; a source is the model input for the
# sentence, or None for a scorer that reads the hypothesis alone (a plain language model).
Scorer = Callable[[Sequence[Optional[str]], Sequence[str]], list[float]]


@dataclass
class SearchSettings:
    """Knobs of the lattice search (saved with a Despinner)."""

    top_k: int = 6            # candidates per slot tried by the search
    n_show: int = 3           # candidates per slot shown to the model in its input
    copy_bonus: float = 5.0   # nats an edit must gain over leaving the text alone
    prior_weight: float = 1.0
    max_rounds: int = 4
    min_gap: int = 2          # tokens between two edits accepted in the same round

    def to_dict(self) -> dict:
        return asdict(self)


def _edit(slot: Slot, cand_idx: int, gain: float) -> Edit:
    c = slot.candidates[cand_idx]
    return Edit(slot.start, slot.end, slot.text, c.text, gain, c.prior, c.source)


def search(sentence: str, slots: list[Slot], score: Callable[[list[str]], list[float]],
           settings: SearchSettings) -> list[Edit]:
    """Greedy coordinate ascent over ``slots``; returns the accepted edits (sentence offsets).

    ``score`` maps hypotheses (full sentences) to log-scores under the combined scorers.
    Each round scores every single-edit extension of the current choice, then accepts the best
    extensions whose gain is positive and that are at least ``min_gap`` tokens apart.
    """
    chosen: dict[int, Edit] = {}
    used_tokens: set[int] = set()
    base = score([sentence])[0]
    for _ in range(settings.max_rounds):
        options = [(i, j) for i, slot in enumerate(slots) if i not in chosen
                   and not used_tokens.intersection(range(slot.tok_start, slot.tok_end))
                   for j in range(min(settings.top_k, len(slot.candidates)))]
        if not options:
            break
        current = list(chosen.values())
        hyps = [apply_edits(sentence, current + [_edit(slots[i], j, 0.0)]) for i, j in options]
        scores = score(hyps)
        gains = []
        for (i, j), s in zip(options, scores):
            prior = slots[i].candidates[j].prior
            gains.append((s - base + settings.prior_weight * math.log(max(prior, 1e-9))
                          - settings.copy_bonus, i, j))
        taken: list[tuple[int, int]] = []  # token ranges accepted this round
        for gain, i, j in sorted(gains, reverse=True):
            if gain <= 0:
                break
            a, b = slots[i].tok_start, slots[i].tok_end
            if used_tokens.intersection(range(a, b)):
                continue
            if any(a < e + settings.min_gap and s < b + settings.min_gap for s, e in taken):
                continue
            chosen[i] = _edit(slots[i], j, gain)
            used_tokens.update(range(a, b))
            taken.append((a, b))
        if not taken:
            break
        base = score([apply_edits(sentence, list(chosen.values()))])[0]
    return sorted(chosen.values(), key=lambda e: e.start)
