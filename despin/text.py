"""Text segmentation shared by the spinner, the restorer and the metrics.

Every function here works on character offsets into the text it is given, so that
restoration can be reassembled byte-for-byte outside the edited spans.
"""
from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "Token",
    "tokenize",
    "words",
    "split_paragraphs",
    "split_sentences",
    "sentence_spans",
    "MAX_UNIT_TOKENS",
    "protected_mask",
    "match_case",
    "is_word",
    "VerbatimBlocks",
    "QuoteCarry",
    "LineReader",
    "uncased",
    "Composed",
    "composed",
    "protected_spans",
]



def _mark_class() -> str:
    """A regex class of every combining mark (Unicode categories Mn, Mc, Me), as ranges."""
    marks = [c for c in (*range(0x20000), *range(0xE0000, 0xE1000))  # none beyond these
             if unicodedata.category(chr(c)) in ("Mn", "Mc", "Me")]
    ranges, start = [], marks[0]
    for prev, cur in zip(marks, marks[1:] + [None]):
        if cur != prev + 1:
            ranges.append(f"\\U{start:08x}" + (f"-\\U{prev:08x}" if prev != start else ""))
            start = cur
    return "[" + "".join(ranges) + "]"


# A word (letters/digits, each with the combining marks after it: decomposed "extra\u0301" is
# one word, and so is Devanagari, whose vowel signs are marks; joined by inner hyphens or
# apostrophes) or one punctuation mark.
_LETTERS = r"(?:\w+" + _mark_class() + "*)+"
_WORD = rf"{_LETTERS}(?:[-'’]{_LETTERS})*"
_TOKEN_RE = re.compile(_WORD + r"|[^\w\s]")
# Addresses and paths: a URL of any scheme ("ftp://", "s3://", "file:///"), "www.", a domain
# with its path ("github.com/extra/x"), a bare domain of a country code or a common generic
# top-level domain ("example.com", "amazon.in"; not "income.final", a missing space: a missing
# space before a two-letter word is protected too, which only keeps two words as they are), an
# e-mail address or
# "user@host:path", a file path ("/usr/share/x", "~/x", "./x", "C:\\x"), and an @handle.
# Every repetition is bounded or anchored by its lookbehind, so matching stays linear.
_TLDS = ("com|org|net|edu|gov|mil|int|info|biz|xyz|app|dev|online|site|tech|news|blog|shop|"
         "store|cloud|[a-z]{2}")  # [a-z]{2}: every country code ("amazon.in", "bbc.co.uk")
_URL_RE = re.compile(
    r"\b[a-z][a-z0-9+.-]{0,31}://\S*[\w/]|\bwww\.\S+[\w/]"
    r"|(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+(?::\S*[\w/])?"
    r"|(?<![\w@./-])(?:[A-Za-z0-9-]+\.)+(?-i:[a-z]{2,24})/\S*[\w/]"
    rf"|(?<![\w@./-])(?:[A-Za-z0-9-]+\.)+(?-i:{_TLDS})\b(?![\w@.-]\w)"
    r"|(?<![\w/.~])(?:~|\.\.?)/[\w.-]+(?:/[\w.-]*)*|(?<![\w/.])/[\w.-]+(?:/[\w.-]+)+/?"
    r"|\b[A-Za-z]:\\\S*|(?<![\w@])@\w+",
    re.I)
# Double quotes only: ’ doubles as an apostrophe ("Korea’s") and cannot delimit quotes.
# Quotations: “…”, «…», „…“ (or „…”), read by _quotations, which scans each kind once (a regex
# retried at each of many unmatched openers takes quadratic time); and, by patterns whose scan
# stops at the next mark of their kind (so linear), "…" on one line and fullwidth ＂…＂, where
# the quote opens only after no word character and before a non-space (not the inch mark of
# '55" wide') and closes only after a non-space, ‟…” likewise, LaTeX ``…'' (opening before a
# word and after no word or backtick, nothing between but text: not a Markdown or
# reStructuredText ``code`` span), and ”…” (Swedish, Finnish) and »…« (German, Danish), whose
# opening mark closes other quotations ("superior,” he said"), so that it opens one only
# before a word and after no word or punctuation mark.
_STRAIGHT_RE = re.compile(r'(?<!\w)"(?=\S)[^"\n]*(?<=\S)"')
_OTHER_QUOTES_RE = re.compile(
    r"(?<!\w)＂(?=\S)[^＂\n]*(?<=\S)＂"
    r"|(?<!\w)‟(?=\S)[^‟”\n]*”"
    r"|(?<![\w`])``(?=\w)[^`\n]*?(?<=\S)''"
    r"|(?<![\w,.;:!?])(?:”(?=\w)[^”\n]*(?<=\S)”|»(?=\w)[^«»\n]*(?<=\S)«)")
