"""Fit spin detection (:mod:`despin.detection`) for a fast-core Despinner and write its
``detection.json``.

    python -m training.fit_detect --model despin/default --data data/pairs --docs 60

Data: the ``validation`` split of a pairs dataset (:mod:`training.pairs`). Whole documents are
taken (``--docs`` of them, a seeded sample of ``doc_id``\\ s), one spin per unit (``spin`` 0),
and every unit is read twice, as spun and as its original:

- the sentence model is fitted on the units the spinner changed (label 1) against their
  originals (label 0);
- the document model on windows of consecutive units of random length 1–30 (paragraphs to
  documents): the spun window (label 1, when the spinner changed any unit of it) against the
  same window of originals (label 0).

The same functions serve the detection benchmark (``benchmarks/detection.py``) on the test split.
"""
from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from despin.detection import (DOCUMENT_FEATURES, SENTENCE_FEATURES, DetectionModel, Logistic,
                              document_features, sentence_rows)

from training.entry import positive_int

from .detector import auc

__all__ = ["Units", "read_units", "windows", "fit", "main"]


@dataclass
class Units:
    """The units of a sample of documents, in order: ``doc[i]`` (document index), ``spun[i]``
    and ``original[i]`` texts, ``changed[i]``; after :meth:`score`, each side's sentence
    feature rows (``[n, 7]``) and word counts."""

    doc: list[int]
    spun: list[str]
    original: list[str]
    changed: list[bool]
    rows: dict[str, np.ndarray] | None = None
    words: dict[str, list[int]] | None = None

    def score(self, fast, progress: bool = True) -> "Units":
        """Read both sides with the fast core ``fast`` (:func:`despin.detection.sentence_rows`)."""
        from tqdm.auto import tqdm

        self.rows, self.words = {}, {}
        for side in ("spun", "original"):
            texts = getattr(self, side)
            rows, words = [], []
            for k in tqdm(range(0, len(texts), 256), desc=f"reading {side}", disable=not progress):
                r, w, _ = sentence_rows(fast, texts[k:k + 256])
                rows.append(r)
                words += w
            self.rows[side] = np.concatenate(rows)
            self.words[side] = words
        return self


def read_units(data: str | Path, split: str, docs: int, seed: int = 0,
               max_units: int = 60, exclude_family: str | None = None) -> Units:
    """Spin 0 of every unit of ``docs`` documents of ``split`` (a seeded sample of doc_ids;
    at most ``max_units`` units from the start of each), in document order."""
    from datasets import load_from_disk

    from training.pairs import without_family

    dd = load_from_disk(str(data))
    if split not in dd:
        raise ValueError(f"{data} has no split {split!r} (has {sorted(dd)})")
    ds = without_family(dd[split], exclude_family, str(data))
    ds = ds.select([i for i, s in enumerate(ds["spin"]) if s == 0])
    ids = sorted(set(ds["doc_id"]))
    chosen = set(random.Random(seed).sample(ids, min(docs, len(ids))))
    keep: dict[str, list[tuple[int, int]]] = {}
    for i, (d, u) in enumerate(zip(ds["doc_id"], ds["unit"])):
        if d in chosen:
            keep.setdefault(d, []).append((u, i))
    units = Units([], [], [], [])
    for n, d in enumerate(sorted(keep)):
        for _, i in sorted(keep[d])[:max_units]:
            row = ds[i]
            units.doc.append(n)
            units.spun.append(row["spun"])
            units.original.append(row["original"])
            units.changed.append(row["spun"] != row["original"])
    return units


def windows(units: Units, lengths: Sequence[int] | None = None, seed: int = 0
            ) -> list[tuple[int, int]]:
    """Non-overlapping windows ``(a, b)`` of consecutive units inside each document, each
    holding at least one changed unit: of the given ``lengths`` in turn (cycling) or, with
    None, of seeded random lengths 1–30."""
    rng = random.Random(seed)
    out, a, k = [], 0, 0
    n = len(units.doc)
    while a < n:
        size = lengths[k % len(lengths)] if lengths else rng.randint(1, 30)
        k += 1
        b = a + 1
        while b < n and b - a < size and units.doc[b] == units.doc[a]:
            b += 1
        if any(units.changed[a:b]):
            out.append((a, b))
        a = b
    return out


