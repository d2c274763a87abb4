"""Metrics of training.evaluate on hand-computed cases, and the baselines of despin.baselines."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from despin.baselines import MOBY_ONLY, InverseThesaurus, identity
from despin.candidates import CandidateIndex
from training.evaluate import (
    changed_share,
    edits,
    evaluate_restorer,
    format_table,
    load_pairs,
    load_pairs_and_swaps,
    load_tortured,
    match_swaps,
    resolve_restorer,
    score,
    score_tortured,
    swap_edits,
)
from despin.text import words

REPO = Path(__file__).resolve().parent.parent

# spun:  we(0) saw(1) a(2) big(3) navy(4) and(5) stated(6) it(7)
SPUN = "we saw a big navy and stated it"
ORIG = "we saw a large military and said it"
# gold = {(3,4,large), (4,5,military), (6,7,said)}: "big navy" -> "large military" is a 2:2
# replacement, split word by word.


# -- edits -------------------------------------------------------------------------------------
def test_edits_split_equal_length_replacements():
    assert edits("an uncommon second", "a rare moment") == [
        (0, 1, ("a",)), (1, 2, ("rare",)), (2, 3, ("moment",))]
    assert edits(SPUN, ORIG) == [(3, 4, ("large",)), (4, 5, ("military",)), (6, 7, ("said",))]


def test_edits_unequal_insert_delete_and_case():
    # 3 words -> 1 word stays one edit
    assert edits("we fight in opposition to war", "we fight against war") == [
        (2, 5, ("against",))]
    assert edits("a b", "a x b") == [(1, 1, ("x",))]          # insertion
    assert edits("a x b", "a b") == [(1, 2, ())]              # deletion
    assert edits("The cat", "the cat") == [(0, 1, ("the",))]  # case-sensitive
    assert edits("same text.", "same text.") == []


# -- score -------------------------------------------------------------------------------------
def test_score_one_correct_one_wrong_one_missed():
    # predicted = {(3,4,large) correct, (4,5,army) wrong}; (6,7,said) missed.
    # TP=1, P=1/2, R=1/3, F0.5 = 1.25·(1/2)(1/3) / (0.25·1/2 + 1/3) = (5/24)/(11/24) = 5/11
    m = score([SPUN], ["we saw a large army and stated it"], [ORIG])
    assert (m["tp"], m["n_pred"], m["n_gold"]) == (1, 2, 3)
    assert m["precision"] == pytest.approx(1 / 2)
    assert m["recall"] == pytest.approx(1 / 3)
    assert m["f05"] == pytest.approx(5 / 11)
    # spun words: big, navy, stated (3); exactly restored: big -> large (1)
    assert m["spun_restored"] == pytest.approx(1 / 3)
    # clean words: we saw a and it (5); none touched
    assert m["clean_changed"] == 0.0


def test_score_clean_changed_and_micro_average():
    # "they" changes a clean word: predicted 4 edits, 3 correct -> P=3/4, R=3/3=1,
    # F0.5 = 1.25·(3/4)·1 / (0.25·3/4 + 1) = (15/16)/(19/16) = 15/19; clean changed 1 of 5.
    m = score([SPUN], ["they saw a large military and said it"], [ORIG])
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["recall"] == 1.0
    assert m["f05"] == pytest.approx(15 / 19)
    assert m["clean_changed"] == pytest.approx(1 / 5)
    assert m["spun_restored"] == 1.0
    # Micro-average over two sentences: sentence 1 TP=1/pred 2/gold 3, sentence 2 TP=1/pred 1/
    # gold 1 ("huge" -> "big") -> P = 2/3, R = 2/4, F0.5 = 1.25·(2/3)(1/2)/(0.25·2/3 + 1/2) = 5/8
    m = score([SPUN, "a huge dog ."], ["we saw a large army and stated it", "a big dog ."],
              [ORIG, "a big dog ."])
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(1 / 2)
    assert m["f05"] == pytest.approx(5 / 8)


def test_score_conventions_nothing_predicted_and_identical():
    # Nothing predicted: P = 1 by convention, R = 0/3, F0.5 = 0.
    m = score([SPUN], [SPUN], [ORIG])
    assert (m["precision"], m["recall"], m["f05"]) == (1.0, 0.0, 0.0)
    assert m["spun_restored"] == 0.0 and m["clean_changed"] == 0.0
    # Identical clean text left alone: nothing gold, nothing predicted -> P = R = F0.5 = 1.
    m = score([ORIG], [ORIG], [ORIG])
    assert (m["precision"], m["recall"], m["f05"]) == (1.0, 1.0, 1.0)
    assert m["chrf"] == pytest.approx(100.0) and m["bleu"] == pytest.approx(100.0)
    # Clean text changed: nothing gold -> R = 1, P = 0/1, F0.5 = 0; 1 of 8 clean words changed.
    m = score([ORIG], [ORIG.replace("saw", "see")], [ORIG])
    assert (m["precision"], m["recall"], m["f05"]) == (0.0, 1.0, 0.0)
    assert m["clean_changed"] == pytest.approx(1 / 8)


def test_score_length_mismatch():
    with pytest.raises(ValueError):
        score(["a"], ["a", "b"], ["a"])
    with pytest.raises(ValueError):
        score(["a"], ["a"], ["a"], swaps=[[], []])


# -- swap edits ---------------------------------------------------------------------------------
# original: "the men said if big crowds came in the truck"
MERGED = "the men these days said in the event that large crowds came in the motor truck"


def _swap(text: str, spun: str, original: str) -> dict:
    start = text.index(spun)
    return {"start": start, "end": start + len(spun), "original": original}


MERGED_SWAPS = [_swap(MERGED, "these days ", ""), _swap(MERGED, "in the event that", "if"),
                _swap(MERGED, "large", "big"), _swap(MERGED, "the motor truck", "the truck")]


def test_swap_edits_tokens_trimmed_and_whitespace_left_out():
    assert words(MERGED)[2:4] == ["these", "days"]
    assert swap_edits(MERGED, MERGED_SWAPS) == [
        (2, 4, ()), (5, 9, ("if",)), (9, 10, ("big",)), (14, 15, ())]
    # an insertion (empty span) sits before the next token; a swap that changes nothing drops
    assert swap_edits("we met", [{"start": 3, "end": 3, "original": "then "},
                                 {"start": 0, "end": 2, "original": "we"}]) == [(1, 1, ("then",))]
    with pytest.raises(ValueError, match="token boundaries"):
        swap_edits("we met", [{"start": 1, "end": 2, "original": "x"}])


def test_swap_edits_credit_what_diff_edits_merge():
    orig = "the men said if big crowds came in the truck"
    half = "the men said if large crowds came in the truck"  # all but large -> big
    m = score([MERGED], [half], [orig], swaps=[MERGED_SWAPS])
    # the diff merges "in the event that large" -> "if big" into one gold edit: half of it
    # restored is one wrong edit and one missed
    assert (m["tp"], m["n_pred"], m["n_gold"]) == (2, 3, 3)
    # three of the four swaps are reproduced, each one edit, none wrong
    assert (m["swap_tp"], m["swap_n_pred"], m["swap_n_gold"]) == (3, 3, 4)
    assert m["swap_precision"] == 1.0 and m["swap_recall"] == pytest.approx(3 / 4)
    full = score([MERGED], [orig], [orig], swaps=[MERGED_SWAPS])
    assert (full["swap_tp"], full["swap_n_pred"]) == (4, 4) and full["swap_f05"] == 1.0


def test_match_swaps_counts_wrong_and_invented_edits():
    src = words(MERGED)
    gold = swap_edits(MERGED, MERGED_SWAPS)
    assert match_swaps(src, src, gold) == (0, 0)  # nothing predicted
    # "large" -> "huge" is one wrong edit, "came" -> "went" an invented one; "these days"
    # deleted is right
    out = words("the men said in the event that huge crowds went in the motor truck")
    assert match_swaps(src, out, gold) == (1, 3)
    # a wrong rewrite of a whole stretch is one predicted edit, whatever its length
    out = words("the men these days said lots of folk came in the motor truck")
    assert match_swaps(src, out, gold) == (0, 1)


def test_match_swaps_credits_only_minimal_alignments():
    """An output one token edit away from a gold edit gets no credit for it (a review found
    all four credited at a cost below 1)."""
    from training.evaluate import swap_counts

    big = [_swap("a big dog barked", "big", "large")]
    assert swap_counts("a big dog barked", "a large dog barked", big) == (1, 1, 1)
    for out in ("a big large dog barked", "a large big dog barked", "a dog large barked"):
        tp, _, _ = swap_counts("a big dog barked", out, big)
        assert tp == 0, out
    very = [_swap("a very big dog", "very ", "")]
    assert swap_counts("a very big dog", "a very dog", very) == (0, 1, 1)
    assert swap_counts("a very big dog", "a big dog", very) == (1, 1, 1)
    # four chained swaps whose effects cancel are not found in an unchanged output
    chain = "t0 t1 t2 t3 t4"
    swaps = [_swap(chain, "t0 ", "")] + [_swap(chain, f"t{k}", f"t{k - 1}") for k in (1, 2, 3)]
    assert swap_counts(chain, chain, swaps)[:2] == (0, 0)


def test_match_swaps_counts_other_changes_as_diff_edits_do():
    """A run of other changes is one edit, but n tokens replaced by n others are n."""
    from training.evaluate import swap_counts

    big = [_swap("a big dog barked", "big", "large")]
    assert swap_counts("a big dog barked", "a large cat yelped", big) == (1, 3, 1)
    assert swap_counts("a big dog barked", "the large cat", big) == (1, 3, 1)
    assert match_swaps(["a", "b"], ["a", "b"], [(1, 1, ())]) == (0, 0)  # an empty gold edit


@pytest.mark.parametrize("swap, error", [
    ({"start": 3, "end": 2, "original": "x"}, ValueError),
    ({"start": 0, "end": 99, "original": "x"}, ValueError),
    ({"start": 1, "end": 1, "original": "x "}, ValueError),  # inside "we"
    ({"start": 0, "end": 2, "original": None}, TypeError)])
def test_swap_edits_checks_its_input(swap, error):
    with pytest.raises(error):
        swap_edits("we met", [swap])


def test_a_sample_that_misses_families_warns(tmp_path):
    from datasets import Dataset, DatasetDict

    rows = {"spun": [f"s{i}" for i in range(8)], "original": [f"o{i}" for i in range(8)],
            "family": ["a", "b", "c", "d"] * 2}  # every window spun by every family, in turn
    DatasetDict({"test": Dataset.from_dict(rows)}).save_to_disk(str(tmp_path / "p"))
    with pytest.warns(UserWarning, match=r"\['b', 'd'\]"):
        load_pairs(tmp_path / "p", "test", 4)  # rows 0, 2, 4, 6: families a and c
    assert load_pairs(tmp_path / "p", "test", 2, family="b")[0] == ["s1", "s5"]


def test_load_pairs_and_swaps_follows_load_pairs(tmp_path):
    from datasets import Dataset, DatasetDict

    rows = {"spun": [f"s{i}" for i in range(5)], "original": [f"o{i}" for i in range(5)],
            "swaps": [[{"start": 0, "end": 2, "original": f"o{i}"}] for i in range(5)]}
    DatasetDict({"test": Dataset.from_dict(rows)}).save_to_disk(str(tmp_path / "p"))
    spun, original = load_pairs(tmp_path / "p", "test", 2)
    spun2, original2, swaps = load_pairs_and_swaps(tmp_path / "p", "test", 2)
    assert (spun2, original2) == (spun, original)
    assert [s[0]["original"] for s in swaps] == ["o" + x[1:] for x in spun]
    no_swaps = {k: v for k, v in rows.items() if k != "swaps"}
    DatasetDict({"test": Dataset.from_dict(no_swaps)}).save_to_disk(str(tmp_path / "q"))
    assert load_pairs_and_swaps(tmp_path / "q")[2] is None
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("spun\toriginal\na\tb\n")
    assert load_pairs_and_swaps(tsv) == (["a"], ["b"], None)


def test_evaluate_restorer_identity_and_clean_text_changed():
    m = evaluate_restorer(identity, [SPUN], [ORIG], progress=False)
    assert m["precision"] == 1.0 and m["f05"] == 0.0 and m["clean_text_changed"] == 0.0
    # A restorer that rewrites "saw" everywhere changes 1 of 8 words of the clean side.
    m = evaluate_restorer(lambda xs: [x.replace("saw", "see") for x in xs], [SPUN], [ORIG],
                          batch_size=1, progress=False)
    assert m["clean_text_changed"] == pytest.approx(1 / 8)
    assert changed_share(["a b c d"], ["a b c d"]) == 0.0


# -- tortured phrases ----------------------------------------------------------------------------
def test_load_and_score_tortured(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_text("tortured\texpected\tn_papers\tflags\n"
                 "region under the bend\tarea under the curve (AUC)\t40\t\n"
                 "counterfeit consciousness\tartificial intelligence\t120\t\n"
                 "irregular woodland\trandom forest\t3\t\n"
                 "profound learning\tdeep learning (DL)\t9\tsingle_word\n")
    rows = load_tortured(p)
    assert [r["expected"] for r in rows] == [
        "area under the curve", "artificial intelligence", "random forest", "deep learning"]
    assert rows[0]["n_papers"] == 40 and rows[3]["flags"] == "single_word"

    fixes = {"region under the bend": "Area under  the curve", "irregular woodland": "random forest"}
    m = score_tortured(lambda xs: [fixes.get(x, x) for x in xs], rows, progress=False)
    # all: 2 of 4 right (case/space-insensitive); n_papers >= 10: 1 of 2
    assert m["tortured_all"] == pytest.approx(0.5) and m["tortured_n"] == 4
    assert m["tortured_10"] == pytest.approx(0.5) and m["tortured_n10"] == 2
    # a trailing abbreviation in the output is ignored like the expected side's
    fixes["profound learning"] = "deep learning (DL)"
    m = score_tortured(lambda xs: [fixes.get(x, x) for x in xs], rows, progress=False)
    assert m["tortured_all"] == pytest.approx(0.75) and "phrase_clean_changed" not in m
    # clean=True: the expected phrases fed in; 1 of 10 words changed here
    spoil = {"random forest": "random woodland"}
    m = score_tortured(lambda xs: [spoil.get(x, x) for x in xs], rows, progress=False, clean=True)
    assert m["phrase_clean_changed"] == pytest.approx(1 / 10)
    sample = score_tortured(identity, rows, limit=2, progress=False)
    assert sample["tortured_n"] == 2 and sample == score_tortured(identity, rows, limit=2,
                                                                  progress=False)
    with pytest.raises(FileNotFoundError, match="DESPIN_TORTURED"):
        load_tortured(tmp_path / "missing.tsv")


def test_format_table():
    table = format_table({"identity": score([SPUN], [SPUN], [ORIG]),
                          "inverse-thesaurus": {"f05": 0.25, "tortured_all": 0.1}})
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["restorer", "P", "R", "F0.5"]
    assert "identity" in lines[2] and "inverse-thesaurus" in lines[3] and "0.250" in lines[3]
    assert "–" in lines[3] and "10.0%" in lines[3]


# -- baselines -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def inverse() -> InverseThesaurus:
    # Moby alone (fixed, fast); 0.4 is the tuned threshold for a Moby-only index.
    return InverseThesaurus(CandidateIndex.from_config(MOBY_ONLY), min_prior=0.4)


def test_identity():
    texts = ["a", "b  c"]
    assert identity(texts) == texts


def test_inverse_thesaurus_restores_obvious_case(inverse):
    assert inverse(["The automobile was fast."]) == ["The car was fast."]
    # byte-for-byte outside the replaced span, capitalisation kept
    assert inverse(["Automobile  sales ,fell\tagain !"]) == ["Car  sales ,fell\tagain !"]


def test_inverse_thesaurus_leaves_protected_text_alone(inverse):
    text = ('She said "the automobile broke" on 12 May 2019, near Automobile Row; '
            'automobile-2000 and “automobile”.')
    assert inverse([text]) == [text]
    assert inverse([""]) == [""]


def test_inverse_thesaurus_thresholds_are_arguments(inverse):
    never = InverseThesaurus(inverse.index, min_prior=1.01)
    assert never(["The automobile was fast."]) == ["The automobile was fast."]


# -- data and CLI ----------------------------------------------------------------------------------
def test_resolve_restorer():
    assert resolve_restorer("identity") is identity
    assert resolve_restorer("despin.baselines:identity") is identity  # one-argument callable
    with pytest.raises(ValueError):
        resolve_restorer("nonsense")


def test_load_pairs_tsv(tmp_path):
    p = tmp_path / "p.tsv"
    p.write_text(f"spun\toriginal\n{SPUN}\t{ORIG}\nx y\tx y\n")
    assert load_pairs(p, limit=1) == ([SPUN], [ORIG])


def test_cli_on_saved_datasetdict(tmp_path):
    import datasets

    pairs = {"spun": [SPUN, "The automobile was fast.", "a huge dog ."],
             "original": [ORIG, "The car was fast.", "a big dog ."],
             "swaps": [[_swap(SPUN, "big", "large"), _swap(SPUN, "navy", "military"),
                        _swap(SPUN, "stated", "said")],
                       [_swap("The automobile was fast.", "automobile", "car")],
                       [_swap("a huge dog .", "huge", "big")]]}
    datasets.DatasetDict({
        "train": datasets.Dataset.from_dict(pairs),
        "test": datasets.Dataset.from_dict(pairs),
    }).save_to_disk(str(tmp_path / "pairs"))
    tortured = tmp_path / "t.tsv"
    tortured.write_text("tortured\texpected\tn_papers\tflags\n"
                        "profound learning\tdeep learning (DL)\t12\t\n")
    out = subprocess.run(
        [sys.executable, "-m", "training.evaluate", "--restorer", "identity",
         "--restorer", "inverse-thesaurus", "--data", str(tmp_path / "pairs"),
         "--tortured", str(tortured), "--no-progress"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "identity" in out.stdout and "inverse-thesaurus" in out.stdout
    assert "F0.5" in out.stdout and "3 pairs" in out.stdout
    # the pairs' recorded swaps give the swap columns: identity's swap P 1, R 0, F0.5 0
    header = next(line for line in out.stdout.splitlines() if line.startswith("restorer"))
    assert "swap F0.5" in header
    row = next(line for line in out.stdout.splitlines() if line.startswith("identity"))
    assert row.split()[4:7] == ["1.000", "0.000", "0.000"]


def test_benchmark_rows_are_built_only_when_asked(tmp_path):
    """benchmarks/quality.py: the fine-tuned rows score with the given folder alone (it reads
    the candidate-augmented input), and no row is built before it is asked for."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("quality", REPO / "benchmarks" / "quality.py")
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    made = quality.restorers(None, None)
    assert list(made) == ["identity", "inverse-thesaurus", "lm-lattice", "hand-weighted",
                          "search", "default", "accurate"]
    made = quality.restorers(str(tmp_path / "t5"), None, str(tmp_path / "lora"))
    assert list(made)[3:5] == ["t5-scratch", "smollm2-lora"]
    lora = made["smollm2-lora"]()
    assert [(s.model, s.uses_source) for s in lora.scorer_specs] == [(str(tmp_path / "lora"), True)]
    assert lora.settings.top_k == 5 and lora._scorers is None  # nothing loaded yet


