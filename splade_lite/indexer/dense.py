"""Dense vector indexes in Lucene: Anserini's flat vectors, searched exactly by dot product.

The dense partner of a hybrid (a sentence-transformers model's document embeddings) is
written as Anserini's JsonDenseVectorCollection (:func:`write_dense_collection`), indexed
by :func:`~splade_lite.indexer.build.build_dense_index` and searched by
:class:`DenseIndex` through Anserini's ``FlatDenseSearcher``: brute force over the stored
vectors, so the ranking is exact, as a numpy matrix product would give (tested). Lucene
scores a dot product ``d`` as ``(1 + d) / 2``; :class:`DenseIndex` gives ``d`` back, so
scores mean the same inside and outside Java. Vectors must be unit length (the model's
normalised embeddings), which Lucene's dot-product similarity assumes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from splade_lite.errors import BadValueError
from splade_lite.indexer.errors import LuceneError
from splade_lite.indexer.jvm import autoclass

Hits = list[tuple[str, float]]
#: How far from 1 a vector's length may be (float32 rounding of a normalised embedding).
UNIT_TOLERANCE = 1e-3


def check_unit_rows(matrix: np.ndarray, what: str = "vectors") -> np.ndarray:
    """`matrix` as float32 rows of length 1, or a one-line error naming the first bad row."""
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise BadValueError(f"{what} must be a 2-d array of rows, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        row = int(np.argwhere(~np.isfinite(matrix))[0][0])
        raise BadValueError(f"{what}: row {row} holds a NaN or infinite value")
    norms = np.linalg.norm(matrix, axis=1)
    bad = np.flatnonzero(np.abs(norms - 1) > UNIT_TOLERANCE)
    if bad.size:
        raise BadValueError(
            f"{what}: row {int(bad[0])} has length {norms[bad[0]]:.4g}, not 1 (dot-product "
            "search needs normalised embeddings)"
        )
    return matrix


def write_dense_collection(path: Path, ids: Sequence[str], matrix: np.ndarray) -> int:
    """Write ``{"docid", "vector"}`` lines of `ids` and their unit rows into `path`."""
    with open(path, "w", encoding="utf-8") as handle:
        return write_dense_rows(handle, ids, matrix)


def write_dense_rows(handle: TextIO, ids: Sequence[str], matrix: np.ndarray) -> int:
    """Append the ``{"docid", "vector"}`` lines of `ids` and their unit rows to `handle` (so
    that a corpus can be written a batch at a time)."""
    matrix = check_unit_rows(matrix)
    if len(ids) != len(matrix):
        raise BadValueError(f"{len(ids)} ids for {len(matrix)} vectors")
    for docid, row in zip(ids, matrix.tolist()):
        handle.write(json.dumps({"docid": docid, "vector": row}, ensure_ascii=False) + "\n")
    return len(ids)


class DenseIndex:
    """Exact top-k by dot product over a Lucene flat dense index (one folder)."""

    def __init__(self, index_dir: str | Path) -> None:
        self.index_dir = Path(index_dir)
        if not self.index_dir.is_dir():
            raise BadValueError(f"{self.index_dir} is not a dense index folder")
        searcher = autoclass("io.anserini.search.FlatDenseSearcher")
        args = autoclass("io.anserini.search.FlatDenseSearcher$Args")()
        args.index = str(self.index_dir)
        try:
            self._searcher = searcher(args)
        except Exception as err:  # Java's exception, turned into one line naming the folder
            raise LuceneError(f"cannot open the dense index {self.index_dir}: {err}") from None

    def search(self, vector: Sequence[float] | np.ndarray, k: int) -> Hits:
        """The `k` documents of highest dot product with `vector` (unit length), best first;
        ties by document id."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise BadValueError(f"k must be a whole number >= 1, got {k!r}")
        query = check_unit_rows(np.asarray(vector, dtype=np.float32)[None, :], "the query")
        hits = self._searcher.search(query[0].tolist(), k)
        found = [(str(h.docid), 2.0 * float(h.score) - 1.0) for h in hits]
        return sorted(found, key=lambda hit: (-hit[1], hit[0]))

    def batch_search(self, vectors: Iterable, k: int) -> list[Hits]:
        """:meth:`search` of each query vector, in order."""
        return [self.search(v, k) for v in vectors]

    def close(self) -> None:
        searcher = self.__dict__.pop("_searcher", None)
        if searcher is not None:
            searcher.close()

    def __enter__(self) -> DenseIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
