"""A fast n-gram language model: the fluency term of the fast decoder (:mod:`despin.decoder`).

The base model is the English trigram model of CMU Sphinx (``model/en-us/en-us.lm.bin`` in the
PyPI package ``pocketsphinx``, BSD licence: 72,547 lower-case words, 2.05M bigrams, 1.67M
trigrams, Katz back-off), read with ``pocketsphinx.NGramModel`` (a look-up costs about 0.6 µs).
It was built from speech transcripts, so it knows no punctuation: the decoder feeds it words
only. A model folder may add a trigram model of written prose (an ARPA file that
``python -m training.ngram`` estimates with KenLM from the training pairs' originals), mixed
with the base model by linear interpolation (:class:`MixtureLM`); :func:`load_lm` reads the
``ngram`` entry of a folder's ``despin.json`` and :func:`save_lm` writes it.
"""
from __future__ import annotations

import importlib.resources
import importlib.util
import math
import shutil
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["NGramLM", "MixtureLM", "load_lm", "save_lm", "with_prose", "pocketsphinx_lm_path",
           "BOS", "EOS"]

BOS, EOS = "<s>", "</s>"
MEMO_SIZE = 250_000  # look-ups a model memoises
_LOG_BASE = math.log(1.0001)  # pocketsphinx scores are log base 1.0001
_UNKNOWN = -536870912         # what pocketsphinx returns for a word it does not know


def pocketsphinx_lm_path() -> Path:
    """The English trigram model shipped in the PyPI package ``pocketsphinx``.

    Raises ModuleNotFoundError (with the pip command) when the package is not installed."""
    if importlib.util.find_spec("pocketsphinx") is None:
        raise ModuleNotFoundError("the fast decoder's n-gram model ships in the PyPI package "
                                  "pocketsphinx: pip install pocketsphinx")
    return Path(str(importlib.resources.files("pocketsphinx") / "model" / "en-us" / "en-us.lm.bin"))


class _TrigramScorer:
    """What the decoder reads of a language model: ``logprob(word, prev1, prev2)`` (nats, set
    by the subclass, memoised) and the sentence's sum of them."""

    logprob: Callable[..., float]

    def sentence_logprob(self, words: list[str], eos: bool = True) -> float:
        """log P(words) in nats, from ``<s>`` (and to ``</s>`` with ``eos``)."""
        h1, h2, total = BOS, None, 0.0
        for w in words + ([EOS] if eos else []):
            total += self.logprob(w, h1, h2)
            h1, h2 = w.lower(), h1
        return total


class NGramLM(_TrigramScorer):
    """A back-off trigram model: ``logprob(word, prev1, prev2)`` in nats.

    ``path``: an ARPA or binary (``.lm.bin``) model that pocketsphinx reads; None: the packaged
    English model. ``oov``: the log-probability (nats) given to a word the model does not know
    (pocketsphinx's own value is −53,687 nats, which would veto any sentence holding one); a
    hyphenated unknown word ("know-how") is scored as its parts when they are all known.
    Words are lower-cased here. ``memo``: how many look-ups to memoise (0: none, for a
    component of a :class:`MixtureLM`, which memoises its own). Raises FileNotFoundError for a
    missing ``path``.
    """

    def __init__(self, path: str | Path | None = None, oov: float = -12.0,
                 memo: int = MEMO_SIZE):
        from pocketsphinx import NGramModel

        self.path = Path(path) if path is not None else pocketsphinx_lm_path()
        if not self.path.exists():
            raise FileNotFoundError(f"no n-gram model at {self.path}")
        self._model = NGramModel.readfile(str(self.path))
        self.oov = oov
        # memoised (trigrams repeat across a slot's candidates); 250k entries keep it near 80 MB
        self.logprob = lru_cache(maxsize=memo)(self._logprob) if memo else self._logprob

    def _raw(self, words: list[str]) -> float | None:
        v = self._model.prob(words)
        return None if v <= _UNKNOWN else v * _LOG_BASE

    def _logprob(self, word: str, prev1: str = BOS, prev2: str | None = None) -> float:
        """log P(word | prev2 prev1) in nats (``prev2`` None: a bigram context)."""
        return self._lower(word.lower(), [prev1.lower()] if prev2 is None
                           else [prev1.lower(), prev2.lower()])

    def _lower(self, word: str, ctx: list[str]) -> float:
        """:meth:`_logprob` of a lower-case ``word`` after the lower-case ``ctx`` (the
        previous word first; one or two words)."""
        v = self._raw([word] + ctx)
        if v is not None:
            return v
        parts = word.split("-")
        if len(parts) > 1 and all(parts):
            total, h1, h2 = 0.0, ctx[0], ctx[1] if len(ctx) > 1 else None
            for p in parts:
                q = self._raw([p, h1] + ([h2] if h2 is not None else []))
                if q is None:
                    return self.oov
                total += q
                h1, h2 = p, h1
            return total
        return self.oov


