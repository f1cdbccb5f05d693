"""Teachers for distillation without labels: BM25 and an existing sparse encoder, fused.

Both score every document of an in-memory corpus by brute force (sparse matrix products), so
no index and no JVM are needed. Each teacher's scores are normalised per query over the
candidates before they are averaged, so that neither teacher's scale dominates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from splade_lite.vectors import SparseVector

_WORD = re.compile(r"\w+", re.UNICODE)
#: Lucene's English stop words (what Anserini's BM25 drops by default).
STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their "
    "then there these they this to was will with".split()
)


def analyze(text: str) -> list[str]:
    """Lower-cased words, stop words dropped, a light plural stemming (BM25's tokens)."""
    out = []
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS:
            continue
        if len(word) > 4 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
        out.append(word)
    return out


class BM25:
    """Okapi BM25 (Lucene's IDF: log(1 + (N - df + 0.5) / (df + 0.5))) over an in-memory corpus."""

    def __init__(self, texts: Sequence[str], k1: float = 0.9, b: float = 0.4) -> None:
        self.vocab: dict[str, int] = {}
        rows, cols, counts = [], [], []
        lengths = np.zeros(len(texts), dtype=np.float64)
        for row, text in enumerate(texts):
            words = analyze(text)
            lengths[row] = len(words)
            tf: dict[int, int] = {}
            for word in words:
                col = self.vocab.setdefault(word, len(self.vocab))
                tf[col] = tf.get(col, 0) + 1
            rows.extend([row] * len(tf))
            cols.extend(tf)
            counts.extend(tf.values())
        shape = (len(texts), max(len(self.vocab), 1))
        tf_matrix = sparse.csr_matrix((np.asarray(counts, np.float64), (rows, cols)), shape=shape)
        num_docs = len(texts)
        df = np.bincount(np.asarray(cols, np.int64), minlength=shape[1])
        self.idf = np.log(1.0 + (num_docs - df + 0.5) / (df + 0.5))
        avg = lengths.mean() if num_docs and lengths.mean() > 0 else 1.0
        norm = k1 * (1 - b + b * lengths / avg)  # per document
        data = tf_matrix.data
        row_of = np.repeat(np.arange(num_docs), np.diff(tf_matrix.indptr))
        weights = data * (k1 + 1) / (data + norm[row_of])
        self.doc_matrix = sparse.csr_matrix(
            (weights * self.idf[tf_matrix.indices], tf_matrix.indices, tf_matrix.indptr),
            shape=shape,
        ).T.tocsr()  # [terms, docs]

    def query_matrix(self, queries: Sequence[str]) -> sparse.csr_matrix:
        """Each query's distinct known words, weight 1 (Lucene's bag-of-words query)."""
        rows, cols = [], []
        for row, query in enumerate(queries):
            words = {self.vocab[w] for w in analyze(query) if w in self.vocab}
            rows.extend([row] * len(words))
            cols.extend(words)
        return sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(queries), self.doc_matrix.shape[0])
        )

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """Dense [queries, docs] BM25 scores."""
        return np.asarray((self.query_matrix(queries) @ self.doc_matrix).todense())


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
    """Dot products of an encoder's query and document vectors over an in-memory corpus."""

    def __init__(
        self, encoder, texts: Sequence[str], doc_vectors: Sequence[SparseVector] | None = None
    ):
        self.encoder = encoder
        self.size = len(encoder.terms)
        vectors = doc_vectors if doc_vectors is not None else encoder.encode_documents(list(texts))
        self.doc_vectors = list(vectors)
        self.doc_matrix = vectors_matrix(self.doc_vectors, self.size).T.tocsr()  # [V, docs]

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """Dense [queries, docs] scores."""
        q = vectors_matrix(self.encoder.encode_queries(list(queries)), self.size)
        return np.asarray((q @ self.doc_matrix).todense())


def normalize(scores: np.ndarray, method: str = "minmax") -> np.ndarray:
    """Per-row normalisation: ``minmax`` to [0, 1] or ``zscore`` (mean 0, sd 1).

    A row whose scores are all equal becomes all zeros.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if method == "minmax":
        low = scores.min(axis=1, keepdims=True)
        spread = scores.max(axis=1, keepdims=True) - low
        return np.divide(scores - low, spread, out=np.zeros_like(scores), where=spread > 0)
    if method == "zscore":
        mean = scores.mean(axis=1, keepdims=True)
        sd = scores.std(axis=1, keepdims=True)
        return np.divide(scores - mean, sd, out=np.zeros_like(scores), where=sd > 0)
    raise ValueError(f"unknown normalisation {method!r} (minmax or zscore)")


def ensemble(
    per_teacher: Sequence[np.ndarray],
    method: str = "minmax",
    weights: Sequence[float] | None = None,
) -> np.ndarray:
    """Weighted mean of the teachers' per-row normalised scores (all of one shape [Q, C])."""
    if not per_teacher:
        raise ValueError("no teacher scores to combine")
    weights = list(weights) if weights is not None else [1.0] * len(per_teacher)
    if len(weights) != len(per_teacher):
        raise ValueError("one weight per teacher")
    total = sum(w * normalize(s, method) for w, s in zip(weights, per_teacher))
    return total / sum(weights)


def top_candidates(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's `k` best scores, best first (ties: lower index first)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.lexsort((part, -np.take_along_axis(scores, part, axis=1)), axis=1)
    return np.take_along_axis(part, order, axis=1)
