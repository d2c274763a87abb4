"""The candidate index: for a word or phrase as it appears in spun text, the originals it may
stand for, each with a prior.

It is the inverse of every synonym source together (see :mod:`despin.synonyms`). The prior of
an original ``o`` for a spun span ``s`` follows Bayes over the spinner's own choice model::

    P(o | s)  ∝  Σ_source  weight_source · P_source(s | o) · freq(o)

where ``P_source(s | o)`` is the spinner's frequency-weighted choice among the replacements of
``o`` (:func:`despin.synonyms.choice_weights`, at the source's own ``freq_power`` when it sets
one: 0 for a uniform choice). Each candidate also keeps its *channel*
``Σ_source weight_source · P_source(s | o)``: how likely the spinner, given ``o``, writes ``s``.
The prior is normalised over a span's candidates; the channel is not, so it tells an original
with three synonyms (the spinner often writes each) from one with two hundred (it seldom writes
any one of them).
"""
from __future__ import annotations

import hashlib
import math
import sys
from array import array
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from .inflect import analyses, inflect_all, inflection_table
from .resources import cached, file_key
from .spelling import american, is_british
from .synonyms import (DEFAULT_FREQ_POWER, SynonymSource, choice_weights, load_sources,
                       source_file, zipf)
from .text import match_case

__all__ = ["Candidate", "CandidateIndex", "Inverse", "VULGAR"]


@dataclass(frozen=True)
class Candidate:
    """One original that a spun span may stand for; ``channel``: how likely the spinner writes
    the span for it, ``Σ_source weight · P_source(span | original)`` summed over the span's
    readings (so not bounded by 1), when the candidate comes from an index (None when built by
    hand)."""

    text: str
    prior: float
    source: str
    channel: float | None = None

    @property
    def log_prior(self) -> float:
        """``log prior``, floored at log 1e-9 (a prior of 0 must not be −inf in a sum)."""
        return math.log(max(self.prior, 1e-9))


VULGAR = frozenset("""fuck fucks fucked fucking fucker motherfucker shit shits shitting shitty cunt
twat wank wanker piss pissed pissing slut whore bollocks arse arsehole asshole nigger faggot
retard""".split())
"""Vulgar words and slurs: never a candidate unless the span holds the same word (WordNet lists
"fuck" among the senses of "know" and "screw"; a restorer must not write what the text did
not say)."""


def table_digest(table: dict[str, list[str]]) -> str:
    """A SHA-1 of a source's table (originals and their replacements, in order): a cache key
    that changes whenever the table does."""
    text = "\n".join(f"{orig}\t{chr(31).join(reps)}" for orig, reps in table.items())
    return hashlib.sha1(text.encode()).hexdigest()


class Inverse:
    """A source's table turned round: spun span → the originals a spinner writes it for, each
    with the probability that it does (the channel, per original, normalised over its
    replacements by :func:`despin.synonyms.choice_weights`). ``get(span)`` →
    ``[(original, p), ...]`` in the table's order; iterating gives the spans.

    Packed in flat arrays (an original's index, a float64 probability: 12 bytes an entry)
    rather than a dict of lists of tuples (~100 bytes an entry): Moby's 1.4M entries take
    ~17 MB instead of ~130 MB, and the same numbers come out."""

    __slots__ = ("_slot", "_start", "_orig", "_p", "_names")

    def __init__(self, source: SynonymSource, freq_power: float) -> None:
        pairs: dict[str, list[tuple[int, float]]] = defaultdict(list)
        ids: dict[str, int] = {}
        for orig, reps in source.table.items():
            weights = choice_weights(reps, freq_power)
            total = sum(weights)
            k = ids.setdefault(orig, len(ids))
            for rep, w in zip(reps, weights):
                pairs[rep].append((k, w / total))
        self._names = list(ids)
        self._slot = {span: i for i, span in enumerate(pairs)}
        self._start = array("I", [0])
        self._orig, self._p = array("I"), array("d")
        for hits in pairs.values():
            self._orig.extend(k for k, _ in hits)
            self._p.extend(p for _, p in hits)
            self._start.append(len(self._orig))

    def get(self, span: str, default: Any = ()) -> list[tuple[str, float]] | Any:
        """The originals of ``span`` with their probabilities, or ``default``."""
        i = self._slot.get(span)
        if i is None:
            return default
        a, b = self._start[i], self._start[i + 1]
        names = self._names
        return [(names[k], p) for k, p in zip(self._orig[a:b], self._p[a:b])]

    def __iter__(self) -> Iterator[str]:
        return iter(self._slot)

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, span: object) -> bool:
        return span in self._slot

    def __getstate__(self) -> tuple:
        return tuple(getattr(self, k) for k in self.__slots__)

    def __setstate__(self, state: tuple) -> None:
        for k, v in zip(self.__slots__, state):
            setattr(self, k, v)


