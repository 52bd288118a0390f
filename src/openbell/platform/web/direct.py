"""Routes documented like any FastAPI route but served by a bare ASGI endpoint.

FastAPI spends most of a small request on machinery: resolving the dependency graph,
building a Request, validating the endpoint's return value against the response
model and serialising it again, matching the path through every included router
twice, and an exception middleware and exit stack around it all. A hot route can
skip all of it and keep its OpenAPI document:

- `add_direct_route` registers the route on an APIRouter with an endpoint whose
  signature (body model, parameters, security dependencies, return type) documents
  the operation exactly as before; FastAPI never calls it. `app`, an ASGI callable,
  serves every request.
- `create_app` serves direct routes from `DirectRoutes`, the innermost of its own
  middleware (after the edge, the policies and the body limit), ahead of FastAPI's
  exception middleware and routers. Only a request whose method and path a direct
  route serves is taken there; any other goes on to the routers, so 404 and 405
  answers do not change.
- The helpers below do what FastAPI would have done for such an endpoint, with the
  same results: body reading and JSON decoding by Content-Type, validation errors
  raised as RequestValidationError with FastAPI's error entries, JSON responses.

The endpoint must then do the security checks its signature documents itself (see
`ScopeRequirement.authorize`). Its exceptions go to the application's handlers, so
errors leave as problem+json, through the same middleware, as from any route.
"""

import json
from collections.abc import Callable, Sequence
from typing import Any, Final, Generic, TypeVar

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openbell.platform.web.strict_json import (
    DuplicateKeyError,
    duplicate_key,
    is_json_content_type,
    loads,
)

T = TypeVar("T")

_JSON: Final = b"application/json"
_JSON_HEADER: Final = (b"content-type", _JSON)


class DirectRoute(APIRoute):
    """An APIRoute that `app` serves instead of FastAPI's handler for its endpoint."""

    direct_app: ASGIApp | None = None

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.direct_app is None:
            raise RuntimeError(f"no ASGI app serves {self.path}")
        if self.methods is not None and scope["method"] not in self.methods:
            await super().handle(scope, receive, send)  # the 405 any route answers
            return
        await self.direct_app(scope, receive, send)


def add_direct_route(
    router: APIRouter,
    path: str,
    endpoint: Callable[..., Any],
    app: ASGIApp,
    **documentation: Any,  # noqa: ANN401  # passed on to APIRouter.add_api_route as is
) -> DirectRoute:
    """Document `path` on `router` with `endpoint`'s signature; serve it with `app`.

    `documentation` takes what `APIRouter.add_api_route` takes (methods, summary,
    status_code, responses...). Dependencies would never run, so none are allowed.
    """
    if router.dependencies or documentation.get("dependencies"):
        raise ValueError("a direct route runs no dependencies; check them in its app")
    router.add_api_route(path, endpoint, route_class_override=DirectRoute, **documentation)
    route = router.routes[-1]
    if not isinstance(route, DirectRoute):  # add_api_route appends the route it made
        raise TypeError("the router did not add a DirectRoute")
    route.direct_app = app
    return route


def route_path(scope: Scope) -> str:
    """The path below the application's root path, as Starlette's routes match it.

    Behind a proxy that mounts the application under a prefix (`root_path`), `path` holds
    the prefix too; a path outside the prefix is matched whole, as Starlette does.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    rest = path[len(root_path) :]
    if not rest or rest.startswith("/"):
        return rest
    return path  # "/apiary" is not under the root path "/api"


class _Match:
    """A direct route's path and methods, matched as Starlette matches a route."""

    __slots__ = ("methods", "route")

    def __init__(self, route: DirectRoute) -> None:
        self.route = route
        self.methods = frozenset(route.methods or ())

    def child_scope(self, scope: Scope) -> Scope | None:
        """What the route adds to the request's scope, or None if the path is not its own."""
        route = self.route
        found = route.path_regex.match(route_path(scope))
        if found is None:
            return None
        path_params = dict(scope.get("path_params", {}))
        for name, value in found.groupdict().items():
            path_params[name] = route.param_convertors[name].convert(value)
        return {"endpoint": route.endpoint, "path_params": path_params, "route": route}


