"""Pure ASGI middleware shared by every service.

Starlette's BaseHTTPMiddleware runs each request through extra tasks and streams; on the
hot path that costs more than the endpoint itself, so everything here speaks raw ASGI,
prepares its headers once at construction and adds as few layers as it can.
"""

import logging
import os
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openbell.platform.problems import ProblemError
from openbell.platform.web.direct import route_path
from openbell.platform.web.errors import internal_error, request_id_from_scope, send_problem

logger = logging.getLogger("openbell.web")

_REQUEST_ID_HEADER = b"x-request-id"
_NO_STORE = (b"cache-control", b"no-store")
_HTTP1 = frozenset({"1.0", "1.1"})
_REQUEST_ID_PATTERN = re.compile(rb"[A-Za-z0-9._-]{1,64}")

API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""Swagger UI needs nothing inline: its styles are set through the CSSOM, which CSP allows,
and its stylesheet embeds its icons as data: URLs."""

PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), "
    "fullscreen=(), geolocation=(), gyroscope=(), hid=(), magnetometer=(), microphone=(), "
    "midi=(), payment=(), picture-in-picture=(), publickey-credentials-get=(), "
    "screen-wake-lock=(), serial=(), usb=(), xr-spatial-tracking=()"
)


def request_id_of(scope: Scope) -> str | None:
    """The id EdgeMiddleware gave this request (also `request.state.request_id`)."""
    return request_id_from_scope(scope)


def _client_request_id(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == _REQUEST_ID_HEADER:
            # Anything else could smuggle newlines or markup into logs and dashboards.
            return value.decode("ascii") if _REQUEST_ID_PATTERN.fullmatch(value) else None
    return None


def assign_request_id(scope: Scope) -> str:
    """Keep a well-formed client X-Request-ID or make one; record it in the scope's state."""
    request_id = _client_request_id(scope["headers"]) or os.urandom(12).hex()
    # Servers copy the lifespan state into each request's scope, so this stays per request.
    scope.setdefault("state", {})["request_id"] = request_id
    return request_id


def _encode(headers: dict[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple(
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    )


def security_headers(
    hsts_max_age_seconds: int, content_security_policy: str
) -> tuple[tuple[bytes, bytes], ...]:
    return _encode(
        {
            "content-security-policy": content_security_policy,
            "strict-transport-security": f"max-age={hsts_max_age_seconds}; includeSubDomains",
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "referrer-policy": "no-referrer",
            "permissions-policy": PERMISSIONS_POLICY,
            "cross-origin-opener-policy": "same-origin",
            "cross-origin-resource-policy": "same-origin",
        }
    )


def _stamped(
    headers: Iterable[tuple[bytes, bytes]], extra: tuple[tuple[bytes, bytes], ...]
) -> list[tuple[bytes, bytes]]:
    """The response headers plus `extra`, and `no-store` unless the response chose its caching."""
    for name, _ in headers:
        if name == b"cache-control":
            return [*headers, *extra]
    return [*headers, *extra, _NO_STORE]


def _log_unhandled(scope: Scope, error: Exception) -> None:
    # The query string and headers may carry credentials: log only what routes the request.
    logger.error(
        "unhandled error in %s %s (request id %s)",
        scope.get("method"),
        scope.get("path"),
        request_id_from_scope(scope),
        exc_info=error,
    )


class EdgeMiddleware:
    """The first and last code every request meets.

    - Gives the request an id (a well-formed client X-Request-ID, else a random one), in
      `request.state.request_id` and the X-Request-ID response header.
    - Stamps the security headers on every response; paths under `docs_prefix` get a
      self-only CSP so the bundled Swagger UI runs, all others `default-src 'none'`.
      API responses get `Cache-Control: no-store` unless they set their own.
    - Turns an exception nobody handled into a bare 500 problem, logged server-side.

    One middleware rather than three: each ASGI layer costs about a microsecond and a
    closure per request, and these three all act on the same response start.
    """

    def __init__(
        self, app: ASGIApp, *, hsts_max_age_seconds: int = 63_072_000, docs_prefix: str = "/docs"
    ) -> None:
        self.app = app
        self.docs_prefix = docs_prefix
        self._docs_children = docs_prefix + "/"
        self._api_headers = security_headers(hsts_max_age_seconds, API_CONTENT_SECURITY_POLICY)
        self._docs_headers = security_headers(hsts_max_age_seconds, DOCS_CONTENT_SECURITY_POLICY)

    def _is_docs(self, scope: Scope) -> bool:
        path = route_path(scope)
        return path == self.docs_prefix or path.startswith(self._docs_children)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                assign_request_id(scope)
            await self.app(scope, receive, send)
            return
        request_id = assign_request_id(scope).encode("ascii")
        policy = self._docs_headers if self._is_docs(scope) else self._api_headers
        extra = ((_REQUEST_ID_HEADER, request_id), *policy)
        started = False

        async def stamping_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = _stamped(message.get("headers", ()), extra)
            await send(message)

        try:
            await self.app(scope, receive, stamping_send)
        except Exception as error:
            _log_unhandled(scope, error)
            if started:
                raise
            await send_problem(scope, stamping_send, internal_error())


def content_too_large(limit: int) -> ProblemError:
    return ProblemError(
        413,
        "Content Too Large",
        reason="content_too_large",
        detail=f"The request body must not exceed {limit} bytes.",
    )


def _framing(headers: Iterable[tuple[bytes, bytes]]) -> tuple[int | None, bool]:
    """The declared Content-Length, and whether a Transfer-Encoding streams the body."""
    length, streamed = None, False
    for name, value in headers:
        if name == b"content-length":
            length = int(value) if value.isdigit() else None
        elif name == b"transfer-encoding":
            streamed = True
    return length, streamed


class _CountedBody:
    """Counts one request's body as the application reads it, and refuses the excess."""

    __slots__ = ("_receive", "_scope", "_send", "limit", "received", "rejected", "started")

    def __init__(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self.limit = limit
        self.received = 0
        self.rejected = False
        self.started = False

    async def receive(self) -> Message:
        if self.rejected:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.rejected = True
                if not self.started:
                    self.started = True
                    await send_problem(self._scope, self._send, content_too_large(self.limit))
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if self.rejected:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class BodySizeLimitMiddleware:
    """Refuse request bodies over `max_body_bytes` with 413 problem+json.

    A declared Content-Length over the limit is refused before the application runs. In
    HTTP/1 a declared length is exact and no length without Transfer-Encoding means no
    body, so such requests pass untouched. Any other body (chunked, or HTTP/2 without a
    length) is counted as it streams: when the count passes the limit, the 413 goes out at
    once and the application sees a client disconnect, so no handler can swallow the
    refusal or answer a second time.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, streamed = _framing(scope["headers"])
        if declared is not None and declared > self.max_body_bytes:
            await send_problem(scope, send, content_too_large(self.max_body_bytes))
            return
        if not streamed and (declared is not None or scope.get("http_version") in _HTTP1):
            await self.app(scope, receive, send)
            return
        body = _CountedBody(scope, receive, send, self.max_body_bytes)
        try:
            await self.app(scope, body.receive, body.send)
        except Exception:
            if not body.rejected:
                raise
            # The 413 already went out; what the application made of the cut-off body is moot.
