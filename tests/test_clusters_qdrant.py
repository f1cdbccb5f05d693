"""A Qdrant export loaded into a real engine and searched: qdrant-client's local mode.

``push --local`` loads the export (its collection body, every point in batches, the count
checked); the query bodies the export wrote are searched there as Qdrant's query API takes
them; the rankings must be splade-lite's own (Lucene's) for the same queries: the same
documents at the same ranks, wherever splade-lite's scores are not tied, and Qdrant's float
scores equal to splade-lite's integer scores / scale² (up to float32 rounding).
"""

from __future__ import annotations

import json
from itertools import groupby
from pathlib import Path

import pytest

from splade_lite.clusters import export_cluster, push_export

qdrant_client = pytest.importorskip("qdrant_client")
pytestmark = pytest.mark.jvm

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def search_bodies(client, export_dir: Path) -> dict[str, list[tuple[str, float]]]:
    """Each query body of ``queries.jsonl`` searched in Qdrant: qid -> [(docid, score)]."""
    from qdrant_client import models

    name = json.loads((export_dir / "export.json").read_text())["name"]
    out = {}
    for line in (export_dir / "queries.jsonl").read_text().splitlines():
        row = json.loads(line)
        body = row["body"]
        if body is None:
            out[row["qid"]] = []
            continue
        found = client.query_points(
            name,
            query=models.SparseVector(**body["query"]),
            using=body["using"],
            limit=body["limit"],
            with_payload=True,
        ).points
        out[row["qid"]] = [(p.payload["docid"], p.score) for p in found]
    return out


def assert_same_rankings(expected: dict, got: dict, scale: float, k: int) -> None:
    """Rankings equal but for the order within groups of tied scores (and the last group
    when the top k cut it)."""
    assert expected.keys() == got.keys()
    compared = 0
    for qid, hits in expected.items():
        theirs = got[qid]
        assert len(theirs) == len(hits), qid
        for (_, mine), (_, score) in zip(hits, theirs):
            assert score * scale**2 == pytest.approx(mine, rel=1e-5, abs=1e-3), qid
        position = 0
        groups = [list(g) for _, g in groupby(hits, key=lambda h: h[1])]
        for n, group in enumerate(groups):
            cut = n == len(groups) - 1 and len(hits) == k
            if not cut:
                ours = {d for d, _ in group}
                assert {d for d, _ in theirs[position : position + len(group)]} == ours, qid
                compared += len(group)
            position += len(group)
    assert compared > 0


def round_trip(index: Path, tmp_path: Path, queries: Path, k: int) -> None:
    from splade_lite import Searcher
    from splade_lite.trec import read_queries

    export = tmp_path / f"{index.name}-qdrant"
    manifest = export_cluster(index, export, "qdrant", name="shared", queries=queries, k=k)
    result = push_export(export, local=tmp_path / f"{index.name}-local", batch_size=64)
    assert result.count == manifest["num_docs"] == result.num_docs
    client = qdrant_client.QdrantClient(path=str(tmp_path / f"{index.name}-local"))
    try:
        assert client.count("shared", exact=True).count == manifest["num_docs"]
        got = search_bodies(client, export)
    finally:
        client.close()
    searcher = Searcher(index)
    asked = {q.id: q.text for q in read_queries(queries)}
    expected = {
        qid: [(h.docid, h.score) for h in hits]
        for qid, hits in searcher.batch_search(asked, k=k).items()
    }
    assert_same_rankings(expected, got, searcher.scale, k)


def write_queries(path: Path, texts: list[str]) -> Path:
    path.write_text(
        "".join(json.dumps({"_id": f"q{i}", "text": t}) + "\n" for i, t in enumerate(texts))
    )
    return path


@pytest.mark.parametrize("index", ["index", "index-if"])
def test_tiny_round_trip_ranks_as_splade_lite(tiny_built, tmp_path, index):
    texts = ["vitamin d and bones", "sleep and the heart", "aurora", "coffee café", "python"]
    round_trip(tiny_built / index, tmp_path, write_queries(tmp_path / "q.jsonl", texts), k=6)


@pytest.mark.slow
@pytest.mark.data
def test_scifact_round_trip_ranks_as_splade_lite(splade_tiny, tmp_path):
    """250 SciFact documents and 60 of its queries, both modes, top 10."""
    from splade_lite.encode import encode_corpus
    from splade_lite.index import build_index

    lines = (DATA / "scifact" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:250]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    queries = tmp_path / "queries.jsonl"
    asked = (DATA / "scifact" / "queries.jsonl").read_text(encoding="utf-8").splitlines()[:60]
    queries.write_text("\n".join(asked) + "\n", encoding="utf-8")
    encode_corpus(corpus, tmp_path / "vectors", encoder=splade_tiny, progress=False)
    for mode, name in (("splade", "index"), ("inference-free", "index-if")):
        build_index(tmp_path / "vectors", tmp_path / name, mode=mode)
        round_trip(tmp_path / name, tmp_path, queries, k=10)


def test_qdrant_idf_modifier_loads_and_searches(tiny_built, tmp_path):
    """--qdrant-modifier idf: Qdrant weighs each query token (weight 1) by its own IDF."""
    queries = write_queries(tmp_path / "q.jsonl", ["aurora borealis", "coffee"])
    export = tmp_path / "idf"
    export_cluster(
        tiny_built / "index-if", export, "qdrant", name="idf", queries=queries, modifier="idf"
    )
    client = qdrant_client.QdrantClient(location=":memory:")
    push_export(export, client=client)
    info = client.get_collection("idf").config.params.sparse_vectors["splade"]
    assert info.modifier == qdrant_client.models.Modifier.IDF
    got = search_bodies(client, export)
    assert got["q0"][0][0] == "d2" and got["q1"][0][0] == "d6"
