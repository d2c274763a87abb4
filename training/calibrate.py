"""Fit a Despinner's edit score on training pairs (:mod:`despin.calibration`).

    python -m training.calibrate --model despin/default --data data/pairs --limit 400 --out DIR

For every candidate of every slot in the spun side of the pairs, it records the scorer deltas
(as the search's first step sees them) and the candidate's constant features, labelled by
whether the spinner's recorded swap at that span came from that candidate. A logistic
regression on these gives every weight of the gain; the copy bonus becomes a threshold on the
log-odds (0: take an edit when it is more likely right than wrong; :mod:`training.tune` picks
it on validation).
"""
from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from despin.calibration import Calibration, candidate_features, fit_logistic, linear_score
from despin.despinner import Despinner, ScorerSpec
from despin.resources import file_key
from despin.search import candidate_edit, slot_best, slot_options
from despin.spunness import SpunnessTable
from despin.text import sentence_spans
from training.evaluate import evenly_spaced

__all__ = ["collect", "calibrate", "main"]


def collect(model: Despinner, spun: Sequence[str], swaps: Sequence[Sequence[dict]],
            desc: str = "features") -> tuple[list[dict[str, float]], list[int], list[int]]:
    """Feature rows, labels (1: the candidate is the original) and the text each row is from."""
    rows, labels, groups = [], [], []
    for n, (text, sw) in enumerate(tqdm(list(zip(spun, swaps)), desc=desc, unit="text")):
        gold = {(s["start"], s["end"], s["original"].lower()) for s in sw}
        for a, b in sentence_spans(text):
            sentence = text[a:b]
            slots = model.lattice(sentence)
            options = slot_options(slots, model.settings.top_k)  # what the search may take
            if not options:
                continue
            proposals = [candidate_edit(slots[i], j) for i, j in options]
            deltas = [t.delta([], proposals) for t in model.terms(sentence, slots, raw=True)]
            tops = [slot_best((i for i, _ in options), d) for d in deltas]
            for k, (i, j) in enumerate(options):
                slot = slots[i]
                f = candidate_features(slot, j, model.spunness)
                for t, (d, top) in enumerate(zip(deltas, tops)):
                    f[f"term:{t}"] = d[k]
                    f[f"term:{t}:gap"] = d[k] - top[i]  # as the search's gap term
                rows.append(f)
                labels.append(int((slot.start + a, slot.end + a,
                                   slot.candidates[j].text.lower()) in gold))
                groups.append(n)
    return rows, labels, groups


def _log_loss(weights: dict[str, float], rows, labels) -> float:
    total = 0.0
    for r, y in zip(rows, labels):
        z = linear_score(weights, r) * (-1 if y else 1)
        total += max(z, 0.0) + math.log1p(math.exp(-abs(z)))  # softplus: −log σ(±z), overflow-safe
    return total / max(len(rows), 1)


