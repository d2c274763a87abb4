"""Coverage per spinner family: how often the gold original is among its slot's candidates.

    python benchmarks/coverage.py [--families data/pairs-families] [--today data/pairs]
                                  [--limit 2000] [--tortured] [--general]
                                  [--model DIR | --index configs/index.yaml]

For every swap of every test pair (``swaps``: the spinner's own record of what it changed), the
slot a restorer would see is the swap's spun span. Counted per family and kind of swap:

* **has a slot**: the span can be a slot at all (:func:`despin.lattice.build_slots`' rules: 1 to
  ``MAX_SLOT_WORDS`` whole words joined by single spaces, none protected in the spun text);
* **full index**: the gold original is among *all* the candidates of the span in the shipped
  default's candidate index (``Despinner.from_pretrained().index.lookup(span, top_k=None)``);
* **lattice**: among the ``top_k`` candidates that the fast core's lattice keeps (the shipped
  default's ``fast.settings.top_k``, read from its ``despin.json``). The fast decoder then sees
  only the encoder's ``pool`` and ``shortlist`` of these: that last step is choice, not coverage,
  and is not measured here.

Matching ignores case ("Bush" restored as "bush" counts: case is a separate step). An insertion
(a swap with an empty original: the spinner added the span) is covered when the span has the
deletion candidate ``""`` (an ``insertions`` source); a deletion (an empty spun side) has no span
at all, so it is never covered. "content-farm (today)" is
the existing ``data/pairs`` test split (evenly spaced pairs, ``--limit``).

``--tortured``: the tortured-phrase reachability of issue 15 §3 on the evaluation list
(``../shared/eval``, n_papers ≥ 10; evaluation only, never fed to any table or model): a phrase
is reachable when some path through its lattice spells the expected phrase (:func:`reachable`:
every token copied, or a run of 1 to ``MAX_SLOT_WORDS`` words replaced by one of its
candidates, the deletion ``""`` included; case ignored). With the shipped default's index and,
with ``--general``, that index plus the full WordNet (every sense, similar terms, names;
``kind: wordnet``), Moby unfiltered (every word, however rare) and the mythes thesaurus when
installed, and that index two steps deep (:class:`TwoSteps`: a ceiling, not a source).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from despin.candidates import CandidateIndex  # noqa: E402
from training.entry import positive_int  # noqa: E402
from despin.lattice import MAX_SLOT_WORDS  # noqa: E402
from despin.text import is_word, protected_mask, tokenize  # noqa: E402
from training.encoder import swap_spans  # noqa: E402

KINDS = ("substitution", "insertion", "deletion", "number", "article")


def swap_kind(swap: dict[str, Any]) -> str:
    """The kind of a swap record: insertion (empty original), deletion (empty spun side),
    number or article (their spinner sources), else substitution."""
    if not swap["original"]:
        return "insertion"
    if not swap["spun"]:
        return "deletion"
    if swap["source"] in ("number", "article"):
        return swap["source"]
    return "substitution"


def slot_span(spun: str, start: int, end: int, tokens=None, mask=None) -> str | None:
    """``spun[start:end]`` when it can be a slot (1 to ``MAX_SLOT_WORDS`` unprotected words,
    single spaces, token boundaries at both ends), else None."""
    if end <= start:
        return None
    tokens = tokenize(spun) if tokens is None else tokens
    mask = protected_mask(spun, tokens) if mask is None else mask
    inside = [i for i, t in enumerate(tokens) if t.start >= start and t.end <= end]
    if not inside or tokens[inside[0]].start != start or tokens[inside[-1]].end != end:
        return None
    if len(inside) > MAX_SLOT_WORDS or any(mask[i] or not is_word(tokens[i].text) for i in inside):
        return None
    if any(spun[tokens[a].end:tokens[b].start] != " " for a, b in zip(inside, inside[1:])):
        return None
    return spun[start:end]


def covered(index: CandidateIndex, span: str, original: str, top_k: int | None) -> bool:
    """Whether ``original`` (case ignored) is among ``span``'s ``top_k`` candidates."""
    gold = original.lower()
    return any(c.text.lower() == gold for c in index.lookup(span, top_k=top_k))


def measure(rows: Iterable[dict[str, Any]], index: CandidateIndex, top_k: int
            ) -> dict[tuple[str, str], list[int]]:
    """Counts per (kind, source): [swaps, has a slot, in the full index, in the top_k]."""
    out: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in rows:
        spun, tokens, mask = row["spun"], None, None
        for s in row["swaps"]:
            kind = swap_kind(s)
            c = out[(kind, s["source"] if kind == "substitution" else "")]
            c[0] += 1
            if kind == "deletion":
                continue  # nothing in the spun text to restore from
            if tokens is None:
                tokens = tokenize(spun)
                mask = protected_mask(spun, tokens)
            (start, end, _), = swap_spans([s])
            span = slot_span(spun, start, end, tokens, mask)
            if span is None:
                continue
            c[1] += 1
            if covered(index, span, s["original"], None):
                c[2] += 1
                c[3] += covered(index, span, s["original"], top_k)
    return out


