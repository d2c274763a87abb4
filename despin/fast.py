"""The fast restorer: one encoder pass per sentence, then exact Viterbi over the lattice.

For a batch of sentences:

1. **lattice** — :func:`despin.lattice.build_slots`: every span the candidate index knows, with
   its ``top_k`` candidates by prior (each with its channel, the spinner's probability of
   writing the span for it);
2. **encoder** — :class:`despin.encoder.SpinEncoder` reads each sentence once (batched): every
   word's log-odds of being spinner output, every candidate's log-odds against the copy;
3. **unary scores** — each candidate's features (:func:`feature_matrix`) weighed by the fitted
   linear weights (``log-odds``; the intercept carries the copy bonus); a slot keeps its
   ``shortlist`` best candidates scoring above ``floor``. A sentence with none passes through
   unsearched. A deletion ``""`` (a filler a spinner added) is scored by the n-gram model,
   the slot's features and a weight of its own (``deletions="ngram"``,
   :data:`DELETION_FEATURES`), always pooled, and ranked with its n-gram gain;
4. **decoding** — :func:`despin.decoder.viterbi` with the n-gram model (:mod:`despin.ngram`)
   weighted by ``lm_weight``: the best set of edits for the sentence as a whole, so that swaps
   side by side ("a uncommon second") are restored together;
5. **spin gate** (optional, ``gate_cut``) — spin detection (:mod:`despin.detection`) reads
   each group of sentences (a line of the input: a paragraph) with the edits found; in a
   group it calls clean (log-odds below ``gate_cut``) a sentence keeps only the edits surer
   than ``gate_margin`` (:func:`gate_edits`). Clean text then keeps its words without the
   threshold having to rise for spun text too;
6. **choice margin** (optional, ``choice_margin``) — an edit whose best runner-up (another
   shortlisted original of its span) comes within ``choice_margin`` nats of it is left undone
   (:func:`choice_edits`): the slot is judged spun, but which original it had is a guess, and
   F0.5 counts a wrong original as a wrong edit while leaving the slot costs only recall.

An edit's ``score`` is how much the decoder prefers the output to the same output with that
edit undone (nats of the decoder's objective; > 0 for every edit taken).

The weights are fitted on synthetic pairs by :mod:`training.fit_fast` (a conditional logit per
slot over the copy and the pooled candidates, whose features include the n-gram model's local
delta, then a threshold chosen for F0.5 on validation pairs).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

import numpy as np

from .calibration import EditNetwork
from .candidates import CandidateIndex
from .decoder import Arc, Path as DecodedPath, local_gains, path_score, viterbi
from .detection import DetectionModel, lattice_features
from .edits import Alternative, Edit, Restoration
from .spelling import american
from .encoder import EncoderOutput, SpinEncoder, encode_sentences
from .lattice import Slot, build_slots
from .ngram import MixtureLM, NGramLM, load_lm, save_lm
from .synonyms import zipf
from .text import Token, match_case, tokenize

__all__ = ["FastSettings", "FastRestorer", "MAX_MAGNITUDE", "FEATURES", "STATIC_FEATURES",
           "SLOT_FEATURES",
           "slot_features", "static_features", "network_rows",
           "feature_matrix", "edit_features", "SentenceLattice", "lm_words", "american_view",
           "gate_edits", "same_reading", "choice_gap", "choice_edits", "kept_edits",
           "ENCODER_FOLDER"]

ENCODER_FOLDER = "encoder"


@dataclass
class FastSettings:
    """The fast restorer's settings (the ``fast`` section of a Despinner's ``despin.json``).

    ``weights``: feature name → weight of the unary score (log-odds; see
    :data:`FEATURES`); ``lm_weight``: of the n-gram log-probability (per nat);
    ``threshold``: subtracted from every unary score (the copy bonus: higher, fewer and surer
    edits); ``shortlist``: candidates per slot that reach the decoder; ``floor``: unary scores
    below it never reach the decoder; ``top_k``: candidates per slot offered to the encoder;
    ``pool``: the encoder's best candidates per slot that the n-gram model rescores (only
    they can reach the shortlist); ``passes``: decoding passes (see
    :meth:`FastRestorer.restore_sentences`); ``batch_size``: sentences per encoder pass;
    ``max_length``: word pieces per sentence (longer sentences' tail slots are left
    unchanged); ``oov``: the n-gram model's log-probability (nats) of an unknown word;
    ``ctxfree_top``: for an encoder with context-free candidate keys, how many of each slot's
    candidates (the best by the first key alone) get them (0: all; fewer: faster on a cold
    memo, see :meth:`despin.encoder.SpinEncoder.forward`); ``network``: a fitted
    :class:`despin.calibration.EditNetwork` (its ``to_dict()``) whose log-odds are added to
    the linear ``weights``' sum (None: the linear sum alone), with an optional ``max_words``
    key: the network scores only candidates whose span and text have at most that many words
    (:func:`network_rows`); ``gate_cut``: the spin gate's cut on the spin log-odds of a
    sentence's group, its line (None: no gate; needs the Despinner's ``detection.json``),
    ``gate_margin``: the margin (nats) an edit needs to be kept in a group below the cut
    (None: none is kept); see :meth:`FastRestorer.kept`; ``deletions``: how the deletion
    candidate ``""`` (a filler a spinner added) is scored — ``"ngram"``: by the n-gram model,
    the slot's features and one weight of its own (:data:`DELETION_FEATURES`), and always
    pooled; ``"features"`` (models fitted before session 31): like any candidate, the
    encoder's score included, pooled only among the encoder's best; ``choice_margin``: nats
    by which an edit must beat its best runner-up, else it is left undone
    (:func:`choice_edits`; 0, the default and that of models tuned before session 32: every
    edit is kept). Numbers may be NumPy's; they are stored as Python floats and ints.
    Raises TypeError for a setting of the wrong type (a number, an integer, or for the gate
    also None; ``weights`` a dict, ``network`` a dict or None), ValueError for nan, for an
    infinite or huge (beyond ±:data:`MAX_MAGNITUDE`) ``lm_weight``, ``threshold``, ``oov``,
    ``choice_margin`` or weight, for a count (``shortlist``, ``pool``, ``top_k``, ``passes``,
    ``batch_size``) below 1, ``max_length`` below 3 (word pieces with the tokenizer's
    ``[CLS]`` and ``[SEP]``; its upper bound, the encoder's positions, 512 for MiniLM, is
    checked when the encoder loads: :meth:`FastRestorer.load`), ``ctxfree_top`` below 0, for
    a negative ``choice_margin``, a weight of a feature not in :data:`FEATURES`, a
    ``network`` that is not a fitted :class:`despin.calibration.EditNetwork`'s dict or for
    another ``deletions``."""

    weights: dict[str, float] = field(default_factory=dict)
    lm_weight: float = 1.0
    threshold: float = 0.0
    shortlist: int = 4
    pool: int = 10
    floor: float = -6.0
    top_k: int = 100
    passes: int = 1
    batch_size: int = 8
    max_length: int = 128
    oov: float = -12.0
    ctxfree_top: int = 0
    network: dict[str, Any] | None = None
    gate_cut: float | None = None
    gate_margin: float | None = None
    deletions: str = "features"
    choice_margin: float = 0.0

    def __post_init__(self) -> None:
        if self.deletions not in DELETION_SCORING:
            raise ValueError(f"FastSettings.deletions must be one of {DELETION_SCORING}, "
                             f"not {self.deletions!r}")
        for name in _NUMBERS + _OPTIONAL:
            v = getattr(self, name)
            if v is None and name in _OPTIONAL:
                continue
            setattr(self, name, _number(f"FastSettings.{name}", v, name in _FINITE,
                                        name in _OPTIONAL))
        for name, least in _COUNTS.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"FastSettings.{name} must be an integer, "
                                f"not {type(v).__name__} {v!r}")
            if v < least:
                raise ValueError(f"FastSettings.{name} must be at least {least}, got {v}")
            setattr(self, name, int(v))
        if not isinstance(self.weights, dict):
            raise TypeError(f"FastSettings.weights must be a dict of feature name → weight, "
                            f"not {type(self.weights).__name__} {self.weights!r}")
        unknown = sorted(set(self.weights) - set(FEATURES))
        if unknown:
            raise ValueError(f"FastSettings.weights has unknown feature(s) {unknown}; the "
                             f"features are {list(FEATURES)}")
        self.weights = {k: _number(f"FastSettings.weights[{k!r}]", v, True)
                        for k, v in self.weights.items()}
        if self.network is not None:
            if not isinstance(self.network, dict):
                raise TypeError(f"FastSettings.network must be a fitted EditNetwork's dict "
                                f"(its to_dict()) or None, not {type(self.network).__name__}")
            try:
                EditNetwork.from_dict(self.network)
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise ValueError(f"FastSettings.network is not a fitted EditNetwork's dict "
                                 f"(names, mean, std, layers): {type(exc).__name__}: {exc}"
                                 ) from exc
        if self.choice_margin < 0:
            raise ValueError(f"FastSettings.choice_margin must be at least 0, got "
                             f"{self.choice_margin}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_NUMBERS = ("lm_weight", "threshold", "floor", "oov", "choice_margin")
_OPTIONAL = ("gate_cut", "gate_margin")  # numbers or None
# settings an infinity would break (a threshold of -inf edits every slot with inf scores); the
# floor, the gate's cut and its margin may be infinite (inf margin: a gated line keeps no edit)
_FINITE = ("lm_weight", "threshold", "oov", "choice_margin")
# integer settings and their least values; max_length counts the tokenizer's [CLS] and [SEP]
# (the tokenizer cannot cut a sentence below them: fewer would not cut it at all)
_COUNTS = {"shortlist": 1, "pool": 1, "top_k": 1, "passes": 1, "batch_size": 1,
           "max_length": 3, "ctxfree_top": 0}
MAX_MAGNITUDE = 1e6
"""The largest magnitude of a finite-only setting or weight (nats or log-odds per unit):
beyond it a score overflows to infinity (a threshold of −1e308 makes every score inf)."""


def _number(name: str, v: Any, finite: bool, optional: bool = False) -> float:
    """``v`` as a float, for the setting ``name``: TypeError unless a real number (NumPy's
    included; not a bool), ValueError for nan or, where ``finite``, for an infinity or a
    magnitude beyond :data:`MAX_MAGNITUDE`."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a number{' or None' if optional else ''}, "
                        f"not {type(v).__name__} {v!r}")
    v = float(v)
    if math.isnan(v):
        raise ValueError(f"{name} must be a number, not nan")
    if finite and math.isinf(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if finite and abs(v) > MAX_MAGNITUDE:
        raise ValueError(f"{name} must be within ±{MAX_MAGNITUDE:g}, got {v}")
    return v


STATIC_FEATURES = ("log_channel", "log_prior", "log_rank", "zipf_spun", "zipf_gain",
                   "span_words", "cand_words", "deletion")
"""Features of a candidate that depend on its slot's text alone (memoised per span)."""
SLOT_FEATURES = ("spun", "context_spun", "sentence_spun")
"""Features of a slot in its sentence, shared by its candidates (:func:`slot_features`)."""
FEATURES = ("intercept", "enc") + SLOT_FEATURES + ("lm_gap",) + STATIC_FEATURES
"""Every feature of the unary score, in the order of :func:`feature_matrix`'s columns."""
_SPAN_WORDS, _CAND_WORDS = FEATURES.index("span_words"), FEATURES.index("cand_words")
DELETION_FEATURES = ("intercept",) + SLOT_FEATURES + ("lm_gap", "deletion")
"""The features a deletion candidate ``""`` keeps when ``FastSettings.deletions`` is
``"ngram"``: the slot's, the n-gram model's and its own indicator. The others (the encoder's
score, the channel, prior, rank, frequencies and lengths) are 0 for it: they describe a word
put in, and the encoder and the channel learn what they say of a deletion only from spinners
that add words, so a model fitted on other spinners would never delete (issue 15 §2: its
leave-one-family-out row made no deletion at all)."""
DELETION_SCORING = ("features", "ngram")
"""The values of ``FastSettings.deletions``."""
_DELETION = FEATURES.index("deletion")
_STATIC_DELETION = STATIC_FEATURES.index("deletion")
_NOT_DELETION = [FEATURES.index(k) for k in FEATURES if k not in DELETION_FEATURES]
CONTEXT_WORDS = 2
"""Words on each side of a slot that ``context_spun`` reads."""


def slot_features(word_logodds: Sequence[float], start: int, end: int) -> tuple[float, ...]:
    """The :data:`SLOT_FEATURES` of the slot over tokens ``start:end`` of a sentence whose
    tokens have the encoder's spun log-odds ``word_logodds`` (nan: punctuation or not seen):
    the slot's mean log-odds (``spun``), the highest of the :data:`CONTEXT_WORDS` words on
    either side (``context_spun``; 0 when there are none) and the share of the sentence's
    other words that the encoder calls spun, each counted by its probability
    (``sentence_spun``, 0–1): spinners spin neighbours and whole texts at their rate, so a
    slot in a heavily spun sentence is more likely spun itself."""
    inside = [v for v in word_logodds[start:end] if not math.isnan(v)]
    left = [v for v in word_logodds[:start] if not math.isnan(v)][-CONTEXT_WORDS:]
    right = [v for v in word_logodds[end:] if not math.isnan(v)][:CONTEXT_WORDS]
    rest = [v for i, v in enumerate(word_logodds)
            if not (start <= i < end or math.isnan(v))]
    share = sum(1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, v)))) for v in rest)
    return (sum(inside) / len(inside) if inside else 0.0, max(left + right, default=0.0),
            share / len(rest) if rest else 0.0)


