"""Which sentences are not English: restoring and spin detection leave them alone.

The restorer's index, encoder and n-gram models are English. In a sentence of another language
a word that English shares ("extra", "service", "superior") is a slot like any other, and the
restorer would write English into French ("le service était [extra→more]"); spin detection
would read the sentence as spun (a clean French paragraph read as .69 spun). Spinners that
spin English leave other languages' sentences alone, so nothing is lost by leaving them.

The test is by function words, the classic cue for telling languages apart in short text
(Grefenstette 1995, "Comparing two language identification schemes"; Cavnar & Trenkle 1994
use n-grams of the same frequent words): a sentence is foreign when at least
:data:`MIN_FOREIGN` of its words are common function words of French, German, Spanish,
Italian, Portuguese or Dutch that are not English words, and they outnumber its English
function words. Words in capitals inside a sentence are names ("Le Monde", "Der Spiegel",
"La Paz") and are not counted. A sentence that is not clearly foreign counts as English: an
English sentence full of names or technical terms is never skipped.
"""
from __future__ import annotations

from .text import tokenize

__all__ = ["ENGLISH_FUNCTION_WORDS", "FOREIGN_FUNCTION_WORDS", "MIN_FOREIGN", "is_foreign"]

ENGLISH_FUNCTION_WORDS = frozenset("""
the of and to a in is was that for it with as on be by at this are from or an have has had
not but which were they he she his her their its been would will can there we you i who all
more one also than into after when about our what so no if do these other some them only
over said could should may my your those then out up""".split())
"""Frequent English function words (each an English word, whatever else it is)."""

FOREIGN_FUNCTION_WORDS = frozenset("""
le les et est était une des du aux avec pour dans sur pas qui ce cette ces sont ont nous vous
ils elle leur mais aussi très été être avait au où
der die das und ist nicht ein eine einen dem zu mit sich auf für von sie wir ich auch wird
werden sind wurde dass oder aber bei nach aus wie noch nur über
el los las y es del por una más pero sus ya muy también fue está han sido ser hay
entre cuando todo este esta estos que
il di è della delle degli nel nella sono anche gli più questo essere
não uma com são ao pelo pela seu sua foi mais
het een en niet zijn ook wordt voor deze maar bij""".split())
"""Frequent function words of French, German, Spanish, Italian, Portuguese and Dutch that are
not English words in lower case ("die" is, but rarely; "son", "war", "met", "come", "plus",
"par", "con", "den", "an", "in" and "so" are left out)."""

MIN_FOREIGN = 2
"""The fewest foreign function words that make a sentence foreign."""


def is_foreign(sentence: str) -> bool:
    """Whether ``sentence`` is clearly not English: at least :data:`MIN_FOREIGN` of its words
    (lower-case words, and its first word) are :data:`FOREIGN_FUNCTION_WORDS`, more than are
    :data:`ENGLISH_FUNCTION_WORDS`. Short or mixed sentences, and sentences in no language of
    the list, count as English (False)."""
    foreign = english = 0
    first = True
    for tok in tokenize(sentence):
        text = tok.text
        if not text[:1].isalpha():
            continue
        if first or not text[:1].isupper():
            low = text.lower()
            foreign += low in FOREIGN_FUNCTION_WORDS
            english += low in ENGLISH_FUNCTION_WORDS
        first = False
    return foreign >= MIN_FOREIGN and foreign > english
