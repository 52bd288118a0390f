"""A JSON body that names a member twice is refused on the real routes, before any effect."""

import time

import pytest
from test_identity_oauth import PASSWORD, Accounts, make_harness, settings_for

from openbell.identity.bootstrap import build_in_memory_identity
from openbell.shared.time import FixedClock

ORDER_NAMING_SIDE_TWICE = (
    b'{"symbol": "ACME", "side": "buy", "type": "limit", "price": "100.00",'
    b' "quantity": "10", "side": "sell"}'
)


@pytest.fixture
async def oauth(tmp_path):
    settings, clock = settings_for(tmp_path), FixedClock(time.time_ns())
    identity = build_in_memory_identity(settings, clock=clock, kek=bytes(32), accounts=Accounts())
    harness = await make_harness(identity, settings, clock)
    yield harness
    await harness.http.aclose()
    await identity.close()


async def test_an_order_naming_its_side_twice_is_refused_and_not_placed(api):
    headers = {**api.auth("alice"), "content-type": "application/json"}
    response = await api.client.post("/v1/orders", content=ORDER_NAMING_SIDE_TWICE, headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == "duplicate_key"
    listed = (await api.get("/v1/orders", params={"status": "all"})).json()["orders"]
    assert listed == []


async def test_a_registration_naming_its_email_twice_is_refused_and_creates_no_user(oauth):
    body = (
        b'{"email": "owner@corp.example", "password": "' + PASSWORD.encode() + b'",'
        b' "email": "attacker@evil.example"}'
    )
    response = await oauth.http.post(
        "/v1/users", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["reason"] == "duplicate_key"
    assert await oauth.identity.users.list_users() == []
