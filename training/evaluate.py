"""Score restorers: edit P/R/F0.5 two ways, spun/clean word shares, chrF, BLEU, tortured phrases.

Edits are token changes from the *spun* text (as in GEC's ERRANT): gold edits turn the spun text
into the original, predicted edits turn it into the restorer's output, and a prediction is a true
positive when it exactly matches a gold edit (same source span, same replacement tokens). Two
ways of finding the edits:

- **diff edits** (``precision``/``recall``/``f05``): both sides from a :mod:`difflib` diff of the
  texts (:func:`edits`). Works for any pair of texts, but the diff merges swaps that stand side by
  side into one gold edit, and on heavily rewritten sentences it can anchor on a repeated word
  ("to", "the") far from its place, so that one gold edit swallows a dozen swaps.
- **swap edits** (``swap_precision``/``swap_recall``/``swap_f05``), for synthetic pairs, whose
  spinner recorded its swaps: gold edits are those swaps (:func:`swap_edits`), as GEC's gold
  edits are the annotators', and the restorer's edits are read off the minimal-edit alignment
  of its output that reproduces the most gold edits (:func:`match_swaps`, after the MaxMatch
  scorer, Dahlmeier & Ng 2012); a gold edit is a true positive when that alignment applies it
  whole, and other changes are counted as the diff edits count them.

A *restorer* is any callable ``list[str] -> list[str]``. CLI::

    python -m training.evaluate --restorer identity --restorer inverse-thesaurus \\
        --data data/pairs --split test --limit 500 --tortured-limit 1000

``--restorer MODULE:CALLABLE`` imports ``CALLABLE`` from ``MODULE``: a class, or a function that
takes no required argument, is treated as a factory and called once to build the restorer;
anything else (a function of one argument, an instance with ``__call__``) is the restorer itself.
"""
from __future__ import annotations

import argparse
import csv
import importlib
import inspect
import math
import os
import random
import re
import sys
import time
import warnings
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from despin.text import tokenize, words
from training.entry import positive_int

__all__ = [
    "TokenEdit",
    "edits",
    "swap_edits",
    "match_swaps",
    "swap_counts",
    "swap_metrics",
    "score",
    "evaluate_restorer",
    "load_tortured",
    "score_tortured",
    "format_table",
    "load_pairs",
    "load_pairs_and_swaps",
    "resolve_restorer",
    "main",
]

Restorer = Callable[[list[str]], list[str]]
# (first source token, end source token, replacement tokens): not despin.edits.Edit, which is
# a character-offset edit of a restorer; this one is what the metrics count.
TokenEdit = tuple[int, int, tuple[str, ...]]
BETA = 0.5
REPO_ROOT = Path(__file__).resolve().parent.parent


# -- edits ---------------------------------------------------------------------------------
def edits(source: str, target: str) -> list[TokenEdit]:
    """Token edits turning ``source`` into ``target``: ``(src_start, src_end, replacement)``.

    Alignment is :class:`difflib.SequenceMatcher` over :func:`despin.text.words` (case-sensitive).
    A replacement of n tokens by n tokens is split into n one-word edits (unchanged words inside
    it dropped); unequal replacements, insertions (``start == end``) and deletions (empty
    replacement) stay one edit each.
    """
    src, tgt = words(source), words(target)
    out: list[TokenEdit] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, src, tgt, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            out.extend((i1 + k, i1 + k + 1, (tgt[j1 + k],))
                       for k in range(i2 - i1) if src[i1 + k] != tgt[j1 + k])
        else:
            out.append((i1, i2, tuple(tgt[j1:j2])))
    return out


