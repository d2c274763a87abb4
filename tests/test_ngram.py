"""The fast core's n-gram models: the mixture of pocketsphinx's model and a model of prose
(despin.ngram), their save/load round trip, and the estimator (training.ngram, KenLM)."""
from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("pocketsphinx")

from despin.ngram import BOS, EOS, MixtureLM, NGramLM, load_lm, pocketsphinx_lm_path, save_lm
from training.ngram import LMPLZ_HELP, corpus_lines, estimate, find_lmplz


def _lmplz() -> str | None:
    return shutil.which("lmplz") or shutil.which("lmplz", path=str(Path(sys.executable).parent))


needs_lmplz = pytest.mark.skipif(_lmplz() is None, reason="KenLM's lmplz is not built "
                                                          "(make lmplz)")

# A hand-written trigram model (ARPA, log10): bigram "the cat" and trigram "<s> the cat" seen,
# everything else backs off. Its probabilities are worked out by hand in the tests below.
TINY_ARPA = """\\data\\
ngram 1=6
ngram 2=3
ngram 3=1

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.30103
-0.30103\t</s>\t0
-0.69897\tthe\t-0.30103
-1.0\tcat\t0
-1.0\tsat\t0

\\2-grams:
-0.30103\t<s> the\t0
-0.096910\tthe cat\t0
-0.30103\tcat sat\t0

\\3-grams:
-0.045757\t<s> the cat

\\end\\
"""


@pytest.fixture
def tiny_arpa(tmp_path) -> Path:
    path = tmp_path / "tiny.arpa"
    path.write_text(TINY_ARPA)
    return path


def test_an_arpa_model_is_read_in_nats_with_back_off(tiny_arpa):
    lm = NGramLM(tiny_arpa)
    ln10 = math.log(10)
    assert lm.logprob("cat", "the", BOS) == pytest.approx(-0.045757 * ln10, abs=1e-3)
    assert lm.logprob("cat", "the", "sat") == pytest.approx(-0.096910 * ln10, abs=1e-3)
    # "sat" after "the": no bigram, so back-off weight of "the" times P(sat)
    assert lm.logprob("sat", "the") == pytest.approx((-0.30103 - 1.0) * ln10, abs=1e-3)
    assert lm.logprob("dog", "the") == lm.oov  # not in the vocabulary


def test_the_mixture_interpolates_probabilities(tiny_arpa):
    base, prose = NGramLM(), NGramLM(tiny_arpa)
    mix = MixtureLM([base, prose], [3, 1])  # normalised to .75 / .25
    assert mix.weights == [0.75, 0.25]
    words = "the cat sat on the mat because the cat was tired".split()
    h1, h2 = BOS, None
    for w in words + [EOS]:
        a, b = base.logprob(w, h1, h2), prose.logprob(w, h1, h2)
        m = mix.logprob(w, h1, h2)
        assert m == pytest.approx(math.log(0.75 * math.exp(a) + 0.25 * math.exp(b)), abs=1e-9)
        assert min(a, b) - 1e-9 <= m <= max(a, b) + 1e-9
        h1, h2 = w, h1
    # components without memos of their own (as load_lm builds them) are read the same way,
    # whatever the case of the words and with hyphenated words scored by their parts
    bare = MixtureLM([NGramLM(memo=0), NGramLM(tiny_arpa, memo=0)], [3, 1])
    mixed = "The Cat sat on THE know-how mat".split()
    for w, h1, h2 in zip(mixed + [EOS], [BOS] + mixed, [None, BOS] + mixed):
        assert bare.logprob(w, h1, h2) == mix.logprob(w, h1, h2)
        assert bare.logprob(w, h1) == mix.logprob(w.lower(), h1.lower())
    # one component alone is that component
    alone = MixtureLM([prose], [2.0])
    assert alone.sentence_logprob(words) == pytest.approx(prose.sentence_logprob(words))


