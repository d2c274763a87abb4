"""The `despin` command: files, stdin, line-for-line output, blank lines, errors."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from despin.despinner import Despinner
from despin.synonyms import DEFAULT_SOURCES

from .conftest import REPO


@pytest.fixture(scope="module")
def copy_model(tmp_path_factory) -> Path:
    """A Despinner with no scorer: it copies its input, which isolates the CLI's plumbing."""
    return Despinner(DEFAULT_SOURCES, []).save_pretrained(tmp_path_factory.mktemp("m") / "copy")


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "despin", "--quiet", *args], input=stdin,
                          capture_output=True, text=True, cwd=REPO, timeout=600)


def test_files_line_for_line(tmp_path, copy_model):
    a = tmp_path / "a.txt"
    a.write_text("First line.\n\n\nThird, after blanks.\n   \nLast")
    b = tmp_path / "b.txt"
    b.write_text("Another file.\n")
    r = run("--model", str(copy_model), str(a), str(b))
    assert r.returncode == 0, r.stderr
    assert r.stdout == a.read_text() + b.read_text()


def test_stdin_and_dash(copy_model):
    text = "From stdin.\n\nTwo paragraphs.\n"
    assert run("--model", str(copy_model), stdin=text).stdout == text
    assert run("--model", str(copy_model), "-", stdin=text).stdout == text


def test_edits_as_json_lines(copy_model, tmp_path):
    r = run("--model", str(copy_model), "--edits", stdin="Nothing to do.\n")
    assert r.returncode == 0 and r.stdout == ""


@pytest.mark.parametrize("args,message", [
    (["/no/such/file.txt"], "cannot read input"),
    (["tests"], "cannot read input"),
    (["--model", "/no/such/model"], "cannot load model"),
    (["--profile", "nope"], "no 'nope' profile"),
])
def test_errors_are_one_line(args, message):
    r = run(*args, stdin="x\n")
    assert r.returncode != 0
    assert message in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_bad_batch_size():
    r = run("--batch-size", "0", stdin="x\n")
    assert r.returncode == 2 and "batch-size" in r.stderr


def test_profile_and_copy_bonus_reach_the_restorer(tmp_path, capsys, monkeypatch):
    from despin.cli import main

    d = Despinner(DEFAULT_SOURCES, [])
    fitted = d.derive()
    fitted.settings.top_k = 3
    d.set_profile("phrase", fitted)
    folder = d.save_pretrained(tmp_path / "m")
    (tmp_path / "t.txt").write_text("navy know-how\n")
    seen = []
    real = Despinner.restore_with_edits
    monkeypatch.setattr(Despinner, "restore_with_edits", lambda self, text: (
        seen.append((self.settings.top_k, self.settings.copy_bonus)), real(self, text))[1])
    assert main(["--model", str(folder), "--profile", "phrase", "--copy-bonus", "7",
                 "--quiet", str(tmp_path / "t.txt")]) == 0
    assert capsys.readouterr().out == "navy know-how\n"
    assert main(["--model", str(folder), "--quiet", str(tmp_path / "t.txt")]) == 0
    assert seen == [(3, 7.0), (d.settings.top_k, d.settings.copy_bonus)]