_CURLY: dict[str, tuple[str, ...]] = {"“": ("”",), "«": ("»",), "„": ("“", "”")}  # → closers


def _quotations(text: str, pos: int = 0) -> list[tuple[int, int]]:
    """Spans of the quotations of ``text[pos:]`` that close (see above): those read by
    patterns, then the curly and angle ones, each from the leftmost opener to its first closer. Each
    mark's next position is looked up once per time it is passed, so this is linear."""
    out = [m.span() for r in (_STRAIGHT_RE, _OTHER_QUOTES_RE) for m in r.finditer(text, pos)]
    nxt: dict[str, int] = {}  # mark → its next position seen (-1: none after it)
    dead: set[str] = set()  # openers with no closer after them

    def find(mark: str, at: int) -> int:  # text.find(mark, at), remembered
        seen = nxt.get(mark, -2)
        if seen != -1 and seen < at:
            nxt[mark] = seen = text.find(mark, at)
        return seen

    at = pos
    while True:
        opens = [(i, o) for o in _CURLY if o not in dead and (i := find(o, at)) >= 0]
        if not opens:
            return out
        i, o = min(opens)
        end = min(((j, j + len(c)) for c in _CURLY[o] if (j := find(c, i + len(o))) >= 0),
                  default=None)
        if end is None:  # no closer after this opener, so none after a later one of its kind
            dead.add(o)
            at = i + 1
            continue
        out.append((i, end[1]))
        at = end[1]
# Markup and code a restorer must not touch: HTML/XML tags with their attributes, comments,
# character references ("&amp;"), Markdown code spans, and Markdown link targets "](…)".
_MARKUP_RE = re.compile(
    r"<(code|kbd|samp|var|tt|pre|script|style)\b[^>]*>.*?</\1\s*>"  # inline code elements
    r"|<!--.*?-->|</?[A-Za-z][^<>]*>|&#?\w+;"  # tags with attributes, comments, entities
    r"|(?<!`)(`{1,16})(?!`).*?(?<!`)\2(?!`)"  # Markdown code spans (their marks' runs
    # match in length, CommonMark; a run is tried once, from its start: linear)
    r"|\]\([^()\n]*(?:\([^()\n]*\)[^()\n]*)*\)"  # link targets "](url "title")"
    r"|(?m:^[ ]{0,3}\[[^\]\n]+\]:[^\n]*)",  # reference-link definitions "[1]: url 'title'"
    re.S | re.I)
# Lines between these open and close a verbatim block: Markdown code fences, HTML <pre>,
# <code>, <script> and <style> blocks, comments and tags that go on over lines (see
# VerbatimBlocks).
_FENCE_RE = re.compile(r"^[ ]{0,3}(`{3,}|~{3,})")
# what ends a line for str.splitlines (which restore() cuts lines at)
_LINE_END = "[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"
_BLOCK_OPEN_RE = re.compile(r"<(pre|code|script|style|textarea)\b[^>]*>", re.I)
_OPEN_COMMENT_RE = re.compile(r"<!--(?!.*-->)", re.S)
_OPEN_TAG_RE = re.compile(r"<[A-Za-z][^<>]*$")
# the end of an inline code span that a line leaves open: a backtick, or the paragraph's end (a
# blank line), after which CommonMark reads the opening backtick as a literal one
_CODE_SPAN_END_RE = re.compile(r"`|^\s*$")
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "gen", "gov", "sen",
    "rep", "col", "lt", "sgt", "capt", "corp", "inc", "ltd", "co", "no", "fig", "al", "e.g",
    "i.e", "u.s", "u.k", "u.n", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec", "mt", "ft", "approx", "dept", "est", "vol",
}


@dataclass(frozen=True)
class Token:
    """A token and its character offsets ``[start, end)`` in the text it came from."""

    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into word and punctuation tokens with offsets."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def is_word(token: str) -> bool:
    """True for a token made of letters (hyphens/apostrophes inside allowed), no digits."""
    return token[:1].isalpha() and not any(c.isdigit() for c in token)


