"""The benchmark scripts refuse arguments they cannot honour, in one line, before any row runs
(a misspelt row used to be measured as the shipped default under the misspelt name)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script,args,message", [
    ("speed.py", ["--rows", "identity", "accurate"], "unknown row 'accurate'"),
    ("speed.py", ["--rows", "accurate-fp32@x"], "the margin after @ must be a number"),
    ("speed.py", ["--extra", "foo"], "--extra wants NAME=FOLDER, got 'foo'"),
    ("speed.py", ["--extra", "fast=despin/default"], "'fast' is also a --rows name"),
    ("speed.py", ["--limit", "0"], "invalid positive_int value: '0'"),
    ("speed.py", ["--capability", "bogus"], "invalid choice: 'bogus'"),
    ("speed.py", ["--data", "/no/such/pairs"], "--data /no/such/pairs:"),
    ("quality.py", ["--data", "seeds", "--only", "fast"], "--only: no row ['fast'] here"),
    ("quality.py", ["--data", "seeds", "--limit", "-3"], "invalid positive_int value: '-3'"),
    ("families.py", ["--also", "mythes"], "--also wants NAME=FOLDER, got 'mythes'"),
    ("families.py", ["--lofo", "runs/{fam}"], "the pattern may name only {family}"),
    ("families.py", ["--models", "x=/no/such"], "--models x=/no/such: no such folder"),
    ("families.py", ["--limit", "0"], "invalid positive_int value: '0'"),
    ("coverage.py", ["--model", "despin/default/accurate"], "not a fast-core Despinner folder"),
    ("coverage.py", ["--limit", "0"], "invalid positive_int value: '0'"),
    ("detection.py", ["--docs", "0"], "invalid positive_int value: '0'"),
    ("detection.py", ["--tortured", "-1"], "invalid non_negative_int value: '-1'"),
    ("realworld.py", ["--extra", "foo"], "--extra wants NAME=FOLDER, got 'foo'"),
    ("realworld.py", ["--extra", "default=despin/default"], "'default' is a built-in row"),
    ("reliability.py", ["--json", "/no/such/dir/x.json"], "no folder /no/such/dir to write it"),
    ("reliability.py", ["--limit", "0"], "invalid positive_int value: '0'"),
])
def test_benchmarks_refuse_bad_arguments_in_one_line(script, args, message):
    r = subprocess.run([sys.executable, f"benchmarks/{script}", *args], capture_output=True,
                       text=True, cwd=REPO, timeout=300)
    assert r.returncode == 2, r.stderr[-2000:]
    assert message in r.stderr and f"python benchmarks/{script}: error:" in r.stderr
    assert "Traceback" not in r.stderr


def test_an_empty_set_of_pairs_is_an_error_not_a_sacrebleu_crash():
    from training.evaluate import score

    with pytest.raises(ValueError, match="no pairs to score"):
        score([], [], [])


def test_an_unknown_family_names_the_families_there(tmp_path):
    from datasets import Dataset, DatasetDict

    from training.evaluate import load_pairs

    DatasetDict({"test": Dataset.from_dict({"spun": ["a b", "c d"], "original": ["a x", "c y"],
                                            "family": ["wordnet", "spinbot"]})}
                ).save_to_disk(tmp_path / "fams")
    assert load_pairs(tmp_path / "fams", "test", None, "spinbot") == (["c d"], ["c y"])
    with pytest.raises(KeyError, match=r"no pairs of family 'word-net'.*\['spinbot', 'wordnet'\]"):
        load_pairs(tmp_path / "fams", "test", None, "word-net")
