"""Estimate the fast core's second n-gram model: a trigram model of written prose, from the
originals of a pairs dataset's training split, with KenLM's ``lmplz``.

    python -m training.ngram --data data/pairs --out runs/ngram/prose.arpa
    python -m training.ngram --text my-archive/*.txt --out my-domain.arpa   # your own prose

Why: the fast decoder's base model (pocketsphinx's, :mod:`despin.ngram`) was built from speech
transcripts. Mixed half and half with a model of the training documents' prose
(:class:`despin.ngram.MixtureLM`), the fast core's validation F0.5 rose by about .03 in
session 22 (the README's Training section has the tables, with a test across corpora: the
model of one corpus does not help on the other).

The corpus is each *distinct* original unit of the ``train`` split (the pairs repeat a unit
once per spin), as the decoder reads it (:func:`despin.fast.lm_words`: lower-case words, no
punctuation, British spellings in American spelling), one unit a line. Validation and test
documents are never read, so no test sentence is in the model.

The gain is a gain of *domain*: a model of one corpus helped on held-out documents of the same
corpus and not on the other corpus (session 22: Wikipedia's prose on State of the Union pairs,
and the reverse). So with ``--text`` (plain UTF-8 files, a paragraph a line, cut into sentences
as restoration cuts them, :func:`despin.text.sentence_spans`) a user builds a model of their
own domain's clean prose — a publisher's archive, a field's papers — and restores with it in
place of the shipped one (``Despinner.from_pretrained(ngram=...)``, ``despin --ngram``).

The model: modified Kneser-Ney smoothing with interpolation (Heafield et al. 2013, "Scalable
Modified Kneser-Ney Language Model Estimation", ACL; KenLM's ``lmplz``), written as ARPA, which
``pocketsphinx`` reads. For a corpus of at least :data:`PRUNE_FROM_WORDS` words the default
drops bigrams and trigrams seen once (``--prune 0 1 1``): on session 22's corpus (1.6M words)
10 MB of ARPA instead of 56 MB, at the same F0.5. A smaller corpus is not pruned by default
(pruning singletons would leave little more than its unigrams).
``lmplz`` is not on PyPI as a program: ``make lmplz`` builds it from the PyPI source
distribution of ``kenlm`` (cmake, a C++ compiler and Boost's development headers).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable

from training.entry import positive_int

__all__ = ["add_corpus_arguments", "corpus_lines", "corpus_units", "split_originals",
           "text_units", "find_lmplz", "estimate",
           "default_prune", "PRUNE_FROM_WORDS", "main"]

PRUNE_FROM_WORDS = 1_000_000
"""Corpus size (words) from which singleton bigrams and trigrams are pruned by default."""

LMPLZ_HELP = ("KenLM's lmplz was not found: `make lmplz` builds it into .venv/bin (it needs "
              "cmake, a C++ compiler and Boost: apt-get install cmake g++ "
              "libboost-program-options-dev libboost-system-dev libboost-thread-dev "
              "libboost-test-dev zlib1g-dev), or pass --lmplz PATH")


def corpus_lines(originals: Iterable[str]) -> Iterable[str]:
    """Each distinct original once, in first-seen order, as the n-gram model reads it: its
    :func:`despin.fast.lm_words` joined by spaces (units with no word are skipped)."""
    from despin.fast import lm_words

    seen: set[str] = set()
    for text in originals:
        if text in seen:
            continue
        seen.add(text)
        words = lm_words(text)
        if words:
            yield " ".join(words)


def split_originals(data: str | Path, split: str = "train") -> list[str]:
    """The ``original`` column of split ``split`` of a pairs folder (``training.pairs``; a
    relative path is read from the repository root when it is not in the working folder),
    one entry per pair (a unit repeats once per spin). Raises FileNotFoundError for a missing
    folder, ValueError for a missing split; warns on stderr for a split other than ``train``
    (validation and test documents must not become a model's training text)."""
    from datasets import load_from_disk

    from despin.resources import REPO_ROOT, resolve

    folder = resolve(data, REPO_ROOT)
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"no pairs folder at {data}")
    pairs = load_from_disk(str(folder))
    if split not in pairs:
        raise ValueError(f"{data} has no split {split!r} (has {sorted(pairs)})")
    if split != "train":
        print(f"warning: reading the {split} split's originals", file=sys.stderr)
    return list(pairs[split]["original"])


def add_corpus_arguments(p: argparse.ArgumentParser) -> None:
    """The clean-prose corpus options of the commands that estimate from it (this one,
    ``training.truecase``): ``--data`` (a pairs folder) or ``--text FILE…``, and ``--split``;
    read with :func:`corpus_units`."""
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", default="data/pairs", help="pairs folder from training.pairs")
    src.add_argument("--text", nargs="+", default=None, metavar="FILE",
                     help="plain UTF-8 text files (a paragraph a line) instead of pairs")
    p.add_argument("--split", default="train", help="with --data: the split whose originals "
                                                     "are read")


def corpus_units(args: argparse.Namespace) -> Iterable[str]:
    """The units of :func:`add_corpus_arguments`' corpus: the sentences of ``--text`` files
    (:func:`text_units`), else each distinct original of the pairs' split once
    (:func:`split_originals`)."""
    if args.text:
        return text_units(args.text)
    return dict.fromkeys(split_originals(args.data, args.split))