@pytest.mark.parametrize("weights", [[], [1.0], [0.5, 0.0], [1.0, -1.0]])
def test_the_mixture_rejects_bad_weights(tiny_arpa, weights):
    lm = NGramLM(tiny_arpa)
    with pytest.raises(ValueError):
        MixtureLM([lm, lm], weights)


def test_the_ngram_spec_round_trips_through_a_folder(tiny_arpa, tmp_path):
    assert isinstance(load_lm(None), NGramLM) and load_lm(None).path == pocketsphinx_lm_path()
    mix = load_lm([{"path": None, "weight": 0.5}, {"path": str(tiny_arpa), "weight": 0.5}])
    folder = tmp_path / "model"
    folder.mkdir()
    spec = save_lm(mix, folder)
    assert spec == [{"path": None, "weight": 0.5}, {"path": "tiny.arpa", "weight": 0.5}]
    assert (folder / "tiny.arpa").read_text() == TINY_ARPA
    back = load_lm(spec, resolve=lambda p: str(folder / p))
    words = "the cat sat".split()
    assert back.sentence_logprob(words) == pytest.approx(mix.sentence_logprob(words))
    assert save_lm(load_lm(None), folder) is None
    assert save_lm(NGramLM(tiny_arpa), folder) == "tiny.arpa"
    with pytest.raises(ValueError):
        load_lm([{"weight": 1.0}])
    with pytest.raises(FileNotFoundError):
        load_lm(str(tmp_path / "missing.arpa"))


def test_the_corpus_is_each_distinct_original_as_the_decoder_reads_it():
    originals = ["The organisation said: it's fine!", "The organisation said: it's fine!",
                 "— ", "Two  words."]
    assert list(corpus_lines(originals)) == ["the organization said it's fine", "two words"]


def test_estimate_checks_its_settings_before_running(tmp_path, monkeypatch):
    with pytest.raises(ValueError):
        estimate(["a b"], tmp_path / "x.arpa", order=3, prune=(1, 1, 1))
    with pytest.raises(ValueError):
        estimate(["a b"], tmp_path / "x.arpa", order=2, prune=(0, 1, 1))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(FileNotFoundError, match="make lmplz"):
        find_lmplz()
    assert "make lmplz" in LMPLZ_HELP


@needs_lmplz
def test_estimated_model_sums_to_one_and_prefers_seen_word_order(tmp_path):
    """lmplz's model of a small corpus, as pocketsphinx reads it: in every context the
    probabilities over the vocabulary (with </s> and <unk>) sum to 1."""
    sents = ["the cat sat on the mat", "the dog sat on the log", "a cat saw the dog",
             "the dog saw a cat on the mat", "a dog sat"] * 3
    path = tmp_path / "m.arpa"
    counts = estimate(sents, path, order=3, prune=())
    assert counts["1"] == 9 + 3  # its 9 words, <s>, </s>, <unk>
    lm = NGramLM(path, oov=-50.0)
    vocab = sorted({w for s in sents for w in s.split()}) + [EOS]
    for h1, h2 in [(BOS, None), ("the", BOS), ("sat", "cat"), ("on", "sat"), ("mat", "the")]:
        known = sum(math.exp(lm.logprob(w, h1, h2)) for w in vocab)
        unk = math.exp(lm._raw(["<unk>", h1] + ([h2] if h2 else [])))
        assert known + unk == pytest.approx(1.0, abs=2e-3), (h1, h2)
    assert (lm.sentence_logprob("the cat sat on the mat".split())
            > lm.sentence_logprob("mat the on sat cat the".split()) + 5)


@needs_lmplz
def test_training_ngram_writes_a_model_of_the_train_split_only(tmp_path):
    from datasets import Dataset, DatasetDict

    from training.ngram import main

    data = DatasetDict({
        "train": Dataset.from_dict({"original": ["The cat sat on the mat."] * 2
                                    + ["A dog barked loudly."]}),
        "test": Dataset.from_dict({"original": ["Zebras gallop quickly."]}),
    })
    data.save_to_disk(tmp_path / "pairs")
    out = main(["--data", str(tmp_path / "pairs"), "--out", str(tmp_path / "lm.arpa"),
                "--prune"])
    text = out.read_text()
    assert "\tcat\t" in text and "\tbarked\t" in text
    assert "zebras" not in text and "gallop" not in text
    with pytest.raises(ValueError):
        main(["--data", str(tmp_path / "pairs"), "--out", str(tmp_path / "x.arpa"),
              "--split", "validation"])


