"""Lucene indexes read back in-process: counts, term statistics, document vectors, and
Lucene's own full check of every file.

Every Java exception is turned into a one-line Python error naming the folder (see
:mod:`splade_lite.indexer.errors`); no Java object leaves this module.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from splade_lite.indexer.errors import (
    LuceneError,
    LuceneFolders,
    check_index_dir,
    java_errors,
    lucene_folders,
    opened,
    remedy,
    short_resources,
)
from splade_lite.indexer.lucene import CONTENTS_FIELD, ID_FIELD, java_classes
from splade_lite.vectors import EMPTY_DOC_TOKEN


class _Reader:
    """A Lucene ``DirectoryReader`` opened on a folder, as a context manager."""

    def __init__(self, index_dir: str | Path) -> None:
        path = check_index_dir(index_dir)
        java = java_classes()
        self.java, self.path = java, path
        with java_errors(path, "opening"):
            self._directory = java.FSDirectory.open(java.File(str(path)).toPath())
        try:
            self.reader = opened(path, lambda: java.DirectoryReader.open(self._directory))
        except BaseException:
            self._directory.close()
            raise

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reader.close()
        self._directory.close()


def count_documents(index_dir: LuceneFolders) -> int:
    """Number of (live) documents in a Lucene index (summed over its shard folders)."""
    total = 0
    for folder in lucene_folders(index_dir):
        with _Reader(folder) as r:
            total += int(r.reader.numDocs())
    return total


def index_terms_df(index_dir: LuceneFolders, field: str = CONTENTS_FIELD) -> dict[str, int]:
    """Document frequency of every term of ``field`` (the empty-document marker left out),
    summed over the index's shard folders.

    Counts come from Lucene's term dictionary, so documents deleted but not yet merged
    away would still count; indexes built here have none.
    """
    out: dict[str, int] = {}
    for folder in lucene_folders(index_dir):
        _add_terms_df(folder, field, out)
    out.pop(EMPTY_DOC_TOKEN, None)
    return out


def _add_terms_df(folder: Path, field: str, out: dict[str, int]) -> None:
    with _Reader(folder) as r, java_errors(r.path):
        # per segment, summed: the same as Lucene's merged view, without its overloads
        for leaf_context in r.reader.leaves().toArray():
            terms = leaf_context.reader().terms(field)
            if terms is None:
                continue
            terms_enum = terms.iterator()
            term = terms_enum.next()
            while term is not None:
                token = term.utf8ToString()
                out[token] = out.get(token, 0) + int(terms_enum.docFreq())
                term = terms_enum.next()


def vector_dimensions(index_dir: str | Path) -> dict[str, int]:
    """The dense vector fields of a Lucene index and their dimensions (per segment; a field
    whose segments disagree is refused)."""
    out: dict[str, int] = {}
    with _Reader(index_dir) as r, java_errors(r.path):
        for leaf_context in r.reader.leaves().toArray():
            infos = leaf_context.reader().getFieldInfos()
            for number in range(int(infos.size())):
                info = infos.fieldInfo(number)
                dim = int(info.getVectorDimension()) if info is not None else 0
                if dim <= 0:
                    continue
                name = str(info.name)
                if out.setdefault(name, dim) != dim:
                    raise LuceneError(
                        f"{r.path}: field {name!r} has {out[name]} and {dim} dimensions"
                    )
    return out


def read_document_vectors(
    index_dir: LuceneFolders, field: str = CONTENTS_FIELD
) -> Iterator[tuple[str, dict[str, int]]]:
    """Every document of an impact index as ``(docid, {token: impact})``, in index order
    (shard folders one after the other).

    Impacts are the stored term frequencies, read from the postings, so this works without
    ``-storeDocvectors``. A document whose only term is the empty-document marker comes
    back with an empty dict. Postings are held as three int32 arrays (12 bytes each) for
    one segment at a time, plus the segment's term strings. Each segment's checksums are
    verified before it is read, so a damaged index fails here instead of giving other
    vectors.
    """
    for folder in lucene_folders(index_dir):
        with _Reader(folder) as r, java_errors(r.path):  # spans the yields: Java runs between
            for leaf_context in r.reader.leaves().toArray():
                leaf = leaf_context.reader()
                leaf.checkIntegrity()
                yield from _read_leaf(r, leaf, field)


def _read_leaf(r: _Reader, leaf: Any, field: str) -> Iterator[tuple[str, dict[str, int]]]:
    """The documents of one index segment (see :func:`read_document_vectors`)."""
    java = r.java
    tokens: list[str] = []
    term_of = array("i")
    doc_of = array("i")
    freq_of = array("i")
    no_more = java.NO_MORE_DOCS
    terms = leaf.terms(field)
    if terms is not None:
        terms_enum = terms.iterator()
        postings = None
        term = terms_enum.next()
        while term is not None:
            term_index = len(tokens)
            tokens.append(term.utf8ToString())
            postings = terms_enum.postings(postings, java.FREQS)
            doc = postings.nextDoc()
            while doc != no_more:
                term_of.append(term_index)
                doc_of.append(doc)
                freq_of.append(postings.freq())
                doc = postings.nextDoc()
            term = terms_enum.next()
    docs = np.frombuffer(doc_of, dtype=np.int32) if doc_of else np.zeros(0, np.int32)
    order = np.argsort(docs, kind="stable")  # stable: a document's terms stay in term order
    docs = docs[order]
    term_ids = (np.frombuffer(term_of, dtype=np.int32) if term_of else docs)[order]
    freqs = (np.frombuffer(freq_of, dtype=np.int32) if freq_of else docs)[order]
    starts = np.searchsorted(docs, np.arange(leaf.maxDoc() + 1))
    live = leaf.getLiveDocs()
    stored = leaf.storedFields()
    for doc in range(leaf.maxDoc()):
        if live is not None and not live.get(doc):
            continue
        docid = stored.document(doc).get(ID_FIELD)
        if docid is None:
            raise LuceneError(
                f"document {doc} of a segment of {r.path} has no stored {ID_FIELD!r}: "
                f"{remedy(r.path)}"
            )
        lo, hi = int(starts[doc]), int(starts[doc + 1])
        vector = {
            tokens[t]: int(f) for t, f in zip(term_ids[lo:hi].tolist(), freqs[lo:hi].tolist())
        }
        vector.pop(EMPTY_DOC_TOKEN, None)
        yield docid, vector


def lucene_problem(index_dir: LuceneFolders, threads: int | None = None) -> str | None:
    """What Lucene's ``CheckIndex`` finds wrong with an index (the first damaged shard
    folder's), in one line; None if whole.

    Reads every file in full (checksums, postings, doc values, stored fields, norms), so it
    takes about as long as reading the index from disk; `threads` segments at a time.
    """
    java = java_classes()
    workers = threads if threads is not None else min(4, os.cpu_count() or 1)
    for path in lucene_folders(index_dir):
        with java_errors(path, "checking"):
            problem = java.IndexCheck.problem(str(path), max(1, int(workers)))
        if problem is not None:
            return short_resources(str(problem))
    return None