def network_rows(span_words: np.ndarray, cand_words: np.ndarray, max_words: int | None
                 ) -> np.ndarray:
    """``[N]`` bool: which candidates a unary network with ``max_words`` scores — those whose
    span and text each have at most ``max_words`` words (all when None). ``span_words`` and
    ``cand_words`` are the :data:`STATIC_FEATURES` of those names (spaces, so words − 1)."""
    n = np.asarray(span_words)
    if max_words is None:
        return np.ones(n.shape, dtype=bool)
    return (n <= max_words - 1) & (np.asarray(cand_words) <= max_words - 1)


def static_features(slot: Slot) -> np.ndarray:
    """``[candidates, len(STATIC_FEATURES)]``: each candidate's log channel (of the spinner
    writing the span for it) and log prior, log(1 + rank), the span's Zipf frequency and the
    candidate's gain over it (``wordfreq``), how many spaces the span and the candidate
    hold, and whether the candidate is the deletion ``""`` (1.0; the span is a filler)."""
    spun_zipf = zipf(slot.text.lower())
    span_words = float(slot.text.count(" "))
    return np.array([[math.log(max(c.channel or 0.0, 1e-9)), c.log_prior, math.log1p(j),
                      spun_zipf, zipf(c.text.lower()) - spun_zipf, span_words,
                      float(c.text.count(" ")), float(not c.text)]
                     for j, c in enumerate(slot.candidates)],
                    dtype=np.float64).reshape(len(slot.candidates), len(STATIC_FEATURES))


