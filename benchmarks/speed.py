"""Speed and quality of the restorers, one table, every row measured in this run.

    python benchmarks/speed.py --data data/pairs [--limit 100] [--rows identity fast ...]
        [--capability avx2] [--document-words 6000]

Each row runs in its own process (so that its load time and peak memory are its own), in
float32 unless the row says otherwise:

- ``identity``: changes nothing (the floor);
- ``search-fp32``: the issue-3 Despinner (Gemma-3-270m lattice search), forced to float32 —
  what users without bfloat16 hardware get (``--search-model``, default
  ``despin/default/accurate``, the searcher of the accurate profile);
- ``fast``: the shipped default (one encoder pass per sentence, n-gram Viterbi);
- ``accurate-fp32``: the shipped default's ``accurate`` profile (the fast decoder, then
  Gemma-3-270m's search on the slots it is unsure of), in float32; ``accurate-fp32@M``: the
  same with margin ``M`` nats (``profile("accurate", margin=M)``);
- any ``NAME=FOLDER`` given to ``--extra``: another Despinner folder.

Columns: edit P / R / F0.5 on ``--limit`` test pairs (evenly spaced; the header says how many
there were), F0.5 on the spinner's recorded swaps (``swap F0.5``: :mod:`training.evaluate`; –
for pairs without them), ``clean text``: the share of words changed when the pairs' originals
are fed in, words/s restoring (spun side only, loading excluded), load time, the process's
peak memory (resident). Then the command line on a ``--document-words`` document (test pairs'
spun side, of ``--family`` where given, one pair per line): wall seconds for ``despin FILE``
(``--model`` the ``--fast-model`` where given) as a new process, loading included, and its
words/s. A row name that is none of the above is an error.

``--capability avx2`` runs every row with ``ATEN_CPU_CAPABILITY=avx2`` (torch's AVX2 kernels),
``ONEDNN_MAX_CPU_ISA=AVX2`` and ``MKL_ENABLE_INSTRUCTIONS=AVX2`` (the matrix libraries'): as on
the CPUs most users have (no AVX-512, no native bfloat16).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


ROWS = ("identity", "search-fp32", "fast", "accurate-fp32")  # and accurate-fp32@MARGIN


def row_kind(row: str) -> str:
    """The built-in row a ``--rows`` name asks for (``accurate-fp32@1.5`` → ``accurate-fp32``);
    raises ValueError for any other name (another folder is a ``--extra NAME=FOLDER`` row)."""
    kind, at, margin = row.partition("@")
    if kind in ROWS and (not at or kind == "accurate-fp32"):
        if at:
            try:
                float(margin)
            except ValueError:
                raise ValueError(f"row {row!r}: the margin after @ must be a number") from None
        return kind
    raise ValueError(f"unknown row {row!r}: the rows are {', '.join(ROWS)} and "
                     f"accurate-fp32@MARGIN; another Despinner folder is --extra NAME=FOLDER")


def _load(row: str, folder: str | None, extra: bool = False):
    """The restorer of a row (a callable list[str] -> list[str]): a built-in row, or with
    ``extra`` the Despinner in ``folder``."""
    from despin.despinner import Despinner

    if extra:
        return Despinner.from_pretrained(folder)
    kind = row_kind(row)
    if kind == "identity":
        from despin.baselines import identity

        return identity
    if kind == "search-fp32":
        return Despinner.from_pretrained(folder, dtype="float32")
    if kind == "accurate-fp32":
        margin = float(row.split("@", 1)[1]) if "@" in row else None
        return Despinner.from_pretrained(folder, dtype="float32").profile("accurate", margin)
    return Despinner.from_pretrained(folder)  # fast


def child(args) -> None:
    """Measure one row; print its numbers as one JSON line."""
    import torch

    from training.evaluate import load_pairs_and_swaps, score

    torch.set_num_threads(args.threads)
    spun, original, swaps = load_pairs_and_swaps(args.data, args.split, args.limit, args.family)
    t0 = time.perf_counter()
    restorer = _load(args.row, args.folder, args.extra_row)
    if not callable(restorer):
        raise TypeError(f"{args.row}: not a restorer")
    if hasattr(restorer, "fast") and restorer.fast is not None:
        _ = restorer.engine  # loading is part of load time
        if restorer.engine is not restorer.fast:
            _ = restorer.engine.searcher.scorers
    elif hasattr(restorer, "scorers"):
        _ = restorer.scorers, restorer.index
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = restorer(list(spun))
    seconds = time.perf_counter() - t0
    m = score(spun, out, original, swaps)
    clean = score(original, restorer(list(original)), original)
    words = sum(len(s.split()) for s in spun)
    print(json.dumps({
        "row": args.row, "precision": m["precision"], "recall": m["recall"], "f05": m["f05"],
        "swap_f05": m.get("swap_f05"),
        "clean_changed": clean["clean_changed"],  # originals fed in: every word is clean
        "words_per_s": words / seconds, "load_s": load,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "capability": torch.backends.cpu.get_cpu_capability()}))


def run_row(args, row: str, folder: str | None, env: dict, extra: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", "--row", row, "--data", args.data,
           "--split", args.split, "--limit", str(args.limit), "--threads", str(args.threads)]
    if extra:
        cmd.append("--extra-row")
    if args.family:
        cmd += ["--family", args.family]
    if folder:
        cmd += ["--folder", folder]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode:
        print(res.stderr[-3000:], file=sys.stderr)
        return {"row": row, "error": f"exit {res.returncode}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def document_run(args, env: dict) -> dict:
    """``despin FILE`` on a document of about ``--document-words`` words, loading included."""
    from training.evaluate import load_pairs

    spun, _ = load_pairs(args.data, args.split, None, args.family)
    lines, words = [], 0
    for s in spun:
        if words >= args.document_words:
            break
        lines.append(s)
        words += len(s.split())
    with tempfile.TemporaryDirectory() as tmp:
        doc = Path(tmp) / "document.txt"
        doc.write_text("\n".join(lines) + "\n")
        cmd = [str(Path(sys.executable).parent / "despin"), str(doc), "--quiet"]
        if args.fast_model:
            cmd += ["--model", args.fast_model]
        t0 = time.perf_counter()
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    if res.returncode:
        print(res.stderr[-3000:], file=sys.stderr)
    return {"words": words, "seconds": wall, "words_per_s": words / wall, "rc": res.returncode}


def main(argv: list[str] | None = None) -> None:
    from training.entry import positive_int

    p = argparse.ArgumentParser(prog="python benchmarks/speed.py",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="data/pairs")
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=positive_int, default=100)
    p.add_argument("--family", default=None,
                   help="only this spinner family's pairs (data from configs/pairs-families.yaml)")
    p.add_argument("--rows", nargs="+",
                   default=["identity", "search-fp32", "fast", "accurate-fp32"])
    p.add_argument("--search-model", default=str(ROOT / "despin" / "default" / "accurate"),
                   help="Despinner folder of the search-fp32 row")
    p.add_argument("--fast-model", default=None, help="Despinner folder of the fast row "
                                                      "(default: the shipped default)")
    p.add_argument("--extra", nargs="*", default=[], help="NAME=FOLDER rows")
    p.add_argument("--capability", default=None, type=str.lower,
                   choices=["default", "avx2", "avx512"],
                   help="ATEN_CPU_CAPABILITY for every row (avx2 also limits oneDNN and MKL)")
    p.add_argument("--threads", type=positive_int, default=2)
    p.add_argument("--document-words", type=int, default=6000, help="0: no document run")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--row", help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    p.add_argument("--extra-row", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args)

    from training.evaluate import load_pairs

    for r in args.rows:
        try:
            row_kind(r)
        except ValueError as e:
            p.error(str(e))
    extras = []
    for x in args.extra:
        name, sep, folder = x.partition("=")
        if not (sep and name and folder):
            p.error(f"--extra wants NAME=FOLDER, got {x!r}")
        if not (Path(folder) / "despin.json").is_file():
            p.error(f"--extra {x}: {folder} is not a Despinner folder (no despin.json)")
        if name in args.rows:
            p.error(f"--extra {x}: {name!r} is also a --rows name")
        extras.append((name, folder))
    if args.document_words < 0:
        p.error("--document-words must be ≥ 0")
    try:  # the data and family, checked (and counted) before any row starts
        n_pairs = len(load_pairs(args.data, args.split, args.limit, args.family)[0])
    except (OSError, KeyError, ValueError) as e:
        p.error(f"--data {args.data}: {e}")
    if not n_pairs:
        p.error(f"--data {args.data}: no {args.split} pairs"
                + (f" of family {args.family!r}" if args.family else ""))

    env = dict(os.environ)
    if args.capability:
        env["ATEN_CPU_CAPABILITY"] = args.capability
        if args.capability == "avx2":  # the matrix libraries dispatch on their own
            env.update(ONEDNN_MAX_CPU_ISA="AVX2", MKL_ENABLE_INSTRUCTIONS="AVX2")
    folders = {"identity": None, "search-fp32": args.search_model, "fast": args.fast_model,
               "accurate-fp32": args.fast_model}
    rows = [(r, folders[row_kind(r)], False) for r in args.rows]
    rows += [(name, folder, True) for name, folder in extras]
    results = []
    for name, folder, extra in rows:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        r = run_row(args, name, folder, env, extra)
        r["row"] = name
        results.append(r)
    cap = next((r["capability"] for r in results if "capability" in r), "?")
    head = (f"{'row':<20}{'P':>7}{'R':>7}{'F0.5':>7}{'swap F0.5':>10}{'clean text':>11}"
            f"{'words/s':>10}{'load s':>8}{'peak MB':>9}")
    print(f"CPU capability: {cap} (torch.backends.cpu.get_cpu_capability()), float32 unless "
          f"named; {args.threads} threads; {n_pairs} {args.split} pairs of {args.data}"
          + (f", family {args.family}" if args.family else ""))
    print(head)
    print("-" * len(head))
    for r in results:
        if "error" in r:
            print(f"{r['row']:<20}{r['error']}")
            continue
        speed = "-" if r["row"] == "identity" else f"{r['words_per_s']:.1f}"
        swap = "-" if r.get("swap_f05") is None else f"{r['swap_f05']:.3f}"
        print(f"{r['row']:<20}{r['precision']:>7.3f}{r['recall']:>7.3f}{r['f05']:>7.3f}{swap:>10}"
              f"{r['clean_changed']:>11.2%}{speed:>10}{r['load_s']:>8.1f}{r['peak_mb']:>9.0f}")
    if args.document_words:
        d = document_run(args, env)
        print(f"\ndespin FILE ({args.fast_model or 'the shipped default'}, a new process, "
              f"loading included): "
              f"{d['words']:,} words in {d['seconds']:.1f} s = {d['words_per_s']:.0f} words/s"
              + ("" if d["rc"] == 0 else f" (exit {d['rc']})"))


if __name__ == "__main__":
    main()
