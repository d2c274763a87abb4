"""Spin detection: features, the fitted models, Despinner.detect, and the fitting script."""
from __future__ import annotations

import json

import math

import numpy as np
import pytest

from despin.detection import (DOCUMENT_FEATURES, SENTENCE_FEATURES, Detection, DetectionModel,
                              Logistic, document_features, sentence_features)
from despin.edits import Edit

# Written for this test: spun sentences (our spinner's kind of swaps) and their originals.
PAIRS = [
    ("The men stated the navy know-how was extra superior.",
     "The men said the military technology was more advanced."),
    ("The summit assembly comes at a uncommon second of mutual want.",
     "The summit meeting comes at a rare moment of mutual need."),
    ("The authorities introduced a brand new coverage on Tuesday.",
     "The government announced a new policy on Tuesday."),
    ("Officers stated the hearth was once below manipulate by means of midday.",
     "Officials said the fire was under control by noon."),
    ("The corporate's income rose sharply within the closing zone.",
     "The company's profits rose sharply in the last quarter."),
]


@pytest.fixture(scope="module")
def model():
    from despin import Despinner

    return Despinner.from_pretrained()


def test_sentence_features_by_hand():
    e = Edit(0, 3, "big", "large", 2.5)
    x = sentence_features([0.5, float("nan"), -1.0, 3.0, -2.0], [e, Edit(4, 5, "a", "b", 1.0)], 5)
    assert x.shape == (len(SENTENCE_FEATURES),)
    np.testing.assert_allclose(x, [3.0, (3.0 + 0.5 - 1.0) / 3, 0.125, 0.5, 0.4, 2.5,
                                   math.log(6)])
    empty = sentence_features([float("nan")], [], 0)
    assert empty[0] == empty[1] == empty[2] < -5 and empty[3] == empty[4] == empty[5] == 0


def test_document_features_by_hand():
    x = document_features([2.0, -1.0], [30, 10])
    np.testing.assert_allclose(x, [0.75 * 2 - 0.25, 2.0, 0.5, 0.75, math.log(2)])
    assert x.shape == (len(DOCUMENT_FEATURES),)
    with pytest.raises(ValueError):
        document_features([], [])


def test_logistic_fit_separates_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(1, 1, (200, 3)), rng.normal(-1, 1, (200, 3))])
    y = [1] * 200 + [0] * 200
    lr = Logistic.fit(["a", "b", "c"], x, y)
    z = lr.log_odds(x)
    assert (z[:200] > 0).mean() > 0.9 and (z[200:] < 0).mean() > 0.9
    m = DetectionModel(lr, Logistic.fit(["a", "b", "c"], x, y), {"note": "test"})
    again = DetectionModel.load(m.save(tmp_path))
    np.testing.assert_allclose(again.sentence_log_odds(x), z)
    assert again.fitted == {"note": "test"}


def test_detect_tells_spun_from_original(model):
    spun = [model.detect(s).probability for s, _ in PAIRS]
    clean = [model.detect(o).probability for _, o in PAIRS]
    assert sum(s > c for s, c in zip(spun, clean)) >= 4
    assert np.mean(spun) > 0.5 > np.mean(clean)
    doc_spun = model.detect(" ".join(s for s, _ in PAIRS))
    doc_clean = model.detect(" ".join(o for _, o in PAIRS))
    assert doc_spun.probability > 0.9 and doc_clean.probability < 0.5
    assert len(doc_spun.sentences) == len(PAIRS)
    text = " ".join(s for s, _ in PAIRS)
    for s in doc_spun.sentences:
        assert text[s.start:s.end] == s.text
        assert s.probability == pytest.approx(1 / (1 + math.exp(-s.log_odds)), abs=1e-3)


def test_detect_edge_cases(model):
    for text in ["", "   \n\t"]:
        d = model.detect(text)
        assert d.probability == 0.0 and d.sentences == []
    d = model.detect("北京是中国的首都。")  # no English word to read: no evidence of spin
    assert 0.0 <= d.probability < 0.5 and [s.text for s in d.sentences] == ["北京是中国的首都。"]
    with pytest.raises(TypeError, match="str"):
        model.detect(b"bytes")
    assert set(Detection.to_dict(d)) == {"log_odds", "probability", "sentences"}
    # empty text has log-odds -inf: its dict is still valid JSON (None)
    empty = model.detect("").to_dict()
    assert empty["log_odds"] is None and json.loads(json.dumps(empty, allow_nan=False)) == empty


