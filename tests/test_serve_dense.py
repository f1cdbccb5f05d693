"""``splade-lite serve`` with a dense index beside an index: ``dense: true`` ranks by it alone
(mode sparse) or fuses it as the third list (mode hybrid), exactly as ``Searcher(...,
dense=True)`` does; an index without one, and settings that do not fit, are refused with
the searcher's own one-line messages; the dense model loads on the first dense query only."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402
from serve_helpers import BASE, expected_hits, post, refused  # noqa: E402

from splade_lite.errors import BadValueError, MissingFileError  # noqa: E402
from splade_lite.feedback import Feedback  # noqa: E402
from splade_lite.fusion import NORMALISATIONS, Hybrid  # noqa: E402
from splade_lite.search import Searcher  # noqa: E402
from splade_lite.serve.registry import Registry  # noqa: E402

pytestmark = pytest.mark.jvm

QUERIES = ["bees", "what rises in bread dough", "steam trains in England", "café au lait"]


@pytest.fixture(scope="module")
def plain(dense_built, tmp_path_factory):
    """A copy of ``index-if`` without its dense index (BM25 still beside it)."""
    copy = tmp_path_factory.mktemp("serve-dense") / "plain"
    shutil.copytree(dense_built / "index-if", copy)
    shutil.rmtree(copy / "dense")
    return copy


@pytest.fixture(scope="module")
def registry(dense_built, plain):
    return Registry([dense_built / "index-if", dense_built / "index", plain], max_variants=3)


@pytest.fixture(scope="module")
def client(registry):
    from splade_lite.serve.app import create_app

    with TestClient(create_app(registry, mcp=False), base_url=BASE) as c:
        yield c


def _search(client, index, query, k=5, **body):
    got = post(client, "/api/search", index=index, query=query, k=k, **body)
    assert got.status_code == 200, got.text
    return got.json()


def test_the_listing_shows_dense_only_where_there_is_a_dense_index(client, registry):
    infos = {i["name"]: i for i in client.get("/api/indexes").json()["indexes"]}
    assert set(infos) == {"index-if", "index", "plain"}
    for name in ("index-if", "index"):
        assert infos[name]["dense"] is True and infos[name]["dense_model"] == "minilm"
        assert infos[name]["modes"] == ["sparse", "bm25", "hybrid"]
    assert infos["plain"]["dense"] is False and infos["plain"]["dense_model"] is None
    assert infos["plain"]["modes"] == ["sparse", "bm25", "hybrid"]
    one = registry.get("plain").info()
    assert one["dense"] is False


def test_no_dense_searcher_opens_before_a_dense_request(dense_built, plain):
    """Start and warm-up open no dense index and load no dense model; the first dense request
    opens one searcher, whose model loads on that query."""
    fresh = Registry([dense_built / "index-if", plain])
    fresh.warm()
    served = fresh.get("index-if")
    assert served.dense == {}
    fresh.searcher("index-if", "hybrid").search("bees", k=3)  # the two-way hybrid: no dense
    assert served.dense == {}
    searcher = fresh.searcher("index-if", dense=True)
    assert searcher._dense._model is None  # opened, not loaded
    searcher.search("bees", k=3)
    assert searcher._dense._model is not None
    assert set(served.dense) == {"sparse"}
    assert fresh.searcher("index-if", dense=True) is searcher  # shared, not opened again
    fresh.close()


@pytest.mark.parametrize("name", ["index-if", "index"])
def test_dense_alone_gives_the_dense_searchers_hits(client, dense_built, name):
    searcher = Searcher(dense_built / name, dense=True)
    sparse = Searcher(dense_built / name)
    differs = False
    for query in QUERIES:
        body = _search(client, name, query, dense=True)
        assert body["mode"] == "sparse" and body["dense"] is True
        assert body["hits"] == expected_hits(searcher, query, 5)
        differs |= body["hits"] != expected_hits(sparse, query, 5)
    assert differs  # the dense model ranked, not the learned sparse one


@pytest.mark.parametrize("name", ["index-if", "index"])
def test_three_way_default_gives_the_three_way_searchers_hits(client, dense_built, name):
    searcher = Searcher(dense_built / name, hybrid=True, dense=True)
    two_way = Searcher(dense_built / name, hybrid=True)
    differs = False
    for query in QUERIES:
        body = _search(client, name, query, k=10, mode="hybrid", dense=True)
        assert body["mode"] == "hybrid" and body["dense"] is True
        assert body["hits"] == expected_hits(searcher, query, 10)
        differs |= body["hits"] != expected_hits(two_way, query, 10)
    assert differs  # the dense list changed the fusion


@pytest.mark.parametrize(
    ("settings", "hybrid"),
    [
        ({"weights": [1, 1, 1], "norm": "min-max", "depth": 5},
         Hybrid(weights=(1, 1, 1), norm="min-max", depth=5)),
        ({"weights": [0.0, 0.3, 0.7], "norm": "z-score", "depth": 8},
         Hybrid(weights=(0.0, 0.3, 0.7), norm="z-score", depth=8)),
        ({"norm": "min-max"}, Hybrid(norm="min-max")),
        ({"fusion": "rrf", "depth": 6}, Hybrid(fusion="rrf", depth=6)),
    ],
)  # fmt: skip
def test_three_way_settings_rank_as_a_searcher_with_those_settings(
    client, registry, dense_built, settings, hybrid
):
    searcher = Searcher(dense_built / "index-if", hybrid=hybrid, dense=True)
    for query in QUERIES:
        body = _search(client, "index-if", query, k=4, mode="hybrid", hybrid=settings, dense=True)
        assert body["hits"] == expected_hits(searcher, query, 4)
    assert len(registry._variants) <= registry.max_variants  # the cache stays bounded


def test_only_the_dense_weight_ranks_as_dense_alone(client):
    for query in QUERIES:
        fused = _search(
            client, "index-if", query, mode="hybrid", hybrid={"weights": [0, 0, 1]}, dense=True
        )
        alone = _search(client, "index-if", query, dense=True)
        assert [h["docid"] for h in fused["hits"]] == [h["docid"] for h in alone["hits"]]


def test_batch_search_with_dense_gives_the_searchers_run(client, dense_built):
    searcher = Searcher(dense_built / "index", hybrid=True, dense=True)
    queries = [{"id": f"q{i}", "text": t} for i, t in enumerate(QUERIES)] + [
        {"id": "blank", "text": "  "}
    ]
    got = post(
        client, "/api/batch-search", index="index", queries=queries, k=3, mode="hybrid", dense=True
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["dense"] is True and body["mode"] == "hybrid"
    results = {r["id"]: r["hits"] for r in body["results"]}
    assert results["blank"] == []
    for q in queries[:-1]:
        assert results[q["id"]] == expected_hits(searcher, q["text"], 3)


def test_feedback_with_the_three_way_hybrid(client, dense_built):
    searcher = Searcher(dense_built / "index-if", hybrid=True, feedback=True, dense=True)
    body = _search(client, "index-if", "bees", mode="hybrid", feedback=True, dense=True)
    assert body["hits"] == expected_hits(searcher, "bees", 5)
    searcher = Searcher(
        dense_built / "index-if", hybrid=True, feedback=Feedback(docs=2, terms=5), dense=True
    )
    body = _search(
        client, "index-if", "bees", mode="hybrid", feedback={"docs": 2, "terms": 5}, dense=True
    )
    assert body["hits"] == expected_hits(searcher, "bees", 5)


@pytest.mark.parametrize("name", ["index-if", "index"])
@pytest.mark.parametrize(
    ("mode", "options"), [("sparse", {}), ("bm25", {"bm25": True}), ("hybrid", {"hybrid": True})]
)
def test_the_other_rankings_of_a_dense_index_are_unchanged(
    client, dense_built, name, mode, options
):
    searcher = Searcher(dense_built / name, **options)
    for query in QUERIES:
        body = _search(client, name, query, mode=mode)
        assert body["dense"] is False
        assert body["hits"] == expected_hits(searcher, query, 5)


def test_defaults_spelled_out_are_the_shared_dense_searchers(client, registry):
    _search(client, "index-if", "bees", mode="hybrid", dense=True)
    served = registry.get("index-if")
    assert registry.searcher("index-if", "hybrid", Hybrid(), dense=True) is served.dense["hybrid"]
    before = dict(registry._variants)
    _search(client, "index-if", "bees", mode="hybrid", hybrid={}, dense=True)
    assert dict(registry._variants) == before  # no variant for the defaults
    assert served.dense["hybrid"] is not served.hybrid  # the two-way one is its own


@pytest.mark.parametrize("mode", ["sparse", "hybrid"])
def test_an_index_without_dense_refuses_it_naming_the_fix(client, plain, mode):
    with pytest.raises(MissingFileError) as err:
        Searcher(plain, dense=True)
    expected = str(err.value).replace(str(plain), "index 'plain'")
    detail = refused(
        post(client, "/api/search", index="plain", query="bees", mode=mode, dense=True),
        400,
        "index 'plain' has no dense index",
        "--bm25-corpus CORPUS --dense-model minilm",
    )
    assert detail == expected and str(plain) not in detail
    assert _search(client, "plain", "bees", mode=mode)["dense"] is False  # the rest still works


def _searcher_refusal(dense_built, **kwargs) -> str:
    with pytest.raises(BadValueError) as err:
        Searcher(dense_built / "index-if", **kwargs)
    return str(err.value)


@pytest.mark.parametrize(
    ("body", "kwargs", "words"),
    [
        ({"mode": "bm25", "dense": True}, {"bm25": True, "dense": True}, "not with bm25"),
        ({"feedback": True, "dense": True}, {"feedback": True, "dense": True},
         "feedback needs the learned sparse list"),
        ({"mode": "hybrid", "hybrid": {"weights": [1, 1, 1]}},
         {"hybrid": Hybrid(weights=(1, 1, 1))}, "weights and norm set the three-way hybrid"),
        ({"mode": "hybrid", "hybrid": {"norm": "max"}}, {"hybrid": Hybrid(norm="max")},
         "weights and norm set the three-way hybrid"),
        ({"mode": "hybrid", "hybrid": {"alpha": 0.3}, "dense": True},
         {"hybrid": Hybrid(alpha=0.3), "dense": True}, "alpha weighs the two lists"),
        ({"mode": "hybrid", "hybrid": {"fusion": "rrf", "norm": "max"}, "dense": True},
         {"hybrid": Hybrid(fusion="rrf", norm="max"), "dense": True}, "not rrf"),
    ],
)  # fmt: skip
def test_settings_search_refuses_are_400_with_its_message(
    client, registry, dense_built, body, kwargs, words
):
    expected = _searcher_refusal(dense_built, **kwargs)
    before = len(registry._variants)
    detail = refused(
        post(client, "/api/search", index="index-if", query="bees", **body), 400, words
    )
    assert detail == expected
    assert len(registry._variants) == before  # nothing refused is cached


@pytest.mark.parametrize(
    ("weights", "words"),
    [
        ([1, 1], "weights must be three numbers (sparse, BM25, dense)"),
        ([1, 1, 1, 1], "weights must be three numbers"),
        ([], "weights must be three numbers"),
        ([1, -1, 1], "finite, >= 0 and not all 0"),
        ([0, 0, 0], "finite, >= 0 and not all 0"),
    ],
)
def test_weights_hybrid_refuses_are_400(client, weights, words):
    with pytest.raises(BadValueError) as err:
        Hybrid(weights=[float(w) for w in weights])  # as the request parses them
    detail = refused(
        post(client, "/api/search", index="index-if", query="bees", mode="hybrid",
             hybrid={"weights": weights}, dense=True),
        400, words,
    )  # fmt: skip
    assert detail == str(err.value)


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "hybrid", "dense": True, "hybrid": {"norm": "l2"}},
        {"mode": "hybrid", "dense": True, "hybrid": {"weights": [1] * 11}},
        {"mode": "hybrid", "dense": True, "hybrid": {"weights": ["a", 1, 1]}},
        {"dense": "sometimes"},
    ],
)
def test_settings_of_the_wrong_shape_are_422(client, body):
    refused(post(client, "/api/search", index="index-if", query="bees", **body), 422)


def test_hybrid_settings_with_dense_alone_are_refused(client):
    refused(
        post(client, "/api/search", index="index-if", query="bees", dense=True,
             hybrid={"weights": [1, 1, 1]}),
        400, "hybrid settings apply with mode hybrid only",
    )  # fmt: skip


def test_the_schema_lists_the_dense_settings(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["SearchRequest"]["properties"]["dense"]["type"] == "boolean"
    norm = schemas["HybridSettings"]["properties"]["norm"]["anyOf"][0]
    assert norm["enum"] == list(NORMALISATIONS)  # the schema's names are fusion's
    assert "weights" in schemas["HybridSettings"]["properties"]
    assert "dense" in schemas["IndexInfo"]["properties"]


def test_threads_share_one_dense_searcher_and_get_the_serial_answers(dense_built, plain):
    from splade_lite.serve.app import create_app

    fresh = Registry([dense_built / "index-if", plain])
    bodies = [
        {"index": "index-if", "query": q, "k": 3, "mode": mode, "dense": True}
        for mode in ("sparse", "hybrid")
        for q in QUERIES
    ]
    with TestClient(create_app(fresh, mcp=False), base_url=BASE) as c:
        with ThreadPoolExecutor(max_workers=6) as pool:
            parallel = list(pool.map(lambda b: c.post("/api/search", json=b).json(), bodies * 2))
        serial = [c.post("/api/search", json=b).json() for b in bodies]
    assert parallel == serial * 2
    assert set(fresh.get("index-if").dense) == {"sparse", "hybrid"}


def test_a_dense_searcher_sets_the_servers_torch_threads(dense_built):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        fresh = Registry([dense_built / "index-if"], threads=1)
        fresh.searcher("index-if")  # a sparse searcher leaves them alone
        assert torch.get_num_threads() == 2
        fresh.searcher("index-if", dense=True)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_the_mcp_search_tool_takes_dense(registry, dense_built):
    pytest.importorskip("mcp")
    import anyio
    from mcp.client.client import Client

    from splade_lite.serve.mcp_server import build_mcp

    server = build_mcp(registry)

    async def steps():
        async with Client(server) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            found = [
                await client.call_tool(
                    "search", {"index": "index-if", "query": "bees", "k": 3, **args}
                )
                for args in (
                    {"dense": True},
                    {"mode": "hybrid", "dense": True},
                    {"index": "plain", "dense": True},
                    {"mode": "bm25", "dense": True},
                )
            ]  # a later "index" names the index searched
            return tools, found

    tools, (alone, three, missing, bm25) = anyio.run(steps)
    assert tools["search"].input_schema["properties"]["dense"]["type"] == "boolean"
    for result, options in ((alone, {}), (three, {"hybrid": True})):
        assert not result.is_error, result.content
        expected = Searcher(dense_built / "index-if", dense=True, **options).search("bees", k=3)
        hits = result.structured_content["hits"]
        assert [(h["docid"], h["score"]) for h in hits] == [(h.docid, h.score) for h in expected]
        assert result.structured_content["dense"] is True
    assert missing.is_error and "index 'plain' has no dense index" in missing.content[0].text
    assert "--dense-model minilm" in missing.content[0].text
    assert bm25.is_error and "not with bm25" in bm25.content[0].text
