"""The FastAPI application of ``splade-lite serve``: the API, the search page and ``/mcp``.

``create_app(indexes)`` answers:

- ``GET /``: the search page (static files under ``/static/``, nothing from elsewhere);
- ``GET /api/health``; ``GET /api/indexes``: the indexes served, by name;
- ``POST /api/search``, ``POST /api/batch-search``, ``POST /api/explain``;
- ``/mcp``: the MCP tools of :mod:`splade_lite.serve.mcp_server` (streamable HTTP).

Errors are ``{"detail": "one line"}`` with the status that says how the request failed
(400 a value refused, 401 no API key, 404 an unknown index or document, 413 a body too
large, 422 a request of the wrong shape, 500 a bug), never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from splade_lite import __version__
from splade_lite.serve import service
from splade_lite.serve.guards import LOOPBACK_HOSTS, Guard
from splade_lite.serve.registry import Registry
from splade_lite.serve.schemas import (
    BatchSearchRequest,
    BatchSearchResponse,
    ErrorOut,
    ExplainRequest,
    ExplainResponse,
    HealthResponse,
    IndexesResponse,
    Limits,
    SearchRequest,
    SearchResponse,
)

PAGE_DIR = Path(__file__).parent / "page"
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": what}
    for status, what in (
        (400, "A value refused (the message says which and why)"),
        (401, "No API key, or a wrong one"),
        (404, "No index or document of that name"),
        (413, "A request body too large"),
        (422, "A request of the wrong shape, or past a limit"),
        (500, "A bug in splade-lite"),
    )
}


def _one_line(err: RequestValidationError) -> str:
    """The first problem of a request that failed validation (and how many more)."""
    problems = err.errors()
    if not problems:
        return "the request is malformed"
    first = problems[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    text = " ".join(str(first.get("msg", "invalid")).split())
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return f"{where or 'body'}: {text}{more}"


def create_app(
    indexes: Registry | Sequence[str | Path],
    api_key: str | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen, so sharing the default is safe
    *,
    mcp: bool = True,
    allowed_hosts: Sequence[str] | None = LOOPBACK_HOSTS,
) -> FastAPI:
    """The application serving `indexes` (a :class:`Registry`, or index folders opened now).

    `api_key`: required in the ``X-API-Key`` header of every request but the page's files
    and the health check. `limits`: this server's request bounds. `mcp`: mount the MCP
    endpoint at ``/mcp``. `allowed_hosts`: the Host header values answered (None: any; the
    default, the loopback names, shuts out pages of other sites reaching a local server
    through DNS rebinding).
    """
    registry = indexes if isinstance(indexes, Registry) else Registry(indexes)
    owned = not isinstance(indexes, Registry)
    mcp_server = None
    if mcp:
        from splade_lite.serve.mcp_server import build_mcp

        mcp_server = build_mcp(registry, limits)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        async with AsyncExitStack() as stack:
            if mcp_server is not None:
                await stack.enter_async_context(mcp_server.session_manager.run())
            yield
        if owned:
            registry.close()

    app = FastAPI(
        title="splade-lite",
        version=__version__,
        description="Learned sparse search over the indexes this server was started with.",
        docs_url=None,  # the interactive docs load their scripts from a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.registry = registry
    app.state.limits = limits

    @app.exception_handler(service.ApiError)
    async def api_error(_request: Request, err: service.ApiError) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, err: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _one_line(err)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": " ".join(str(err.detail).split())},
            status_code=err.status_code,
            headers=getattr(err, "headers", None),
        )

    @app.exception_handler(Exception)
    async def bug(_request: Request, err: Exception) -> JSONResponse:
        service.LOG.error("a request failed unexpectedly", exc_info=err)
        return JSONResponse({"detail": service.bug_message(err)}, status_code=500)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(PAGE_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=PAGE_DIR), name="static")

    @app.get("/api/health", response_model=HealthResponse)
    def health() -> HealthResponse:
        """The server is up."""
        return HealthResponse(status="ok", version=__version__)

    @app.get("/api/indexes", response_model=IndexesResponse, responses=_ERRORS)
    def list_indexes() -> IndexesResponse:
        """The indexes served: name, encoding, the rankings each answers."""
        return service.indexes(registry)

    @app.post("/api/search", response_model=SearchResponse, responses=_ERRORS)
    def search(request: SearchRequest) -> SearchResponse:
        """The top k hits of one query."""
        return service.search(registry, request, limits)

    @app.post("/api/batch-search", response_model=BatchSearchResponse, responses=_ERRORS)
    def batch_search(request: BatchSearchRequest) -> BatchSearchResponse:
        """The top k hits of each query of a batch."""
        return service.batch_search(registry, request, limits)

    @app.post("/api/explain", response_model=ExplainResponse, responses=_ERRORS)
    def explain(request: ExplainRequest) -> ExplainResponse:
        """How one document's learned sparse score for a query adds up, term by term."""
        return service.explain(registry, request, limits)

    app.openapi = lambda: _schema_naming_indexes(app, registry.names)  # type: ignore[method-assign]
    if mcp_server is not None:
        _mount_mcp(app, mcp_server, allowed_hosts)
    app.add_middleware(Guard, api_key=api_key, max_body=limits.max_body_bytes)
    if allowed_hosts is not None:  # outermost: a foreign Host header is refused first
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    return app


def _schema_naming_indexes(app: FastAPI, names: list[str]) -> dict[str, Any]:
    """The OpenAPI schema, whose ``index`` fields list the names this server answers."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for component in schema.get("components", {}).get("schemas", {}).values():
            index = component.get("properties", {}).get("index")
            if index is not None and index.get("type") == "string" and "requestBody" not in index:
                if component.get("title", "").endswith("Request"):
                    index["enum"] = list(names)
        app.openapi_schema = schema
    return app.openapi_schema


def _mount_mcp(app: FastAPI, mcp_server: Any, allowed_hosts: Sequence[str] | None) -> None:
    """The MCP streamable HTTP endpoint at ``/mcp`` (stateless, JSON answers: no session
    or open stream outlives a request, so shutting down waits for nothing)."""
    from mcp.server.transport_security import TransportSecuritySettings

    if allowed_hosts is None:
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    else:
        hosts = [*allowed_hosts, *(f"{h}:*" for h in allowed_hosts)]
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=hosts,
            allowed_origins=[f"http://{h}" for h in hosts],
        )
    sub = mcp_server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        transport_security=security,
    )
    for route in sub.routes:  # the endpoint itself; its lifespan runs in the app's
        app.router.routes.append(route)
