"""Where the fast default loses the gold edits (issue 15: coverage or choice), per test set.

    python benchmarks/losses.py [--model DIR] [--realworld] [--families data/pairs-families]
        [--today data/pairs] [--limit 150] [--show]

Each gold edit is a token edit that turns the spun text into its original
(:func:`training.evaluate.edits`, the alignment the metrics count), and it is followed through
the fast core's stages (``despin.fast``) sentence by sentence, as ``Despinner.restore`` reads
them. Its class is the first stage that loses it:

* **restored**: the restored output has exactly this edit (the shipped pipeline: spin gate,
  choice margin, capitals and spelling included; case ignored);
* **no slot**: no slot of the lattice spans exactly the edit's tokens (a proper name or a
  capitalised word, a protected token, a word the spinner dropped, an index that has no entry
  for the span, or an alignment that no slot matches), nor a slot around them with a candidate
  that makes the edit ("more superior" → "far superior" for "more" → "far": that slot and
  candidate are followed instead);
* **not a candidate**: a slot, but the original is not among its ``top_k`` candidates;
* **outside the pool**: the encoder ranks the original below the slot's ``pool`` best;
* **below the shortlist**: pooled, but not among the slot's ``shortlist`` best unary scores
  above ``floor``;
* **copy kept**: shortlisted, and the best path copies the span;
* **another original**: shortlisted, and the best path takes another candidate;
* **dropped after decoding**: the best path takes it and the spin gate or the choice margin
  leaves it undone.

"No slot" and "not a candidate" are coverage (the table's last column); the rest is choice.
Sets: ``--realworld`` the real-world check's pairs (``benchmarks/realworld/pairs.tsv``:
test-only, never tuned on), ``--today`` the content farm's test pairs, ``--families`` each
family's test split (evenly spaced, ``--limit`` pairs each). Prints the CPU capability and
one table, the share of each class per set.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.entry import positive_int  # noqa: E402

CLASSES = ("restored", "no slot", "not a candidate", "outside the pool", "below the shortlist",
           "copy kept", "another original", "dropped after decoding")
COVERAGE = CLASSES[1:3]  # the original is no candidate of the span: coverage; the rest is choice


def gold_spans(spun: str, original: str) -> list[tuple[int, int, str]]:
    """The gold edits of a pair as character spans of ``spun`` with their original text
    (lower case, tokens joined by single spaces): ``(start, end, original)``; a word the
    spinner dropped is an empty span ``start == end``."""
    from despin.text import tokenize
    from training.evaluate import edits

    toks = tokenize(spun)
    out = []
    for a, b, rep in edits(spun, original):
        start = toks[a].start if a < len(toks) else len(spun)
        end = toks[b - 1].end if b > a else start
        out.append((start, end, " ".join(rep).lower()))
    return out


def classify(model, texts: Sequence[str], originals: Sequence[str]) -> list[list[str]]:
    """Each pair's gold edits' classes (:data:`CLASSES`), in :func:`gold_spans` order.
    ``model``: a fast-core ``Despinner``."""
    import numpy as np

    from despin.text import sentence_spans

    fast = model.fast
    if fast is None:
        raise ValueError("losses are measured on a fast-core Despinner (its fast section)")
    out = []
    for spun, original in zip(texts, originals):
        final = {(e.start, e.end, e.restored.lower()) for e in model.restore_with_edits(spun).edits}
        sents = sentence_spans(spun)  # the units Despinner.restore reads
        lattices = fast.lattices([spun[a:b] for a, b in sents])
        found: dict[tuple[int, int], tuple] = {}  # char span → (slot k, lattice, shortlist)
        decoded: dict[tuple[int, int], str] = {}
        for (a, _), x in zip(sents, lattices):
            sl = fast.shortlist(x)
            for k, slot in enumerate(x.slots):
                found[(a + slot.start, a + slot.end)] = (k, x, sl)
            for e in (fast.decode(x) if sl else []):
                decoded[(a + e.start, a + e.end)] = e.restored.lower()
        classes = []
        for start, end, gold in gold_spans(spun, original):
            target = _target(spun, start, end, gold, found)
            if target is None:
                classes.append("restored" if (start, end, gold) in final else "no slot")
                continue
            (start, end), gold = target
            if (start, end, gold) in final:
                classes.append("restored")
                continue
            k, x, sl = found[(start, end)]
            texts_k = [c.text.lower() for c in x.slots[k].candidates]
            if gold not in texts_k:
                classes.append("not a candidate")
                continue
            j = texts_k.index(gold)
            feats = x.features[k]
            if feats is None or not np.isfinite(fast.unary(feats)[j]):
                classes.append("outside the pool")
            elif j not in [arc.cand for arc in sl.get(k, [])]:
                classes.append("below the shortlist")
            elif (start, end) not in decoded:
                classes.append("copy kept")
            elif decoded[(start, end)] != gold:
                classes.append("another original")
            else:
                classes.append("dropped after decoding")
        out.append(classes)
    return out


def _target(spun: str, start: int, end: int, gold: str, slots: dict
            ) -> tuple[tuple[int, int], str] | None:
    """The slot span that restores a gold edit, and its text there: the edit's own span when
    one of its slot's candidates is the original; else the shortest slot around it of which
    one candidate is the slot's text with the edit made ("more superior" → "far superior" for
    "more" → "far"); else the edit's own span when it is a slot (whose candidates lack the
    original); None when none is (or the edit adds a dropped word). ``slots``: character span →
    (slot k, lattice, shortlist), as :func:`classify` builds it."""
    def listed(span: tuple[int, int], text: str) -> bool:
        k, x, _ = slots[span]
        return text in {c.text.lower() for c in x.slots[k].candidates}

    if end == start:
        return None
    if (start, end) in slots and listed((start, end), gold):
        return (start, end), gold
    for _, a, b in sorted((b - a, a, b) for a, b in slots
                          if a <= start and end <= b and (a, b) != (start, end)):
        text = " ".join((spun[a:start] + gold + spun[end:b]).lower().split())
        if listed((a, b), text):
            return (a, b), text
    return ((start, end), gold) if (start, end) in slots else None


def table(results: dict[str, Counter]) -> str:
    """A markdown table: one row per set, the share of each class (and coverage's total)."""
    head = ["set", "gold edits"] + list(CLASSES) + ["coverage lost"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for name, c in results.items():
        n = sum(c.values())
        pct = lambda v: f"{100 * v / max(n, 1):.1f} %"  # noqa: E731
        lines.append("| " + " | ".join([name, str(n)] + [pct(c[k]) for k in CLASSES]
                                        + [pct(sum(c[k] for k in COVERAGE))]) + " |")
    return "\n".join(lines)


def _sets(args) -> Iterable[tuple[str, list[str], list[str]]]:
    if args.realworld:
        from benchmarks.realworld import load

        rows = load()
        yield "real-world", [r["spun"] for r in rows], [r["original"] for r in rows]
    if args.today or args.families:
        import datasets

        from training.evaluate import evenly_spaced
    if args.today:
        ds = datasets.load_from_disk(args.today)["test"]
        ds = ds.select(evenly_spaced(len(ds), args.limit))
        yield "content-farm (data/pairs)", ds["spun"], ds["original"]
    if args.families:
        test = datasets.load_from_disk(args.families)["test"]
        fams = test["family"]
        for fam in dict.fromkeys(fams):
            idx = [i for i, f in enumerate(fams) if f == fam]
            ds = test.select([idx[i] for i in evenly_spaced(len(idx), args.limit)])
            yield fam, ds["spun"], ds["original"]


def main(argv: list[str] | None = None) -> dict[str, Counter]:
    ap = argparse.ArgumentParser(prog="python benchmarks/losses.py",
                                 description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--model", default=None, help="Despinner folder (default: the shipped one)")
    ap.add_argument("--realworld", action="store_true", help="the real-world check's pairs")
    ap.add_argument("--today", default="", help="the content farm's pairs (e.g. data/pairs)")
    ap.add_argument("--families", default="", help="pairs with a family column "
                                                    "(e.g. data/pairs-families)")
    ap.add_argument("--limit", type=positive_int, default=150, help="test pairs per set")
    ap.add_argument("--show", action="store_true", help="print every gold edit's class")
    args = ap.parse_args(argv)
    if not (args.realworld or args.today or args.families):
        ap.error("name at least one set: --realworld, --today DIR or --families DIR")

    import torch

    from despin.despinner import Despinner

    print("command: python benchmarks/losses.py " + " ".join(argv if argv is not None
                                                               else sys.argv[1:]))
    print(f"CPU capability: {torch.backends.cpu.get_cpu_capability()}; "
          f"torch threads {torch.get_num_threads()}")
    t0 = time.time()
    model = Despinner.from_pretrained(args.model)
    results: dict[str, Counter] = {}
    for name, spun, original in _sets(args):
        classes = classify(model, spun, original)
        results[name] = Counter(c for row in classes for c in row)
        if args.show:
            for s, o, row in zip(spun, original, classes):
                for (a, b, gold), c in zip(gold_spans(s, o), row):
                    print(f"{name}: {s[a:b]!r} -> {gold!r}: {c}")
    print(table(results))
    print(f"(measured in {time.time() - t0:.0f} s)")
    return results


if __name__ == "__main__":
    main()