def swap_edits(spun: str, swaps: Iterable[Mapping[str, Any]]) -> list[TokenEdit]:
    """The gold token edits of a spinner's recorded ``swaps`` of ``spun`` (each a mapping with
    ``start``/``end``, character offsets of the swap in ``spun``, and ``original``, the text it
    replaced: :class:`training.spinner.Swap` as the pairs store it), in order.

    Whitespace at either end of a swap's span is left out; tokens that the swap's two sides
    share at either end are trimmed (a swap "the motor truck" → "the truck" is the deletion of
    "motor"); a swap that changes no token is dropped. An insertion (empty span) sits before
    the first token at or after its offset. Raises ValueError when a span starts or ends
    inside a token of :func:`despin.text.words` (an insertion: when it stands inside one) or
    is not a span of ``spun``, TypeError when an ``original`` is not a str.
    """
    toks = tokenize(spun)
    starts = {t.start: k for k, t in enumerate(toks)}
    ends = {t.end: k + 1 for k, t in enumerate(toks)}
    out: list[TokenEdit] = []
    for sw in swaps:
        a, b = int(sw["start"]), int(sw["end"])
        if not 0 <= a <= b <= len(spun):
            raise ValueError(f"swap offsets {a}:{b} are not a span of a text of {len(spun)} "
                             f"characters")
        if not isinstance(sw["original"], str):
            raise TypeError(f"a swap's original must be a str, got {type(sw['original']).__name__}")
        if a == b and not (a in starts or a in ends or a == len(spun) or spun[a].isspace()):
            raise ValueError(f"insertion at {a} is inside a token of {spun!r}")
        while a < b and spun[a].isspace():
            a += 1
        while b > a and spun[b - 1].isspace():
            b -= 1
        if a == b:
            i = next((k for k, t in enumerate(toks) if t.start >= a), len(toks))
            i1 = i2 = i
        elif a in starts and b in ends:
            i1, i2 = starts[a], ends[b]
        else:
            raise ValueError(f"swap {spun[a:b]!r} at {a}:{b} does not start and end on token "
                             f"boundaries of {spun!r}")
        src, rep = [t.text for t in toks[i1:i2]], words(str(sw["original"]))
        while src and rep and src[0] == rep[0]:
            src, rep, i1 = src[1:], rep[1:], i1 + 1
        while src and rep and src[-1] == rep[-1]:
            src, rep, i2 = src[:-1], rep[:-1], i2 - 1
        if src or rep:
            out.append((i1, i2, tuple(rep)))
    return out


