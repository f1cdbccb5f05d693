"""Tests of splade_lite.indexer against Anserini/Lucene, checked with independent arithmetic.

One impact index and one BM25 index are built once for the module (two Java subprocesses);
the in-process JVM starts once per pytest process. The ``jvm`` tests are skipped (by
conftest.py) where Java 21+ or Pyserini's Anserini jar is missing.
"""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splade_lite.vectors import EMPTY_DOC_TOKEN

jvm = pytest.mark.jvm

# Hand-written documents: sub-word pieces, special tokens, non-ASCII and mixed case must all
# come back verbatim; d06 and d07 are identical (ties); d09 only holds the empty-document
# marker (kept in the index, read back as {}); d10 has no term at all (Anserini drops it).
DOCS: dict[str, dict[str, int]] = {
    "d01": {"run": 3, "##ing": 2, "[unused0]": 1, "é": 5},
    "d02": {"run": 1, "dog": 4, "café": 2},
    "d03": {"dog": 2, "##ing": 7, "Paris": 1},
    "d04": {"é": 1, "naïve": 3, "[CLS]": 2, "run": 2},
    "d05": {"café": 9},
    "d06": {"dog": 3, "run": 1},
    "d07": {"dog": 3, "run": 1},
    "d08": {"##ing": 1, "[unused0]": 4, "dog": 1, "Paris": 6, "é": 2},
    "d09": {EMPTY_DOC_TOKEN: 1},
    "d10": {},
    "d11": {"x-ray": 2, "run": 5, "dog": 1},
    "d12": {"naïve": 1, "café": 1, "[CLS]": 1},
}
SHARDS = (["d01", "d02", "d03", "d04", "d05"], ["d06", "d07", "d08", "d09"], ["d10", "d11", "d12"])
INDEXED = {d: v for d, v in DOCS.items() if v}

BM25_DOCS = {
    "b1": "The quick brown fox jumps over the lazy dog",
    "b2": "Dogs are running in the park",
    "b3": "A treatise on Lucene scoring and the BM25 ranking function",
    "b4": "Foxes and wolves: running wild",
    "b5": "Café culture in Paris",
}


