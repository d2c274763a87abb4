"""Quality table: every restorer on the synthetic test split, the tortured phrases, and clean text.

    python benchmarks/quality.py --data data/pairs --limit 200 --tortured-limit 400 \
        [--families data/pairs-families] [--only identity default]

Rows: identity, inverse thesaurus (no model), the language-model-scored lattice (pretrained
SmolLM2, no training), the small encoder-decoder trained from scratch (``--t5 DIR``), a
fine-tuned decoder-only model such as the SmolLM2 LoRA adapter (``--lora DIR``), the search
core's lattice with hand-set weights, the search core (``search``: the Gemma-3-270m lattice
search, the issue-3 default, now the accurate profile's searcher), the shipped default (the
fast core) and its accurate profile. ``benchmarks/speed.py`` adds speed, load time and memory.
Columns: edit P / R / F0.5, spun words restored, clean words changed, chrF, BLEU; tortured
phrases exact match (all, n_papers ≥ 10) and words changed when their expected (clean) side is
fed in — a Despinner with a ``phrase`` profile restores phrases with it (``--phrase-profile``);
words changed when the original (clean) side of the pairs is fed in. The pairs are an evenly
spaced sample of the split. With ``--families data/pairs-families``, every row also restores
each spinner family's test split (P / R / F0.5, clean words changed), and the coverage of the
default's index per family is printed (``benchmarks/coverage.py``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from despin.baselines import InverseThesaurus, identity  # noqa: E402
from training.entry import non_negative_int, positive_int  # noqa: E402
from despin.despinner import DEFAULT_PATH, Despinner, ScorerSpec  # noqa: E402
from despin.search import SearchSettings  # noqa: E402
from despin.synonyms import DEFAULT_SOURCES  # noqa: E402
from benchmarks.coverage import main as coverage_main  # noqa: E402
from benchmarks.families import table as family_table, load_test_sets  # noqa: E402
from training.evaluate import (evaluate_restorer, format_table, load_pairs_and_swaps,  # noqa: E402
                               load_tortured, score_tortured)


def _hand_weighted(default: str | None) -> Despinner:
    """The search core's lattice and spun-ness counts with hand-set weights instead of its fitted
    calibration (SmolLM2-135M, LM weight 1, no gap term, prior 1, spun-ness 2, copy bonus 3
    nats; 25 candidates, 4 kept by the LM check on every slot): the default that shipped
    before calibration."""
    d = Despinner.from_pretrained(default, top_k=25, prefilter=4, prefilter_context=0,
                                  copy_bonus=3.0, prior_weight=1.0, spun_weight=2.0)
    d.calibration = None
    d.profiles = {}  # the default's fitted profiles are not part of this row
    d.scorer_specs = [ScorerSpec("smollm2-135m", 1.0, False)]  # loaded on first use
    return d


def _fine_tuned(folder: str) -> Despinner:
    """A fine-tuned restoration model as the only scorer. With no plain language model there is
    no prefilter: the top 5 candidates by prior are scored."""
    return Despinner(DEFAULT_SOURCES, [ScorerSpec(folder, 1.0, True)], SearchSettings(top_k=5))


def restorers(t5: str | None, default: str | None, lora: str | None = None
              ) -> dict[str, Callable[[], Callable]]:
    """Factories, so that a restorer is only built when its row is asked for."""
    out: dict[str, Callable[[], Callable]] = {
        "identity": lambda: identity,
        "inverse-thesaurus": InverseThesaurus,
        "lm-lattice": lambda: Despinner(DEFAULT_SOURCES, [ScorerSpec("smollm2-135m", 1.0, False)]),
    }
    if t5:
        out["t5-scratch"] = lambda: _fine_tuned(t5)
    if lora:
        out["smollm2-lora"] = lambda: _fine_tuned(lora)
    searcher = str(Path(default or DEFAULT_PATH) / "accurate")
    out["hand-weighted"] = lambda: _hand_weighted(searcher)
    out["search"] = lambda: Despinner.from_pretrained(searcher)
    out["default"] = lambda: Despinner.from_pretrained(default)
    out["accurate"] = lambda: Despinner.from_pretrained(default).profile("accurate")
    return out


def phrase_restorer(restorer: Callable, profile: str | None) -> Callable:
    """What restores the bare tortured phrases: a Despinner's ``profile`` when it has one."""
    if profile and isinstance(restorer, Despinner) and profile in restorer.profiles:
        return restorer.profile(profile)
    return restorer


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python benchmarks/quality.py",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="pairs folder from training.pairs")
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=positive_int, default=200, help="pairs scored (evenly spaced)")
    p.add_argument("--tortured-limit", type=non_negative_int, default=400,
                   help="tortured phrases sampled (0: skip them)")
    p.add_argument("--tortured", default=None,
                   help="tortured-phrases TSV (default: $DESPIN_TORTURED, else "
                        "../shared/eval/tortured_phrases.tsv beside the checkout)")
    p.add_argument("--t5", default=None, help="a trained encoder-decoder folder (t5-scratch row)")
    p.add_argument("--lora", default=None, help="a fine-tuned decoder-only folder, e.g. a "
                                                "SmolLM2 LoRA adapter (smollm2-lora row)")
    p.add_argument("--default", default=None, help="Despinner folder for the default row")
    p.add_argument("--phrase-profile", default="phrase",
                   help="profile that restores the tortured phrases ('none': the restorer itself)")
    p.add_argument("--only", nargs="+", default=None,
                   help="rows to run (default: all): identity, inverse-thesaurus, lm-lattice, "
                        "t5-scratch (with --t5), smollm2-lora (with --lora), hand-weighted, "
                        "search, default, accurate")
    p.add_argument("--families", default=None,
                   help="also each spinner family's test split (a pairs folder with a family "
                        "column, e.g. data/pairs-families): every row on each, and the coverage "
                        "of the default's index per family (benchmarks/families.py, "
                        "benchmarks/coverage.py)")
    p.add_argument("--family-limit", type=positive_int, default=100, help="test pairs per family")
    args = p.parse_args(argv)
    if not Path(args.data).exists():
        p.error(f"--data {args.data}: no such pairs folder (python -m training.pairs writes one)")
    factories = restorers(args.t5, args.default, args.lora)
    unknown = sorted(set(args.only or ()) - set(factories))
    if unknown:
        p.error(f"--only: no row {unknown} here (rows: {', '.join(factories)}; t5-scratch needs "
                f"--t5, smollm2-lora --lora)")
    fam_sets = load_test_sets(None, args.families, args.family_limit) if args.families else {}
    fam_rows: dict[str, dict] = {}

    spun, original, swaps = load_pairs_and_swaps(args.data, args.split, args.limit)
    tortured = load_tortured(args.tortured) if args.tortured_limit > 0 else None
    rows: dict[str, dict] = {}
    for name, make in factories.items():
        if args.only and name not in args.only:
            continue
        restorer = make()
        m = evaluate_restorer(restorer, spun, original, name=name, swaps=swaps)  # progress bars: stderr
        profile = None if args.phrase_profile == "none" else args.phrase_profile
        if tortured is not None:
            m.update(score_tortured(phrase_restorer(restorer, profile), tortured,
                                    limit=args.tortured_limit, clean=True))
        rows[name] = m
        if fam_sets:
            fam_rows[name] = {fam: evaluate_restorer(restorer, s, o, name=f"{name} {fam}",
                                                     swaps=sw)
                              for fam, (s, o, sw) in fam_sets.items()}
        words = sum(len(s.split()) for s in spun)
        print(f"{name}: {m['seconds']:.0f} s for {len(spun)} pairs ({words / m['seconds']:.1f} "
              f"words/s)", file=sys.stderr, flush=True)
        print(format_table(rows), file=sys.stderr, flush=True)
    print(format_table(rows))
    first = next(iter(rows.values())) if rows else {}
    n, n10 = first.get("tortured_n", 0), first.get("tortured_n10", 0)
    print(f"\n{len(spun)} pairs of {args.data} [{args.split}], evenly spaced; "
          + (f"{n} tortured phrases sampled (seed 0), {n10} with n_papers ≥ 10"
             if tortured is not None else "no tortured phrases"))
    if fam_sets:
        print(f"\nper spinner family ({args.family_limit} test pairs each of {args.families}):")
        print(family_table(fam_rows))
        coverage_main(["--families", args.families, "--today", "", "--limit", "2000"]
                      + (["--model", args.default] if args.default else []))


if __name__ == "__main__":
    main()
