"""Whole documents through the shipped default: byte identity outside edits, protected markup,
line streaming — properties checked on generated documents (hypothesis)."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from despin.edits import Restoration
from despin.numbers import number_value
from despin.text import VerbatimBlocks, protected_mask, tokenize

_MODEL = None


def model():
    """The shipped default, loaded once for every example."""
    global _MODEL
    if _MODEL is None:
        from despin import Despinner

        _MODEL = Despinner.from_pretrained()
    return _MODEL


# Words the default edits in context ("stated" → "said", "know-how" → "technology"), plain
# words, and pieces of markup, numbers, quotes, emoji and odd whitespace around them.
SPUN = ["stated", "navy", "know-how", "extra", "superior", "uncommon", "second", "want",
        "assembly", "publics", "moreover", "kingdom", "authorities"]
PLAIN = ["the", "men", "said", "it", "was", "a", "of", "and", "report", "on", "Tuesday",
         "government", "new", "people"]
MARKUP = ['<a href="http://example.com/uncommon-second" title="navy know-how">', "</a>",
          "<b>", "</b>", "**", "`extra superior`", "[link](http://x.org/stated)", "&amp;",
          "<!-- stated uncommon -->", "“navy know-how”", '"extra want"', "# ", "- ", "> ",
          "😀", "👍🏽", "2024-05-01", "$3.5m", "19%", "e-mail@example.org", "—", "…", "’s",
          "Mr. Kim", "Vladimir V. Putin"]
SPACE = [" ", " ", " ", "  ", "\t", "\u00a0", "\u2009"]
BREAK = ["\n", "\n\n", "\r\n", "\n   \n"]

piece = st.one_of(st.sampled_from(SPUN), st.sampled_from(PLAIN), st.sampled_from(MARKUP),
                  st.text(alphabet=st.characters(codec="utf-8",
                                                 exclude_categories=("Cs", "Cc")), max_size=4))
sentence = st.lists(st.tuples(piece, st.sampled_from(SPACE)), min_size=1, max_size=14).map(
    lambda parts: "".join(p + s for p, s in parts).strip() + ".")
document = st.lists(st.tuples(sentence, st.sampled_from([" "] * 3 + BREAK)), min_size=1,
                    max_size=6).map(lambda parts: "".join(s + b for s, b in parts))

# a Markdown code span may go over lines but never over a blank line (CommonMark: a blank
# line ends the paragraph); the library's rule is despin.text.VerbatimBlocks
_BR = r"(?:\r\n|\r(?!\n)|[\n\u2028\u2029])"
_BLANK_LINE = _BR + r"[^\S\n\r\u2028\u2029]*" + _BR
_PROTECTED_RE = re.compile(r"<[^<>]*>|`(?:(?!" + _BLANK_LINE + r")[^`])*`|\]\([^)]*\)|“[^”]*”"
                           r"|\"[^\"\n]*\"|&\w+;|\S*\d\S*")


def check_bytes(r: Restoration) -> None:
    """Every character outside the edits is identical, edits fit both texts, in order."""
    out, pos, opos = r.text, 0, 0
    for e in r.edits:
        assert r.input[e.start:e.end] == e.spun and out[e.out_start:e.out_end] == e.restored
        assert r.input[pos:e.start] == out[opos:e.out_start]
        assert "\n" not in e.spun and "\r" not in e.spun
        pos, opos = e.end, e.out_end
    assert r.input[pos:] == out[opos:]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document)
def test_bytes_outside_edits_are_identical(text):
    r = model().restore_with_edits(text)
    check_bytes(r)
    assert r.text.count("\n") == text.count("\n") and r.text.count("\r") == text.count("\r")
    # nothing inside markup, code, quotes or a token with a digit is edited, except a numeral
    # restored as the number word of its own value ("9" -> "nine")
    for m in _PROTECTED_RE.finditer(text):
        for e in r.edits:
            if e.start < m.end() and m.start() < e.end:
                assert e.spun.isascii() and e.spun.isdigit(), (m, e)
                assert number_value(e.restored) == int(e.spun), (m, e)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document)
def test_lines_stream_to_the_same_result(text):
    whole = model().restore_with_edits(text)
    lines = list(model().restore_lines(text.splitlines(keepends=True)))
    assert [r.input for r in lines] == text.splitlines(keepends=True)
    assert "".join(r.text for r in lines) == whole.text


def test_restored_inside_markup_kept_outside():
    text = ('<p class="lead">The men stated the navy know-how was extra superior.</p>\n'
            'See `extra superior` and <a href="/stated">this</a>.\n')
    r = model().restore_with_edits(text)
    check_bytes(r)
    first = r.text.splitlines(keepends=True)[0]
    assert first.startswith('<p class="lead">The men said the ') and first.endswith(
        ' superior.</p>\n')
    assert r.text.endswith('See `extra superior` and <a href="/stated">this</a>.\n')


def test_code_fences_and_pre_blocks_pass_through():
    spun = "The men stated the navy know-how was extra superior.\n"
    text = ("```\n" + spun + "```\n" + "<pre>\n" + spun + "</pre>\n" + "~~~ python\n" + spun
            + "~~~\n" + spun)
    out = model().restore(text)
    restored = model().restore(spun)
    assert restored.startswith("The men said ")
    assert out == text[:-len(spun)] + restored


def test_verbatim_blocks_states():
    v = VerbatimBlocks()
    lines = ["a\n", "```py\n", "x\n", "```\n", "b <pre class='x'>\n", "c\n", "</PRE>\n",
             "d <code>e</code>\n", "<script>\n", "f\n", "</script>\n", "g\n"]
    assert [v.inside(l) for l in lines] == [False, True, True, True, True, True, True, False,
                                           True, True, True, False]


@pytest.mark.parametrize("text,kept", [
    ('Go to <a href="http://x.com" title="rare moment">the big house</a> now.',
     {"a", "href", "http", "x", "com", "title", "rare", "moment"}),
    ("Use `rare moment` and &amp; then [the link](http://y.org/rare).", {"rare", "moment", "amp", "y"}),
    ("A note <!-- rare moment --> here.", {"rare", "moment"}),
])
def test_markup_is_protected(text, kept):
    toks = tokenize(text)
    mask = protected_mask(text, toks)
    assert kept <= {t.text for t, m in zip(toks, mask) if m}
    assert not any(m for t, m in zip(toks, mask) if t.text in {"big", "house", "then", "here",
                                                                "now", "note"})


@pytest.mark.parametrize("text", ["", "   ", "\n\n", " \t\n \r\n", "\u00a0"])
def test_blank_text_is_returned_unchanged(text):
    r = model().restore_with_edits(text)
    assert r.text == text and r.edits == []


@pytest.mark.parametrize("bad", [None, b"bytes", 3, 2.5, [None], ["ok", b"bytes"], {"a": 1}])
def test_bad_input_is_a_type_error(bad):
    with pytest.raises(TypeError, match="str"):
        model().restore_with_edits(bad)
    with pytest.raises(TypeError, match="str"):
        model().restore(bad)


@pytest.mark.parametrize("bad", [None, b"line\n", 3, "one str", [3], ["fine\n", None]])
def test_restore_lines_wants_an_iterable_of_str(bad):
    with pytest.raises(TypeError):
        list(model().restore_lines(bad))


@pytest.mark.parametrize("text", [
    "Der Mann sagte, dass die Regierung morgen eine neue Entscheidung treffen werde.",
    "El presidente dijo que el gobierno anunciará nuevas medidas la próxima semana.",
    "def restore(self, text: str) -> str:\n    return self.model(text).strip()\n",
    "| year | sales | growth |\n|---|---|---|\n| 2021 | 1,204 | 3.5% |\n| 2022 | 1,377 | 14.4% |\n",
    "北京是中国的首都。东京是日本的首都。",
])
def test_not_english_code_and_tables_left_nearly_alone(text):
    r = model().restore_with_edits(text)
    check_bytes(r)
    assert len(r.edits) <= max(1, len(tokenize(text)) // 20)


@pytest.mark.parametrize("foreign", [
    "Le repas était extra et le service était extra aussi.",
    "Der Marinechef sagte, dass die Technik extra überlegen sei und die Regierung zustimmt.",
    "El jefe dijo que la tecnología naval era extra superior y que el gobierno está de acuerdo.",
    "Il capo ha detto che la tecnologia è extra superiore e che il governo è pronto.",
    "De baas zei dat het een extra superieure technologie is en dat de regering akkoord is."])
def test_foreign_sentences_are_left_alone_and_not_read_as_spun(foreign):
    """A sentence in another language gets no English words ("le service était extra" had
    become "… more"), and spin detection does not read it; an English sentence beside it on
    the same line is restored and read as before."""
    from despin.language import is_foreign

    assert is_foreign(foreign)
    english = "The boss stated the navy know-how was extra superior."
    assert model().restore(foreign) == foreign
    r = model().restore_with_edits(f"{foreign} {english}")
    check_bytes(r)
    assert r.text == f"{foreign} {model().restore(english)}"
    assert all(e.start > len(foreign) for e in r.edits)
    assert [x.text for x in model().detect(f"{foreign} {english}").sentences] == [english]
    assert model().detect(foreign).sentences == []


def test_english_with_names_and_terms_is_english():
    """The function-word test never takes an English sentence for a foreign one: not one of
    the families' 22,750 test sentences was (checked when it was written), nor names such as
    "Le Monde", "Der Spiegel" or technical terms."""
    from despin.language import is_foreign

    for text in ["They visited Le Monde and Der Spiegel in the city.",
                 "Stratigraphy has three related subfields: lithostratigraphy and more.",
                 "Greater Tehran includes Eslamshahr, Shahriar, Qods, Malard and Golestan.",
                 "The die is cast, said the man.", "a uncommon second of mutual want",
                 "Wang et al. (2018) and Li et al. (2019) used extra superior methods.",
                 '"Ich bin ein Berliner," Kennedy stated proudly.',
                 '"Le service est très bon," the boss stated.', "Pour gently; pour slowly.",
                 "Thousands die yearly; many more die untreated.",
                 "Van der Waals et al. showed that the force is small."]:
        assert not is_foreign(text), text
    # in decomposed Unicode and in capitals a foreign sentence is still foreign
    import unicodedata

    french = "Le service était extra et le repas était très bon."
    assert is_foreign(unicodedata.normalize("NFD", french)) and is_foreign(french.upper())
    assert model().restore(french.upper()) == french.upper()


@pytest.mark.parametrize("caps,view", [
    ("THE MEN STATED THE NAVY KNOW-HOW WAS EXTRA SUPERIOR.",
     "The men stated the navy know-how was extra superior."),
    ("MR. PUTIN STATED IT.", "Mr. Putin stated it."),  # not a common word: kept a name
    ("The NATO summit.", None), ("USA TODAY", None), ("NOT ALL CAPS here.", None),
])
def test_uncased_view(caps, view):
    from despin.text import uncased

    assert uncased(caps) == view


def test_capitals_are_restored_in_capitals():
    caps = "THE MEN STATED THE NAVY KNOW-HOW WAS EXTRA SUPERIOR."
    lower = "The men stated the navy know-how was extra superior."
    r = model().restore_with_edits(caps + "\n" + lower + "\n")
    check_bytes(r)
    first, second = r.text.splitlines()
    assert second == model().restore(lower) and first == second.upper()
    assert all(e.spun.isupper() and e.restored.isupper() for e in r.edits if e.start < len(caps))


def test_a_code_span_over_two_lines_is_verbatim():
    """CommonMark code spans may cross a line break (found by the property test above). A
    backtick left open (here the last one of the third line, and the stray one) keeps the
    lines verbatim until the next backtick or the paragraph's end: never an edit inside code."""
    v = VerbatimBlocks()
    lines = ["a\n", "` stated.\n", "`extra` x\n", "The men stated it.\n", "\n", "free\n",
             "one ` stray\n", "line\n", "\n", "free\n"]
    assert [v.inside(l) for l in lines] == [False] + [True] * 4 + [False] + [True] * 3 + [False]
    text = "` stated.\n`extra superior`. "
    assert model().restore(text) == text


