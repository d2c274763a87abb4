"""Capitals for restored words (despin.truecase, training.truecase): the case table's counts
and decisions, its file round trip, edits recased in place with offsets kept, WordNet's
proper nouns, and the command that builds a table."""
from __future__ import annotations

import gzip
import random
import subprocess
import sys

import pytest

from despin.edits import Alternative, Edit, Restoration
from despin.synonyms import wordnet_dir
from despin.truecase import (CaseTable, PackedStrings, PackedTable, truecase_edits,
                             wordnet_proper_forms)

from .conftest import REPO

# Prose written for these tests: "Congress" and "Pacific" always capitalised, "government"
# capitalised in one fixed phrase only, "doctor" and "cook" both ways, "Mr." always before a
# name, "states" capitalised only inside a name.
CORPUS = [
    "The bill went to Congress in May.",
    "Members of Congress voted on it.",
    "Ships crossed the Pacific Ocean twice.",
    "The Pacific coast was calm.",
    "Many said the Government of India had acted.",
    "The Government of India sent aid.",
    "People trust the government less now.",
    "The government said so.",
    "Voters asked the government for help.",
    "A doctor saw the Doctor Who fans.",
    "The doctor was late.",
    "We met Mr. Smith and Mr. Jones.",
    "Later Mr. Brown spoke to Mr. Green.",
    "Then Mr. White, Mr. Black and Mr. Gray came.",
    "THE HEADLINE SHOUTS CONGRESS IS HERE.",
    "They read of Captain Cook and a cook.",
    "Then the United States and the United States Navy agreed.",
    "Many states voted.",
]


@pytest.fixture(scope="module")
def table() -> CaseTable:
    return CaseTable.build(CORPUS, min_pair_count=1, min_followers=5)


@pytest.fixture(scope="module")
def full() -> CaseTable:
    return CaseTable.build(CORPUS, min_pair_count=1, min_followers=5, prune=False)


def test_counts_skip_sentence_starts_and_capital_headlines(full):
    # (commonest capitalised form, its count, the lower-case count)
    assert full.words["congress"] == ("Congress", 2, 0)  # the headline's CONGRESS not counted
    assert "the" not in full.words and "people" not in full.words  # first words only
    assert full.words["government"] == ("Government", 2, 3)
    assert full.left.get("of\tcongress") == (1, 0)
    # a word's own counts leave out its places inside a name; the pairs keep them
    assert full.words["states"] == ("States", 0, 1)
    assert full.left.get("united\tstates") == (2, 0)
    assert full.right.get("government\tof") == (2, 0)
    assert full.left.get("nowhere\tstates") is None
    assert full.after == {"Mr": (7, 7)}  # as written, never a sentence's first word


def test_pruning_keeps_every_pair_that_decides_alone(table, full):
    """The pruned table keeps only the pairs that turn a word's own decision, and decides as
    the full one wherever a single neighbour is known."""
    assert 0 < len(table.left) < len(full.left) and 0 < len(table.right) < len(full.right)
    for key, _ in full.left.items():
        p, w = key.split("\t")
        assert table.form(w, p, None) == full.form(w, p, None), key
    for key, _ in full.right.items():
        w, q = key.split("\t")
        assert table.form(w, "x", q) == full.form(w, "x", q), key


def test_decisions(table):
    assert table.form("congress") == "Congress"
    assert table.form("pacific", "the", "ocean") == "Pacific"
    # context decides where the corpus has the pair; else the word's own counts
    assert table.form("government", "the", "of") == "Government"
    assert table.form("government", "the", "said") == "government"
    assert table.form("government") == "government"  # odds (2 + 1) / (3 + 1) < 2
    assert table.form("states") == "states"
    assert table.form("states", "United", "and") == "States"
    assert table.form("doctor", "a", "saw") == "doctor"
    # after a word that a capital nearly always follows: the capitalised form
    assert table.form("doctor", "Mr", "spoke") == "Doctor"
    assert table.form("unknown", "Mr", None) == "unknown"  # no capitalised form known
    # never touches a word that is not all lower case
    assert table.form("iPhone") == "iPhone" and table.form("") == ""
    assert table.phrase("the congress", None, "voted") == "the Congress"
    assert table.phrase("Congress") == "Congress"


