"""A realistic article spinner: context-blind synonym and phrase swaps with offsets.

It mimics what commercial spinners do to text (see DESIGN.md): a synonym of *any* sense of a
word, inflection carried over, phrase swaps one ↔ several words, function words rewritten,
grammar never repaired, and quoted text, proper names, numbers, dates, URLs left byte-identical.
Settings come from ``configs/spinner.yaml``; every choice is drawn from a seeded RNG.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from despin.inflect import analyses, inflect
from despin.resources import resolve
from despin.synonyms import DEFAULT_SOURCES, SynonymSource, choice_weights, load_sources
from despin.text import Token, is_word, match_case, protected_mask, tokenize

__all__ = ["Swap", "SpinResult", "SpinnerConfig", "Spinner"]


@dataclass(frozen=True)
class Swap:
    """One replacement: ``original[orig_start:orig_end]`` became ``spun[start:end]``."""

    start: int
    end: int
    orig_start: int
    orig_end: int
    original: str
    spun: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class SpinResult:
    """The spun text, the text it came from, and the swaps that map one to the other."""

    text: str
    original: str
    swaps: list[Swap]
    rate: float

    @property
    def swapped_words(self) -> int:
        """Number of original words that were replaced."""
        return sum(len(tokenize(self.original[s.orig_start:s.orig_end])) for s in self.swaps)


@dataclass
class SpinnerConfig:
    """Spinner settings (the keys of ``configs/spinner.yaml``)."""

    rate: tuple[float, float] = (0.12, 0.28)
    clean_share: float = 0.1
    freq_power: float = 1.0
    sources: list[dict[str, Any]] = field(default_factory=lambda: [dict(s) for s in DEFAULT_SOURCES])

    def __post_init__(self) -> None:
        lo, hi = self.rate if isinstance(self.rate, (list, tuple)) else (self.rate, self.rate)
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"rate must be [low, high] within [0, 1], got {self.rate}")
        if not 0.0 <= self.clean_share <= 1.0:
            raise ValueError(f"clean_share must be within [0, 1], got {self.clean_share}")
        self.rate = (float(lo), float(hi))

    @classmethod
    def from_yaml(cls, path: str | Path) -> "SpinnerConfig":
        data = yaml.safe_load(resolve(path).read_text()) or {}
        data = data.get("spinner", data)
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown spinner settings in {path}: {sorted(unknown)}")
        return cls(**data)


class Spinner:
    """Spin text: ``Spinner(config).spin(text, seed=0) -> SpinResult``."""

    def __init__(self, config: SpinnerConfig | dict[str, Any] | str | Path | None = None,
                 sources: list[SynonymSource] | None = None):
        if config is None:
            config = SpinnerConfig.from_yaml("spinner.yaml")
        elif isinstance(config, (str, Path)):
            config = SpinnerConfig.from_yaml(config)
        elif isinstance(config, dict):
            config = SpinnerConfig(**config)
        self.config = config
        self.sources = sources if sources is not None else load_sources(config.sources)
        self.max_words = max(s.max_words for s in self.sources)
        self._weights: dict[tuple[int, str], list[float]] = {}

    # -- options at one position -------------------------------------------------------
    def _options(self, tokens: list[Token], mask: list[bool], i: int, text: str
                 ) -> list[tuple[int, int, str]]:
        """(source index, words covered, lowercase key) for every source match starting at i."""
        out = []
        for n in range(1, self.max_words + 1):
            j = i + n
            if j > len(tokens) or mask[j - 1] or not is_word(tokens[j - 1].text):
                break
            if n > 1 and text[tokens[j - 2].end:tokens[j - 1].start] != " ":
                break
            key = text[tokens[i].start:tokens[j - 1].end].lower()
            for k, src in enumerate(self.sources):
                if key in src.table:
                    out.append((k, n, key))
                elif src.inflect and n == 1:
                    if any(lemma in src.table for lemma, _, _ in analyses(key)):
                        out.append((k, n, key))
        return out

    def _replace(self, k: int, key: str, rng: random.Random) -> str | None:
        """Pick a replacement for ``key`` from source ``k``, inflected like ``key``."""
        src = self.sources[k]
        readings = [(key, "X", "X")] if key in src.table else []
        if src.inflect and " " not in key:
            readings += [r for r in analyses(key) if r[0] in src.table and r[0] != key]
        if not readings:
            return None
        lemma, upos, tag = rng.choice(readings)  # context-blind: any reading will do
        reps = src.table[lemma]
        if (k, lemma) not in self._weights:
            self._weights[(k, lemma)] = choice_weights(reps, self.config.freq_power)
        rep = rng.choices(reps, weights=self._weights[(k, lemma)])[0]
        form = inflect(rep, upos, tag) if src.inflect else rep
        return form if form and form != key else None

    # -- public --------------------------------------------------------------------------
    def spin(self, text: str, seed: int | None = None, rng: random.Random | None = None,
             rate: float | None = None) -> SpinResult:
        """Spin ``text``. Give ``seed`` (or ``rng``) for a deterministic result.

        ``rate`` overrides the per-document rate drawn from ``config.rate`` (a share of
        ``config.clean_share`` documents get rate 0 when it is not given).
        """
        if not isinstance(text, str):
            raise TypeError(f"spin() takes a str, got {type(text).__name__}")
        rng = rng or random.Random(seed)
        if rate is None:
            rate = 0.0 if rng.random() < self.config.clean_share else rng.uniform(*self.config.rate)
        tokens = tokenize(text)
        mask = protected_mask(text, tokens)
        n_words = sum(is_word(t.text) for t in tokens)
        budget = int(rate * n_words + rng.random())  # stochastic rounding keeps the mean rate
        order = list(range(len(tokens)))
        rng.shuffle(order)
        taken = [False] * len(tokens)
        chosen: list[tuple[int, int, str, str]] = []  # (first token, n tokens, new text, source)
        used = 0
        for i in order:
            if used >= budget:
                break
            if taken[i]:
                continue
            opts = [o for o in self._options(tokens, mask, i, text)
                    if not any(taken[i:i + o[1]]) and used + o[1] <= budget]
            if not opts:
                continue
            weights = [self.sources[k].weight for k, _, _ in opts]
            k, n, key = rng.choices(opts, weights=weights)[0]
            rep = self._replace(k, key, rng)
            if rep is None:
                continue
            original = text[tokens[i].start:tokens[i + n - 1].end]
            chosen.append((i, n, match_case(original, rep), self.sources[k].name))
            for t in range(i, i + n):
                taken[t] = True
            used += n
        return self._apply(text, tokens, sorted(chosen), rate)

    @staticmethod
    def _apply(text: str, tokens: list[Token], chosen: list[tuple[int, int, str, str]],
               rate: float) -> SpinResult:
        out, swaps, pos, shift = [], [], 0, 0
        for i, n, rep, source in chosen:
            a, b = tokens[i].start, tokens[i + n - 1].end
            out.append(text[pos:a])
            start = a + shift
            swaps.append(Swap(start, start + len(rep), a, b, text[a:b], rep, source))
            out.append(rep)
            shift += len(rep) - (b - a)
            pos = b
        out.append(text[pos:])
        return SpinResult("".join(out), text, swaps, rate)
