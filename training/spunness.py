"""Count how often each span of spun text is a spinner's output, from training pairs.

    python -m training.spunness --data data/pairs --out despin/default

Writes ``spunness.tsv`` (:class:`despin.spunness.SpunnessTable`) into the Despinner folder.
"""
from __future__ import annotations

import argparse

from despin.spunness import SpunnessTable


def main(argv: list[str] | None = None) -> SpunnessTable:
    p = argparse.ArgumentParser(prog="python -m training.spunness",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="pairs folder from training.pairs")
    p.add_argument("--split", default="train")
    p.add_argument("--out", required=True, help="Despinner folder to write spunness.tsv into")
    p.add_argument("--min-count", type=int, default=2, help="drop rarer never-swapped spans")
    args = p.parse_args(argv)
    import datasets

    ds = datasets.load_from_disk(args.data)[args.split]
    table = SpunnessTable.from_pairs(ds["spun"], ds["swaps"], args.min_count)
    path = table.save(args.out)
    print(f"{len(table.occurrences)} spans ({len(table.swapped)} seen swapped, base rate "
          f"{table.base_rate:.3f}) from {len(ds)} {args.split} pairs -> {path}")
    return table


if __name__ == "__main__":
    from training.entry import run

    run(main, "python -m training.spunness")