def test_a_block_closed_and_reopened_on_one_line():
    """"--><!--" closes one comment and opens the next (found by benchmarks/reliability.py)."""
    v = VerbatimBlocks()
    lines = ["<code>x</code><!--\n", "That day.\n", "--><!--\n", "The x.\n", "-->\n", "free\n"]
    assert [v.inside(l) for l in lines] == [True] * 5 + [False]
    text = "<!--\nThe men stated it.\n--><!--\nThe men stated the navy know-how.\n-->\n"
    assert model().restore(text) == text


SPUN_LINE = "the men stated the navy know-how was extra superior"


@pytest.mark.parametrize("address", [
    "github.com/extra/superior", "example.com/stated", "docs.python.org/3/library/extra.html",
    "ftp://x.org/extra/superior.zip", "file:///home/extra/superior.txt",
    "C:\\Users\\extra\\superior.txt", "git@github.com:extra/superior.git",
    "s3://bucket/extra/superior", "~/extra/superior.txt", "./extra/superior",
    "/usr/share/extra/superior", "@stated", "@extra",
])
def test_addresses_paths_and_handles_pass_through(address):
    """Any scheme's URL, a bare domain's path, a file path or an @handle keeps its words, while
    the same spun words around it are restored."""
    text = f"See {address} now, {SPUN_LINE}."
    r = model().restore_with_edits(text)
    assert address in r.text and r.edits
    assert all(e.end <= text.index(address) or e.start >= text.index(address) + len(address)
               for e in r.edits)