def window_rows(units: Units, model: DetectionModel, spans: Sequence[tuple[int, int]]
                ) -> tuple[np.ndarray, list[int]]:
    """Document feature rows of each window read as spun (label 1) and as original (label 0),
    from the sentence model's log-odds; returns ``(rows [2·windows, 5], labels)``."""
    z = {side: model.sentence_log_odds(units.rows[side]) for side in ("spun", "original")}
    rows, labels = [], []
    for label, side in ((1, "spun"), (0, "original")):
        for a, b in spans:
            rows.append(document_features(z[side][a:b], units.words[side][a:b]))
            labels.append(label)
    return np.array(rows), labels


def sentence_data(units: Units) -> tuple[np.ndarray, list[int]]:
    """Sentence rows of the changed units as spun (label 1) and as original (label 0)."""
    idx = [i for i, c in enumerate(units.changed) if c]
    rows = np.concatenate([units.rows["spun"][idx], units.rows["original"][idx]])
    return rows, [1] * len(idx) + [0] * len(idx)


def fit(units: Units, seed: int = 0, record: dict[str, Any] | None = None) -> DetectionModel:
    """Fit the sentence and document models on scored ``units`` (:meth:`Units.score`)."""
    x, y = sentence_data(units)
    sentence = Logistic.fit(SENTENCE_FEATURES, x, y)
    model = DetectionModel(sentence, sentence)  # the document model reads the sentence model
    spans = windows(units, seed=seed)
    dx, dy = window_rows(units, model, spans)
    model.document = Logistic.fit(DOCUMENT_FEATURES, dx, dy)
    model.fitted = {**(record or {}), "sentences": len(y), "windows": len(spans),
                    "sentence_auc": round(auc(list(model.sentence_log_odds(x)), y), 4),
                    "window_auc": round(auc(list(model.document.log_odds(dx)), dy), 4)}
    return model


def main(argv: list[str] | None = None) -> DetectionModel:
    p = argparse.ArgumentParser(prog="python -m training.fit_detect",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="despin/default", help="a fast-core Despinner folder")
    p.add_argument("--data", default="data/pairs", help="pairs dataset (training.pairs)")
    p.add_argument("--split", default="validation")
    p.add_argument("--docs", type=positive_int, default=60,
                   help="documents sampled from the split")
    p.add_argument("--max-units", type=positive_int, default=60,
                   help="units read per document")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="folder for detection.json (default: --model)")
    p.add_argument("--exclude-family", default=None,
                   help="leave this spinner family's documents out (pairs with a family column; "
                        "for a leave-one-family-out test)")
    args = p.parse_args(argv)
    from despin import Despinner

    despinner = Despinner.from_pretrained(args.model)
    if despinner.fast_spec is None:
        p.error(f"{args.model} is not a fast-core Despinner: detection reads the fast core")
    t0 = time.time()
    try:
        units = read_units(args.data, args.split, args.docs, args.seed, args.max_units,
                           args.exclude_family)
    except ValueError as e:
        p.error(str(e))
    units.score(despinner.fast)
    model = fit(units, args.seed, {"data": str(args.data), "split": args.split,
                                   "docs": args.docs, "seed": args.seed,
                                   **({"exclude_family": args.exclude_family}
                                      if args.exclude_family else {})})
    model.fitted["minutes"] = round((time.time() - t0) / 60, 1)
    path = model.save(args.out or args.model)
    print(f"wrote {path}: {model.fitted}")
    return model


if __name__ == "__main__":
    from training.entry import run

    run(main, "python -m training.fit_detect")
