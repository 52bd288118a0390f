"""Probes: /livez says the process serves HTTP, /readyz asks the composition root if it can work.

/livez is the throughput baseline for benchmarks, so it is a bare ASGI endpoint that
sends prepared bytes: no request object, no validation, no serialisation.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from openbell.platform.problems import ProblemError
from openbell.platform.web.errors import ProblemResponse

logger = logging.getLogger("openbell.web")

Readiness = Callable[[], Awaitable[bool]]
"""Answers whether the service can do its work now (database reachable, core running...)."""

_LIVE_BODY = b'{"status":"ok"}'
_LIVE_HEADERS = (
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_LIVE_BODY)).encode("latin-1")),
)
_LIVE_START = {"type": "http.response.start", "status": 200}
_LIVE_BODY_MESSAGE = {"type": "http.response.body", "body": _LIVE_BODY}


class Livez:
    """A bare ASGI endpoint (a class, so Starlette does not wrap it in a Request)."""

    async def __call__(self, _scope: Scope, _receive: Receive, send: Send) -> None:
        # Fresh dicts: middleware on the way out rewrites the start message's headers.
        await send({**_LIVE_START, "headers": list(_LIVE_HEADERS)})
        await send(dict(_LIVE_BODY_MESSAGE))


async def _always_ready() -> bool:
    return True


def _not_ready() -> ProblemError:
    return ProblemError(
        503,
        "Service Unavailable",
        reason="not_ready",
        detail="The service is not ready to take requests.",
        headers={"Retry-After": "1"},
    )


def readyz_endpoint(
    readiness: Readiness | None, timeout_seconds: float
) -> Callable[[Request], Awaitable[Response]]:
    check = readiness or _always_ready

    async def readyz(request: Request) -> Response:
        try:
            async with asyncio.timeout(timeout_seconds):
                ready = await check()
        except Exception:
            logger.exception("readiness check failed")
            ready = False
        if not ready:
            return ProblemResponse(_not_ready(), request.scope)
        return Response(b'{"status":"ready"}', media_type="application/json")

    return readyz


def health_routes(readiness: Readiness | None, timeout_seconds: float) -> list[Route]:
    return [
        Route("/livez", Livez(), methods=["GET"], include_in_schema=False),
        Route(
            "/readyz",
            readyz_endpoint(readiness, timeout_seconds),
            methods=["GET"],
            include_in_schema=False,
        ),
    ]