def test_abbreviations_and_missing_spaces_are_not_addresses():
    from despin.text import protected_spans

    for text in ["e.g. the U.S. and i.e. this", "and/or he/she 24/7", "the end.The start",
                 "Mr. Smith went to Washington.", "a.m. and p.m. times", "income.final yr",
                 "kitchen.stated the man", "etc.etc", "10.30am and v1.2.3 and $3.50",
                 "#python :-)"]:
        assert protected_spans(text) == [], text
    # every country code is a top-level domain (a missing space before "it" is protected too)
    text = "see example.com, bbc.co.uk, amazon.in, news.stated.me and stated.gg now"
    assert [text[a:b] for a, b in protected_spans(text)] == [
        "example.com", "bbc.co.uk", "amazon.in", "news.stated.me", "stated.gg"]
    r = model().restore("The men reported a decline in income.final yr was bad.")
    assert "last year" in r


def test_protection_patterns_take_linear_time():
    """Adversarial runs of the characters the address and quotation patterns repeat over: a
    quadratic pattern takes seconds on them (the scheme pattern took 4.3 s on "a." * 25,000,
    the code-span pattern 33 s on 100,000 backticks, a first »…« pattern 33 s on "»a " *
    33,333)."""
    import time

    from despin.text import QuoteCarry, protected_spans

    texts = ["a." * 25000, "a-" * 25000, "a+" * 25000, "./" * 25000, "a@" * 25000,
             '"' * 50000, '"a" ' * 12500, "“" * 50000, "„" * 50000, "«" * 50000,
             "“a”" * 16000 + "„", "„“" * 25000, "»a " * 33333, "”a " * 33333, "``a " * 25000,
             "＂a " * 33333, "‟a " * 33333, "`" * 100000,
             "".join("`" * (k % 17 + 1) + "a " for k in range(20000))]

    def seconds(scale: int) -> float:
        start = time.perf_counter()
        for text in texts:
            protected_spans(text * scale)
            QuoteCarry().spans(text * scale)
        return time.perf_counter() - start

    # twice the text takes twice the time when linear (four times when quadratic): a ratio
    # holds on a loaded machine where a bound in seconds did not (4.07 s beside two jobs)
    once, twice = seconds(1), seconds(2)
    assert twice < 3.0 * once + 0.3, (once, twice)  # ~0.6 s and ~1.2 s alone


