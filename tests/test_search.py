"""End to end through Lucene: encode -> index -> search, checked against brute-force scoring."""

from __future__ import annotations

import json
import math

import pytest

from splade_lite.encode import encode_corpus, read_vector_shards
from splade_lite.index import build_index, export_index
from splade_lite.search import Hit, Searcher
from splade_lite.vectors import EMPTY_DOC_TOKEN

pytestmark = pytest.mark.jvm

QUERIES = [
    "vitamin deficiency and bone health",
    "northern lights",
    "how to pause a program",
    "coffee",
    "heart disease risk from too little sleep",
    "zzzz qqqq",
]


@pytest.fixture(scope="module")
def built(tiny_built, tiny_built_meta):
    """The session's small index (conftest.py, read only), what build_index returned for it,
    and its documents' vectors."""
    docs = {r["id"]: r["vector"] for r in read_vector_shards(tiny_built / "vectors")}
    return tiny_built, tiny_built_meta["index"], docs


def brute_force(query: dict[str, int], docs: dict[str, dict[str, int]]) -> dict[str, int]:
    scores = {d: sum(w * vec.get(t, 0) for t, w in query.items()) for d, vec in docs.items()}
    return {d: s for d, s in scores.items() if s > 0}


@pytest.mark.parametrize("mode", ["splade", "inference-free"])
def test_scores_equal_integer_dot_products(built, mode, tmp_path, tiny_corpus, splade_tiny):
    root, _, docs = built
    index = root / "index"
    if mode == "inference-free":
        encode_corpus(tiny_corpus, tmp_path / "v", mode=mode, progress=False)
        build_index(tmp_path / "v", tmp_path / "i")
        index = tmp_path / "i"
    searcher = Searcher(index)
    assert searcher.mode == mode
    for text, query in zip(QUERIES, searcher.query_terms(QUERIES)):
        expected = brute_force(query, docs)
        hits = searcher.search(text, k=10)
        assert {h.docid: h.score for h in hits} == expected, text
        assert [h.score for h in hits] == sorted(expected.values(), reverse=True)


def test_inference_free_query_is_idf_of_distinct_tokens(built, tmp_path, tiny_corpus):
    encode_corpus(tiny_corpus, tmp_path / "v", mode="inference-free", progress=False)
    meta = build_index(tmp_path / "v", tmp_path / "i")
    assert meta["mode"] == "inference-free" and meta["idf_source"] == "corpus"
    searcher = Searcher(tmp_path / "i")
    (query,) = searcher.query_terms(["Sleep sleep coffee [CLS]"])
    # 'sleep' is in 2 of 6 documents, 'coffee' in 1: idf = log(7 / (df + 1)), scaled by 100
    assert query == {"sleep": round(100 * math.log(7 / 3)), "coffee": round(100 * math.log(7 / 2))}
    assert searcher.search("Sleep sleep coffee [CLS]", k=3)[0].docid in {"d3", "d5", "d6"}


