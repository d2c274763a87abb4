"""Fit a Despinner's edit score on training pairs (:mod:`despin.calibration`).

    python -m training.calibrate --model despin/default --data data/pairs --limit 400 --out DIR
    python -m training.calibrate --data data/phrases --limit 3000 --profile phrase --out DIR

For every candidate of every slot in the spun side of the pairs, it records the scorer deltas
(as the search's first step sees them) and the candidate's constant features, labelled by
whether the spinner's recorded swap at that span came from that candidate. A logistic
regression (``--kind linear``, the default) or a small network (``--kind mlp``) on these gives
the gain as log-odds; the copy bonus becomes a threshold on them (0: take an edit when it is more
likely right than wrong; :mod:`training.tune` picks it on validation). The held-out log-loss of
both kinds is printed, with the base rate's beside them. With ``--profile NAME`` the fit is
stored as that profile (:meth:`despin.despinner.Despinner.profile`) and the model's own
weights are left as they were: e.g. the ``phrase`` profile, fitted on bare spun terms
(:mod:`training.phrases`).
"""
from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from despin.calibration import (FEATURES_VERSION, Calibration, candidate_features,
                                fit_logistic, fit_network, linear_score, term_names)
from despin.despinner import SEARCH_PATH, Despinner, ScorerSpec
from despin.dtypes import DTYPES
from despin.resources import file_key
from despin.search import candidate_edit, slot_best, slot_options
from despin.spunness import SpunnessTable
from despin.text import sentence_spans
from training.entry import positive_int
from training.evaluate import evenly_spaced

__all__ = ["collect", "calibrate", "rows_key", "log_loss", "main"]

KINDS = ("mlp", "linear")
# Search settings that only the search loop reads: the collected rows do not depend on them.
SEARCH_ONLY = ("copy_bonus", "max_edits", "spun_weight", "pair_top", "pair_reach", "pair_floor")


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
                    name, gap = term_names(t)
                    f[name] = d[k]
                    f[gap] = d[k] - top[i]  # as the search's gap term
                rows.append(f)
                labels.append(int((slot.start + a, slot.end + a,
                                   slot.candidates[j].text.lower()) in gold))
                groups.append(n)
    return rows, labels, groups


def log_loss(score, rows, labels) -> float:
    """Mean −log P(label) of ``score(row)`` log-odds."""
    total = 0.0
    for r, y in zip(rows, labels):
        z = score(r) * (-1 if y else 1)
        total += max(z, 0.0) + math.log1p(math.exp(-abs(z)))  # softplus: −log σ(±z), overflow-safe
    return total / max(len(rows), 1)


def _fit(kind: str, rows, labels, l2: float, seed: int):
    """``(fitted, score(row) -> log-odds)`` for ``kind``."""
    if kind == "linear":
        w = fit_logistic(rows, labels, l2)
        return w, lambda r: linear_score(w, r)
    net = fit_network(rows, labels, seed=seed)
    return net, net