def feature_matrix(static: np.ndarray, enc: Sequence[float], slot: Sequence[float],
                   lm_gap: Sequence[float], deletions: str = "features") -> np.ndarray:
    """``[candidates, len(FEATURES)]``: the intercept, the encoder's log-odds of each
    candidate against the copy (``enc``), the slot's :func:`slot_features` (``slot``), how far
    the n-gram model likes the candidate less than the slot's best pooled candidate
    (``lm_gap``, nats, ≤ 0; nan outside the pool) and the :func:`static_features`. With
    ``deletions="ngram"`` a deletion candidate's row keeps only :data:`DELETION_FEATURES`
    (the rest 0)."""
    n = static.shape[0]
    col = lambda v: np.asarray(v, dtype=np.float64).reshape(n, 1)  # noqa: E731
    out = np.concatenate([np.ones((n, 1)), col(enc),
                          np.tile(np.asarray(slot, dtype=np.float64), (n, 1)), col(lm_gap),
                          static], axis=1)
    if deletions == "ngram":
        out[np.ix_(out[:, _DELETION] == 1.0, _NOT_DELETION)] = 0.0
    return out


def edit_features(matrix: np.ndarray, j: int) -> dict[str, float]:
    """Row ``j`` of a :func:`feature_matrix` as a feature dict (for fitting)."""
    return dict(zip(FEATURES, matrix[j].tolist()))