def _levenshtein(a: Sequence[str], b: Sequence[str]) -> int:
    """Token edit distance (insertions, deletions and substitutions each cost 1)."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


SWAP_COST = 1.05
"""What one token of edit distance costs against one gold edit reproduced, in
:func:`match_swaps`' alignment: above 1, so that no gold edit is worth a token edit more than
the cheapest alignment (see there)."""


def match_swaps(source: Sequence[str], output: Sequence[str], gold: Iterable[TokenEdit]
                ) -> tuple[int, int]:
    """``(true positives, predicted edits)`` of a restorer's ``output`` tokens for the
    ``source`` tokens, against the ``gold`` token edits (:func:`swap_edits`).

    After the MaxMatch (M2) scorer of grammatical error correction (Dahlmeier & Ng 2012,
    "Better evaluation for grammatical error correction"): of all alignments of source to
    output — tokens kept, gold edits applied whole, single tokens substituted, inserted or
    deleted — take the one that maximises ``gold edits applied − SWAP_COST × token edit
    distance`` (a gold edit costs the edit distance between its two sides). With the cost
    above 1, a gold edit is applied only where it lies on an alignment of minimal edit
    distance, M2's rule, and among those the one with the most gold edits wins: an output
    that keeps the spun word beside the original, deletes the word next to a filler or
    puts the original a word away is not credited. (A cost below 1 credits those; a cost of
    2 or more loses restored swaps where an alignment across two swaps is cheaper by a
    token; 1.05 does neither on 14,000 test pairs of every family: the original as output
    reproduces every gold edit, the spun text none, the spun text with a random half of its
    swaps undone exactly that half.)

    Each gold edit on the path is a true positive and one predicted edit. The path's other
    changes are counted as :func:`edits` counts a diff's: each run of them between kept
    tokens and gold edits is one edit, except that a run replacing n tokens by n others
    counts n one-word edits. Gold edits that change nothing (an empty span and replacement)
    are ignored. Tokens are compared exactly (case-sensitive).
    """
    n, m = len(source), len(output)
    by_start: dict[int, list[tuple[TokenEdit, int]]] = {}
    for g in set(gold):
        if g[0] < g[1] or g[2]:  # an empty edit would loop
            by_start.setdefault(g[0], []).append((g, _levenshtein(source[g[0]:g[1]], g[2])))
    # (i, j, inside a run of single-token changes) → ((value, tp, −edits), back-pointer)
    best: dict[tuple[int, int, int], tuple[tuple[float, int, int], Any]] = {
        (0, 0, 0): ((0.0, 0, 0), None)}

    def relax(key: tuple[int, int, int], val: tuple[float, int, int], back: Any) -> None:
        if key not in best or val > best[key][0]:
            best[key] = (val, back)

    for i in range(n + 1):
        for j in range(m + 1):
            for run in (0, 1):
                here = best.get((i, j, run))
                if here is None:
                    continue
                (v, tp, e), _ = here
                if i < n and j < m and source[i] == output[j]:
                    relax((i + 1, j + 1, 0), (v, tp, e), ((i, j, run), None))
                for g, cost in by_start.get(i, ()):
                    k = len(g[2])
                    if tuple(output[j:j + k]) == g[2]:
                        relax((g[1], j + k, 0), (round(v + 1 - SWAP_COST * cost, 9), tp + 1,
                                                 e - 1), ((i, j, run), g))
                step = (round(v - SWAP_COST, 9), tp, e if run else e - 1)
                if i < n and j < m:
                    relax((i + 1, j + 1, 1), step, ((i, j, run), None))
                if i < n:
                    relax((i + 1, j, 1), step, ((i, j, run), None))
                if j < m:
                    relax((i, j + 1, 1), step, ((i, j, run), None))
    key = max(((n, m, 0), (n, m, 1)), key=lambda k: best[k][0] if k in best else (-math.inf,))
    used: set[TokenEdit] = set()
    n_edits = 0
    run_end: tuple[int, int] | None = None  # (i, j) where the run being walked back ends
    while best[key][1] is not None:
        prev, g = best[key][1]
        if g is not None:
            used.add(g)
            n_edits += 1
        elif key[2] == 1:
            run_end = run_end or key[:2]
            if prev[2] == 0:  # the run of single-token changes starts here
                di, dj = run_end[0] - prev[0], run_end[1] - prev[1]
                n_edits += di if di == dj else 1  # as edits() splits n:n replacements
                run_end = None
        key = prev
    return len(used), n_edits


def swap_counts(source: str, prediction: str, swaps: Iterable[Mapping[str, Any]]
                ) -> tuple[int, int, int]:
    """``(true positives, predicted edits, gold edits)`` of one restored text on the swap
    edits (:func:`swap_edits`, :func:`match_swaps`)."""
    gold = set(swap_edits(source, swaps))
    return (*match_swaps(words(source), words(prediction), gold), len(gold))


def swap_metrics(counts: Iterable[tuple[int, int, int]]) -> dict[str, float]:
    """``swap_precision`` / ``swap_recall`` / ``swap_f05`` and the summed ``swap_tp`` /
    ``swap_n_pred`` / ``swap_n_gold`` of per-text :func:`swap_counts` (micro-averaged; P = 1
    when nothing is predicted, R = 1 when nothing is gold)."""
    tp = n_pred = n_gold = 0
    for t, k, g in counts:
        tp, n_pred, n_gold = tp + t, n_pred + k, n_gold + g
    p, r = _precision_recall(tp, n_pred, n_gold)
    return {"swap_precision": p, "swap_recall": r, "swap_f05": _f_beta(p, r),
            "swap_tp": tp, "swap_n_pred": n_pred, "swap_n_gold": n_gold}


def _is_counted(token: str) -> bool:
    """Words and numbers count towards the word shares; punctuation does not."""
    return any(c.isalnum() for c in token)


def _touched(edit_list: Iterable[TokenEdit], n_tokens: int) -> set[int]:
    """Source token positions an edit touches (an insertion touches the token after it)."""
    out: set[int] = set()
    for a, b, _ in edit_list:
        if a == b:
            out.add(min(a, n_tokens - 1))
        else:
            out.update(range(a, b))
    return out


def _precision_recall(tp: int, n_pred: int, n_gold: int) -> tuple[float, float]:
    """Micro precision and recall, with P = 1 when nothing is predicted and R = 1 when
    nothing is gold."""
    return tp / n_pred if n_pred else 1.0, tp / n_gold if n_gold else 1.0


def _f_beta(p: float, r: float, beta: float = BETA) -> float:
    return (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0


def score(sources: Sequence[str], predictions: Sequence[str], references: Sequence[str],
          swaps: Sequence[Iterable[Mapping[str, Any]]] | None = None) -> dict[str, float]:
    """Corpus metrics of ``predictions`` (restored ``sources``) against ``references``.

    - ``precision`` / ``recall`` / ``f05``: micro-averaged over the corpus; a predicted edit is
      a true positive when it equals a gold edit. Conventions: P = 1 when nothing is predicted,
      R = 1 when nothing is gold (so the identity restorer has P = 1 and, on spun text, R = 0).
    - ``spun_restored``: share of source words inside gold edits whose gold edit was reproduced
      exactly (an insertion counts as one word).
    - ``clean_changed``: share of source words outside every gold edit that a predicted edit
      touches.
    - ``chrf`` / ``bleu``: sacrebleu corpus scores of predictions vs references (0–100).
    - with ``swaps`` (each source's recorded swaps, :func:`swap_edits`): ``swap_precision`` /
      ``swap_recall`` / ``swap_f05`` and their counts ``swap_tp`` / ``swap_n_pred`` /
      ``swap_n_gold``, micro-averaged with the same conventions (:func:`match_swaps`).
    Word shares count tokens with a letter or digit; punctuation is left out. Raises
    ValueError when the lists' lengths differ or are empty.
    """
    import sacrebleu

    if not sources:
        raise ValueError("no pairs to score")
    if not len(sources) == len(predictions) == len(references):
        raise ValueError(f"lengths differ: {len(sources)} sources, {len(predictions)} "
                         f"predictions, {len(references)} references")
    tp = n_pred = n_gold = 0
    spun_words = spun_hit = clean_words = clean_hit = 0
    for src, pred, ref in zip(sources, predictions, references):
        toks = words(src)
        gold, predicted = edits(src, ref), edits(src, pred)
        gold_set, pred_set = set(gold), set(predicted)
        tp += len(gold_set & pred_set)
        n_pred += len(pred_set)
        n_gold += len(gold_set)
        for edit in gold_set:
            w = max(1, sum(_is_counted(t) for t in toks[edit[0]:edit[1]]))
            spun_words += w
            spun_hit += w if edit in pred_set else 0
        gold_touched = _touched(gold_set, len(toks))
        pred_touched = _touched(pred_set, len(toks))
        for i, t in enumerate(toks):
            if i not in gold_touched and _is_counted(t):
                clean_words += 1
                clean_hit += i in pred_touched
    p, r = _precision_recall(tp, n_pred, n_gold)
    refs = [list(references)]
    extra: dict[str, float] = {}
    if swaps is not None:
        if len(swaps) != len(sources):
            raise ValueError(f"lengths differ: {len(sources)} sources, {len(swaps)} swap lists")
        extra = swap_metrics([swap_counts(src, pred, sw)
                              for src, pred, sw in zip(sources, predictions, swaps)])
    return {
        "precision": p,
        "recall": r,
        "f05": _f_beta(p, r),
        "tp": tp,
        "n_pred": n_pred,
        "n_gold": n_gold,
        "spun_restored": spun_hit / spun_words if spun_words else 1.0,
        "clean_changed": clean_hit / clean_words if clean_words else 0.0,
        "chrf": sacrebleu.corpus_chrf(list(predictions), refs).score,
        "bleu": sacrebleu.corpus_bleu(list(predictions), refs).score,
        **extra,
    }


def changed_share(sources: Sequence[str], outputs: Sequence[str]) -> float:
    """Share of source words (tokens with a letter or digit) that any edit to the output touches."""
    total = hit = 0
    for src, out in zip(sources, outputs):
        toks = words(src)
        touched = _touched(edits(src, out), len(toks))
        for i, t in enumerate(toks):
            if _is_counted(t):
                total += 1
                hit += i in touched
    return hit / total if total else 0.0


def _run_batched(restorer: Restorer, texts: Sequence[str], batch_size: int, desc: str,
                 progress: bool) -> list[str]:
    from tqdm.auto import tqdm

    out: list[str] = []
    with tqdm(total=len(texts), desc=desc, unit="text", disable=not progress, file=sys.stderr) as bar:
        for i in range(0, len(texts), batch_size):
            batch = list(texts[i:i + batch_size])
            result = list(restorer(batch))
            if len(result) != len(batch):
                raise ValueError(f"restorer returned {len(result)} texts for a batch of {len(batch)}")
            out.extend(result)
            bar.update(len(batch))
    return out


def evaluate_restorer(restorer: Restorer, spun: Sequence[str], original: Sequence[str],
                      batch_size: int = 32, name: str = "restore", progress: bool = True,
                      clean_check: bool = True,
                      swaps: Sequence[Iterable[Mapping[str, Any]]] | None = None
                      ) -> dict[str, float]:
    """Run ``restorer`` over ``spun`` in batches and :func:`score` it against ``original``
    (and, given the pairs' recorded ``swaps``, against those: the ``swap_*`` metrics).

    Adds ``clean_text_changed`` (share of words changed when the *original* texts are fed in —
    a restorer must leave clean text alone), ``n`` and ``seconds`` (restoring the spun side).
    """
    t0 = time.perf_counter()
    predictions = _run_batched(restorer, spun, batch_size, f"{name} (spun)", progress)
    seconds = time.perf_counter() - t0
    metrics: dict[str, float] = score(spun, predictions, original, swaps)
    if clean_check:
        clean_out = _run_batched(restorer, original, batch_size, f"{name} (clean)", progress)
        metrics["clean_text_changed"] = changed_share(original, clean_out)
    metrics["n"] = len(spun)
    metrics["seconds"] = seconds
    return metrics


# -- tortured phrases ----------------------------------------------------------------------
_PAREN_RE = re.compile(r"\s*\([^()]*\)\s*$")


def default_tortured_path() -> Path:
    """``$DESPIN_TORTURED`` or ``<repo>/../shared/eval/tortured_phrases.tsv``."""
    env = os.environ.get("DESPIN_TORTURED")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "eval" / "tortured_phrases.tsv"


def load_tortured(path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Rows ``{tortured, expected, n_papers, flags}`` of the tortured-phrases TSV.

    A trailing parenthetical abbreviation (``"area under the curve (AUC)"``) is stripped from
    ``expected``. Evaluation only: never train on these rows.
    """
    p = Path(path) if path is not None else default_tortured_path()
    if not p.exists():
        raise FileNotFoundError(
            f"tortured phrases not found at {p} (evaluation data that the repository does "
            f"not ship: ../shared/eval/ beside the checkout); pass a path, set "
            f"$DESPIN_TORTURED, or skip them (training.evaluate --tortured none, "
            f"benchmarks/quality.py --tortured-limit 0, benchmarks/detection.py --tortured 0)")
    rows = []
    with p.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            tortured = (row.get("tortured") or "").strip()
            expected = _PAREN_RE.sub("", (row.get("expected") or "").strip())
            if not tortured or not expected:
                continue
            n = (row.get("n_papers") or "").strip()
            rows.append({"tortured": tortured, "expected": expected,
                         "n_papers": int(n) if n.isdigit() else 0,
                         "flags": (row.get("flags") or "").strip()})
    return rows


def _norm(s: str) -> str:
    return " ".join(s.lower().split())


def score_tortured(restorer: Restorer, rows: Sequence[dict[str, Any]], limit: int | None = None,
                   seed: int = 0, batch_size: int = 256, progress: bool = True,
                   clean: bool = False) -> dict[str, float]:
    """Exact-match rate of ``restorer([tortured])`` vs ``expected`` (case/space-insensitive, a
    trailing parenthetical abbreviation ignored).

    ``limit`` scores a deterministic random sample (``seed``) of that many rows. Returns
    ``tortured_all`` / ``tortured_10`` (rows with n_papers ≥ 10) and their counts; with
    ``clean``, also ``phrase_clean_changed``: the share of words changed when the *expected*
    phrases are fed in (a restorer must leave a clean term alone).
    """
    rows = list(rows)
    if limit is not None and limit < len(rows):
        idx = sorted(random.Random(seed).sample(range(len(rows)), limit))
        rows = [rows[i] for i in idx]
    outputs = _run_batched(restorer, [r["tortured"] for r in rows], batch_size, "tortured", progress)
    # the expected side is read without its trailing "(AUC)"; so is the output (some tortured
    # phrases carry the abbreviation too: "data technology (IT)")
    hits = [_norm(_PAREN_RE.sub("", o)) == _norm(r["expected"]) for o, r in zip(outputs, rows)]
    hits10 = [h for h, r in zip(hits, rows) if r["n_papers"] >= 10]
    out = {
        "tortured_all": sum(hits) / len(hits) if hits else float("nan"),
        "tortured_10": sum(hits10) / len(hits10) if hits10 else float("nan"),
        "tortured_n": len(hits),
        "tortured_n10": len(hits10),
    }
    if clean:
        expected = [r["expected"] for r in rows]
        out["phrase_clean_changed"] = changed_share(
            expected, _run_batched(restorer, expected, batch_size, "clean phrases", progress))
    return out


# -- table ---------------------------------------------------------------------------------
# (header, metric key, format): fractions shown as 0.xxx, shares as %, chrF/BLEU as 0–100.
_COLUMNS = [
    ("P", "precision", "{:.3f}"),
    ("R", "recall", "{:.3f}"),
    ("F0.5", "f05", "{:.3f}"),
    ("swap P", "swap_precision", "{:.3f}"),
    ("swap R", "swap_recall", "{:.3f}"),
    ("swap F0.5", "swap_f05", "{:.3f}"),
    ("spun restored", "spun_restored", "{:.1%}"),
    ("clean changed", "clean_changed", "{:.1%}"),
    ("chrF", "chrf", "{:.1f}"),
    ("BLEU", "bleu", "{:.1f}"),
    ("tortured all", "tortured_all", "{:.1%}"),
    ("tortured≥10", "tortured_10", "{:.1%}"),
    ("clean phrases changed", "phrase_clean_changed", "{:.1%}"),
    ("clean-text changed", "clean_text_changed", "{:.1%}"),
]


def format_table(rows: dict[str, dict[str, Any]]) -> str:
    """A fixed-width table: one row per restorer name, one column per metric ("–" if missing)."""
    header = ["restorer"] + [c[0] for c in _COLUMNS]
    body = []
    for name, m in rows.items():
        cells = [name]
        for _, key, fmt in _COLUMNS:
            v = m.get(key)
            cells.append("–" if v is None or v != v else fmt.format(v))
        body.append(cells)
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule] + [line(r) for r in body])