def calibrate(model: Despinner, rows: list[dict[str, float]], labels: list[int],
              l2: float = 1e-3, kind: str = "linear", seed: int = 0) -> dict[str, float] | None:
    """Fit on ``rows`` and install the result in ``model``, copy bonus 0.

    ``kind="linear"``: the scorer weights (of the delta and of its gap behind the slot's best)
    go into the scorer specs, the rest into its :class:`~despin.calibration.Calibration`; the
    weights are returned. ``kind="mlp"``: the calibration holds the fitted network (the scorer
    specs' weights are then unused); returns None.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    fitted, _ = _fit(kind, rows, labels, l2, seed)
    model.settings.copy_bonus = 0.0
    if kind == "mlp":
        model.calibration = Calibration(network=fitted)
        for spec in model.scorer_specs:  # the network weighs the scorers itself
            spec.weight, spec.gap_weight = 1.0, 0.0
        return None
    for t, spec in enumerate(model.scorer_specs):
        delta, gap = term_names(t)
        spec.weight = fitted.get(delta, 0.0)
        spec.gap_weight = fitted.get(gap, 0.0)
    model.calibration = Calibration({k: v for k, v in fitted.items()
                                     if not k.startswith("term:")})
    return fitted


def rows_key(model: Despinner, data: str, split: str, ds) -> dict:
    """What the collected rows depend on: the feature set, the lattice and scorer settings, the
    sources, the scorers, the spun-ness table, the detector and the data (not
    :data:`SEARCH_ONLY` settings)."""
    spun_table = model.base_dir / SpunnessTable.FILE if model.base_dir else None
    # the dtype the rows were scored in ("auto" resolved: the scores depend on it)
    scorers = [(s.model, model.scorer_dtype(s)) for s in model.scorer_specs]
    return json.loads(json.dumps({
        "features": FEATURES_VERSION, "settings": _row_settings(model.settings.to_dict()),
        "sources": model.sources_spec,
        "scorers": [m if d is None else f"{m}:{d}" for m, d in scorers],
        "spunness": list(file_key(spun_table)) if spun_table and spun_table.exists() else None,
        "detector": model.detector.key() if model.detector is not None else None,
        "data": str(data), "split": split, "n": len(ds), "fingerprint": ds._fingerprint}))


def _same_rows(saved_key: dict, key: dict) -> bool:
    """Whether a cache made under ``saved_key`` holds the rows of ``key`` (older caches also
    recorded the search-only settings, and no detector: both are ignored; those without a
    feature version hold version 1's features)."""
    saved = {"detector": None, "features": 1, **saved_key,
             "settings": _row_settings(saved_key.get("settings", {}))}
    return saved == key


def _row_settings(settings: dict) -> dict:
    """The search settings the collected rows depend on (all but :data:`SEARCH_ONLY`)."""
    return {k: v for k, v in settings.items() if k not in SEARCH_ONLY}


def main(argv: list[str] | None = None) -> dict[str, float] | None:
    p = argparse.ArgumentParser(prog="python -m training.calibrate",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None,
                   help="Despinner folder (default: the shipped search core, "
                        "despin/default/accurate)")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="train")
    p.add_argument("--limit", type=positive_int, default=400)
    p.add_argument("--holdout", type=float, default=0.2,
                   help="share of texts held out to report log-loss on")
    p.add_argument("--kind", choices=KINDS, default="linear",
                   help="edit score: a logistic regression (default) or a small network")
    p.add_argument("--l2", type=float, default=1e-3, help="of the logistic regression")
    p.add_argument("--top-k", type=int, help="candidates per slot (saved with the model, or "
                                             "with its --profile)")
    p.add_argument("--prefilter", type=int, help="candidates kept by the LM check (saved)")
    p.add_argument("--prefilter-context", type=int,
                   help="slots with fewer tokens before them skip the LM check (saved)")
    p.add_argument("--window", type=int, help="LM window: tokens each side of a change (saved)")
    p.add_argument("--scorer", help="calibrate with this plain language model as the one "
                                    "scorer instead of the model's own (e.g. gemma3-270m)")
    p.add_argument("--scorer-dtype", choices=DTYPES,
                   help="its weights' dtype (saved; auto: bfloat16 where computed natively)")
    p.add_argument("--rows", help="cache of the collected rows (JSON): read when it was made "
                                  "with the same model settings and data, else written")
    p.add_argument("--profile", help="store the fit as this profile (e.g. phrase) instead of "
                                     "as the model's own weights")
    p.add_argument("--out", help="write the calibrated Despinner folder here")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.profile and args.scorer:
        p.error("--profile keeps the model's scorers: drop --scorer")
    overrides = {k: v for k, v in (("top_k", args.top_k), ("prefilter", args.prefilter),
                                   ("prefilter_context", args.prefilter_context),
                                   ("window", args.window))
                 if v is not None}
    model = Despinner.from_pretrained(args.model or SEARCH_PATH,
                                      **({} if args.profile else overrides))
    if args.scorer:
        model = Despinner(model.sources_spec, [ScorerSpec(args.scorer, 1.0, False,
                                                          dtype=args.scorer_dtype)],
                          model.settings, model.freq_power, model.device, model.batch_size,
                          base_dir=model.base_dir, index=model.index, spunness=model.spunness)
        if model.detector is not None and model.detector.model != args.scorer:
            print(f"the detector reads {model.detector.model}, not {args.scorer}: left out")
            model.detector = None
    elif args.scorer_dtype:
        p.error("--scorer-dtype needs --scorer")
    import datasets

    ds = datasets.load_from_disk(args.data)[args.split]
    ds = ds.select(evenly_spaced(len(ds), args.limit))
    if args.profile:  # fitted on its own lattice settings; the model's own are kept
        target = model.derive(settings=replace(model.settings, **overrides))
    else:
        target = model
    key = rows_key(target, args.data, args.split, ds)
    cache = Path(args.rows) if args.rows else None
    saved = json.loads(cache.read_text()) if cache and cache.exists() else None
    if saved and _same_rows(saved["key"], key):
        rows, labels, groups = saved["rows"], saved["labels"], saved["groups"]
        print(f"rows read from {cache}")
    else:
        rows, labels, groups = collect(target, ds["spun"], ds["swaps"])
        if cache:
            cache.write_text(json.dumps({"key": key, "rows": rows, "labels": labels,
                                         "groups": groups}))
    print(f"{len(rows)} candidates, {sum(labels)} right ({sum(labels) / len(rows):.1%}), "
          f"from {len(ds)} {args.split} texts")
    held = set(random.Random(args.seed).sample(range(len(ds)), int(args.holdout * len(ds))))
    fit_idx = [k for k, g in enumerate(groups) if g not in held]
    test_idx = [k for k, g in enumerate(groups) if g in held]
    if test_idx:
        f_rows, f_labels = [rows[k] for k in fit_idx], [labels[k] for k in fit_idx]
        t_rows, t_labels = [rows[k] for k in test_idx], [labels[k] for k in test_idx]
        rate = sum(f_labels) / len(f_labels)
        losses = {"base rate": log_loss(lambda r: math.log(rate / (1 - rate)), t_rows, t_labels)}
        for kind in KINDS:
            _, score = _fit(kind, f_rows, f_labels, args.l2, args.seed)
            losses[kind] = log_loss(score, t_rows, t_labels)
        print(f"held-out log-loss on {len(held)} texts: "
              + ", ".join(f"{k} {v:.4f}" for k, v in losses.items()))
    weights = calibrate(target, rows, labels, args.l2, args.kind, args.seed)
    if args.profile:
        model.set_profile(args.profile, target)
    if weights is not None:
        print(f"{'feature':<22} {'weight':>8}")
        for k in sorted(weights):
            print(f"{k:<22} {weights[k]:8.3f}")
    else:
        net = target.calibration.network
        print(f"network: {len(net.names)} inputs ({', '.join(net.names)}), "
              f"{' → '.join(str(len(b)) for _, b in net.layers)}")
    if args.out:
        model.save_pretrained(Path(args.out))
        print(f"wrote {args.out}")
    return weights


if __name__ == "__main__":
    from training.entry import run

    run(main, "python -m training.calibrate")
