"""Teachers for distillation without labels: the product's BM25 and an existing sparse encoder.

BM25 is the one of ``splade-lite index --bm25-corpus``: a Lucene index of the training
corpus (Anserini's English analyzer, k1 0.9, b 0.4) built in a temporary folder and searched
in-process (:class:`BM25Teacher`). The encoder scores every document of the in-memory corpus
by brute force, as a sparse matrix product (:class:`SparseTeacher`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from scipy import sparse

from splade_lite.io import Doc
from splade_lite.vectors import SparseVector

Hits = list[tuple[str, float]]


class BM25Teacher:
    """BM25 rankings of a corpus by Lucene, from an index in a temporary folder.

    The folder is removed by :meth:`close` (or at the end of a ``with`` block); a document
    without a word is not indexed, as in ``splade-lite index``, and matches nothing.
    """

    def __init__(
        self,
        docs: Iterable[Doc],
        *,
        threads: int | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        from splade_lite.indexer import BM25Index, build_bm25_index

        self.threads = threads or max(1, min(8, os.cpu_count() or 1))
        self.folder = Path(tempfile.mkdtemp(prefix="splade-lite-bm25-"))
        try:
            corpus = self.folder / "docs.jsonl"
            with open(corpus, "w", encoding="utf-8") as handle:
                for doc in docs:
                    handle.write(json.dumps({"id": doc.id, "contents": doc.full_text}) + "\n")
            build_bm25_index(corpus, self.folder / "index", threads=self.threads, log=log)
            corpus.unlink()
            self.index = BM25Index(self.folder / "index")
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    def search(self, queries: Sequence[str], k: int) -> list[Hits]:
        """The top `k` ``(doc id, BM25 score)`` of each query, best first."""
        return self.index.batch_search(list(queries), k, self.threads)

    def close(self) -> None:
        """Release the index and remove its folder."""
        index = self.__dict__.pop("index", None)
        if index is not None:
            index.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> BM25Teacher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def vectors_matrix(vectors: Sequence[SparseVector], size: int) -> sparse.csr_matrix:
    """Sparse vectors as rows of a [len, size] CSR matrix."""
    indptr = np.zeros(len(vectors) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(v.indices) for v in vectors])
    ids = np.concatenate([v.indices for v in vectors]) if vectors else np.zeros(0, np.int64)
    weights = np.concatenate([v.values for v in vectors]) if vectors else np.zeros(0)
    return sparse.csr_matrix(
        (weights.astype(np.float64), ids.astype(np.int64), indptr), shape=(len(vectors), size)
    )


class SparseTeacher:
    """Dot products of an encoder's query vectors with the corpus's document vectors."""

    def __init__(self, encoder, ids: Sequence[str], doc_vectors: Sequence[SparseVector]) -> None:
        self.encoder = encoder
        self.ids = list(ids)
        self.size = len(encoder.terms)
        self.doc_matrix = vectors_matrix(doc_vectors, self.size).T.tocsr()  # [V, docs]

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """Dense [queries, docs] scores."""
        q = vectors_matrix(self.encoder.encode_queries(list(queries)), self.size)
        return np.asarray((q @ self.doc_matrix).todense())

    def search(self, queries: Sequence[str], k: int) -> list[Hits]:
        """The top `k` ``(doc id, score)`` of each query, best first (ties: corpus order);
        as a search, only documents that match (score above 0)."""
        scores = self.scores(queries)
        return [
            [(self.ids[c], float(row[c])) for c in columns if row[c] > 0]
            for row, columns in zip(scores, top_candidates(scores, k))
        ]


def top_candidates(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's `k` best scores, best first (ties: lower index first)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.lexsort((part, -np.take_along_axis(scores, part, axis=1)), axis=1)
    return np.take_along_axis(part, order, axis=1)
