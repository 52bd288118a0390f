"""Every error leaves as RFC 9457 problem+json, and none carries internals.

Handlers here run inside the exception middleware, so the response still passes the
request-id and security-header middleware on its way out.
"""

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope, Send

from openbell.platform.problems import PROBLEM_JSON, ProblemError
from openbell.shared.errors import OverloadedError, UnavailableError

_PROBLEM_CONTENT_TYPE = PROBLEM_JSON.encode("latin-1")


def status_title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def request_id_from_scope(scope: Scope) -> str | None:
    state = scope.get("state")
    if isinstance(state, dict):
        value = state.get("request_id")
        return value if isinstance(value, str) else None
    return None


def problem_document(problem: ProblemError, scope: Scope) -> dict[str, Any]:
    document = problem.to_document()
    request_id = request_id_from_scope(scope)
    if request_id is not None:
        document["request_id"] = request_id
    return document


def encode_problem(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


class ProblemResponse(Response):
    media_type = PROBLEM_JSON

    def __init__(self, problem: ProblemError, scope: Scope) -> None:
        super().__init__(
            encode_problem(problem_document(problem, scope)),
            status_code=problem.status,
            headers=problem.headers or None,
        )


async def send_problem(scope: Scope, send: Send, problem: ProblemError) -> None:
    """Answer with a problem from pure ASGI middleware, where no Response machinery runs."""
    body = encode_problem(problem_document(problem, scope))
    headers = [
        (b"content-type", _PROBLEM_CONTENT_TYPE),
        (b"content-length", str(len(body)).encode("latin-1")),
        *(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in problem.headers.items()
        ),
    ]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def internal_error() -> ProblemError:
    # Deliberately says nothing of the cause: the request id is how operators find it in logs.
    return ProblemError(500, "Internal Server Error", reason="internal_error")


async def handle_problem(request: Request, exc: ProblemError) -> Response:
    return ProblemResponse(exc, request.scope)


async def handle_http_exception(request: Request, exc: HTTPException) -> Response:
    title = status_title(exc.status_code)
    # Details of HTTPExceptions are written by developers, never derived from input;
    # repeating the title adds nothing.
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    problem = ProblemError(exc.status_code, title, detail=detail, headers=dict(exc.headers or {}))
    if exc.status_code in {204, 304} or exc.status_code < 200:
        return Response(status_code=exc.status_code, headers=exc.headers)
    return ProblemResponse(problem, request.scope)


def sanitized_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Where and why each field failed, without the submitted values (they may be secrets)."""
    return [
        {
            "location": [str(part) for part in error.get("loc", ())],
            "message": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in errors
        if isinstance(error, Mapping)
    ]


async def handle_validation_error(request: Request, exc: RequestValidationError) -> Response:
    problem = ProblemError(
        422,
        "Unprocessable Content",
        reason="validation_error",
        detail="The request does not match the expected schema.",
        extensions={"errors": sanitized_errors(exc.errors())},
    )
    return ProblemResponse(problem, request.scope)


RETRY_AFTER_SECONDS = 1


async def handle_unavailable(request: Request, exc: UnavailableError) -> Response:
    """503 + Retry-After for work refused because a queue is full or a dependency is away;
    any route that lets such an error through answers this instead of a 500."""
    overloaded = isinstance(exc, OverloadedError)
    problem = ProblemError(
        503,
        "Service Unavailable",
        reason="overloaded" if overloaded else "unavailable",
        detail="Too much work is queued; retry shortly." if overloaded else None,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
    return ProblemResponse(problem, request.scope)


EXCEPTION_HANDLERS: dict[type[Exception], Callable[[Request, Any], Awaitable[Response]]] = {
    ProblemError: handle_problem,
    HTTPException: handle_http_exception,
    RequestValidationError: handle_validation_error,
    UnavailableError: handle_unavailable,
}