class DirectRoutes:
    """Serves the routers' direct routes ahead of FastAPI's exception middleware and router.

    The innermost of the application's own middleware, so a direct route's request has
    passed every policy, the edge and the body limit. Only a request whose method and
    path a direct route serves is taken; every other goes on to the routers, so 404
    and 405 answers do not change. An exception the application has a handler for is
    answered by that handler, as Starlette's exception middleware would.
    """

    def __init__(self, app: ASGIApp, *, routers: Sequence[APIRouter]) -> None:
        self.app = app
        by_method: dict[str, list[_Match]] = {}
        for router in routers:
            for route in router.routes:
                if isinstance(route, DirectRoute):
                    for method in route.methods or ():
                        by_method.setdefault(method, []).append(_Match(route))
        self._by_method = by_method

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        candidates = self._by_method.get(scope["method"]) if scope["type"] == "http" else None
        if candidates:
            for candidate in candidates:
                child = candidate.child_scope(scope)
                if child is not None:
                    scope.update(child)
                    await _serve(candidate.route, scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def _serve(route: DirectRoute, scope: Scope, receive: Receive, send: Send) -> None:
    started = False

    async def sender(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        await route.handle(scope, receive, sender)
    except Exception as error:
        handler = _handler_for(scope, error)
        if handler is None:
            raise
        if started:
            raise RuntimeError("Caught handled exception, but response already started.") from error
        response = await handler(Request(scope, receive), error)
        await response(scope, receive, sender)
        error.__traceback__ = None  # a reused exception would pile up tracebacks


def _handler_for(scope: Scope, error: Exception) -> Any:  # noqa: ANN401  # Starlette's handler type
    # The application's own handlers, as its exception middleware has them (the one for
    # Exception belongs to the server-error middleware further out).
    handlers = scope["app"].exception_handlers
    for cls in type(error).__mro__:
        if cls is not Exception and cls in handlers:
            return handlers[cls]
    return None


# --- what FastAPI would do for the endpoint ---------------------------------------------


async def read_body(receive: Receive) -> bytes:
    """The whole request body; a client gone before the end is FastAPI's 400."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            # A disconnect; the body-size limit also ends a body this way, after its 413.
            raise HTTPException(400, "There was an error parsing the body")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header, as Starlette reads it."""
    for key, value in scope["headers"]:
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


class _Missing:
    """No body at all: FastAPI reports the required body as missing."""


MISSING: Final = _Missing()


def json_body(scope: Scope, body: bytes) -> Any:  # noqa: ANN401  # whatever the JSON holds
    """The body as FastAPI hands it to validation: decoded if its type is JSON, else bytes.

    Invalid JSON is refused at once with FastAPI's `json_invalid` error, before any
    dependency (authentication included) would have run; a repeated member name with the
    400 every route gives it (see `strict_json`).
    """
    if not body:
        return MISSING
    if not is_json_content_type(header(scope, b"content-type")):
        return body
    try:
        return loads(body)
    except DuplicateKeyError:
        raise duplicate_key() from None
    except json.JSONDecodeError as error:  # FastAPI's answer to a body that is not JSON
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", error.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": error.msg},
                }
            ],
            body=error.doc,
        ) from error
    except Exception as error:  # not text in a JSON encoding, too deeply nested...
        raise HTTPException(400, "There was an error parsing the body") from error


class Validator(Generic[T]):
    """Validates one request part as FastAPI validates a parameter or body of this type."""

    def __init__(self, annotation: Any, location: tuple[str, ...]) -> None:  # noqa: ANN401  # a type form
        self._adapter: TypeAdapter[T] = TypeAdapter(annotation)
        self._location = location

    def validate(self, value: object, errors: list[dict[str, Any]]) -> T | None:
        """The valid value; None on failure, with FastAPI's error entries added to `errors`.

        Collect the errors of every part, then raise `validation_error(errors)`: FastAPI
        reports the path's and the body's errors together.
        """
        if value is MISSING:
            errors.append(
                {"type": "missing", "loc": self._location, "msg": "Field required", "input": None}
            )
            return None
        try:
            return self._adapter.validate_python(value, from_attributes=True)
        except ValidationError as error:
            errors.extend(
                {**entry, "loc": self._location + tuple(entry["loc"])}
                for entry in error.errors(include_url=False)
            )
            return None


def validation_error(errors: list[dict[str, Any]]) -> RequestValidationError:
    return RequestValidationError(errors)


async def send_json(send: Send, status: int, body: bytes) -> None:
    """A JSON response, with the headers Starlette's Response would send."""
    headers = [(b"content-length", str(len(body)).encode("latin-1")), _JSON_HEADER]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
