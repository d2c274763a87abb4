"""A fast n-gram language model: the fluency term of the fast decoder (:mod:`despin.decoder`).

The model is the English trigram model of CMU Sphinx (``model/en-us/en-us.lm.bin`` in the PyPI
package ``pocketsphinx``, BSD licence: 72,547 lower-case words, 2.05M bigrams, 1.67M trigrams,
Katz back-off), read with ``pocketsphinx.NGramModel`` (a look-up costs about 0.6 µs). It was
built from speech transcripts, so it knows no punctuation: the decoder feeds it words only.
"""
from __future__ import annotations

import importlib.resources
import importlib.util
import math
from functools import lru_cache
from pathlib import Path

__all__ = ["NGramLM", "pocketsphinx_lm_path", "BOS", "EOS"]

BOS, EOS = "<s>", "</s>"
_LOG_BASE = math.log(1.0001)  # pocketsphinx scores are log base 1.0001
_UNKNOWN = -536870912         # what pocketsphinx returns for a word it does not know


def pocketsphinx_lm_path() -> Path:
    """The English trigram model shipped in the PyPI package ``pocketsphinx``.

    Raises ModuleNotFoundError (with the pip command) when the package is not installed."""
    if importlib.util.find_spec("pocketsphinx") is None:
        raise ModuleNotFoundError("the fast decoder's n-gram model ships in the PyPI package "
                                  "pocketsphinx: pip install pocketsphinx")
    return Path(str(importlib.resources.files("pocketsphinx") / "model" / "en-us" / "en-us.lm.bin"))


class NGramLM:
    """A back-off trigram model: ``logprob(word, prev1, prev2)`` in nats.

    ``path``: an ARPA or binary (``.lm.bin``) model that pocketsphinx reads; None: the packaged
    English model. ``oov``: the log-probability (nats) given to a word the model does not know
    (pocketsphinx's own value is −53,687 nats, which would veto any sentence holding one); a
    hyphenated unknown word ("know-how") is scored as its parts when they are all known.
    Words are lower-cased here. Raises FileNotFoundError for a missing ``path``.
    """

    def __init__(self, path: str | Path | None = None, oov: float = -12.0):
        from pocketsphinx import NGramModel

        self.path = Path(path) if path is not None else pocketsphinx_lm_path()
        if not self.path.exists():
            raise FileNotFoundError(f"no n-gram model at {self.path}")
        self._model = NGramModel.readfile(str(self.path))
        self.oov = oov
        # memoised (trigrams repeat across a slot's candidates); 250k entries keep it near 80 MB
        self.logprob = lru_cache(maxsize=250_000)(self._logprob)

    def _raw(self, words: list[str]) -> float | None:
        v = self._model.prob(words)
        return None if v <= _UNKNOWN else v * _LOG_BASE

    def _logprob(self, word: str, prev1: str = BOS, prev2: str | None = None) -> float:
        """log P(word | prev2 prev1) in nats (``prev2`` None: a bigram context)."""
        word = word.lower()
        ctx = [prev1.lower()] + ([prev2.lower()] if prev2 is not None else [])
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

    def sentence_logprob(self, words: list[str], eos: bool = True) -> float:
        """log P(words) in nats, from ``<s>`` (and to ``</s>`` with ``eos``)."""
        h1, h2, total = BOS, None, 0.0
        for w in words + ([EOS] if eos else []):
            total += self.logprob(w, h1, h2)
            h1, h2 = w.lower(), h1
        return total