def gate_edits(edits: list[Edit], log_odds: float, cut: float | None,
               margin: float | None) -> list[Edit]:
    """The spin gate: of a sentence's ``edits``, all when the spin ``log_odds`` of its group
    (its line: :meth:`FastRestorer.spin_log_odds`) are at least ``cut``; below it, only those
    whose score (margin, nats) is at least ``margin`` (None: none). ``cut`` None: no gate,
    every edit."""
    if cut is None or log_odds >= cut:
        return edits
    return [e for e in edits if margin is not None and e.score >= margin]


_WHOLE_CONTRACTIONS = {"can't": "can not", "won't": "will not", "cannot": "can not"}
_SUFFIX_CONTRACTIONS = {"n't": " not", "'s": " is", "'re": " are", "'ve": " have",
                        "'ll": " will", "'d": " would", "'m": " am"}


def same_reading(text: str) -> tuple[str, ...]:
    """``text``'s words in lower case, contractions written out ("it's" → "it is", "can't" →
    "can not") and British spellings made American: two originals with the same reading are
    one choice, not two."""
    words = []
    for w in text.lower().replace("’", "'").split():
        if w in _WHOLE_CONTRACTIONS:
            w = _WHOLE_CONTRACTIONS[w]
        else:
            short = next((c for c in _SUFFIX_CONTRACTIONS if w.endswith(c)), None)
            if short is not None:
                w = w[:-len(short)] + _SUFFIX_CONTRACTIONS[short]
        words += american(w).split()
    return tuple(words)


def choice_gap(edit: Edit) -> float:
    """How much ``edit`` beats its best runner-up: its score minus that of the best
    :class:`Alternative` with another :func:`same_reading` (nats of the fast decoder's
    objective: the best output against the same output with the runner-up in the edit's
    place); inf when it has none ("it is" against "it's" is no choice)."""
    mine = same_reading(edit.restored)
    rivals = [a.score for a in edit.alternatives if same_reading(a.text) != mine]
    return edit.score - max(rivals) if rivals else math.inf


def kept_edits(edits: list[Edit], log_odds: float | None, gate_cut: float | None,
               gate_margin: float | None, choice_margin: float) -> list[Edit]:
    """What restoring keeps of a sentence's ``edits``: the spin gate (:func:`gate_edits` at
    ``gate_cut`` and ``gate_margin``, read on its group's spin ``log_odds``; None: no gate),
    then the choice margin (:func:`choice_edits`, nats). The fast core
    (:meth:`FastRestorer.kept`), the accurate profile and ``training.tune_fast`` all filter
    with this."""
    if log_odds is not None:  # gate_edits itself lets everything through at gate_cut None
        edits = gate_edits(edits, log_odds, gate_cut, gate_margin)
    return choice_edits(edits, choice_margin)


