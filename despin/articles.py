"""A / an agreement around restored words.

A spinner that repairs articles turns "a big" into "an enormous"; restoring "enormous" to "big"
must turn the article back ("an big" → "a big"). The article is chosen by the first sound of the
restored word, read from the CMU Pronouncing Dictionary that the PyPI package ``pocketsphinx``
ships (``model/en-us/cmudict-en-us.dict``): "an hour", "a university", "an MBA". A word the
dictionary lacks leaves its article alone.
"""
from __future__ import annotations

import importlib.resources
import re
from functools import lru_cache

from .edits import Edit
from .text import match_case

__all__ = ["article_for", "article_edits"]

_VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH",
           "UW"}
_ARTICLE_RE = re.compile(r"(?:^|(?<=\s))(an?)\s+$", re.I)


@lru_cache(maxsize=1)
def _vowel_initial() -> dict[str, bool]:
    """Word (lower case) → whether its first sound is a vowel, from the CMU dictionary (its
    first pronunciation)."""
    path = importlib.resources.files("pocketsphinx") / "model" / "en-us" / "cmudict-en-us.dict"
    out: dict[str, bool] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        word, _, phones = line.partition(" ")
        if word and "(" not in word and phones:
            out.setdefault(word, phones.split()[0] in _VOWELS)
    return out


def article_for(word: str) -> str | None:
    """``"a"`` or ``"an"`` before ``word`` (its first word, by sound), or None when the
    pronouncing dictionary does not know it."""
    first = word.split()[0].lower() if word.split() else ""
    vowel = _vowel_initial().get(first)
    return None if vowel is None else ("an" if vowel else "a")


def article_edits(text: str, edits: list[Edit]) -> list[Edit]:
    """Edits that make the article right before an edit ("a"/"an", only whitespace between)
    agree with its restored word; articles that some edit already touches are left alone.
    Offsets: into ``text``, as the ``edits``' are. Each carries its word's edit score and
    ``scorer``, and source ``"article"``."""
    out = []
    for e in edits:
        m = _ARTICLE_RE.search(text, max(0, e.start - 12), e.start)
        want = article_for(e.restored) if m else None
        if m is None or want is None or m.group(1).lower() == want:
            continue
        a, b = m.span(1)
        if any(d.start < b and a < d.end for d in edits):
            continue
        out.append(Edit(a, b, m.group(1), match_case(m.group(1), want), e.score, 0.0, "article",
                        scorer=e.scorer))
    return out
