"""Spin detection: how likely a sentence, a paragraph or a document is spinner output.

Read off the fast core's own models (no extra network): per sentence, the spin encoder's
word-level spun log-odds (:class:`despin.encoder.SpinEncoder`'s ``spun_head``) and the edits
its decoder takes (:class:`despin.fast.FastRestorer`); per document, the sentences' scores.
Two logistic regressions map these features to calibrated log-odds: the sentence model on
synthetic validation sentences (spun, against their own clean originals), the document model
on groups of consecutive validation sentences of varied length (1 to 30), so that one model
serves paragraphs and whole documents (``python -m training.fit_detect``; Platt-style
calibration, Platt 1999).

A Despinner folder holds the fitted weights in ``detection.json``
(:meth:`despin.Despinner.detect` reads it).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .edits import Edit

if TYPE_CHECKING:
    from .fast import FastRestorer, SentenceLattice

__all__ = ["SENTENCE_FEATURES", "DOCUMENT_FEATURES", "sentence_features", "document_features",
           "sentence_rows", "lattice_features", "Logistic", "DetectionModel", "SentenceDetection", "Detection", "DETECTION_FILE"]

DETECTION_FILE = "detection.json"

SENTENCE_FEATURES = ("max_spun", "top3_spun", "mean_spun", "share_spun", "edits_per_word",
                     "max_edit", "log_words")
"""Per sentence: the largest, the mean of the 3 largest and the mean of its words' spun
log-odds; the share of words with log-odds > 0; the decoder's edits per word; the largest edit
score (nats, 0 without edits); ln(1 + words)."""

DOCUMENT_FEATURES = ("mean", "max", "top3", "share_spun", "log_sentences")
"""Per document: the word-weighted mean, the largest and the mean of the 3 largest sentence
log-odds; the word-weighted share of sentences with log-odds > 0; ln(sentences)."""

_NO_WORDS = -10.0  # spun log-odds that stand for "no word the encoder read"


def sentence_features(word_logodds: Sequence[float], edits: Sequence[Edit], n: int
                      ) -> np.ndarray:
    """The :data:`SENTENCE_FEATURES` vector (shape ``[7]``) of one sentence of ``n`` words from
    its tokens' spun log-odds (nan: punctuation, or a word the encoder did not read) and the
    decoder's edits."""
    v = np.array([x for x in word_logodds if not math.isnan(x)], dtype=float)
    if len(v) == 0:
        return np.array([_NO_WORDS, _NO_WORDS, _NO_WORDS, 0.0, 0.0, 0.0, math.log1p(n)])
    top = np.sort(v)[::-1]
    return np.array([top[0], top[:3].mean(), v.mean(), float((v > 0).mean()),
                     len(edits) / max(n, 1), max((e.score for e in edits), default=0.0),
                     math.log1p(n)])


def document_features(log_odds: Sequence[float], words: Sequence[int]) -> np.ndarray:
    """The :data:`DOCUMENT_FEATURES` vector (shape ``[5]``) of a document from its sentences'
    calibrated log-odds and word counts. Raises ValueError for a document of no sentence."""
    z = np.asarray(log_odds, dtype=float)
    if len(z) == 0:
        raise ValueError("a document needs at least one sentence")
    w = np.maximum(np.asarray(words, dtype=float), 1.0)
    w = w / w.sum()
    top = np.sort(z)[::-1]
    return np.array([float(w @ z), top[0], top[:3].mean(), float(w @ (z > 0)),
                     math.log(len(z))])


def sentence_rows(fast: "FastRestorer", sentences: Sequence[str], batch: int = 256,
                  protected: Sequence[Sequence[tuple[int, int]]] | None = None
                  ) -> tuple[np.ndarray, list[int], list[list[Edit]]]:
    """:func:`sentence_features` rows (``[n, 7]``), word counts and the decoder's edits
    (sentence offsets) of ``sentences``, read by the fast core ``fast``
    (:class:`despin.fast.FastRestorer`), ``batch`` sentences per encoder call. The edits are
    every edit the decoder found: the spin gate, which reads this detection, is not applied.
    ``protected``: per sentence, character spans whose words are read as context but neither
    scored nor counted (see :func:`lattice_features`)."""
    rows, words, edits = [], [], []
    for k in range(0, len(sentences), batch):
        part = list(sentences[k:k + batch])
        lattices = fast.lattices(part, encode_all=True)
        found = fast.restore_sentences(part, lattices=lattices, gate=False)
        for j, (x, es) in enumerate(zip(lattices, found)):
            row, n = lattice_features(x, es, protected[k + j] if protected else ())
            rows.append(row)
            words.append(n)
            edits.append(es)
    return np.array(rows).reshape(-1, len(SENTENCE_FEATURES)), words, edits


def lattice_features(x: "SentenceLattice", edits: Sequence[Edit],
                     protected: Sequence[tuple[int, int]] = ()) -> tuple[np.ndarray, int]:
    """:func:`sentence_features` of a sentence as the fast core read it
    (:class:`despin.fast.SentenceLattice`: its tokens and, when encoded, its words' spun
    log-odds) with the ``edits`` found in it, and its word count. Words inside ``protected``
    character spans (quotations, code: text spinners leave alone) are neither scored nor
    counted, nor are edits that touch them (restoring drops those); the encoder still read
    them as context."""
    inside = [any(a <= t.start < b for a, b in protected) for t in x.tokens]
    n = sum(1 for t, p in zip(x.tokens, inside) if t.text[:1].isalnum() and not p)
    logodds = x.encoded.word_logodds if x.encoded is not None else []
    if protected:
        logodds = [math.nan if p else z for z, p in zip(logodds, inside)]
        edits = [e for e in edits if not any(a < e.end and e.start < b for a, b in protected)]
    return sentence_features(logodds, edits, n), n


