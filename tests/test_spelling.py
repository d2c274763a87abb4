"""British and American spellings are one word to the candidate index, the n-gram model and
the encoder."""
from __future__ import annotations

import pytest

from despin.fast import american_view, lm_words
from despin.spelling import american, is_british


@pytest.mark.parametrize("uk,us", [("organise", "organize"), ("colours", "colors"),
                                   ("centre", "center"), ("travelled", "traveled"),
                                   ("the city centre", "the city center")])
def test_british_spellings_read_as_american(uk, us):
    assert american(uk) == us and american(us) == us
    assert is_british(uk) and not is_british(us)


def test_the_ngram_model_reads_american_spelling():
    assert lm_words("The Colour of the centre.") == ("the", "color", "of", "the", "center")


def test_the_encoder_reads_american_spelling_at_moved_offsets(model, sotu_sentences):
    from despin.lattice import build_slots
    from despin.text import tokenize

    british = ["The Colour of the neighbour's CAR, organised; colour-coded.",
               "They travelled to the city centre to analyse the programme's favourite labour rules."]
    for sentence in british + sotu_sentences[:60]:
        tokens, slots = tokenize(sentence), build_slots(sentence, model.index, top_k=5)
        view, moved, moved_slots = american_view(sentence, tokens, slots)
        assert len(moved) == len(tokens) and len(moved_slots) == len(slots)
        for t, m in zip(tokens, moved):
            assert view[m.start:m.end] == m.text and m.text.lower() == american(t.text.lower())
        for a, b in zip(slots, moved_slots):
            assert (b.tok_start, b.tok_end, b.text) == (a.tok_start, a.tok_end, a.text)
            assert (b.start, b.end) == (moved[a.tok_start].start, moved[a.tok_end - 1].end)
        # what lies between tokens is kept
        gaps = lambda text, toks: [text[x.end:y.start] for x, y in zip(toks, toks[1:])]
        assert gaps(view, moved) == gaps(sentence, tokens)
        if not is_british(sentence.lower()):
            assert view is sentence
    view = american_view(british[0], tokenize(british[0]), [])[0]
    assert view == "The Color of the neighbor's CAR, organized; color-coded."


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


@pytest.mark.parametrize("us_word,uk_word,us", [
    ("color", "colour", "The men stated the color of the navy know-how was extra superior."),
    ("organize", "organise",
     "Officers stated they would organize a gathering to talk about the plan final yr."),
    ("analyze", "analyse",
     "The agency stated it will analyze the information and report its findings final yr."),
    ("center", "centre", "The firm opened a brand new center for analysis within the metropolis."),
    ("favor", "favour", "Voters stated they favor a quick finish to the warfare."),
    ("honor", "honour", "Officers stated the city would honor the troopers final night time."),
])
def test_british_text_restores_like_american(model, us_word, uk_word, us):
    """The same spun sentence with one word in British spelling: the same edits, and the
    same output with that word kept British."""
    uk = us.replace(us_word, uk_word)
    r_us, r_uk = model.restore_with_edits(us), model.restore_with_edits(uk)
    assert r_us.edits
    assert [(e.spun, e.restored) for e in r_uk.edits] == [(e.spun, e.restored)
                                                          for e in r_us.edits]
    assert r_uk.text == r_us.text.replace(us_word, uk_word)


def test_british_and_line_spelling():
    from despin.spelling import british, line_spelling

    assert british("Color, ORGANIZE and defense analyzed.") == \
        "Colour, ORGANISE and defence analysed."
    assert british("the plan") == "the plan"
    # words British English also writes so, in some sense: left alone, and no American evidence
    assert british("a computer program, a gas meter") == "a computer program, a gas meter"
    assert line_spelling("the colour of the program") == "british"
    assert [line_spelling(t) for t in ["the colour red", "the color red", "colour and color",
                                       "plain words"]] == ["british", "american", None, None]


def test_spell_edits_respells_restored_words_only_in_british_lines():
    from despin.edits import Alternative, Edit
    from despin.spelling import spell_edits

    line = "The colour of the protection finances was analysed."
    edits = [Edit(18, 28, "protection", "defense", 2.0,
                  alternatives=(Alternative("armor", 1.0),)),
             Edit(4, 10, "colour", "color", 1.0)]  # a spelling swap: a no-op once respelt
    (e,) = spell_edits(line, edits)
    assert (e.restored, e.alternatives) == ("defence", (Alternative("armour", 1.0),))
    assert spell_edits(line.replace("analysed", "analyzed"), edits[:1]) == edits[:1]
    assert spell_edits("The protection finances.", edits[:1]) == edits[:1]
    # the only British word is one an edit replaces (the spinner's, maybe): no evidence
    assert spell_edits("The colour of the protection finances.", edits) == edits


def test_shipped_default_restores_a_british_line_in_british_spelling(model):
    spun = "The protection minister said the {} finances would develop."
    for variant in ("defence", "defense"):
        r = model.restore_with_edits(spun.format(variant))
        assert r.text == f"The {variant} minister said the {variant} finances would develop."
        assert [e.restored for e in r.edits] == [variant]
        assert all(r.text[e.out_start:e.out_end] == e.restored for e in r.edits)
