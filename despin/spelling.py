"""British and American spellings as one word ("organise" / "organize", "colour" / "color").

The candidate index's sources and the n-gram model are American-spelled, so a British-spelled
spun word is also looked up in its American spelling (its candidates: those of both spellings;
the other spelling stays a candidate, since spinners swap spelling variants too), and the
n-gram model reads British spellings in American spelling. The word lists are those of the
PyPI package ``breame`` (Apache-2.0: 1,730 British ↔ American pairs, inflected forms included).
"""
from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["american", "is_british"]

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
