"""Pruning rules, and pruned shards (the index built from them is tested in test_index)."""

from __future__ import annotations

import json

import pytest

from splade_lite.pruning import Pruning, prune_shards
from splade_lite.vectors import EMPTY_DOC_TOKEN


def test_pruning_rules():
    query = {"a": 50, "b": 120, "c": 300, "d": 120, "e": 99}
    assert Pruning(min_weight=1.0).apply(query, 100) == {"b": 120, "c": 300, "d": 120}
    # the heaviest two; b and d tie at 120, the lower term wins; input order kept
    assert Pruning(max_terms=2).apply(query, 100) == {"b": 120, "c": 300}
    assert Pruning(min_weight=2.0, max_terms=5).apply(query, 100) == {"c": 300}
    assert Pruning().apply(query, 100) == query
    for bad in ({"min_weight": -1}, {"min_weight": float("nan")}, {"max_terms": 0}):
        with pytest.raises(ValueError):
            Pruning(**bad)

    assert not Pruning().active and Pruning(max_terms=3).active


def test_prune_shards(tmp_path):
    src = tmp_path / "v"
    src.mkdir()
    docs = [
        {"id": "a", "contents": "", "vector": {"x": 5, "y": 300, "z": 120}},
        {"id": "b", "contents": "", "vector": {"x": 10}},  # nothing survives min_weight
        {"id": "c", "contents": "", "vector": {EMPTY_DOC_TOKEN: 1}},  # empty from the start
    ]
    (src / "part-00000.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    stats = prune_shards(src, tmp_path / "out", Pruning(min_weight=1.0, max_terms=1), 100.0)
    lines = [
        json.loads(x) for x in (tmp_path / "out" / "part-00000.jsonl").read_text().splitlines()
    ]
    assert [d["id"] for d in lines] == ["a", "b", "c"]
    assert [d["vector"] for d in lines] == [{"y": 300}, {EMPTY_DOC_TOKEN: 1}, {EMPTY_DOC_TOKEN: 1}]
    assert (stats.docs, stats.postings_before, stats.postings_after, stats.emptied) == (3, 4, 1, 1)
    (src / "part-00001.jsonl").write_text('{"id": "a", "contents": "", "vector": {"x": 1}}\n')
    with pytest.raises(ValueError, match="duplicate id"):
        prune_shards(src, tmp_path / "out2", Pruning(max_terms=1), 100.0)
