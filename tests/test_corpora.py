"""Corpus loaders, segmentation, de-duplication and document splits."""
from __future__ import annotations

import pytest

from training.corpora import (
    SPLITS, Document, dedup_paragraphs, load_corpora, load_dataset_column, load_files,
    load_sotu, load_wiki, paragraphs, sentences, split_by_document, stable_hash,
)


def _check_docs(docs, source):
    assert docs
    assert all(isinstance(d, Document) and d.source == source and d.text.strip() for d in docs)
    assert len({d.id for d in docs}) == len(docs)


def test_load_sotu():
    docs = load_sotu(min_year=1990)
    _check_docs(docs, "sotu")
    assert all(int(d.id.split("/")[1][:4]) >= 1990 for d in docs)
    assert len(load_sotu(min_year=1900)) > len(docs)


def test_load_wiki():
    docs = load_wiki()
    _check_docs(docs, "wiki")
    assert len(docs) > 5000 and all(d.id.startswith("wiki/") for d in docs)


def test_load_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("First file.\n\nSecond paragraph.")
    (tmp_path / "sub" / "b.md").write_text("# Notes\nMarkdown text.")
    (tmp_path / "sub" / "c.csv").write_text("not,text")
    (tmp_path / "empty.txt").write_text("  \n")
    single = tmp_path / "single.txt"
    single.write_text("Just one.")
    docs = load_files([tmp_path / "sub", single])
    _check_docs(docs, "files")
    assert [d.text for d in docs] == ["# Notes\nMarkdown text.", "Just one."]
    assert len(load_files(tmp_path)) == 3  # a.txt, sub/b.md, single.txt (empty file skipped)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_files(tmp_path / "missing")


def test_load_dataset_column():
    from datasets import Dataset

    ds = Dataset.from_dict({"body": ["One text.", "", "Two texts."], "n": [1, 2, 3]})
    docs = load_dataset_column(ds, column="body", name="mine")
    _check_docs(docs, "mine")
    assert [d.id for d in docs] == ["mine/0", "mine/2"]
    with pytest.raises(KeyError, match="no column 'text'"):
        load_dataset_column(ds)


def test_load_corpora_specs(tmp_path):
    from datasets import Dataset, DatasetDict

    (tmp_path / "t.txt").write_text("Some text here.")
    DatasetDict({"train": Dataset.from_dict({"text": ["A.", "B."]})}).save_to_disk(tmp_path / "ds")
    docs = load_corpora([
        {"kind": "sotu", "min_year": 2000, "max_docs": 2},
        {"kind": "wiki"},
        {"kind": "files", "paths": [str(tmp_path / "t.txt")]},
        {"kind": "dataset", "path": str(tmp_path / "ds"), "name": "ds"},
    ], max_docs=3)
    assert [d.source for d in docs] == ["sotu"] * 2 + ["wiki"] * 3 + ["files", "ds", "ds"]
    with pytest.raises(ValueError, match="unknown corpus kind"):
        load_corpora([{"kind": "nope"}])
    with pytest.raises(ValueError, match="duplicate document id"):
        load_corpora([{"kind": "wiki", "max_docs": 1}] * 2)


def test_paragraphs_and_sentences():
    doc = Document("x", "  Mr. Smith went to Washington. He spoke.\n\n\nA second one!  \n", "t")
    assert paragraphs(doc) == ["Mr. Smith went to Washington. He spoke.", "A second one!"]
    assert sentences(paragraphs(doc)[0]) == ["Mr. Smith went to Washington.", "He spoke."]


def test_dedup_paragraphs_across_documents():
    docs = [Document("a", "Same  text here.\nOnly in a.\nsame text HERE.", "t"),
            Document("b", "SAME text\there.\nOnly in b.", "t")]
    kept = dedup_paragraphs(docs)
    assert [(d.id, ps) for d, ps in kept] == [("a", ["Same  text here.", "Only in a."]),
                                              ("b", ["Only in b."])]


def test_split_by_document_deterministic_and_leak_free():
    docs = [Document(f"doc/{i}", "text", "t") for i in range(3000)]
    a = split_by_document(docs, seed=7)
    assert a == split_by_document(docs, seed=7)
    rev = split_by_document(docs[::-1], seed=7)  # order of the input does not matter
    assert all({d.id for d in a[s]} == {d.id for d in rev[s]} for s in SPLITS)
    ids = [{d.id for d in a[s]} for s in SPLITS]
    assert sum(map(len, ids)) == len(docs) == len(set.union(*ids))  # each doc in one split
    assert 0.87 < len(ids[0]) / len(docs) < 0.93 and all(len(i) > 90 for i in ids[1:])
    # adding documents never moves the others
    more = split_by_document(docs + [Document(f"new/{i}", "t", "t") for i in range(500)], seed=7)
    assert all(ids[k] <= {d.id for d in more[s]} for k, s in enumerate(SPLITS))
    # another seed gives another split; zero fractions give empty splits
    assert {d.id for d in split_by_document(docs, seed=8)["test"]} != ids[2]
    assert split_by_document(docs, fractions=(1, 0, 0))["train"] == docs
    with pytest.raises(ValueError):
        split_by_document(docs, fractions=(0.5, 0.5))


def test_stable_hash_is_stable():
    assert stable_hash("spin", 0, "doc", 1, 2) == stable_hash("spin", 0, "doc", 1, 2)
    assert stable_hash("a", 1) != stable_hash("a", 2)
    assert stable_hash("x") == 0x4ADF4367F96E584F  # same in every process, unlike hash()
