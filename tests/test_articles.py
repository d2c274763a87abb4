"""A / an agreement around restored words (issue 15 §1.1)."""
from __future__ import annotations

import pytest

from despin.articles import article_edits, article_for
from despin.edits import Edit, Restoration


@pytest.mark.parametrize("word,article", [("big", "a"), ("enormous", "an"), ("hour", "an"),
                                          ("university", "a"), ("MBA", "an"), ("one", "a"),
                                          ("honest man", "an"), ("xqzzyv", None)])
def test_article_by_sound(word, article):
    assert article_for(word) == article


def _edits(text, pairs):
    out = []
    for spun, restored in pairs:
        i = text.index(spun)
        out.append(Edit(i, i + len(spun), spun, restored, 1.5, source="test"))
    return out


def test_articles_follow_restored_words():
    text = "He saw an enormous dog and a uncommon cat. An elephant came. A hour passed. AN ox."
    edits = _edits(text, [("enormous", "big"), ("uncommon", "rare"), ("elephant", "dog"),
                          ("hour", "year"), ("ox", "cow")])
    added = article_edits(text, edits)
    assert [(e.spun, e.restored, e.source, e.score) for e in added] == [
        ("an", "a", "article", 1.5), ("An", "A", "article", 1.5), ("AN", "A", "article", 1.5)]
    assert Restoration(text, edits + added).text == \
        "He saw a big dog and a rare cat. A dog came. A year passed. A cow."


def test_articles_left_alone():
    text = "a) enormous; banana enormous; an  enormous; the enormous"
    edits = _edits(text, [("enormous", "big")])
    assert article_edits(text, edits) == []  # "a)" is no article
    edits = [Edit(text.index("an  "), text.index("an  ") + 2, "an", "the", 1.0),
             Edit(text.index("an  ") + 4, text.index("an  ") + 12, "enormous", "big", 1.0)]
    assert article_edits(text, edits) == []  # an edit already touches the article


def test_restorer_applies_them(monkeypatch):
    from despin import Despinner

    model = Despinner.from_pretrained()
    text = "She bought an enormous house."

    class Engine:  # restores "enormous" to "big", whatever the sentence
        def restore_sentences(self, sentences, groups=None):
            return [_edits(s, [("enormous", "big")]) if "enormous" in s else []
                    for s in sentences]

    model._engine = Engine()
    assert model.restore(text + "\n" + text) == "She bought a big house.\nShe bought a big house."


def test_a_capital_a_inside_a_sentence_is_no_article():
    """"Vitamin A", "plan A": a capital A inside a sentence keeps its spelling before a
    vowel-initial restored word; a sentence's first "A" and an "A" in capitals agree."""
    text = "Vitamin A greatly helps; plan A uncommon in fact. A uncommon one. HE HAD A HUGE CAT."
    edits = _edits(text, [("greatly", "effectively"), ("uncommon in", "odd in"),
                          ("uncommon one", "odd one"), ("HUGE", "ODD")])
    added = article_edits(text, edits)
    assert [(e.start, e.spun, e.restored) for e in added] == [
        (text.index("A uncommon one"), "A", "An"), (text.index("A HUGE"), "A", "AN")]
    assert Restoration(text, edits + added).text == (
        "Vitamin A effectively helps; plan A odd in fact. An odd one. HE HAD AN ODD CAT.")


def test_the_article_agrees_with_the_word_after_a_deleted_filler():
    """A deleted filler takes the space before it; the article then stands before the next
    word: "an actually huge" → "a huge", "a actually old" → "an old"."""
    for text, expected in [("It is an actually huge one.", "It is a huge one."),
                           ("It is a actually old one.", "It is an old one."),
                           ("It is an actually old one.", "It is an old one.")]:
        i = text.index(" actually")
        deletion = Edit(i, i + len(" actually"), " actually", "", 2.0, source="test")
        assert Restoration(text, [deletion] + article_edits(text, [deletion])).text == expected


def test_an_acronym_takes_a_lower_case_article_and_list_marks_start_a_sentence():
    text = "She opened a three-toed sloth lab."
    edits = _edits(text, [("three-toed sloth", "AI")])
    assert Restoration(text, edits + article_edits(text, edits)).text == "She opened an AI lab."
    for lead in ["- ", "* ", "• ", "## ", "1) ", "2. ", "> "]:
        text = f"{lead}An automobile came.\nAn automobile came."
        edits = _edits(text, [("automobile", "car")])
        assert Restoration(text, edits + article_edits(text, edits)).text.startswith(
            f"{lead}A car came."), lead
