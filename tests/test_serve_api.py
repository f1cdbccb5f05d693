"""``splade-lite serve``'s HTTP API through FastAPI's TestClient: every endpoint gives what
the in-process Searcher gives, every refusal its status and one-line message."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from click.testing import CliRunner  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from serve_helpers import BASE, expected_hits, post, refused  # noqa: E402

from splade_lite.cli_render import explanation_json  # noqa: E402
from splade_lite.cli_serve import api_key_from, is_loopback, serve  # noqa: E402
from splade_lite.errors import StateError  # noqa: E402
from splade_lite.feedback import Feedback  # noqa: E402
from splade_lite.fusion import Hybrid  # noqa: E402
from splade_lite.serve.registry import Registry, unique_names  # noqa: E402
from splade_lite.serve.schemas import MAX_K, MAX_QUERY_CHARS, Limits  # noqa: E402

QUERIES = ["vitamin deficiency", "sleep and heart", "coffee", "northern lights", "café"]


# -- without Java --------------------------------------------------------------------------------


def test_unique_names_keep_folder_names_and_number_repeats():
    folders = [Path("a/index"), Path("b/index"), Path("c/other"), Path("d/index")]
    assert unique_names(folders) == ["index", "index-2", "other", "index-3"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("192.168.1.4", False), ("example.org", False)],
)  # fmt: skip
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_api_key_comes_from_the_environment_and_an_unset_one_is_refused(monkeypatch):
    monkeypatch.setenv("SERVE_TEST_KEY", "s3cret")
    assert api_key_from("SERVE_TEST_KEY") == "s3cret"
    assert api_key_from(None) is None
    monkeypatch.delenv("SERVE_TEST_KEY")
    with pytest.raises(Exception, match="not set"):
        api_key_from("SERVE_TEST_KEY")


def test_cli_refuses_a_remote_host_without_a_key_before_opening_anything(tmp_path):
    result = CliRunner().invoke(serve, [str(tmp_path), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--api-key-env" in result.output and "--allow-remote" in result.output


def test_cli_refuses_an_unset_key_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("SERVE_NO_SUCH_KEY", raising=False)
    result = CliRunner().invoke(serve, [str(tmp_path), "--api-key-env", "SERVE_NO_SUCH_KEY"])
    assert result.exit_code == 2 and "SERVE_NO_SUCH_KEY" in result.output


def test_cli_help_names_the_options_and_no_file_of_the_repository():
    result = CliRunner().invoke(serve, ["--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--api-key-env", "--allow-remote", "--mcp"):
        assert option in result.output
    for missing in ("docs/", ".md", "DESIGN"):
        assert missing not in result.output


def test_cli_refuses_a_folder_that_is_no_index(tmp_path):
    result = CliRunner().invoke(serve, [str(tmp_path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and str(tmp_path) in result.output


# -- through the app ------------------------------------------------------------------------------

jvm = pytest.mark.jvm


@pytest.fixture(scope="module")
def registry(tiny_built):
    return Registry([tiny_built / "index", tiny_built / "index-if"], max_variants=2)


@pytest.fixture(scope="module")
def client(registry):
    from splade_lite.serve.app import create_app

    with TestClient(create_app(registry, mcp=False), base_url=BASE) as c:
        yield c


@jvm
def test_health_and_indexes(client, tiny_built):
    health = client.get("/api/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    listed = client.get("/api/indexes")
    assert listed.status_code == 200
    infos = {i["name"]: i for i in listed.json()["indexes"]}
    assert set(infos) == {"index", "index-if"}
    assert infos["index"]["mode"] == "splade" and infos["index-if"]["mode"] == "inference-free"
    assert infos["index"]["modes"] == ["sparse", "bm25", "hybrid"]
    assert infos["index"]["documents"] == 6
    assert str(tiny_built) not in listed.text  # no path reaches a client


@jvm
@pytest.mark.parametrize("name", ["index", "index-if"])
@pytest.mark.parametrize(
    ("mode", "options"), [("sparse", {}), ("bm25", {"bm25": True}), ("hybrid", {"hybrid": True})]
)
def test_search_gives_the_searchers_hits(client, tiny_built, name, mode, options):
    from splade_lite.search import Searcher

    searcher = Searcher(tiny_built / name, **options)
    for query in QUERIES:
        got = post(client, "/api/search", index=name, query=query, k=4, mode=mode)
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["index"] == name and body["mode"] == mode and body["query"] == query
        assert body["hits"] == expected_hits(searcher, query, 4)
    top = post(client, "/api/search", index=name, query="vitamin deficiency", mode=mode).json()
    assert top["hits"][0]["docid"] == "d1" and top["hits"][0]["title"] == "Vitamin D"


@jvm
def test_custom_hybrid_and_feedback_rank_as_a_searcher_with_those_settings(
    client, registry, tiny_built
):
    from splade_lite.search import Searcher

    cases = [
        ({"mode": "hybrid", "hybrid": {"fusion": "rrf", "depth": 5}},
         {"hybrid": Hybrid(fusion="rrf", depth=5)}),
        ({"mode": "hybrid", "hybrid": {"alpha": 0.9}}, {"hybrid": Hybrid(alpha=0.9)}),
        ({"feedback": True}, {"feedback": True}),
        ({"feedback": {"docs": 2, "terms": 5, "beta": 0.5}},
         {"feedback": Feedback(docs=2, terms=5, beta=0.5)}),
    ]  # fmt: skip
    for body, options in cases:
        searcher = Searcher(tiny_built / "index", **options)
        got = post(client, "/api/search", index="index", query="sleep and heart", k=5, **body)
        assert got.status_code == 200, got.text
        assert got.json()["hits"] == expected_hits(searcher, "sleep and heart", 5)
    assert len(registry._variants) <= registry.max_variants  # the cache stays bounded
    # the defaults spelled out are the shared searcher, not a variant
    assert registry.searcher("index", "hybrid", Hybrid()) is registry.get("index").hybrid


@jvm
def test_batch_search_keeps_order_and_answers_a_blank_text_with_nothing(client, tiny_built):
    from splade_lite.search import Searcher

    searcher = Searcher(tiny_built / "index-if")
    queries = [
        {"id": "q2", "text": "coffee"},
        {"id": "q1", "text": "  "},
        {"id": "q3", "text": "sleep"},
    ]
    got = post(client, "/api/batch-search", index="index-if", queries=queries, k=3)
    assert got.status_code == 200, got.text
    results = got.json()["results"]
    assert [r["id"] for r in results] == ["q2", "q1", "q3"]
    assert results[1]["hits"] == []
    assert results[0]["hits"] == expected_hits(searcher, "coffee", 3)
    twice = [{"id": "q", "text": "a"}, {"id": "q", "text": "b"}]
    refused(post(client, "/api/batch-search", index="index", queries=twice), 400, "twice")
    refused(post(client, "/api/batch-search", index="index", queries=[]), 422, "queries")


@jvm
def test_explain_adds_up_and_marks_the_words_that_matched(client, tiny_built):
    from splade_lite.search import Searcher

    searcher = Searcher(tiny_built / "index")
    got = post(client, "/api/explain", index="index", query="vitamin deficiency", docid="d3")
    assert got.status_code == 200, got.text
    body = got.json()
    expected = explanation_json(searcher.explain("vitamin deficiency", "d3"))
    assert {key: body[key] for key in expected} == expected
    assert body["score"] == sum(t["contribution"] for t in body["matched"]) > 0
    assert body["title"] == "Sleep"
    for part in ("title", "text"):  # the segments are the text, cut
        assert "".join(s["text"] for s in body["segments"][part]) == body[part]
    marked = {s["text"]: s for s in body["segments"]["text"] if s["terms"]}
    expansions = {t["term"] for t in body["matched"] if t["expansion_in_query"]}
    assert marked, body["segments"]
    for word, segment in marked.items():
        assert segment["expansion"] == all(t in expansions for t in segment["terms"]), word
    # "disease": not in the query, added by the model, and in d3's text
    assert marked["disease"]["expansion"] is True


@jvm
def test_explain_marks_a_word_whose_word_piece_matched(client):
    body = post(client, "/api/explain", index="index", query="coffee", docid="d6").json()
    pieces = {s["text"]: s["terms"] for s in body["segments"]["text"] if s["terms"]}
    assert pieces["Coffee"] == ["coffee"]
    piece_words = [w for w, terms in pieces.items() if any(t.startswith("##") for t in terms)]
    assert piece_words, pieces  # a whole word is marked for a piece of it (##fe of caffeine)


@jvm
def test_explain_with_feedback_gives_the_feedback_score(client, tiny_built):
    from splade_lite.search import Searcher

    searcher = Searcher(tiny_built / "index", feedback=True)
    got = post(client, "/api/explain", index="index", query="sleep", docid="d3", feedback=True)
    assert got.json()["score"] == searcher.explain("sleep", "d3").score


@jvm
def test_unknown_index_and_document_are_404_naming_no_path(client, tiny_built):
    detail = refused(post(client, "/api/search", index="nope", query="x"), 404, "'nope'", "'index'")
    assert str(tiny_built) not in detail
    detail = refused(
        post(client, "/api/explain", index="index", query="x", docid="d99"), 404, "'d99'"
    )
    assert str(tiny_built) not in detail and "index 'index'" in detail
    refused(post(client, "/api/explain", index="nope", query="x", docid="d1"), 404, "nope")


@jvm
def test_values_the_searcher_refuses_are_400(client):
    refused(post(client, "/api/search", index="index", query="   "), 400, "empty")
    refused(post(client, "/api/explain", index="index", query=" ", docid="d1"), 400, "empty")
    refused(
        post(client, "/api/search", index="index", query="x", hybrid={"alpha": 0.2}),
        400, "hybrid",
    )  # fmt: skip
    refused(
        post(client, "/api/search", index="index", query="x", mode="bm25", feedback=True),
        400, "bm25",
    )  # fmt: skip
    long_bm25 = " ".join(f"w{i}" for i in range(1100))  # past Lucene's clause limit
    got = post(client, "/api/search", index="index", query=long_bm25[:MAX_QUERY_CHARS], mode="bm25")
    assert got.status_code in (200, 400), got.text  # answered or refused, never a crash


@jvm
@pytest.mark.parametrize(
    "body",
    [
        {"index": "index", "query": "x", "k": 0},
        {"index": "index", "query": "x", "k": MAX_K + 1},
        {"index": "index", "query": "x", "k": "many"},
        {"index": "index", "query": "x" * (MAX_QUERY_CHARS + 1)},
        {"index": "index", "query": ""},
        {"index": "index"},
        {"index": "index", "query": "x", "mode": "dense"},
        {"index": "index", "query": "x", "colour": "red"},
        {"index": "index", "query": "x", "hybrid": {"alpha": 2}},
        {"index": "index", "query": "x", "feedback": {"docs": 0}},
        # true, false and strings are not numbers or flags (lax parsing would take them)
        {"index": "index", "query": "x", "k": True},
        {"index": "index", "query": "x", "k": "3"},
        {"index": "index", "query": "x", "feedback": {"beta": False}},
        {"index": "index", "query": "x", "feedback": {"terms": False}},
        {"index": "index", "query": "x", "feedback": 1},
        {"index": "index", "query": "x", "hybrid": {"alpha": True}},
        {"index": "index", "query": "x", "dense": 1},
        {"index": "index", "query": "\ud800"},
        {"index": "", "query": "x"},
        ["not", "an", "object"],
    ],
)
def test_requests_of_the_wrong_shape_are_422_in_one_line(client, body):
    raw = json.dumps(body).encode()  # ASCII: a lone surrogate goes as its escape
    refused(
        client.post("/api/search", content=raw, headers={"content-type": "application/json"}), 422
    )


@jvm
def test_a_whole_number_written_with_a_point_is_a_number(client):
    got = post(client, "/api/search", index="index", query="bees", k=2.0)
    assert got.status_code == 200 and len(got.json()["hits"]) <= 2


@jvm
def test_malformed_json_is_422(client):
    got = client.post(
        "/api/search", content=b"{not json", headers={"content-type": "application/json"}
    )
    refused(got, 422)


@jvm
def test_sparse_only_index_refuses_bm25_and_hybrid(tiny_built, tmp_path):
    from splade_lite.serve.app import create_app

    copy = tmp_path / "plain"
    shutil.copytree(tiny_built / "index", copy)
    shutil.rmtree(copy / "bm25")
    with TestClient(create_app([copy], mcp=False), base_url=BASE) as c:
        assert c.get("/api/indexes").json()["indexes"][0]["modes"] == ["sparse"]
        for mode in ("bm25", "hybrid"):
            refused(post(c, "/api/search", index="plain", query="x", mode=mode), 400, "BM25")
        assert post(c, "/api/search", index="plain", query="coffee").status_code == 200


@jvm
def test_bodies_over_the_limit_are_413_declared_or_chunked(registry):
    from splade_lite.serve.app import create_app

    app = create_app(registry, limits=Limits(max_body_bytes=200), mcp=False)
    with TestClient(app, base_url=BASE) as c:
        big = {"index": "index", "query": "x " * 200}
        refused(c.post("/api/search", json=big), 413, "200")

        def chunks():
            yield json.dumps(big).encode()

        refused(
            c.post("/api/search", content=chunks(), headers={"content-type": "application/json"}),
            413,
        )
        small = post(c, "/api/search", index="index", query="coffee")
        assert small.status_code == 200


@jvm
def test_a_servers_own_limits_are_422(registry):
    from splade_lite.serve.app import create_app

    app = create_app(registry, limits=Limits(max_k=5, max_batch=2, max_query_chars=20), mcp=False)
    with TestClient(app, base_url=BASE) as c:
        refused(post(c, "/api/search", index="index", query="x", k=6), 422, "at most 5")
        refused(post(c, "/api/search", index="index", query="x" * 21, k=3), 422, "at most 20")
        three = [{"id": str(i), "text": "x"} for i in range(3)]
        refused(post(c, "/api/batch-search", index="index", queries=three, k=3), 422, "at most 2")
        refused(post(c, "/api/explain", index="index", query="y" * 21, docid="d1"), 422, "20")


@jvm
def test_api_key_is_required_by_the_api_but_not_by_the_page(registry):
    from splade_lite.serve.app import create_app

    with TestClient(create_app(registry, api_key="k3y", mcp=False), base_url=BASE) as c:
        refused(c.get("/api/indexes"), 401, "X-API-Key")
        refused(c.get("/api/indexes", headers={"X-API-Key": "wrong"}), 401)
        refused(c.post("/api/search", json={"index": "index", "query": "x"}), 401)
        assert c.get("/api/indexes", headers={"X-API-Key": "k3y"}).status_code == 200
        assert c.get("/api/health").status_code == 200
        assert c.get("/").status_code == 200 and c.get("/static/app.js").status_code == 200


@jvm
def test_a_foreign_host_header_is_refused(client):
    assert client.get("/api/indexes", headers={"host": "evil.example"}).status_code == 400
    assert client.get("/api/indexes", headers={"host": "localhost:8000"}).status_code == 200


@jvm
def test_an_unexpected_error_is_a_500_saying_bug_without_its_details(registry, monkeypatch):
    from splade_lite.serve.app import create_app

    def broken(*args, **kwargs):
        raise ZeroDivisionError("secret internals /srv/path")

    app = create_app(registry, mcp=False)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as c:
        monkeypatch.setattr(registry, "searcher", broken)
        detail = refused(
            post(c, "/api/search", index="index", query="x"), 500, "bug", "ZeroDivisionError"
        )
        assert "/srv/path" not in detail

        def changed(*args, **kwargs):
            raise StateError("the index was replaced; open it again")

        monkeypatch.setattr(registry, "searcher", changed)
        refused(post(c, "/api/search", index="index", query="x"), 409, "replaced")


@jvm
def test_routes_methods_and_the_schema(client):
    assert client.get("/nowhere").status_code == 404
    assert client.get("/api/search").status_code == 405
    assert client.get("/docs").status_code == 404  # its scripts would come from a CDN
    schema = client.get("/openapi.json").json()
    assert {"/api/search", "/api/batch-search", "/api/explain", "/api/indexes"} <= set(
        schema["paths"]
    )


@jvm
def test_the_page_loads_nothing_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "style.css"):
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200
        assert "http://" not in asset.text and "https://" not in asset.text
        assert "innerHTML" not in asset.text
    assert "http://" not in page.text and "https://" not in page.text


@jvm
def test_threads_sharing_the_server_get_the_serial_answers(client):
    bodies = [
        {"index": name, "query": q, "k": 3, "mode": mode}
        for name in ("index", "index-if")
        for mode in ("sparse", "bm25", "hybrid")
        for q in QUERIES
    ]
    serial = [client.post("/api/search", json=b).json() for b in bodies]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda b: client.post("/api/search", json=b).json(), bodies * 2))
    assert parallel == serial * 2


def test_json_cannot_share_stdout_with_mcp_stdio(tmp_path):
    from click.testing import CliRunner

    from splade_lite.cli import main

    result = CliRunner().invoke(main, ["serve", str(tmp_path), "--mcp", "stdio", "--json"])
    assert result.exit_code == 2 and "--json cannot share it" in result.output


@pytest.mark.jvm
@pytest.mark.parametrize("concurrency", [1, 2])
def test_searches_beyond_the_concurrency_wait_their_turn(tiny_built, concurrency):
    import threading
    import time

    from splade_lite.serve import service
    from splade_lite.serve.schemas import SearchRequest

    registry = Registry([tiny_built / "index-if"], concurrency=concurrency)
    served = registry.get("index-if")
    searching, most, lock = 0, 0, threading.Lock()
    real = served.sparse.search

    def slow_search(*args, **kwargs):
        nonlocal searching, most
        with lock:
            searching += 1
            most = max(most, searching)
        time.sleep(0.2)  # long enough for every thread to be waiting by now
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                searching -= 1

    served.sparse.search = slow_search
    request = SearchRequest(index="index-if", query="vitamin bones", k=2)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: service.search(registry, request, Limits()), range(4)))
    assert most == concurrency  # never more at once, and the slots are all used
    assert {a.hits[0].docid for a in answers} == {"d1"}
    with pytest.raises(Exception, match="concurrency must be at least 1"):
        Registry([tiny_built / "index-if"], concurrency=0)