def words(text: str) -> list[str]:
    """The token strings of ``text`` (words and punctuation), as the metrics count them."""
    return [t.text for t in tokenize(text)]


def split_paragraphs(text: str) -> list[tuple[int, int]]:
    """Offsets of the non-blank lines/paragraphs of ``text`` (split at newlines)."""
    spans, pos = [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if body.strip():
            lead = len(body) - len(body.lstrip())
            spans.append((pos + lead, pos + len(body.rstrip())))
        pos += len(line)
    return spans


_EMOJI = "\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff\ufe0f\u200d"
# an end mark closes a sentence before a capital or digit, or before a "<" or "`" that opens a
# protected span (markup or a code span, as protected_spans finds them: "…in May. <!-- draft
# --> The…", "…to run. `make test` builds…"): text that no spinner touches starts a unit of its
# own rather than riding on the sentence before it as its context
_SENTENCE_END_RE = re.compile(r"(?<![.!?…])[.!?…]+[\"”’')\]]*"
                              rf"(?:\s*[{_EMOJI}]+)*"
                              r"(?=\s+(?:[\"“‘(\[]?[A-Z0-9]|(?P<opener>[<`])))")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Offsets of the sentences in ``text[start:end]`` (punctuation-based, abbreviation-aware;
    never cut inside a :func:`protected_spans` span). An end mark ends a sentence before a
    capital or digit, or before a tag, HTML comment or code span that protected_spans finds."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    sent_start = start
    # no cut inside a quotation, a tag, a code span or a link: it stays in one sentence
    keep = protected_spans(text[start:end])
    opens = {a for a, _ in keep}
    # (?<!…): a match starts where a run of end marks does, not inside it (linear time); emoji
    # after the end marks ("Great news! 🎉 The…") end the sentence with them
    for m in _SENTENCE_END_RE.finditer(text[start:end]):
        if any(a < m.end() < b for a, b in keep) or (m.group("opener")
                                                      and m.start("opener") not in opens):
            continue
        cut = start + m.end()
        if text[cut - 1] == "." or text[start + m.start()] == ".":
            before = text[sent_start:start + m.start()].split()
            last = before[-1].lower().rstrip(".") if before else ""
            # "Mr." / "U.S." / an initial like "V." do not end a sentence.
            if last.lstrip("(\"“") in _ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
                continue
        spans.append((sent_start, cut))
        sent_start = cut
        while sent_start < end and text[sent_start].isspace():
            sent_start += 1
    if text[sent_start:end].strip():
        spans.append((sent_start, len(text[:end].rstrip())))
    return spans


MAX_UNIT_TOKENS = 64
"""The most tokens (words and punctuation) in a unit of :func:`sentence_spans`: the fast
core's encoder reads 128 word pieces of a sentence, and a longer run-on sentence (a
transcript, a list) is restored in parts rather than left unread past that."""
_CUT_AFTER = frozenset({",", ";", ":", "—", "–", "-", ")"})


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of every sentence of every paragraph of ``text``: the units a restorer works on.
    A sentence of more than :data:`MAX_UNIT_TOKENS` tokens is cut into parts of at most that
    many, each cut after the last comma, semicolon, colon, dash or bracket in the second half
    of the part (else between two tokens); the whitespace at a cut belongs to no unit."""
    return [u for p in split_paragraphs(text) for s in split_sentences(text, *p)
            for u in _bounded(text, *s)]


def _bounded(text: str, a: int, b: int, most: int = MAX_UNIT_TOKENS) -> list[tuple[int, int]]:
    """``text[a:b]`` as one span, or cut into spans of at most ``most`` tokens (see
    :func:`sentence_spans`)."""
    if b - a <= most:  # a token takes at least one character: no need to count them
        return [(a, b)]
    toks = tokenize(text[a:b])
    if len(toks) <= most:
        return [(a, b)]
    out, start = [], 0
    while len(toks) - start > most:
        end = start + most
        cut = next((k + 1 for k in range(end - 1, start + most // 2, -1)
                    if toks[k].text in _CUT_AFTER), end)
        out.append((a + toks[start].start, a + toks[cut - 1].end))
        start = cut
    out.append((a + toks[start].start, b))
    return out


@lru_cache(maxsize=200_000)
def _common_lower(word: str) -> bool:
    """A capitalised word that is also an ordinary lowercase word ("Stocks", "Despite")."""
    from lemminflect import getAllLemmas
    from wordfreq import zipf_frequency

    low = word.lower()
    return bool(getAllLemmas(low)) or zipf_frequency(low, "en") >= 4.3


def protected_spans(text: str, pos: int = 0) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of ``text`` (from offset ``pos``) that no spinner or
    restorer may touch: quotations in double quotes (“…”, "…", «…», „…“), addresses (URLs,
    domains, e-mail, paths, @handles), HTML tags with their attributes, comments, character
    references and inline ``<code>``, ``<kbd>``, ``<pre>``, ``<script>``… elements, Markdown
    code spans, link targets (with titles) and reference-link definitions. Spans may
    overlap."""
    return _quotations(text, pos) + [m.span() for r in (_URL_RE, _MARKUP_RE)
                                     for m in r.finditer(text, pos)]


def protected_mask(text: str, tokens: list[Token] | None = None,
                   spans: list[tuple[int, int]] | None = None) -> list[bool]:
    """For each token: True when a spinner must leave it alone and a restorer must not edit it.

    Protected: text inside double quotation marks, URLs and e-mail addresses, HTML tags (their
    attributes too), comments and character references, Markdown code spans and link targets,
    any token with a digit (numbers, dates, "19-month"), and proper names — capitalised words inside a sentence,
    and sentence-initial capitalised words that are not common lowercase words or that start a
    run of capitalised words ("North Korea"). ``spans``: :func:`protected_spans` of ``text``,
    when the caller has them already.
    """
    tokens = tokenize(text) if tokens is None else tokens
    spans = protected_spans(text) if spans is None else spans
    mask = []
    for i, tok in enumerate(tokens):
        if any(s <= tok.start < e for s, e in spans) or any(c.isdigit() for c in tok.text):
            mask.append(True)
            continue
        if not tok.text[:1].isupper():
            mask.append(False)
            continue
        prev = tokens[i - 1].text if i else "."
        sentence_initial = prev in {".", "!", "?", "…", ":", "“", '"', "(", "—", "‘"}
        if prev == "." and i >= 2:
            before = tokens[i - 2].text
            # "Mr. Smith", "Vladimir V. Putin": a title or an initial, not a sentence end
            sentence_initial = not (before.lower() in _ABBREVIATIONS
                                    or (len(before) == 1 and before.isupper()))
        nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
        if not sentence_initial:
            mask.append(True)
        else:
            mask.append(not _common_lower(tok.text) or nxt[:1].isupper())
    return mask


def uncased(sentence: str) -> str | None:
    """A sentence written in capitals ("THE BOSS STATED IT."), as restorers read it: lower
    case, its first word capitalised, and words that are not ordinary lowercase words kept
    capitalised, so that names stay protected ("KIM" → "Kim"); character for character as long
    as ``sentence``, so offsets carry over. None when ``sentence`` is not in capitals (fewer
    than 3 words of 2+ letters, or any such word not all upper case) or lowering would change
    its length."""
    words = [t.text for t in tokenize(sentence) if is_word(t.text) and len(t.text) > 1]
    if len(words) < 3 or not all(w.isupper() for w in words):
        return None
    out, first = [], True
    for tok in re.split(f"({_WORD})", sentence):
        if tok and tok[0].isalpha():
            low = tok.lower()
            keep = first or (not _common_lower(tok.title()) and "-" not in tok)
            out.append(tok[0] + low[1:] if keep else low)
            first = False
        else:
            out.append(tok)
    view = "".join(out)
    return view if len(view) == len(sentence) else None


@dataclass(frozen=True)
class Composed:
    """A text in composed Unicode (:func:`composed`): ``text``, and for each of its character
    offsets 0..len(text) the offset in the original that it stands for (``offsets``, one
    longer than ``text``)."""

    text: str
    offsets: tuple[int, ...]

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The original's character span for the span ``text[start:end]``; a bound inside a
        cluster (a lone mark read as a token) widens to the cluster's."""
        o = self.offsets
        inside = 0 < end < len(o) - 1 and o[end] == o[end - 1]
        return o[start], o[bisect_right(o, o[end])] if inside else o[end]

    def view(self, start: int, end: int) -> tuple[int, int]:
        """The span of ``text`` that stands for the original's span ``[start, end)`` (the
        inverse of :meth:`original` on cluster boundaries; inside a cluster, the next one)."""
        return bisect_left(self.offsets, start), bisect_left(self.offsets, end)


def composed(text: str) -> Composed | None:
    """``text`` in composed Unicode (NFC), as restorers read it: decomposed text ("extra\u0301",
    an accent as a combining mark after its letter: NFD, as macOS file names and some editors
    write it) reads as its composed form, so that the candidate index, the encoder and the
    n-gram model see the words that composed text shows them. Normalised one cluster at a
    time (a character of combining class 0 and the marks after it), so that every cluster's
    offsets map back; None when ``text`` is already NFC (the common case, checked first)."""
    if unicodedata.is_normalized("NFC", text):
        return None
    parts, offsets, start = [], [], 0
    for k in range(1, len(text) + 1):
        if k == len(text) or not unicodedata.combining(text[k]):
            piece = unicodedata.normalize("NFC", text[start:k])
            parts.append(piece)
            offsets += [start] * len(piece)
            start = k
    return Composed("".join(parts), tuple(offsets) + (len(text),))


def match_case(template: str, word: str) -> str:
    """Give ``word`` the capitalisation pattern of ``template`` (lower, Title or UPPER)."""
    if len(template) > 1 and template.isupper():
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


class VerbatimBlocks:
    """Tracks, line by line, whether a document is inside a block that must pass through
    verbatim: a Markdown code fence (```` ``` ```` or ``~~~``), an HTML ``<pre>``,
    ``<code>``, ``<script>``, ``<style>`` or ``<textarea>`` element, an HTML comment, a tag
    whose attributes go on over lines, or a Markdown code span that does (a line with an odd
    number of backticks: verbatim until the next backtick or blank line), and a document's
    front matter (Jekyll, Hugo, Pandoc: YAML between ``---`` lines, or TOML between ``+++``
    lines, from the document's first line; its keys and values are data, not prose). Front
    matter is only what reads as such: its second line is a ``key:`` or ``key =`` line (else
    the first line was a rule, "---", and the text after it is prose), and a line of prose in
    it (not indented, no list dash, comment, table or key) ends it.

    ``inside(line)`` → True when ``line`` belongs to such a block (its opening and closing
    lines included); feed it every line of the document, in order."""

    def __init__(self) -> None:
        self._close: re.Pattern | None = None
        self._line = 0
        self._front: re.Pattern | None = None  # the closing line of front matter, while in it

    def inside(self, line: str) -> bool:
        """Whether ``line`` (the next line of the document) is verbatim; updates the state."""
        self._line += 1
        if self._line == 1:
            front = _FRONT_MATTER_RE.match(line)
            if front:  # front matter, or a rule: no prose either way
                mark = re.escape(front.group(1))
                ends = "|\\.\\.\\." if front.group(1) == "---" else ""  # YAML may end with "..."
                self._front = re.compile(f"^(?:{mark}{ends})[ \\t]*(?:\\r\\n|{_LINE_END})?\\Z")
                return True
        if self._front is not None:
            if self._front.match(line):
                self._front = None
                return True
            if _FRONT_KEY_RE.match(line) if self._line == 2 else _FRONT_LINE_RE.match(line):
                return True
            self._front = None  # prose: not front matter (or no longer)
        if self._close is not None:
            closed = self._close.search(line)
            if closed:  # the rest of the line may open the next block ("--><!--")
                self._close = None
                self.inside(line[closed.end():])
            return True
        fence = _FENCE_RE.match(line)
        if fence:  # CommonMark: closed by the same character, at least as many, then spaces
            mark = fence.group(1)
            self._close = re.compile(f"^[ ]{{0,3}}{re.escape(mark[0])}{{{len(mark)},}}[ \\t]*"
                                     f"(?:\\r\\n|{_LINE_END})?\\Z")
            return True
        if _OPEN_COMMENT_RE.search(line):  # "<!--" with no "-->" after it on the line
            self._close = re.compile("-->")
            return True
        if _OPEN_TAG_RE.search(line.rstrip("\r\n")):  # a tag whose attributes go on
            self._close = re.compile(">")
            return True
        opened = list(_BLOCK_OPEN_RE.finditer(line))
        if opened:
            tag = opened[-1].group(1)
            close = re.compile(f"</{tag}\\s*>", re.I)
            if not close.search(line, opened[-1].end()):
                self._close = close
                return True
        if line.count("`") % 2:
            self._close = _CODE_SPAN_END_RE
            return True
        return False


# front matter's lines: a key ("title: x", "title = x", "[params]" in TOML), and after it also
# an indented, blank, list, comment or key line
_FRONT_KEY_RE = re.compile(r"[ \t]*(?:[\w\"'.-]+[ \t]*[:=]|\[[^\]\n]+\][ \t]*$|#)")
_FRONT_LINE_RE = re.compile(r"(?:[ \t]|-|#|\[|$|[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029])"
                            r"|[\w\"'.-]+[ \t]*[:=]")
# a document's first line that opens front matter: "---" (YAML) or "+++" (TOML), a BOM allowed
_FRONT_MATTER_RE = re.compile(f"^\ufeff?(---|\\+\\+\\+)[ \t]*(?:\r\n|{_LINE_END})?\\Z")

# an opening double quote → the characters that close it
_QUOTE_CLOSE = {"“": "”", "«": "»", "„": "“”", "‟": "”", "＂": "＂", '"': '"'}
# (not ” or », which more often close a quotation opened before, nor LaTeX's ``)
# an opener a quotation may go on over a line break from: a curly or angle quote, or a straight,
# fullwidth or ‟ one that opens (after no word character, before a non-space): not the inch
# mark of '55" wide', nor a ditto mark at a line's end
_QUOTE_OPEN_RE = re.compile(r'[“«„]|(?<!\w)["＂‟](?=\S)')
MAX_QUOTE_LINES = 8
"""The most lines a quotation goes on over without its closing quote: after that, the text is
read as if the quote mark were stray (a lost closing quote would otherwise keep a long
document of one-line paragraphs from being restored)."""


class QuoteCarry:
    """Tracks, line by line, quotations in double quotes that go on over a line break
    (hard-wrapped prose, e-mail): :func:`protected_spans` sees one line and finds only the
    quotations that it closes.

    ``spans(line)`` → the parts of ``line`` inside such a quotation: from the line's start to
    the closing quote of one left open before it, and from an opening quote that the line
    does not close to the line's end (its line break excluded). A quote mark inside other
    protected text (a URL, a code span) opens nothing, nor does a straight quote after a word
    character or before a space ('55" wide'). A blank line ends a paragraph and any quotation left
    open in it, and so does a run of :data:`MAX_QUOTE_LINES` lines without its close. Feed it
    every line of the document, in order."""

    def __init__(self) -> None:
        self._close: str | None = None
        self._lines = 0  # lines the open quotation has gone on over

    def spans(self, line: str) -> list[tuple[int, int]]:
        """The quoted parts of ``line`` (see the class); updates the state."""
        body = line.rstrip("\r\n")
        if not body.strip():
            self._close = None
            return []
        out: list[tuple[int, int]] = []
        pos = 0
        if self._close is not None:
            end = next((i for i, c in enumerate(body) if c in self._close), None)
            if end is None:
                self._lines += 1
                if self._lines <= MAX_QUOTE_LINES:
                    return [(0, len(body))]
                self._close = None  # a stray mark, after all
            else:
                out.append((0, end + 1))
                pos, self._close = end + 1, None
        # quotations the line closes, and other protected text, hold no opener: their spans,
        # merged so that one pointer walks them along the openers
        taken: list[list[int]] = []
        for a, b in sorted(protected_spans(body, pos)):
            if taken and a <= taken[-1][1]:
                taken[-1][1] = max(taken[-1][1], b)
            else:
                taken.append([a, b])
        k = 0
        for m in _QUOTE_OPEN_RE.finditer(body, pos):
            while k < len(taken) and taken[k][1] <= m.start():
                k += 1
            if k < len(taken) and taken[k][0] <= m.start():
                continue
            out.append((m.start(), len(body)))
            self._close, self._lines = _QUOTE_CLOSE[m.group()[0]], 0
            break
        return out


class LineReader:
    """How restoring reads a document line by line: :class:`VerbatimBlocks` (lines that pass
    through) and :class:`QuoteCarry` (quotations over line breaks), fed every line in order.
    ``quoted(line)`` → None for a verbatim line, else the line's parts inside a quotation that
    goes on over a line break (:meth:`QuoteCarry.spans`). One per document."""

    def __init__(self) -> None:
        self._verbatim, self._quotes = VerbatimBlocks(), QuoteCarry()

    def quoted(self, line: str) -> list[tuple[int, int]] | None:
        """None when ``line`` is verbatim, else its carried quotations; updates the state."""
        return None if self._verbatim.inside(line) else self._quotes.spans(line)
