"""What every request passes before it is answered: the API key, and the size of its body.

Both are plain ASGI middleware, so they guard the MCP endpoint as they guard the API.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
ASGIApp = Callable[..., Awaitable[None]]

#: Host header values a server on the loopback answers (a page of another site that reaches
#: it through DNS rebinding sends its own name).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
#: The header a client sends the API key in.
API_KEY_HEADER = "x-api-key"
#: Paths open without a key: the page (it holds no data; it asks the API, with the key,
#: for results) and the health check.
OPEN_PATHS = ("/", "/api/health", "/favicon.ico")
OPEN_PREFIXES = ("/static/",)
#: Headers of every answer: the page loads nothing from elsewhere and runs in no frame.
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


async def _send_json(send: Callable, status: int, detail: str, extra=()) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
        *SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value
    return None


class Guard:
    """Refuses a request without the API key (401) or with a body over `max_body` bytes
    (413), and adds :data:`SECURITY_HEADERS` to every answer."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, max_body: int) -> None:
        self.app = app
        self.api_key = api_key.encode() if api_key else None
        self.max_body = max_body

    def _needs_key(self, path: str) -> bool:
        if self.api_key is None:
            return False
        return not (path in OPEN_PATHS or path.startswith(OPEN_PREFIXES))

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secure(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        if self._needs_key(scope.get("path", "")):
            given = _header(scope, API_KEY_HEADER.encode()) or b""
            if not hmac.compare_digest(given, self.api_key or b""):
                await _send_json(send, 401, "missing or wrong X-API-Key header")
                return
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _send_json(send, 400, "the Content-Length header is not a number")
                return
            if declared > self.max_body:
                await _send_json(send, 413, self._too_large())
                return
            await self.app(scope, receive, send_secure)
            return
        await self._buffered(scope, receive, send, send_secure)

    def _too_large(self) -> str:
        return f"the request body is over {self.max_body:,} bytes"

    async def _buffered(self, scope: Scope, receive: Callable, send: Callable, send_secure) -> None:
        """A body of unknown length (chunked): read up to the limit, then replayed."""
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send_secure)
            return
        messages: list[dict] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_body:
                await _send_json(send, 413, self._too_large())
                return
            if not message.get("more_body"):
                break
        replay = iter(messages)

        async def receive_again() -> dict:
            return next(replay, None) or await receive()

        await self.app(scope, receive_again, send_secure)