@pytest.mark.parametrize("quote", [
    ('He said: "The men stated the navy know-how\nwas extra superior," and left.\n'),
    ("He said: “The men stated the navy know-how\r\nwas extra superior,” and left.\r\n"),
    ("He said: «The men stated the navy know-how\nthe men stated\nwas extra superior» then.\n"),
])
def test_a_quotation_over_line_breaks_passes_through(quote):
    assert model().restore(quote) == quote
    # a blank line ends the paragraph, and with it a quotation left open
    after = quote.split("\n")[0] + "\n\nThe men stated it.\n"
    assert model().restore(after).endswith("\n\nThe men said it.\n")


def test_curly_quotations_are_found_as_the_pattern_finds_them():
    """despin.text._quotations (a linear scan) gives the spans that the regex
    “[^”]*”|«[^»]*»|„[^“”]*[“”] gives (quadratic on unmatched openers), with those of the
    straight and other quotation patterns, on random strings of quote marks."""
    import random

    from despin.text import _OTHER_QUOTES_RE, _STRAIGHT_RE, _quotations

    pattern = re.compile(r"“[^”]*”|«[^»]*»|„[^“”]*[“”]")
    rng = random.Random(0)
    for _ in range(5000):
        text = "".join(rng.choice("“”«»„‟＂`'\"ab ") for _ in range(rng.randint(0, 40)))
        expected = [m.span() for r in (pattern, _STRAIGHT_RE, _OTHER_QUOTES_RE)
                    for m in r.finditer(text)]
        assert sorted(_quotations(text)) == sorted(expected), text