def _pct(a: int, b: int) -> str:
    return f"{a / b:6.1%}" if b else "     –"


def table(results: dict[str, dict[tuple[str, str], list[int]]], top_k: int) -> str:
    """A Markdown table: per family its substitutions (all, then per source) and the other
    kinds of swap."""
    lines = [f"| family | swaps | n | has a slot | full index | lattice (top {top_k}) |",
             "|---|---|---|---|---|---|"]
    for fam, counts in results.items():
        subs = [v for (k, _), v in counts.items() if k == "substitution"]
        total = [sum(v[i] for v in subs) for i in range(4)]
        rows = [("**substitutions**", total)]
        rows += [(f"· {src}", v) for (k, src), v in sorted(counts.items())
                 if k == "substitution" and len(subs) > 1]
        rows += [(k + "s", counts[(k, "")]) for k in KINDS[1:] if (k, "") in counts]
        for label, (n, slot, full, lat) in rows:
            lines.append(f"| {fam} | {label} | {n:,} | {_pct(slot, n)} | {_pct(full, n)} | "
                         f"{_pct(lat, n)} |")
    return "\n".join(lines)


def reachable(index: CandidateIndex, spun: str, expected: str, top_k: int | None = None
              ) -> bool:
    """Whether a path through ``spun``'s lattice spells ``expected`` (tokens compared in lower
    case, :func:`despin.text.tokenize`): each token is copied, or a run of 1 to
    ``MAX_SLOT_WORDS`` words (:func:`despin.text.is_word`, single spaces, no punctuation) is
    replaced by one of its ``top_k`` candidates in ``index`` (None: all), the deletion
    candidate ``""`` included. Several slots in one phrase ("profound learning" → "deep
    learning") and one slot of several words ("supply route" → "artery") are both paths.
    Dynamic programming over (spun token, expected token) positions: O(tokens² ×
    MAX_SLOT_WORDS) index look-ups at most, memoised by the index."""
    t = [(x.text.lower(), x.start, x.end) for x in tokenize(spun)]
    e = [x.text.lower() for x in tokenize(expected)]

    @lru_cache(maxsize=None)
    def go(i: int, j: int) -> bool:
        if i == len(t):
            return j == len(e)
        if j < len(e) and t[i][0] == e[j] and go(i + 1, j + 1):
            return True
        for n in range(1, MAX_SLOT_WORDS + 1):
            run = t[i:i + n]
            if len(run) < n or not is_word(run[-1][0]) or (
                    n > 1 and spun[run[-2][2]:run[-1][1]] != " "):
                break
            for c in index.lookup(spun[t[i][1]:run[-1][2]], top_k=top_k):
                out = [x.text.lower() for x in tokenize(c.text)]
                if e[j:j + len(out)] == out and go(i + n, j + len(out)):
                    return True
        return False

    return go(0, 0)


class TwoSteps:
    """An index's candidates and, for each of a span's ``width`` best one-word candidates, its
    own ``width`` best: a synonym of a synonym ("ghastly" → "ghostly" → "spectral"). Not a
    source any restorer uses (a span gets hundreds of candidates); measured as a ceiling of
    what general thesauri reach. Has the ``lookup(span, top_k)`` of a
    :class:`CandidateIndex` (``top_k`` ignored)."""

    def __init__(self, index: CandidateIndex, width: int = 30):
        self.index, self.width = index, width
        self._memo: dict[str, list] = {}

    def lookup(self, span: str, top_k: int | None = None) -> list:
        hit = self._memo.get(span)
        if hit is None:
            one = self.index.lookup(span, top_k=None)
            out = {c.text.lower(): c for c in one}
            for c in one[:self.width]:
                if c.text and " " not in c.text:
                    for d in self.index.lookup(c.text.lower(), top_k=self.width):
                        out.setdefault(d.text.lower(), d)
            hit = self._memo[span] = list(out.values())
        return hit


def tortured_reachability(index: CandidateIndex, rows: list[dict[str, Any]],
                          top_k: int | None = None) -> tuple[float, dict[str, int]]:
    """Share of ``rows`` (``tortured``/``expected``) whose expected phrase is reachable through
    ``index`` (:func:`reachable`), and the rest counted by whether the two phrases have the
    same number of tokens."""
    why: dict[str, int] = defaultdict(int)
    hits = 0
    for r in rows:
        if reachable(index, r["tortured"], r["expected"], top_k):
            hits += 1
        elif len(tokenize(r["tortured"])) == len(tokenize(r["expected"])):
            why["same length"] += 1
        else:
            why["other length"] += 1
    return hits / max(len(rows), 1), dict(why)