# -- data and restorers --------------------------------------------------------------------
def load_pairs(data: str | os.PathLike, split: str = "test", limit: int | None = None,
               family: str | None = None) -> tuple[list[str], list[str]]:
    """``(spun, original)`` lists from a saved ``datasets`` folder or a TSV (columns spun/original).

    ``limit`` keeps ``limit`` pairs evenly spaced over the split (deterministic, and spread
    over many documents rather than the spins of the first few). ``family``: only the pairs
    of that spinner family (a ``family`` column, ``configs/pairs-families.yaml``); KeyError
    when the data has no such column. :func:`load_pairs_and_swaps` also gives their swaps.
    """
    columns = _load_columns(data, split, limit, family, ("spun", "original"))
    return columns["spun"], columns["original"]


def load_pairs_and_swaps(data: str | os.PathLike, split: str = "test", limit: int | None = None,
                         family: str | None = None
                         ) -> tuple[list[str], list[str], list[list[dict[str, Any]]] | None]:
    """``(spun, original, swaps)``: the pairs of :func:`load_pairs` for the same arguments
    and, read in the same pass, each pair's recorded swaps (:func:`swap_edits`); swaps is
    None when ``data`` has no ``swaps`` column (a TSV, or pairs from elsewhere)."""
    columns = _load_columns(data, split, limit, family, ("spun", "original"), ("swaps",))
    return columns["spun"], columns["original"], columns.get("swaps")


