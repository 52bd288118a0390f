"""Identity end to end on a real database: what CLI commands do, token endpoint, a guarded route."""

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends

from openbell.identity.bootstrap import build_identity, open_identity
from openbell.identity.entrypoints.routes import create_routers
from openbell.platform.auth import Principal, require_scope
from openbell.platform.db import prepare_database
from openbell.platform.settings import Settings
from openbell.platform.web import create_app
from openbell.shared.errors import NotFoundError

trading = APIRouter()


@trading.get("/balances")
async def balances(
    principal: Annotated[Principal, Depends(require_scope("read"))],
) -> dict[str, Any]:
    return {"account_id": principal.account_id}


@pytest.fixture
def settings(tmp_path):
    return Settings(
        data_dir=tmp_path / "var",
        argon2_time_cost=1,
        argon2_memory_cost_kib=64,
        argon2_parallelism=1,
    )


@pytest.fixture
async def url(database_url):
    await prepare_database(database_url)
    return database_url


@pytest.fixture
async def identity(settings, url):
    identity = build_identity(settings, url)
    await identity.start()
    yield identity
    await identity.close()


@pytest.fixture
async def http(settings, identity):
    app = create_app(
        settings,
        routers=[*create_routers(identity), trading],
        readiness=identity.ready,
        token_verifier=identity.verifier,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_a_client_made_by_the_cli_gets_a_token_and_reads_its_account(settings, url, http):
    async with open_identity(settings, url) as cli:
        issued = await cli.clients.create_client(
            name="market maker", scopes=["read", "trade"], account_id=11
        )
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "read"},
        auth=(issued.client_id, issued.client_secret),
    )
    assert response.status_code == 200
    token = response.json()["access_token"]
    response = await http.get("/balances", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"account_id": 11}


async def test_a_client_revoked_by_the_cli_gets_no_token(settings, url, http):
    async with open_identity(settings, url) as cli:
        issued = await cli.clients.create_client(name="old bot", scopes=["read"])
        await cli.clients.revoke_client(issued.client_id)
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(issued.client_id, issued.client_secret),
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    async with open_identity(settings, url) as cli:
        (listed,) = await cli.clients.list_clients()
        assert listed.client_id == issued.client_id
        assert listed.revoked_at is not None
        with pytest.raises(NotFoundError):
            await cli.clients.revoke_client("obc_nobody")


async def test_readiness_checks_key_and_database(http, identity):
    assert await identity.ready()
    response = await http.get("/readyz")
    assert response.status_code == 200
