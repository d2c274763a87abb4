"""Restore in several worker processes: for corpora, on machines with more than a few cores.

One process restores a batch of sentences with one encoder pass (torch's threads share its
matrix products) and then builds lattices and decodes in pure Python, one core at a time. On a
machine with N cores, N / k processes of k threads each keep every core busy. Measured on 2
cores (AMD EPYC, AVX2, float32; ``despin`` on 24,008 words of test pairs, loading included):
one process of 2 threads 28.2 s, two processes of 1 thread each, half the text each, 22.0 s.

:func:`restore_batches` is what ``Despinner.restore_lines(..., workers=N)`` and ``despin
--workers N`` run. The parent process reads the lines and cuts them into the batches that one
process would restore (:meth:`despin.despinner.Despinner._batches`: the same sentence spans,
the same code fences, the same batch boundaries), so the output is the same, edit for edit, as
with one process (edit scores to float rounding: a worker's torch runs on fewer threads). Each
worker loads its own copy of the model as ``from_pretrained`` loaded the parent's
(:attr:`despin.despinner.Despinner.recipe`: folder, device, batch size, dtype, prose model,
setting overrides, profile and margin) and takes the parent's search and fast-core settings as
they are now (a threshold changed after loading included); a profile added in memory
(``set_profile``) or another calibration is not seen: save the model and load that folder. A
call starts its own pool: restore many documents in one call. It costs that model's memory again
(about 1.2 GB for the shipped default's fast core). Workers start with ``spawn``, as torch
needs, so a script that uses them must guard its top level with ``if __name__ == "__main__":``.
"""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from .despinner import Despinner
    from .edits import Restoration

__all__ = ["restore_batches", "threads_per_worker", "check_workers"]

Batch = list[tuple[str, list[tuple[int, int]], list[tuple[int, int]]]]
"""Lines as the engine restores them: (line, its sentence spans, its parts inside a quotation
that goes on over a line break) per line (:meth:`despin.despinner.Despinner._batches`)."""

_MODEL: "Despinner | None" = None  # a worker process's model


def check_workers(workers: Any) -> int:
    """``workers`` as an int ≥ 1; raises ValueError for anything else (a bool, 0, 1.5)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer ≥ 1, got {workers!r}")
    return workers


def threads_per_worker(workers: int) -> int:
    """torch threads for each of ``workers`` processes: the cores this process may use
    (``os.sched_getaffinity``, else ``os.cpu_count``) shared out, at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // workers)


def _start(recipe: dict[str, Any], settings: dict[str, Any],
           fast_settings: dict[str, Any] | None, threads: int) -> None:
    """A worker's initializer: ``threads`` torch threads, the model loaded from ``recipe``
    with the parent's current search and fast settings; Ctrl-C is left to the parent."""
    import signal

    import torch
    from transformers.utils import logging as hf_logging

    from .despinner import Despinner

    global _MODEL
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the pool
    torch.set_num_threads(threads)
    hf_logging.disable_progress_bar()  # N workers' "Loading weights" bars say nothing
    args = dict(recipe)
    profile, margin = args.pop("profile", None), args.pop("margin", None)
    model = Despinner.from_pretrained(args.pop("path_or_name"), **args).profile(profile, margin)
    for name, value in settings.items():  # e.g. the CLI's --copy-bonus on a search core
        setattr(model.settings, name, value)
    if fast_settings is not None:
        for name, value in fast_settings.items():
            setattr(model.fast.settings, name, value)
    _MODEL = model


def _restore(pending: Batch, budget: int) -> "list[Restoration]":
    assert _MODEL is not None, "worker not started"
    return list(_MODEL._restore_batch(pending, budget))


def restore_batches(model: "Despinner", batches: Iterator[tuple[Batch, bool]], budget: int,
                    workers: int) -> Iterator[tuple[Batch, "list[Restoration]"]]:
    """Restore ``batches`` (``(lines with their sentence spans, whether the input waits)``,
    from :meth:`Despinner._batches`) in ``workers`` processes; yield each batch with its
    lines' Restorations, in input order.

    At most ``2 × workers`` batches are in flight, so a document of any length streams in
    bounded memory. A batch whose input waits (a pipe) is yielded as soon as it is done; an
    error in reading the input (``batches``) is raised after the batches before it are
    yielded. Raises ValueError when ``model`` was not loaded by ``from_pretrained`` (workers
    load it again: save it with ``save_pretrained`` and load that folder) or ``workers`` is
    not an int ≥ 1; an error in a worker is raised here when its batch's turn comes
    (:class:`concurrent.futures.process.BrokenProcessPool` when a worker could not start)."""
    import multiprocessing

    model._check_workers(workers)
    fast = asdict(model.fast.settings) if model.fast_spec is not None else None
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start,
                               initargs=(model.recipe, asdict(model.settings), fast,
                                         threads_per_worker(workers)))
    window: deque[tuple[Batch, Future]] = deque()
    try:
        while True:
            try:
                pending, waits = next(batches)
            except StopIteration:
                break
            except Exception:  # bad input: what was read before it is still restored
                while window:
                    done, future = window.popleft()
                    yield done, future.result()
                raise
            window.append((pending, pool.submit(_restore, pending, budget)))
            while window and (len(window) > 2 * workers or waits or window[0][1].done()):
                done, future = window.popleft()
                yield done, future.result()
        while window:
            done, future = window.popleft()
            yield done, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
