"""Capitals for restored words (truecasing).

The candidate index reads every source in lower case, so a restored word comes out in the case
of the spun word it replaces (:func:`despin.text.match_case`). A sense-blind spinner that looks
names up as words writes them in lower case ("the U.S. Congress" → "the U.S. sexual
intercourse", "President Bush" → "President shrub", "AI research" → "three-toed sloth
research"); restored in the spun word's case, such a word comes out as "congress", "bush", "ai".
Session 25 measured it: 11.8 % of the WordNet family's swaps have a capitalised original in
mid-sentence, and at a high threshold 56 of that family's 304 edits on 600 validation pairs
were right but for their capitals.

:class:`CaseTable` gives a restored word the spelling that written prose uses in its place:
counts of each word's forms in mid-sentence (a sentence's first word says nothing about case)
in a corpus of clean prose — alone, after the word before it and before the word after it —
built by ``python -m training.truecase`` from the training documents' originals (or from a
user's own prose, as the prose n-gram model is) and shipped as ``truecase.tsv.gz`` in a
Despinner folder. The method is a unigram truecaser with a bigram context vote (after Lita et
al., 2003, "tRuEcasIng", ACL, whose case model is an n-gram model over the words' forms):

1. a word that the corpus never writes with capitals in mid-sentence takes WordNet's spelling
   where WordNet writes the lemma only with capitals, is not an acronym there and is rare in
   English ("Antarctica", "New Mexico"; not "who", which WordNet also knows as WHO;
   :func:`wordnet_proper_forms`); else it stays as it is;
2. else the odds of its capitals: its own counts (where the word before it has no capital,
   so that "states" of "United States" does not count), times the
   evidence of the pair it makes with the preceding output word and with the following one,
   where the corpus has them, and, with no pair on the left, of a preceding word that
   capitals nearly always follow ("Mr", "Sir"; as written, so "a united front" is not
   "United").

Each piece of evidence gives smoothed odds of the capitalised form against the lower-case
one (a pair's counts are pulled toward the word's own share, so that a rare pair says little);
the pieces are combined as a naive Bayes classifier combines them, and the capitals are taken
when the odds are at least ``min_ratio`` (2). So "government", written "Government" in the
State of the Union addresses more often than not, stays in lower case without context, and a
pair seen twice in capitals and once not does not decide alone.

Only words that an edit restores are ever recased, never the text around them, and only when
the spun span is all lower case (a capitalised spun word already gives its capitals,
:func:`despin.text.match_case`).
"""
from __future__ import annotations

import gzip
import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .edits import Edit, Restoration
from .text import is_word, sentence_spans, tokenize

__all__ = ["CaseTable", "PackedStrings", "PackedTable", "PackedWords", "TRUECASE_FILE",
           "truecase_edits", "wordnet_proper_forms"]

TRUECASE_FILE = "truecase.tsv.gz"
"""The file name of a :class:`CaseTable` in a Despinner folder."""

_HEADER = "#despin-truecase"
_FORMAT = 3
_TOLERANCE = 1e-9  # odds of exactly min_ratio count as reaching it, despite rounding


def _cased(form: str) -> bool:
    return form != form.lower()


def _hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


class PackedTable(Mapping[str, tuple[int, ...]]):
    """A read-only map (a :class:`collections.abc.Mapping`) from strings without line breaks
    to rows of ``width`` integers, packed for hundreds of thousands of entries: the keys'
    64-bit BLAKE2b hashes sorted in a numpy array, the rows an int32 matrix, the keys in one
    string (for iterating). About 30 bytes an entry, where a dict of tuples costs hundreds. A
    look-up is a binary search (a hash collision between two keys, at 64 bits, is not guarded
    against). Raises ValueError for a key with a line break or a key given twice."""

    def __init__(self, items: Iterable[tuple[str, Sequence[int]]], width: int = 2):
        keys: list[str] = []
        rows: list[Sequence[int]] = []
        for k, r in items:
            if "\n" in k:
                raise ValueError(f"a PackedTable key cannot hold a line break: {k!r}")
            keys.append(k)
            rows.append(r)
        if len(set(keys)) != len(keys):
            raise ValueError("a PackedTable key is given twice")
        hashes = np.fromiter((_hash(k) for k in keys), dtype=np.uint64, count=len(keys))
        order = np.argsort(hashes, kind="stable")
        self.width = width
        self._hashes = hashes[order]
        self._rows = np.asarray(rows, dtype=np.int32).reshape(len(keys), width)[order]
        self._keys = "\n".join(keys[i] for i in order)

    def __getitem__(self, key: str) -> tuple[int, ...]:
        h = np.uint64(_hash(key))
        i = int(np.searchsorted(self._hashes, h))
        if i < len(self._hashes) and self._hashes[i] == h:
            return tuple(int(x) for x in self._rows[i])
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        """The keys, in hash order."""
        return iter(self._keys.split("\n") if len(self) else ())

    def __len__(self) -> int:
        return len(self._hashes)


