"""The notebooks run top to bottom (their code cells, in one namespace, as a kernel would)."""
from __future__ import annotations

import json

import pytest

from .conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path):
    cells = json.loads(path.read_text())["cells"]
    ns: dict = {}
    for cell in cells:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{path.name}", "exec"), ns)
    if path.name == "quickstart.ipynb":
        assert ns["result"].input == ns["spun"].text
        assert 0.0 <= ns["metrics"]["f05"] <= 1.0


def test_there_are_notebooks():
    assert NOTEBOOKS
