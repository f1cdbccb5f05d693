"""A dense teacher: a sentence-transformers bi-encoder that scores the corpus by brute force.

The heterogeneous ensemble of Geng et al. ("Towards Competitive Search Relevance For
Inference-Free Learned Sparse Retrievers", 2024) adds dense siamese retrievers to the sparse
ones as teachers. :class:`DenseTeacher` encodes the training corpus once (normalised float32
embeddings in memory) and ranks documents for a query by dot product (cosine similarity),
as :class:`~splade_lite.training.teacher.SparseTeacher` does for a sparse encoder. Models
are named and loaded by :mod:`splade_lite.encoders.dense`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from splade_lite.encoders.dense import embed, load_dense_model
from splade_lite.errors import BadValueError

Hits = list[tuple[str, float]]
Log = Callable[[str], None]


class DenseTeacher:
    """Cosine similarities of a dense model's query and document embeddings.

    `model` is a ``SentenceTransformer`` (or anything with its ``encode``); the corpus
    `texts` (in the order of `ids`) are encoded once, in chunks, with a progress bar.
    """

    def __init__(
        self,
        model: Any,
        ids: Sequence[str],
        texts: Sequence[str],
        *,
        name: str = "dense",
        batch_size: int = 32,
        progress: bool = True,
        log: Log | None = None,
        chunk: int = 512,
    ) -> None:
        from tqdm.auto import tqdm

        if len(ids) != len(texts):
            raise BadValueError(f"{len(ids)} document ids but {len(texts)} texts")
        self.model, self.name, self.batch_size = model, name, batch_size
        self.ids = list(ids)
        started = time.perf_counter()
        parts = []
        bar = tqdm(total=len(texts), desc=f"teacher {name}", unit="doc", disable=not progress)
        with bar:
            for start in range(0, len(texts), chunk):
                parts.append(embed(model, texts[start : start + chunk], "document", batch_size))
                bar.update(len(parts[-1]))
        self.doc_matrix = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
        self.seconds = time.perf_counter() - started
        if log is not None and self.ids:
            rate = len(self.ids) / max(self.seconds, 1e-9)
            log(f"teacher {name}: {len(self.ids)} documents in {self.seconds:.1f} s "
                f"({rate:.1f} docs/s)")  # fmt: skip

    @classmethod
    def load(
        cls,
        name: str,
        ids: Sequence[str],
        texts: Sequence[str],
        *,
        device: str | None = None,
        **options: Any,
    ) -> DenseTeacher:
        """Load the dense model `name` (:func:`load_dense_model`) and encode the corpus."""
        return cls(load_dense_model(name, device), ids, texts, name=name, **options)

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """Dense [queries, docs] cosine similarities."""
        q = embed(self.model, queries, "query", self.batch_size)
        if q.shape[1] != self.doc_matrix.shape[1]:
            raise BadValueError(
                f"dense teacher {self.name!r}: query embeddings of {q.shape[1]} dimensions, "
                f"documents of {self.doc_matrix.shape[1]}"
            )
        return q @ self.doc_matrix.T

    def search(self, queries: Sequence[str], k: int) -> list[Hits]:
        """The top `k` ``(doc id, similarity)`` of each query, best first (ties: corpus
        order). Every document has a similarity, so a list always has `k` entries (or the
        whole corpus, when smaller)."""
        if not queries:
            return []
        from splade_lite.training.teacher import top_candidates  # scipy: only when searching

        if not self.ids:
            return [[] for _ in queries]
        scores = self.scores(queries)
        return [
            [(self.ids[c], float(row[c])) for c in columns]
            for row, columns in zip(scores, top_candidates(scores, k))
        ]
