"""The application factory every HTTP service uses."""

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Lifespan

from openbell import __version__
from openbell.platform.auth import InvalidTokenError, Principal, TokenVerifier
from openbell.platform.settings import Settings
from openbell.platform.web.client_ip import ClientIpMiddleware
from openbell.platform.web.direct import DirectRoutes
from openbell.platform.web.docs import docs_routes
from openbell.platform.web.errors import (
    EXCEPTION_HANDLERS,
    ProblemResponse,
    internal_error,
)
from openbell.platform.web.health import Readiness, health_routes
from openbell.platform.web.middleware import BodySizeLimitMiddleware, EdgeMiddleware
from openbell.platform.web.openapi import use_problem_schemas
from openbell.platform.web.strict_json import StrictJsonMiddleware

__all__ = ["Readiness", "create_app"]

OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"


class _NoTokenVerifier:
    """Stands in when the composition root gave no verifier: protected routes fail closed."""

    async def verify(self, token: str) -> Principal:  # noqa: ARG002 - the port's signature
        raise InvalidTokenError


async def _last_resort_error(request: Request, _exc: Exception) -> Response:
    # Only an error in EdgeMiddleware itself gets here; it answers every other one.
    return ProblemResponse(internal_error(), request.scope)


def middleware_stack(settings: Settings, policies: Sequence[Middleware] = ()) -> list[Middleware]:
    """The middleware, outermost first: the edge (ids, headers, 500 guard), the real client
    address (only with trusted proxies: otherwise the peer is the client), policies, body limit.

    `policies` are the gateway's later additions (rate limits, load shedding, IP lists):
    they run once the request has an id and before any body is read, and whatever they
    answer still carries the request id and the security headers.
    """
    proxies = settings.trusted_proxies
    return [
        Middleware(
            EdgeMiddleware,
            hsts_max_age_seconds=settings.hsts_max_age_seconds,
            docs_prefix=DOCS_PATH,
        ),
        *([Middleware(ClientIpMiddleware, trusted_proxies=proxies)] if proxies else []),
        *policies,
        Middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes),
    ]


def create_app(
    settings: Settings,
    *,
    routers: Sequence[APIRouter] = (),
    lifespan: Lifespan[FastAPI] | None = None,
    readiness: Readiness | None = None,
    token_verifier: TokenVerifier | None = None,
    middleware: Sequence[Middleware] = (),
    title: str = "openbell",
    version: str = __version__,
    description: str = "",
) -> FastAPI:
    """Build a FastAPI application with openbell's middleware, error shape, probes and docs.

    - `routers` are mounted as given; every error they raise leaves as problem+json.
      Their direct routes (see `direct`) are served by the innermost middleware but one;
      the last refuses JSON bodies that repeat a member name (see `strict_json`).
    - `lifespan` starts and stops the service's resources; `readiness` is awaited by
      GET /readyz (no callable means ready whenever the process serves).
    - `token_verifier` turns bearer tokens into principals for `require_scope`; without
      one every protected route answers 401.
    - `middleware` are extra pure-ASGI policies, outermost first (see `middleware_stack`).
    - With `settings.api_docs_enabled`, /openapi.json and Swagger UI at /docs are served
      from the installed packages.
    """
    docs = settings.api_docs_enabled
    handlers: dict[Any, Any] = {**EXCEPTION_HANDLERS, Exception: _last_resort_error}
    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        openapi_url=OPENAPI_PATH if docs else None,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        exception_handlers=handlers,
        middleware=[
            *middleware_stack(settings, middleware),
            Middleware(DirectRoutes, routers=routers),
            Middleware(StrictJsonMiddleware),  # after the direct routes: they check their own
        ],
    )
    app.state.settings = settings
    app.state.token_verifier = token_verifier or _NoTokenVerifier()
    app.router.routes.extend(health_routes(readiness, settings.readiness_timeout_seconds))
    if docs:
        app.router.routes.extend(
            docs_routes(title=title, openapi_path=OPENAPI_PATH, docs_path=DOCS_PATH)
        )
        use_problem_schemas(app)
    for router in routers:
        app.include_router(router)
    return app
