"""ImpactIndexer (each term once, its weight as the term frequency) against the reference it
replaces: Anserini's JsonVectorCollection indexing of the same shards. Lucene's files carry a
fresh segment id in every header, so they are compared by what they hold: documents, stored
and doc-value ids, every posting with its frequency, norms (through BM25 scores, which read
them) and impact rankings."""

from __future__ import annotations

import json
import random

import pytest

pytestmark = pytest.mark.jvm


def _shards(folder, docs):
    folder.mkdir()
    half = len(docs) // 2
    for n, part in enumerate((docs[:half], docs[half:])):
        with open(folder / f"part-{n:05d}.jsonl", "w", encoding="utf-8") as handle:
            for docid, vector in part:
                line = {"id": docid, "contents": "", "vector": vector}
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    return folder


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    from splade_lite.indexer import build_impact_index

    rng = random.Random(5)
    vocab = [f"t{i}" for i in range(150)] + ["café", "##ing", "日本", "[unused0]", "🦴", "a.b"]
    docs = [
        (
            f"doc-{i}" if i % 7 else f"é{i}",
            {t: rng.randint(1, 400) for t in rng.sample(vocab, rng.randint(1, 50))},
        )
        for i in range(400)
    ]
    docs.append(("big", {"t1": 70_000, "t2": 1}))  # beyond float16 and 2^16
    docs.append(("no-terms", {}))  # skipped and counted by both
    root = tmp_path_factory.mktemp("impacts")
    shards = _shards(root / "vectors", docs)
    stats = build_impact_index(shards, root / "fast", threads=2)
    reference = build_impact_index(shards, root / "anserini", anserini=True)
    assert (stats.indexed, stats.empty) == (reference.indexed, reference.empty) == (401, 1)
    from splade_lite.indexer import ImpactIndex

    ImpactIndex(root / "fast")  # our JVM (Java 21+) first: pyserini would start its own
    return root, docs, vocab


def test_same_documents_postings_and_frequencies(both):
    from pyserini.index.lucene import LuceneIndexReader

    from splade_lite.indexer import count_documents, lucene_problem

    root, docs, vocab = both
    assert count_documents(root / "fast") == count_documents(root / "anserini") == len(docs) - 1
    assert lucene_problem(root / "fast") is None
    fast, ref = LuceneIndexReader(str(root / "fast")), LuceneIndexReader(str(root / "anserini"))
    for term in vocab:
        got = sorted(
            (fast.convert_internal_docid_to_collection_docid(p.docid), p.tf)
            for p in fast.get_postings_list(term, analyzer=None) or []
        )
        want = sorted(
            (ref.convert_internal_docid_to_collection_docid(p.docid), p.tf)
            for p in ref.get_postings_list(term, analyzer=None) or []
        )
        assert got == want, term
        expected = sorted((d, v[term]) for d, v in docs if term in v)  # every posting
        assert got == expected, term


def test_same_norms_and_rankings(both, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "unused")  # pyserini.search imports openai
    from pyserini.search.lucene import LuceneSearcher

    from splade_lite.indexer import ImpactIndex

    root, _, vocab = both
    bm25 = [LuceneSearcher(str(root / name)) for name in ("fast", "anserini")]
    rng = random.Random(9)
    fast, ref = ImpactIndex(root / "fast"), ImpactIndex(root / "anserini")
    for _ in range(60):
        query = {t: rng.randint(1, 3000) for t in rng.sample(vocab, rng.randint(1, 12))}
        assert fast.search(query, 30) == ref.search(query, 30)
    for term in vocab[:40]:  # BM25 reads the norms (document lengths)
        hits = [[(h.docid, h.score) for h in s.search(term, k=50)] for s in bm25]
        assert hits[0] == hits[1], term
