"""The candidate lattice of one sentence: which spans may change, and into what.

A *slot* is a span of 1–:data:`MAX_SLOT_WORDS` unprotected words with candidates in the index
(long ones come from phrase rewrites: "owing to the fact that" → "because"). The restorer's output
is always the input with some non-overlapping slots replaced by one of their candidates, so it
can invent nothing. :func:`format_source` writes the candidate-augmented model input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .candidates import Candidate, CandidateIndex
from .numbers import (ORDINAL_VALUES, in_number, is_number_word, number_value, numeric_value,
                      quantity_keeper, standalone_number)
from .text import Token, is_word, protected_mask, protected_spans, tokenize

__all__ = ["Slot", "build_slots", "format_source", "CAND_OPEN", "CAND_CLOSE", "CAND_SEP",
           "MAX_SLOT_WORDS"]

_DIGIT = re.compile(r"\d")
_ONE_LETTER_WORDS = frozenset("aAI")  # one-letter words that may be inside a longer slot

MAX_SLOT_WORDS = 6
"""The longest span (in words) that can be a slot, whatever the index holds."""

CAND_OPEN, CAND_SEP, CAND_CLOSE = " ⟨", "|", "⟩"


@dataclass
class Slot:
    """A span ``text[start:end]`` (token indices ``tok_start:tok_end``) and its candidates;
    ``detector``: the mean log-odds that its words are spinner output, in context
    (:mod:`despin.detector`), when a detector has read the sentence; ``cold``: too near the
    sentence start for the language model's check, so its candidates are in the prior's order
    (:meth:`despin.despinner.Despinner.lattice`)."""

    start: int
    end: int
    tok_start: int
    tok_end: int
    text: str
    candidates: list[Candidate] = field(default_factory=list)
    detector: float | None = None
    cold: bool = False


def build_slots(text: str, index: CandidateIndex, top_k: int = 8, max_words: int | None = None
                ) -> list[Slot]:
    """Every span of ``text`` that the index has candidates for, left to right, longest first.

    Quoted text, markup and proper names are never part of a slot
    (:func:`despin.text.protected_mask`), nor tokens with digits, except a stand-alone numeral
    (:func:`despin.numbers.standalone_number`: "9 days", not "3.5" or "12 March") as a slot of
    its own whose candidates keep its value ("nine"). No candidate may change a number's
    value, add one or take one away: a span with a value (a numeral, a number word such as
    "nine", "a couple of", "two hundred") keeps only its same-value spellings, a span without
    one gets no candidate with one ("dozen" is never "eleven", "nine" never "team"), an
    ordinal no other ordinal ("second" may be "moment", never "third";
    :func:`despin.numbers.same_quantity`), and a number word beside another ("hundred" of "two
    hundred") is no slot of its own. A lone letter ("x",
    "b") is never part of a slot (the words "a" and "I" may be). Spans are words joined by
    single spaces, at most ``max_words`` (default: the index's longest span, capped at
    :data:`MAX_SLOT_WORDS`). A span that starts the text gets
    no deletion candidate ``""`` (the next word would need a capital).
    """
    tokens = tokenize(text)
    inside = protected_spans(text)
    mask = protected_mask(text, tokens, inside)
    max_words = max_words or index.max_span_words
    slots: list[Slot] = []
    for i in range(len(tokens)):
        for n in range(min(max_words, MAX_SLOT_WORDS), 0, -1):
            j = i + n
            if j > len(tokens):
                continue
            span_toks = tokens[i:j]
            if n == 1 and mask[i] and number_value(span_toks[0].text) is not None:
                # a numeral may be a spun number word: its same-value spellings only
                if standalone_number(text, tokens, i) is None or \
                        any(a <= span_toks[0].start < b for a, b in inside):
                    continue
            elif any(mask[i:j]) or not all(is_word(t.text) for t in span_toks):
                continue
            elif any(len(t.text) == 1 and t.text not in _ONE_LETTER_WORDS for t in span_toks):
                continue  # a lone letter (a variable, an initial): "x" is not a spun "ten"
            elif n == 1 and len(span_toks[0].text) == 1:
                continue  # nor is "a" or "I" a slot alone
            if any(text[a.end:b.start] != " " for a, b in zip(span_toks, span_toks[1:])):
                continue
            span = text[span_toks[0].start:span_toks[-1].end]
            value = numeric_value(span)  # a number never changes its value ("million")
            if (value is not None or span.lower() in ORDINAL_VALUES) and in_number(tokens, i, j):
                continue  # part of a longer number: "hundred" of "two hundred" is no slot
            cands = index.lookup(span, top_k=top_k)
            if i == 0:
                cands = [c for c in cands if c.text]
            measured = i > 0 and is_number_word(tokens[i - 1].text)  # "9 [days]"
            keeps = quantity_keeper(span, measured)
            digits = _DIGIT.search(span) is not None
            cands = [c for c in cands if keeps(c.text)
                     and (value is not None or not (digits or _DIGIT.search(c.text)))]
            if cands:
                slots.append(Slot(span_toks[0].start, span_toks[-1].end, i, j, span, cands))
    return slots


def format_source(text: str, slots: list[Slot], n_show: int = 3) -> str:
    """The candidate-augmented model input: each single-word slot, and each multi-word slot,
    followed by its best ``n_show`` candidates, e.g. ``a uncommon ⟨rare|few⟩ second ⟨moment⟩``.

    Multi-word slots are annotated after their last word with the words they cover, so the
    model sees "in opposition to ⟨in opposition to=against⟩" as one unit.
    """
    if n_show <= 0 or not slots:
        return text
    notes: dict[int, list[str]] = {}
    for slot in slots:
        shown = [c.text for c in slot.candidates[:n_show]]
        label = CAND_SEP.join(shown)
        if slot.tok_end - slot.tok_start > 1:
            label = f"{slot.text}={label}"
        notes.setdefault(slot.end, []).append(label)
    out, pos = [], 0
    for end in sorted(notes):
        out += [text[pos:end], CAND_OPEN, " ; ".join(notes[end]), CAND_CLOSE]
        pos = end
    out.append(text[pos:])
    return "".join(out)
