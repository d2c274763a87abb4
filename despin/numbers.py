"""Numbers written two ways: numerals and English number words of the same value.

Spinners swap "9" ↔ "nine" and "two weeks" → "a couple of weeks" but never change a value, so a
restorer may offer a number exactly its same-value spellings and nothing else. One home for the
spinner (:mod:`training.spinner`, ``number_rate``) and the candidate index (source kind
``numbers``, :mod:`despin.synonyms`; digit slots in :func:`despin.lattice.build_slots`).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

from .text import Token

__all__ = ["number_word", "number_value", "numeric_value", "quantity", "same_quantity",
           "quantity_keeper", "is_number_word", "standalone_number", "in_number", "COUNT_NOUNS",
           "UNITS", "NUMBER_VALUES", "ORDINAL_VALUES", "NUMBER_MIN", "NUMBER_PHRASES",
           "MAGNITUDES", "MONTHS", "number_table"]

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


@lru_cache(maxsize=200_000)  # build_slots asks it of every candidate: texts repeat (Zipf)
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
    value = MAGNITUDES.get(low[:-1] if low.endswith("s") else low)
    return value if value is not None else _compound_value(text.lower().split())


def _compound_value(words: list[str]) -> int | None:
    """The value of a number written in several words ("two hundred", "three thousand and
    five", "a hundred and twenty", "nineteen hundred"); None unless the words make one: number
    words, "hundred" after 1–99, larger magnitudes each smaller than the one before, "a" only
    before a magnitude, "and" only between a magnitude and a number word."""
    if len(words) < 2:
        return None
    total = current = 0
    last_mag = None
    for k, w in enumerate(words):
        nxt = words[k + 1] if k + 1 < len(words) else None
        prev = words[k - 1] if k else None
        if w in NUMBER_VALUES:
            p = NUMBER_VALUES.get(prev) if prev is not None else None
            if p is not None and not (p % 10 == 0 and p >= 20 and 0 < NUMBER_VALUES[w] < 10):
                return None  # "one two" is a list, not 3; "twenty one" is 21
            current += NUMBER_VALUES[w]
        elif w == "a" and k == 0 and (nxt == "hundred" or nxt in MAGNITUDES):
            current = 1
        elif w == "and" and (prev == "hundred" or prev in MAGNITUDES) and nxt in NUMBER_VALUES:
            continue
        elif w == "hundred":
            if k == 0:
                current = 100  # "hundred thousand"
            elif not 0 < current < 100:
                return None  # "hundred hundred", "thousand hundred"
            else:
                current *= 100
        elif w in MAGNITUDES:
            if current == 0 or (last_mag is not None and MAGNITUDES[w] >= last_mag):
                return None  # "thousand million" is no number written out
            total, current, last_mag = total + current * MAGNITUDES[w], 0, MAGNITUDES[w]
        else:
            return None
    return total + current


def _ordinal(word: str) -> str:
    """The ordinal of a number word ("two" → "second", "twenty-one" → "twenty-first")."""
    head, _, last = word.rpartition("-")
    special = {"one": "first", "two": "second", "three": "third", "five": "fifth",
               "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
    last = special.get(last) or (last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return f"{head}-{last}" if head else last


ORDINAL_VALUES: dict[str, int] = {
    **{_ordinal(number_word(n)): n for n in range(1, 100)},
    **{w + "th": v for w, v in MAGNITUDES.items()}}
"""Ordinal word → value ("second" → 2, "hundredth" → 100)."""


COUNT_NOUNS: dict[str, str] = {"dozen": "dozen", "dozens": "dozen", "half": "half",
                               "halves": "half", "pair": "pair", "pairs": "pair",
                               "couple": "pair", "couples": "pair"}
"""Nouns that count ("a dozen eggs", "half of the voters"), each under its own name in
:func:`quantity` ("couple" as "pair"): "dozen" may not become "score", nor "pair"
"four-in-hand"."""


def _quantity_part(word: str) -> int | str | None:
    """A word's part in :func:`quantity`: its numeric value, the word itself if it holds a
    digit, its :data:`COUNT_NOUNS` name, else None."""
    value = numeric_value(word)
    if value is not None:
        return value
    if any(c.isdigit() for c in word):
        return word
    return COUNT_NOUNS.get(word)


_NOUNS = frozenset(COUNT_NOUNS.values())
_WORD_EDGES = ".,;:!?()\"'“”‘’"  # punctuation a word of a span may carry on either side


@lru_cache(maxsize=200_000)  # same_quantity asks it of every candidate, as numeric_value
def quantity(text: str) -> tuple[int | str, ...]:
    """The quantities that ``text`` states, in order: ``(value,)`` for a number
    (:func:`numeric_value`), else the numbers and counting nouns among its words and the
    parts of its hyphenated words ("twenty-four hour periods" → ``(24,)``, "ten-spots" →
    ``(10,)``, "a dozen eggs" → ``("dozen",)``), () for text that states none. Standing
    alone, "zero" and "one" are left out, as :data:`NUMBER_MIN` leaves them ("no one", "one
    another"), and so are they in a hyphenated word with no other quantity ("one-sided").
    Counting nouns inside a hyphenated word ("half-hearted") and hyphenated adjectives in
    "-ed" ("two-faced", "three-legged") state none. Ordinals are no part of it (see
    :func:`same_quantity`)."""
    whole = numeric_value(text)
    if whole is not None:
        return (whole,)
    out: list[int | str] = []
    for word in text.lower().split():
        part = _quantity_part(word.strip(_WORD_EDGES))
        if part is not None:
            if not (isinstance(part, int) and part < NUMBER_MIN):
                out.append(part)
            continue
        pieces = word.split("-") if "-" in word and not word.endswith("ed") else []
        parts = [p for p in map(_quantity_part, pieces) if p is not None and p not in _NOUNS]
        if any(not (isinstance(p, int) and p < NUMBER_MIN) for p in parts):
            out.extend(parts)
    return tuple(out)


def _unit_table() -> dict[str, frozenset[tuple[str, str]]]:
    """Unit word (singular, plural and common abbreviations) → its (dimension, unit)s."""
    dims = {
        "time": "second minute hour day week fortnight month quarter semester year decade "
                "century millennium",
        "length": "inch foot yard mile millimetre millimeter centimetre centimeter metre meter "
                  "kilometre kilometer",
        "mass": "ounce pound ton tonne milligram gram kilogram kilo",
        "money": "dollar cent penny pound euro yen quarter",
        "area": "acre hectare",
        "volume": "millilitre milliliter litre liter gallon pint quart teaspoon tablespoon",
        "data": "byte kilobyte megabyte gigabyte terabyte"}
    plural = {"inch": "inches", "foot": "feet", "century": "centuries",
              "millennium": "millennia", "penny": "pennies", "yen": "yen"}
    spelling = {"millimeter": "millimetre", "centimeter": "centimetre", "meter": "metre",
                "kilometer": "kilometre", "milliliter": "millilitre", "liter": "litre",
                "tonne": "ton", "kilo": "kilogram"}
    abbreviations = {"km": "kilometre", "cm": "centimetre", "mm": "millimetre", "ft": "foot",
                     "kg": "kilogram", "mg": "milligram", "lb": "pound", "lbs": "pound",
                     "oz": "ounce", "ml": "millilitre", "pence": "penny"}
    table: dict[str, set[tuple[str, str]]] = {}
    for dim, names in dims.items():
        for name in names.split():
            unit = (dim, spelling.get(name, name))
            for form in (name, plural.get(name, name + "s")):
                table.setdefault(form, set()).add(unit)
    for short, name in abbreviations.items():
        table.setdefault(short, set()).update(table[name])
    return {word: frozenset(units) for word, units in table.items()}


UNITS: dict[str, frozenset[tuple[str, str]]] = _unit_table()
"""Units of measure, singular, plural and abbreviated → their (dimension, unit)s: "days" →
{("time", "day")}, "meters" → {("length", "metre")}, "pounds" → {("mass", "pound"),
("money", "pound")}. After a number, a swap may not put one unit for another of
the same dimension (:func:`same_quantity`, ``measured``): "9 days" is never "9 years"."""


def _units(text: str) -> dict[str, list[str]]:
    """Dimension → the units ``text`` names, in order (words and hyphenated parts)."""
    out: dict[str, list[str]] = {}
    for word in text.lower().replace("-", " ").split():
        for dim, unit in sorted(UNITS.get(word.strip(_WORD_EDGES), ())):
            out.setdefault(dim, []).append(unit)
    return out


def same_quantity(a: str, b: str, measured: bool = False) -> bool:
    """Whether ``b`` may stand for ``a`` (or the other way round) without changing a quantity:
    the same :func:`numeric_value` and the same :func:`quantity` — a number only its own
    value's spellings ("nine" never "nine-spot"), and the same numbers and counting
    nouns inside other text ("noon" is never "twelve noon", "dollars" never "ten-spots",
    "dozen" never "score"; words that state none, any words that state none) — and not two
    different ordinals ("second" may be "moment", never "third"); and with ``measured``
    (the span follows a number: "9 days"), not one unit of measure for another of its
    dimension (:data:`UNITS`: "9 days" never "9 years"; "days" may be "times", and without a
    number "in recent years" may be "in recent days", a sense-blind spinner's swap). What a
    spinner's swap and a restorer's candidate must keep."""
    return quantity_keeper(a, measured)(b)


def quantity_keeper(a: str, measured: bool = False) -> Callable[[str], bool]:
    """``lambda b: same_quantity(a, b, measured)`` with ``a``'s quantity read once: what
    :func:`despin.lattice.build_slots` asks of each of a span's candidates."""
    va, qa, oa = _quantity_key(a)
    units_a = _units(a) if measured else None

    def keeps(b: str) -> bool:
        vb, qb, ob = _quantity_key(b)
        if va != vb or qa != qb:
            return False  # "nine" is not "nine-spot", "noon" not "twelve noon"
        if units_a:
            units_b = _units(b)
            if any(units_a[d] != units_b[d] for d in units_a.keys() & units_b.keys()):
                return False  # "days" is not "years", "miles" not "kilometres"
        return oa is None or ob is None or oa == ob

    return keeps


@lru_cache(maxsize=200_000)  # build_slots asks same_quantity of every candidate
def _quantity_key(text: str) -> tuple[int | None, tuple[int | str, ...], int | None]:
    """(:func:`numeric_value`, :func:`quantity`, ordinal value) of ``text``: one look-up."""
    return numeric_value(text), quantity(text), ORDINAL_VALUES.get(text.lower())


def is_number_word(word: str) -> bool:
    """A token that is part of a number: digits, a number word, a magnitude, an ordinal or a
    counting noun ("2", "two", "hundred", "millions", "second", "dozen", "couple")."""
    low = word.lower()
    return (any(c.isdigit() for c in low) or numeric_value(low) is not None
            or low in ORDINAL_VALUES or low in ("couple", "dozen", "dozens"))


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


def in_number(tokens: list[Token], i: int, j: int) -> bool:
    """Whether tokens ``i:j`` stand beside a number word, or beside "and" or "of" that stands
    beside one ("two hundred and five", "a couple of hundred"): part of a longer number, which
    neither a spinner nor a restorer respells a word of ("twenty five" never "20 five")."""
    def near(k: int, step: int) -> bool:
        if not 0 <= k < len(tokens):
            return False
        if tokens[k].text.lower() in ("and", "of"):
            k += step
            return 0 <= k < len(tokens) and is_number_word(tokens[k].text)
        return is_number_word(tokens[k].text)

    return near(i - 1, -1) or near(j, 1)


def number_table() -> dict[str, list[str]]:
    """The same-value spellings a spinner writes for each number (a synonym table, original →
    spun): a numeral its word ("9" → "nine"), a word its numeral or phrase ("two" → "2",
    "a couple of"), for :data:`NUMBER_MIN`–99."""
    table: dict[str, list[str]] = {}
    for n in range(NUMBER_MIN, 100):
        table[str(n)] = [number_word(n)]
        table[number_word(n)] = [str(n)] + ([NUMBER_PHRASES[n]] if n in NUMBER_PHRASES else [])
    return table
