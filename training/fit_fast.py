"""Fit the fast restorer's weights (:mod:`despin.fast`) and write a Despinner folder with it.

    python -m training.fit_fast --encoder runs/encoder --data data/pairs --out runs/fast \\
        [--limit 1500] [--val-limit 300]

1. **Rows.** For every slot of ``--limit`` training pairs (evenly spaced), the encoder's
   ``--pool`` best candidates, each with its features (:data:`despin.fast.FEATURES`)
   and ``lm_delta``: how much the n-gram model prefers the sentence with that edit alone
   (nats). Label: the candidate is the spinner's recorded original (as :mod:`training.encoder`
   labels slots).
2. **Fit.** A conditional logit per slot (:func:`fit_choice`: one softmax over the copy and
   the slot's pooled candidates, as the decoder chooses), with a linear score (``--fit
   choice``, the default) or the linear score plus a small tanh network of the features
   (``--fit network``: :class:`despin.calibration.EditNetwork`, ``--hidden`` units);
   ``--fit logistic``: a logistic regression per candidate instead. ``lm_delta``'s weight
   becomes the decoder's ``lm_weight``, the rest the unary score (``weights``, ``network``).
   Deletions (``--deletions auto``): scored like any candidate when some training pair has
   an added word, else by the n-gram model with :func:`deletion_fallback`'s weight.
3. **Threshold.** Validation pairs are restored (Viterbi) at each threshold of ``--thresholds``
   and each ``lm_weight`` scale of ``--lm-scales``; the setting with the best edit F0.5 whose
   clean-text words changed (the validation originals restored; ``--clean-bound spun``: the
   spun texts' words outside gold edits) stay ≤ ``--max-clean`` is kept
   (:func:`training.tune_fast.tune`). The table is printed. The spin gate is chosen later,
   with the threshold again, by :mod:`training.tune_fast` once spin detection is fitted.
4. **Write** ``--out``: a Despinner folder (``despin.json`` with ``core: fast``, the synonym
   tables, ``encoder/``) that ``Despinner.from_pretrained(out)`` loads; with ``--searcher``,
   a search-core Despinner goes in as its ``accurate`` profile (:mod:`despin.accurate`).
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from training.entry import positive_int
from training.pairs import without_family
from training.tune_fast import chosen_line, sentences_of, tune, warn_if_unbounded

__all__ = ["collect_rows", "fit_weights", "deletion_scoring", "deletion_fallback",
           "attach_searcher", "main"]


def collect_rows(restorer, spun: list[str], swaps: list[list[dict]], progress: bool = True
                 ) -> tuple[list[dict[str, float]], list[int], list[int]]:
    """Feature rows (with ``lm_delta``), 0/1 labels and slot numbers (``groups``) of the
    pooled candidates (the encoder's ``pool`` best) of every slot of the spun texts (see the
    module docstring)."""
    from tqdm.auto import tqdm

    from despin.fast import edit_features
    from training.encoder import slot_labels, swap_spans

    sents = sentences_of(spun)
    rows, labels, groups = [], [], []
    step = 256
    for b in tqdm(range(0, len(sents), step), desc="rows", unit="batch", disable=not progress,
                  file=sys.stderr):
        part = sents[b:b + step]
        lattices = restorer.lattices([spun[t][a:e] for t, a, e in part])
        for (t, a, _), x in zip(part, lattices):
            if not x.slots:
                continue
            gold = slot_labels(x.slots, a, swap_spans(swaps[t]))
            for k, feats in enumerate(x.features):
                if feats is None:
                    continue
                slot_id = groups[-1] + 1 if groups else 0
                for j in np.flatnonzero(~np.isnan(x.lm_delta[k])):  # the pool
                    rows.append({**edit_features(feats, j), "lm_delta": x.lm_delta[k][j]})
                    labels.append(int(gold[k] == j + 1))
                    groups.append(slot_id)
    return rows, labels, groups


def fit_weights(rows: list[dict[str, float]], labels: list[int], groups: list[int],
                l2: float = 1e-3, kind: str = "choice", hidden: int = 16,
                max_words: int | None = None
                ) -> tuple[dict[str, float], float, dict[str, Any] | None]:
    """(unary weights, lm_weight, network) fitted on the rows.

    ``kind="choice"``: a conditional logit (McFadden 1974) per slot — one softmax over the
    copy (score 0) and the slot's pooled candidates (score ``w · features``), the right
    option being the recorded original when it is pooled, else the copy: the decision the
    decoder makes. ``kind="network"``: the same choice, scored by the linear sum plus a tanh
    network of ``hidden`` units on every feature but ``lm_delta`` (:func:`fit_choice`), so
    that the decoder can still weigh the n-gram model along the path; the network comes back
    as a :class:`despin.calibration.EditNetwork` dict, with ``max_words`` (the network
    scores only candidates whose span and text have at most that many words, see
    :func:`despin.fast.network_rows`; None: all).
    ``kind="logistic"``: an independent logistic regression per candidate
    (:func:`despin.calibration.fit_logistic`)."""
    net = None
    if kind == "logistic":
        from despin.calibration import fit_logistic

        w = fit_logistic(rows, labels, l2=l2)
    elif kind in ("choice", "network"):
        w, net = fit_choice(rows, labels, groups, l2, hidden=hidden if kind == "network" else 0,
                            max_words=max_words)
    else:
        raise ValueError(f"kind must be 'choice', 'network' or 'logistic', not {kind!r}")
    lm_weight = w.pop("lm_delta")
    if net is None:
        return w, lm_weight, None
    return w, lm_weight, {**net.to_dict(), "max_words": max_words}


def deletion_scoring(choice: str, swaps: list[list[dict]]) -> str:
    """``FastSettings.deletions`` for a fit on pairs with these ``swaps``: ``choice`` itself
    when it is ``"features"`` or ``"ngram"``; for ``"auto"``, ``"features"`` when some swap is
    an added word (an empty original: the encoder and the fit then see right deletions and
    learn them like any candidate), else ``"ngram"`` (nothing could teach them a deletion:
    the n-gram model and :func:`deletion_fallback` score it). Raises ValueError for another
    ``choice``."""
    from despin.fast import DELETION_SCORING

    if choice in DELETION_SCORING:
        return choice
    if choice != "auto":
        raise ValueError(f"choice must be 'auto' or one of {DELETION_SCORING}, not {choice!r}")
    added = any(not s["original"] for pair in swaps for s in pair)
    return "features" if added else "ngram"


def _totals(rows: list[dict[str, float]], weights: dict[str, float], lm_weight: float
            ) -> np.ndarray:
    """Each row's score against the copy before the threshold: the unary score without the
    deletion weight, plus ``lm_weight`` × ``lm_delta`` (nan read as 0)."""
    names = sorted({k for r in rows for k in r} - {"deletion", "lm_delta"})
    x = np.nan_to_num(np.array([[r.get(k, 0.0) for k in names] for r in rows], dtype=float))
    lm = np.nan_to_num(np.array([r.get("lm_delta", 0.0) for r in rows], dtype=float))
    return x @ np.array([weights.get(k, 0.0) for k in names]) + lm_weight * lm


def deletion_fallback(rows: list[dict[str, float]], labels: list[int], groups: list[int],
                      weights: dict[str, float], lm_weight: float) -> float | None:
    """The deletion weight for pairs in which no spinner added a word (log-odds), or None
    when some deletion row (``deletion`` 1) is labelled right (the fitted weight stands) or
    there is no deletion row.

    A conditional logit with no right deletion drives the weight to −∞ (L2 alone stops it,
    at −11 to −13 without the insert-delete family, and no deletion was ever made). Instead, a
    deletion is trusted as far as any edit: the weight is set so that, before the threshold,
    the deletion beats the copy in the same share of its slots as the best word put in beats
    the copy in slots whose original is the copy (the fitted substitutions' false-edit rate;
    a row's score is its unary score plus ``lm_weight`` × ``lm_delta``). Every deletion row
    is a filler that stood in the text, so that share is its false-deletion rate too. Only
    :data:`despin.fast.DELETION_FEATURES` are non-zero in a deletion row: the slot's features
    and the n-gram model's gain are its evidence."""
    dels = np.array([r.get("deletion", 0.0) == 1.0 for r in rows])
    y = np.asarray(labels, dtype=bool)
    if not dels.any() or (y & dels).any():
        return None
    total = _totals(rows, weights, lm_weight)
    g = np.asarray(groups)
    right_slots = set(g[y].tolist())
    best: dict[int, float] = {}
    for gi, t in zip(g[~dels].tolist(), total[~dels].tolist()):
        if gi not in right_slots and t > best.get(gi, -np.inf):
            best[gi] = t
    rate = float(np.mean(np.array(list(best.values())) > 0)) if best else 0.0
    rate = min(max(rate, 1.0 / dels.sum()), 1.0)
    return float(-np.quantile(total[dels], 1.0 - rate))


def fit_choice(rows: list[dict[str, float]], labels: list[int], groups: list[int],
               l2: float = 1e-3, max_iter: int = 300, hidden: int = 0, seed: int = 0,
               max_words: int | None = None) -> tuple[dict[str, float], Any]:
    """A conditional logit over each group's rows plus a copy option of score 0 (a group with
    no row labelled 1 chose the copy), by full-batch L-BFGS on standardised features:
    deterministic. Returns (linear weights on raw features, with ``intercept``; None).

    ``hidden`` > 0: the score is the linear one plus a tanh network (one hidden layer,
    ``hidden`` units, seeded initialisation) of every feature but ``lm_delta``, fitted
    together ("wide and deep", Cheng et al. 2016: the linear part carries the trends that
    hold beyond the training range, such as a 5-word span's, the network the interactions);
    returns (the linear weights, the :class:`despin.calibration.EditNetwork`). The network's
    penalty is ``l2 / 10`` on every parameter, the linear part's ``l2`` on its weights.
    ``max_words``: stagewise instead — the linear score is fitted on every row first, then
    held fixed while the network is fitted on its residual, adding only to rows whose span
    and candidate have at most ``max_words`` words (:func:`despin.fast.network_rows`). Long
    rewrites ("owing to the fact that" → "because") are too rare among the rows for a network
    to extrapolate to them, so they keep exactly the linear fit's score.
    Raises ValueError when a network fit lacks ``lm_delta``, or ``max_words`` is set and the
    rows lack ``span_words``/``cand_words``."""
    import torch

    from despin.calibration import EditNetwork

    names = sorted({k for r in rows for k in r} - {"intercept"})
    x = torch.tensor([[r.get(k, 0.0) for k in names] for r in rows], dtype=torch.float64)
    x = torch.nan_to_num(x)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mean) / std
    g = torch.tensor(groups)
    n_groups = int(g.max()) + 1
    y = torch.tensor(labels, dtype=torch.float64)
    w = torch.zeros(len(names), dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    if hidden:
        if "lm_delta" not in names:
            raise ValueError("a network fit needs the lm_delta feature (its linear term)")
        lm = names.index("lm_delta")
        keep = [i for i in range(len(names)) if i != lm]
        if max_words is not None:
            from despin.fast import network_rows

            if not {"span_words", "cand_words"} <= set(names):
                raise ValueError("max_words needs the span_words and cand_words features")
            gate = torch.from_numpy(network_rows(
                x[:, names.index("span_words")].numpy(), x[:, names.index("cand_words")].numpy(),
                max_words).astype(np.float64))
        else:
            gate = torch.ones(len(rows), dtype=torch.float64)
        gen = torch.Generator().manual_seed(seed)
        layers = [torch.nn.Linear(len(keep), hidden, dtype=torch.float64),
                  torch.nn.Linear(hidden, 1, dtype=torch.float64)]
        with torch.no_grad():  # seeded initialisation, independent of the global RNG
            for m in layers:
                bound = 1 / math.sqrt(m.in_features)
                m.weight.uniform_(-bound, bound, generator=gen)
                m.bias.uniform_(-bound, bound, generator=gen)
        deep = [p for m in layers for p in m.parameters()]

        def net_scores():
            return gate * layers[1](torch.tanh(layers[0](z[:, keep]))).squeeze(-1)

    def minimise(params, scores, penalty):
        opt = torch.optim.LBFGS(params, max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            score = scores()
            top = torch.zeros(n_groups, dtype=score.dtype).scatter_reduce(
                0, g, score, "amax", include_self=True).detach()  # copy's 0 included
            total = torch.exp(-top).index_add(0, g, torch.exp(score - top[g]))
            loss = (top + torch.log(total)).sum() - (score * y).sum()
            loss = loss / n_groups + penalty()
            loss.backward()
            return loss
        opt.step(closure)

    linear_penalty = lambda: l2 * (w * w).sum()  # noqa: E731
    if not hidden:
        minimise([w, b], lambda: z @ w + b, linear_penalty)
    elif max_words is None:  # wide and deep, fitted together
        minimise([w, b] + deep, lambda: z @ w + b + net_scores(),
                 lambda: linear_penalty() + l2 / 10 * sum((q * q).sum() for q in deep))
    else:  # stagewise: the linear score on every row, then the network on its residual
        minimise([w, b], lambda: z @ w + b, linear_penalty)
        w.requires_grad_(False)
        b.requires_grad_(False)
        minimise(deep, lambda: z @ w + b + net_scores(),
                 lambda: l2 / 10 * sum((q * q).sum() for q in deep))
    raw = (w / std).detach()
    out = {k: float(v) for k, v in zip(names, raw)}
    out["intercept"] = float(b.detach() - (raw * mean).sum())
    if not hidden:
        return out, None
    net = EditNetwork([names[i] for i in keep], mean[keep].tolist(), std[keep].tolist(),
                      [(m.weight.detach().tolist(), m.bias.detach().tolist()) for m in layers])
    return out, net


def attach_searcher(out: Path, searcher: Path, margin: float, int8_output: bool = True,
                    candidates: int | None = None) -> None:
    """Make ``searcher`` (a search-core Despinner folder) the ``accurate`` profile of the fast
    Despinner in ``out``: its files go to ``out/accurate/`` (synonym tables that ``out``
    already holds are referred to as ``../NAME`` instead of copied) and ``out/despin.json``
    names it, with the fast decoder's ``margin`` (nats) below which a slot is unsure and
    ``int8_output``: whether the searcher's output layer runs in int8 on a CPU in float32
    (:meth:`despin.scorer.RestorationModel.quantize_output_layer`); ``candidates``: the most
    candidates of an unsure slot the searcher is offered (:class:`despin.accurate.
    AccurateRestorer`; None: the whole fast shortlist). Raises as
    :func:`despin.accurate.check_candidates` for a bad ``candidates``, before writing."""
    from despin.accurate import check_candidates

    check_candidates(candidates)
    dest = out / "accurate"
    cfg = json.loads((searcher / "despin.json").read_text())
    if dest.resolve() != searcher.resolve():
        dest.mkdir(parents=True, exist_ok=True)
        for f in searcher.iterdir():
            if f.is_file() and f.name != "despin.json" and not (out / f.name).exists():
                shutil.copyfile(f, dest / f.name)
        for src in cfg["sources"]:
            if "path" in src and (out / Path(src["path"]).name).exists():
                src["path"] = "../" + Path(src["path"]).name
        (dest / "despin.json").write_text(json.dumps(cfg, indent=2) + "\n")
    top = json.loads((out / "despin.json").read_text())
    profile = {"searcher": "accurate", "margin": margin, "int8_output": int8_output}
    if candidates is not None:
        profile["candidates"] = candidates
    top.setdefault("profiles", {})["accurate"] = profile
    (out / "despin.json").write_text(json.dumps(top, indent=2) + "\n")


def _evenly(ds, limit: int):
    n = len(ds)
    if limit >= n:
        return ds
    return ds.select(sorted({int(i * n / limit) for i in range(limit)}))


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(prog="python -m training.fit_fast",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--encoder", required=True, help="a trained spin encoder folder")
    p.add_argument("--data", default="data/pairs", help="pairs folder from training.pairs")
    p.add_argument("--out", required=True, help="Despinner folder to write")
    p.add_argument("--index", default=None,
                   help="the candidate index's sources (a YAML such as configs/index.yaml, see "
                        "training.train.load_index_spec); default: the encoder's")
    p.add_argument("--exclude-family", default=None,
                   help="leave this spinner family's pairs out of the rows and the threshold "
                        "(pairs with a family column; for a leave-one-family-out test)")
    p.add_argument("--limit", type=positive_int, default=1500, help="training pairs for the rows")
    p.add_argument("--val-limit", type=positive_int, default=300,
                   help="validation pairs for the threshold")
    p.add_argument("--pool", type=int, default=10,
                   help="the encoder's best candidates per slot that the n-gram model rescores")
    p.add_argument("--l2", type=float, default=1e-3)
    p.add_argument("--fit", choices=["choice", "network", "logistic"], default="choice",
                   help="a conditional logit per slot, linear (choice, the default) or the "
                        "linear score plus a small network, or a logistic regression per "
                        "candidate")
    p.add_argument("--hidden", type=int, default=16, help="the network's tanh units")
    p.add_argument("--net-max-words", type=int, default=None,
                   help="the network scores only candidates whose span and text have at most "
                        "this many words (default: all)")
    p.add_argument("--drop-features", nargs="*", default=[],
                   help="features (despin.fast.FEATURES) left out of the fit: their weight is "
                        "0 (e.g. context_spun sentence_spun, as session 15's default was fitted)")
    p.add_argument("--deletions", choices=["auto", "ngram", "features"], default="auto",
                   # the values of despin.fast.DELETION_SCORING, and auto (deletion_scoring)
                   help="how a deletion candidate is scored (despin.fast.FastSettings."
                        "deletions): features (like any candidate, the encoder's score "
                        "included), ngram (the n-gram model, the slot's features and its own "
                        "weight, always pooled; with no added word in the pairs the weight "
                        "comes from deletion_fallback) or auto (default): features when some "
                        "training pair has an added word, else ngram")
    p.add_argument("--thresholds", type=float, nargs="+",
                   default=[-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0])
    p.add_argument("--lm-scales", type=float, nargs="+", default=[0.75, 1.0, 1.25])
    p.add_argument("--max-clean", type=float, default=0.005,
                   help="largest share of clean words changed a setting may have")
    p.add_argument("--clean-bound", choices=["text", "spun"], default="text",
                   help="what --max-clean bounds: words changed when the validation originals "
                        "are restored (text, the benchmarks' clean column) or the spun texts' "
                        "words outside every gold edit that an edit touches (spun)")
    p.add_argument("--searcher", default=None,
                   help="a search-core Despinner folder to ship as the 'accurate' profile")
    p.add_argument("--margin", type=float, default=2.0,
                   help="the accurate profile's margin (nats): fast decisions below it go to "
                        "the searcher")
    p.add_argument("--search-candidates", type=int, default=None,
                   help="the accurate profile's candidates: the most of an unsure slot's "
                        "shortlist offered to the searcher (default: all of it)")
    p.add_argument("--float32-output", action="store_true",
                   help="keep the searcher's output layer in float32 on a CPU (default: int8, "
                        "RestorationModel.quantize_output_layer)")
    p.add_argument("--passes", type=int, default=1, help="decoding passes")
    p.add_argument("--shortlist", type=int, default=4)
    p.add_argument("--floor", type=float, default=-6.0)
    p.add_argument("--ngram", default=None,
                   help="a second n-gram model (ARPA, python -m training.ngram) mixed with "
                        "pocketsphinx's English model (despin.ngram.MixtureLM); default: "
                        "pocketsphinx's alone")
    p.add_argument("--ngram-weight", type=float, default=0.5,
                   help="the --ngram model's share of the mixture (0 < w < 1)")
    p.add_argument("--ctxfree-top", type=int, default=0,
                   help="encoders with context-free keys: each slot's best N candidates by the "
                        "first key get them (0: all)")
    p.add_argument("--ctxfree-cache", default=None,
                   help="encoders with context-free keys: a disk cache folder of their vectors "
                        "(e.g. the training run's) to read first")
    p.add_argument("--ctxfree-table", type=int, default=0,
                   help="encoders with context-free keys: ship the vectors of the N texts asked "
                        "for most often on the training pairs with the encoder (int8, projected "
                        "by the encoder's key2: proj numbers a text)")
    args = p.parse_args(argv)

    from datasets import load_from_disk

    from despin.despinner import Despinner
    from despin.fast import FEATURES, FastSettings

    # checked before minutes of work, not after
    unknown = sorted(set(args.drop_features or ()) - set(FEATURES))
    if unknown:
        p.error(f"--drop-features: no such feature {unknown} (have {list(FEATURES)})")
    if args.searcher and not (Path(args.searcher) / "despin.json").is_file():
        p.error(f"--searcher {args.searcher}: not a Despinner folder (no despin.json)")
    if args.search_candidates is not None and args.search_candidates < 1:
        p.error(f"--search-candidates must be at least 1, got {args.search_candidates}")
    from despin.ngram import with_prose
    from despin.resources import REPO_ROOT, resolve

    t0 = time.time()
    enc_cfg = json.loads((Path(args.encoder) / "encoder.json").read_text())
    settings = FastSettings(top_k=enc_cfg["top_k"], shortlist=args.shortlist, floor=args.floor,
                            pool=args.pool, passes=args.passes, ctxfree_top=args.ctxfree_top)
    from training.train import load_index_spec

    index = load_index_spec(args.index) if args.index else enc_cfg["index"]
    # pocketsphinx's model at 1 - w and --ngram at w (checks the file and 0 < w < 1)
    ngram = with_prose(None, args.ngram, args.ngram_weight) if args.ngram else None
    d = Despinner.fast_from_parts(index, args.encoder, settings,
                                  freq_power=enc_cfg.get("freq_power"), ngram=ngram)
    restorer = d.fast
    vecs = restorer.encoder.ctxfree
    if vecs is not None and args.ctxfree_cache:
        vecs.cache = resolve(args.ctxfree_cache, REPO_ROOT)
        print(f"{vecs.load():,} context-free vectors from {vecs.cache}")
        vecs.cache = None  # read only
    raw = load_from_disk(str(resolve(args.data, REPO_ROOT)))
    try:
        raw = without_family(raw, args.exclude_family, args.data)
    except ValueError as e:
        p.error(f"--exclude-family: {e}")
    train = _evenly(raw["train"], args.limit)
    restorer.settings.deletions = deletion_scoring(args.deletions, list(train["swaps"]))
    print(f"deletions scored by: {restorer.settings.deletions}")
    rows, labels, groups = collect_rows(restorer, list(train["spun"]), list(train["swaps"]))
    if args.drop_features:
        rows = [{k: v for k, v in r.items() if k not in args.drop_features} for r in rows]
    if vecs is not None and args.ctxfree_table:
        vecs.table = [t for t, _ in vecs.counts.most_common(args.ctxfree_table)]
        asked = sum(vecs.counts.values())
        print(f"context-free table: {len(vecs.table):,} of {len(vecs.counts):,} texts, "
              f"{sum(vecs.counts[t] for t in vecs.table) / max(1, asked):.1%} of "
              f"{asked:,} requests on the training pairs")
    weights, lm_weight, network = fit_weights(rows, labels, groups, args.l2, args.fit,
                                              args.hidden, args.net_max_words)
    print(f"{len(rows):,} rows ({sum(labels):,} right) from {len(train)} pairs in "
          f"{time.time() - t0:.0f} s; lm_weight {lm_weight:.3f}")
    if restorer.settings.deletions == "ngram" and "deletion" not in args.drop_features:
        fallback = deletion_fallback(rows, labels, groups, weights, lm_weight)
        if fallback is not None:
            print(f"no deletion among the right rows (no spinner of these pairs adds words): "
                  f"the deletion weight {weights.get('deletion', 0.0):+.3f} is set to "
                  f"{fallback:+.3f}, where deletions beat the copy as often as the fitted "
                  f"substitutions do in slots that need none (deletion_fallback)")
            weights["deletion"] = fallback
    for k, v in sorted(weights.items(), key=lambda kv: -abs(kv[1])):
        print(f"  {k:<12} {v:+.3f}")
    if network:
        print(f"  network: {len(network['names'])} inputs, {args.hidden} tanh units")
    restorer.settings.weights, restorer.settings.lm_weight = weights, lm_weight
    restorer.settings.network = network
    val = _evenly(raw["validation"], args.val_limit)
    best, table = tune(restorer, list(val["spun"]), list(val["original"]), args.thresholds,
                       args.lm_scales, args.max_clean, args.clean_bound)
    print(table)
    print(chosen_line(best))
    warn_if_unbounded(best, args.max_clean, args.clean_bound)
    restorer.settings.lm_weight, restorer.settings.threshold = best["lm_weight"], best["threshold"]
    searcher = Path(args.searcher).resolve() if args.searcher else None
    if searcher is not None and searcher.is_relative_to(Path(args.out).resolve()):
        keep = Path(tempfile.mkdtemp()) / "accurate"  # the folder is about to be rewritten
        shutil.copytree(searcher, keep)
        searcher = keep
    out = d.save_pretrained(args.out)
    if searcher is not None:
        attach_searcher(out, searcher, args.margin, not args.float32_output,
                        args.search_candidates)
    print(f"wrote {out} in {time.time() - t0:.0f} s")
    return out


if __name__ == "__main__":
    from training.entry import run

    run(main, "python -m training.fit_fast")