def test_inference_free_queries_drop_low_idf_tokens_by_default(tmp_path):
    """The default IDF floor of inference-free queries drops a token found in most documents
    and nothing else; ``Pruning()`` keeps every token."""
    from splade_lite.encoders.inference_free import read_idf_file
    from splade_lite.pruning import Pruning

    topics = ["coffee", "sleep", "aurora", "vitamin", "python", "heart", "bones", "solar"]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"_id": f"d{i}", "title": "", "text": f"{'study' if i < 6 else 'note'} {t}"})
            + "\n"
            for i, t in enumerate(topics)
        )
    )
    encode_corpus(corpus, tmp_path / "v", mode="inference-free", progress=False)
    build_index(tmp_path / "v", tmp_path / "i")
    idf = read_idf_file(tmp_path / "i" / "idf.json")
    assert idf["study"] < 0.5 < idf["coffee"]  # in 6 documents of 8 / in one
    default, everything = Searcher(tmp_path / "i"), Searcher(tmp_path / "i", pruning=Pruning())
    texts = ["a study of coffee", "sleep note", "aurora study"]
    for text, full, kept in zip(texts, everything.query_terms(texts), default.query_terms(texts)):
        assert kept == {t: w for t, w in full.items() if idf[t] >= 0.5}, text
    assert "study" in everything.query_terms(["a study of coffee"])[0]
    assert "study" not in default.query_terms(["a study of coffee"])[0]
    full = everything.query_terms(["a study of coffee"])[0]
    assert default.pruned_terms("a study of coffee") == {"study": full["study"]}
    assert everything.pruned_terms("a study of coffee") == {}
    assert default.search("a study of coffee", k=1)[0].docid == "d0"
    assert Searcher(tmp_path / "i", pruning=Pruning(min_weight=0.0)).pruning is None
    # a model's own IDF table may be on another scale: no default floor for it
    from splade_lite.pruning import default_pruning

    meta = json.loads((tmp_path / "i" / "splade_lite.json").read_text())
    assert meta["idf_source"] == "corpus" and default_pruning(meta) == Pruning(0.5)
    assert default_pruning({**meta, "idf_source": "model"}) is None
    assert default_pruning({**meta, "mode": "splade"}) is None


def test_batch_search_equals_single(built):
    root, _, _ = built
    searcher = Searcher(root / "index")
    single = [searcher.search(q, k=3) for q in QUERIES]
    assert searcher.batch_search(QUERIES, k=3, threads=2) == single
    assert all(isinstance(h, Hit) for hits in single for h in hits)
    with pytest.raises(ValueError):
        searcher.search("x", k=0)


def test_index_metadata_and_every_document_indexed(built):
    root, meta, docs = built
    assert meta["num_docs"] == len(docs) == 6
    stored = json.loads((root / "index" / "splade_lite.json").read_text())
    assert stored == meta
    for key in ("model", "model_sha256", "mode", "scale", "max_length", "idf_source"):
        assert key in stored
    assert (root / "index" / "idf.json").is_file()
    assert (root / "index" / "tokenizer").is_dir()
    assert meta["bm25"]["k1"] == 0.9 and meta["bm25"]["b"] == 0.4


def test_empty_vector_document_is_indexed_and_exported(tmp_path):
    vectors = tmp_path / "v"
    vectors.mkdir()
    records = [
        {"id": "a", "contents": "", "vector": {"x": 3, "##y": 2}},
        {"id": "b", "contents": "", "vector": {EMPTY_DOC_TOKEN: 1}},
    ]
    (vectors / "part-00000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (vectors / "vectors.json").write_text(
        json.dumps(
            {
                "model": "splade-tiny",
                "model_sha256": None,
                "mode": "splade",
                "scale": 100,
                "max_length": 256,
                "pooling": "max",
                "num_docs": 2,
            }
        )
    )
    (vectors / "df.json").write_text(json.dumps({"num_docs": 2, "df": {"x": 1}}))
    meta = build_index(vectors, tmp_path / "i")
    assert meta["num_docs"] == 2
    export_index(tmp_path / "i", tmp_path / "e")
    back = {r["id"]: r["vector"] for r in read_vector_shards(tmp_path / "e")}
    # the placeholder goes back out, so that the export indexes again with every document
    assert back == {"a": {"x": 3, "##y": 2}, "b": {EMPTY_DOC_TOKEN: 1}}
    assert build_index(tmp_path / "e", tmp_path / "again")["num_docs"] == 2


def test_export_round_trip(built, tmp_path, monkeypatch):
    root, _, docs = built
    count = export_index(root / "index", tmp_path / "out", compress=True)
    assert count == len(docs)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "idf.json",
        "part-00000.jsonl.gz",
        "tokenizer",
        "vectors.json",
    ]
    back = {r["id"]: r["vector"] for r in read_vector_shards(tmp_path / "out")}
    assert back == docs
    # an export is itself a vectors folder: it indexes again to the same search results,
    # with the tokenizer it carries (the model is not looked up)
    import splade_lite.index

    def no_lookup(*args, **kwargs):
        raise AssertionError("build_index looked the model up")

    monkeypatch.setattr(splade_lite.index, "resolve_recorded", no_lookup)
    build_index(tmp_path / "out", tmp_path / "again")
    monkeypatch.undo()
    first, second = Searcher(root / "index"), Searcher(tmp_path / "again")
    assert first.batch_search(QUERIES, k=5) == second.batch_search(QUERIES, k=5)


