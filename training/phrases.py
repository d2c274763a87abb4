"""Build (spun, original) pairs of bare *phrases*: frequent terms of the corpora, spun hard.

    python -m training.phrases --config configs/phrases.yaml --out data/phrases

A tortured phrase ("counterfeit consciousness" for "artificial intelligence") reaches a
restorer without a sentence around it, and nearly every word of it is spun. Sentence pairs
(:mod:`training.pairs`) teach neither: their words have context, and one in five is spun. This
module makes the phrase-shaped counterpart from the same corpora: every 2–``max_words``-word
lower-case run that occurs at least ``min_count`` times, neither starting nor ending with a
function word (``"health care"``, ``"foreign policy"``, ``"the united states"`` is out), is a
term; terms are split train/validation/test by hashing the term itself (so no term is in two
splits), and each is spun with a rate drawn from ``rate`` (a ``clean_share`` of them unspun).
The spinner is the same as for sentences; the same config and corpora give the same pairs.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from despin.synonyms import FUNCTION_WORDS
from despin.text import is_word, split_sentences, tokenize
from training.corpora import (SPLITS, Document, dedup_paragraphs, load_corpora,
                              split_by_document, stable_hash)
from training.entry import positive_int
from training.pairs import (_features, _make_spinner, _split_fractions, count_words, pair_row,
                            read_section, save_pairs)

if TYPE_CHECKING:
    from datasets import DatasetDict

__all__ = ["DEFAULTS", "load_config", "count_terms", "build_phrases", "main"]

DEFAULTS: dict[str, Any] = {
    "corpora": [{"kind": "sotu", "min_year": 1900}, {"kind": "wiki"}],
    "spinner": "spinner.yaml",
    "splits": {"train": 0.9, "validation": 0.05, "test": 0.05},
    "seed": 0,
    "min_words": 2,
    "max_words": 3,
    "min_count": 3,
    "rate": [0.5, 1.0],   # share of a term's words swapped, drawn per term
    "clean_share": 0.1,   # terms left unspun (a restorer must leave clean phrases alone)
    "max_terms": None,    # int or {split: int}: cap per split (the most frequent are kept)
}


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a phrases YAML (keys at top level or under ``phrases:``) over :data:`DEFAULTS`."""
    return read_section(path, "phrases", DEFAULTS)


def count_terms(texts: Iterable[str], min_words: int = 2, max_words: int = 3) -> Counter:
    """Occurrences of each candidate term: runs of ``min_words``–``max_words`` lower-case words
    inside one sentence, not starting or ending with a function word."""
    counts: Counter = Counter()
    for text in texts:
        for a, b in split_sentences(text):
            toks = [t.text for t in tokenize(text[a:b])]
            for i in range(len(toks)):
                for n in range(min_words, max_words + 1):
                    run = toks[i:i + n]
                    if (len(run) == n and all(is_word(w) and w.islower() for w in run)
                            and run[0] not in FUNCTION_WORDS and run[-1] not in FUNCTION_WORDS):
                        counts[" ".join(run)] += 1
    return counts


def build_phrases(config: dict[str, Any], max_docs: int | None = None,
                  progress: bool = True) -> DatasetDict:
    """The phrase pairs of ``config`` (see :data:`DEFAULTS`), with the columns of
    :func:`training.pairs.build_pairs` (``doc_id`` is the term, ``unit`` its count)."""
    from datasets import Dataset, DatasetDict
    from tqdm.auto import tqdm

    cfg = {**DEFAULTS, **config}
    lo, hi = cfg["rate"]
    if not 0 <= lo <= hi <= 1:
        raise ValueError(f"rate must be [low, high] within [0, 1], got {cfg['rate']}")
    if not 1 <= cfg["min_words"] <= cfg["max_words"]:
        raise ValueError("need 1 <= min_words <= max_words")
    spinner = _make_spinner(cfg["spinner"])
    docs = load_corpora(cfg["corpora"], max_docs=max_docs)
    counts = count_terms((p for _, paras in dedup_paragraphs(docs) for p in paras),
                         cfg["min_words"], cfg["max_words"])
    terms = [Document(t, t, "terms") for t, c in counts.items() if c >= cfg["min_count"]]
    by_split = split_by_document(terms, _split_fractions(cfg["splits"]), cfg["seed"])
    features = _features()
    out = {}
    caps = cfg["max_terms"]
    for split in SPLITS:
        ranked = sorted(by_split[split], key=lambda d: (-counts[d.id], d.id))
        cap = caps.get(split) if isinstance(caps, dict) else caps
        ranked = ranked[:cap] if cap is not None else ranked
        rows: dict[str, list] = {name: [] for name in features}
        for doc in tqdm(ranked, desc=f"spinning {split}", unit="term", disable=not progress,
                        file=sys.stderr):
            rng = random.Random(stable_hash("phrase", cfg["seed"], doc.id))
            rate = 0.0 if rng.random() < cfg["clean_share"] else rng.uniform(lo, hi)
            res = spinner.spin(doc.text, rng=rng, rate=rate)
            row = pair_row(res, count_words(doc.text), doc.source, doc.id, counts[doc.id], 0)
            for name, value in row.items():
                rows[name].append(value)
        out[split] = Dataset.from_dict(rows, features=features)
    return DatasetDict(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m training.phrases",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="phrases.yaml", help="phrases YAML (relative: configs/)")
    ap.add_argument("--out", required=True, help="folder for DatasetDict.save_to_disk")
    ap.add_argument("--max-docs", type=positive_int, default=None,
                    help="cap documents per corpus")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    t0 = time.time()
    dd = build_phrases(cfg, max_docs=args.max_docs, progress=not args.no_progress)
    save_pairs(dd, args.out, "phrases_config.json", {**cfg, "max_docs": args.max_docs}, t0,
               progress=not args.no_progress)


if __name__ == "__main__":
    from training.entry import run

    run(main, "python -m training.phrases")
