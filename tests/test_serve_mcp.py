"""The MCP side of ``splade-lite serve``: the tools and resources through the SDK's own
client, in memory, over stdio and at ``/mcp`` of the HTTP app."""

from __future__ import annotations

import json
import os
import sys

import pytest

pytest.importorskip("mcp")
pytest.importorskip("fastapi")

import anyio  # noqa: E402
from mcp.client.client import Client  # noqa: E402

from splade_lite.cli_render import explanation_json  # noqa: E402
from splade_lite.serve.registry import Registry  # noqa: E402

pytestmark = pytest.mark.jvm


@pytest.fixture(scope="module")
def registry(tiny_built):
    return Registry([tiny_built / "index", tiny_built / "index-if"])


@pytest.fixture(scope="module")
def server(registry):
    from splade_lite.serve.mcp_server import build_mcp

    return build_mcp(registry)


def talk(server, steps):
    """Run `steps(client)` against `server` through an in-memory client session."""

    async def main():
        async with Client(server) as client:
            return await steps(client)

    return anyio.run(main)


def test_tools_are_listed_read_only_with_bounded_arguments(server):
    async def steps(client):
        return (await client.list_tools()).tools

    tools = {t.name: t for t in talk(server, steps)}
    assert set(tools) == {"search", "explain", "list_indexes"}
    assert all(t.annotations.read_only_hint for t in tools.values())
    schema = tools["search"].input_schema
    assert schema["required"] == ["index", "query"]
    assert schema["properties"]["k"]["maximum"] == 1000
    assert schema["properties"]["mode"]["enum"] == ["sparse", "bm25", "hybrid"]


def test_search_tool_gives_the_searchers_hits(server, tiny_built):
    from splade_lite.search import Searcher

    async def steps(client):
        return [
            await client.call_tool(
                "search", {"index": name, "query": "coffee", "k": 3, "mode": mode}
            )
            for name, mode in (("index", "sparse"), ("index-if", "bm25"), ("index", "hybrid"))
        ]

    results = talk(server, steps)
    for result, (name, options) in zip(
        results, (("index", {}), ("index-if", {"bm25": True}), ("index", {"hybrid": True}))
    ):
        assert not result.is_error, result.content
        expected = Searcher(tiny_built / name, **options).search("coffee", k=3)
        hits = result.structured_content["hits"]
        assert [(h["docid"], h["score"]) for h in hits] == [(h.docid, h.score) for h in expected]
        assert json.loads(result.content[0].text)["hits"] == hits  # the text says the same


def test_explain_tool_adds_up(server, tiny_built):
    from splade_lite.search import Searcher

    async def steps(client):
        return await client.call_tool(
            "explain", {"index": "index", "query": "vitamin deficiency", "docid": "d1"}
        )

    result = talk(server, steps)
    assert not result.is_error, result.content
    body = result.structured_content
    expected = explanation_json(Searcher(tiny_built / "index").explain("vitamin deficiency", "d1"))
    assert body["score"] == expected["score"] == sum(t["contribution"] for t in body["matched"])
    assert body["matched"] == expected["matched"]


def test_refusals_are_tool_errors_with_the_apis_message(server, tiny_built):
    async def steps(client):
        return [
            await client.call_tool("search", {"index": "nope", "query": "x"}),
            await client.call_tool("search", {"index": "index", "query": "   "}),
            await client.call_tool("search", {"index": "index", "query": "x", "k": 0}),
            await client.call_tool("explain", {"index": "index", "query": "x", "docid": "d99"}),
            await client.call_tool("search", {"index": "index", "query": "x", "mode": "dense"}),
        ]

    results = talk(server, steps)
    assert all(r.is_error for r in results)
    texts = [r.content[0].text for r in results]
    assert "no index named 'nope'" in texts[0]
    assert "the query is empty" in texts[1]
    assert "k" in texts[2]
    assert "'d99'" in texts[3] and str(tiny_built) not in texts[3]
    assert all("Traceback" not in t for t in texts)


def test_resources_list_the_indexes(server):
    from mcp.shared.exceptions import MCPError

    async def steps(client):
        listed = (await client.list_resources()).resources
        templates = (await client.list_resource_templates()).resource_templates
        every = await client.read_resource("splade-lite://indexes")
        one = await client.read_resource("splade-lite://indexes/index-if")
        with pytest.raises(MCPError, match="nope"):
            await client.read_resource("splade-lite://indexes/nope")
        tool = await client.call_tool("list_indexes", {})
        return listed, templates, every, one, tool

    listed, templates, every, one, tool = talk(server, steps)
    assert [str(r.uri) for r in listed] == ["splade-lite://indexes"]
    assert [t.uri_template for t in templates] == ["splade-lite://indexes/{name}"]
    names = [i["name"] for i in json.loads(every.contents[0].text)["indexes"]]
    assert names == ["index", "index-if"]
    assert json.loads(one.contents[0].text)["mode"] == "inference-free"
    assert [i["name"] for i in tool.structured_content["indexes"]] == names


def _rpc(client, method, params=None, headers=None):
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
    return client.post(
        "/mcp",
        json=body,
        headers={"accept": "application/json, text/event-stream", **(headers or {})},
    )


def test_the_http_app_serves_mcp_at_slash_mcp_behind_the_key(registry):
    from fastapi.testclient import TestClient

    from splade_lite.serve.app import create_app

    app = create_app(registry, api_key="k3y")
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        assert _rpc(client, "tools/list").status_code == 401  # no key
        key = {"x-api-key": "k3y"}
        init = _rpc(
            client,
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"},
            },
            key,
        )
        assert init.status_code == 200, init.text
        assert init.json()["result"]["serverInfo"]["name"] == "splade-lite"
        call = _rpc(
            client,
            "tools/call",
            {"name": "search", "arguments": {"index": "index", "query": "coffee", "k": 1}},
            {**key, "mcp-protocol-version": "2025-06-18"},
        )
        assert call.status_code == 200, call.text
        result = call.json()["result"]
        assert result["structuredContent"]["hits"][0]["docid"] == "d6"
        foreign = _rpc(client, "tools/list", headers={**key, "host": "evil.example"})
        assert foreign.status_code == 400  # DNS rebinding: a foreign Host is refused


@pytest.mark.slow
def test_stdio_transport_through_the_command(tiny_built):
    from mcp.client.stdio import StdioServerParameters

    script = "import sys; from splade_lite.cli_serve import serve; serve(sys.argv[1:])"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-c", script, str(tiny_built / "index-if"), "--mcp", "stdio", "--quiet"],
        env={**os.environ},
    )

    async def main():
        with anyio.fail_after(120):
            async with Client(params) as client:
                result = await client.call_tool("search", {"index": "index-if", "query": "sleep"})
                listed = await client.read_resource("splade-lite://indexes")
                return result, listed

    result, listed = anyio.run(main)
    assert not result.is_error, result.content
    assert result.structured_content["hits"][0]["docid"] in {"d3", "d5"}
    assert json.loads(listed.contents[0].text)["indexes"][0]["name"] == "index-if"
