"""Inflection helpers over lemminflect: analyse a word, re-inflect a lemma or phrase."""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable

from lemminflect import getAllInflections, getAllLemmas, getInflection

# Penn tags by universal POS; the base tag first.
_TAGS = {
    "NOUN": ("NN", "NNS"),
    "VERB": ("VB", "VBD", "VBG", "VBN", "VBZ", "VBP"),
    "ADJ": ("JJ", "JJR", "JJS"),
    "ADV": ("RB", "RBR", "RBS"),
}
BASE_TAGS = {"NN", "VB", "VBP", "JJ", "RB"}


@lru_cache(maxsize=500_000)
def analyses(word: str) -> tuple[tuple[str, str, str], ...]:
    """All ``(lemma, upos, tag)`` readings of a lowercase word, context-blind.

    A word lemminflect does not know reads as its own lemma in base form.
    """
    out: list[tuple[str, str, str]] = []
    for upos, lemmas in getAllLemmas(word).items():
        if upos not in _TAGS:
            continue
        for lemma in lemmas:
            forms = getAllInflections(lemma, upos=upos)
            tags = [t for t in _TAGS[upos] if word in forms.get(t, ())] or (
                [_TAGS[upos][0]] if lemma == word else []
            )
            for tag in tags[:1]:
                out.append((lemma, upos, tag))
    if not out:
        out.append((word, "X", "X"))
    return tuple(dict.fromkeys(out))


def _inflected_word(parts: list[str], upos: str) -> int | None:
    """Which word of a phrase takes a ``upos`` inflection (verbs their first, others their
    last), or None when the phrase cannot take it."""
    i = 0 if upos == "VERB" else len(parts) - 1
    if len(parts) > 1 and upos in {"ADJ", "ADV"}:
        return None  # "more X" constructions are not worth guessing
    lemmas = getAllLemmas(parts[i])
    if lemmas and upos not in lemmas:
        return None  # "give" has no noun reading: no plural "gives" for a noun slot
    if lemmas and parts[i] not in lemmas[upos]:
        # already an inflected form of another lemma (thesauri list "traveling" under
        # "travel"): lemminflect would append a second ending, "travelinged"
        return None
    return i


def _replace(parts: list[str], i: int, form: str | None) -> str | None:
    return None if form is None else " ".join(parts[:i] + [form] + parts[i + 1:])


def _inflect_word(word: str, upos: str, tag: str,
                  known: dict[str, tuple[str, ...]] | None = None) -> str | None:
    """``word`` (a lemma of ``upos``) inflected to ``tag``: lemminflect's own form where it
    knows one (``known``: its ``getAllInflections(word, upos)``), else its rule-based guess,
    kept only if ``wordfreq`` knows the result. Its rules append endings to any word
    ("countlessest", "selfsamer", "hummusing"): such forms are no English word, so they are
    neither candidates nor spinner output."""
    from .synonyms import zipf

    if known is None:
        known = getAllInflections(word, upos=upos)
    if known.get(tag):
        return known[tag][0]
    guess = getInflection(word, tag=tag, inflect_oov=True)
    return guess[0] if guess and zipf(guess[0]) > 0 else None


@lru_cache(maxsize=500_000)
def inflect(phrase: str, upos: str, tag: str) -> str | None:
    """Inflect a lemma or multi-word lemma phrase to ``tag``; None when that is not possible.

    Verbs inflect their first word ("take place" → "took place"), other phrases their last
    ("historical past" → "historical pasts"); base tags return the phrase unchanged.
    """
    if tag in BASE_TAGS or tag == "X" or upos not in _TAGS:
        return phrase
    parts = phrase.split(" ")
    i = _inflected_word(parts, upos)
    if i is None:
        return None
    return _replace(parts, i, _inflect_word(parts[i], upos, tag))


INFLECTING_TAGS: tuple[tuple[str, str], ...] = tuple(
    (upos, tag) for upos, tags in _TAGS.items() for tag in tags if tag not in BASE_TAGS)
"""The ``(upos, tag)`` pairs that change a word's form, in the order of an
:func:`inflection_table` row."""
_ROW = {key: i for i, key in enumerate(INFLECTING_TAGS)}

InflectionTable = dict[str, tuple[str | None, ...]]


def inflection_table(phrases: "Iterable[str]", progress: bool = False) -> InflectionTable:
    """``phrase → row``, where ``row[i]`` is ``inflect(phrase, *INFLECTING_TAGS[i])`` (the base
    tags return the phrase itself and are left out), computed with one ``getAllLemmas`` and
    one ``getAllInflections`` per word and POS instead of per tag: the same values as
    :func:`inflect`, about ten times faster to build. The candidate index keeps it on disk, so
    that restoring never calls lemminflect for an original. One row per phrase rather than one
    entry per phrase and tag: for the default index's 63k originals, ~90 MB less memory."""
    from tqdm.auto import tqdm

    table: InflectionTable = {}
    for phrase in tqdm(sorted(set(phrases)), desc="inflection table", unit="word",
                       disable=not progress):
        parts = phrase.split(" ")
        row: list[str | None] = []
        for upos, tags in _TAGS.items():
            i = _inflected_word(parts, upos)
            forms = {} if i is None else getAllInflections(parts[i], upos=upos)
            row += [None if i is None else _replace(parts, i, _inflect_word(parts[i], upos, tag,
                                                                            forms))
                    for tag in tags if tag not in BASE_TAGS]
        table[phrase] = tuple(row)
    return table


def inflect_all(table: InflectionTable, phrases: "Iterable[str]", upos: str, tag: str
                ) -> list[str | None]:
    """:func:`inflect` of each of ``phrases`` for one ``upos`` and ``tag``, read from an
    :func:`inflection_table` (computed when not in it: base tags, other phrases). The
    candidate index inflects all the originals of a reading at once."""
    i = _ROW.get((upos, tag))
    if i is None:
        return [inflect(p, upos, tag) for p in phrases]
    return [row[i] if (row := table.get(p)) is not None else inflect(p, upos, tag)
            for p in phrases]