def _write_shards(folder: Path) -> None:
    folder.mkdir(parents=True)
    for n, ids in enumerate(SHARDS):
        with open(folder / f"part-{n:05d}.jsonl", "w", encoding="utf-8") as f:
            for docid in ids:
                row = {"id": docid, "contents": "", "vector": DOCS[docid]}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    # companions of the shards in a real vectors folder; the indexer must not read them
    (folder / "vectors.json").write_text(json.dumps({"count": len(DOCS)}))
    (folder / "df.json").write_text(json.dumps({"run": 6}))
    with gzip.open(folder / "docs.jsonl.gz", "wt") as g:
        g.write(json.dumps({"id": "d01", "text": "not a vector"}) + "\n")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Impact index at the top of a folder that also holds our files and a bm25/ index."""
    from splade_lite.indexer import build_bm25_index, build_impact_index

    root = tmp_path_factory.mktemp("indexer")
    vectors = root / "vectors"
    _write_shards(vectors)
    index = root / "index"
    lines: list[str] = []
    impact_stats = build_impact_index(vectors, index, threads=2, log=lines.append)
    (index / "splade_lite.json").write_text(json.dumps({"scale": 100}))
    (index / "idf.json").write_text(json.dumps({"run": 0.5}))
    with gzip.open(index / "docs.jsonl.gz", "wt") as g:
        g.write("{}\n")
    corpus = root / "corpus"
    corpus.mkdir()
    with open(corpus / "corpus.jsonl", "w", encoding="utf-8") as f:
        for docid, text in BM25_DOCS.items():
            f.write(json.dumps({"id": docid, "contents": text}) + "\n")
    (corpus / "meta.json").write_text("{}")  # not a corpus file: must be ignored
    bm25_stats = build_bm25_index(corpus, index / "bm25")
    return {
        "index": index,
        "impact_stats": impact_stats,
        "bm25_stats": bm25_stats,
        "log": lines,
    }


@pytest.fixture(scope="module")
def impact(built: dict):
    from splade_lite.indexer import ImpactIndex

    with ImpactIndex(built["index"]) as index:
        yield index


def _brute_force(query: dict[str, int], k: int) -> list[tuple[str, float]]:
    """Integer dot products over the input vectors, ranked by score then docid (numpy)."""
    vocab = sorted({t for v in INDEXED.values() for t in v} | set(query))
    col = {t: i for i, t in enumerate(vocab)}
    ids = sorted(INDEXED)
    matrix = np.zeros((len(ids), len(vocab)), dtype=np.int64)
    for r, docid in enumerate(ids):
        for token, w in INDEXED[docid].items():
            matrix[r, col[token]] = w
    q = np.zeros(len(vocab), dtype=np.int64)
    for token, w in query.items():
        q[col[token]] = w
    scores = matrix @ q
    ranked = sorted((-int(s), docid) for docid, s in zip(ids, scores) if s > 0)
    return [(docid, float(-s)) for s, docid in ranked[:k]]


def _random_queries(n: int, seed: int = 7) -> list[dict[str, int]]:
    rng = random.Random(seed)
    vocab = sorted({t for v in INDEXED.values() for t in v} - {EMPTY_DOC_TOKEN})
    vocab.append("absent-token")
    return [{t: rng.randint(1, 50) for t in rng.sample(vocab, rng.randint(1, 6))} for _ in range(n)]


def _fake_java_home(root: Path, version: str) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "java").write_text("")
    (root / "release").write_text(f'JAVA_VERSION="{version}"\n')
    return root


def test_java_home_override_and_version_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from splade_lite.indexer import JavaError, java_home
    from splade_lite.indexer.jvm import ENV_JAVA_HOME, java_major_version

    new = _fake_java_home(tmp_path / "new", "25.0.2")
    monkeypatch.setenv(ENV_JAVA_HOME, str(new))
    assert java_home() == new
    old = _fake_java_home(tmp_path / "old", "17.0.9")
    monkeypatch.setenv(ENV_JAVA_HOME, str(old))
    with pytest.raises(JavaError, match="too old"):
        java_home()
    assert java_major_version(_fake_java_home(tmp_path / "j8", "1.8.0_392")) == 8
    monkeypatch.setenv(ENV_JAVA_HOME, str(tmp_path / "missing"))
    with pytest.raises(JavaError, match="no bin/java"):
        java_home()


def test_import_starts_no_jvm() -> None:
    code = "import sys, splade_lite.indexer; assert 'jnius' not in sys.modules, 'JVM started'"
    subprocess.run([sys.executable, "-c", code], check=True)


@jvm
def test_build_counts(built: dict) -> None:
    stats = built["impact_stats"]
    assert (stats.indexed, stats.empty, stats.skipped, stats.errors) == (len(INDEXED), 1, 0, 0)
    assert stats.seconds > 0
    assert any("indexed" in line for line in built["log"])
    assert built["bm25_stats"].indexed == len(BM25_DOCS)


@jvm
def test_counts(built: dict, impact) -> None:
    from splade_lite.indexer import count_documents

    assert impact.num_docs == len(INDEXED)
    assert count_documents(built["index"]) == len(INDEXED)
    assert count_documents(built["index"] / "bm25") == len(BM25_DOCS)


@jvm
def test_search_equals_dot_products(impact) -> None:
    for query in _random_queries(40):
        assert impact.search(query, 5) == _brute_force(query, 5), query
        assert impact.search(query, 100) == _brute_force(query, 100), query


@jvm
def test_special_tokens_match_verbatim(impact) -> None:
    assert impact.search({"[unused0]": 1}, 10) == [("d08", 4.0), ("d01", 1.0)]
    assert impact.search({"é": 2, "##ing": 1}, 10) == _brute_force({"é": 2, "##ing": 1}, 10)
    assert impact.search({"naïve": 1, "[CLS]": 1}, 10) == [("d04", 5.0), ("d12", 2.0)]
    assert impact.search({"paris": 1}, 10) == []  # case is kept, not folded


@jvm
def test_ties_broken_by_docid(impact) -> None:
    hits = impact.search({"dog": 1, "run": 1}, 10)
    assert hits == _brute_force({"dog": 1, "run": 1}, 10)
    assert ("d06", 4.0) in hits and hits.index(("d06", 4.0)) + 1 == hits.index(("d07", 4.0))


@jvm
def test_query_edge_cases(impact) -> None:
    assert impact.search({}, 10) == []
    assert impact.search({"run": 0}, 10) == []
    assert impact.search({"run": 1}, 0) == []
    assert impact.search({"run": np.int64(2), "dog": 0}, 3) == _brute_force({"run": 2}, 3)
    with pytest.raises(TypeError):
        impact.search({"run": 1.5}, 10)


@jvm
def test_batch_search_equals_search(impact) -> None:
    queries = [*_random_queries(25, seed=3), {}, {"absent-token": 3}]
    for threads in (1, 2):
        batch = impact.batch_search(queries, 7, threads=threads)
        assert batch == [impact.search(q, 7) for q in queries]
    assert impact.batch_search([], 10) == []


@jvm
def test_read_document_vectors_round_trip(built: dict) -> None:
    from splade_lite.indexer import read_document_vectors

    got = list(read_document_vectors(built["index"]))
    assert len(got) == len(INDEXED)
    expected = {d: {t: w for t, w in v.items() if t != EMPTY_DOC_TOKEN} for d, v in INDEXED.items()}
    assert dict(got) == expected
    assert dict(got)["d09"] == {}


@jvm
def test_index_terms_df(built: dict) -> None:
    from splade_lite.indexer import index_terms_df

    expected: dict[str, int] = {}
    for vector in INDEXED.values():
        for token in vector:
            if token != EMPTY_DOC_TOKEN:
                expected[token] = expected.get(token, 0) + 1
    assert index_terms_df(built["index"]) == expected


@jvm
def test_bm25_search(built: dict) -> None:
    from splade_lite.indexer import BM25Index

    with BM25Index(built["index"] / "bm25") as bm25:
        assert bm25.num_docs == len(BM25_DOCS)
        hits = bm25.search("running dog", 10)
        assert {d for d, _ in hits} == {"b1", "b2", "b4"}  # Porter: running -> run, dogs -> dog
        assert hits[0][0] == "b2"  # the only document with both terms
        assert all(a[1] >= b[1] for a, b in zip(hits, hits[1:]))
        assert bm25.search("the and of", 10) == []  # stopwords only
        assert bm25.search("   ", 10) == []
        queries = ["running dog", "", "café paris", "lucene scoring", "the"]
        assert bm25.batch_search(queries, 3, threads=2) == [bm25.search(q, 3) for q in queries]


@jvm
def test_bad_shard_raises(tmp_path: Path) -> None:
    from splade_lite.indexer import IndexBuildError, build_impact_index

    vectors = tmp_path / "vectors"
    vectors.mkdir()
    (vectors / "part-00000.jsonl").write_text(
        '{"id": "a", "contents": "", "vector": {"x": 1}}\nnot json\n'
    )
    with pytest.raises(IndexBuildError, match="Unrecognized token"):
        build_impact_index(vectors, tmp_path / "index")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IndexBuildError, match="no vector shards"):
        build_impact_index(empty, tmp_path / "index2")


@jvm
def test_same_rankings_as_anserinis_own_searchers(built: dict, impact) -> None:
    """TopHits ranks exactly like Anserini's SimpleImpactSearcher / SimpleSearcher (which
    load each hit's stored document and nudge tied scores); only the id lookup differs."""
    from splade_lite.indexer import BM25Index
    from splade_lite.indexer.jvm import autoclass

    anserini_impact = autoclass("io.anserini.search.SimpleImpactSearcher")(str(built["index"]))
    hash_map = autoclass("java.util.HashMap")
    integer = autoclass("java.lang.Integer")
    for query in _random_queries(30):
        jmap = hash_map()
        for token, weight in query.items():
            jmap.put(token, integer(weight))
        theirs = [(h.docid, round(h.score)) for h in anserini_impact.search(jmap, 10)]
        ours = [(d, round(s)) for d, s in impact.search(query, 10)]
        assert ours == theirs, query
    anserini_bm25 = autoclass("io.anserini.search.SimpleSearcher")(str(built["index"] / "bm25"))
    anserini_bm25.set_bm25(0.9, 0.4)
    with BM25Index(built["index"] / "bm25") as bm25:
        for text in ["running dog", "café paris", "lucene scoring", "dogs run in paris"]:
            theirs = [(h.docid, h.score) for h in anserini_bm25.search(text, 10)]
            ours = bm25.search(text, 10)
            assert [d for d, _ in ours] == [d for d, _ in theirs], text
            assert [s for _, s in ours] == pytest.approx([s for _, s in theirs], abs=1e-3)