def test_load_pairs_selects_a_family(tmp_path):
    import datasets

    from training.evaluate import load_pairs

    rows = {"spun": ["a1", "b1", "a2", "b2"], "original": ["A1", "B1", "A2", "B2"],
            "family": ["x", "y", "x", "y"]}
    datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows)}).save_to_disk(tmp_path / "d")
    assert load_pairs(tmp_path / "d", "test", None, "y") == (["b1", "b2"], ["B1", "B2"])
    assert load_pairs(tmp_path / "d", "test", None) == (rows["spun"], rows["original"])
    datasets.DatasetDict({"test": datasets.Dataset.from_dict(
        {"spun": ["a"], "original": ["A"]})}).save_to_disk(tmp_path / "e")
    with pytest.raises(KeyError, match="family"):
        load_pairs(tmp_path / "e", "test", None, "y")


def test_cli_family_flag_and_bad_rows(tmp_path, capsys):
    """``--family`` (which the warning for evenly spaced pairs recommends) scores one family's
    pairs; a TSV row without a tab and a class that needs arguments are one-line errors."""
    import datasets

    from training.evaluate import main

    rows = {"spun": ["a big cat", "the large dog", "a huge cat", "the old dog"],
            "original": ["a big cat", "the big dog", "a huge cat", "the old man"],
            "family": ["x", "y", "x", "y"]}
    datasets.DatasetDict({"test": datasets.Dataset.from_dict(rows)}).save_to_disk(tmp_path / "d")
    out = main(["--restorer", "identity", "--data", str(tmp_path / "d"), "--family", "x",
                "--tortured", "none", "--no-progress"])
    assert out["identity"]["n"] == 2 and out["identity"]["recall"] == 1.0  # nothing was spun
    assert "2 pairs from" in capsys.readouterr().out
    out = main(["--restorer", "identity", "--data", str(tmp_path / "d"), "--family", "y",
                "--tortured", "none", "--no-progress"])
    assert out["identity"]["n"] == 2 and out["identity"]["recall"] == 0.0
    bad = tmp_path / "bad.tsv"
    bad.write_text("spun\toriginal\na b\tc d\nno tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.tsv line 3: no original"):
        main(["--restorer", "identity", "--data", str(bad), "--tortured", "none"])
    with pytest.raises(ValueError, match="cannot be made without arguments"):
        main(["--restorer", "despin:Despinner", "--data", str(tmp_path / "d"),
              "--tortured", "none"])
