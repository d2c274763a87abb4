"""The candidate index for every spinner family (issue 15): deletion candidates for the filler
words spinners add, long phrase slots, index configs that include a spinner's sources."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from despin.candidates import CandidateIndex
from despin.decoder import Arc
from despin.edits import apply_edits
from despin.encoder import EncoderOutput
from despin.fast import (DELETION_FEATURES, FEATURES, FastRestorer, FastSettings, SentenceLattice,
                         feature_matrix, static_features, STATIC_FEATURES)
from despin.lattice import MAX_SLOT_WORDS, build_slots
from despin.numbers import NUMBER_MIN, number_table, number_value, number_word
from despin.synonyms import load_source
from despin.text import tokenize
from training.encoder import swap_spans
from training.train import load_index_spec

from .conftest import REPO, write_table

FILLERS = "insert\tside\tcontext\tweight\nlate\tbefore\tnight\t1.0\nthese days\tbefore\tsaid\t1.0\n"


@pytest.fixture()
def index(tmp_path) -> CandidateIndex:
    fillers = tmp_path / "fillers.tsv"
    fillers.write_text(FILLERS)
    words = write_table(tmp_path / "words.tsv", [("recent", "late", "x"), ("tardy", "late", "x"),
                                                 ("because", "owing to the fact that", "x"),
                                                 ("if", "in the event that", "x")], "kind")
    return CandidateIndex([load_source({"name": "words", "kind": "tsv", "path": str(words),
                                        "inflect": False}),
                           load_source({"name": "fillers", "kind": "insertions",
                                        "path": str(fillers)})])


def test_insertions_source_reads_fillers_as_empty_originals(tmp_path):
    path = tmp_path / "f.tsv"
    path.write_text(FILLERS + "Late\tafter\tnight\t0.5\n2 more\tbefore\tdays\t1\n")
    src = load_source({"name": "f", "kind": "insertions", "path": str(path)})
    assert src.table == {"": ["late", "these days"]}  # lower case, once each, no digits
    assert not src.inflect


def test_deletion_candidate_is_kept_past_top_k(index):
    full = index.lookup("late", top_k=None)
    assert [c.text for c in full] == ["recent", "tardy", ""]
    assert full[-1].source == "fillers" and full[-1].channel > 0
    assert [c.text for c in index.lookup("late", top_k=1)] == ["recent", ""]
    assert [c.text for c in index.lookup("these days", top_k=5)] == [""]
    assert [c.text for c in index.lookup("Late", top_k=5)] == ["Recent", "Tardy", ""]


def test_long_phrase_slots_and_no_deletion_at_the_start(index):
    text = "These days we stay owing to the fact that it is late in the event that it rains"
    slots = {s.text: [c.text for c in s.candidates] for s in build_slots(text, index, top_k=5)}
    assert slots["owing to the fact that"] == ["because"]  # 5 words: beyond the old limit of 3
    assert slots["in the event that"] == ["if"]
    assert "These days" not in slots  # its deletion would leave "we stay" uncapitalised
    assert slots["late"] == ["recent", "tardy", ""]
    assert index.max_span_words == 5 <= MAX_SLOT_WORDS


@pytest.mark.parametrize("text, span, expected", [
    ("It rained last late night.", "late", "It rained last night."),
    ("The men these days said so.", "these days", "The men said so."),
    ("He came late", "late", "He came"),
])
def test_a_deletion_edit_takes_one_space(index, text, span, expected):
    slots = build_slots(text, index, top_k=5)
    k = next(i for i, s in enumerate(slots) if s.text == span)
    j = [c.text for c in slots[k].candidates].index("")
    x = SentenceLattice(text, tokenize(text), slots)
    edit = FastRestorer.edit(x, Arc(slots[k].tok_start, slots[k].tok_end, (), 1.0, k, j), 1.0)
    assert edit.restored == "" and edit.spun.strip() == span and edit.spun.count(" ") \
        == span.count(" ") + 1
    assert apply_edits(text, [edit]) == expected


def test_deletion_feature(index):
    (slot,) = [s for s in build_slots("a late night", index, top_k=5) if s.text == "late"]
    feats = static_features(slot)
    assert feats[:, STATIC_FEATURES.index("deletion")].tolist() == [0.0, 0.0, 1.0]


class _FlatLM:
    """An n-gram stand-in: every word −2 nats, so deleting a word gains 2."""

    @staticmethod
    def logprob(word, h1, h2):
        return -2.0


def _late_lattice(index, deletions: str, pool: int) -> tuple[SentenceLattice, list[np.ndarray]]:
    text = "It rained last late night"
    x = SentenceLattice(text, tokenize(text), build_slots(text, index, top_k=5))
    k = next(i for i, s in enumerate(x.slots) if s.text == "late")
    # the encoder ranks the deletion last, far below the copy
    scores = [[-1.0 - j if c.text else -20.0 for j, c in enumerate(s.candidates)]
              for s in x.slots]
    x.encoded = EncoderOutput([0.5] * len(x.tokens), scores)
    restorer = FastRestorer(index, None, None, _FlatLM(),
                            FastSettings(pool=pool, deletions=deletions))
    x.features = restorer._features(x)
    return x, x.features, k


def test_ngram_deletions_are_pooled_and_read_only_their_features(index):
    x, feats, k = _late_lattice(index, "ngram", pool=1)
    texts = [c.text for c in x.slots[k].candidates]
    j = texts.index("")
    pooled = [texts[i] for i in np.flatnonzero(~np.isnan(x.lm_delta[k]))]
    assert pooled == ["recent", ""]  # the encoder's best, and the deletion whatever its rank
    assert x.lm_delta[k][j] == pytest.approx(2.0)  # one word fewer under the flat model
    row = dict(zip(FEATURES, feats[k][j]))
    assert row["deletion"] == 1.0 and row["intercept"] == 1.0 and row["spun"] == 0.5
    assert all(row[f] == 0.0 for f in FEATURES if f not in DELETION_FEATURES)  # enc −20 gone
    other = dict(zip(FEATURES, feats[k][texts.index("recent")]))
    assert other["enc"] == -1.0 and other["zipf_spun"] > 3  # other candidates unchanged
    # it reaches the decoder on its unary score plus its n-gram gain, floored together
    restorer = FastRestorer(index, None, None, _FlatLM(), FastSettings(
        pool=1, deletions="ngram", weights={"deletion": -7.0}, floor=-6.0))
    for lm_weight, shortlisted in ((1.5, True), (0.4, False)):  # −7 + 3 > −6 > −7 + 0.8
        restorer.settings.lm_weight = lm_weight
        arcs = restorer.shortlist(x).get(k, [])
        assert any(a.cand == j for a in arcs) == shortlisted
        assert all(a.score == -7.0 for a in arcs if a.cand == j)  # its unary score, as fitted
    # the older scoring: the deletion competes for the pool on the encoder's score, and loses
    x, feats, k = _late_lattice(index, "features", pool=1)
    assert np.isnan(x.lm_delta[k][j]) and feats[k][j][FEATURES.index("enc")] == -20.0


def test_feature_matrix_keeps_only_deletion_features_for_a_deletion():
    rng = np.random.default_rng(0)
    static = rng.normal(size=(4, len(STATIC_FEATURES)))
    static[:, STATIC_FEATURES.index("deletion")] = [0.0, 1.0, 0.0, 1.0]
    args = (static, rng.normal(size=4), (0.3, 0.2, 0.1), rng.normal(size=4))
    old, new = feature_matrix(*args), feature_matrix(*args, deletions="ngram")
    keep = [FEATURES.index(f) for f in DELETION_FEATURES]
    drop = [i for i in range(len(FEATURES)) if i not in keep]
    assert np.array_equal(old[[0, 2]], new[[0, 2]])  # words put in: as before
    assert np.array_equal(old[[1, 3]][:, keep], new[[1, 3]][:, keep])
    assert not new[[1, 3]][:, drop].any() and old[[1, 3]][:, drop].any()
    with pytest.raises(ValueError, match="deletions must be one of"):
        FastSettings(deletions="encoder")


def test_deletion_fallback_matches_the_substitutions_false_edit_rate():
    from training.fit_fast import deletion_fallback

    rng = np.random.default_rng(1)
    weights = {"intercept": 0.7, "spun": 0.4, "enc": 1.0, "deletion": -11.0}
    rows, labels, groups = [], [], []
    for g in range(600):  # slots of two candidates each; a third of them spun
        spun = g % 3 == 0
        for j in range(2):
            rows.append({"intercept": 1.0, "spun": 0.0, "enc": float(rng.normal(-2.0, 1.5)),
                         "deletion": 0.0, "lm_delta": float(rng.normal())})
            labels.append(int(spun and j == 0))
            groups.append(g)
    for g in range(600, 1000):  # fillers in the text: the copy is right
        rows.append({"intercept": 1.0, "spun": float(rng.normal()), "enc": 0.0,
                     "deletion": 1.0, "lm_delta": float(rng.normal(3.0, 2.0))})
        labels.append(0)
        groups.append(g)
    w = deletion_fallback(rows, labels, groups, weights, 0.5)

    def total(r):
        return 0.7 + 0.4 * r["spun"] + r["enc"] + 0.5 * r["lm_delta"]

    copy_slots = [g for g in range(600) if g % 3]
    rate = np.mean([max(total(rows[2 * g]), total(rows[2 * g + 1])) > 0 for g in copy_slots])
    fired = np.mean([total(r) + w > 0 for r in rows[1200:]])
    assert 0.05 < rate < 0.5 and abs(fired - rate) <= 0.005
    # a right deletion, or none at all: the fitted weight stands
    assert deletion_fallback(rows, labels[:-1] + [1], groups, weights, 0.5) is None
    assert deletion_fallback(rows[:1200], labels[:1200], groups[:1200], weights, 0.5) is None


def test_deletion_scoring_follows_what_the_pairs_can_teach():
    from training.fit_fast import deletion_scoring

    swapped = [[{"original": "big", "spun": "huge"}], []]
    added = swapped + [[{"original": "", "spun": "late "}]]
    assert deletion_scoring("auto", swapped) == "ngram"  # no added word: nothing to learn from
    assert deletion_scoring("auto", added) == "features"
    assert deletion_scoring("ngram", added) == "ngram"
    assert deletion_scoring("features", swapped) == "features"
    with pytest.raises(ValueError, match="choice must be"):
        deletion_scoring("encoder", swapped)


def test_swap_spans_leave_out_the_spaces_of_an_insertion():
    swaps = [{"start": 10, "end": 15, "spun": "late ", "original": ""},
             {"start": 0, "end": 4, "spun": "Huge", "original": "Big"}]
    assert swap_spans(swaps) == [(10, 14, ""), (0, 4, "big")]


def test_index_config_includes_the_spinner_sources():
    spec = load_index_spec("index.yaml")
    from despin.synonyms import spinner_settings

    farm = spinner_settings()["sources"]
    assert [s["name"] for s in spec[:len(farm)]] == [s["name"] for s in farm]
    assert {"wordnet", "spinbot", "fillers"} <= {s["name"] for s in spec}
    for s in spec:
        if "path" in s:
            assert (REPO / "configs" / s["path"]).exists(), s["path"]
    assert all(s["index_only"] for s in spec[len(farm):]) and not any(
        "index_only" in s for s in spec[:len(farm)])
    assert load_index_spec(None) == farm
    assert load_index_spec([{"name": "x"}]) == [{"name": "x"}]


def test_index_config_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="index config"):
        load_index_spec(str(tmp_path / "nope.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("nothing: here\n")
    with pytest.raises(ValueError, match="sources"):
        load_index_spec(str(bad))


@pytest.fixture()
def numbers() -> CandidateIndex:
    return CandidateIndex([load_source({"name": "numbers", "kind": "numbers"}),
                           load_source({"name": "words", "kind": "wordnet", "min_zipf": 3.0})])


def test_numbers_get_their_same_value_spellings_only(numbers):
    text = "We waited 9 days, nine hours and a couple of weeks; 12 eggs, not 99."
    slots = {s.text: [c.text for c in s.candidates] for s in build_slots(text, numbers, 50)}
    assert slots["9"] == ["nine"] and slots["12"] == ["twelve"] and slots["99"] == ["ninety-nine"]
    assert "9" in slots["nine"] and "two" in slots["a couple of"]
    for span, cands in slots.items():
        for c in cands:
            if any(ch.isdigit() for ch in c + span):
                assert number_value(c) == number_value(span), (span, c)


@pytest.mark.parametrize("text", ["It cost $5 in 3.5 days.", "On 12 March 2020 at 12:30.",
                                  'She said "7 days" twice.', "Scores were 2-1 and 1,000.",
                                  "Page 1 of 100 <b>4</b>."])
def test_numbers_in_dates_amounts_quotes_and_markup_stay(numbers, text):
    assert not [s for s in build_slots(text, numbers, 50)
                if any(ch.isdigit() for ch in s.text)]


def test_numeric_value_covers_magnitudes():
    from despin.numbers import numeric_value

    cases = {"nine": 9, "9": 9, "a dozen": 12, "million": 10**6, "Millions": 10**6,
             "a million": 10**6, "One Billion": 10**9, "hundreds": 100, "a millions": None,
             "century": None, "meg": None, "myriad": None, "100": None}
    assert {k: numeric_value(k) for k in cases} == cases


def test_number_table_round_trips():
    table = number_table()
    for n in range(NUMBER_MIN, 100):
        assert number_value(str(n)) == n == number_value(number_word(n))
        assert table[str(n)] == [number_word(n)] and str(n) in table[number_word(n)]
    assert number_value("A Couple Of") == 2 and number_value("one hundred") is None
    assert number_value("²") is None and number_value("٣") is None  # digits, but not ASCII
    with pytest.raises(ValueError):
        number_word(100)


def test_vulgar_words_are_never_offered_unless_the_span_has_them(tmp_path):
    words = write_table(tmp_path / "w.tsv", [("fuck", "know", "x"), ("realize", "know", "x"),
                                             ("fucking", "damned", "x"), ("fucking", "bloody", "x"),
                                             ("fucking great", "fucking good", "x")], "kind")
    ix = CandidateIndex([load_source({"name": "w", "kind": "tsv", "path": str(words),
                                      "inflect": False})])
    assert [c.text for c in ix.lookup("know", top_k=None)] == ["realize"]
    assert ix.lookup("damned", top_k=None) == []
    assert ix.lookup("bloody", top_k=None) == []
    # the span says it already
    assert [c.text for c in ix.lookup("fucking good", top_k=None)] == ["fucking great"]


def test_inflected_candidates_are_english_words(tmp_path):
    """Re-inflecting an original to the span's form never yields a non-word: an original that
    is already inflected ("traveling") is not inflected again ("travelinged"), and a rule-based
    guess that wordfreq does not know ("hummused") is dropped."""
    words = write_table(tmp_path / "w.tsv", [("traveling", "travel", "x"),
                                             ("journey", "travel", "x"),
                                             ("hummus", "travel", "x")], "kind")
    ix = CandidateIndex([load_source({"name": "w", "kind": "tsv", "path": str(words),
                                      "inflect": True})])
    assert [c.text for c in ix.lookup("traveled", top_k=None)] == ["journeyed"]
    assert {c.text for c in ix.lookup("travel", top_k=None)} == {"traveling", "journey",
                                                                  "hummus"}
