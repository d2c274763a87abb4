"""Which sentences are not English: restoring and spin detection leave them alone.

The restorer's index, encoder and n-gram models are English. In a sentence of another language
a word that English shares ("extra", "service", "superior") is a slot like any other, and the
restorer would write English into French ("le service était [extra→more]"); spin detection
would read the sentence as spun (a clean French paragraph read as .69 spun). Spinners that
spin English leave other languages' sentences alone, so nothing is lost by leaving them.

The test is by function words, the classic cue for telling languages apart in short text
(Grefenstette 1995, "Comparing two language identification schemes"; Cavnar & Trenkle 1994
use n-grams of the same frequent words): a sentence is foreign when at least
:data:`MIN_FOREIGN` different words of it are common function words of French, German, Spanish,
Italian, Portuguese or Dutch that are not English words, and they outnumber its English
function words. Words in capitals inside a sentence are names ("Le Monde", "Der Spiegel",
"La Paz") and are not counted. A sentence that is not clearly foreign counts as English: an
English sentence full of names or technical terms is never skipped.
"""
from __future__ import annotations

import unicodedata

from .text import protected_spans, tokenize

__all__ = ["ENGLISH_FUNCTION_WORDS", "FOREIGN_FUNCTION_WORDS", "MIN_FOREIGN", "is_foreign"]

ENGLISH_FUNCTION_WORDS = frozenset("""
the of and to a in is was that for it with as on be by at this are from or an have has had
not but which were they he she his her their its been would will can there we you i who all
more one also than into after when about our what so no if do these other some them only
over said could should may my your those then out up""".split())
"""Frequent English function words (each an English word, whatever else it is)."""

FOREIGN_FUNCTION_WORDS = frozenset("""
le les est était une des du aux avec dans sur pas qui ce cette ces sont ont nous vous ils
elle leur mais aussi très été être avait au où
das und ist nicht ein eine einen dem zu mit sich auf für von sie wir ich auch wird werden
sind wurde dass oder aber bei nach aus wie noch nur über
el los las es del por una más pero muy también fue está han sido ser entre cuando todo este
esta estos que
il di è della delle degli nel nella sono anche gli più questo essere
não uma são ao pelo pela seu sua foi mais
het een en niet zijn ook wordt voor deze maar bij""".split())
"""Frequent function words of French, German, Spanish, Italian, Portuguese and Dutch that are
not English words in lower case: "son", "war", "met", "come", "plus", "par", "con", "den",
"an", "in" and "so" are left out, and so are "et" (et al.), "der" (van der), "die", "pour",
"hay", "com", "ya", "sus" and "y"."""

MIN_FOREIGN = 2
"""The fewest different foreign function words that make a sentence foreign ("et al." twice
is one)."""


def is_foreign(sentence: str) -> bool:
    """Whether ``sentence`` is clearly not English: at least :data:`MIN_FOREIGN` different
    :data:`FOREIGN_FUNCTION_WORDS` among its words, and more of them than of
    :data:`ENGLISH_FUNCTION_WORDS`. Words read: those outside quotations, addresses and
    markup (:func:`despin.text.protected_spans`: an English sentence may quote French), in
    lower case or starting the sentence (or all of them in text without lower-case letters),
    in composed Unicode (NFC). Short or mixed sentences, and sentences in no language of the
    list, count as English (False)."""
    protected = protected_spans(sentence)
    caps = not any(c.islower() for c in sentence)
    foreign: set[str] = set()
    n_foreign = english = 0
    first = True
    for tok in tokenize(sentence):
        text = tok.text
        if not text[:1].isalpha() or any(a <= tok.start < b for a, b in protected):
            continue
        if first or caps or not text[:1].isupper():
            low = unicodedata.normalize("NFC", text.lower())
            if low in FOREIGN_FUNCTION_WORDS:
                foreign.add(low)
                n_foreign += 1
            english += low in ENGLISH_FUNCTION_WORDS
        first = False
    return len(foreign) >= MIN_FOREIGN and n_foreign > english