def _evenly(ds, limit: int | None):
    if limit is None or limit >= len(ds):
        return ds
    step = len(ds) / limit
    return ds.select([int(i * step) for i in range(limit)])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python benchmarks/coverage.py",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--families", default="data/pairs-families",
                    help="pairs with a family column (training.pairs, configs/pairs-families.yaml)")
    ap.add_argument("--today", default="data/pairs", help="today's pairs ('' to skip)")
    ap.add_argument("--limit", type=positive_int, default=2000, help="test pairs per family")
    ap.add_argument("--model", default=None, help="Despinner folder (default: the shipped one)")
    ap.add_argument("--index", default=None,
                    help="measure this index config instead of the model's (e.g. "
                         "configs/index.yaml; training.train.load_index_spec), with the model's "
                         "top_k and frequency weighting")
    ap.add_argument("--tortured", action="store_true", help="tortured-phrase reachability")
    ap.add_argument("--general", action="store_true",
                    help="… also the general sources: the search core's sources (Moby, curated "
                         "words, phrases) with the full WordNet, unfiltered Moby and mythes, "
                         "one and two steps deep")
    args = ap.parse_args(argv)

    import datasets
    import torch

    from despin.despinner import DEFAULT_PATH, Despinner

    print("command: python benchmarks/coverage.py " + " ".join(argv if argv is not None
                                                                 else sys.argv[1:]))
    print(f"CPU capability: {torch.backends.cpu.get_cpu_capability()}; "
          f"torch threads {torch.get_num_threads()}")
    t0 = time.time()
    folder = Path(args.model or DEFAULT_PATH)
    spec = folder / "despin.json"
    if not spec.is_file() or "fast" not in json.loads(spec.read_text()):
        ap.error(f"--model {folder}: not a fast-core Despinner folder (its despin.json has no "
                 f"fast section)")
    model = Despinner.from_pretrained(args.model)
    index = model.index
    if args.index:
        from training.train import load_index_spec

        index = CandidateIndex.from_config(load_index_spec(args.index), index.freq_power)
    top_k = int(json.loads((folder / "despin.json").read_text())["fast"]["settings"]["top_k"])
    print(f"index: {args.index or folder} sources {[s.name for s in index.sources]}; "
          f"lattice top_k {top_k}; "
          f"loaded in {time.time() - t0:.0f} s")
    results: dict[str, dict] = {}
    if args.today:
        ds = _evenly(datasets.load_from_disk(args.today)["test"], args.limit)
        results["content-farm (today)"] = measure(ds, index, top_k)
    if args.families:
        test = datasets.load_from_disk(args.families)["test"]
        fams = test["family"]
        for fam in dict.fromkeys(fams):
            ds = _evenly(test.select([i for i, f in enumerate(fams) if f == fam]), args.limit)
            results[fam] = measure(ds, index, top_k)
    print(table(results, top_k))
    print(f"(measured in {time.time() - t0:.0f} s)")
    if args.tortured:
        from training.evaluate import load_tortured

        rows = [r for r in load_tortured() if int(r["n_papers"]) >= 10]
        indexes = {"this index" if args.index else
                   "this model's index" if args.model else "shipped default": index}
        if args.general:
            from despin.synonyms import DEFAULT_SOURCES, load_sources, mythes_path

            specs = [dict(s) for s in DEFAULT_SOURCES] + [
                {"name": "wordnet", "kind": "wordnet", "relations": ["synonym", "similar"],
                 "instances": True, "min_zipf": 0.0, "max_words": 3, "weight": 0.3},
                {"name": "moby-all", "kind": "moby", "min_zipf": 0.0, "max_words": 3,
                 "weight": 0.3}]
            try:
                mythes_path()
                specs.append({"name": "mythes", "kind": "mythes", "weight": 0.2, "min_zipf": 0.0})
            except FileNotFoundError:
                pass
            indexes["general: " + " + ".join(s["name"] for s in specs)] = \
                CandidateIndex(load_sources(specs), index.freq_power)
        print(f"\ntortured phrases, n_papers ≥ 10: {len(rows):,} (evaluation only)")
        if args.general:
            indexes["the same, two steps (a synonym's synonyms, 30 × 30)"] = TwoSteps(
                list(indexes.values())[-1])
        for name, ix in indexes.items():
            for k in ((top_k, None) if isinstance(ix, CandidateIndex) else (None,)):
                share, why = tortured_reachability(ix, rows, k)
                print(f"  {name}, {'every candidate' if k is None else f'top {k}'}: "
                      f"{share:.1%} reachable; the rest: {why}")


if __name__ == "__main__":
    main()
