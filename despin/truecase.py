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

1. a word that the corpus never writes with capitals takes WordNet's spelling where WordNet
   writes the lemma only with capitals ("Antarctica", "New Mexico";
   :func:`wordnet_proper_forms`), else stays as it is;
2. the word's counts after the preceding output word and before the following one, where
   the corpus has either pair, with its own counts;
3. where the corpus has neither pair and the preceding word is nearly always followed by a
   capital ("Mr.", "Sir"), the capitals;
4. else the word's own counts.

Each piece of evidence gives smoothed odds of the capitalised form against the lower-case
one (a pair's counts are pulled toward the word's own share, so that a rare pair says little);
the pieces are combined as a naive Bayes classifier combines them, and the capitals are taken
when the odds are at least ``min_ratio`` (2). So "government", written
"Government" 63 % of the time in the State of the Union addresses, stays in lower case without
context, and a pair seen twice in capitals and once not does not decide alone.

Only words that an edit restores are ever recased, never the text around them, and only when
the spun span is all lower case (a capitalised spun word already gives its capitals,
:func:`despin.text.match_case`).
"""
from __future__ import annotations

import gzip
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping

from .edits import Edit, Restoration
from .text import is_word, sentence_spans, tokenize

__all__ = ["CaseTable", "TRUECASE_FILE", "truecase_edits", "wordnet_proper_forms"]

TRUECASE_FILE = "truecase.tsv.gz"
"""The file name of a :class:`CaseTable` in a Despinner folder."""

_HEADER = "#despin-truecase"
_FORMAT = 1


def _cased(form: str) -> bool:
    return form != form.lower()


def _counts(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in text.split(" "):
        form, _, n = item.rpartition(":")
        out[form] = int(n)
    return out


def _format(counts: Mapping[str, int]) -> str:
    return " ".join(f"{f}:{n}" for f, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass
class CaseTable:
    """Mid-sentence counts of the forms of words that prose writes with capitals.

    ``words``: lower-case word → ``{form: count}`` for every word with at least one form that
    is not all lower case, counted where the word before it has no capital (its lower-case
    count included; its commonest capitalised form present, with 0 if never seen there). ``left``: ``(preceding word, word)``
    (both lower case) → the word's form counts after it; ``right``: ``(word, following word)``
    → its form counts before it; both kept for pairs seen at least ``min_pair_count`` times at
    build time. ``after``: lower-case word → ``(followers in capitals, followers)``, for words
    followed at least 20 times, over every word that follows them. ``min_ratio``: the odds
    that the capitals need (:meth:`form`); ``pair_weight``: the pseudo-counts that pull a
    pair's odds toward the word's own. ``after_rate``: the share of
    capitalised followers from which the preceding word alone calls for a capital. ``proper``:
    lower-case lemma → the only spelling WordNet gives it (:func:`wordnet_proper_forms`; not
    saved, filled in at load time where WordNet is installed)."""

    words: dict[str, dict[str, int]] = field(default_factory=dict)
    left: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    right: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    after: dict[str, tuple[int, int]] = field(default_factory=dict)
    min_ratio: float = 2.0
    after_rate: float = 0.9
    pair_weight: float = 1.0
    proper: Mapping[str, str] = field(default_factory=dict)

    # -- building --------------------------------------------------------------------------
    @classmethod
    def build(cls, units: Iterable[str], min_pair_count: int = 2, min_followers: int = 20,
              min_ratio: float = 2.0, after_rate: float = 0.9) -> "CaseTable":
        """Count the forms of every word after the first of each sentence of ``units`` (plain
        text, cut with :func:`despin.text.sentence_spans`; words are
        :func:`despin.text.tokenize` tokens with a letter or digit). A word's own counts
        (``words``) leave out the places where the word before it has a capital: inside a
        name ("United States") the capitals are the name's, which the pair counts carry, so
        "states" alone stays in lower case. Sentences mostly in capitals (headlines) are
        skipped. Raises ValueError when ``units`` hold no such word."""
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
                    f = follow[low[i - 1]]
                    f[0] += toks[i][:1].isupper()
                    f[1] += 1
        if not uni:
            raise ValueError("no mid-sentence words to count case from")
        capped = {w for w, c in uni.items() if any(_cased(f) for f in c)}
        words = {}
        for w in sorted(capped):  # the commonest capitalised form, counted alone (maybe 0)
            top = max((f for f in uni[w] if _cased(f)), key=lambda f: (uni[w][f], f))
            words[w] = {top: 0, **alone[w]}
        return cls(
            words=words,
            left={k: dict(c) for k, c in sorted(left.items())
                  if k[1] in capped and sum(c.values()) >= min_pair_count},
            right={k: dict(c) for k, c in sorted(right.items())
                   if k[0] in capped and sum(c.values()) >= min_pair_count},
            after={w: (c, n) for w, (c, n) in sorted(follow.items()) if n >= min_followers
                   and c >= after_rate * n},
            min_ratio=min_ratio, after_rate=after_rate)

    # -- files -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the table as gzipped UTF-8 lines (``w``/``<``/``>``/``a`` records, tab-
        separated); ``proper`` is not written. Returns the path."""
        path = Path(path)
        lines = [f"{_HEADER}\t{_FORMAT}\t{self.min_ratio!r}\t{self.after_rate!r}\t"
                 f"{self.pair_weight!r}"]
        lines += [f"w\t{w}\t{_format(c)}" for w, c in self.words.items()]
        lines += [f"<\t{p}\t{w}\t{_format(c)}" for (p, w), c in self.left.items()]
        lines += [f">\t{w}\t{q}\t{_format(c)}" for (w, q), c in self.right.items()]
        lines += [f"a\t{w}\t{c}\t{n}" for w, (c, n) in self.after.items()]
        # mtime 0: the same table gives the same bytes
        with open(path, "wb") as raw, \
                gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as f:
            f.write(("\n".join(lines) + "\n").encode("utf-8"))
        return path

    @classmethod
    def load(cls, path: str | Path, proper: Mapping[str, str] | None = None) -> "CaseTable":
        """Read a table that :meth:`save` wrote. Raises FileNotFoundError, or ValueError for a
        file that is not one."""
        with gzip.open(path, "rt", encoding="utf-8") as f:
            head = f.readline().rstrip("\n").split("\t")
            if head[0] != _HEADER or len(head) != 5 or head[1] != str(_FORMAT):
                raise ValueError(f"{path}: not a despin truecase table (format {_FORMAT})")
            table = cls(min_ratio=float(head[2]), after_rate=float(head[3]),
                        pair_weight=float(head[4]), proper=dict(proper or {}))
            for n, line in enumerate(f, 2):
                r = line.rstrip("\n").split("\t")
                try:
                    if r[0] == "w":
                        table.words[r[1]] = _counts(r[2])
                    elif r[0] == "<":
                        table.left[(r[1], r[2])] = _counts(r[3])
                    elif r[0] == ">":
                        table.right[(r[1], r[2])] = _counts(r[3])
                    elif r[0] == "a":
                        table.after[r[1]] = (int(r[2]), int(r[3]))
                    else:
                        raise ValueError(r[0])
                except (IndexError, ValueError) as exc:
                    raise ValueError(f"{path}, line {n}: not a truecase record") from exc
        return table

    # -- casing ----------------------------------------------------------------------------
    def form(self, word: str, prev: str | None = None, following: str | None = None) -> str:
        """The spelling of lower-case ``word`` between ``prev`` and ``following`` (the
        neighbouring words of the output, any case; None at a sentence's edge). ``word`` itself
        when it is not all lower case or the evidence does not call for capitals.

        The odds of the word's commonest capitalised form against its lower-case form: from
        its own counts (add-one smoothed), times, for each side whose pair the table has, that
        pair's odds (smoothed toward the word's own share with ``pair_weight`` pseudo-counts)
        over the word's own, as a naive Bayes classifier combines evidence; the capitals when
        those odds are at least ``min_ratio``."""
        if not word or word != word.lower():
            return word
        known = self.words.get(word)
        if known is None:
            return self.proper.get(word, word)
        capital = max((f for f in known if _cased(f)), key=lambda f: (known[f], f))
        p = prev.lower() if prev else None
        q = following.lower() if following else None
        sides = [c for c in (self.left.get((p, word)) if p is not None else None,
                             self.right.get((word, q)) if q is not None else None) if c]
        if not sides and p is not None and p in self.after:
            return capital  # "Mr. [chef→Cook]"

        n_cap, n_low = known.get(capital, 0), known.get(word, 0)
        share = (n_cap + 1) / (n_cap + n_low + 2)  # the word's own, add-one smoothed
        prior = share / (1 - share)
        post = prior
        for c in sides:  # a pair's counts, smoothed toward the word's own share
            a = self.pair_weight
            post *= (c.get(capital, 0) + a * share) / (c.get(word, 0) + a * (1 - share)) / prior
        return capital if post >= self.min_ratio else word

    def phrase(self, text: str, prev: str | None = None, following: str | None = None) -> str:
        """:meth:`form` of each space-separated word of ``text`` (a restored word or phrase),
        each between its neighbours; a phrase that WordNet writes only with capitals as a
        whole ("new mexico") takes WordNet's spelling. Unchanged when ``text`` is not all
        lower case."""
        if not text or text != text.lower():
            return text
        if text in self.proper and " " in text:
            return self.proper[text]
        parts = text.split(" ")
        out = []
        for i, w in enumerate(parts):
            before = parts[i - 1] if i else prev
            beyond = parts[i + 1] if i + 1 < len(parts) else following
            out.append(self.form(w, before, beyond) if is_word(w) else w)
        return " ".join(out)


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