def test_with_prose_puts_a_users_model_in_place_of_the_folders(tiny_arpa, tmp_path):
    from despin.ngram import with_prose

    mine = str(tiny_arpa.resolve())
    shipped = [{"path": None, "weight": 0.5}, {"path": "prose.arpa", "weight": 0.5}]
    assert with_prose(shipped, tiny_arpa) == [{"path": None, "weight": 0.5},
                                              {"path": mine, "weight": 0.5}]
    assert with_prose(None, tiny_arpa, weight=0.3) == [{"path": None, "weight": 0.7},
                                                       {"path": mine, "weight": 0.3}]
    assert with_prose("own.arpa", tiny_arpa) == [{"path": mine, "weight": 1.0}]
    with pytest.raises(FileNotFoundError):
        with_prose(shipped, tmp_path / "missing.arpa")
    with pytest.raises(ValueError):
        with_prose(None, tiny_arpa, weight=1.0)


def test_the_shipped_default_mixes_in_its_prose_model_and_takes_a_users(tiny_arpa):
    from despin import Despinner
    from despin.despinner import DEFAULT_PATH

    shipped = Despinner.from_pretrained()
    lm = shipped.fast.lm
    assert isinstance(lm, MixtureLM) and len(lm.models) == 2
    assert lm.models[0].path == pocketsphinx_lm_path()
    assert lm.models[1].path.parent == DEFAULT_PATH and lm.models[1].path.suffix == ".arpa"
    assert lm.weights == pytest.approx([0.5, 0.5])
    mine = Despinner.from_pretrained(ngram=tiny_arpa).fast.lm
    assert mine.models[1].path == tiny_arpa.resolve() and mine.weights == lm.weights
    # the users' model changes the fluency scores: "cat" after "the" is likelier in it
    assert mine.logprob("cat", "the") > lm.logprob("cat", "the")
    with pytest.raises(FileNotFoundError):
        Despinner.from_pretrained(ngram=tiny_arpa.parent / "missing.arpa")
    with pytest.raises(ValueError, match="fast-core"):  # the searcher has no n-gram model
        Despinner.from_pretrained(DEFAULT_PATH / "accurate", ngram=tiny_arpa)
    with pytest.raises(TypeError, match="unknown setting"):
        Despinner.from_pretrained(ngram=tiny_arpa, no_such_setting=1)


def test_the_cli_reports_a_missing_ngram_model(tmp_path, capsys):
    from despin.cli import main

    text = tmp_path / "in.txt"
    text.write_text("A uncommon second.\n")
    assert main([str(text), "--ngram", str(tmp_path / "missing.arpa"), "--quiet"]) == 2
    assert "no n-gram model at" in capsys.readouterr().err


def test_text_units_cut_files_into_the_sentences_restoration_reads(tmp_path):
    from training.ngram import text_units

    f = tmp_path / "a.txt"
    f.write_text("Mr. Smith arrived. He said hello!\n\nA second paragraph here.\n")
    assert list(text_units([f])) == ["Mr. Smith arrived.", "He said hello!",
                                     "A second paragraph here."]


@needs_lmplz
def test_training_ngram_reads_plain_text_files(tmp_path):
    from training.ngram import main

    f = tmp_path / "archive.txt"
    f.write_text("The council approved the budget. The council met again.\n" * 3)
    out = main(["--text", str(f), "--out", str(tmp_path / "mine.arpa"), "--prune"])
    lm = NGramLM(out)
    assert lm.logprob("budget", "the") > lm.logprob("council", "budget")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe caf\xe9\n")
    with pytest.raises(ValueError, match="bad.txt: not UTF-8"):
        main(["--text", str(bad), "--out", str(tmp_path / "x.arpa")])
    empty = tmp_path / "empty.txt"
    empty.write_text("\n—\n")
    with pytest.raises(ValueError, match="no words"):
        main(["--text", str(empty), "--out", str(tmp_path / "y.arpa")])


