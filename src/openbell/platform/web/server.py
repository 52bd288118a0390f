"""The HTTP server's own limits, enforced where uvicorn reads the socket.

uvicorn's httptools protocol puts no bound on a request's head: httptools appends each
piece of a header to the previous ones, so one slowly fed 64 MB header costs seconds of
CPU on the event loop every client shares, and a socket that never sends a byte stays
open for ever. `LimitedHttpToolsProtocol` is that protocol with bounds, all from settings:

- the request line and headers together are counted in `data_received`, before the
  parser sees them, and refused with 431 once they pass `max_head_bytes`; so are more
  than `max_headers` header fields;
- the head must be complete within `head_timeout_seconds` of the connection's accept,
  and of the first byte of each later request on it (else 408, or a plain close if
  nothing came); between requests uvicorn's keep-alive timeout closes an idle connection;
- at most `max_connections` connections per process, and `max_connections_per_client`
  per client address, are served; one more is answered 503 and closed at once;
- everything the server answers itself (400, 408, 431, 503) carries the security headers
  every application response carries, as problem+json, and no Server header.

The hot path pays a length comparison per read and a timer per request.
"""

import asyncio
import dataclasses
import logging
import resource
from collections import Counter
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from openbell.platform.problems import ProblemError
from openbell.platform.settings import Settings
from openbell.platform.web.errors import encode_problem, status_title
from openbell.platform.web.middleware import API_CONTENT_SECURITY_POLICY, security_headers

logger = logging.getLogger("openbell.web")

DESCRIPTOR_RESERVE = 256
"""Descriptors kept for everything but client connections: databases, journal, logs."""


@dataclasses.dataclass(frozen=True, slots=True)
class ServerLimits:
    """What one server process accepts from its clients before any application code runs."""

    max_head_bytes: int
    max_headers: int
    head_timeout_seconds: float
    max_connections: int
    max_connections_per_client: int
    hsts_max_age_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "ServerLimits":
        return cls(
            max_head_bytes=settings.max_request_head_bytes,
            max_headers=settings.max_request_headers,
            head_timeout_seconds=settings.request_head_timeout_seconds,
            max_connections=settings.max_connections,
            max_connections_per_client=settings.max_connections_per_client,
            hsts_max_age_seconds=settings.hsts_max_age_seconds,
        )


class _TooManyHeadersError(Exception):
    """Raised from a parser callback; httptools turns it into a parser error, answered 431."""


def _refusal(
    status: int, reason: str, detail: str, headers: dict[str, str] | None = None
) -> ProblemError:
    return ProblemError(status, status_title(status), reason=reason, detail=detail, headers=headers)


def refusals(limits: ServerLimits) -> dict[int, ProblemError]:
    """The problems the server answers itself, by status."""
    return {
        400: _refusal(400, "malformed_request", "The request is not valid HTTP/1.1."),
        408: _refusal(
            408,
            "request_head_timeout",
            f"The request headers did not arrive within {limits.head_timeout_seconds:g} s.",
        ),
        431: _refusal(
            431,
            "request_head_too_large",
            f"The request line and headers must not exceed {limits.max_head_bytes} bytes "
            f"and {limits.max_headers} header fields.",
        ),
        503: _refusal(
            503,
            "too_many_connections",
            "Too many open connections; retry later.",
            {"Retry-After": "1"},
        ),
    }


