"""How likely a word or phrase in spun text is a spinner's output: counted from training pairs.

``log_odds(span)`` = log P(swapped | span) − log P(kept | span), with add-``alpha`` smoothing
towards the overall swap share. "know-how" or "remoted" are nearly always spinner output; "the"
or "Ukraine" never. The search adds ``spun_weight · log_odds`` to the gain of each edit, so an
edit needs less evidence where the spinner is known to have been at work.
"""
from __future__ import annotations

import csv
import math
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from .text import is_word, tokenize

__all__ = ["SpunnessTable"]


class SpunnessTable:
    """Counts of each lowercase span in spun text: ``occurrences`` and ``swapped`` (output of a
    swap)."""

    FILE = "spunness.tsv"

    def __init__(self, occurrences: dict[str, int], swapped: dict[str, int], alpha: float = 2.0):
        self.occurrences = dict(occurrences)
        self.swapped = dict(swapped)
        self.alpha = alpha
        occ1 = sum(n for s, n in self.occurrences.items() if " " not in s)
        sw1 = sum(n for s, n in self.swapped.items() if " " not in s)
        self.base_rate = min(max(sw1 / occ1 if occ1 else 0.15, 1e-3), 0.5)

    @classmethod
    def from_pairs(cls, spun_texts: Iterable[str], swaps: Iterable[Sequence[dict]],
                   min_count: int = 1) -> "SpunnessTable":
        """Count over (spun text, its swaps) pairs; swaps carry ``start``/``end`` in the spun
        text (:class:`training.spinner.Swap`). A span counts as swapped when it lies inside a
        swap's output ("yr" inside "final yr" too: restoring it alone is right)."""
        pairs = [(text, [(s["start"], s["end"]) for s in sw]) for text, sw in zip(spun_texts, swaps)]
        phrases = {text[a:b].lower() for text, spans in pairs for a, b in spans
                   if " " in text[a:b]}
        max_n = max((p.count(" ") + 1 for p in phrases), default=1)
        occ, swapped = Counter(), Counter()
        for text, spans in pairs:
            toks = tokenize(text)
            for i, t in enumerate(toks):
                if not is_word(t.text):
                    continue
                for n in range(1, max_n + 1):
                    if i + n > len(toks):
                        break
                    end = toks[i + n - 1].end
                    span = text[t.start:end].lower()
                    if n > 1 and span not in phrases:
                        continue
                    occ[span] += 1
                    if any(a <= t.start and end <= b for a, b in spans):
                        swapped[span] += 1
        keep = {s: n for s, n in occ.items() if n >= min_count or s in swapped}
        return cls(keep, dict(swapped))

    def log_odds(self, span: str) -> float:
        """Smoothed log-odds that ``span`` (any case) is a spinner's output."""
        s = span.lower()
        n, k = self.occurrences.get(s, 0), self.swapped.get(s, 0)
        a, p = self.alpha, self.base_rate
        return math.log((k + a * p) / (n - k + a * (1 - p)))

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / self.FILE
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, delimiter="\t", lineterminator="\n")
            w.writerow(["span", "occurrences", "swapped"])
            for s in sorted(self.occurrences, key=lambda s: (-self.occurrences[s], s)):
                w.writerow([s, self.occurrences[s], self.swapped.get(s, 0)])
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SpunnessTable":
        occ, sw = {}, {}
        with Path(path).open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                occ[row["span"]] = int(row["occurrences"])
                if int(row["swapped"]):
                    sw[row["span"]] = int(row["swapped"])
        return cls(occ, sw)
