"""How the training commands end on a user's mistake: a missing file or folder, a bad
setting, or a split, column or profile the data lacks (OSError, ValueError, KeyError), prints
one line naming it and exits with status 2, as argparse does for a bad option;
``DESPIN_TRACEBACK=1`` in the environment shows the traceback instead."""
from __future__ import annotations

import os
import sys
from typing import Any, Callable

__all__ = ["is_whole", "library_module", "positive_int", "non_negative_int",
           "non_negative_float", "run"]


def run(main: Callable[[], Any], prog: str) -> None:
    """Call ``main()`` (a training module's entry point); on OSError, ValueError or KeyError
    print ``{prog}: error: {message}`` to stderr and exit 2."""
    try:
        main()
    except (OSError, ValueError, KeyError) as exc:
        if os.environ.get("DESPIN_TRACEBACK"):
            raise
        message = str(exc)
        if isinstance(exc, KeyError) and exc.args:  # str() of a KeyError quotes its key
            key = exc.args[0]
            message = key if isinstance(key, str) and " " in key else \
                f"no {key!r} (a split, column or setting the input lacks)"
        print(f"{prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def positive_int(text: str) -> int:
    """An argparse ``type``: an integer ≥ 1 (argparse reports anything else as a bad value)."""
    value = int(text)
    if value < 1:
        raise ValueError(f"{value} is below 1")
    return value


def non_negative_int(text: str) -> int:
    """An argparse ``type``: an integer ≥ 0 (0 usually meaning "none of these")."""
    value = int(text)
    if value < 0:
        raise ValueError(f"{value} is below 0")
    return value


def non_negative_float(text: str) -> float:
    """An argparse ``type``: a finite number ≥ 0."""
    value = float(text)
    if not 0 <= value < float("inf"):
        raise ValueError(f"{text!r} is not a finite number ≥ 0")
    return value


def is_whole(value: Any, low: int | None = None) -> bool:
    """Whether a config value is a whole number (an ``int``, not a ``bool``), and ≥ ``low``
    where one is given: the one check behind the pairs configs' and the training recipes'
    "expected a whole number" errors."""
    return (isinstance(value, int) and not isinstance(value, bool)
            and (low is None or value >= low))


def library_module(name: str, command: str) -> None:
    """What ``python -m {name}`` does for a module that is a library, not a command: say which
    command uses it, on stderr, and exit 2."""
    print(f"{name} is a library module, not a command; it runs through: {command}",
          file=sys.stderr)
    sys.exit(2)