def choice_edits(edits: list[Edit], margin: float) -> list[Edit]:
    """Of a sentence's ``edits``, those whose :func:`choice_gap` is at least ``margin`` nats
    (``margin`` 0: all). An abstention rule for the choice of original, as GEC taggers keep
    only confident corrections (GECToR's confidence threshold, Omelianchuk et al. 2020): on
    the content-farm test pairs, four in five of the default's wrong edits restored a spun
    span to the wrong original, and half of those had the right one as a close runner-up."""
    if margin <= 0:
        return edits
    return [e for e in edits if choice_gap(e) >= margin]


def american_view(sentence: str, tokens: Sequence[Token], slots: Sequence[Slot]
                  ) -> tuple[str, list[Token], list[Slot]]:
    """The sentence as the encoder reads it: every British-spelled token in American spelling
    (:mod:`despin.spelling`; its case kept), as the index and the n-gram model read it, so that
    "colour" and "color" give the encoder the same input. Returns the new sentence and the
    tokens and slots at their new character offsets (token indices unchanged); the sentence
    itself and copies of the lists when no token is British-spelled."""
    respelled = [t.text if (us := american(t.text.lower())) == t.text.lower()
                 else match_case(t.text, us) for t in tokens]
    if all(w == t.text for w, t in zip(respelled, tokens)):
        return sentence, list(tokens), list(slots)
    parts: list[str] = []
    moved: list[Token] = []
    pos = shift = 0
    for t, w in zip(tokens, respelled):
        parts += [sentence[pos:t.start], w]
        moved.append(Token(w, t.start + shift, t.start + shift + len(w)))
        shift += len(w) - len(t.text)
        pos = t.end
    parts.append(sentence[pos:])
    return ("".join(parts), moved,
            [replace(x, start=moved[x.tok_start].start, end=moved[x.tok_end - 1].end)
             for x in slots])


@lru_cache(maxsize=200_000)  # candidates and tokens repeat: read once per text
def lm_words(text: str) -> tuple[str, ...]:
    """What the n-gram model reads of a token or a candidate: its lower-case words (no
    punctuation), British spellings read in American spelling (the model's own,
    :mod:`despin.spelling`)."""
    return tuple(american(t.text.lower()) for t in tokenize(text)
                 if any(ch.isalnum() for ch in t.text))


@dataclass
class SentenceLattice:
    """One sentence on its way through the fast restorer: tokens, slots, the encoder's output
    and each slot's :func:`feature_matrix` (``features[s]``; None where the encoder did not
    see the slot)."""

    sentence: str
    tokens: list[Token]
    slots: list[Slot]
    encoded: EncoderOutput | None = None
    features: list[np.ndarray | None] = field(default_factory=list)
    lm_delta: list[np.ndarray | None] = field(default_factory=list)

    @cached_property
    def copy_arcs(self) -> list[Arc]:
        """One copy arc per token (what the n-gram model reads of it, score 0): read by the
        features, the decoder and every margin, so built once."""
        return [Arc(i, i + 1, lm_words(t.text)) for i, t in enumerate(self.tokens)]