class MixtureLM(_TrigramScorer):
    """Linear interpolation of n-gram models (Jelinek & Mercer 1980):
    ``P(w | h) = Σ_k λ_k · P_k(w | h)``, ``logprob`` in nats like :class:`NGramLM`'s.

    ``models``: the components (each scores a word its own way, an unknown word at its
    ``oov``); ``weights``: their λ, positive, normalised here to sum to 1. Raises ValueError
    for no models, a weight per model missing, or a weight that is not positive."""

    def __init__(self, models: Sequence[NGramLM], weights: Sequence[float]):
        if not models or len(models) != len(weights):
            raise ValueError(f"a mixture needs one weight per model (got {len(models)} models "
                             f"and {len(weights)} weights)")
        if any(not (w > 0 and math.isfinite(w)) for w in weights):
            raise ValueError(f"mixture weights must be positive and finite, got {list(weights)}")
        total = float(sum(weights))
        self.models = list(models)
        self.weights = [w / total for w in weights]
        self._log_weights = [math.log(w) for w in self.weights]
        self.logprob = lru_cache(maxsize=MEMO_SIZE)(self._logprob)

    def _logprob(self, word: str, prev1: str = BOS, prev2: str | None = None) -> float:
        # lower-cased once for all the components, read past their own memos (off where
        # load_lm builds them; the values are the same either way): the mixture memoises
        word, ctx = word.lower(), ([prev1.lower()] if prev2 is None
                                   else [prev1.lower(), prev2.lower()])
        parts = [lw + m._lower(word, ctx) for lw, m in zip(self._log_weights, self.models)]
        top = max(parts)
        return top + math.log(sum(math.exp(v - top) for v in parts))


def load_lm(spec: None | str | Sequence[dict[str, Any]], resolve: Callable[[str], str] = str,
            oov: float = -12.0) -> NGramLM | MixtureLM:
    """The language model a ``despin.json`` names in ``fast.ngram``:

    - ``None``: pocketsphinx's English model;
    - a path: that model (ARPA or pocketsphinx binary);
    - a list of ``{"path": str | None, "weight": float}``: their :class:`MixtureLM`, a
      ``None`` path meaning pocketsphinx's model.

    ``resolve`` turns a stored path into a readable one (a model folder's own file first).
    Raises FileNotFoundError for a missing file and ValueError for a malformed entry."""
    if spec is None or isinstance(spec, (str, Path)):
        return NGramLM(None if spec is None else resolve(str(spec)), oov=oov)
    parts = _components(spec)
    models = [NGramLM(None if path is None else resolve(path), oov=oov, memo=0)
              for path, _ in parts]
    return MixtureLM(models, [w for _, w in parts])


def _components(spec: Any) -> list[tuple[str | None, float]]:
    """``(path, weight)`` of each entry of a ``fast.ngram`` list; ValueError when it is not a
    non-empty list of ``{"path": str | None, "weight": number}``."""
    try:
        if isinstance(spec, (str, bytes, dict)) or not spec:
            raise TypeError
        parts = [(None if c["path"] is None else str(c["path"]), float(c["weight"]))
                 for c in spec]
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"fast.ngram: expected null, a path or a list of "
                         f"{{'path', 'weight'}} entries, got {spec!r}") from exc
    return parts


def with_prose(spec: None | str | Sequence[dict[str, Any]], path: str | Path,
               weight: float = 0.5) -> list[dict[str, Any]]:
    """``spec`` (a ``fast.ngram`` entry, see :func:`load_lm`) with the prose model at ``path``
    in place of its own: pocketsphinx's component keeps its weight and ``path`` takes the
    summed weight of the others; with no other component (a folder without a prose model)
    ``path`` comes in at ``weight``, and with no pocketsphinx component it is the whole model.
    ``path`` is made absolute. Raises FileNotFoundError for a missing file and ValueError for
    a ``weight`` outside (0, 1) or a malformed ``spec``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no n-gram model at {path}")
    if not 0 < weight < 1:
        raise ValueError(f"the prose model's weight must be between 0 and 1, got {weight}")
    if spec is None or isinstance(spec, (str, Path)):
        spec = [{"path": None if spec is None else str(spec), "weight": 1.0}]
    parts = _components(spec)
    base = sum(w for stored, w in parts if stored is None)
    other = sum(w for stored, w in parts if stored is not None)
    mine = str(path.resolve())
    if base == 0:
        return [{"path": mine, "weight": 1.0}]
    if other == 0:
        base, other = 1.0 - weight, weight
    return [{"path": None, "weight": base}, {"path": mine, "weight": other}]


def save_lm(lm: NGramLM | MixtureLM, folder: str | Path) -> None | str | list[dict[str, Any]]:
    """Copy ``lm``'s own files (every one but pocketsphinx's) into ``folder`` and return the
    ``fast.ngram`` entry that :func:`load_lm` reads back from there. Two files of one name
    (``a/prose.arpa``, ``b/prose.arpa``) are stored as ``prose.arpa`` and ``prose-2.arpa``."""
    folder = Path(folder)
    taken: dict[str, Path] = {}  # stored name -> the file it holds

    def local(model: NGramLM) -> str | None:
        if model.path == pocketsphinx_lm_path():
            return None
        src, name, k = model.path.resolve(), model.path.name, 1
        while name in taken and taken[name] != src:
            k += 1
            name = f"{model.path.stem}-{k}{model.path.suffix}"
        taken[name] = src
        if src != (folder / name).resolve():
            shutil.copyfile(src, folder / name)
        return name

    if isinstance(lm, MixtureLM):
        return [{"path": local(m), "weight": w} for m, w in zip(lm.models, lm.weights)]
    return local(lm)
