"""Build the case table that spells restored names with their capitals
(:class:`despin.truecase.CaseTable`), from the same prose as the prose n-gram model.

    python -m training.truecase --data data/pairs --out despin/default/truecase.tsv.gz
    python -m training.truecase --text my-archive/*.txt --out my-truecase.tsv.gz  # your prose

The corpus is each distinct original unit of the pairs' ``train`` split (validation and test
documents are never read), or plain UTF-8 files, a paragraph a line. It counts, for every word
after the first of a sentence, its forms ("Congress", "congress"), alone and beside the words
before and after it; the words that prose writes with capitals go in the table
(``despin.truecase``'s docstring has the method and its measurement). A user whose text has
other conventions ("the Government" in older state papers, "the government" in today's
news) builds a table of their own prose and restores with it
(``Despinner.from_pretrained(truecase=...)``, ``despin --truecase``).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from training.entry import positive_int
from training.ngram import add_corpus_arguments, corpus_units

__all__ = ["main"]


def main(argv: list[str] | None = None) -> Path:
    from despin.truecase import CaseTable

    p = argparse.ArgumentParser(prog="python -m training.truecase",
                                description=(__doc__ or "").split("\n\n")[0])
    add_corpus_arguments(p)
    p.add_argument("--out", required=True, help="table to write (.tsv.gz)")
    p.add_argument("--min-pair-count", type=positive_int, default=2,
                   help="keep a word pair's counts when seen at least this often (smaller "
                        "file; singletons decide little)")
    p.add_argument("--min-ratio", type=float, default=2.0,
                   help="the odds of a word's capitals against its lower-case form that the "
                        "capitals need (despin.truecase.CaseTable.form)")
    args = p.parse_args(argv)
    if not args.min_ratio > 0:
        raise ValueError(f"--min-ratio must be > 0, got {args.min_ratio}")

    t0 = time.time()
    table = CaseTable.build(corpus_units(args), min_pair_count=args.min_pair_count,
                            min_ratio=args.min_ratio)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.save(out)
    print(f"{len(table.words):,} words written with capitals, {len(table.left):,} + "
          f"{len(table.right):,} word pairs, {len(table.after):,} words that a capital "
          f"follows -> {out} ({out.stat().st_size / 1e6:.1f} MB), {time.time() - t0:.0f} s")
    return out


if __name__ == "__main__":
    from training.entry import run

    run(main, "python -m training.truecase")
