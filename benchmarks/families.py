"""Quality per spinner family, and the leave-one-family-out test (issue 15 §2–3).

    python benchmarks/families.py [--models default=despin/default mixed=runs/fast-mixed]
        [--families data/pairs-families] [--today data/pairs] [--limit 100]
        [--lofo 'runs/lofo-{family}'] [--also mythes=data/pairs-mythes]

Every model (``NAME=FOLDER``, a Despinner folder) restores the first ``--limit`` test pairs
(evenly spaced) of each test set: today's content-farm pairs (``--today``, the 100 pairs of
every earlier table) and each family's test split of ``--families``
(``configs/pairs-families.yaml``: every family spins the same test windows). Columns per test
set: edit P / R / F0.5 on diff edits, the same on the spinner's recorded swaps (swap edits:
:mod:`training.evaluate`'s docstring says how the two differ) and the share of words changed
when the clean originals are fed in (:func:`training.evaluate.evaluate_restorer`). ``--clean-limit N`` adds rows of that share
on N originals of each source of originals (100 originals hold about 4,300 words: one word
changed moves the column by .02 %).

``--lofo PATTERN``: for each family F whose folder ``PATTERN.format(family=F)`` exists (a model
fitted without F's pairs: ``python -m training.fit_fast --exclude-family F``), that model on
F's test split only: the honest measure of a spinner nobody fitted on. Prints Markdown tables and
the CPU capability; every number is measured in this run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.evaluate import evaluate_restorer, load_pairs, load_pairs_and_swaps  # noqa: E402
from training.entry import non_negative_int, positive_int  # noqa: E402

TestSet = tuple[list[str], list[str], list | None]
"""(spun, original, each pair's recorded swaps or None) of one test set."""


def load_test_sets(today: str | None, families: str | None, limit: int,
              also: list[str] = ()) -> dict[str, TestSet]:
    """Name → (spun, original, swaps) of every test set (see the module docstring); ``also``:
    ``NAME=FOLDER`` pairs folders whose test splits are further sets."""
    import datasets

    out = {}
    if today:
        out["content-farm (today)"] = load_pairs_and_swaps(today, "test", limit)
    for spec in also:
        name, _, folder = spec.partition("=")
        out[name] = load_pairs_and_swaps(folder, "test", limit)
    if families:
        names = dict.fromkeys(datasets.load_from_disk(families)["test"]["family"])
        for fam in names:
            out[fam] = load_pairs_and_swaps(families, "test", limit, fam)
    return out


def load_clean_sets(today: str | None, families: str | None, limit: int,
                    also: list[str] = ()) -> dict[str, list[str]]:
    """Name → ``limit`` test originals (evenly spaced) of each distinct source of originals:
    today's pairs, the families' windows (every family spins the same ones) and each ``also``
    folder — the clean text of :func:`load_test_sets`' sets, in a larger sample."""
    import datasets

    out = {name: orig for name, (_, orig, _) in load_test_sets(today, None, limit, also).items()}
    if families:
        first = datasets.load_from_disk(families)["test"][0]["family"]
        out["families' windows"] = load_pairs(families, "test", limit, family=first)[1]
    return out


def measure(folder: str, sets: dict[str, TestSet],
            clean: dict[str, list[str]] | None = None) -> dict[str, dict]:
    """The Despinner in ``folder`` on each test set (metrics of evaluate_restorer), and with
    ``clean`` (name → texts) the share of words it changes in each (``"clean " + name`` →
    ``{"clean_text_changed", "n"}``)."""
    from despin.despinner import Despinner
    from training.evaluate import changed_share

    restorer = Despinner.from_pretrained(folder)
    out = {name: evaluate_restorer(restorer, spun, orig, name=name, progress=False, swaps=swaps)
           for name, (spun, orig, swaps) in sets.items()}
    for name, texts in (clean or {}).items():
        out[f"clean {name}"] = {"clean_text_changed": changed_share(texts,
                                                                    restorer.restore(texts)),
                                "n": len(texts)}
    return out


def table(results: dict[str, dict[str, dict]]) -> str:
    """Markdown: one row per (model, test set): P / R / F0.5 on diff edits and on swap edits
    (– where the pairs recorded no swaps), and clean words changed."""
    lines = ["| model | test set | pairs | P | R | F0.5 | swaps: P | R | F0.5 | "
             "clean words changed |", "|---|---|---|---|---|---|---|---|---|---|"]
    for model, per in results.items():
        for name, m in per.items():
            if "f05" not in m:  # a clean-text sample alone
                lines.append(f"| {model} | {name} | {m['n']} | – | – | – | – | – | – | "
                             f"{m['clean_text_changed']:.2%} |")
                continue
            swap = (f"{m['swap_precision']:.3f} | {m['swap_recall']:.3f} | "
                    f"**{m['swap_f05']:.3f}**" if "swap_f05" in m else "– | – | –")
            lines.append(f"| {model} | {name} | {m['n']} | {m['precision']:.3f} | "
                         f"{m['recall']:.3f} | **{m['f05']:.3f}** | {swap} | "
                         f"{m['clean_text_changed']:.2%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, dict[str, dict]]:
    ap = argparse.ArgumentParser(prog="python benchmarks/families.py",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="*", default=["default=despin/default"],
                    help="NAME=FOLDER Despinner folders")
    ap.add_argument("--families", default="data/pairs-families",
                    help="pairs with a family column ('' to skip)")
    ap.add_argument("--today", default="data/pairs", help="today's pairs ('' to skip)")
    ap.add_argument("--limit", type=positive_int, default=100, help="test pairs per test set")
    ap.add_argument("--also", nargs="*", default=[],
                    help="NAME=FOLDER: more pairs folders whose test splits are scored (e.g. "
                         "mythes=data/pairs-mythes, a spinner no model was fitted on)")
    ap.add_argument("--clean-limit", type=non_negative_int, default=0,
                    help="also feed in this many test originals of each source of originals "
                         "(a larger sample of the clean column; 0: none)")
    ap.add_argument("--lofo", default=None,
                    help="folder pattern with {family}: models fitted without that family")
    args = ap.parse_args(argv)
    # every spec and folder checked before minutes of measuring
    for flag, specs in (("--models", args.models), ("--also", args.also)):
        for spec in specs:
            name, sep, folder = spec.partition("=")
            if not (sep and name and folder):
                ap.error(f"{flag} wants NAME=FOLDER, got {spec!r}")
            if not Path(folder).exists():
                ap.error(f"{flag} {spec}: no such folder")
            if flag == "--models" and not (Path(folder) / "despin.json").is_file():
                ap.error(f"{flag} {spec}: not a Despinner folder (no despin.json)")
    if args.lofo:
        try:
            args.lofo.format(family="x")
        except (KeyError, IndexError, ValueError):
            ap.error(f"--lofo {args.lofo!r}: the pattern may name only {{family}}")
        if "{family}" not in args.lofo:
            ap.error(f"--lofo {args.lofo!r}: the pattern must contain {{family}}")
    for flag, folder in (("--families", args.families), ("--today", args.today)):
        if folder and not Path(folder).exists():
            ap.error(f"{flag} {folder}: no such pairs folder")

    import torch

    print("command: python benchmarks/families.py " + " ".join(
        argv if argv is not None else sys.argv[1:]))
    print(f"CPU capability: {torch.backends.cpu.get_cpu_capability()}; "
          f"torch threads {torch.get_num_threads()}")
    t0 = time.time()
    sets = load_test_sets(args.today or None, args.families or None, args.limit, args.also)
    clean = (load_clean_sets(args.today or None, args.families or None, args.clean_limit,
                             args.also) if args.clean_limit else None)
    results: dict[str, dict[str, dict]] = {}
    for spec in args.models:
        name, _, folder = spec.partition("=")
        results[name] = measure(folder, sets, clean)
    print(table(results))
    if args.lofo:
        left: dict[str, dict[str, dict]] = {}
        missing = []
        for fam, pair in sets.items():
            folder = Path(args.lofo.format(family=fam))
            if (folder / "despin.json").exists():
                left[f"without {fam}"] = measure(str(folder), {fam: pair})
            else:
                missing.append(str(folder))
        print("\nleave one family out (each model fitted without the family it is tested on):")
        print(table(left))
        if missing:
            print(f"(no Despinner folder at {', '.join(missing)}: those rows are missing)")
        results.update(left)
    print(f"(measured in {time.time() - t0:.0f} s)")
    return results


if __name__ == "__main__":
    main()
