"""benchmarks/reliability.py on a small --limit: every family's generated inputs through the
shipped default and the CLI, and the columns that must be 0 (issue 16 §7). Plus one minimal
reproducer per protected-span bug the benchmark found (regression tests: spans that cross a
sentence end or a line break, link targets with titles, inline code elements)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FAMILIES = {"empty", "huge", "unicode", "html", "markdown", "code", "numbers", "quotes",
            "languages", "mixed", "cli"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("reliability") / "report.json"
    p = subprocess.run([sys.executable, str(REPO / "benchmarks" / "reliability.py"),
                        "--limit", "40", "--seed", "0", "--json", str(out)],
                       capture_output=True, text=True, cwd=REPO, timeout=900)
    assert out.exists(), p.stdout[-3000:] + p.stderr[-3000:]
    return p, json.loads(out.read_text())


def test_every_family_runs(report):
    p, r = report
    assert set(r["rows"]) == FAMILIES | {"total"}
    assert all(r["rows"][f]["inputs"] >= 1 for f in FAMILIES)
    assert r["rows"]["total"]["inputs"] >= 40
    assert "family" in p.stdout and "CPU capability" in p.stdout and "command:" in p.stdout


@pytest.mark.parametrize("column", ["crashes", "sentences", "bytes"])
def test_zero_columns(report, column):
    _, r = report
    assert r["rows"]["total"][column] == 0, {f: n for f, n in r["notes"].items() if n}


def test_no_protected_token_edited(report):
    p, r = report
    assert r["rows"]["total"]["protected"] == 0, {f: n[:3] for f, n in r["notes"].items() if n}
    assert p.returncode == 0


# Minimal reproducers: a protected span in which the shipped default edits a word.
SPUN = "The men stated the navy know-how was extra superior."


@pytest.fixture(scope="module")
def model():
    from despin import Despinner

    return Despinner.from_pretrained()


def _protected_edits(model, text: str, protected: str) -> list:
    """The edits that fall inside the first occurrence of ``protected`` in ``text``, restored
    with the spun sentence as a paragraph of its own after it: a control that must be edited,
    so that a model that edits nothing cannot pass."""
    a = text.index(protected)
    b = a + len(protected)
    head = text.rstrip("\n") + "\n\n"
    edits = model.restore_with_edits(head + SPUN + "\n").edits
    assert any(e.start >= len(head) for e in edits), "the control paragraph was not restored"
    return [e for e in edits if a <= e.start and e.end <= b]


def test_single_sentence_spans_are_protected(model):
    """Control: the same spans within one sentence and one line are left alone."""
    for text, span in [(f'<a title="{SPUN[:-1]}">x</a> ok.', f'"{SPUN[:-1]}"'),
                       (f"<!-- {SPUN} --> ok.", f"<!-- {SPUN} -->"),
                       (f"Use `{SPUN[:-1]}` in code.", f"`{SPUN[:-1]}`"),
                       (f"He said “{SPUN[:-1]}” today.", f"“{SPUN[:-1]}”")]:
        assert _protected_edits(model, text, span) == [], text
    assert model.restore(SPUN) != SPUN  # and the sentence itself is restored


@pytest.mark.parametrize("text,span", [
    ('<a title="Stated. The navy know-how was extra superior.">x</a>',
     '<a title="Stated. The navy know-how was extra superior.">'),
    ("<!-- The men stated. The navy know-how was extra superior. -->",
     "<!-- The men stated. The navy know-how was extra superior. -->"),
    ("Use `The men stated. The navy know-how was extra superior.` in code.",
     "`The men stated. The navy know-how was extra superior.`"),
    ("“We stated it. The navy know-how was extra superior.” He left.",
     "“We stated it. The navy know-how was extra superior.”"),
])
def test_span_across_a_sentence_end(model, text, span):
    assert _protected_edits(model, text, span) == []


@pytest.mark.parametrize("text,span", [
    (f"<!--\n{SPUN}\n-->\n", f"<!--\n{SPUN}\n-->"),
    (f"<a href=\"/x\"\n   title='{SPUN[:-1]}'>link</a>\n", f"<a href=\"/x\"\n   title='{SPUN[:-1]}'>"),
])
def test_span_across_a_line_break(model, text, span):
    assert _protected_edits(model, text, span) == []


@pytest.mark.parametrize("text,span", [
    ('See [the report](/the-navy/know-how "The report") now. The men stated it.',
     '(/the-navy/know-how "The report")'),
    ("[1]: /navy/know-how 'The navy know-how was extra superior'\n",
     "/navy/know-how 'The navy know-how was extra superior'"),
])
def test_link_target_with_title(model, text, span):
    assert _protected_edits(model, text, span) == []


def test_inline_code_element(model):
    text = f"Use <code>{SPUN[:-1]}</code> here."
    assert _protected_edits(model, text, f"<code>{SPUN[:-1]}</code>") == []
