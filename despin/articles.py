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
_WORD_AFTER_RE = re.compile(r"\s*([^\W\d_][\w'’-]*)")
_SENTENCE_END = ".!?…:;\"“‘(—–"
# what may stand before a sentence at a line's start: a list bullet or number, a heading's or
# a block quote's marks ("- ", "1) ", "## ", "> ")
_LINE_LEAD_RE = re.compile(r"[ \t]*(?:(?:[-*+•>]+|#{1,6}|\(?\w{1,3}[.)])[ \t]*)?")


def _sentence_start(text: str, at: int) -> bool:
    """Whether the capitalised word at offset ``at`` starts the text, a sentence, or a line
    after its list or heading marks: there, a capital "A" may be an article."""
    before = text[:at].rstrip()
    line = text[text.rfind("\n", 0, at) + 1:at]
    return not before or before[-1] in _SENTENCE_END or bool(_LINE_LEAD_RE.fullmatch(line))


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
    agree with its restored word, or after a deleted filler with the word that then follows
    ("an actually huge" → "a huge"); articles that some edit already touches are left alone,
    and so is a capital "A" inside a sentence ("Vitamin A") unless the text is in capitals.
    Offsets: into ``text``, as the ``edits``' are. Each carries its word's edit score and
    ``scorer``, and source ``"article"``."""
    out = []
    for e in edits:
        m = _ARTICLE_RE.search(text, max(0, e.start - 12), e.start)
        if m is None and not e.restored:  # a deletion that took the space before it
            m = _ARTICLE_RE.search(text, max(0, e.start - 12), e.start + 1)
            m = m if m is not None and m.end(1) == e.start else None
        # the word now after the article: the restored one, or after a deleted filler the
        # word that follows it ("an actually huge" → "a huge")
        after = _WORD_AFTER_RE.match(text, e.end)
        word = e.restored or (after.group(1) if after else "")
        want = article_for(word) if m and word else None
        if m is None or want is None or m.group(1).lower() == want:
            continue
        a, b = m.span(1)
        # text in capitals: the spun words as written are ("A ENORMOUS"), not merely the
        # restored one (an acronym: "a sloth" → "an AI")
        letters = [c for c in e.spun if c.isalpha()]
        caps = len(letters) > 1 and all(c.isupper() for c in letters)
        if m.group(1)[0].isupper() and not (caps or _sentence_start(text, a)):
            continue  # "Vitamin A", "Plan A": a capital A inside a sentence is no article
        if any(d.start < b and a < d.end for d in edits):
            continue
        # "A" alone cannot tell "A ODD" → "AN ODD" from "A odd" → "An odd"
        out.append(Edit(a, b, m.group(1), want.upper() if caps else match_case(m.group(1), want),
                        e.score, 0.0, "article", scorer=e.scorer))
    return out
