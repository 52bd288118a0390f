"""The application's edge hands every route, and the policies before them, the real client."""

from typing import ClassVar

import httpx
from fastapi import APIRouter, Request
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from openbell.platform.settings import Settings
from openbell.platform.web import create_app

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