class FastRestorer:
    """Restore sentences with an encoder, an n-gram model and Viterbi (see the module
    docstring). ``index``: the candidate index; ``encoder``/``tokenizer``: a
    :class:`despin.encoder.SpinEncoder` and its tokenizer; ``lm``: the n-gram model."""

    def __init__(self, index: CandidateIndex, encoder: SpinEncoder, tokenizer,
                 lm: NGramLM | MixtureLM,
                 settings: FastSettings | None = None, detection: DetectionModel | None = None):
        self.index, self.encoder, self.tokenizer, self.lm = index, encoder, tokenizer, lm
        self.settings = settings or FastSettings()
        # spin detection's fitted models (despin.detection), read by the spin gate
        self.detection = detection
        self._static: dict[str, np.ndarray] = {}  # span → static_features (spans repeat)
        # the settings' network, read once per network dict (see _network)
        self._net_spec: dict[str, Any] | None = None
        self._net: tuple[EditNetwork, list[int]] | None = None

    # -- the lattice and the encoder -------------------------------------------------------
    def lattices(self, sentences: Sequence[str], encode_all: bool = False
                 ) -> list[SentenceLattice]:
        """Slots, encoder outputs and features of every sentence (encoder batched by length;
        sentences with no slot skip it unless ``encode_all``: spin detection reads every
        sentence's spun log-odds)."""
        s = self.settings
        out = []
        for sentence in sentences:
            tokens = tokenize(sentence)
            out.append(SentenceLattice(sentence, tokens, build_slots(sentence, self.index,
                                                                     top_k=s.top_k)))
        todo = sorted((k for k, x in enumerate(out) if x.slots or encode_all),
                      key=lambda k: len(out[k].sentence))
        for b in range(0, len(todo), s.batch_size):
            part = [out[k] for k in todo[b:b + s.batch_size]]
            views = [american_view(x.sentence, x.tokens, x.slots) for x in part]
            encoded = encode_sentences(self.tokenizer, [v[0] for v in views],
                                       [v[1] for v in views], [v[2] for v in views],
                                       s.max_length)
            results = self.encoder.predict(encoded, self.tokenizer.pad_token_id,
                                           s.ctxfree_top or None)
            for x, r in zip(part, results):
                x.encoded = r
                x.features = self._features(x)
        return out

    def _features(self, x: SentenceLattice) -> list[np.ndarray | None]:
        """Each slot's :func:`feature_matrix`; sets ``x.lm_delta``: per slot, how much the
        n-gram model prefers the sentence with each pooled candidate alone (nats; nan outside
        the pool)."""
        feats: list[np.ndarray | None] = []
        x.lm_delta = []
        copies = x.copy_arcs
        ngram_deletions = self.settings.deletions == "ngram"
        for k, slot in enumerate(x.slots):
            scores = x.encoded.cand_scores[k]
            if scores is None:
                feats.append(None)
                x.lm_delta.append(None)
                continue
            static = self._static.get(slot.text)
            if static is None or static.shape[0] != len(slot.candidates):
                if len(self._static) > 20_000:  # ~5.6 KB each: at most ~110 MB
                    self._static.clear()
                static = self._static[slot.text] = static_features(slot)
            pooled = np.argsort(-np.asarray(scores), kind="stable")[:self.settings.pool]
            if ngram_deletions:  # the deletion is pooled whatever the encoder says of it
                deletion = np.flatnonzero(static[:len(scores), _STATIC_DELETION] == 1.0)
                pooled = np.union1d(pooled, deletion)
            delta = np.full(len(scores), np.nan)
            delta[pooled] = local_gains(
                copies, [Arc(slot.tok_start, slot.tok_end, lm_words(slot.candidates[j].text))
                         for j in pooled], self.lm.logprob)
            x.lm_delta.append(delta)
            feats.append(feature_matrix(
                static, scores, slot_features(x.encoded.word_logodds, slot.tok_start, slot.tok_end),
                delta - np.nanmax(delta), self.settings.deletions))
        return feats

    def _network(self) -> tuple[EditNetwork, list[int]] | None:
        """The settings' network and the feature-matrix column of each of its inputs (built
        once per network)."""
        spec = self.settings.network
        if not spec:
            return None
        if self._net_spec is not spec:
            net = EditNetwork.from_dict(spec)
            missing = [k for k in net.names if k not in FEATURES]
            if missing:
                raise ValueError(f"the fast settings' network reads features this restorer "
                                 f"does not compute: {missing}")
            self._net_spec, self._net = spec, (net, [FEATURES.index(k) for k in net.names])
        return self._net

    def unary(self, matrix: np.ndarray) -> np.ndarray:
        """Candidates' unary scores: ``matrix @ weights`` plus the network's log-odds when
        the settings have one, ``− threshold`` (log-odds), one per row of a
        :func:`feature_matrix`."""
        w = np.array([self.settings.weights.get(k, 0.0) for k in FEATURES])
        x = np.nan_to_num(matrix, nan=0.0)
        u = x @ w - self.settings.threshold
        net = self._network()
        if net is not None:
            rows = network_rows(x[:, _SPAN_WORDS], x[:, _CAND_WORDS],
                                self.settings.network.get("max_words"))
            if rows.any():
                u[rows] += net[0].batch(x[rows][:, net[1]])
        u[np.isnan(matrix[:, FEATURES.index("lm_gap")])] = -np.inf  # outside the pool
        return u

    # -- decoding -------------------------------------------------------------------------
    def shortlist(self, x: SentenceLattice) -> dict[int, list[Arc]]:
        """Slot index → the edit arcs that reach the decoder: the slot's ``shortlist`` best
        pooled candidates by unary score, those above ``floor``. With ``deletions="ngram"``
        a deletion is ranked and floored by its unary score plus its n-gram gain
        (``lm_weight`` × ``lm_delta``): the n-gram model is its evidence, so its unary score
        alone sits low."""
        s = self.settings
        out: dict[int, list[Arc]] = {}
        for k, slot in enumerate(x.slots):
            feats = x.features[k] if k < len(x.features) else None
            if feats is None:
                continue
            u = self.unary(feats)
            rank = u
            if s.deletions == "ngram":
                dels = (feats[:, _DELETION] == 1.0) & np.isfinite(u)
                if dels.any():
                    rank = u.copy()
                    rank[dels] += s.lm_weight * x.lm_delta[k][dels]
            best = np.argsort(-rank, kind="stable")[:s.shortlist]
            arcs = [Arc(slot.tok_start, slot.tok_end, lm_words(slot.candidates[j].text),
                        float(u[j]), k, int(j)) for j in best if rank[j] > s.floor]
            if arcs:
                out[k] = arcs
        return out

    def best_path(self, x: SentenceLattice, shortlist: dict[int, list[Arc]]) -> DecodedPath:
        """The Viterbi path through ``x``'s copy arcs and the ``shortlist``'s edit arcs."""
        arcs = x.copy_arcs + [a for v in shortlist.values() for a in v]
        return viterbi(len(x.tokens), arcs, self.lm.logprob, self.settings.lm_weight)

    def margin(self, x: SentenceLattice, best: DecodedPath, add: Arc | None = None,
               drop: Arc | None = None) -> float:
        """How much better ``best`` scores than the same path with ``drop`` undone (copied)
        and/or ``add`` swapped in (nats of the decoder's objective)."""
        changed = _with(best.arcs, x.copy_arcs, add, drop)
        return best.score - path_score(changed, self.lm.logprob, self.settings.lm_weight)

    def decode(self, x: SentenceLattice) -> list[Edit]:
        """The edits of the best path through ``x``'s lattice (sentence offsets); each edit's
        score is its :meth:`margin`."""
        shortlist = self.shortlist(x)
        if not shortlist:
            return []  # nothing worth searching: the sentence passes through
        best = self.best_path(x, shortlist)
        edits = []
        for a in best.edits:
            score = self.margin(x, best, drop=a)
            edits.append(self.edit(x, a, score, self.alternatives(x, best, a, score, shortlist)))
        return edits

    def alternatives(self, x: SentenceLattice, best: DecodedPath, arc: Arc, score: float,
                     shortlist: dict[int, list[Arc]]) -> tuple[Alternative, ...]:
        """The runner-ups of the edit ``arc`` of ``best`` (whose :meth:`margin` is ``score``):
        its slot's other shortlisted candidates, best first, each scored on the edit's scale
        (its path against the copy: ``score`` − :meth:`margin` with it swapped in, nats)."""
        alts = sorted(((x.slots[arc.slot].candidates[b.cand].text,
                        round(score - self.margin(x, best, add=b), 4))
                       for b in shortlist.get(arc.slot, []) if b.cand != arc.cand),
                      key=lambda t: -t[1])
        return tuple(Alternative(*t) for t in alts)

    @staticmethod
    def edit(x: SentenceLattice, arc: Arc, score: float,
             alternatives: tuple[Alternative, ...] = ()) -> Edit:
        """The :class:`Edit` of an edit arc, with ``score`` and runner-up ``alternatives``. A
        deletion (candidate ``""``) also takes the space before the span (or else after it),
        so that no double space is left."""
        slot = x.slots[arc.slot]
        c = slot.candidates[arc.cand]
        start, end = slot.start, slot.end
        if not c.text:
            if x.sentence[start - 1:start] == " ":
                start -= 1
            elif x.sentence[end:end + 1] == " ":
                end += 1
        return Edit(start, end, x.sentence[start:end], c.text, round(score, 4), c.prior,
                    c.source, alternatives=alternatives, scorer="fast")

    def spin_log_odds(self, lattices: Sequence[SentenceLattice],
                      edits: Sequence[Sequence[Edit]],
                      groups: Sequence[Hashable] | None = None) -> list[float]:
        """Per sentence, the log-odds that its *group* of sentences (sentences with equal
        ``groups`` ids, e.g. a paragraph; None: each sentence alone) is spinner output, given
        the ``edits`` found in each: :attr:`detection`'s document model over the group's
        sentence log-odds (its sentence model on :func:`despin.detection.sentence_features`)
        and word counts. A sentence the encoder did not read (no slot) carries no evidence
        and is left out of its group; a group of none such: −inf. Raises ValueError when this
        restorer has no detection model."""
        if self.detection is None:
            raise ValueError("the spin gate needs spin detection's fitted models "
                             "(detection.json, python -m training.fit_detect)")
        members: dict[Hashable, list[int]] = {}
        for k, g in enumerate(groups if groups is not None else range(len(lattices))):
            members.setdefault(g, []).append(k)
        out = [-math.inf] * len(lattices)
        for ks in members.values():
            read = [k for k in ks if lattices[k].encoded is not None]
            if not read:
                continue
            rows, words = zip(*(lattice_features(lattices[k], edits[k]) for k in read))
            z = self.detection.document_log_odds(
                self.detection.sentence_log_odds(np.array(rows)), words)
            for k in ks:
                out[k] = z
        return out

    def kept(self, lattices: Sequence[SentenceLattice], edits: list[list[Edit]],
             groups: Sequence[Hashable] | None = None) -> list[list[Edit]]:
        """What the settings keep of each sentence's ``edits`` (:func:`kept_edits`: the spin
        gate, each sentence read with its group by :meth:`spin_log_odds`, then the choice
        margin)."""
        s = self.settings
        if not any(edits):
            return edits
        z = (self.spin_log_odds(lattices, edits, groups) if s.gate_cut is not None
             else [None] * len(edits))
        return [kept_edits(es, zz, s.gate_cut, s.gate_margin, s.choice_margin)
                for es, zz in zip(edits, z)]

    def restore_sentences(self, sentences: Sequence[str], lattices: list | None = None,
                          gate: bool = True, groups: Sequence[Hashable] | None = None
                          ) -> list[list[Edit]]:
        """Edits (sentence offsets) for each sentence: the best path of each, then, with
        ``passes`` > 1, the best path of each changed sentence as restored so far (only
        spans no earlier edit touched), as GECToR iterates its tagger (Omelianchuk et al.
        2020): restored neighbours give the encoder and the n-gram model cleaner context.
        ``lattices``: the first pass's (from :meth:`lattices`), to skip its encoder pass.
        ``gate``: apply the settings' spin gate (:meth:`kept`, on the first pass's lattices,
        each sentence read with those of its ``groups`` id: None, alone; spin detection
        reads every edit found) and their choice margin (:func:`choice_edits`) to the result;
        False: every edit found (spin detection reads those)."""
        lattices = lattices if lattices is not None else self.lattices(sentences)
        edits = [self.decode(x) for x in lattices]
        for _ in range(1, self.settings.passes):
            todo = [i for i, e in enumerate(edits) if e]
            if not todo:
                break
            restored = [Restoration(sentences[i], edits[i]) for i in todo]
            more = [self.decode(x) for x in self.lattices([r.text for r in restored])]
            found = False
            for i, r, new in zip(todo, restored, more):
                mapped = _map_back(r, new)
                found = found or bool(mapped)
                edits[i] = sorted(r.edits + mapped, key=lambda e: e.start)
            if not found:
                break
        return self.kept(lattices, edits, groups) if gate else edits

    # -- loading and saving ----------------------------------------------------------------
    @classmethod
    def load(cls, index: CandidateIndex, encoder_folder: str | Path,
             settings: FastSettings | dict[str, Any] | None = None,
             ngram: None | str | Path | list[dict[str, Any]] = None, device: str = "cpu",
             resolve: Callable[[str], str] = str) -> "FastRestorer":
        """A fast restorer from a saved encoder folder (:meth:`SpinEncoder.save_pretrained`),
        the n-gram model that ``ngram`` names (:func:`despin.ngram.load_lm`: None is
        pocketsphinx's English model; its paths go through ``resolve``) and ``settings``; the
        encoder runs on ``device`` ("auto": CUDA when there is one), in float32. Raises
        ValueError for a ``max_length`` (tokens) beyond the encoder's positions (512 for
        MiniLM)."""
        import torch

        if isinstance(settings, dict):
            settings = FastSettings(**settings)
        settings = settings or FastSettings()
        encoder, tokenizer = SpinEncoder.from_pretrained(encoder_folder)
        positions = getattr(encoder.base.config, "max_position_embeddings", None)
        if positions is not None and settings.max_length > positions:
            raise ValueError(f"FastSettings.max_length {settings.max_length} is beyond the "
                             f"encoder's {positions} positions")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        encoder.to(device)
        lm = load_lm(ngram, resolve, oov=settings.oov)
        return cls(index, encoder, tokenizer, lm, settings)

    def save(self, folder: str | Path) -> dict[str, Any]:
        """Write the encoder under ``folder/encoder`` (and the n-gram model's own files into
        ``folder``) and return the ``fast`` section of ``despin.json`` (settings, the
        encoder's folder name, the n-gram model: :func:`despin.ngram.save_lm`)."""
        folder = Path(folder)
        self.encoder.save_pretrained(folder / ENCODER_FOLDER)
        return {"settings": self.settings.to_dict(), "encoder": ENCODER_FOLDER,
                "ngram": save_lm(self.lm, folder)}


