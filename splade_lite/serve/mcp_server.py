"""The served indexes as MCP tools and resources, for agents (the official ``mcp`` SDK).

Tools: ``search`` (top hits of a query), ``explain`` (how a document's score adds up) and
``list_indexes``. Resources: ``splade-lite://indexes`` (every index, JSON) and
``splade-lite://indexes/{name}`` (one). They answer as the HTTP API does
(:mod:`splade_lite.serve.service`); a refused request is a tool error whose text is the
API's one-line message. Served over stdio (``serve --mcp stdio``) or at ``/mcp`` of the
HTTP server.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import ToolAnnotations
from pydantic import Field, ValidationError

from splade_lite import __version__
from splade_lite.serve import service
from splade_lite.serve.registry import Registry
from splade_lite.serve.schemas import (
    MAX_ID_CHARS,
    MAX_K,
    MAX_QUERY_CHARS,
    ExplainRequest,
    ExplainResponse,
    Limits,
    SearchRequest,
    SearchResponse,
)

INSTRUCTIONS = (
    "Search the document collections this server holds. Call list_indexes (or read "
    "splade-lite://indexes) for their names, then search with a natural-language query; "
    "explain shows which terms made a document match, including the expansion terms the "
    "model added to the query."
)
INDEXES_URI = "splade-lite://indexes"
#: Every tool only reads the indexes this server opened.
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)


def _refused(err: Exception) -> str:
    """One line for a request refused by validation or by the service."""
    if isinstance(err, ValidationError):
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return f"{where or 'arguments'}: {first.get('msg', 'invalid')}"
    return str(err)


def build_mcp(registry: Registry, limits: Limits = Limits()) -> MCPServer:  # noqa: B008
    """An MCP server answering from `registry`'s indexes within `limits`."""
    server = MCPServer(
        name="splade-lite", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )

    def answer(call, request_type, **fields: Any):
        try:
            return call(registry, request_type(**fields), limits)
        except (ValidationError, service.ApiError) as err:
            raise ToolError(_refused(err)) from None

    @server.tool(annotations=READ_ONLY)
    def search(
        index: Annotated[str, Field(max_length=MAX_ID_CHARS, description="An index's name.")],
        query: Annotated[str, Field(max_length=MAX_QUERY_CHARS, description="The question.")],
        k: Annotated[int, Field(ge=1, le=MAX_K, description="Hits wanted.")] = 10,
        mode: Annotated[
            Literal["sparse", "bm25", "hybrid"],
            Field(description="sparse (learned), bm25, or hybrid (both fused)."),
        ] = "sparse",
        dense: Annotated[
            bool,
            Field(
                description="Rank with the index's dense model (list_indexes says which have "
                "one): alone with mode sparse, fused as a third list with mode hybrid."
            ),
        ] = False,
    ) -> SearchResponse:
        """Search an index: the top k documents for the query, with title and text start."""
        return answer(
            service.search, SearchRequest, index=index, query=query, k=k, mode=mode, dense=dense
        )

    @server.tool(annotations=READ_ONLY)
    def explain(
        index: Annotated[str, Field(max_length=MAX_ID_CHARS, description="An index's name.")],
        query: Annotated[str, Field(max_length=MAX_QUERY_CHARS)],
        docid: Annotated[str, Field(max_length=MAX_ID_CHARS, description="A document id.")],
    ) -> ExplainResponse:
        """Why a document scores what it does for a query: each shared term's query weight
        x document weight (an expansion term: added by the model, not in the text)."""
        return answer(service.explain, ExplainRequest, index=index, query=query, docid=docid)

    @server.tool(annotations=READ_ONLY)
    def list_indexes() -> dict[str, Any]:
        """The indexes served: their names, encoding and the rankings each answers."""
        return service.indexes(registry).model_dump()

    @server.resource(INDEXES_URI, name="indexes", mime_type="application/json")
    def all_indexes() -> str:
        """Every index served, as JSON."""
        return service.indexes(registry).model_dump_json()

    @server.resource(
        INDEXES_URI + "/{name}", name="index", mime_type="application/json"
    )  # fmt: skip
    def one_index(name: str) -> str:
        """One index, as JSON."""
        try:
            return json.dumps(registry.get(name).info())
        except KeyError as err:
            raise ResourceError(str(err)) from None

    return server


def run_stdio(registry: Registry, limits: Limits = Limits()) -> None:  # noqa: B008
    """Serve MCP over stdin and stdout until the client closes them."""
    build_mcp(registry, limits).run("stdio")