class PackedStrings(Mapping[str, str]):
    """A read-only map from strings to strings (neither with line breaks), packed as
    :class:`PackedTable` is: each value a (start, end) row into one string."""

    _EXTRA = 0  # integer columns after (start, end), for a subclass's values

    def __init__(self, mapping: Mapping[str, str]):
        self._pack((k, v, ()) for k, v in mapping.items())

    def _pack(self, items: Iterable[tuple[str, str, Sequence[int]]]) -> None:
        texts, rows, pos = [], [], 0
        for key, text, extra in items:
            texts.append(text)
            rows.append((key, (pos, pos + len(text), *extra)))
            pos += len(text) + 1
        self._values = "\n".join(texts)
        self._table = PackedTable(rows, width=2 + self._EXTRA)

    def _value(self, row: tuple[int, ...]) -> Any:
        return self._values[row[0]:row[1]]

    def __getitem__(self, key: str) -> Any:
        return self._value(self._table[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


class PackedWords(PackedStrings):
    """Lower-case word → ``(capitalised form, its count, the lower-case form's count)``,
    packed as :class:`PackedStrings` is, the two counts as two more columns of the same row
    (one look-up a word)."""

    _EXTRA = 2

    def __init__(self, words: Mapping[str, tuple[str, int, int]]):
        self._pack((w, f, (c, n)) for w, (f, c, n) in words.items())

    def _value(self, row: tuple[int, ...]) -> tuple[str, int, int]:
        return self._values[row[0]:row[1]], row[2], row[3]


@dataclass
class CaseTable:
    """Mid-sentence counts of the capitalised and lower-case forms of words that prose writes
    with capitals.

    ``words``: lower-case word → ``(its commonest capitalised form, that form's count, the
    lower-case form's count)`` (a dict when built, :class:`PackedWords` when loaded), for
    every word written with a capital somewhere after a
    sentence's first word, counted only where the word before it has no capital (not inside a
    name: "United States"), so the counts may be 0. ``left``: ``"preceding
    word\\tword"`` (lower case) → ``(capitalised, lower-case)`` counts of the word after it;
    ``right``: ``"word\\tfollowing word"`` → the same before it (:class:`PackedTable`; pairs
    seen at least ``min_pair_count`` times at build time, of the words some pair can decide).
    ``after``: a word as written ("Mr", "Robert"; not the first of a sentence) → ``(followers
    in capitals, followers)``, for words followed at least 20 times with capitals at least
    ``after_rate`` of the time; ``base_rate``: the share of capitalised followers over all
    words. ``min_ratio``: the odds that the capitals need (:meth:`form`); ``pair_weight``: the
    pseudo-counts that pull a pair's odds toward the word's own. ``proper``: lower-case lemma
    → the only spelling WordNet gives it (anything with ``get``: a dict, or
    :func:`wordnet_proper_forms`' :class:`PackedStrings`; not saved, given at load time)."""

    words: Any = field(default_factory=dict)  # a dict, or PackedWords once loaded
    left: PackedTable = field(default_factory=lambda: PackedTable(()))
    right: PackedTable = field(default_factory=lambda: PackedTable(()))
    after: dict[str, tuple[int, int]] = field(default_factory=dict)
    min_ratio: float = 2.0
    after_rate: float = 0.9
    pair_weight: float = 1.0
    base_rate: float = 0.15
    proper: Any = field(default_factory=dict)

    # -- building --------------------------------------------------------------------------
    @classmethod
    def build(cls, units: Iterable[str], min_pair_count: int = 2, min_followers: int = 20,
              min_ratio: float = 2.0, after_rate: float = 0.9, prune: bool = True
              ) -> "CaseTable":
        """Count the forms of every word after the first of each sentence of ``units`` (plain
        text, cut with :func:`despin.text.sentence_spans`; words are the
        :func:`despin.text.tokenize` tokens that :func:`despin.text.is_word` accepts). A word's
        own counts (``words``) leave out the places where the word before it has a capital:
        inside a name ("United States") the capitals are the name's, which the pair counts
        carry, so "states" alone stays in lower case. (Leaving out the places before a
        capital too, "Middle East", capitalised more words wrongly on the test pairs: the pair
        counts still hold those places, so against a lower prior they weigh more.) Sentences
        mostly in
        capitals (headlines) are skipped. ``prune``: keep the pairs only of words that some
        pair can decide (one whose decision alone differs from the word's own), and every
        pair after a word of ``after``; the other words' pairs change nothing. Raises
        ValueError when ``units`` hold no such word."""
        if not min_pair_count >= 1 or not min_followers >= 1:
            raise ValueError("min_pair_count and min_followers must be ≥ 1")
        uni: dict[str, Counter] = defaultdict(Counter)
        alone: dict[str, Counter] = defaultdict(Counter)
        left: dict[tuple[str, str], Counter] = defaultdict(Counter)
        right: dict[tuple[str, str], Counter] = defaultdict(Counter)
        follow: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for text in units:
            for a, b in sentence_spans(text):
                toks = [t.text for t in tokenize(text[a:b]) if is_word(t.text)]
                if len(toks) < 2 or 2 * sum(len(t) > 1 and t.isupper() for t in toks) > len(toks):
                    continue
                low = [t.lower() for t in toks]
                for i in range(1, len(toks)):
                    uni[low[i]][toks[i]] += 1
                    if i == 1 or not toks[i - 1][:1].isupper():  # not inside a name
                        alone[low[i]][toks[i]] += 1
                    left[(low[i - 1], low[i])][toks[i]] += 1
                    if i + 1 < len(toks):
                        right[(low[i], low[i + 1])][toks[i]] += 1
                    if i > 1:  # a sentence's first word has a capital by convention
                        f = follow[toks[i - 1]]
                        f[0] += toks[i][:1].isupper()
                        f[1] += 1
        if not uni:
            raise ValueError("no mid-sentence words to count case from")
        words = {}
        for w in sorted(uni):
            top = max((f for f in uni[w] if _cased(f)), key=lambda f: (uni[w][f], f), default=None)
            if top is not None:
                words[w] = (top, alone[w][top], alone[w][w])
        n_cap, n_all = sum(c for c, _ in follow.values()), sum(n for _, n in follow.values())
        table = cls(words=words, after={w: (c, n) for w, (c, n) in sorted(follow.items())
                                        if n >= min_followers and c >= after_rate * n},
                    min_ratio=min_ratio, after_rate=after_rate,
                    base_rate=(n_cap + 1) / (n_all + 2))
        rows = {side: {k: (c[words[k[1 - side]][0]], c[k[1 - side]])
                       for k, c in counts.items()
                       if k[1 - side] in words and sum(c.values()) >= min_pair_count}
                for side, counts in ((0, left), (1, right))}
        decided = set()  # words whose decision some pair turns
        for side in rows:
            for k, row in rows[side].items():
                w = k[1 - side]
                if w not in decided and table._decide(w, [row]) != table._decide(w, []):
                    decided.add(w)
        after_low = {w.lower() for w in table.after}
        table.left = PackedTable(
            (f"{p}\t{w}", row) for (p, w), row in sorted(rows[0].items())
            if not prune or w in decided or p in after_low)
        table.right = PackedTable(
            (f"{w}\t{q}", row) for (w, q), row in sorted(rows[1].items())
            if not prune or w in decided)
        return table

    # -- files -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the table as gzipped UTF-8 lines (``w``/``<``/``>``/``a`` records, tab-
        separated, each kind sorted), through a temporary file renamed into place; ``proper``
        is not written. The same table gives the same bytes. Returns the path."""
        path = Path(path)
        lines = [f"{_HEADER}\t{_FORMAT}\t{self.min_ratio!r}\t{self.after_rate!r}\t"
                 f"{self.pair_weight!r}\t{self.base_rate!r}"]
        lines += [f"w\t{w}\t{f}\t{c}\t{n}" for w, (f, c, n) in sorted(self.words.items())]
        lines += sorted(f"<\t{k}\t{c}\t{n}" for k, (c, n) in self.left.items())
        lines += sorted(f">\t{k}\t{c}\t{n}" for k, (c, n) in self.right.items())
        lines += [f"a\t{w}\t{c}\t{n}" for w, (c, n) in sorted(self.after.items())]
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as raw, \
                gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as f:
            f.write(("\n".join(lines) + "\n").encode("utf-8"))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path, proper: Any = None) -> "CaseTable":
        """Read a table that :meth:`save` wrote; ``proper`` as the field. The parsed parts are
        cached on disk (:func:`despin.resources.cached`, keyed by a digest of the file's
        bytes), so later loads skip parsing and its passing memory. Raises FileNotFoundError,
        or ValueError for a file that is not one (not gzip, truncated, another format)."""
        from .resources import cached

        path = Path(path)
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        parts = cached("truecase", ("truecase", _FORMAT, 2, digest), lambda: cls._parse(path))
        return cls(*parts, proper={} if proper is None else proper)

    @staticmethod
    def _parse(path: Path) -> tuple:
        words: dict[str, tuple[str, int, int]] = {}
        left: list[tuple[str, tuple[int, int]]] = []
        right: list[tuple[str, tuple[int, int]]] = []
        after: dict[str, tuple[int, int]] = {}
        try:
            with gzip.open(path, "rt", encoding="utf-8") as f:
                head = f.readline().rstrip("\n").split("\t")
                if head[0] != _HEADER or len(head) != 6 or head[1] != str(_FORMAT):
                    raise ValueError(f"{path}: not a despin truecase table (format {_FORMAT})")
                for n, line in enumerate(f, 2):
                    r = line.rstrip("\n").split("\t")
                    try:
                        if r[0] == "w" and len(r) == 5:
                            words[r[1]] = (r[2], int(r[3]), int(r[4]))
                        elif r[0] in ("<", ">") and len(r) == 5:
                            (left if r[0] == "<" else right).append(
                                (f"{r[1]}\t{r[2]}", (int(r[3]), int(r[4]))))
                        elif r[0] == "a" and len(r) == 4:
                            after[r[1]] = (int(r[2]), int(r[3]))
                        else:
                            raise ValueError(r[0])
                    except ValueError as exc:
                        raise ValueError(f"{path}, line {n}: not a truecase record") from exc
        except (OSError, EOFError, UnicodeDecodeError) as exc:  # not gzip, truncated
            raise ValueError(f"{path}: not a readable truecase table ({exc})") from exc
        return (PackedWords(words), PackedTable(left), PackedTable(right), after, float(head[2]),
                float(head[3]), float(head[4]), float(head[5]))

    # -- casing ----------------------------------------------------------------------------
    def form(self, word: str, prev: str | None = None, following: str | None = None) -> str:
        """The spelling of lower-case ``word`` between ``prev`` and ``following`` (the
        neighbouring words of the output as written; None at a sentence's edge). ``word``
        itself when it is not all lower case or the evidence does not call for capitals.

        - A word the table does not hold takes ``proper``'s spelling (WordNet's) when that is
          not all capitals (an acronym: "who" is also WHO) and the word is rare in English
          (wordfreq's Zipf frequency below 4: not "led", "us"); else it stays as it is.
        - Else the odds of the word's commonest capitalised form against its lower-case form:
          its own counts (add-one smoothed), times, for each side whose pair the table has,
          that pair's odds (smoothed toward the word's own share with ``pair_weight``
          pseudo-counts) over the word's own, as a naive Bayes classifier combines evidence;
          with no pair on the left, a preceding word of ``after`` ("Mr") counts as evidence
          too, its followers' odds of a capital over ``base_rate``'s. The capitals when the
          odds are at least ``min_ratio``."""
        if not word or word != word.lower():
            return word
        known = self.words.get(word)
        if known is None:
            spelt = self.proper.get(word)
            if spelt is None or spelt.isupper() or _common(word):
                return word
            return spelt
        left = self.left.get(f"{prev.lower()}\t{word}") if prev else None
        right = self.right.get(f"{word}\t{following.lower()}") if following else None
        sides = [c for c in (left, right) if c is not None]
        cue = self.after.get(prev) if prev and left is None else None  # "Mr. [chef→Cook]"
        return known[0] if self._decide(word, sides, cue) else word

    def _decide(self, word: str, sides: Sequence[tuple[int, int]],
                cue: tuple[int, int] | None = None) -> bool:
        """Whether the odds of ``word``'s capitals (it must be in ``words``), from its own
        counts, the ``(capitalised, lower-case)`` counts of the pairs in ``sides`` and the
        ``(capitalised, all)`` followers of a preceding word (``cue``), reach ``min_ratio``
        (:meth:`form`)."""
        _, n_cap, n_low = self.words[word]
        share = (n_cap + 1) / (n_cap + n_low + 2)  # the word's own, add-one smoothed
        prior = share / (1 - share)
        post = prior
        a = self.pair_weight
        for c_cap, c_low in sides:  # a pair's counts, smoothed toward the word's own share
            post *= (c_cap + a * share) / (c_low + a * (1 - share)) / prior
        if cue is not None:
            rate = (cue[0] + 1) / (cue[1] + 2)
            post *= (rate / (1 - rate)) / (self.base_rate / (1 - self.base_rate))
        return post >= self.min_ratio * (1 - _TOLERANCE)

    def phrase(self, text: str, prev: str | None = None, following: str | None = None) -> str:
        """:meth:`form` of each word of ``text`` (a restored word or phrase; whitespace kept
        as it is), each between the words beside it; a phrase that WordNet writes only with
        capitals as a whole ("new mexico") takes WordNet's spelling. Unchanged when ``text``
        is not all lower case."""
        if not text or text != text.lower():
            return text
        whole = self.proper.get(text) if " " in text.strip() else None
        if whole is not None and not whole.isupper():
            return whole
        parts = re.split(r"(\s+)", text)
        words = [i for i, x in enumerate(parts) if x and not x.isspace()]
        out = list(parts)
        for k, i in enumerate(words):
            before = parts[words[k - 1]] if k else prev
            beyond = parts[words[k + 1]] if k + 1 < len(words) else following
            if is_word(parts[i]):
                out[i] = self.form(parts[i], before, beyond)
        return "".join(out)


def _common(word: str) -> bool:
    """Whether ``word`` is common English (wordfreq's Zipf frequency ≥ 4,
    :func:`despin.synonyms.zipf`)."""
    from .synonyms import zipf

    return zipf(word) >= 4.0


def truecase_edits(text: str, edits: list[Edit], table: CaseTable) -> list[Edit]:
    """``edits`` of ``text`` (a line, offsets into it) with each restored word or phrase whose
    spun span is all lower case spelt by ``table`` (:meth:`CaseTable.phrase`) between the
    output words beside it, within its sentence of the output; its alternatives are spelt the
    same way. A spelling that would change the restored text's length is not taken (offsets
    stay valid). Returns new Edit objects in the same order."""
    todo = [i for i, e in enumerate(edits)
            if e.restored and e.spun == e.spun.lower() and e.restored == e.restored.lower()]
    if not todo:
        return list(edits)
    placed = Restoration(text, list(edits))
    output = placed.text
    order = sorted(range(len(edits)), key=lambda i: edits[i].start)
    where = {i: placed.edits[k] for k, i in enumerate(order)}
    spans = sentence_spans(output)
    toks = [t for t in tokenize(output) if is_word(t.text)]
    out = list(edits)
    for i in todo:
        e = where[i]
        a, b = next(((a, b) for a, b in spans if a <= e.out_start < b),
                    (0, len(output)))
        prev = next((t.text for t in reversed(toks) if a <= t.start and t.end <= e.out_start),
                    None)
        after = next((t.text for t in toks if e.out_end <= t.start and t.end <= b), None)

        def spell(s: str) -> str:
            new = table.phrase(s, prev, after)
            return new if len(new) == len(s) else s

        out[i] = replace(edits[i], restored=spell(edits[i].restored),
                         alternatives=tuple(replace(x, text=spell(x.text))
                                            for x in edits[i].alternatives))
    return out


def wordnet_proper_forms() -> PackedStrings:
    """Lower-case lemma → its spelling, for every lemma of Princeton WordNet 3.0 that WordNet
    writes only with capitals in all of its synsets ("antarctica" → "Antarctica", "new mexico"
    → "New Mexico"; not "bush", which is also a shrub). Read from the installed WordNet
    (:func:`despin.synonyms.wordnet_dir`) and cached on disk; empty when WordNet is not
    installed. About 39,000 lemmas, packed (:class:`PackedStrings`: 2 MB where a dict takes
    12)."""
    from .resources import cached, file_key
    from .synonyms import WORDNET_POS, wordnet_dir, wordnet_synset_fields

    try:
        folder = wordnet_dir()
    except FileNotFoundError:
        return PackedStrings({})
    key = ("wordnet-proper", 3) + tuple(file_key(folder / f"data.{p}") for p in WORDNET_POS)

    def build() -> PackedStrings:
        forms: dict[str, set[str]] = defaultdict(set)
        for fields in wordnet_synset_fields(folder):
            for w in fields[4:4 + 2 * int(fields[3], 16):2]:
                w = w.split("(")[0].replace("_", " ")
                forms[w.lower()].add(w)
        return PackedStrings({low: next(iter(fs)) for low, fs in sorted(forms.items())
                              if len(fs) == 1 and _cased(next(iter(fs)))})

    return cached("wordnet-proper", key, build)
