"""Request ids, security headers, probes and extra policy middleware of the web platform."""

import asyncio
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from openbell.platform.auth import Principal, require_scope
from openbell.platform.problems import ProblemError
from openbell.platform.settings import Settings
from openbell.platform.web import create_app
from openbell.platform.web.errors import send_problem

router = APIRouter()


@router.get("/whoami")
async def whoami(request: Request) -> dict[str, str]:
    return {"request_id": request.state.request_id}


@router.get("/cacheable")
async def cacheable() -> JSONResponse:
    return JSONResponse({"ok": True}, headers={"Cache-Control": "public, max-age=60"})


def make_client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path)


@pytest.fixture
async def client(settings):
    async with make_client(create_app(settings, routers=[router])) as client:
        yield client


API_HEADERS = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "cache-control": "no-store",
}


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/whoami", "/nowhere", "/openapi.json"])
async def test_api_responses_carry_every_security_header(client, path):
    response = await client.get(path)
    for name, value in API_HEADERS.items():
        assert response.headers[name] == value, name
    assert response.headers["strict-transport-security"].startswith("max-age=63072000")
    assert "camera=()" in response.headers["permissions-policy"]
    assert "geolocation=()" in response.headers["permissions-policy"]


async def test_docs_pages_get_a_self_only_policy(client):
    response = await client.get("/docs")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"


async def test_a_response_that_sets_cache_control_keeps_it(client):
    response = await client.get("/cacheable")
    assert response.headers.get_list("cache-control") == ["public, max-age=60"]


async def test_hsts_max_age_comes_from_settings(tmp_path):
    app = create_app(Settings(data_dir=tmp_path, hsts_max_age_seconds=300))
    async with make_client(app) as client:
        response = await client.get("/livez")
    assert response.headers["strict-transport-security"] == "max-age=300; includeSubDomains"


async def test_a_request_id_is_generated_and_given_to_handlers(client):
    response = await client.get("/whoami")
    request_id = response.headers["x-request-id"]
    assert len(request_id) >= 16
    assert response.json() == {"request_id": request_id}
    assert (await client.get("/whoami")).headers["x-request-id"] != request_id


async def test_a_well_formed_client_request_id_is_kept(client):
    response = await client.get("/whoami", headers={"X-Request-ID": "trader-7.order_42-a"})
    assert response.headers["x-request-id"] == "trader-7.order_42-a"
    assert response.json() == {"request_id": "trader-7.order_42-a"}


@pytest.mark.parametrize(
    "hostile",
    [
        "a" * 65,
        "<script>alert(1)</script>",
        "id with spaces",
        "id%0d%0aSet-Cookie:x",
        "",
        "caf\u00e9",
    ],
)
async def test_a_malformed_client_request_id_is_replaced(client, hostile):
    response = await client.get("/whoami", headers={"X-Request-ID": hostile.encode("utf-8")})
    request_id = response.headers["x-request-id"]
    assert request_id != hostile
    assert response.json() == {"request_id": request_id}
    assert request_id.isalnum()


async def test_livez_is_cheap_json(client):
    response = await client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["content-type"] == "application/json"


async def test_readyz_answers_ready_when_the_check_passes(settings):
    async def ready() -> bool:
        return True

    async with make_client(create_app(settings, readiness=ready)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def not_ready() -> bool:
    return False


async def failing() -> bool:
    raise ConnectionError("database at 10.0.0.5 refused password=secret")


async def hanging() -> bool:
    await asyncio.sleep(60)
    return True


@pytest.mark.parametrize("check", [not_ready, failing, hanging])
async def test_readyz_is_a_503_problem_when_not_ready(tmp_path, check):
    settings = Settings(data_dir=tmp_path, readiness_timeout_seconds=0.05)
    async with make_client(create_app(settings, readiness=check)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == "not_ready"
    assert "secret" not in response.text
    assert "10.0.0.5" not in response.text


class DenyEverything:
    """A stand-in gateway policy: answers every request itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await send_problem(
            scope, send, ProblemError(429, "Too Many Requests", reason="rate_limited")
        )


async def test_extra_middleware_runs_inside_ids_and_security_headers(settings):
    app = create_app(settings, routers=[router], middleware=[Middleware(DenyEverything)])
    async with make_client(app) as client:
        response = await client.get("/whoami")
    assert response.status_code == 429
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert response.headers["x-frame-options"] == "DENY"


async def test_without_a_verifier_protected_routes_fail_closed(settings):
    protected = APIRouter()

    @protected.get("/secret")
    async def secret(
        principal: Annotated[Principal, Depends(require_scope("read"))],
    ) -> dict[str, Any]:
        return {"sub": principal.subject}

    async with make_client(create_app(settings, routers=[protected])) as client:
        response = await client.get("/secret", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