def test_ratio_is_a_setting(table):
    assert CaseTable(table.words, table.left, table.right, table.after,
                     min_ratio=0.1).form("government") == "Government"


def test_packed_maps_answer_as_dicts():
    """PackedTable and PackedStrings give what a dict of the same items gives, on random
    keys (accents and tabs included), for present and absent keys."""
    rng = random.Random(1)
    alphabet = "abcdeé\t ü"
    for size in (0, 1, 7, 300):
        keys = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
                for _ in range(size)}
        rows = {k: (rng.randint(0, 9), rng.randint(0, 9)) for k in keys}
        table = PackedTable(rows.items())
        assert len(table) == len(rows) and dict(table.items()) == rows
        strings = PackedStrings({k: k.upper() for k in keys})
        for k in list(keys) + ["zz", "", "a\tb\tc"]:
            assert table.get(k) == rows.get(k)
            assert strings.get(k) == (k.upper() if k in keys else None)
            assert (k in strings) == (k in keys)
    with pytest.raises(KeyError):
        PackedStrings({"a": "A"})["b"]


def test_wordnet_fallback():
    t = CaseTable(proper={"antarctica": "Antarctica", "new mexico": "New Mexico"})
    assert t.form("antarctica") == "Antarctica"
    assert t.phrase("new mexico", "in", None) == "New Mexico"
    assert t.form("bush") == "bush"


@pytest.mark.parametrize("name", ["table", "full"])
def test_file_round_trip_is_exact(name, request, tmp_path):
    table = request.getfixturevalue(name)
    a = table.save(tmp_path / "a.tsv.gz")
    back = CaseTable.load(a)
    assert (dict(back.words.items()), dict(back.left.items()), dict(back.right.items()), back.after,
            back.min_ratio, back.after_rate, back.pair_weight) == \
        (dict(table.words.items()), dict(table.left.items()), dict(table.right.items()),
         table.after,
         table.min_ratio, table.after_rate, table.pair_weight)
    assert back.save(tmp_path / "b.tsv.gz").read_bytes() == a.read_bytes()  # reproducible
    bad = tmp_path / "bad.tsv.gz"
    bad.write_bytes(gzip.compress(b"w\tcongress\tCongress\t2\t0\n"))
    with pytest.raises(ValueError, match="not a despin truecase table"):
        CaseTable.load(bad)
    bad.write_bytes(gzip.compress(b"#despin-truecase\t3\t2.0\t0.9\t1.0\t0.1\nw\tcongress\n"))
    with pytest.raises(ValueError, match="line 2"):
        CaseTable.load(bad)
    bad.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="not a readable truecase table"):
        CaseTable.load(bad)
    bad.write_bytes(a.read_bytes()[:-20])  # truncated
    with pytest.raises(ValueError, match="not a readable truecase table"):
        CaseTable.load(bad)
    with pytest.raises(FileNotFoundError):
        CaseTable.load(tmp_path / "none.tsv.gz")
    with pytest.raises(ValueError, match="no mid-sentence words"):
        CaseTable.build(["Hello.", ""])


def _edit(text: str, span: str, restored: str, alts: tuple[str, ...] = ()) -> Edit:
    a = text.index(span)
    return Edit(a, a + len(span), span, restored, 1.0,
                alternatives=tuple(Alternative(x, 0.5) for x in alts))


def test_edits_recased_in_place(table):
    text = "The bill went to the sexual intercourse. Then Mr. chef spoke; GREAT OCEAN calm."
    edits = [_edit(text, "sexual intercourse", "congress", ("sex",)),
             _edit(text, "chef", "cook"),
             _edit(text, "GREAT", "PACIFIC")]
    out = truecase_edits(text, edits, table)
    assert [e.restored for e in out] == ["Congress", "Cook", "PACIFIC"]
    assert out[0].alternatives[0].text == "sex"
    assert Restoration(text, out).text == \
        "The bill went to the Congress. Then Mr. Cook spoke; PACIFIC OCEAN calm."


