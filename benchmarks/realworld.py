"""The real-world check (issue 15 §3): the shipped default on real spinner output.

    python benchmarks/realworld.py [--accurate] [--show] [--threads 2]
        [--data benchmarks/realworld/pairs.tsv]

``benchmarks/realworld/pairs.tsv`` holds a few sentences of real, published spinner output
(SpinBot, Article Rewriter, Plagiarisma, Rephraser, a "Thesaurus Spinner", an unnamed spinner
used on a newspaper review, and a WordNet synonymizer) next to their published originals, each
row with its ``source_id``; ``benchmarks/realworld/SOURCES.md`` says where each came from.
The set is TEST-ONLY: nothing may be tuned, trained or fitted on it, and none of its pairs may
go into a thesaurus or phrase table.

Rows: ``identity`` (changes nothing: the floor), ``default`` (the shipped default,
``Despinner.from_pretrained()``) and, with ``--accurate``, ``accurate`` (its ``accurate``
profile; slow). Columns: token-level edit P / R / F0.5 (``training.evaluate.score``), the share
of spun words that differ from the original (a property of the data: what a perfect restorer
would change), the share of those restored exactly, the share of words changed when the
originals are fed in (clean text must be left alone), seconds loading and seconds restoring
the spun side (cold caches: on 17 sentences this is not a speed measure). A second table
gives F0.5 per source. ``--show`` prints each restoration of the default as a diff.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.entry import positive_int  # noqa: E402

DATA = ROOT / "benchmarks" / "realworld" / "pairs.tsv"
SOURCES = ROOT / "benchmarks" / "realworld" / "SOURCES.md"
HEADER = ["source_id", "spun", "original"]
MIN_SHARED = 0.5  # a pair keeps at least this share of the original's words (word-swapped, not rewritten)

Restorer = Callable[[list[str]], list[str]]


def load(path: str | os.PathLike = DATA) -> list[dict[str, str]]:
    """The rows of a pairs TSV, checked: exactly the columns ``source_id``, ``spun``,
    ``original`` (in that order) and three non-empty fields a row. ValueError otherwise."""
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header != HEADER:
            raise ValueError(f"{path}: header {header!r}, expected {HEADER!r}")
        for n, fields in enumerate(reader, start=2):
            if len(fields) != len(HEADER) or not all(x.strip() for x in fields):
                raise ValueError(f"{path}:{n}: expected {len(HEADER)} non-empty tab-separated "
                                 f"fields, got {fields!r}")
            rows.append(dict(zip(HEADER, fields)))
    return rows


def _counted(text: str) -> Counter:
    from despin.text import words

    return Counter(w.lower() for w in words(text) if any(c.isalnum() for c in w))


def shared_share(spun: str, original: str) -> float:
    """Share of the original's words (lower-cased, punctuation left out) that the spun side
    still has (multiset intersection): near 1 for a light spin, low for a rewrite."""
    orig = _counted(original)
    return sum((orig & _counted(spun)).values()) / max(1, sum(orig.values()))


def evaluate(restorer: Restorer, rows: Sequence[dict[str, str]], clean: bool = True) -> dict:
    """Score ``restorer`` on ``rows``: the pooled metrics of ``training.evaluate.score`` plus
    ``spun_differ`` (share of spun words an edit spun→original touches), ``clean_text_changed``
    (share of the originals' words changed when they are fed in), ``seconds`` (restoring the spun
    side), ``outputs`` and ``per_source`` (source_id → metrics of that source's rows)."""
    from training.evaluate import changed_share, score

    spun = [r["spun"] for r in rows]
    original = [r["original"] for r in rows]
    t0 = time.perf_counter()
    out = list(restorer(list(spun)))
    seconds = time.perf_counter() - t0
    if len(out) != len(spun):
        raise ValueError(f"restorer returned {len(out)} texts for {len(spun)}")
    m = score(spun, out, original)
    m["pairs"] = len(rows)
    m["spun_differ"] = changed_share(spun, original)
    m["seconds"] = seconds
    m["outputs"] = out
    if clean:
        m["clean_text_changed"] = changed_share(original, list(restorer(list(original))))
    m["per_source"] = {}
    for sid in dict.fromkeys(r["source_id"] for r in rows):
        idx = [i for i, r in enumerate(rows) if r["source_id"] == sid]
        sub = score([spun[i] for i in idx], [out[i] for i in idx], [original[i] for i in idx])
        sub["pairs"] = len(idx)
        sub["spun_differ"] = changed_share([spun[i] for i in idx], [original[i] for i in idx])
        m["per_source"][sid] = sub
    return m


def markdown(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A markdown table (first column left-aligned, the rest right-aligned)."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join([":---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def _load_restorer(name: str, folder: str | None = None) -> Restorer:
    if name == "identity":
        from despin.baselines import identity

        return identity
    from despin.despinner import Despinner

    model = Despinner.from_pretrained(folder)
    if name == "accurate":
        model = model.profile("accurate")
    _ = model.engine  # loaded lazily: build it here, so that loading is not timed as restoring
    if model.engine is not model.fast:
        _ = model.engine.searcher.scorers
    return model


def main(argv: list[str] | None = None) -> dict[str, dict]:
    p = argparse.ArgumentParser(prog="python benchmarks/realworld.py",
                                description=(__doc__ or "").split("\n")[0])
    p.add_argument("--data", default=str(DATA), help="pairs TSV (source_id, spun, original)")
    p.add_argument("--accurate", action="store_true",
                   help="also the accurate profile (Gemma-3-270m search; slow)")
    p.add_argument("--threads", type=positive_int, default=2, help="torch threads")
    p.add_argument("--show", action="store_true", help="print the default's edits, pair by pair")
    p.add_argument("--extra", nargs="*", default=[],
                   help="NAME=FOLDER: more Despinner folders as rows (e.g. an earlier default)")
    args = p.parse_args(argv)
    builtin = ["identity", "default"] + (["accurate"] if args.accurate else [])
    for spec in args.extra:
        name, sep, folder = spec.partition("=")
        if not (sep and name and folder):
            p.error(f"--extra wants NAME=FOLDER, got {spec!r}")
        if name in builtin:
            p.error(f"--extra {spec}: {name!r} is a built-in row; give it another name")
        if not (Path(folder) / "despin.json").is_file():
            p.error(f"--extra {spec}: {folder} is not a Despinner folder (no despin.json)")

    import torch

    torch.set_num_threads(args.threads)
    rows = load(args.data)
    print(f"CPU capability: {torch.backends.cpu.get_cpu_capability()} "
          f"(torch.backends.cpu.get_cpu_capability()); {args.threads} threads; "
          f"{len(rows)} pairs from {len({r['source_id'] for r in rows})} sources in {args.data}")
    print()

    extra = dict(spec.partition("=")[::2] for spec in args.extra)
    names = builtin + list(extra)
    results: dict[str, dict] = {}
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        restorer = _load_restorer(name if name not in extra else "default", extra.get(name))
        load_s = time.perf_counter() - t0
        results[name] = evaluate(restorer, rows)
        results[name]["load_s"] = load_s
        if name == "default" and args.show:
            for r, o in zip(rows, results[name]["outputs"]):
                print(f"[{r['source_id']}]\n  spun:     {r['spun']}\n  restored: {o}\n"
                      f"  original: {r['original']}", file=sys.stderr)

    print(markdown(
        ["row", "pairs", "P", "R", "F0.5", "spun words ≠ original", "spun restored",
         "clean changed", "load s", "restore s"],
        [[n, str(m["pairs"]), f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f05']:.3f}",
          f"{m['spun_differ']:.1%}", f"{m['spun_restored']:.1%}", f"{m['clean_text_changed']:.1%}",
          f"{m['load_s']:.1f}", "–" if n == "identity" else f"{m['seconds']:.1f}"]
         for n, m in results.items()]))
    print()
    sources = list(results["identity"]["per_source"])
    print(markdown(
        ["source", "pairs", "spun words ≠ original"] + [f"F0.5 {n}" for n in names],
        [[sid, str(results["identity"]["per_source"][sid]["pairs"]),
          f"{results['identity']['per_source'][sid]['spun_differ']:.1%}"]
         + [f"{results[n]['per_source'][sid]['f05']:.3f}" for n in names] for sid in sources]))
    return results


if __name__ == "__main__":
    main()