def _load_columns(data: str | os.PathLike, split: str, limit: int | None, family: str | None,
                  columns: tuple[str, ...], optional: tuple[str, ...] = ()
                  ) -> dict[str, list]:
    """``columns`` of the pairs in ``data`` (see :func:`load_pairs`), each a list (KeyError
    when one is missing), and those of the ``optional`` columns that the data has."""
    p = Path(data)
    if not p.exists():
        raise FileNotFoundError(f"--data {p} does not exist")
    if p.is_dir():
        import datasets

        ds = datasets.load_from_disk(str(p))
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise KeyError(f"split {split!r} not in {p} (has {sorted(ds)})")
            ds = ds[split]
        columns += tuple(c for c in optional if c in ds.column_names)
        needed = set(columns) | ({"family"} if family else set())
        missing = needed - set(ds.column_names)
        if missing:
            raise KeyError(f"{p} lacks columns {sorted(missing)} (has {ds.column_names})")
        if family:
            fams = ds["family"]
            if family not in set(fams):
                raise KeyError(f"no pairs of family {family!r} in {p} [{split}] (families: "
                               f"{sorted(set(fams))})")
            ds = ds.select([i for i, f in enumerate(fams) if f == family])
        keep = evenly_spaced(len(ds), limit)
        if len(keep) < len(ds) and not family and "family" in ds.column_names:
            fams = ds["family"]
            missed = set(fams) - {fams[i] for i in keep}
            if missed:  # families' rows cycle: every k-th row can be one family's
                warnings.warn(f"{limit} evenly spaced pairs of {p} hold no pair of the families "
                              f"{sorted(missed)}: give a family (family=, --family) or another "
                              f"limit", stacklevel=3)
        ds = ds.select(keep) if len(keep) < len(ds) else ds
        return {c: list(ds[c]) for c in columns}
    if family:
        raise KeyError("family selection needs a datasets folder with a family column")
    with p.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        columns += tuple(c for c in optional if c in (reader.fieldnames or []))
        rows: dict[str, list] = {c: [] for c in columns}
        missing = set(columns) - set(reader.fieldnames or [])
        if missing:
            raise KeyError(f"{p} lacks columns {sorted(missing)} (has {reader.fieldnames})")
        for row in reader:
            absent = [c for c in columns if row.get(c) is None]
            if absent:
                raise ValueError(f"{p} line {reader.line_num}: no {', '.join(absent)} (columns are "
                                 f"separated by tabs)")
            for c in columns:
                rows[c].append(row[c])
    keep = evenly_spaced(len(rows[columns[0]]), limit)
    return {c: [v[i] for i in keep] for c, v in rows.items()}