# -- inference-free queries built in Java ------------------------------------------------------


@pytest.fixture(scope="module")
def idf_queries(splade_tiny):
    """The Python query encoder and its Java copy, over an IDF table with zeros in it."""
    from splade_lite.encoders.inference_free import IdfQueryEncoder
    from splade_lite.indexer import IdfQueries

    terms = splade_tiny.terms
    idf = {t: (i * 7919 % 900) / 100 for i, t in enumerate(terms)}  # about 1 in 90 is 0
    encoder = IdfQueryEncoder(splade_tiny.tokenizer, idf, terms)
    assert encoder.wordpiece is not None
    return encoder, IdfQueries(encoder.wordpiece, terms, encoder.quantized_table(100))


def _python_query(encoder, text: str, max_terms: int | None = None) -> str:
    from splade_lite.pruning import Pruning

    (query,) = encoder.quantized_terms([text], 100)
    if max_terms is not None:
        query = Pruning(max_terms=max_terms).apply(query, 100)
    return " ".join(f"{t} {w}" for t, w in query.items())


def _check_java_query(encoder, java, text: str, max_terms: int | None = None) -> None:
    got = java.encode(text)
    if got is None:  # left to Python: non-ASCII text, or an added token such as [CLS]
        lowered = text.lower()
        assert not text.isascii() or any(
            t in text or t in lowered for t in encoder.wordpiece.added
        ), text
    else:
        assert got == _python_query(encoder, text, max_terms), text


