"""A realistic article spinner: context-blind synonym and phrase swaps with offsets.

It mimics what commercial spinners do to text (see DESIGN.md): a synonym of *any* sense of a
word, inflection carried over, phrase swaps one ↔ several words, function words rewritten,
grammar never repaired, and quoted text, proper names, numbers, dates, URLs left byte-identical.
Settings come from ``configs/spinner.yaml``; every choice is drawn from a seeded RNG.

Spinner *families* (``configs/spinners/``, issue 15) are the same spinner with other sources,
rates and options: ``spin_names`` (sense-blind swaps reach names that are also dictionary
words: "President Bush" → "President shrub"), ``insertions``/``deletions`` (filler words added
or optional words dropped, recorded as swaps with an empty original or an empty spun side),
``number_rate`` (numerals ↔ number words, same value only: "9" ↔ "nine", "two weeks" → "a
couple of weeks") and ``articles: agree`` ("a" ↔ "an" before a swapped word). A family file
may start from another with ``extends: other.yaml`` (relative: its own folder, then configs/).
With none of these options set, a spin draws exactly the random numbers it drew before them.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from despin.articles import article_for
from despin.language import ENGLISH_FUNCTION_WORDS
from despin.inflect import analyses, inflect
from despin.numbers import (MONTHS, NUMBER_PHRASES, in_number, is_number_word, number_word,
                            quantity, same_quantity, standalone_number)
from despin.resources import config_file, resolve_in
from despin.synonyms import (DEFAULT_SOURCES, Insertion, SynonymSource,
                             choice_weights, load_sources, read_insertions)
from despin.text import Token, is_word, match_case, protected_mask, tokenize

# what stays protected even for a family that spins names and numbers: quoted text, URLs and
# e-mail addresses, markup (the same patterns as despin.text.protected_mask)
from despin.text import protected_spans  # noqa: E402

__all__ = ["Swap", "SpinResult", "SpinnerConfig", "Spinner", "Insertion", "read_insertions",
           "number_word"]


@dataclass(frozen=True)
class Swap:
    """One replacement: ``original[orig_start:orig_end]`` became ``spun[start:end]``.

    An insertion has an empty ``original`` (``orig_start == orig_end``) and ``spun`` = the
    inserted words and one space ("these days "); a deletion has an empty ``spun`` and
    ``original`` = the dropped word and the space after it ("very ")."""

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
        """Number of original words that were replaced (for an insertion: words inserted)."""
        return sum(len(tokenize(self.original[s.orig_start:s.orig_end] or s.spun))
                   for s in self.swaps)


@dataclass
class SpinnerConfig:
    """Spinner settings (the keys of ``configs/spinner.yaml``)."""

    rate: tuple[float, float] = (0.12, 0.28)
    clean_share: float = 0.1
    freq_power: float = 1.0
    sources: list[dict[str, Any]] = field(default_factory=lambda: [dict(s) for s in DEFAULT_SOURCES])
    # -- family options (issue 15); the defaults leave today's spinner as it was -------------
    spin_names: bool = False          # capitalised names that are dictionary words may be swapped
    insertions: str | None = None     # TSV of filler words to add (insert, side, context, weight)
    insert_rate: tuple[float, float] = (0.0, 0.0)   # share of words, drawn per document
    deletions: list[str] = field(default_factory=list)  # optional words that may be dropped
    delete_rate: tuple[float, float] = (0.0, 0.0)
    number_rate: float = 0.0          # chance that each eligible number is swapped (same value)
    articles: str = "keep"            # "keep": "a uncommon" stays; "agree": "an uncommon"

    def __post_init__(self) -> None:
        """Check every setting's type and range; raises ValueError naming the first that
        cannot be meant (a rate given as text, ``spin_names: "no"``, ``deletions: very``)."""
        self.rate = _rate_range(self.rate, "rate")
        self.insert_rate = _rate_range(self.insert_rate, "insert_rate")
        self.delete_rate = _rate_range(self.delete_rate, "delete_rate")
        for name in ("clean_share", "number_rate"):
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number within [0, 1], got {value!r}")
        if not _is_number(self.freq_power) or not 0 <= self.freq_power < float("inf"):
            raise ValueError(f"freq_power must be a finite number ≥ 0, got {self.freq_power!r}")
        if not isinstance(self.spin_names, bool):
            raise ValueError(f"spin_names must be true or false, got {self.spin_names!r}")
        if self.articles not in ("keep", "agree"):
            raise ValueError(f"articles must be 'keep' or 'agree', got {self.articles!r}")
        if self.insertions is not None and not isinstance(self.insertions, (str, Path)):
            raise ValueError(f"insertions must be a TSV path, got {self.insertions!r}")
        if not (isinstance(self.deletions, (list, tuple))
                and all(isinstance(w, str) for w in self.deletions)):
            raise ValueError(f"deletions must be a list of words, got {self.deletions!r}")
        if not (isinstance(self.sources, (list, tuple)) and self.sources
                and all(isinstance(x, dict) for x in self.sources)):
            raise ValueError(f"sources must be a non-empty list of source settings ({{name, kind, "
                             f"...}}), "
                             f"got {self.sources!r}")
        self.deletions = [w.lower() for w in self.deletions]

    @classmethod
    def from_yaml(cls, path: str | Path) -> "SpinnerConfig":
        """Read a spinner YAML (keys at top level or under ``spinner:``); ``extends: FILE``
        starts from another spinner YAML (relative to this file's folder, else ``configs/``)
        and overrides its keys."""
        return cls(**_read_spinner_yaml(path))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _rate_range(rate: Any, name: str) -> tuple[float, float]:
    """``(low, high)`` of a rate given as one number or ``[low, high]``; ValueError unless
    they are numbers with 0 ≤ low ≤ high ≤ 1."""
    pair = tuple(rate) if isinstance(rate, (list, tuple)) else (rate, rate)
    if len(pair) != 2 or not all(map(_is_number, pair)) or not 0.0 <= pair[0] <= pair[1] <= 1.0:
        raise ValueError(f"{name} must be a number or [low, high] within [0, 1], got {rate!r}")
    return float(pair[0]), float(pair[1])


def _read_spinner_yaml(path: str | Path, depth: int = 0) -> dict[str, Any]:
    found = config_file(path)
    data = yaml.safe_load(found.read_text()) or {}
    data = data.get("spinner", data) if isinstance(data, dict) else data
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected spinner settings (a mapping), got {data!r}")
    data = dict(data)
    base = data.pop("extends", None)
    unknown = set(data) - set(SpinnerConfig.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown spinner settings in {path}: {sorted(unknown)}")
    if base is None:
        return data
    if depth > 8:
        raise ValueError(f"{path}: 'extends' nests too deep (a cycle?)")
    return {**_read_spinner_yaml(resolve_in(base, found.parent), depth + 1), **data}


# -- numbers: same value, other spelling (despin.numbers) -----------------------------------
# dates stay dates even for a family that spins names ("12 March", "on Monday")
_DATE_WORDS = MONTHS | frozenset("monday tuesday wednesday thursday friday saturday sunday"
                                 .split())


def _an(word: str) -> str:
    """The indefinite article before ``word``: by its first sound where the CMU Pronouncing
    Dictionary knows its first word (:func:`despin.articles.article_for`, as the restorer
    chooses: "an unimportant", "a unanimous", "an hour"), else by its spelling ("an" before a
    vowel letter, with the commonest exceptions: "a unique", "a European")."""
    by_sound = article_for(word)
    if by_sound is not None:
        return by_sound
    low = word.lower()
    if low.startswith(("hour", "honest", "honor", "honour", "heir")):
        return "an"
    if low.startswith(("uni", "use", "usu", "uti", "eu", "one", "once", "ewe", "ubiq")):
        return "a"
    return "an" if low[:1] in "aeiou" else "a"


# function words that may start a sentence before a number without naming it ("After 3 weeks")
_OPENERS = frozenset("after before about around almost nearly only just some within since "
                     "until during every each".split())
# (after one, a number is no "a couple of": "his two sons", never "his a couple of sons")
_DETERMINERS = frozenset("a an the this that these those my your his her its our their some any "
                        "no every each".split())


class Spinner:
    """Spin text: ``Spinner(config).spin(text, seed=0) -> SpinResult``."""

    def __init__(self, config: SpinnerConfig | dict[str, Any] | str | Path | None = None,
                 sources: list[SynonymSource] | None = None):
        if config is None:
            config = SpinnerConfig.from_yaml("spinner.yaml")
        elif isinstance(config, (str, Path)):
            config = SpinnerConfig.from_yaml(config)
        elif isinstance(config, dict):
            unknown = set(config) - set(SpinnerConfig.__dataclass_fields__)
            if unknown:
                raise ValueError(f"unknown spinner settings {sorted(unknown)} (known: "
                                 f"{sorted(SpinnerConfig.__dataclass_fields__)})")
            config = SpinnerConfig(**config)
        self.config = config
        self.sources = sources if sources is not None else load_sources(config.sources)
        self.max_words = max(s.max_words for s in self.sources)
        self._weights: dict[tuple[int, str], list[float]] = {}
        self.insertions = read_insertions(config.insertions) if config.insertions else []

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
            if quantity(key) and in_number(tokens, i, j):
                continue  # "five" of "twenty five" is no word of its own
            for k, src in enumerate(self.sources):
                if key in src.table:
                    out.append((k, n, key))
                elif src.inflect and n == 1:
                    if any(lemma in src.table for lemma, _, _ in analyses(key)):
                        out.append((k, n, key))
        return out

    def _replace(self, k: int, key: str, rng: random.Random, measured: bool = False
                 ) -> str | None:
        """Pick a replacement for ``key`` from source ``k``, inflected like ``key``, that
        keeps its quantity (:func:`despin.numbers.same_quantity`; ``measured``: ``key``
        follows a number, so its unit stays too); None when the pick does not."""
        src = self.sources[k]
        readings = [(key, "X", "X")] if key in src.table else []
        if src.inflect and " " not in key:
            readings += [r for r in analyses(key) if r[0] in src.table and r[0] != key]
        if not readings:
            return None
        lemma, upos, tag = rng.choice(readings)  # context-blind: any reading will do
        reps = src.table[lemma]
        if (k, lemma) not in self._weights:
            power = src.choice_power(self.config.freq_power)  # the source's own, if it sets one
            self._weights[(k, lemma)] = choice_weights(reps, power)
        rep = rng.choices(reps, weights=self._weights[(k, lemma)])[0]
        form = inflect(rep, upos, tag) if src.inflect else rep
        if not same_quantity(form or "", key, measured):
            return None  # a value never changes: "million" is not "billion", "second" no "third"
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
        cfg = self.config
        hard = _hard_mask(text, tokens) if cfg.spin_names or cfg.number_rate else None
        # spin_names: a capitalised name is fair game (digits and quoted text never are)
        names = [m and not h and not any(c.isdigit() for c in t.text)
                 and t.text.lower() not in _DATE_WORDS
                 for t, m, h in zip(tokens, mask, hard)] if cfg.spin_names else None
        sub_mask = [m and not n for m, n in zip(mask, names)] if names else mask
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
            opts = [o for o in self._options(tokens, sub_mask, i, text)
                    if not any(taken[i:i + o[1]]) and used + o[1] <= budget]
            if not opts:
                continue
            weights = [self.sources[k].weight for k, _, _ in opts]
            k, n, key = rng.choices(opts, weights=weights)[0]
            rep = self._replace(k, key, rng, i > 0 and is_number_word(tokens[i - 1].text))
            if rep is None:
                continue
            original = text[tokens[i].start:tokens[i + n - 1].end]
            if names and any(names[i:i + n]):
                rep_cased = rep  # a name looked up as a word comes out as the word: "Mr. chef"
            else:
                rep_cased = match_case(original, rep)
            chosen.append((i, n, rep_cased, self.sources[k].name))
            for t in range(i, i + n):
                taken[t] = True
            used += n
        if rate == 0.0 or not (cfg.number_rate or self.insertions or cfg.deletions
                               or cfg.articles == "agree"):
            return self._apply(text, tokens, sorted(chosen), rate)
        edits = [(tokens[i].start, tokens[i + n - 1].end, rep, src) for i, n, rep, src in chosen]
        if cfg.number_rate:
            edits += self._numbers(text, tokens, hard, taken, rng)
        if cfg.articles == "agree":
            edits += self._articles(text, tokens, mask, taken, chosen)
        if cfg.deletions:
            edits += self._deletions(text, tokens, mask, taken, n_words, rng)
        if self.insertions:
            edits += self._insertions(text, tokens, mask, taken, n_words, rng)
        return self._apply_edits(text, sorted(edits), rate)

    # -- family options ------------------------------------------------------------------
    @staticmethod
    def _joined(text: str, tokens: list[Token], i: int) -> bool:
        """Token ``i`` is a word that follows another word after exactly one space."""
        return (0 < i < len(tokens) and is_word(tokens[i].text) and is_word(tokens[i - 1].text)
                and text[tokens[i - 1].end:tokens[i].start] == " ")

    @staticmethod
    def _after_name(tokens: list[Token], i: int) -> bool:
        """Token ``i`` follows a name: a word with a capital ("Chapter 11", "the Title 9
        rules", "iPhone 12", "(Chapter 11)"), except a function word that starts a sentence
        ("In 9 days", "After 3 weeks")."""
        if i == 0 or not any(c.isupper() for c in tokens[i - 1].text):
            return False
        starts = i == 1 or tokens[i - 2].text in {".", "!", "?", ":", "…", "\"", "“"}
        return not (starts and tokens[i - 1].text.lower() in ENGLISH_FUNCTION_WORDS | _OPENERS)

    def _numbers(self, text: str, tokens: list[Token], hard: list[bool], taken: list[bool],
                 rng: random.Random) -> list[tuple[int, int, str, str]]:
        """Numerals ↔ number words, the value kept ("9" ↔ "nine", "two weeks" → "a couple of
        weeks"), for a stand-alone whole number 2–99 outside quotes, dates and decimals, not
        a word of a longer number ("twenty five", "two hundred": never "20 five") and, unless
        the family spins names, not a name's number ("Chapter 11", "Title 9")."""
        out = []
        for i, tok in enumerate(tokens):
            value = standalone_number(text, tokens, i)  # not "3.5", "$5", "12 March"
            if value is None or hard[i] or taken[i] or in_number(tokens, i, i + 1):
                continue
            if not self.config.spin_names and self._after_name(tokens, i):
                continue
            if rng.random() >= self.config.number_rate:
                continue
            if tok.text.isdigit():
                rep = number_word(value)
            else:
                nxt = tokens[i + 1] if i + 1 < len(tokens) else None
                phrase = NUMBER_PHRASES.get(value)
                prev = tokens[i - 1].text.lower() if i else ""
                if phrase and nxt and nxt.text.islower() and is_word(nxt.text) \
                        and prev not in _DETERMINERS \
                        and text[tok.end:nxt.start] == " " and rng.random() < 0.5:
                    rep = phrase
                else:
                    rep = str(value)
            initial = i == 0 or tokens[i - 1].text in {".", "!", "?", ":", "…"}
            if initial and rep[:1].isalpha():
                rep = rep[:1].upper() + rep[1:]
            elif tok.text[:1].isupper() and rep[:1].isalpha():
                rep = match_case(tok.text, rep)
            taken[i] = True
            out.append((tok.start, tok.end, rep, "number"))
        return out

    @staticmethod
    def _articles(text: str, tokens: list[Token], mask: list[bool], taken: list[bool],
                  chosen: list[tuple[int, int, str, str]]) -> list[tuple[int, int, str, str]]:
        """"a"/"an" made to agree with the swapped word after it ("a rare" → "an uncommon")."""
        out = []
        for i, _, rep, _ in chosen:
            j = i - 1
            if j < 0 or taken[j] or mask[j] or text[tokens[j].end:tokens[i].start] != " ":
                continue
            art = tokens[j].text
            if art.lower() not in ("a", "an"):
                continue
            want = _an(rep)
            if want != art.lower():
                taken[j] = True
                out.append((tokens[j].start, tokens[j].end, match_case(art, want), "article"))
        return out

    def _deletions(self, text: str, tokens: list[Token], mask: list[bool], taken: list[bool],
                   n_words: int, rng: random.Random) -> list[tuple[int, int, str, str]]:
        """Optional words dropped ("a very good" → "a good"): the word and the space after it,
        only between two words, never a protected or already swapped one."""
        budget = int(rng.uniform(*self.config.delete_rate) * n_words + rng.random())
        spots = [i for i, t in enumerate(tokens)
                 if t.text.lower() in self.config.deletions and i + 1 < len(tokens)
                 and self._joined(text, tokens, i) and self._joined(text, tokens, i + 1)
                 and not (mask[i] or taken[i] or taken[i - 1] or taken[i + 1])]
        rng.shuffle(spots)
        out = []
        for i in spots[:budget]:
            if taken[i - 1] or taken[i + 1]:
                continue  # two adjacent deletions would leave nothing between them
            taken[i] = True
            out.append((tokens[i].start, tokens[i + 1].start, "", "delete"))
        return out

    def _insertions(self, text: str, tokens: list[Token], mask: list[bool], taken: list[bool],
                    n_words: int, rng: random.Random) -> list[tuple[int, int, str, str]]:
        """Filler words added between two words ("the men said" → "the men these days said",
        "the truck" → "the motor truck"), at a boundary where neither word is protected or
        touched by another swap, nor inside a number; each insertion is the words and one
        space."""
        budget = int(rng.uniform(*self.config.insert_rate) * n_words + rng.random())
        if not budget:
            return []
        spots = []
        for i in range(1, len(tokens)):
            if not self._joined(text, tokens, i) or mask[i] or mask[i - 1] \
                    or taken[i] or taken[i - 1]:
                continue
            if is_number_word(tokens[i].text) and in_number(tokens, i, i + 1):
                continue  # never inside a number: "two really hundred"
            for row in self.insertions:
                word = tokens[i] if row.side == "before" else tokens[i - 1]
                if row.side == "before" and tokens[i - 1].text.lower() in _DETERMINERS \
                        and word.text.lower() not in row.context \
                        and not row.context & {"ADJ", "NOUN"}:
                    continue  # "the simply truck": a noun read as a verb
                if row.insert.lower() != word.text.lower() and row.matches(word.text):
                    spots.append((i, row))
        rng.shuffle(spots)
        out, used = [], set()
        for i, row in spots:
            if len(out) >= budget:
                break
            if i in used or i - 1 in used or i + 1 in used:
                continue
            if rng.random() >= row.weight:
                continue
            used.add(i)
            out.append((tokens[i].start, tokens[i].start, row.insert + " ", "insert"))
        return out

    @staticmethod
    def _apply(text: str, tokens: list[Token], chosen: list[tuple[int, int, str, str]],
               rate: float) -> SpinResult:
        return Spinner._apply_edits(text, [(tokens[i].start, tokens[i + n - 1].end, rep, source)
                                           for i, n, rep, source in chosen], rate)

    @staticmethod
    def _apply_edits(text: str, edits: list[tuple[int, int, str, str]], rate: float
                     ) -> SpinResult:
        """Apply non-overlapping (start, end, new text, source) edits of ``text``, in order; an
        insertion has start == end."""
        out, swaps, pos, shift = [], [], 0, 0
        for a, b, rep, source in edits:
            if a < pos:
                raise AssertionError(f"overlapping spinner edits at {a} in {text!r}")
            out.append(text[pos:a])
            start = a + shift
            swaps.append(Swap(start, start + len(rep), a, b, text[a:b], rep, source))
            out.append(rep)
            shift += len(rep) - (b - a)
            pos = b
        out.append(text[pos:])
        return SpinResult("".join(out), text, swaps, rate)


def _hard_mask(text: str, tokens: list[Token]) -> list[bool]:
    """Tokens inside quoted text, URLs and e-mail addresses or markup: never spun by any
    family (names and numbers may be, by the families that spin them)."""
    spans = protected_spans(text)
    return [any(a <= t.start < b for a, b in spans) for t in tokens]


if __name__ == "__main__":
    from training.entry import library_module

    library_module("training.spinner",
                   "python -m training.pairs --config configs/pairs.yaml --out data/pairs")
