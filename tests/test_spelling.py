"""British and American spellings are one word to the candidate index and the n-gram model."""
from __future__ import annotations

import pytest

from despin.fast import lm_words
from despin.spelling import american, is_british


@pytest.mark.parametrize("uk,us", [("organise", "organize"), ("colours", "colors"),
                                   ("centre", "center"), ("travelled", "traveled"),
                                   ("the city centre", "the city center")])
def test_british_spellings_read_as_american(uk, us):
    assert american(uk) == us and american(us) == us
    assert is_british(uk) and not is_british(us)


def test_the_ngram_model_reads_american_spelling():
    assert lm_words("The Colour of the centre.") == ("the", "color", "of", "the", "center")


@pytest.fixture(scope="module")
def model():
    from despin import Despinner

    return Despinner.from_pretrained()


@pytest.mark.parametrize("uk,us", [("organise", "organize"), ("organised", "organized"),
                                   ("colour", "color"), ("analyse", "analyze")])
def test_index_looks_up_british_spans_as_american_too(model, uk, us):
    got = {c.text for c in model.index.lookup(uk, None)}
    want = {c.text for c in model.index.lookup(us, None)}
    assert got and uk not in got
    # the American spelling's originals (less the British form itself, which WordNet lists as
    # one of them), and the British one's own
    assert want - {uk} <= got


def test_british_text_restores_like_american(model):
    us = "The men stated the color of the navy know-how was extra superior."
    uk = "The men stated the colour of the navy know-how was extra superior."
    r_us, r_uk = model.restore_with_edits(us), model.restore_with_edits(uk)
    assert [(e.spun, e.restored) for e in r_uk.edits] == [(e.spun, e.restored)
                                                          for e in r_us.edits]
    assert r_uk.text == r_us.text.replace("color", "colour")
