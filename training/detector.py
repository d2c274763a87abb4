"""Fit the spun-word detector (:mod:`despin.detector`) of a Despinner on training pairs.

    python -m training.detector --data data/pairs --limit 3000 --layer 10 --out DIR

Reads each spun training sentence once with the Despinner's language model, takes every word
that may be a slot (not protected, letters only), labels it by whether it lies inside a
recorded swap, and fits a logistic probe on the hidden states around it. Prints the held-out
log-loss and AUC of the probe, of the spun-ness table alone (the baseline) and of the base
rate, then writes the Despinner with its detector to ``--out``. Refit the calibration
afterwards (:mod:`training.calibrate`): the detector's log-odds are one of its features.
"""
from __future__ import annotations

import argparse
import math
import random
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from despin.despinner import SEARCH_PATH, Despinner
from despin.detector import SpunDetector, word_features, word_token_ends
from despin.text import is_word, protected_mask, sentence_spans, tokenize
from training.calibrate import log_loss
from training.entry import positive_int
from training.evaluate import evenly_spaced

__all__ = ["word_rows", "between", "auc", "main"]


def between(n: int, limit: int) -> list[int]:
    """``limit`` indices spread evenly over ``range(n)``, half a step after those of
    :func:`training.evaluate.evenly_spaced`, so that they miss the texts that
    :mod:`training.calibrate` reads (the calibration must not see in-sample detector scores)."""
    if limit >= n:
        raise ValueError(f"--limit {limit} must be below the split's {n} texts")
    return sorted({min(n - 1, round((i + 0.5) * n / limit)) for i in range(limit)})


def word_rows(model: Despinner, spun: Sequence[str], swaps: Sequence[Sequence[dict]],
              layer: int) -> tuple[np.ndarray, list[int], list[int], list[float]]:
    """Per eligible word of the spun texts: probe features, label (inside a swap), text index
    and the spun-ness table's log-odds (0 without a table)."""
    lm = model.language_model
    if lm is None:
        raise ValueError("the detector needs a plain language model among the scorers")
    feats, labels, groups, table = [], [], [], []
    for n, (text, sw) in enumerate(tqdm(list(zip(spun, swaps)), desc="hidden states",
                                        unit="text")):
        spans = [(s["start"], s["end"]) for s in sw]
        for a, b in sentence_spans(text):
            sentence = text[a:b]
            words = tokenize(sentence)
            mask = protected_mask(sentence, words)
            offsets, _, hidden = model.lm_pass(sentence, lm, layer, logits=False)
            for w, protected, span in zip(words, mask, word_token_ends(offsets, words)):
                if protected or span is None or not is_word(w.text):
                    continue
                feats.append(word_features(hidden, span))
                labels.append(int(any(x <= w.start + a and w.end + a <= y for x, y in spans)))
                groups.append(n)
                table.append(model.spunness.log_odds(w.text) if model.spunness else 0.0)
    width = feats[0].shape[0] if feats else 0
    return np.stack(feats) if feats else np.zeros((0, width)), labels, groups, table


def auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    order = sorted(range(len(scores)), key=lambda k: scores[k])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in order[i:j + 1]:
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(labels)
    neg = len(labels) - pos
    return (sum(r for r, y in zip(ranks, labels) if y) - pos * (pos + 1) / 2) / (pos * neg)


def main(argv: list[str] | None = None) -> SpunDetector:
    p = argparse.ArgumentParser(prog="python -m training.detector",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None,
                   help="Despinner folder (default: the shipped search core, "
                        "despin/default/accurate)")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="train")
    p.add_argument("--limit", type=positive_int, default=3000, help="texts to read")
    p.add_argument("--layer", type=int, default=10, help="hidden layer to probe")
    p.add_argument("--l2", type=float, default=0.1, help="× mean squared weight")
    p.add_argument("--holdout", type=float, default=0.2,
                   help="share of texts held out to report log-loss and AUC on")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="write the Despinner with its detector here")
    args = p.parse_args(argv)
    import datasets

    model = Despinner.from_pretrained(args.model or SEARCH_PATH)
    model.detector = None  # read the language model afresh
    ds = datasets.load_from_disk(args.data)[args.split]
    ds = ds.select(between(len(ds), args.limit))
    x, y, groups, table = word_rows(model, ds["spun"], ds["swaps"], args.layer)
    lm_name = model.language_model.spec.model
    print(f"{len(y)} words, {sum(y)} spun ({sum(y) / max(len(y), 1):.1%}), from {len(ds)} "
          f"{args.split} texts; layer {args.layer}, {x.shape[1]} features")
    held = set(random.Random(args.seed).sample(range(len(ds)), int(args.holdout * len(ds))))
    test = [k for k, g in enumerate(groups) if g in held]
    fit = [k for k, g in enumerate(groups) if g not in held]
    if test:
        yt = [y[k] for k in test]
        rate = sum(y[k] for k in fit) / len(fit)
        probe = SpunDetector.fit(lm_name, args.layer, x[fit], [y[k] for k in fit], args.l2)
        z = probe.log_odds(x[test]).tolist()
        tz = [table[k] for k in test]
        # the table's log-odds are already calibrated to the swap rate: scored as they are
        print(f"held-out on {len(held)} texts ({len(test)} words):")
        as_is = lambda v: v  # noqa: E731  (the rows are log-odds already)
        prior = [math.log(rate / (1 - rate))] * len(yt)
        print(f"  {'base rate':<16} log-loss {log_loss(as_is, prior, yt):.4f}")
        print(f"  {'spun-ness table':<16} log-loss {log_loss(as_is, tz, yt):.4f}  "
              f"AUC {auc(tz, yt):.3f}")
        print(f"  {'detector':<16} log-loss {log_loss(as_is, z, yt):.4f}  AUC {auc(z, yt):.3f}")
    model.detector = SpunDetector.fit(lm_name, args.layer, x, y, args.l2)
    model.save_pretrained(args.out)
    print(f"wrote {args.out}")
    return model.detector


if __name__ == "__main__":
    from training.entry import run

    run(main, "python -m training.detector")