@jvm
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80) | st.text(max_size=20))
def test_idf_queries_built_in_java_equal_pythons(idf_queries, text: str) -> None:
    _check_java_query(*idf_queries, text)


@jvm
@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(["cell", "cells", "the", "of", "gene", "ics", "x", "##", "a1"])).map(
        " ".join
    ),
    st.integers(1, 4),
)
def test_idf_queries_keep_the_heaviest_terms_as_pruning_does(coarse, text, max_terms):
    encoder, java = coarse
    _check_java_query(encoder, java[max_terms], text, max_terms)


@pytest.fixture(scope="module")
def coarse(splade_tiny):
    """An encoder whose weights are multiples of 0.5 (ties at a term cut are common), and its
    Java copies keeping 1 to 4 terms."""
    from splade_lite.encoders.inference_free import IdfQueryEncoder
    from splade_lite.indexer import IdfQueries

    terms = splade_tiny.terms
    idf = {t: (i * 7919 % 900) // 50 * 0.5 for i, t in enumerate(terms)}
    encoder = IdfQueryEncoder(splade_tiny.tokenizer, idf, terms)
    table = encoder.quantized_table(100)
    return encoder, {n: IdfQueries(encoder.wordpiece, terms, table, n) for n in range(1, 5)}


@jvm
def test_idf_queries_edge_cases(idf_queries) -> None:
    from splade_lite.indexer import IdfQueries

    encoder, java = idf_queries
    for text in ("", "   ", "x" * 101, "antidisestablishmentarianism", "a\x00b c\td", "IL-6's"):
        _check_java_query(encoder, java, text)
    assert java.encode("") == ""
    assert java.encode("café") is None and java.encode("what [MASK] is") is None
    with pytest.raises(ValueError, match="whitespace"):
        IdfQueries(encoder.wordpiece, ["a b", "c"], [1, 1])
    with pytest.raises(ValueError, match="weights"):
        IdfQueries(encoder.wordpiece, ["a", "c"], [1])


@jvm
@pytest.mark.data
def test_idf_queries_of_every_shared_query(idf_queries) -> None:
    data = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    paths = sorted(data.glob("*/queries.jsonl"))
    if not paths:
        pytest.skip(f"no collections in {data}")
    for path in paths:
        for line in path.open(encoding="utf-8"):
            _check_java_query(*idf_queries, json.loads(line)["text"])


def test_lucene_buffer_is_a_quarter_of_the_heap_within_bounds():
    from splade_lite.indexer.build import memory_buffer_mb

    assert memory_buffer_mb("1g") == 256
    assert memory_buffer_mb("8g") == 512  # capped
    assert memory_buffer_mb("64m") == 32  # floor
    assert memory_buffer_mb("2048m") == 512
    assert memory_buffer_mb(None, ram_bytes=4 * 2**30) == 256  # Java's default: RAM / 4
    assert memory_buffer_mb(None, ram_bytes=64 * 2**30) == 512