def test_bm25_beside_the_impact_index(built):
    root, _, _ = built
    bm25 = Searcher(root / "index", bm25=True)
    hits = bm25.search("aurora borealis", k=3)
    assert hits[0].docid == "d2"
    assert bm25.search("the", k=3) == []  # a stopword alone matches nothing
    docs = bm25.documents(["d2", "nope"])
    assert docs["d2"]["text"].startswith("The aurora") and "nope" not in docs
    # `mode` is how the index was encoded, whatever ranks: the query encoder still loads
    assert (bm25.ranking, bm25.mode) == ("bm25", "splade")
    sparse = Searcher(root / "index")
    assert bm25.query_terms(["aurora"]) == sparse.query_terms(["aurora"])
    with pytest.raises(ValueError, match="BM25 searcher"):
        bm25.batch_search_terms(sparse.query_terms(["aurora"]))


def test_refuses_to_overwrite_and_to_search_without_bm25(built, tmp_path):
    root, _, _ = built
    with pytest.raises(FileExistsError, match="--overwrite"):
        build_index(root / "vectors", root / "index")
    build_index(root / "vectors", tmp_path / "plain")
    with pytest.raises(FileNotFoundError, match="bm25-corpus"):
        Searcher(tmp_path / "plain", bm25=True)
    # nothing half-built is left next to the target
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_refuses_a_model_whose_weights_changed(built, tmp_path):
    import shutil

    root, _, _ = built
    shutil.copytree(root / "index", tmp_path / "index")
    meta_file = tmp_path / "index" / "splade_lite.json"
    meta = json.loads(meta_file.read_text())
    meta["model_sha256"] = "0" * 64
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="sha256"):
        Searcher(tmp_path / "index").search("coffee")


def test_blank_queries_match_nothing(built):
    root, _, docs = built
    for searcher in (Searcher(root / "index"), Searcher(root / "index", bm25=True)):
        results = searcher.batch_search(["", "coffee", "   "], k=3)
        assert results[0] == [] and results[2] == []
        assert results[1] and results[1] == searcher.search("coffee", k=3)
        with pytest.raises(ValueError, match="empty"):
            searcher.search(" \t")


def test_search_with_term_weights(built):
    root, _, docs = built
    searcher = Searcher(root / "index")
    query = {"coffee": 3, "sleep": 2, "not-a-term": 50}
    (hits,) = searcher.batch_search_terms([query], k=10)
    assert {h.docid: h.score for h in hits} == brute_force(query, docs)
    assert searcher.batch_search_terms([{}], k=10) == [[]]


def test_hybrid_is_the_fusion_of_both_lists(built):
    from splade_lite.fusion import fuse
    from splade_lite.search import Hybrid

    root, _, _ = built
    sparse, bm25 = Searcher(root / "index"), Searcher(root / "index", bm25=True)
    for settings in (Hybrid(), Hybrid(fusion="rrf", depth=3), Hybrid(alpha=0.8, depth=2)):
        hybrid = Searcher(root / "index", hybrid=settings)
        for query in QUERIES[:5]:
            depth = settings.depth_for(hybrid.mode, 4)
            a = [(h.docid, h.score) for h in sparse.search(query, k=depth)]
            b = [(h.docid, h.score) for h in bm25.search(query, k=depth)]
            expected = fuse(a, b, settings.fusion, alpha=settings.alpha)[:4]
            got = hybrid.search(query, k=4)
            # fused in Java, with the same arithmetic: identical, not merely close
            assert [(h.docid, h.score) for h in got] == expected, (query, settings)
        batch = hybrid.batch_search(QUERIES + ["  "], k=4, threads=3)
        assert batch == [hybrid.search(q, k=4) for q in QUERIES] + [[]]
        from splade_lite.indexer import BM25Index, ImpactIndex, hybrid_search

        impact, lexical = ImpactIndex(root / "index"), BM25Index(root / "index" / "bm25")
        for query, terms in zip(QUERIES, sparse.query_terms(QUERIES)):
            options = dict(depth=settings.depth_for(hybrid.mode, 4), k=4, fusion=settings.fusion)
            options.update(alpha=settings.alpha, rrf_k=settings.rrf_k)
            two_threads = hybrid_search(
                impact, lexical, [terms], [query], concurrent=True, **options
            )
            assert [list(map(tuple, hybrid.search(query, k=4)))] == two_threads
    # a document only BM25 finds is still returned
    only_bm25 = Searcher(root / "index", hybrid=True).search("aurora borealis", k=6)
    assert "d2" in {h.docid for h in only_bm25}
    with pytest.raises(ValueError):
        Searcher(root / "index", bm25=True, hybrid=True)
    with pytest.raises(ValueError, match="fusion"):
        Hybrid(fusion="max")


