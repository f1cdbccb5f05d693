"""``splade-lite serve``: indexes behind an HTTP API, a search page and MCP, on this machine."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

import click

from splade_lite.cli_errors import friendly as _friendly
from splade_lite.cli_errors import log as _log
from splade_lite.cli_options import json_option, print_json, quiet_option


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (127.0.0.0/8, ::1 or localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def api_key_from(env_name: str | None) -> str | None:
    """The API key held in environment variable `env_name` (refused when unset or blank)."""
    if env_name is None:
        return None
    key = os.environ.get(env_name, "")
    if not key.strip():
        raise click.UsageError(f"--api-key-env {env_name}: that environment variable is not set")
    return key


def _missing_extra(err: ImportError) -> click.ClickException:
    return click.ClickException(
        f"serve needs the packages of the serve extra ({err.name or err} is missing): "
        "pip install 'splade-lite[serve]'"
    )


@click.command()
@click.argument(
    "index_dirs", nargs=-1, required=True, metavar="INDEX_DIR...",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)  # fmt: skip
@click.option(
    "--host", default="127.0.0.1", show_default=True,
    help="Address to listen on. Another than the loopback needs --api-key-env or --allow-remote.",
)  # fmt: skip
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
    help="Port to listen on.",
)  # fmt: skip
@click.option(
    "--api-key-env", metavar="NAME", default=None,
    help="Require the key held in environment variable NAME in every request's X-API-Key "
    "header (the page asks for it).",
)  # fmt: skip
@click.option(
    "--allow-remote", is_flag=True,
    help="Listen on a non-loopback address without an API key: anyone who reaches it may search.",
)  # fmt: skip
@click.option(
    "--mcp", "mcp_transport", type=click.Choice(["stdio"]), default=None,
    help="Serve MCP over stdin/stdout (for an agent that starts this command) instead of "
    "HTTP; over HTTP, MCP is at /mcp.",
)  # fmt: skip
@click.option(
    "--concurrency", default=None, type=click.IntRange(1, 256),
    help="Searches run at once; the others wait their turn [default: the machine's cores].",
)  # fmt: skip
@click.option(
    "--threads", default=1, show_default=True, type=click.IntRange(1, 256),
    help="Torch threads of each query encoding (SPLADE and dense): queries are short, so "
    "requests side by side use the cores better than threads of one request.",
)  # fmt: skip
@quiet_option
@json_option
@_friendly
def serve(
    index_dirs, host, port, api_key_env, allow_remote, mcp_transport, concurrency, threads,
    quiet, as_json,
):  # fmt: skip
    """Serve INDEX_DIR... for search: an HTTP API, a search page at / and MCP at /mcp.

    Each index is named by its folder's name; requests name it so, never by path. With
    --json, one line on stdout says where (url, indexes) before the server listens.
    """
    if as_json and mcp_transport == "stdio":
        raise click.UsageError("--mcp stdio speaks MCP on stdout: --json cannot share it")
    api_key = api_key_from(api_key_env)
    remote = not is_loopback(host)
    if mcp_transport is None and remote and api_key is None and not allow_remote:
        raise click.UsageError(
            f"--host {host} is reachable from other machines: give --api-key-env NAME to "
            "require a key, or --allow-remote to serve without one"
        )
    try:
        from splade_lite.serve.registry import Registry
    except ImportError as err:
        raise _missing_extra(err) from None
    if not quiet:
        _log(f"opening {len(index_dirs)} index{'es' * (len(index_dirs) > 1)}")
    registry = Registry(index_dirs, concurrency=concurrency, threads=threads)
    registry.warm()
    if "torch" in sys.modules:  # a SPLADE index's query encoder (inference-free: Java only)
        sys.modules["torch"].set_num_threads(threads)
    if mcp_transport == "stdio":
        try:
            from splade_lite.serve.mcp_server import run_stdio
        except ImportError as err:
            raise _missing_extra(err) from None
        if not quiet:
            _log(f"serving MCP on stdio: {', '.join(registry.names)}")
        run_stdio(registry)
        return
    try:
        import uvicorn

        from splade_lite.serve.app import create_app
        from splade_lite.serve.guards import LOOPBACK_HOSTS
    except ImportError as err:
        raise _missing_extra(err) from None
    # a remote client may name this machine anyhow; the Host check is for the loopback
    hosts = None if remote or ":" in host else (*LOOPBACK_HOSTS, host)
    app = create_app(registry, api_key, allowed_hosts=hosts)
    shown = f"[{host}]" if ":" in host else host
    if as_json:
        print_json({"url": f"http://{shown}:{port}/", "indexes": list(registry.names)})
    if not quiet:
        _log(
            f"serving {', '.join(registry.names)} at http://{shown}:{port}/ (API under /api, "
            f"MCP at /mcp{', X-API-Key required' if api_key else ''}); Ctrl-C stops"
        )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning" if quiet else "info",
        timeout_graceful_shutdown=10,
    )
    registry.close()