@dataclass
class Logistic:
    """A logistic regression on standardised features: ``log-odds = ((x − mean) / scale) ·
    weights + intercept``."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    weights: list[float]
    intercept: float

    def log_odds(self, x: np.ndarray) -> np.ndarray:
        """Log-odds (shape ``[n]``) of feature rows ``x`` (shape ``[n, features]``)."""
        z = (np.atleast_2d(x) - np.asarray(self.mean)) / np.asarray(self.scale)
        return z @ np.asarray(self.weights) + self.intercept

    @classmethod
    def fit(cls, names: Sequence[str], x: np.ndarray, y: Sequence[int], l2: float = 1e-3
            ) -> "Logistic":
        """Fit on rows ``x`` (``[n, features]``) and 0/1 labels ``y`` (L-BFGS, deterministic)."""
        import torch

        from .calibration import logistic_lbfgs

        mean, scale = x.mean(0), x.std(0)
        scale[scale < 1e-9] = 1.0
        z = torch.tensor((x - mean) / scale, dtype=torch.float64)
        w, b = logistic_lbfgs(z, torch.tensor(np.asarray(y), dtype=torch.float64), l2)
        return cls(list(names), mean.tolist(), scale.tolist(),
                   [float(v) for v in w.detach()], float(b.detach()))


@dataclass
class DetectionModel:
    """The fitted sentence and document models of spin detection (see the module docstring),
    and a record of what they were fitted on (``fitted``: pairs, counts, validation AUCs)."""

    sentence: Logistic
    document: Logistic
    fitted: dict[str, Any] = field(default_factory=dict)

    def sentence_log_odds(self, features: np.ndarray) -> np.ndarray:
        """Log-odds (``[n]``) that each sentence is spun, from :func:`sentence_features` rows."""
        return self.sentence.log_odds(features)

    def document_log_odds(self, log_odds: Sequence[float], words: Sequence[int]) -> float:
        """Log-odds that a document of sentences with these log-odds and word counts is spun."""
        return float(self.document.log_odds(document_features(log_odds, words))[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"sentence": asdict(self.sentence), "document": asdict(self.document),
                "fitted": self.fitted}

    def save(self, folder: str | Path) -> Path:
        """Write ``folder/detection.json``; returns its path."""
        Path(folder).mkdir(parents=True, exist_ok=True)
        path = Path(folder) / DETECTION_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "DetectionModel":
        """Read a ``detection.json`` (or the one in folder ``path``). Raises OSError for a
        file that cannot be read, ValueError (naming the file) for one that is not a fitted
        detection model."""
        path = Path(path)
        if path.is_dir():
            path = path / DETECTION_FILE
        try:
            d = json.loads(path.read_text())
            return cls(Logistic(**d["sentence"]), Logistic(**d["document"]),
                       d.get("fitted", {}))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path} is not a fitted detection model "
                             f"({type(exc).__name__}: {exc})") from None


def _probability(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


@dataclass(frozen=True)
class SentenceDetection:
    """One sentence: ``text[start:end]`` (character offsets into the text given to detect),
    the log-odds that it is spinner output and the probability."""

    start: int
    end: int
    text: str
    log_odds: float
    probability: float


@dataclass
class Detection:
    """A text's spin detection: the document's log-odds and probability of being spinner
    output, and each sentence's (:class:`SentenceDetection`). A text with no sentence has
    probability 0 and no sentences."""

    log_odds: float
    probability: float
    sentences: list[SentenceDetection]

    @classmethod
    def from_scores(cls, model: DetectionModel, spans: Sequence[tuple[int, int]], text: str,
                    log_odds: Sequence[float], words: Sequence[int]) -> "Detection":
        """Assemble the detection of ``text`` from its sentences' ``spans``, log-odds and word
        counts, the document's read by ``model``."""
        sentences = [SentenceDetection(a, b, text[a:b], round(float(z), 4),
                                       round(_probability(z), 4))
                     for (a, b), z in zip(spans, log_odds)]
        if not sentences:
            return cls(-math.inf, 0.0, [])
        z = model.document_log_odds(log_odds, words)
        return cls(round(z, 4), round(_probability(z), 4), sentences)

    def to_dict(self) -> dict[str, Any]:
        """``{"log_odds", "probability", "sentences": [{start, end, text, log_odds,
        probability}]}``, valid JSON: a log-odds of ±infinity (empty text: −inf) is None."""
        def finite(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {"log_odds": finite(self.log_odds), "probability": self.probability,
                "sentences": [{**asdict(s), "log_odds": finite(s.log_odds)}
                              for s in self.sentences]}

    def _repr_html_(self) -> str:  # a table in notebooks
        import html

        rows = "".join(f"<tr><td>{s.probability:.2f}</td><td>{html.escape(s.text)}</td></tr>"
                       for s in self.sentences)
        return (f"<p>document: probability of spin <b>{self.probability:.2f}</b></p>"
                f"<table><tr><th>P(spun)</th><th>sentence</th></tr>{rows}</table>")