@pytest.mark.parametrize("quote", ["»the boss stated the navy know-how«",
                                   "”the boss stated the navy know-how”",
                                   "‟the boss stated the navy know-how”",
                                   "＂the boss stated the navy know-how＂",
                                   "``the boss stated the navy know-how''"])
def test_other_quotation_marks_are_protected(quote):
    """German, Swedish, fullwidth and LaTeX quotations pass through as “…” does; a closing
    ” or » before a space opens nothing, so English and French text around it is restored."""
    text = f"He wrote {quote}, and the men stated the navy know-how was extra superior."
    r = model().restore_with_edits(text)
    check_bytes(r)
    assert r.text.startswith(f"He wrote {quote}, and the men said the navy")
    assert all(e.start >= len(f"He wrote {quote}") for e in r.edits)
    after = ("was extra superior,” the boss stated the navy know-how was extra superior. "
             "« Un texte » the men stated the navy know-how was extra superior.")
    assert model().restore(after).count(" said the navy") == 2
    # an inch mark, a code span and a two-inch mark open nothing either
    for text in ["The 55＂ TV, the boss stated, was extra superior next to the 40＂ one.",
                 "Run ``make`` first. The boss stated the 12'' navy know-how was extra superior.",
                 "Set ``sep`` as the boss stated; the navy know-how was extra superior."]:
        assert " said" in model().restore(text), text


def test_quotation_openers_over_lines():
    """A straight quote opens a quotation over lines after any non-word character (a colon,
    a tag, a bracket), not after a word or a digit; a nested quotation that the line closes
    leaves nothing open; a stray inch mark earlier on the line pairs with nothing."""
    from despin.text import QuoteCarry

    for first, opened in [('He said:"Officers stated the hearth\n', True),
                          ('<p>"Officers stated the hearth\n', True),
                          ('The TV is 55" wide. He said "Officers stated the hearth\n', True),
                          ('He said “Officers stated “the hearth” began.”\n', False),
                          ('It is 55" wide and 3" deep\n', False)]:
        q = QuoteCarry()
        q.spans(first)
        assert bool(q.spans("began within the kitchen.\n")) == opened, first


def test_a_stray_inch_mark_or_quoted_quote_mark_silences_nothing():
    spun = "Officers stated the navy know-how was extra superior.\n"
    for first in ['The TV is 55" wide.\n', 'Type `"` to start.\n', 'See https://x.com/?q="a\n',
                  "Pears  \"\n"]:
        out = model().restore(first + spun + spun)
        assert out == first + model().restore(spun) * 2, first
    # a quotation never closed is let go after MAX_QUOTE_LINES lines
    from despin.text import MAX_QUOTE_LINES

    text = 'He said: "never closed\n' + spun * (MAX_QUOTE_LINES + 2)
    lines = model().restore(text).splitlines(keepends=True)
    assert lines[1:MAX_QUOTE_LINES + 1] == [spun] * MAX_QUOTE_LINES
    assert lines[-1] == model().restore(spun)


def test_quote_carry_states():
    from despin.text import QuoteCarry

    q = QuoteCarry()
    lines = ['He said: "The men\n', 'was superior," and left. "Yes\n', "\n",
             'a "closed" one\n', "“open\n", "still\n", "end” ok\n"]
    assert [q.spans(line) for line in lines] == [
        [(9, 17)], [(0, 14), (25, 29)], [], [], [(0, 5)], [(0, 5)], [(0, 4)]]


