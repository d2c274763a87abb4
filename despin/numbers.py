"""Numbers written two ways: numerals and English number words of the same value.

Spinners swap "9" ↔ "nine" and "two weeks" → "a couple of weeks" but never change a value, so a
restorer may offer a number exactly its same-value spellings and nothing else. One home for the
spinner (:mod:`training.spinner`, ``number_rate``) and the candidate index (source kind
``numbers``, :mod:`despin.synonyms`; digit slots in :func:`despin.lattice.build_slots`).
"""
from __future__ import annotations

from .text import Token

__all__ = ["number_word", "number_value", "numeric_value", "standalone_number", "NUMBER_VALUES",
           "NUMBER_MIN", "NUMBER_PHRASES", "MAGNITUDES", "MONTHS", "number_table"]

_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
          "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_word(n: int) -> str:
    """English words for 0 ≤ ``n`` < 100 ("twenty-one"); ValueError outside that range."""
    if not 0 <= n < 100:
        raise ValueError(f"number_word covers 0-99, got {n}")
    if n < 20:
        return _UNITS[n]
    tens, unit = divmod(n, 10)
    return _TENS[tens - 2] + (f"-{_UNITS[unit]}" if unit else "")


NUMBER_VALUES: dict[str, int] = {number_word(n): n for n in range(100)}
"""Number word → value, 0–99."""
NUMBER_MIN = 2
"""The smallest number swapped: "one" is left out ("no one", "one another" are not 1)."""
NUMBER_PHRASES = {2: "a couple of", 12: "a dozen"}
"""Value-keeping phrases for a number before a word ("two weeks" → "a couple of weeks")."""
MONTHS = frozenset("january february march april may june july august september october "
                   "november december jan feb mar apr jun jul aug sep sept oct nov dec".split())
"""Month names: a number beside one is a date ("12 March", "May 9"), never swapped."""


# every number word and phrase with its value: one look-up (build_slots asks of every candidate)
_WORD_VALUES = {**NUMBER_VALUES, **{p: v for v, p in NUMBER_PHRASES.items()}}


def number_value(text: str) -> int | None:
    """The value of a whole number of 1–2 digits, a number word ("nine", "twenty-one", any
    case) or a :data:`NUMBER_PHRASES` phrase; None for anything else."""
    low = text.lower()
    if low.isascii() and low.isdigit() and len(low) <= 2:  # not "²" or "٣"
        return int(low)
    return _WORD_VALUES.get(low)


MAGNITUDES: dict[str, int] = {"hundred": 10**2, "thousand": 10**3, "million": 10**6,
                              "billion": 10**9, "trillion": 10**12}
"""Magnitude words → value. Never swapped for their value's sake (no spelling of a value is
generated for them), but a sense-blind thesaurus lists "billion" for "million" (WordNet's
British sense) and "century" for "hundred": :func:`numeric_value` keeps those out."""


def numeric_value(text: str) -> int | None:
    """:func:`number_value`, and the value of a :data:`MAGNITUDES` word, singular or plural,
    alone or after "a" or "one" ("million", "Millions", "a million": 10**6); None for anything
    else. What neither a spinner's swap nor a restorer's candidate may change: a span and its
    replacement must have the same numeric value (both None for words that are not
    numbers)."""
    value = number_value(text)
    if value is not None:
        return value
    low = text.lower()
    for det in ("a ", "one "):
        if low.startswith(det) and not low.endswith("s"):
            low = low[len(det):]
            break
    return MAGNITUDES.get(low[:-1] if low.endswith("s") else low)


def standalone_number(text: str, tokens: list[Token], i: int) -> int | None:
    """The value of token ``i`` when it is a stand-alone whole number or number word of value
    ≥ :data:`NUMBER_MIN` — spaces (or the text's ends, or a closing punctuation mark and a
    space) around it, not part of "3.5", "$5", "5%", "1,000", "12:30", "2-1", and no month
    beside it — else None."""
    tok = tokens[i]
    value = number_value(tok.text)
    if value is None or value < NUMBER_MIN or " " in tok.text:
        return None
    before = text[tok.start - 1:tok.start] if tok.start else " "
    after = text[tok.end:tok.end + 2]
    if before not in (" ", "\n") or not (after[:1] in ("", " ", "\n") or (
            after[:1] in ",;:.!?)" and after[1:2] in ("", " ", "\n"))):
        return None
    near = [tokens[j].text.lower() for j in (i - 1, i + 1) if 0 <= j < len(tokens)]
    if any(w in MONTHS for w in near):
        return None
    return value


def number_table() -> dict[str, list[str]]:
    """The same-value spellings a spinner writes for each number (a synonym table, original →
    spun): a numeral its word ("9" → "nine"), a word its numeral or phrase ("two" → "2",
    "a couple of"), for :data:`NUMBER_MIN`–99."""
    table: dict[str, list[str]] = {}
    for n in range(NUMBER_MIN, 100):
        table[str(n)] = [number_word(n)]
        table[number_word(n)] = [str(n)] + ([NUMBER_PHRASES[n]] if n in NUMBER_PHRASES else [])
    return table
