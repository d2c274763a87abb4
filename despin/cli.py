"""`despin [FILE ...]`: restore spun text files (or stdin) to stdout, line for line.

Input streams: each line's output is written (and flushed) as soon as its batch of sentences is
restored, so a pipe sees output before the end and a document of any length runs in bounded
memory. ``--format`` chooses the output: ``text`` (the restored lines), ``json`` (one JSON
record per input line, edits in the shape of LanguageTool's ``matches``, after a header record
naming the model) or ``diff`` (each edit marked inline, ``[navy→military]``). ``--detect``
prints how likely the text is spinner output instead (:meth:`despin.Despinner.detect`).
"""
from __future__ import annotations

import argparse
import codecs
import json
import math
import os
import queue
import sys
import threading
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, Iterator

from .dtypes import DTYPES

if TYPE_CHECKING:
    from .edits import Restoration

FORMATS = ("text", "json", "diff")


def _check_readable(name: str) -> None:
    """Raise OSError or UnicodeDecodeError when file ``name`` cannot be read as UTF-8 text
    (read in 1 MiB chunks: the file is not held in memory). A file that is not a regular
    file (a pipe, a FIFO, ``<(...)``) can be read only once: it is checked for access here
    and decoded as it is restored."""
    path = Path(name)
    if path.is_dir():
        raise IsADirectoryError(f"{name} is a directory")
    if not path.is_file():
        path.stat()  # FileNotFoundError for a missing path
        if not os.access(path, os.R_OK):
            raise PermissionError(13, "Permission denied", name)
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    done = 0  # bytes read before the chunk
    with path.open("rb") as f:
        while True:
            chunk = f.read(1 << 20)
            held = len(decoder.getstate()[0])  # an unfinished character's bytes, carried over
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:  # its offsets: into the held bytes + the chunk
                raise UnicodeDecodeError(exc.encoding, exc.object, done - held + exc.start,
                                         done - held + exc.end, exc.reason) from None
            if not chunk:
                break
            done += len(chunk)


def _lines(name: str) -> Iterator[str]:
    """The lines of file ``name``, line breaks kept as they are (``newline=""``)."""
    with open(name, encoding="utf-8", newline="") as f:
        yield from f


def _stdin_lines() -> tuple[Iterator[str], Callable[[], bool]]:
    """Stdin's lines (line breaks kept), read by a thread into a bounded queue, and a test of
    whether another line is waiting there: input that arrives over time (a terminal, a slow
    pipe) is restored as it comes instead of waiting to fill a batch."""
    stdin: IO[str] = sys.stdin
    if hasattr(stdin, "reconfigure"):
        stdin.reconfigure(encoding="utf-8", newline="")
    box: queue.Queue = queue.Queue(maxsize=4096)
    end = object()

    def pump() -> None:
        try:
            for line in stdin:
                box.put(line)
        except Exception as exc:  # e.g. UnicodeDecodeError: raised in the reading thread
            box.put(exc)
        box.put(end)

    threading.Thread(target=pump, daemon=True).start()

    def lines() -> Iterator[str]:
        while (item := box.get()) is not end:
            if isinstance(item, Exception):
                raise item
            yield item

    return lines(), lambda: not box.empty()


def _input(name: str) -> tuple[Iterator[str], Callable[[], bool] | None]:
    """Lines of ``name`` ("-": stdin) and, for stdin, its :func:`_stdin_lines` test."""
    return _stdin_lines() if name == "-" else (_lines(name), None)


