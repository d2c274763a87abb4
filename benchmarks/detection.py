"""Spin detection table: ROC-AUC and accuracy of ``Despinner.detect`` on held-out text.

    python benchmarks/detection.py --data data/pairs --docs 150 --tortured 300

Rows, each spun text against its own clean original (test split, one spin per unit):

- **sentence**: the units the spinner changed, read alone;
- **paragraph**: windows of 5 consecutive units of one document holding at least one change;
- **document**: whole documents (up to ``--max-units`` units);
- **tortured phrase**: a sentence carrying a real tortured phrase (``../shared/eval``, n_papers ≥
  10, evaluation only) against the same sentence with the expected phrase; the carrier
  sentences are written here (``CARRIERS``), one per phrase in turn.

Columns: AUC and accuracy at probability 0.5 of the shipped detector (``detect``), and the same
run's baselines: the issue-3 search core's spun-ness table (the largest word log-odds of a
sentence, counted from training pairs, ``despin.spunness``; documents: the word-weighted mean)
and word rarity (the mean of 7 − Zipf frequency over a text's words, ``wordfreq``). Anchors:
machine-paraphrase detectors reach 99 % accuracy per document and 83 % per paragraph on
SpinBot output (Foltýnek et al. 2020, "Detecting machine-obfuscated plagiarism").
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from despin.despinner import SEARCH_PATH, Despinner  # noqa: E402
from training.entry import non_negative_int, positive_int  # noqa: E402
from despin.detection import document_features, sentence_rows  # noqa: E402
from despin.spunness import SpunnessTable  # noqa: E402
from despin.text import tokenize  # noqa: E402
from training.detector import auc  # noqa: E402
from training.evaluate import load_tortured  # noqa: E402
from training.fit_detect import Units, read_units, windows  # noqa: E402

CARRIERS = [
    "In this paper, we apply {} to the problem of detecting faults in power grids.",
    "Recent advances in {} have changed how hospitals store patient records.",
    "The proposed method relies on {} and was evaluated on three public datasets.",
    "We compare several approaches based on {} in terms of accuracy and cost.",
]


def _baselines(texts: list[str], table: SpunnessTable) -> tuple[np.ndarray, np.ndarray]:
    """Per text: the spun-ness table's largest word log-odds, and the mean word rarity."""
    from wordfreq import zipf_frequency

    spun, rare = [], []
    for t in texts:
        words = [w.text for w in tokenize(t) if w.text[:1].isalpha()]
        spun.append(max((table.log_odds(w) for w in words), default=-10.0))
        rare.append(float(np.mean([7 - zipf_frequency(w.lower(), "en") for w in words]))
                    if words else 0.0)
    return np.array(spun), np.array(rare)


def _row(name: str, n: int, scores: dict[str, np.ndarray], labels: list[int]) -> list[str]:
    """A table row: AUC of each scorer; accuracy at 0.5 for the detector (log-odds > 0)."""
    det = scores["detector"]
    acc = float(np.mean((det > 0) == np.array(labels, dtype=bool)))
    return [name, str(n), f"{auc(list(det), labels):.3f}", f"{acc:.1%}",
            f"{auc(list(scores['spun-ness table']), labels):.3f}",
            f"{auc(list(scores['word rarity']), labels):.3f}"]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python benchmarks/detection.py",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="Despinner folder (default: shipped)")
    p.add_argument("--data", default="data/pairs")
    p.add_argument("--split", default="test")
    p.add_argument("--docs", type=positive_int, default=150, help="documents sampled from the split")
    p.add_argument("--max-units", type=positive_int, default=40)
    p.add_argument("--tortured", type=non_negative_int, default=300,
                   help="tortured phrases sampled (0: no tortured row)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    # the evaluation-only phrases are read first: a missing file fails before the long part
    phrases = [r for r in load_tortured() if r["n_papers"] >= 10] if args.tortured > 0 else []
    phrases = random.Random(args.seed).sample(phrases, min(args.tortured, len(phrases)))
    import torch

    t0 = time.time()
    model = Despinner.from_pretrained(args.model)
    if model.fast_spec is None or model.detection is None:
        p.error(f"--model {args.model}: no spin detector (detection needs a fast-core model "
                f"with its detection.json: python -m training.fit_detect)")
    det = model.detection
    table = SpunnessTable.load(SEARCH_PATH / SpunnessTable.FILE)
    units: Units = read_units(args.data, args.split, args.docs, args.seed, args.max_units)
    units.score(model.fast)
    z = {s: det.sentence_log_odds(units.rows[s]) for s in ("spun", "original")}
    base = {s: _baselines(getattr(units, s), table) for s in ("spun", "original")}
    header = ["level", "pairs", "AUC", "accuracy", "AUC spun-ness table", "AUC word rarity"]
    rows = []

    changed = [i for i, c in enumerate(units.changed) if c]
    labels = [1] * len(changed) + [0] * len(changed)
    scores = {"detector": np.concatenate([z["spun"][changed], z["original"][changed]]),
              "spun-ness table": np.concatenate([base["spun"][0][changed],
                                                 base["original"][0][changed]]),
              "word rarity": np.concatenate([base["spun"][1][changed],
                                             base["original"][1][changed]])}
    rows.append(_row("sentence", len(changed), scores, labels))

    for name, lengths in (("paragraph (5 units)", [5]), (f"document (≤{args.max_units} units)",
                                                        [args.max_units])):
        spans = windows(units, lengths)
        scores = {"detector": [], "spun-ness table": [], "word rarity": []}
        labels = []
        for label, side in ((1, "spun"), (0, "original")):
            words = units.words[side]
            for a, b in spans:
                scores["detector"].append(det.document.log_odds(
                    document_features(z[side][a:b], words[a:b]))[0])
                w = np.maximum(np.array(words[a:b], dtype=float), 1)
                scores["spun-ness table"].append(float(w @ base[side][0][a:b] / w.sum()))
                scores["word rarity"].append(float(w @ base[side][1][a:b] / w.sum()))
                labels.append(label)
        rows.append(_row(name, len(spans), {k: np.array(v) for k, v in scores.items()}, labels))

    if phrases:
        tortured = [CARRIERS[k % len(CARRIERS)].format(r["tortured"])
                    for k, r in enumerate(phrases)]
        expected = [CARRIERS[k % len(CARRIERS)].format(r["expected"])
                    for k, r in enumerate(phrases)]
        rt, _, _ = sentence_rows(model.fast, tortured)
        re_, _, _ = sentence_rows(model.fast, expected)
        bt, be = _baselines(tortured, table), _baselines(expected, table)
        scores = {"detector": np.concatenate([det.sentence_log_odds(rt),
                                              det.sentence_log_odds(re_)]),
                  "spun-ness table": np.concatenate([bt[0], be[0]]),
                  "word rarity": np.concatenate([bt[1], be[1]])}
        rows.append(_row("tortured phrase (sentence)", len(phrases), scores,
                         [1] * len(phrases) + [0] * len(phrases)))

    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    print(f"spin detection, {args.split} split of {args.data} ({args.docs} documents, seed "
          f"{args.seed}); CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    print(f"({time.time() - t0:.0f} s; detector fitted on: {det.fitted})")
    print("command: python " + " ".join(sys.argv))


if __name__ == "__main__":
    main()