def evenly_spaced(n: int, limit: int | None) -> list[int]:
    """``limit`` indices spread evenly over ``range(n)`` (all of them when ``limit`` is None or
    ≥ n): deterministic, and spread over many documents rather than the first few."""
    if limit is None or limit >= n:
        return list(range(n))
    return [round(i * n / limit) for i in range(limit)]


def resolve_restorer(spec: str) -> Restorer:
    """``identity``, ``inverse-thesaurus`` or ``MODULE:CALLABLE`` (see the module docstring)."""
    if spec == "identity":
        from despin.baselines import identity

        return identity
    if spec == "inverse-thesaurus":
        from despin.baselines import InverseThesaurus

        return InverseThesaurus()
    if ":" not in spec:
        raise ValueError(f"unknown restorer {spec!r}: use identity, inverse-thesaurus or "
                         "MODULE:CALLABLE")
    module, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"restorer {spec}: {e}") from None
    if inspect.isclass(obj):
        try:
            return obj()
        except TypeError as e:
            raise ValueError(f"restorer {spec}: the class cannot be made without arguments "
                             f"({e}); name a callable that makes it, e.g. "
                             f"despin:Despinner.from_pretrained") from None
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        params = inspect.signature(obj).parameters.values()
        required = [q for q in params if q.default is q.empty
                    and q.kind in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD)]
        if not required:
            return obj()
    if not callable(obj):
        raise TypeError(f"{spec} is not callable")
    return obj


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Command-line entry point; prints the table and returns the metrics per restorer."""
    ap = argparse.ArgumentParser(prog="python -m training.evaluate",
                                 description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--restorer", action="append", required=True,
                    help="identity | inverse-thesaurus | MODULE:CALLABLE (repeatable)")
    ap.add_argument("--data", help="saved DatasetDict folder (training.pairs) or TSV spun/original")
    ap.add_argument("--split", default="test")
    ap.add_argument("--family", default=None,
                    help="only the pairs of this spinner family (pairs with a family column, "
                         "e.g. data/pairs-families)")
    ap.add_argument("--limit", type=positive_int, default=None,
                    help="N pairs only, evenly spaced over the split (over the family's pairs "
                         "with --family)")
    ap.add_argument("--batch-size", type=positive_int, default=32)
    ap.add_argument("--tortured", default=None,
                    help="tortured-phrases TSV (default: $DESPIN_TORTURED, else "
                         "../shared/eval/tortured_phrases.tsv beside the checkout), or 'none' "
                         "to skip")
    ap.add_argument("--tortured-limit", type=positive_int, default=None,
                    help="score a deterministic sample of N tortured phrases")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.data is None and args.tortured == "none":
        ap.error("nothing to evaluate: give --data and/or --tortured")
    if args.family and not args.data:
        ap.error("--family selects pairs of --data: give --data")

    pairs = swaps = None
    if args.data:
        spun, original, swaps = load_pairs_and_swaps(args.data, args.split, args.limit,
                                                     family=args.family)
        pairs = (spun, original)
    tortured = None if args.tortured == "none" else load_tortured(args.tortured)
    results: dict[str, dict[str, Any]] = {}
    for spec in args.restorer:
        restorer = resolve_restorer(spec)
        m: dict[str, Any] = {}
        if pairs is not None:
            m.update(evaluate_restorer(restorer, *pairs, batch_size=args.batch_size, name=spec,
                                       progress=not args.no_progress, swaps=swaps))
        if tortured is not None:
            m.update(score_tortured(restorer, tortured, limit=args.tortured_limit,
                                    progress=not args.no_progress, clean=True))
        results[spec] = m
    notes = []
    if pairs is not None:
        notes.append(f"{len(pairs[0])} pairs from {args.data}"
                     + (f" [{args.split}]" if Path(args.data).is_dir() else "")
                     + (f", family {args.family}" if args.family else ""))
    if tortured is not None:
        first = next(iter(results.values()))
        notes.append(f"{first['tortured_n']} tortured phrases ({first['tortured_n10']} with ≥10 papers)")
    print(format_table(results))
    print("; ".join(notes))
    return results


if __name__ == "__main__":
    from training.entry import run

    run(main, "python -m training.evaluate")