def wordnet_proper_forms() -> dict[str, str]:
    """Lower-case lemma → its spelling, for every lemma of Princeton WordNet 3.0 that WordNet
    writes only with capitals in all of its synsets ("antarctica" → "Antarctica", "new mexico"
    → "New Mexico"; not "bush", which is also a shrub). Read from the installed WordNet
    (:func:`despin.synonyms.wordnet_dir`) and cached on disk; empty when WordNet is not
    installed."""
    from .resources import cached, file_key
    from .synonyms import WORDNET_POS, wordnet_dir

    try:
        folder = wordnet_dir()
    except FileNotFoundError:
        return {}
    key = ("wordnet-proper", 1) + tuple(file_key(folder / f"data.{p}") for p in WORDNET_POS)

    def build() -> dict[str, str]:
        forms: dict[str, set[str]] = defaultdict(set)
        for pos in WORDNET_POS:
            with (folder / f"data.{pos}").open(encoding="utf-8", errors="replace") as f:
                for line in f:
                    if line.startswith(" "):
                        continue
                    fields = line.split(" | ", 1)[0].split()
                    n = int(fields[3], 16)
                    for w in fields[4:4 + 2 * n:2]:
                        w = w.split("(")[0].replace("_", " ")
                        forms[w.lower()].add(w)
        return {low: next(iter(fs)) for low, fs in forms.items()
                if len(fs) == 1 and _cased(next(iter(fs)))}

    return cached("wordnet-proper", key, build)
