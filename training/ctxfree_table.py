"""Add the context-free vectors that encoder training read to a model folder's shipped table,
so that a fresh process computes fewer of them while it restores.

    python -m training.ctxfree_table --encoder despin/default/encoder --cache runs/ctxfree-cache

A candidate's key reads a context-free vector of its text (:class:`despin.encoder.
ContextFreeVectors`: the frozen MiniLM's mean-pooled vector, projected by the encoder's
``key2``). ``training.fit_fast --ctxfree-table N`` ships the N texts its fit asked for most
often; a text outside that table is run through the frozen model when a sentence first offers
it (about 2 ms a text on 2 CPU cores). This command appends every text of the disk cache that
``training.train`` filled while the encoder trained (``ctxfree_cache`` of its config: the
candidates of the training pairs' lattices, never a test pair's) and that the table lacks,
at the table's own int8 scale: the rows already shipped stay bit for bit, and a restorer's
scores change only for texts it would otherwise have computed (by the int8 rounding, at most
half a step a dimension). Measured in session 44 on the shipped default: 36,000 texts + 52,320
from the cache (22.6 MB instead of 9.2 MB), misses on 100 content-farm test pairs from 724
texts to 8, about 1.2x the restoring speed, the same edits on 350 test texts (scores within
0.0075 nats), peak memory +70 MB.
"""
from __future__ import annotations

import argparse
import time

from despin.resources import REPO_ROOT, resolve

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns how many texts were added. Raises SystemExit (argparse) for
    an encoder folder without a table, an encoder without context-free keys or a cache folder
    without vectors."""
    from despin.encoder import CTXFREE_TABLE, SpinEncoder

    p = argparse.ArgumentParser(prog="python -m training.ctxfree_table",
                                description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--encoder", required=True,
                   help="an encoder folder with a projected context-free table (a model "
                        "folder's encoder/)")
    p.add_argument("--cache", required=True,
                   help="the context-free vector cache that encoder training wrote "
                        "(ctxfree_cache in configs/train-encoder-*.yaml)")
    args = p.parse_args(argv)
    folder = resolve(args.encoder, REPO_ROOT)
    cache = resolve(args.cache, REPO_ROOT)
    if not (folder / CTXFREE_TABLE).exists():
        p.error(f"{folder} has no {CTXFREE_TABLE} (fit_fast --ctxfree-table writes it)")
    if not (cache / "ctxfree.json").exists():
        p.error(f"{cache} holds no context-free vectors (ctxfree.json)")
    t0 = time.time()
    encoder, _ = SpinEncoder.from_pretrained(folder, ctxfree_cache=cache)
    if encoder.ctxfree is None or encoder.key2 is None:
        p.error(f"{folder}: this encoder reads no context-free vectors")
    before = len(encoder.ctxfree.table)
    texts = list(encoder.ctxfree.memo)  # the cache's texts, read by from_pretrained
    added = encoder.ctxfree.append_table(folder, texts, encoder.key2.weight)
    size = (folder / CTXFREE_TABLE).stat().st_size / 1e6
    print(f"context-free table of {folder}: {before:,} texts + {added:,} from {cache} "
          f"({len(texts):,} cached) = {before + added:,}, {size:.1f} MB; "
          f"{time.time() - t0:.0f} s")
    return added


if __name__ == "__main__":
    main()
