"""``splade-lite serve``: the indexes of one process behind an HTTP API, a search page and MCP.

- :mod:`splade_lite.serve.registry`: the indexes opened at start, by name, and the shared
  searchers that answer them.
- :mod:`splade_lite.serve.service`: search and explain requests answered, the same for HTTP
  and MCP, with the errors a client may see.
- :mod:`splade_lite.serve.app`: the FastAPI application (``create_app``).
- :mod:`splade_lite.serve.mcp_server`: the same tools for agents, over the MCP SDK.

Each needs the ``serve`` extra (FastAPI, uvicorn, mcp); nothing here is imported by the
rest of the package.
"""

from __future__ import annotations