def test_hybrid_depth_defaults_by_mode_and_never_below_k():
    from splade_lite.search import Hybrid

    default = Hybrid()
    assert default.depth_for("inference-free", 10) == 30
    assert default.depth_for("splade", 10) == 100
    assert default.depth_for("inference-free", 1000) == 1000  # k deeper than the default
    assert Hybrid(depth=7).depth_for("splade", 5) == 7
    assert Hybrid(depth=7).depth_for("inference-free", 50) == 50
    with pytest.raises(ValueError, match="depth"):
        Hybrid(depth=0)


@pytest.mark.parametrize("query", QUERIES[:5])
def test_explanation_adds_up_to_the_search_score(built, query):
    root, _, docs = built
    searcher = Searcher(root / "index")
    for hit in searcher.search(query, k=3):
        explanation = searcher.explain(query, hit.docid)
        assert explanation.score == hit.score
        assert sum(t.contribution for t in explanation.matched) == hit.score
        assert explanation.doc_terms == docs[hit.docid]
    with pytest.raises(KeyError, match="not in"):
        searcher.explain(query, "no-such-doc")


def test_feedback_searches_the_expanded_query(built):
    from splade_lite.feedback import Feedback, rocchio

    root, _, docs = built
    settings = Feedback(docs=2, terms=5, beta=0.5)
    plain, fb = Searcher(root / "index"), Searcher(root / "index", feedback=settings)
    for query in QUERIES[:5]:
        (terms,) = plain.query_terms([query])
        top = [h.docid for h in plain.search(query, k=2)]
        expanded = rocchio(terms, [docs[d] for d in top], settings)
        assert fb.expand([terms]) == [expanded]
        got = {h.docid: h.score for h in fb.search(query, k=10)}
        assert got == brute_force(expanded, docs)
        # the explanation follows the expanded query too
        for docid, score in got.items():
            assert fb.explain(query, docid).score == score


def test_pruned_search_is_the_search_of_the_pruned_query(built):
    from splade_lite.pruning import Pruning

    root, _, docs = built
    full = Searcher(root / "index")
    for pruning in (Pruning(max_terms=3), Pruning(min_weight=0.5)):
        pruned = Searcher(root / "index", pruning=pruning)
        for text, terms in zip(QUERIES[:5], full.query_terms(QUERIES[:5])):
            kept = pruning.apply(terms, full.scale)
            assert pruned.query_terms([text]) == [kept]
            assert len(kept) < len(terms)  # the settings above do prune these queries
            got = {h.docid: h.score for h in pruned.search(text, k=10)}
            assert got == brute_force(kept, docs)
            for docid, score in got.items():
                assert pruned.explain(text, docid).score == score