def _strip_break(line: str) -> str:
    """``line`` without its line break."""
    return line.rstrip("\r\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``despin`` command; returns the exit status (0 ok, 2 bad input or
    model, 130 interrupted)."""
    p = argparse.ArgumentParser(
        prog="despin",
        description="Restore spun text to its original wording. Output has one line per input "
                    "line; every byte outside a restored word is unchanged.")
    p.add_argument("files", nargs="*", default=["-"], help="text files ('-' or none: stdin)")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text: the restored text; json: a header record, then one record per "
                        "input line with its edits (offsets: characters into the line); diff: "
                        "the input with each edit marked as [spun→restored]")
    p.add_argument("--detect", action="store_true",
                   help="print how likely each sentence and each document is spinner output "
                        "(a calibrated probability) instead of restoring")
    p.add_argument("--model", default=None, help="Despinner folder or hub name (default: shipped)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="sentences per encoder batch on the fast core (the default's: 8), "
                        "hypotheses per scoring batch on the search core (32)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto")
    p.add_argument("--dtype", choices=DTYPES, default=None,
                   help="the search scorers' weights, i.e. the accurate profile's language "
                        "model (the fast core always runs in float32; default: the model's own "
                        "setting); auto: bfloat16 where the CPU or GPU computes it natively, "
                        "else float32")
    p.add_argument("--copy-bonus", type=float, default=None,
                   help="how much evidence an edit needs: log-odds for a calibrated model, "
                        "nats otherwise (higher: fewer, surer edits)")
    p.add_argument("--choice-margin", type=float, default=None, metavar="NATS",
                   help="fast core: nats by which an edit must beat its best runner-up "
                        "original, else the span is left as written (higher: fewer, surer "
                        "edits; 0: every edit; default: the model's)")
    p.add_argument("--no-gate", action="store_true",
                   help="fast core: turn the spin gate off, so that sentences spin detection "
                        "calls clean keep every edit too (for a few swapped phrases in "
                        "otherwise clean prose; more changes to clean text)")
    p.add_argument("--ngram", default=None, metavar="ARPA",
                   help="fast core: a trigram model of prose of your text's own domain (python "
                        "-m training.ngram --text ...) in place of the shipped prose model")
    p.add_argument("--truecase", default=None, metavar="TABLE",
                   help="a case table of such prose (python -m training.truecase --text ...) "
                        "in place of the model's, for the capitals of restored names")
    p.add_argument("--profile", default=None,
                   help="restore with this profile of the model: 'accurate' (the shipped "
                        "default's slower, surer profile); 'phrase' where a model has it")
    p.add_argument("--margin", type=float, default=None,
                   help="with --profile accurate: nats of the fast decoder's objective below "
                        "which a decision goes to the slower language-model search (default: "
                        "the profile's, 2.0; smaller is faster and less accurate)")
    p.add_argument("--workers", type=int, default=1,
                   help="restore in this many processes, each with its own copy of the model "
                        "(about 1.2 GB each for the shipped default) and its share of the "
                        "cores; the same output, faster on many cores (default: 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.batch_size is not None and args.batch_size < 1:
        p.error("--batch-size must be at least 1")
    if args.workers < 1:
        p.error("--workers must be at least 1")
    if args.workers > 1 and args.detect:
        p.error("--workers restores; --detect runs in one process")
    if args.detect and args.format == "diff":
        p.error("--detect writes text or json, not diff")
    if args.copy_bonus is not None and not math.isfinite(args.copy_bonus):
        p.error("--copy-bonus takes a finite number")
    if args.choice_margin is not None and not 0 <= args.choice_margin < math.inf:
        p.error("--choice-margin takes a finite number ≥ 0")
    if args.margin is not None and (args.profile is None or not args.margin >= 0):
        p.error("--margin takes a number ≥ 0 and needs --profile (e.g. --profile accurate)")
    try:
        for name in args.files:
            if name != "-":
                _check_readable(name)
    except UnicodeDecodeError as exc:
        print(f"despin: cannot read input: {name} is not UTF-8 text ({exc.reason} at byte "
              f"{exc.start})", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"despin: cannot read input: {exc.strerror}: {name}"
              if exc.strerror else f"despin: cannot read input: {exc}", file=sys.stderr)
        return 2
    if args.quiet or not sys.stderr.isatty():  # bars only for a person watching
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars
    from . import __version__
    from .accurate import AccurateRestorer
    from .despinner import Despinner
    from .fast import FastRestorer

    try:
        model = Despinner.from_pretrained(args.model, device=args.device,
                                          batch_size=args.batch_size, dtype=args.dtype,
                                          ngram=args.ngram, truecase=args.truecase,
                                          **({"gate_cut": None} if args.no_gate else {}))
        model = model.profile(args.profile, margin=args.margin)
        _ = model.engine  # the fast core loads on first use: its errors belong here
        if args.dtype is not None and isinstance(model.engine, FastRestorer):
            print("despin: --dtype has no effect on the fast core (it runs in float32); it "
                  "sets the accurate profile's language model: add --profile accurate",
                  file=sys.stderr)
    except (OSError, ValueError) as exc:
        print(f"despin: cannot load model: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"despin: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.detect and (model.fast_spec is None or model.detection is None):
        print("despin: --detect needs a model with spin detection (the fast core and its "
              "detection.json, python -m training.fit_detect)", file=sys.stderr)
        return 2
    if args.copy_bonus is not None:
        if model.fast_spec is not None:  # the fast core's threshold (log-odds)
            model.fast.settings.threshold = args.copy_bonus
        else:
            model.settings.copy_bonus = args.copy_bonus
    if args.choice_margin is not None:
        if model.fast_spec is None:
            print("despin: --choice-margin needs a fast-core model", file=sys.stderr)
            return 2
        model.fast.settings.choice_margin = args.choice_margin
    model.progress = not args.quiet and sys.stderr.isatty()
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    out = sys.stdout
    try:
        if args.detect:
            return _detect(model, args, out)
        if args.format == "json":
            header = {"despin": __version__, "model": args.model or "default",
                      "model_version": _model_version(model), "ngram": args.ngram,
                      "truecase": args.truecase,
                      "profile": args.profile,
                      "margin": model.engine.margin  # a searcher profile's, else None
                      if isinstance(model.engine, AccurateRestorer) else None,
                      "format": "despin-json/1",
                      "offsets": "characters (Unicode code points, not UTF-16 units) into "
                                 "each line"}
            out.write(json.dumps(header, ensure_ascii=False) + "\n")
        for name, number, r in _restore_files(model, args.files, args.workers):
            if args.format == "json":
                record = {"file": name, "line": number, "input": _strip_break(r.input),
                          "output": _strip_break(r.text), "edits": r.matches()}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            elif args.format == "diff":
                out.write(r.diff())
            else:
                out.write(r.text)
            out.flush()
    except UnicodeDecodeError as exc:  # stdin or a pipe (regular files were checked first)
        print(f"despin: cannot read input: not UTF-8 text ({exc.reason})", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `despin big.txt | head`: the reader has what it wanted
        sys.stdout = open(os.devnull, "w")  # nothing more to flush into the closed pipe
        return 0
    except KeyboardInterrupt:
        print("despin: interrupted", file=sys.stderr)
        return 130
    except BrokenProcessPool as exc:  # a worker could not start or died (memory?)
        print(f"despin: a worker process failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _restore_files(model, names: list[str], workers: int
                   ) -> Iterator[tuple[str, int, Restoration]]:
    """Each file's lines restored, in order: ``(file, line number, Restoration)``. With
    ``workers`` > 1 every file goes through one pool of workers (a document a file), so that
    the workers load their models once."""
    def sized(name: str) -> int | None:
        return os.path.getsize(name) if name != "-" and Path(name).is_file() else None

    if workers == 1:
        for name in names:
            lines, more_ready = _input(name)
            for number, r in enumerate(model.restore_lines(lines, sized(name), more_ready), 1):
                yield name, number, r
        return
    where: deque[tuple[str, int]] = deque()  # each line read, until its restoration is out
    ready: list[Callable[[], bool] | None] = [None]

    def numbered() -> Iterator[tuple[int, str]]:
        for k, name in enumerate(names):
            lines, ready[0] = _input(name)
            for number, line in enumerate(lines, 1):
                where.append((name, number))
                yield k, line

    sizes = [sized(name) for name in names]
    total = None if None in sizes else sum(sizes)
    stream = model._restore_stream(numbered(), total, lambda: ready[0] is None or ready[0](),
                                   workers)
    for r in stream:
        name, number = where.popleft()
        yield name, number, r


def _model_version(model) -> str | None:
    """The first 12 hex digits of the SHA-256 of the model folder's ``despin.json`` and its
    weights' file names and sizes: changes whenever the model does."""
    import hashlib

    folder = model.base_dir
    if folder is None or not (folder / "despin.json").exists():
        return None
    h = hashlib.sha256((folder / "despin.json").read_bytes())
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(folder)}:{f.stat().st_size}".encode())
    return h.hexdigest()[:12]


def _detect(model, args: argparse.Namespace, out: IO[str]) -> int:
    """``despin --detect``: per file, each sentence's probability of being spinner output and
    the document's (text: tab-separated lines; json: one record per file)."""
    for name in args.files:
        text = "".join(_input(name)[0])
        d = model.detect(text)
        if args.format == "json":
            out.write(json.dumps({"file": name, **d.to_dict()}, ensure_ascii=False) + "\n")
        else:
            for s in d.sentences:
                out.write(f"{s.probability:.3f}\t{s.text}\n")
            out.write(f"{d.probability:.3f}\t[document: {name}]\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
