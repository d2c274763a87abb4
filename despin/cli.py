"""`despin [FILE ...]`: restore spun text files (or stdin) to stdout, line for line."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .dtypes import DTYPES


def _read(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    path = Path(name)
    if path.is_dir():
        raise OSError(f"{name} is a directory")
    return path.read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``despin`` command; returns the exit status."""
    p = argparse.ArgumentParser(
        prog="despin",
        description="Restore spun text to its original wording. Output has one line per input "
                    "line; every byte outside a restored word is unchanged.")
    p.add_argument("files", nargs="*", default=["-"], help="text files ('-' or none: stdin)")
    p.add_argument("--model", default=None, help="Despinner folder or hub name (default: shipped)")
    p.add_argument("--batch-size", type=int, default=32, help="hypotheses scored per batch")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="auto")
    p.add_argument("--dtype", choices=DTYPES, default=None,
                   help="the scoring models' weights (default: the model's own setting); auto: "
                        "bfloat16 where the CPU or GPU computes it natively, else float32")
    p.add_argument("--copy-bonus", type=float, default=None,
                   help="how much evidence an edit needs: log-odds for a calibrated model, "
                        "nats otherwise (higher: fewer, surer edits)")
    p.add_argument("--profile", default=None,
                   help="restore with this profile of the model: 'phrase' when each line is a "
                        "bare phrase (a term with no sentence around it)")
    p.add_argument("--edits", action="store_true",
                   help="write the edits as JSON lines (offsets into each input) instead")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.batch_size < 1:
        p.error("--batch-size must be at least 1")
    try:
        texts = [(name, _read(name)) for name in args.files]
    except (OSError, UnicodeDecodeError) as exc:
        print(f"despin: cannot read input: {exc}", file=sys.stderr)
        return 2
    if args.quiet:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars
    from .despinner import Despinner

    try:
        model = Despinner.from_pretrained(args.model, device=args.device,
                                          batch_size=args.batch_size,
                                          dtype=args.dtype).profile(args.profile)
    except (OSError, ValueError) as exc:
        print(f"despin: cannot load model: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"despin: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.copy_bonus is not None:
        if model.fast_spec is not None:  # the fast core's threshold (log-odds)
            model.fast.settings.threshold = args.copy_bonus
        else:
            model.settings.copy_bonus = args.copy_bonus
    model.progress = not args.quiet and sys.stderr.isatty()
    for name, text in texts:
        result = model.restore_with_edits(text)
        if args.edits:
            for e in result.edits:
                print(json.dumps({"file": name, **e.to_dict()}, ensure_ascii=False))
        else:
            sys.stdout.write(result.text)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