def test_detect_needs_a_fitted_detector(tmp_path):
    from despin import Despinner
    from despin.synonyms import DEFAULT_SOURCES

    with pytest.raises(ValueError, match="spin detector"):
        Despinner(DEFAULT_SOURCES, []).detect("A sentence.")


def test_fit_detect_on_tiny_pairs(tmp_path, model):
    from datasets import load_from_disk

    from training.fit_detect import fit, read_units, windows
    from training.pairs import build_pairs, load_config

    build_pairs(load_config("pairs-tiny.yaml"), progress=False).save_to_disk(tmp_path / "pairs")
    units = read_units(tmp_path / "pairs", "train", docs=4, max_units=25)
    assert len(units.spun) == len(units.original) == len(units.doc) <= 100
    spans = windows(units, seed=1)
    assert spans and all(a < b and units.doc[a] == units.doc[b - 1] and any(units.changed[a:b])
                         for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in zip(spans, spans[1:]))
    # a leave-one-family-out fit reads only the other families' documents
    pairs = load_from_disk(str(tmp_path / "pairs"))
    left = set(sorted(set(pairs["train"]["doc_id"]))[::2])
    pairs.map(lambda d: {"family": "b" if d in left else "a"}, input_columns="doc_id"
              ).save_to_disk(tmp_path / "fams")
    kept = read_units(tmp_path / "fams", "train", docs=4, max_units=25, exclude_family="b")
    others = {o for o, d in zip(pairs["train"]["original"], pairs["train"]["doc_id"])
              if d not in left}
    assert kept.original and set(kept.original) <= others
    with pytest.raises(ValueError, match="has no split 'dev'"):
        read_units(tmp_path / "fams", "dev", docs=4)
    fitted = fit(units.score(model.fast, progress=False), record={"data": "tiny"})
    assert fitted.fitted["sentence_auc"] > 0.7 and fitted.fitted["data"] == "tiny"
    assert fitted.sentence.features == list(SENTENCE_FEATURES)
    assert fitted.document.features == list(DOCUMENT_FEATURES)


def test_detect_reads_what_restoring_reads(model):
    """Spun text in a code fence, a comment, a code span or a quotation (also one over a line
    break) is no evidence: the document reads as clean as its plain sentences, where the same
    spun text outside them reads as spin, and its sentences' offsets still point into the
    text. A stray inch mark does not hide the spun lines after it. (To session 37's default
    the three clean sentences alone read .21 and the spun ones above .9. A comment or code span
    after an end mark is a unit of its own, not the last sentence's context: before that cut
    the comment moved the clean sentence's reading to .28; now within .01.)"""
    spun = " ".join(s for s, _ in PAIRS[:3])
    clean = " ".join(o for _, o in PAIRS[:3])
    assert model.detect(f"{clean} {spun}").probability > 0.9
    for wrapped, bare in [(f"{clean}\n```\n{spun}\n```\n", clean),
                          (f"{clean} <!-- {spun} -->", clean), (f"{clean} `{spun}`", clean),
                          (f'{clean} "{spun}"', clean),
                          (f'{clean}\nHe said: "{spun}\n{spun}"\n', f"{clean}\nHe said:")]:
        plain, d = model.detect(bare), model.detect(wrapped)
        assert d.probability < 0.3 and abs(d.probability - plain.probability) < 0.02, wrapped
        assert len(d.sentences) == len(plain.sentences)
        for s in d.sentences:
            assert wrapped[s.start:s.end] == s.text
    assert model.detect(f"```\n{spun}\n```\n").sentences == []
    assert model.detect(f'It is 55" wide.\n{spun}\n{spun}\n').probability > 0.9


def test_markdown_headings_are_not_read(model):
    """A heading's few words read as spun where the prose under it reads clean: headings are
    no sentences for detection (a clean document under three headings read .22 against .003
    without them); the prose's sentences are read as they are without the headings."""
    prose = ["The committee met on Tuesday to discuss the budget for next year.",
             "It agreed to fund the new library and to repair two schools.",
             "The plan goes to a vote in May, and residents can comment online."]
    plain = "\n\n".join(prose) + "\n"
    headed = "".join(f"{h}\n\n{p}\n\n" for h, p in zip(
        ["# Introduction", "## Background", "## Next steps"], prose))
    with_heads, without = model.detect(headed), model.detect(plain)
    assert [s.text for s in with_heads.sentences] == prose
    assert with_heads.probability == pytest.approx(without.probability, abs=0.02)
    assert model.detect("# The boss stated the navy know-how\n").sentences == []