def test_doc_pruned_index_scores_the_pruned_documents(built, tmp_path):
    from splade_lite.pruning import Pruning

    root, _, docs = built
    pruning = Pruning(max_terms=20, min_weight=0.3)
    meta = build_index(root / "vectors", tmp_path / "pruned", doc_pruning=pruning)
    kept = {d: pruning.apply(v, 100.0) for d, v in docs.items()}
    assert meta["doc_pruning"]["postings_after"] == sum(len(v) for v in kept.values())
    assert meta["doc_pruning"]["postings_before"] == sum(len(v) for v in docs.values())
    assert meta["doc_pruning"]["postings_after"] < meta["doc_pruning"]["postings_before"]
    assert meta["num_docs"] == len(docs)  # no document lost, even one left without terms
    assert not (tmp_path / "pruned" / ".pruned-vectors").exists()
    searcher = Searcher(tmp_path / "pruned")
    for text, query in zip(QUERIES, searcher.query_terms(QUERIES)):
        got = {h.docid: h.score for h in searcher.search(text, k=10)}
        assert got == dict(sorted(brute_force(query, kept).items(), key=lambda x: -x[1])[:10])
        for docid in list(got)[:2]:
            assert searcher.explain(text, docid).doc_terms == kept[docid]


def test_inference_free_search_in_java_equals_the_python_path(tmp_path, tiny_corpus):
    """A query tokenized and weighted in Java gets the hits of the Python-encoded query, in
    plain and hybrid search; what Java cannot take (non-ASCII, [CLS]) goes through Python."""
    from splade_lite.pruning import Pruning
    from splade_lite.search import Hybrid

    encode_corpus(tiny_corpus, tmp_path / "v", mode="inference-free", progress=False)
    build_index(tmp_path / "v", tmp_path / "i", bm25_corpus=tiny_corpus)
    texts = QUERIES + ["Café au lait, naïvely", "[CLS] coffee", "the and of", "?!"]
    settings = [
        {},
        {"pruning": Pruning()},
        {"hybrid": True},
        {"hybrid": Hybrid(fusion="rrf", depth=2)},
        {"pruning": Pruning(max_terms=2)},
        {"pruning": Pruning(min_weight=0.5, max_terms=3), "hybrid": True},
    ]
    for options in settings:
        in_java, in_python = (
            Searcher(tmp_path / "i", **options),
            Searcher(tmp_path / "i", java_queries=False, **options),
        )
        assert in_java.queries.java_builder is not None, options
        assert in_python.queries.java_builder is None  # every query is encoded in Python
        for text in texts:
            assert in_java.search(text, k=4) == in_python.search(text, k=4), (text, options)
        batch = in_java.batch_search(texts + [" "], k=4, threads=2)
        assert batch == [in_python.search(t, k=4) for t in texts] + [[]], options
    java = Searcher(tmp_path / "i").queries.java_builder
    assert java.encode("Café") is None and java.encode("[CLS] coffee") is None
    assert Searcher(tmp_path / "i").search("café", k=3)  # answered through Python


def test_splade_queries_are_not_built_in_java(built):
    root, _, _ = built
    assert Searcher(root / "index").queries.java_builder is None


def test_a_java_query_builder_that_disagrees_is_not_used(tmp_path, tiny_corpus, monkeypatch):
    """Checked on probe texts when made: one that would change a query is refused, loudly."""
    import splade_lite.indexer.lucene

    encode_corpus(tiny_corpus, tmp_path / "v", mode="inference-free", progress=False)
    build_index(tmp_path / "v", tmp_path / "i")
    expected = [Searcher(tmp_path / "i").search(q, k=3) for q in QUERIES]

    class OffByOne(
        splade_lite.indexer.lucene.IdfQueries
    ):  # Java's weights no longer match Python's
        def __init__(self, wordpiece, terms, weights, max_terms=None):
            super().__init__(wordpiece, terms, [w + 1 if w else 0 for w in weights], max_terms)

    monkeypatch.setattr(splade_lite.indexer.lucene, "IdfQueries", OffByOne)
    searcher = Searcher(tmp_path / "i")
    with pytest.warns(RuntimeWarning, match="disagrees"):
        assert searcher.queries.java_builder is None
    assert [searcher.search(q, k=3) for q in QUERIES] == expected  # through Python
