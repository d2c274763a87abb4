"""Choose the fast core's decision settings on validation pairs: the threshold, the n-gram
weight, the spin gate and the choice margin (see despin.fast).

    python -m training.tune_fast --model despin/default --data data/pairs-mixed --write

Every combination of ``--thresholds`` × ``--lm-scales`` (relative to the model's
``lm_weight``) × spin gate (``--gate-cuts`` × ``--gate-margins``, and no gate) × choice margin
(``--choice-margins``, nats an edit must beat its best runner-up by:
:func:`despin.fast.choice_edits`) restores the validation pairs' spun texts and their
originals. Of the settings whose clean-text words
changed stay ≤ ``--max-clean``, those within ``--tolerance`` of the best edit F0.5, the most
precise is chosen (see :func:`tune`); the table is printed, and ``--write`` stores the choice
in the model's ``despin.json``. The gate reads the model's spin detection
(``detection.json``, ``python -m training.fit_detect``): gates are tried only when the model
has one. Each threshold and scale is decoded once; the gates and the choice margins filter its edits
(:func:`despin.fast.gate_edits`, :func:`despin.fast.choice_edits`), so trying them costs
little.
Each setting is scored on what restoring returns
(:meth:`despin.despinner.Despinner.finish_edits`: the model's case table spells restored names,
articles agree), so build the case table (``python -m training.truecase``) before tuning.

:mod:`training.fit_fast` calls :func:`tune` for the threshold and scale of a fresh fit (no
gate: its detection is fitted afterwards; no finishing: the folder and its case table are
written afterwards), which this command then chooses again.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from training.entry import non_negative_float, positive_int

__all__ = ["TUNED_FROM", "sentences_of", "tune", "warn_if_unbounded", "chosen_line",
           "main"]

# the key of despin.json's "fast" section where the first `tune_fast --write` records the
# lm_weight it tuned from (fit_fast's choice): --lm-scales multiply it on every later run, so
# that tuning again does not multiply the weight that tuning wrote
TUNED_FROM = "lm_weight_tuned_from"

Gate = tuple[float | None, float | None]
"""A spin gate: (cut on the spin log-odds of a sentence's line, margin in nats); (None, None):
none."""
NO_GATE: Gate = (None, None)
Finish = Callable[[str, list], list]
"""``(text, edits) -> edits``: what restoring does to a text's decoded edits
(:meth:`despin.despinner.Despinner.finish_edits`)."""


def sentences_of(texts: Sequence[str]) -> list[tuple[int, int, int]]:
    """(text index, start, end) of every sentence of every text (character offsets)."""
    from despin.text import sentence_spans

    return [(t, a, b) for t, text in enumerate(texts) for a, b in sentence_spans(text)]


class _Side:
    """One side of the validation pairs (spun texts or their originals): sentences, lattices
    (computed once) and, per setting, the ungated edits and spin log-odds."""

    def __init__(self, restorer, texts: list[str]):
        self.texts, self.sents = texts, sentences_of(texts)
        self.parts = [texts[t][a:b] for t, a, b in self.sents]
        self.lattices = restorer.lattices(self.parts)
        # the gate reads each line's sentences together, as Despinner does
        self.lines = [(t, texts[t].count("\n", 0, a)) for t, a, _ in self.sents]

    def decode(self, restorer, gated: bool) -> None:
        self.found = restorer.restore_sentences(self.parts, self.lattices, gate=False)
        self.log_odds = (restorer.spin_log_odds(self.lattices, self.found, self.lines)
                         if gated else None)

    def texts_with(self, gate: Gate, finish: Finish | None = None,
                   choice_margin: float = 0.0) -> list[str]:
        from despin.edits import apply_edits
        from despin.fast import kept_edits

        edits: list[list] = [[] for _ in self.texts]
        for k, ((t, a, _), es) in enumerate(zip(self.sents, self.found)):
            z = self.log_odds[k] if gate[0] is not None else None
            es = kept_edits(es, z, *gate, choice_margin)
            edits[t] += [e.shifted(a) for e in es]
        if finish is not None:  # line by line, as restoring finishes them
            edits = [_finish_lines(finish, text, e) for text, e in zip(self.texts, edits)]
        return [apply_edits(text, e) for text, e in zip(self.texts, edits)]


def _finish_lines(finish: Finish, text: str, edits: list) -> list:
    """``finish`` applied to each line of ``text`` (with its line break) and the edits inside
    it, the results shifted back to offsets into ``text``."""
    out, start = [], 0
    for line in text.splitlines(keepends=True):
        end = start + len(line)
        mine = [e.shifted(-start) for e in edits if start <= e.start < end]
        out += [e.shifted(start) for e in finish(line, mine)]
        start = end
    return out


def tune(restorer, spun: list[str], original: list[str], thresholds: Sequence[float],
         lm_scales: Sequence[float], max_clean: float, bound: str = "text",
         gates: Sequence[Gate] = (NO_GATE,), families: Sequence[str] | None = None,
         tolerance: float = 0.0, finish: Finish | None = None,
         swaps: Sequence[Sequence[dict]] | None = None,
         choice_margins: Sequence[float] = (0.0,)) -> tuple[dict[str, Any], str]:
    """The threshold, lm_weight scale, spin gate and choice margin with the best validation
    F0.5 whose clean words changed stay ≤ ``max_clean``, and the table of every setting
    tried. When no setting
    stays within ``max_clean``, the one that changes the fewest clean words is chosen (the
    best F0.5 among those), and the result's ``within_bound`` is False. ``tolerance``: of the settings whose F0.5 is within it of the best, the
    most precise is chosen (F0.5 differences smaller than the validation sample's error
    should not decide; fewer wrong edits should). ``families``: each pair's spinner family;
    then the F0.5 maximised is the mean of the families' own F0.5 (``f05``; pooled over every
    pair: ``f05_pooled``), so that a family with few edits per pair counts as much as one with
    many.

    ``restorer``: a :class:`despin.fast.FastRestorer` (or any object with its ``settings``,
    ``lattices``, ``restore_sentences(sentences, lattices, gate=False)`` and, for gates,
    ``spin_log_odds``, which reads each line of a text as one group); its settings are left
    as they were. ``gates``: (cut, margin) pairs of
    :func:`despin.fast.gate_edits`, ``(None, None)`` for no gate. ``choice_margins``: nats
    (≥ 0; 0: every edit kept) of :func:`despin.fast.choice_edits`, applied after the gate.
    ``bound="text"`` (the
    default) bounds the share of words changed when the ``original`` texts themselves are
    restored (``clean text``, the quantity of the benchmarks' *clean* column and of the
    issues' "clean text: ≤ 0.5 % of words changed"); ``bound="spun"`` bounds the share of the
    spun texts' words outside every gold edit that an edit touches (``clean in spun``; those
    edits already cost precision, so this bound counts them twice: the session-14/15 fits used
    it). Both are printed. Ties keep the earlier setting (the lower scale and threshold, no
    gate before a gate, the earlier choice margin). ``finish``: ``(text, edits) -> edits``, applied to each text's edits
    before scoring (:meth:`despin.despinner.Despinner.finish_edits`: protected spans, the case
    table, articles), so that the settings are scored on what restoring returns; None: the
    decoder's edits as they are. ``swaps``: each pair's recorded swaps; then P, R and F0.5
    are those of the swap edits (:func:`training.evaluate.match_swaps`) instead of the diff
    edits. Raises ValueError for another ``bound``, lists of other lengths or a negative
    choice margin."""
    from training.evaluate import changed_share, score, swap_counts, swap_metrics

    if bound not in ("text", "spun"):
        raise ValueError(f"bound must be 'text' or 'spun', not {bound!r}")
    gated = any(g[0] is not None for g in gates)
    if any(not c >= 0 for c in choice_margins):
        raise ValueError(f"choice margins must be ≥ 0 nats, got {list(choice_margins)}")
    if swaps is not None and len(swaps) != len(spun):
        raise ValueError(f"{len(swaps)} swap lists for {len(spun)} pairs")

    counted: dict[tuple[int, str], tuple[int, int, int]] = {}  # outputs repeat across settings

    def metrics(ix: Sequence[int], out: list[str]) -> dict[str, Any]:
        m = score(*[[t[i] for i in ix] for t in (spun, out, original)])
        if swaps is not None:
            for i in ix:
                if (i, out[i]) not in counted:
                    counted[i, out[i]] = swap_counts(spun[i], out[i], swaps[i])
            m.update(swap_metrics(counted[i, out[i]] for i in ix))
            m.update(precision=m["swap_precision"], recall=m["swap_recall"], f05=m["swap_f05"])
        return m

    every = range(len(spun))
    if families is not None:
        if len(families) != len(spun):
            raise ValueError(f"{len(families)} families for {len(spun)} pairs")
        groups = [[i for i, f in enumerate(families) if f == name]
                  for name in sorted(set(families))]
    s = restorer.settings
    base_lm, base_th = s.lm_weight, s.threshold
    sides = _Side(restorer, spun), _Side(restorer, original)
    results = []
    try:
        for scale in lm_scales:
            for th in thresholds:
                s.lm_weight, s.threshold = base_lm * scale, th
                for side in sides:
                    side.decode(restorer, gated)
                for gate in gates:
                    for cm in choice_margins:
                        out = sides[0].texts_with(gate, finish, cm)
                        m = metrics(every, out)
                        m["f05_pooled"] = m["f05"]
                        if families is not None:
                            m["f05"] = (sum(metrics(ix, out)["f05"] for ix in groups)
                                        / len(groups))
                        m["clean_text"] = changed_share(
                            original, sides[1].texts_with(gate, finish, cm))
                        results.append((scale, th, gate, cm, m))
    finally:
        s.lm_weight, s.threshold = base_lm, base_th

    def fmt(x: float | None, none: str) -> str:
        return none if x is None else f"{x:g}"

    lines = [f"{'lm scale':>8} {'threshold':>9} {'gate cut':>8} {'margin':>6} {'choice':>6} "
             f"{'P':>6} {'R':>6} {'F0.5':>6} {'families':>8} {'clean in spun':>13} "
             f"{'clean text':>10}"]
    for scale, th, (cut, margin), cm, m in results:
        lines.append(f"{scale:>8.2f} {th:>9.2f} {fmt(cut, '-'):>8} "
                     f"{fmt(margin, 'inf') if cut is not None else '':>6} {cm:>6g} "
                     f"{m['precision']:>6.3f} {m['recall']:>6.3f} {m['f05_pooled']:>6.3f} "
                     f"{m['f05'] if families is not None else math.nan:>8.3f} "
                     f"{m['clean_changed']:>13.2%} "
                     f"{m['clean_text']:>10.2%}")
    key = "clean_text" if bound == "text" else "clean_changed"
    ok = [r for r in results if r[-1][key] <= max_clean]
    if ok:
        top = max(r[-1]["f05"] for r in ok)
        scale, th, (cut, margin), cm, m = max(
            (r for r in ok if r[-1]["f05"] >= top - tolerance),
            key=lambda r: (r[-1]["precision"], r[-1]["f05"]))
    else:
        scale, th, (cut, margin), cm, m = min(results,
                                              key=lambda r: (r[-1][key], -r[-1]["f05"]))
    return {"lm_weight": base_lm * scale, "threshold": th, "gate_cut": cut,
            "gate_margin": margin if cut is not None else None, "choice_margin": cm,
            "f05": m["f05"],
            "f05_pooled": m["f05_pooled"],
            "precision": m["precision"], "recall": m["recall"],
            "clean_changed": m["clean_changed"], "clean_text": m["clean_text"],
            "within_bound": bool(ok)}, "\n".join(lines)


def warn_if_unbounded(best: dict[str, Any], max_clean: float, bound: str) -> None:
    """Say on stderr when :func:`tune` found no setting within ``max_clean``."""
    if not best["within_bound"]:
        got = best["clean_text" if bound == "text" else "clean_changed"]
        print(f"warning: no setting tried keeps the clean words changed within --max-clean "
              f"{max_clean:.2%}; chose the one that changes the fewest ({got:.2%}): try higher "
              f"thresholds", file=sys.stderr)


def _validation(data: str, limit: int, exclude_family: str | None = None
                ) -> tuple[list[str], list[str], list[str] | None, list[list[dict]] | None]:
    """``limit`` evenly spaced validation pairs of a pairs folder (without spinner family
    ``exclude_family``'s: :func:`training.pairs.without_family`): spun texts, originals,
    each pair's family and its recorded swaps (None when the pairs have no such column)."""
    from datasets import load_from_disk

    from despin.resources import REPO_ROOT, resolve
    from training.evaluate import evenly_spaced
    from training.pairs import without_family

    ds = without_family(load_from_disk(str(resolve(data, REPO_ROOT)))["validation"],
                        exclude_family, data)
    keep = evenly_spaced(len(ds), limit)
    ds = ds.select(keep)
    return (list(ds["spun"]), list(ds["original"]),
            list(ds["family"]) if "family" in ds.column_names else None,
            list(ds["swaps"]) if "swaps" in ds.column_names else None)


def chosen_line(best: dict[str, Any]) -> str:
    """``chosen: {...}``: :func:`tune`'s choice as one JSON line (numbers to 4 places)."""
    return "chosen: " + json.dumps({k: round(v, 4) if isinstance(v, float) else v
                                    for k, v in best.items()})


def _none_or_float(text: str) -> float | None:
    """'none' or 'inf' → None (for a margin: no edit kept); else a finite number."""
    if text.lower() in ("none", "inf"):
        return None
    v = float(text)
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r}: a finite number, 'none' or 'inf'")
    return v


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m training.tune_fast",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a fast-core Despinner folder")
    p.add_argument("--data", default="data/pairs-mixed", help="pairs folder (training.pairs)")
    p.add_argument("--val-limit", type=positive_int, default=600,
                   help="validation pairs, evenly spaced over the split")
    p.add_argument("--thresholds", type=float, nargs="+",
                   default=[0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25])
    p.add_argument("--lm-scales", type=float, nargs="+", default=[0.75, 1.0, 1.25, 1.5],
                   help="multiples of the model's lm_weight (of the one the first --write "
                        "tuned from, where the folder records it)")
    p.add_argument("--gate-cuts", type=_none_or_float, nargs="*", default=[0.0, 1.0, 2.0, 3.0],
                   help="spin gate cuts to try (spin log-odds of a line); none given: no gate")
    p.add_argument("--gate-margins", type=_none_or_float, nargs="+", default=[4.0, 6.0, None],
                   help="margins (nats) an edit in a gated line needs; 'inf' (or 'none'): no "
                        "edit kept")
    p.add_argument("--choice-margins", type=non_negative_float, nargs="+", default=[0.0],
                   help="choice margins to try: nats an edit must beat its best runner-up by, "
                        "else it is left undone (0: every edit kept)")
    p.add_argument("--max-clean", type=float, default=0.004,
                   help="largest share of clean words changed a setting may have (a fraction: "
                        "0.004 = 0.4 %%)")
    p.add_argument("--clean-bound", choices=["text", "spun"], default="text")
    p.add_argument("--tolerance", type=float, default=0.005,
                   help="of the settings within this much of the best F0.5, choose the most "
                        "precise (0: the best F0.5)")
    p.add_argument("--objective", choices=["pooled", "families"], default="pooled",
                   help="F0.5 to maximise: pooled over every pair (the default), or the mean "
                        "of the spinner families' own (pairs with a family column)")
    p.add_argument("--metric", choices=["edits", "swaps"], default="edits",
                   help="P/R/F0.5 of diff edits (the default) or of the spinner's recorded "
                        "swaps (training.evaluate.match_swaps; pairs with a swaps column)")
    p.add_argument("--exclude-family", default=None,
                   help="leave this spinner family's pairs out (pairs with a family column; "
                        "for a leave-one-family-out test)")
    p.add_argument("--write", action="store_true",
                   help="store the chosen settings in the model's despin.json")
    args = p.parse_args(argv)

    from despin.despinner import Despinner

    t0 = time.time()
    model = Despinner.from_pretrained(args.model)
    if model.fast is None:
        p.error(f"--model {args.model}: not a fast-core model")
    restorer = model.fast
    gates: list[Gate] = [NO_GATE]
    cuts = [c for c in args.gate_cuts if c is not None]
    if cuts and restorer.detection is None:
        print(f"{args.model} has no detection.json: no spin gate tried", file=sys.stderr)
    elif cuts:
        gates += [(c, m) for c in cuts for m in args.gate_margins]
    try:
        spun, original, families, swaps = _validation(args.data, args.val_limit,
                                                      args.exclude_family)
    except ValueError as e:
        p.error(str(e))
    if args.objective == "pooled":
        families = None
    elif families is None:
        p.error(f"--objective families: {args.data} has no family column")
    if args.metric == "swaps" and swaps is None:
        p.error(f"--metric swaps: {args.data} has no swaps column")
    # the scales multiply the lm_weight that the first --write tuned from, where the folder
    # records it, so that tuning again does not multiply the weight that tuning wrote
    path = Path(args.model) / "despin.json"
    recorded = json.loads(path.read_text())["fast"].get(TUNED_FROM) if path.exists() else None
    base = recorded if recorded is not None else restorer.settings.lm_weight
    print(f"lm scales multiply lm_weight {base:.4f}"
          + (" (recorded by the first tune_fast --write)" if recorded is not None else ""))
    restorer.settings.lm_weight = base
    best, table = tune(restorer, spun, original, args.thresholds, args.lm_scales,
                       args.max_clean, args.clean_bound, gates, families, args.tolerance,
                       finish=model.finish_edits,
                       swaps=swaps if args.metric == "swaps" else None,
                       choice_margins=args.choice_margins)
    print(table)
    print(chosen_line(best))
    warn_if_unbounded(best, args.max_clean, args.clean_bound)
    if args.write:
        cfg = json.loads(path.read_text())
        cfg["fast"].setdefault(TUNED_FROM, base)
        for k in ("threshold", "lm_weight", "gate_cut", "gate_margin", "choice_margin"):
            cfg["fast"]["settings"][k] = best[k]
        path.write_text(json.dumps(cfg, indent=2) + "\n")
        print(f"wrote {path}")
    print(f"{time.time() - t0:.0f} s")
    return best


if __name__ == "__main__":
    from training.entry import run

    run(main, "python -m training.tune_fast")
