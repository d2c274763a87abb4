"""Restoring in worker processes (`despin.workers`): the same edits as one process, for
documents, streamed lines and the command line; the parent's settings reach the workers; bad
worker counts and models that workers cannot load again are refused."""
from __future__ import annotations

import subprocess
import sys

import pytest

from despin.despinner import Despinner

from .conftest import REPO
from .test_default_model import CLEAN, HELD

FENCE = "```\nThe scholars had been requested to go away.\n```\n"


def _documents() -> list[str]:
    """Several documents whose lines make many batches at batch_size 1 (8 sentences a batch),
    with a code fence between prose lines."""
    spun = [s for s, _ in HELD]
    docs = [" ".join(spun[:4]) + "\n" + spun[4] + "\n" + FENCE + " ".join(spun[5:]) + "\n",
            "\n".join(CLEAN + spun[:3]) + "\n",
            "",
            "A single line without a break: " + spun[9]]
    return docs + [d.upper() for d in docs[:2]]


@pytest.fixture(scope="module")
def small_batches() -> Despinner:
    return Despinner.from_pretrained(batch_size=1)


def _edits(results) -> list[list[tuple]]:
    return [[(e.start, e.end, e.spun, e.restored, round(e.score, 4)) for e in r.edits]
            for r in results]


def test_workers_restore_as_one_process(small_batches):
    docs = _documents()
    one = small_batches.restore_with_edits(docs)
    assert sum(len(r.edits) for r in one) >= 10
    two = small_batches.restore_with_edits(docs, workers=2)
    assert [r.text for r in two] == [r.text for r in one]
    assert _edits(two) == _edits(one)
    # streamed lines: one Restoration per line, in order, the same as in one process
    lines = "".join(docs).splitlines(keepends=True)
    streamed = list(small_batches.restore_lines(lines, workers=3))
    assert [r.input for r in streamed] == lines
    assert _edits(streamed) == _edits(small_batches.restore_lines(lines))
    assert FENCE.splitlines(keepends=True)[1] in [r.text for r in streamed]  # fence kept
    # input that waits (a pipe): every batch is restored as soon as it is read
    waiting = list(small_batches.restore_lines(lines, more_ready=lambda: False, workers=2))
    assert _edits(waiting) == _edits(streamed)


def test_workers_take_the_parents_settings_as_they_are_now():
    model = Despinner.from_pretrained(batch_size=2)
    spun = [s for s, _ in HELD]
    before = model.restore(spun)
    model.fast.settings.threshold = 40.0  # nothing clears it: no edits at all
    assert model.restore(spun) == spun
    assert model.restore(spun, workers=2) == spun
    model.fast.settings.threshold = -3.0  # edits everywhere
    loose = model.restore(spun)
    assert loose != before
    assert model.restore(spun, workers=2) == loose


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2", None])
def test_bad_worker_counts_are_refused(small_batches, workers):
    with pytest.raises(ValueError, match="workers"):
        small_batches.restore("The firm reported a decline.", workers=workers)
    with pytest.raises(ValueError, match="workers"):
        list(small_batches.restore_lines(["a line\n"], workers=workers))


def test_workers_need_a_model_that_from_pretrained_loaded(tmp_path, small_batches):
    assert small_batches.recipe["batch_size"] == 1
    assert small_batches.profile("accurate", margin=1.0).recipe == {
        **small_batches.recipe, "profile": "accurate", "margin": 1.0}
    built = Despinner(small_batches.sources_spec, fast=small_batches.fast_spec,
                      base_dir=small_batches.base_dir)
    assert built.recipe is None
    with pytest.raises(ValueError, match="save_pretrained"):
        built.restore(["One text.", "Another text."], workers=2)


def test_search_core_settings_reach_the_workers(tmp_path):
    """A worker's initializer, run here: the model from the recipe, with the parent's search
    settings as they are now (the CLI's --copy-bonus on a search core)."""
    import signal
    from dataclasses import asdict

    import torch

    from despin import workers
    from despin.synonyms import DEFAULT_SOURCES

    folder = Despinner(DEFAULT_SOURCES, []).save_pretrained(tmp_path / "search")
    model = Despinner.from_pretrained(folder, top_k=3)
    model.settings.copy_bonus = 3.5
    handler, threads = signal.getsignal(signal.SIGINT), torch.get_num_threads()
    try:
        workers._start(model.recipe, asdict(model.settings), None, 1)
        assert workers._MODEL is not None and workers._MODEL is not model
        assert workers._MODEL.settings == model.settings
        assert workers._MODEL.settings.copy_bonus == 3.5 and workers._MODEL.settings.top_k == 3
    finally:
        signal.signal(signal.SIGINT, handler)
        torch.set_num_threads(threads)
        workers._MODEL = None


def test_cli_workers(tmp_path):
    doc, other = tmp_path / "doc.txt", tmp_path / "other.txt"
    doc.write_text("".join(_documents()[:2]))
    other.write_text(_documents()[0].upper())
    # one sentence per encoder batch, as in the tests above: a batch's padding moves scores
    # in their fourth decimal, and one process batches the two files' lines differently
    cmd = [sys.executable, "-m", "despin", "--quiet", "--format", "json", "--batch-size", "1",
           str(doc), str(other)]
    one = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    two = subprocess.run(cmd + ["--workers", "2"], capture_output=True, text=True, cwd=REPO)
    assert one.returncode == 0 and two.returncode == 0, two.stderr
    assert two.stdout == one.stdout and '"restored"' in one.stdout
    for bad, message in ((["--workers", "0"], "at least 1"),
                         (["--workers", "2", "--detect"], "--detect")):
        res = subprocess.run(cmd + bad, capture_output=True, text=True, cwd=REPO)
        assert res.returncode == 2 and message in res.stderr