def text_units(paths: Iterable[str | Path]) -> Iterable[str]:
    """The sentences of plain UTF-8 text files, a paragraph a line, cut as restoration cuts
    them (:func:`despin.text.sentence_spans`). Raises OSError for a file that cannot be read
    (FileNotFoundError, IsADirectoryError) and ValueError, naming the file, for one that is
    not UTF-8."""
    from despin.text import sentence_spans

    for path in paths:
        with open(path, encoding="utf-8-sig") as f:
            try:
                for line in f:
                    for a, b in sentence_spans(line):
                        yield line[a:b]
            except UnicodeDecodeError as exc:
                raise ValueError(f"{path}: not UTF-8 text ({exc.reason})") from exc


def default_prune(words: int, order: int) -> tuple[int, ...]:
    """The default ``prune`` of :func:`estimate`: none below :data:`PRUNE_FROM_WORDS` words,
    else 0 for unigrams and 1 for every higher order (singletons dropped)."""
    return () if words < PRUNE_FROM_WORDS else (0,) + (1,) * (order - 1)


def find_lmplz(explicit: str | None = None) -> str:
    """The ``lmplz`` program: ``explicit``, else on ``PATH``, else beside this Python (where
    ``make lmplz`` puts it). Raises FileNotFoundError with how to build it."""
    if explicit:
        if not Path(explicit).is_file():
            raise FileNotFoundError(f"--lmplz {explicit}: no such file")
        return explicit
    found = shutil.which("lmplz") or shutil.which("lmplz", path=str(Path(sys.executable).parent))
    if found is None:
        raise FileNotFoundError(LMPLZ_HELP)
    return found


def estimate(lines: Iterable[str], out: str | Path, order: int = 3,
             prune: tuple[int, ...] = (0, 1, 1), memory: str = "1G",
             lmplz: str | None = None) -> dict[str, int]:
    """Write an ARPA model of ``lines`` (space-separated words, one sentence a line) to ``out``
    with ``lmplz -o order --prune ...`` and return its n-gram counts (``{"1": 55641, ...}``,
    read from the ARPA header). ``prune``: one count threshold per order (``lmplz --prune``;
    an n-gram seen at most that often is dropped; the first must be 0). Raises
    FileNotFoundError when lmplz is missing, ValueError for a bad order or prune, and
    RuntimeError (with the last line of lmplz's message) when it fails or cannot run; ``out``
    is replaced only when lmplz succeeds."""
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    if len(prune) > order or (prune and prune[0] != 0) or list(prune) != sorted(prune):
        raise ValueError(f"prune needs at most one non-decreasing threshold per order, the "
                         f"first 0 (got {list(prune)} for order {order})")
    program = find_lmplz(lmplz)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        text, model = Path(tmp) / "corpus.txt", Path(tmp) / "model.arpa"
        with open(text, "w", encoding="utf-8") as f:
            for line in lines:
                f.write(line + "\n")
        cmd = [program, "-o", str(order), "-S", memory, "-T", tmp, "--discount_fallback"]
        if prune:
            cmd += ["--prune", *map(str, prune)]
        with open(text, "rb") as src, open(model, "wb") as dst:
            try:
                done = subprocess.run(cmd, stdin=src, stdout=dst, stderr=subprocess.PIPE)
            except OSError as exc:  # not executable, not a program
                raise RuntimeError(f"cannot run lmplz {program}: {exc.strerror or exc}") from exc
        if done.returncode != 0:
            said = [x for x in done.stderr.decode(errors="replace").splitlines() if x.strip()]
            raise RuntimeError(f"lmplz failed (exit {done.returncode})"
                               + (f": {said[-1].strip()}" if said else ""))
        shutil.move(str(model), str(out))
    counts: dict[str, int] = {}
    with open(out, encoding="utf-8") as f:
        for line in f:
            if line.startswith("ngram "):
                n, c = line[6:].strip().split("=")
                counts[n] = int(c)
            elif line.startswith("\\1-grams:"):
                break
    return counts


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(prog="python -m training.ngram",
                                description=(__doc__ or "").split("\n\n")[0])
    add_corpus_arguments(p)
    p.add_argument("--out", required=True, help="ARPA file to write")
    p.add_argument("--order", type=positive_int, default=3,
                   help="n-gram order (the fast decoder reads trigrams)")
    p.add_argument("--prune", type=int, nargs="*", default=None,
                   help="lmplz --prune: per order, drop n-grams seen at most this often "
                        "(default: 0 1 1 from 1M words of corpus, else no pruning)")
    p.add_argument("--memory", default="1G", help="lmplz -S: memory for sorting")
    p.add_argument("--lmplz", default=None, help="the lmplz program (default: PATH, .venv/bin)")
    args = p.parse_args(argv)

    t0 = time.time()
    lines = list(corpus_lines(corpus_units(args)))
    if not lines:
        raise ValueError("no words to estimate a model from")
    words = sum(line.count(" ") + 1 for line in lines)
    prune = default_prune(words, args.order) if args.prune is None else tuple(args.prune)
    try:
        counts = estimate(lines, args.out, args.order, prune, args.memory, args.lmplz)
    except RuntimeError as exc:  # one line and exit 2, as for the other user errors
        raise ValueError(str(exc)) from exc
    size = os.path.getsize(args.out) / 1e6
    print(f"{len(lines):,} units, {words:,} words -> {args.out}: "
          + ", ".join(f"{c:,} {n}-grams" for n, c in counts.items())
          + f", {size:.1f} MB, pruned {' '.join(map(str, prune)) or 'nothing'}, "
          f"{time.time() - t0:.0f} s")
    return Path(args.out)


if __name__ == "__main__":
    from training.entry import run

    run(main, "python -m training.ngram")
