"""The application's edge hands every route, the policies before them and the sign-in throttle
the real client behind a trusted proxy."""

import re
import time
from typing import ClassVar

import httpx
import pytest
from fastapi import APIRouter, Request
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from openbell.identity.bootstrap import build_in_memory_identity
from openbell.identity.domain.grants import pkce_challenge
from openbell.identity.domain.users import Role
from openbell.identity.entrypoints.routes import create_routers
from openbell.platform.settings import Settings
from openbell.platform.web import create_app
from openbell.shared.time import FixedClock

router = APIRouter()


@router.get("/client")
async def client_address(request: Request) -> dict[str, str | None]:
    peer = request.scope.get("state", {}).get("peer")
    return {"client": request.client.host if request.client else None, "peer": peer and peer[0]}


class SeenByPolicies:
    """Stands for the gateway's address-keyed policies (rate limits, IP lists)."""

    seen: ClassVar[list[str]] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["client"][0])
        await self.app(scope, receive, send)


async def get_client(settings: Settings, headers: dict[str, str]) -> dict[str, str | None]:
    app = create_app(settings, routers=[router], middleware=[Middleware(SeenByPolicies)])
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/client", headers=headers)
    assert response.status_code == 200
    result: dict[str, str | None] = response.json()
    return result


async def test_behind_a_trusted_proxy_routes_and_policies_see_the_forwarded_client(tmp_path):
    settings = Settings(data_dir=tmp_path, trusted_proxies="127.0.0.0/8")
    seen = await get_client(settings, {"X-Forwarded-For": "1.1.1.1, 198.51.100.7"})
    assert seen == {"client": "198.51.100.7", "peer": "127.0.0.1"}
    assert SeenByPolicies.seen[-1] == "198.51.100.7"


# -- the sign-in throttle behind a proxy -------------------------------------------------------

PASSWORD = "correct horse battery staple"
REDIRECT = "http://127.0.0.1:8765/callback"


def hidden_fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))


@pytest.fixture
async def sign_in(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        issuer="http://testserver",
        argon2_time_cost=1,
        argon2_memory_cost_kib=64,
        argon2_parallelism=1,
        login_address_failure_factor=3,
        trusted_proxies="127.0.0.0/8",
    )
    identity = build_in_memory_identity(settings, clock=FixedClock(time.time_ns()), kek=bytes(32))
    await identity.start()
    await identity.users.create_user(
        email="alice@example.com", password=PASSWORD, roles=[Role.TRADER]
    )
    console = await identity.clients.create_client(
        name="console",
        scopes=["openid", "read"],
        grant_types=["authorization_code"],
        redirect_uris=[REDIRECT],
        public=True,
    )
    app = create_app(settings, routers=create_routers(identity), token_verifier=identity.verifier)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    http = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async def attempt(client: str, email: str, password: str) -> int:
        proxied = {"X-Forwarded-For": client}
        query = {
            "response_type": "code",
            "client_id": console.client.client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid read",
            "code_challenge": pkce_challenge("v" * 48),
            "code_challenge_method": "S256",
        }
        page = await http.get("/oauth/authorize", params=query, headers=proxied)
        form = {**hidden_fields(page.text), "email": email, "password": password}
        response = await http.post("/oauth/authorize", data=form, headers=proxied)
        return response.status_code

    yield attempt
    await http.aclose()
    await identity.close()


async def test_a_guessing_client_behind_the_proxy_does_not_lock_out_the_others(sign_in):
    for number in range(3):
        await sign_in("198.51.100.66", f"user{number}@example.com", "wrong password!!")
    assert await sign_in("198.51.100.66", "alice@example.com", PASSWORD) == 401
    assert await sign_in("192.0.2.1", "alice@example.com", PASSWORD) == 303
