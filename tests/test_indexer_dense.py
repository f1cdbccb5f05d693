"""Lucene flat dense indexes (Anserini's IndexFlatDenseVectors, FlatDenseSearcher) rank
exactly as a numpy matrix product does, with the dot products as scores."""

from __future__ import annotations

import numpy as np
import pytest

from splade_lite.errors import BadValueError
from splade_lite.indexer.build import build_dense_index
from splade_lite.indexer.dense import DenseIndex, check_unit_rows, write_dense_collection

pytestmark = pytest.mark.jvm


def _unit(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    matrix = rng.normal(size=(rows, dim)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """300 random unit vectors of 24 dimensions in two input files, indexed once."""
    rng = np.random.default_rng(7)
    docs = _unit(rng, 300, 24)
    ids = [f"doc-{i}" for i in range(300)]
    root = tmp_path_factory.mktemp("dense")
    write_dense_collection(root / "a.jsonl", ids[:120], docs[:120])
    write_dense_collection(root / "b.jsonl", ids[120:], docs[120:])
    stats = build_dense_index([root / "a.jsonl", root / "b.jsonl"], root / "index")
    return stats, DenseIndex(root / "index"), ids, docs


def test_every_document_is_indexed(built):
    stats, *_ = built
    assert stats.indexed == 300 and stats.errors == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_search_equals_brute_force(built, seed):
    _, index, ids, docs = built
    rng = np.random.default_rng(seed)
    queries = _unit(rng, 5, 24)
    for query, hits in zip(queries, index.batch_search(queries, k=10)):
        dots = docs @ query
        order = np.argsort(-dots)[:10]
        assert [d for d, _ in hits] == [ids[i] for i in order]
        assert [s for _, s in hits] == pytest.approx([float(dots[i]) for i in order], abs=1e-5)


def test_k_beyond_the_documents_gives_them_all(built):
    _, index, ids, docs = built
    hits = index.search(docs[0], k=1000)
    assert len(hits) == 300 and hits[0][0] == "doc-0"
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)  # a vector with itself


def test_bad_vectors_and_arguments_are_one_line_errors(built, tmp_path):
    _, index, *_ = built
    long_row = np.ones((3, 4), dtype=np.float32) / 2
    long_row[1] *= 3
    with pytest.raises(BadValueError, match="row 1 has length 3"):
        check_unit_rows(long_row)
    with pytest.raises(BadValueError, match="row 0 holds a NaN"):
        check_unit_rows(np.full((1, 4), np.nan))
    with pytest.raises(BadValueError, match="2 ids for 3 vectors"):
        write_dense_collection(tmp_path / "x.jsonl", ["a", "b"], np.ones((3, 4)) / 2)
    with pytest.raises(BadValueError, match="k must be"):
        index.search(np.ones(24) / np.sqrt(24), k=0)
    with pytest.raises(BadValueError, match="not 1"):
        index.search(np.ones(24), k=3)
    with pytest.raises(BadValueError, match="not a dense index folder"):
        DenseIndex(tmp_path / "missing")