def test_recasing_changes_only_the_case_of_restored_words(table):
    """Over many random edit sets: the output differs from the uncased one only in the case
    of restored text, edits keep their offsets and spun text, capitalised spun spans are
    left as they are."""
    rng = random.Random(0)
    vocab = ["congress", "pacific", "government", "doctor", "the", "of", "mr", "Mr.", "said",
             "India", "ocean", "x", "."]
    for _ in range(300):
        words = [rng.choice(vocab) for _ in range(rng.randint(1, 12))]
        text = " ".join(words)
        edits, pos = [], 0
        for w in words:
            a = text.index(w, pos)
            pos = a + len(w)
            if rng.random() < 0.4:
                edits.append(Edit(a, pos, w, rng.choice(vocab[:6] + ["new mexico", ""]), 1.0))
        out = truecase_edits(text, edits, table)
        assert [(e.start, e.end, e.spun) for e in out] == [(e.start, e.end, e.spun) for e in edits]
        for e, f in zip(edits, out):
            assert f.restored.lower() == e.restored.lower()
            if e.spun != e.spun.lower():
                assert f.restored == e.restored
        assert Restoration(text, out).text.lower() == Restoration(text, edits).text.lower()


@pytest.mark.skipif(not wordnet_proper_forms(), reason="Princeton WordNet is not installed")
def test_wordnet_proper_forms_from_the_installed_wordnet():
    wordnet_dir()
    proper = wordnet_proper_forms()
    assert proper["antarctica"] == "Antarctica"
    assert proper["new mexico"] == "New Mexico"
    assert "bush" not in proper and "turkey" not in proper  # also common nouns
    assert "government" not in proper


def test_command_builds_a_table_from_text(tmp_path):
    src = tmp_path / "prose.txt"
    src.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    out = tmp_path / "t" / "case.tsv.gz"
    r = subprocess.run([sys.executable, "-m", "training.truecase", "--text", str(src),
                        "--out", str(out), "--min-pair-count", "1"],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr
    t = CaseTable.load(out)
    assert t.words["congress"] == ("Congress", 2, 0) and t.form("congress") == "Congress"
    r = subprocess.run([sys.executable, "-m", "training.truecase", "--data",
                        str(tmp_path / "missing"), "--out", str(out)],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode != 0 and "no pairs folder" in r.stderr


def test_a_table_of_ones_own_in_place_of_the_folders(table, tmp_path):
    """``from_pretrained(truecase=...)`` and ``despin --truecase`` put another table in place
    of the shipped one (here one that never calls for capitals); a missing file is an error."""
    from despin.despinner import Despinner

    spun = "The bill now goes to sexual intercourse for a final vote."
    never = CaseTable(dict(table.words), min_ratio=1e9).save(tmp_path / "never.tsv.gz")
    model = Despinner.from_pretrained(truecase=never)
    assert model.truecase.min_ratio == 1e9 and model.recipe["truecase"] == str(never)
    assert model.restore(spun) == "The bill now goes to congress for a final vote."
    with pytest.raises(FileNotFoundError):
        Despinner.from_pretrained(truecase=tmp_path / "missing.tsv.gz")
    r = subprocess.run([sys.executable, "-m", "despin", "--quiet", "--truecase", str(never)],
                       input=spun + "\n", capture_output=True, text=True, cwd=REPO, timeout=600)
    assert r.returncode == 0 and r.stdout == "The bill now goes to congress for a final vote.\n"
    r = subprocess.run([sys.executable, "-m", "despin", "--truecase", str(tmp_path / "x.gz")],
                       input=spun, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert r.returncode == 2 and "cannot load model" in r.stderr
