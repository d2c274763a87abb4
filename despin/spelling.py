"""British and American spellings as one word ("organise" / "organize", "colour" / "color").

The candidate index's sources and the n-gram model are American-spelled, so a British-spelled
spun word is also looked up in its American spelling (its candidates: those of both spellings;
the other spelling stays a candidate, since spinners swap spelling variants too), and the
n-gram model reads British spellings in American spelling. Restored words follow the text:
in a line spelt the British way (:func:`line_spelling`), they are spelt the British way too
(:func:`spell_edits`). The word lists are those of the PyPI package ``breame`` (Apache-2.0:
1,730 British → American and 1,706 American → British pairs, inflected forms included).
"""
from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from .edits import Edit
from .text import match_case

__all__ = ["SENSE_DEPENDENT", "american", "british", "is_british", "line_spelling",
           "spell_edits"]

_WORD_RE = re.compile(r"[A-Za-z]+")


@lru_cache(maxsize=1)
def _to_american() -> dict[str, str]:
    """British → American spelling, lower case, from ``breame``."""
    from breame.data.spelling_constants import BRITISH_ENGLISH_SPELLINGS

    return dict(BRITISH_ENGLISH_SPELLINGS)


@lru_cache(maxsize=100_000)
def american(text: str) -> str:
    """``text`` (lower case) with every British-spelled word in American spelling."""
    table = _to_american()
    return _WORD_RE.sub(lambda m: table.get(m.group(), m.group()), text)


def is_british(text: str) -> bool:
    """Whether lower-case ``text`` has a word spelled the British way."""
    return american(text) != text


SENSE_DEPENDENT = frozenset({
    "analog", "analogs", "dialog", "dialogs", "disk", "disks", "draft", "drafts", "install",
    "installs", "license", "licensed", "licenses", "licensing", "meter", "meters", "practice",
    "practices", "program", "programs", "tire", "tires"})
"""American spellings that British English also uses in some sense (a computer "program", a
gas "meter", to "tire", the verb "license", the noun "practice"): never respelt, and no
evidence that a line is spelt the American way."""


@lru_cache(maxsize=1)
def _to_british() -> dict[str, str]:
    """American → British spelling, lower case, from ``breame``, less
    :data:`SENSE_DEPENDENT`."""
    from breame.data.spelling_constants import AMERICAN_ENGLISH_SPELLINGS

    return {us: uk for us, uk in AMERICAN_ENGLISH_SPELLINGS.items() if us not in SENSE_DEPENDENT}


def british(text: str) -> str:
    """``text`` with every American-spelled word in British spelling, each word's case kept
    ("Color" → "Colour", "ORGANIZE" → "ORGANISE")."""
    table = _to_british()

    def respell(m: re.Match) -> str:
        word = m.group()
        uk = table.get(word.lower())
        return word if uk is None else match_case(word, uk)

    return _WORD_RE.sub(respell, text)


def line_spelling(line: str) -> str | None:
    """``"british"`` when ``line`` has words spelt the British way and none spelt the
    American way, ``"american"`` for the reverse, None when it has neither or both."""
    words = {w.lower() for w in _WORD_RE.findall(line)}
    uk = any(w in _to_american() for w in words)
    us = any(w in _to_british() for w in words)
    return "british" if uk and not us else "american" if us and not uk else None


def spell_edits(line: str, edits: list[Edit]) -> list[Edit]:
    """``edits`` of ``line`` with restored words (and their alternatives) in British spelling
    when the line is spelt the British way outside the edits' spans (:func:`line_spelling` of
    the words left as written: a British word the edits replace may be the spinner's, whose
    synonym sources list British variants; "The protection minister stated the defence budget
    ..." → "defence minister", not "defense minister"); an edit that the respelling makes
    equal to its spun text is dropped. Other lines' edits come back unchanged."""
    if not edits:
        return list(edits)
    kept, at = [], 0
    for e in sorted(edits, key=lambda e: e.start):
        kept.append(line[at:max(at, e.start)])
        at = max(at, e.end)
    if line_spelling(" ".join(kept) + " " + line[at:]) != "british":
        return list(edits)
    out = []
    for e in edits:
        restored = british(e.restored)
        if restored == e.spun:
            continue
        out.append(replace(e, restored=restored,
                           alternatives=tuple(replace(x, text=british(x.text))
                                              for x in e.alternatives)))
    return out