def _response_head_and_body(problem: ProblemError, limits: ServerLimits) -> tuple[bytes, bytes]:
    body = encode_problem(problem.to_document())
    fields = [
        *security_headers(limits.hsts_max_age_seconds, API_CONTENT_SECURITY_POLICY),
        (b"cache-control", b"no-store"),
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"connection", b"close"),
        *(
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in problem.headers.items()
        ),
    ]
    head = b"".join(name + b": " + value + b"\r\n" for name, value in fields)
    return head, body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above; see `limited_protocol`."""

    limits: ClassVar[ServerLimits]
    clients: ClassVar[Counter[str]]
    """Open connections per client address, across this process."""
    answers: ClassVar[dict[int, tuple[bytes, bytes]]]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head_budget: int | None = self.limits.max_head_bytes
        self._heads = 0
        self._head_deadline: asyncio.TimerHandle | None = None
        self._refusing = 400
        self._client_host: str | None = None

    # --- connections ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(503)
            return
        if self.client is not None:
            host = self.client[0]
            if self.clients[host] >= self.limits.max_connections_per_client:
                self._refuse(503)
                return
            self.clients[host] += 1
            self._client_host = host
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._release_client()
        self._cancel_head_deadline()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes the connection over and sees its end, not this one.
        self._release_client()
        self._cancel_head_deadline()
        super().handle_websocket_upgrade()

    def _release_client(self) -> None:
        host = self._client_host
        if host is not None:
            self._client_host = None
            self.clients[host] -= 1
            if not self.clients[host]:
                del self.clients[host]

    # --- the request head: bytes, fields, deadline ----------------------------------------

    def data_received(self, data: bytes) -> None:
        # A read is charged to the head being read. A pipelined request whose head begins
        # in the read that ended the previous request is charged from the next read on: it
        # may pass the limit by at most one read, parsed in a single pass (linear work).
        budget = self._head_budget
        if budget is not None:
            if len(data) > budget:
                self._receive_past_budget(data, budget)
                return
            self._head_budget = budget - len(data)
            if self._head_deadline is None:
                self._arm_head_deadline()
        super().data_received(data)

    def _receive_past_budget(self, data: bytes, budget: int) -> None:
        # Parse only what the budget allows: if the head ends within it, the rest is a
        # body or the next request and is read as any other data; if not, it is refused
        # before the parser ever holds more than the budget.
        heads = self._heads
        super().data_received(data[:budget])
        if self.transport.is_closing():
            return
        if self._heads == heads:
            self._refuse(431)
            return
        self.data_received(data[budget:])

    def on_headers_complete(self) -> None:
        # Counted here rather than per header: the byte budget already bounds the fields
        # to a few thousand, and a call per header would cost every request.
        if len(self.headers) > self.limits.max_headers:
            self._refusing = 431
            raise _TooManyHeadersError
        self._head_budget = None
        self._heads += 1
        self._cancel_head_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_budget = self.limits.max_head_bytes  # the next request's head starts

    def _arm_head_deadline(self) -> None:
        self._head_deadline = self.loop.call_later(
            self.limits.head_timeout_seconds, self._head_timed_out
        )

    def _cancel_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        if self._head_budget == self.limits.max_head_bytes:
            self.transport.close()  # not a byte of a request: nothing to answer
        else:
            self._refuse(408)

    # --- answers of the server's own ------------------------------------------------------

    def send_400_response(self, msg: str) -> None:  # noqa: ARG002  # uvicorn's message is generic
        self._refuse(self._refusing)

    def _refuse(self, status: int) -> None:
        self._cancel_head_deadline()
        self._head_budget = None
        head, body = self.answers[status]
        dated = b"".join(
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        )
        self.transport.write(STATUS_LINE[status] + dated + head + b"\r\n" + body)
        self.transport.close()


def limited_protocol(limits: ServerLimits) -> type[LimitedHttpToolsProtocol]:
    """A protocol class for `uvicorn.Config(http=...)` bound to `limits` and its own counts."""
    answers = {
        status: _response_head_and_body(problem, limits)
        for status, problem in refusals(limits).items()
    }

    class BoundLimitedHttpToolsProtocol(LimitedHttpToolsProtocol):
        pass

    BoundLimitedHttpToolsProtocol.limits = limits
    BoundLimitedHttpToolsProtocol.clients = Counter()
    BoundLimitedHttpToolsProtocol.answers = answers
    return BoundLimitedHttpToolsProtocol


def fit_descriptor_limit(limits: ServerLimits) -> ServerLimits:
    """Raise the soft descriptor limit so `max_connections` fits, or lower the cap to fit it.

    A cap above the descriptor limit caps nothing: accept() fails first, for every client.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = limits.max_connections + DESCRIPTOR_RESERVE
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
        soft = raised
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return limits
    fitted = max(1, soft - DESCRIPTOR_RESERVE)
    logger.warning(
        "the descriptor limit (%d) leaves room for %d connections, not %d",
        soft,
        fitted,
        limits.max_connections,
    )
    return dataclasses.replace(limits, max_connections=fitted)
