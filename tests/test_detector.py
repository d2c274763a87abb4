"""The spun-word detector: token alignment, the probe, its place in the lattice and the
calibration, and `python -m training.detector`."""
from __future__ import annotations

import json

import numpy as np
import pytest

from despin.calibration import candidate_features
from despin.despinner import Despinner, ScorerSpec
from despin.detector import SpunDetector, word_features, word_token_ends
from despin.search import SearchSettings
from despin.synonyms import DEFAULT_SOURCES
from despin.text import tokenize
from tests.test_calibration import PAIRS
from tests.test_despinner import index  # noqa: F401  (fixture)
from training.detector import auc, between, main, word_rows
from training.evaluate import evenly_spaced


def test_word_token_ends_aligns_words_with_subword_tokens():
    text = "a uncommon know-how, here"
    words = tokenize(text)  # a | uncommon | know-how | , | here
    # tokens carry their leading space, "uncommon" and "know-how" are split in pieces
    offsets = [(0, 1), (1, 4), (4, 10), (10, 15), (15, 16), (16, 19), (19, 20), (20, 25)]
    assert [text[a:b] for a, b in offsets] == ["a", " un", "common", " know", "-", "how", ",",
                                               " here"]
    assert word_token_ends(offsets, words) == [(0, 0), (1, 2), (3, 5), (6, 6), (7, 7)]
    assert word_token_ends([], words) == [None] * 5


def test_word_features_read_before_end_and_after():
    hidden = np.arange(6 * 2, dtype=np.float32).reshape(6, 2)  # BOS + 5 tokens, width 2
    # word on tokens 1..2 → positions (after BOS) 2..3: before = 1, end = 3, then 4, 5
    assert word_features(hidden, (1, 2)).tolist() == [2, 3, 6, 7, 8, 9, 10, 11]
    # last word: positions past the end repeat the last one
    assert word_features(hidden, (4, 4)).tolist() == [8, 9, 10, 11, 10, 11, 10, 11]


def test_probe_fits_saves_and_fingerprints(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 8)).astype(np.float32)
    y = (x[:, 0] - 0.5 * x[:, 3] > 0).astype(int).tolist()
    det = SpunDetector.fit("m", 3, x, y, l2=0.01)
    z = det.log_odds(x)
    assert auc(z.tolist(), y) > 0.98 and ((z > 0) == np.array(y, dtype=bool)).mean() > 0.95
    det.save(tmp_path)
    again = SpunDetector.load(tmp_path / SpunDetector.FILE)
    assert (again.model, again.layer) == ("m", 3)
    assert np.allclose(again.log_odds(x), z) and again.key() == det.key()
    assert SpunDetector.fit("m", 3, x, y, l2=1.0).key() != det.key()
    with pytest.raises(ValueError):
        SpunDetector.fit("m", 3, x[:4], [1, 1, 1, 1])


def test_auc_counts_ties_half():
    assert auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert auc([1.0, 1.0], [0, 1]) == 0.5


def test_between_misses_the_calibration_texts():
    n = 146701  # the train split's size
    picked = between(n, 6000)
    assert len(picked) == 6000 and picked == sorted(set(picked))
    for limit in (100, 300, 400):
        assert not set(picked) & set(evenly_spaced(n, limit))
    with pytest.raises(ValueError):
        between(10, 10)


@pytest.fixture(scope="module")
def lm_despinner(index):  # noqa: F811
    return Despinner(DEFAULT_SOURCES, [ScorerSpec("smollm2-135m", 1.0, False)],
                     SearchSettings(top_k=20, prefilter=4), index=index)


def test_detector_in_the_lattice_and_the_calibration_features(lm_despinner, tmp_path):
    """A probe fitted on a few spun sentences: the lattice gives each slot the mean log-odds
    of its words, the calibration reads them, and the folder round-trips the detector."""
    d = lm_despinner
    spun, swaps = [p[0] for p in PAIRS], [p[1] for p in PAIRS]
    x, y, groups, table = word_rows(d, spun, swaps, layer=6)
    assert len(x) == len(y) == len(groups) == len(table) and x.shape[1] == 4 * 576
    assert sum(y) == sum(len(s) for s in swaps)  # every swapped word here is one word
    d.detector = SpunDetector.fit("smollm2-135m", 6, x, y, l2=1.0)
    try:
        sentence = PAIRS[0][0]
        slots = d.lattice(sentence)
        offsets, _, hidden = d.lm_pass(sentence, d.scorers[0], 6)
        spans = word_token_ends(offsets, tokenize(sentence))
        for slot in slots:
            words = range(slot.tok_start, slot.tok_end)
            want = np.mean([d.detector.log_odds(word_features(hidden, spans[k]))[0]
                            for k in words])
            assert slot.detector == pytest.approx(want, abs=1e-5)
            assert candidate_features(slot, 0)["detector"] == slot.detector
        # fitted on these sentences: their spun words score above the words kept
        gold = {(s["start"], s["end"]) for s in PAIRS[0][1]}
        spun_odds = [s.detector for s in slots if (s.start, s.end) in gold]
        kept_odds = [s.detector for s in slots if s.tok_end - s.tok_start == 1
                     and (s.start, s.end) not in gold]
        assert len(spun_odds) == 3 and kept_odds and min(spun_odds) > max(kept_odds)
        d.save_pretrained(tmp_path)
        again = Despinner.from_pretrained(tmp_path)
        assert again.detector is not None and again.detector.key() == d.detector.key()
        # a detector of another model's hidden states is refused
        d.detector = SpunDetector("gemma3-270m", 6, d.detector.weight, 0.0, d.detector.mean,
                                  d.detector.std)
        with pytest.raises(ValueError, match="refit"):
            d.lattice(sentence)
    finally:
        d.detector = None
    assert all(s.detector is None for s in d.lattice(sentence))


def test_cli_fits_and_reports_against_the_table(tmp_path, capsys):
    from datasets import Dataset, DatasetDict

    data = tmp_path / "pairs"
    rows = PAIRS * 3
    DatasetDict({"train": Dataset.from_dict({
        "spun": [p[0] for p in rows], "swaps": [p[1] for p in rows],
        "original": [p[2] for p in rows]})}).save_to_disk(str(data))
    out = tmp_path / "with-detector"
    det = main(["--data", str(data), "--limit", "10", "--layer", "4", "--holdout", "0.3",
                "--out", str(out)])
    printed = capsys.readouterr().out
    assert "spun-ness table" in printed and "detector" in printed and "AUC" in printed
    model = Despinner.from_pretrained(out)
    assert model.detector.key() == det.key() and model.detector.layer == 4
    assert json.loads((out / "despin.json").read_text())["scorers"][0]["model"] == "gemma3-270m"