def test_nested_code_fences_follow_commonmark():
    """A fence closes only on a line of the same character, at least as long, then spaces: a
    shorter fence inside a longer one, or a fence with text after it, is content."""
    spun = SPUN_LINE + "\n"
    for text in ["````md\n```\n" + spun + "```\n````\n", "~~~~\n~~~\n" + spun + "~~~\n~~~~\n",
                 "```\n```  not a close\n" + spun + "```\n"]:
        out = model().restore(text + spun)
        assert out.startswith(text) and out[len(text):] == model().restore(spun) != spun
    v = VerbatimBlocks()
    assert [v.inside(l) for l in ["````\n", "```\n", "x\n", "````  \n", "y\n"]] == [
        True, True, True, True, False]
    for end in ["\r", "\r\n", "\u2028"]:  # every line break restore() cuts lines at
        text = f"```{end}{SPUN_LINE}{end}```{end}"
        out = model().restore(text + SPUN_LINE + end)
        assert out.startswith(text) and out[len(text):] != SPUN_LINE + end, repr(end)


@pytest.mark.parametrize("mark,close", [("---", "---"), ("---", "..."), ("+++", "+++")])
def test_front_matter_passes_through(mark, close):
    """A document's front matter (YAML or TOML from its first line) is data: its keys and
    values are never edited ("author: staff writer" had become "writer: staff writer"),
    whether the document is restored whole or streamed by line; the body is restored."""
    sep = " = " if mark == "+++" else ": "
    head = (f"{mark}\nauthor{sep}staff writer\ntitle{sep}Navy know-how\n"
            f"tags{sep}[extra, superior]\n{close}\n")
    body = "The boss stated the navy know-how was extra superior.\n"
    r = model().restore_with_edits(head + body)
    check_bytes(r)
    assert r.text.startswith(head) and all(e.start >= len(head) for e in r.edits)
    assert r.text[len(head):] == model().restore(body) != body
    streamed = model().restore_lines((head + body).splitlines(keepends=True))
    assert "".join(x.text for x in streamed) == r.text
    # a "---" that is not the first line is a rule (or a Setext underline), not front matter
    later = body + "---\n" + body
    assert model().restore(later) == model().restore(body) + "---\n" + model().restore(body)
    # nor is a first-line rule with prose after it, nor front matter left open by prose
    assert model().restore(f"{mark}\n{body}\n{body}") == \
        f"{mark}\n{model().restore(body)}\n{model().restore(body)}"
    unclosed = f"{mark}\nauthor{sep}staff writer\n{body}"
    assert model().restore(unclosed) == f"{mark}\nauthor{sep}staff writer\n{model().restore(body)}"


def test_decomposed_accents_stay_with_their_letters():
    """Text in decomposed Unicode (NFD: an accent is a combining mark after its letter) is
    tokenized as whole words, so an edit never splits a mark off its letter ("extra\u0301"
    had become "more\u0301"), and NFD and NFC text get the same edits of their other words."""
    import unicodedata

    nfc = "The boss stated the navy know-how was extrá superior and the café was extra good."
    nfd = unicodedata.normalize("NFD", nfc)
    assert [t.text for t in tokenize(nfd)] == [unicodedata.normalize("NFD", t.text)
                                               for t in tokenize(nfc)]
    r, ref = model().restore_with_edits(nfd), model().restore_with_edits(nfc)
    check_bytes(r)
    assert [(e.spun, e.restored) for e in r.edits] == [(e.spun, e.restored) for e in ref.edits]
    assert all(not unicodedata.combining(r.text[e.out_end:e.out_end + 1]) for e in r.edits)
    # the sentence is read composed: the same edits, at the offsets of the decomposed text,
    # and the same spin detection
    assert [r.text.count(s) for s in ("extra\u0301", "cafe\u0301")] == [1, 1]
    assert all(e.spun == nfd[e.start:e.end] for e in r.edits)
    assert model().detect(nfd).log_odds == pytest.approx(model().detect(nfc).log_odds)