def test_save_lm_keeps_two_files_of_one_name_apart(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "prose.arpa").write_text(TINY_ARPA)
    (b / "prose.arpa").write_text(TINY_ARPA.replace("-1.0\tcat\t0", "-0.5\tcat\t0"))
    mix = load_lm([{"path": None, "weight": 0.5}, {"path": str(a / "prose.arpa"), "weight": 0.25},
                   {"path": str(b / "prose.arpa"), "weight": 0.25}])
    folder = tmp_path / "model"
    folder.mkdir()
    spec = save_lm(mix, folder)
    assert [c["path"] for c in spec] == [None, "prose.arpa", "prose-2.arpa"]
    back = load_lm(spec, resolve=lambda p: str(folder / p))
    for w, h in [("cat", "sat"), ("cat", "the"), ("the", BOS)]:
        assert back.logprob(w, h) == pytest.approx(mix.logprob(w, h))


@pytest.mark.parametrize("spec", [[{"weight": 1}], {"path": None, "weight": 1}, [], "",
                                  [{"path": None, "weight": "x"}]])
def test_malformed_ngram_entries_are_refused_alike(tiny_arpa, spec):
    from despin.ngram import with_prose

    with pytest.raises(ValueError, match="fast.ngram"):
        with_prose(spec or [], tiny_arpa)
    if spec != "":
        with pytest.raises(ValueError, match="fast.ngram"):
            load_lm(spec)
    with pytest.raises(ValueError):
        MixtureLM([NGramLM(tiny_arpa)], [float("inf")])


def test_a_folder_reads_its_own_ngram_file_never_one_beside_the_caller(tiny_arpa, tmp_path,
                                                                      monkeypatch):
    import json

    from despin import Despinner

    folder = tmp_path / "saved"
    Despinner.from_pretrained(ngram=tiny_arpa).save_pretrained(folder)
    cfg = json.loads((folder / "despin.json").read_text())
    assert cfg["fast"]["ngram"][1]["path"] == "tiny.arpa" and (folder / "tiny.arpa").exists()
    monkeypatch.chdir(tmp_path)  # tiny.arpa lies here too, beside the caller
    assert Despinner.from_pretrained(folder).fast.lm.models[1].path == folder / "tiny.arpa"
    (folder / "tiny.arpa").unlink()
    with pytest.raises(FileNotFoundError, match=str(folder)):
        Despinner.from_pretrained(folder).fast


def test_small_corpora_are_not_pruned_by_default():
    from training.ngram import PRUNE_FROM_WORDS, default_prune

    assert default_prune(40_000, 3) == ()
    assert default_prune(PRUNE_FROM_WORDS, 3) == (0, 1, 1)
    assert default_prune(2 * PRUNE_FROM_WORDS, 2) == (0, 1)


def test_a_failed_estimate_leaves_the_old_model_in_place(tmp_path):
    out = tmp_path / "good.arpa"
    out.write_text(TINY_ARPA)
    not_a_program = tmp_path / "lmplz"
    not_a_program.write_text("no")
    with pytest.raises(RuntimeError, match="cannot run lmplz"):
        estimate(["a b c"], out, lmplz=str(not_a_program))
    assert out.read_text() == TINY_ARPA


@needs_lmplz
def test_lmplz_errors_end_in_one_line(tmp_path):
    from training.ngram import main

    f = tmp_path / "t.txt"
    f.write_text("The council met.\n")
    with pytest.raises(ValueError, match="lmplz failed") as err:
        main(["--text", str(f), "--out", str(tmp_path / "x.arpa"), "--memory", "1Q"])
    assert "\n" not in str(err.value)
    assert not (tmp_path / "x.arpa").exists()