def _with(path: list[Arc], copies: list[Arc], add: Arc | None, drop: Arc | None) -> list[Arc]:
    """``path`` with ``drop`` replaced by its copy arcs and/or ``add`` put in (arcs it
    overlaps give way to copies of the tokens ``add`` does not cover)."""
    arcs = [a for a in path if a is not drop]
    if drop is not None:
        arcs += copies[drop.start:drop.end]
    if add is not None:
        keep = []
        for a in arcs:
            if a.end <= add.start or a.start >= add.end:
                keep.append(a)
            else:
                keep += [c for c in copies[a.start:a.end]
                         if c.end <= add.start or c.start >= add.end]
        arcs = keep + [add]
    return sorted(arcs, key=lambda a: a.start)


def _map_back(restoration: Restoration, edits: list[Edit]) -> list[Edit]:
    """Edits of ``restoration.text`` that touch no earlier edit, in the input's offsets.

    No earlier edit lies inside a kept edit's span, so the span keeps its length: its end is
    mapped as its start plus that length. (Mapping the end on its own would move it past the
    text of an earlier deletion that ends exactly there: ``input_offset`` cannot tell which
    side of an empty output span an offset means.)"""
    out = []
    for e in edits:
        if any(e.start < d.out_end and d.out_start < e.end for d in restoration.edits):
            continue
        start = restoration.input_offset(e.start)
        out.append(replace(e, start=start, end=start + e.end - e.start))
    return out