def calibrate(model: Despinner, rows: list[dict[str, float]], labels: list[int],
              l2: float = 1e-3) -> dict[str, float]:
    """Fit on ``rows`` and install the result in ``model``: scorer weights (of the delta and
    of its gap behind the slot's best) into its scorer specs, the rest as its
    :class:`~despin.calibration.Calibration`, copy bonus 0."""
    weights = fit_logistic(rows, labels, l2)
    for t, spec in enumerate(model.scorer_specs):
        spec.weight = weights.get(f"term:{t}", 0.0)
        spec.gap_weight = weights.get(f"term:{t}:gap", 0.0)
    model.calibration = Calibration({k: v for k, v in weights.items()
                                     if not k.startswith("term:")})
    model.settings.copy_bonus = 0.0
    return weights


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="Despinner folder (default: the shipped one)")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="train")
    p.add_argument("--limit", type=int, default=400)
    p.add_argument("--holdout", type=float, default=0.2,
                   help="share of texts held out to report log-loss on")
    p.add_argument("--l2", type=float, default=1e-3)
    p.add_argument("--top-k", type=int, help="candidates per slot (saved with the model)")
    p.add_argument("--prefilter", type=int, help="candidates kept by the LM check (saved)")
    p.add_argument("--prefilter-context", type=int,
                   help="slots with fewer tokens before them skip the LM check (saved)")
    p.add_argument("--window", type=int, help="LM window: tokens each side of a change (saved)")
    p.add_argument("--scorer", help="calibrate with this plain language model as the one "
                                    "scorer instead of the model's own (e.g. gemma3-270m)")
    p.add_argument("--scorer-dtype", help="its weights' dtype, e.g. bfloat16 (saved)")
    p.add_argument("--rows", help="cache of the collected rows (JSON): read when it was made "
                                  "with the same model settings and data, else written")
    p.add_argument("--out", help="write the calibrated Despinner folder here")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    overrides = {k: v for k, v in (("top_k", args.top_k), ("prefilter", args.prefilter),
                                   ("prefilter_context", args.prefilter_context),
                                   ("window", args.window))
                 if v is not None}
    model = Despinner.from_pretrained(args.model, **overrides)
    if args.scorer:
        model = Despinner(model.sources_spec, [ScorerSpec(args.scorer, 1.0, False,
                                                          dtype=args.scorer_dtype)],
                          model.settings, model.freq_power, model.device, model.batch_size,
                          base_dir=model.base_dir, index=model.index, spunness=model.spunness)
    elif args.scorer_dtype:
        p.error("--scorer-dtype needs --scorer")
    import datasets

    ds = datasets.load_from_disk(args.data)[args.split]
    ds = ds.select(evenly_spaced(len(ds), args.limit))
    spun_table = model.base_dir / SpunnessTable.FILE if model.base_dir else None
    key = {"settings": model.settings.to_dict(), "sources": model.sources_spec,
           "scorers": [s.model if s.dtype is None else f"{s.model}:{s.dtype}"
                       for s in model.scorer_specs],
           "spunness": list(file_key(spun_table)) if spun_table and spun_table.exists() else None,
           "data": str(args.data), "split": args.split, "n": len(ds),
           "fingerprint": ds._fingerprint}
    cache = Path(args.rows) if args.rows else None
    saved = json.loads(cache.read_text()) if cache and cache.exists() else None
    if saved and saved["key"] == json.loads(json.dumps(key)):
        rows, labels, groups = saved["rows"], saved["labels"], saved["groups"]
        print(f"rows read from {cache}")
    else:
        rows, labels, groups = collect(model, ds["spun"], ds["swaps"])
        if cache:
            cache.write_text(json.dumps({"key": key, "rows": rows, "labels": labels,
                                         "groups": groups}))
    print(f"{len(rows)} candidates, {sum(labels)} right ({sum(labels) / len(rows):.1%}), "
          f"from {len(ds)} {args.split} texts")
    held = set(random.Random(args.seed).sample(range(len(ds)), int(args.holdout * len(ds))))
    fit_idx = [k for k, g in enumerate(groups) if g not in held]
    test_idx = [k for k, g in enumerate(groups) if g in held]
    if test_idx:
        w = fit_logistic([rows[k] for k in fit_idx], [labels[k] for k in fit_idx], args.l2)
        rate = sum(labels[k] for k in fit_idx) / len(fit_idx)
        const = {"intercept": math.log(rate / (1 - rate))}
        t_rows, t_labels = [rows[k] for k in test_idx], [labels[k] for k in test_idx]
        print(f"held-out log-loss {_log_loss(w, t_rows, t_labels):.4f} "
              f"(base rate alone: {_log_loss(const, t_rows, t_labels):.4f})")
    weights = calibrate(model, rows, labels, args.l2)
    print(f"{'feature':<22} {'weight':>8}")
    for k in sorted(weights):
        print(f"{k:<22} {weights[k]:8.3f}")
    if args.out:
        model.save_pretrained(Path(args.out))
        print(f"wrote {args.out}")
    return weights


if __name__ == "__main__":
    main()