class CandidateIndex:
    """Inverse of the synonym sources: ``lookup(spun_span) -> [Candidate, ...]``."""

    MEMO_SIZE = 1_000_000

    def __init__(self, sources: list[SynonymSource], freq_power: float = DEFAULT_FREQ_POWER):
        self.sources = sources
        self.freq_power = freq_power
        self._memo: dict[tuple[str, int | None], tuple[Candidate, ...]] = {}
        self._freq: dict[str, float] = {}  # form -> 10 ** zipf(form) (see _frequency)
        self._inverse = []
        for src in sources:
            power = src.choice_power(freq_power)
            build = (lambda s=src, p=power: Inverse(s, p))
            data = source_file(src.settings)
            if data is None:  # a small table: built in well under a second
                self._inverse.append(build())
                continue
            # the large file-backed tables (Moby, MyThes, WordNet: 1-2 s each to turn round)
            # are kept on disk, keyed by their file, their settings and their content
            key = ("inverse", 3, src.name, power, sorted(src.settings.items()),
                   file_key(data), table_digest(src.table))
            self._inverse.append(cached(f"inverse-{src.name}", key, build))
        # every original's inflections, computed once per machine (lemminflect costs ~1 ms a
        # word; a cold document would spend most of its time there)
        origs = sorted({o for src in sources if src.inflect for o in src.table})
        self._forms = cached("inflections", ("inflections", 3, len(origs),
                                             hashlib.sha1("\n".join(origs).encode()).hexdigest()),
                             lambda: inflection_table(origs, progress=sys.stderr.isatty())
                             ) if origs else {}
        self.max_span_words = max(
            max((k.count(" ") + 1 for k in inv), default=1) for inv in self._inverse
        )
        # a span of 3+ words matches a key only if its inner words do (readings re-lemmatise
        # the first or the last word alone): (length, inner words) of every such key, so that
        # the many long spans a lattice tries are answered before any lemmatising
        self._inner = {(len(w), tuple(w[1:-1])) for inv in self._inverse for k in inv
                       if len(w := k.split(" ")) >= 3}

    @classmethod
    def from_config(cls, specs: Iterable[dict[str, Any]] | None = None,
                    freq_power: float = DEFAULT_FREQ_POWER
                    ) -> "CandidateIndex":
        """Build from source descriptions (default: :data:`despin.synonyms.DEFAULT_SOURCES`)."""
        return cls(load_sources(specs), freq_power)

    def _readings(self, span: str) -> list[tuple[str, str, str]]:
        """(key, upos, tag) readings of a lowercase spun span for the inflected sources."""
        parts = span.split(" ")
        if len(parts) == 1:
            return [(lemma, upos, tag) for lemma, upos, tag in analyses(span)]
        out = [(span, "X", "X")]
        for i in {0, len(parts) - 1}:
            for lemma, upos, tag in analyses(parts[i]):
                if lemma != parts[i] and (upos == "VERB") == (i == 0):
                    out.append((" ".join(parts[:i] + [lemma] + parts[i + 1:]), upos, tag))
        return out

    def lookup(self, span: str, top_k: int | None = 10) -> list[Candidate]:
        """Originals that ``span`` may stand for, best first; priors are normalised over all
        the span's candidates, so they sum to 1 only when ``top_k`` keeps them all (None).

        Candidates are re-inflected to the span's form and cased like it. The deletion
        candidate ``""`` (the span is a filler an ``insertions`` source lists) comes last,
        beyond ``top_k``. The span itself is never a candidate (copying is the restorer's
        default, not the index's). Lookups are memoised: spans repeat (Zipf), which makes
        building a corpus' inputs ~4x faster.
        """
        key = (span, top_k)
        hit = self._memo.get(key)
        if hit is None:
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
            hit = self._memo[key] = tuple(self._lookup(span, top_k))
        return list(hit)

    def _lookup(self, span: str, top_k: int | None) -> list[Candidate]:
        low = span.lower()
        # a British-spelled span is also looked up in American spelling, the sources' own
        # (despin.spelling): "organise" gets the originals of "organize" too
        keys = [low] + ([american(low)] if is_british(low) else [])
        n = low.count(" ") + 1
        if n >= 3 and not any((n, tuple(k.split(" ")[1:-1])) in self._inner for k in keys):
            return []
        scores: dict[str, float] = defaultdict(float)
        best_source: dict[str, tuple[float, str]] = {}
        readings: dict[str, list[tuple[str, str, str]]] = {}
        freq = self._freq
        for src, inv in zip(self.sources, self._inverse):
            hits = []
            for k in keys:
                if src.inflect:
                    if k not in readings:
                        readings[k] = self._readings(k)
                    for key, upos, tag in readings[k]:
                        origs = inv.get(key, ())
                        forms = inflect_all(self._forms, [o for o, _ in origs], upos, tag)
                        hits += [(f, p) for f, (_, p) in zip(forms, origs) if f]
                else:
                    hits += inv.get(k, [])
            for form, p in hits:
                if form == low or (len(form) == 1 and form.isalpha() and form not in "ai"):
                    continue  # WordNet's letters ("second" → "s") are never originals
                f = freq.get(form)  # (a dict look-up: the memo's fast path, inline)
                s = src.weight * p * (f if f is not None else self._frequency(form))
                scores[form] += s
                if s > best_source.get(form, (0.0, ""))[0]:
                    best_source[form] = (s, src.name)
        said = set(low.split())
        for f in [f for f in scores if not VULGAR.intersection(f.split()) <= said]:
            del scores[f]
        total = sum(scores.values())
        if not total:
            return []
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        # the deletion candidate "" (a filler a spinner adds: kind "insertions") has no word
        # frequency to rank by, so it is always kept, past the top_k words
        ranked = [kv for kv in ranked if kv[0]][:top_k] + [kv for kv in ranked if not kv[0]]
        # every term of a form's score carries the same freq(form): without it, the channel
        case = (lambda w: w) if span.islower() else (lambda w: match_case(span, w))
        return [Candidate(case(form), s / total, best_source[form][1],
                          s / self._frequency(form))
                for form, s in ranked]

    def _frequency(self, form: str) -> float:
        """``10 ** zipf(form)``: a form's frequency per 10⁹ words (``wordfreq``), memoised
        (every candidate's score is weighted by it, twice)."""
        f = self._freq.get(form)
        if f is None:
            if len(self._freq) >= self.MEMO_SIZE:
                self._freq.clear()
            f = self._freq[form] = 10.0 ** zipf(form)
        return f

    def __contains__(self, span: str) -> bool:
        return bool(self.lookup(span, top_k=1))
