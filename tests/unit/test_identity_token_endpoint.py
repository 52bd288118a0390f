"""The token endpoint (client credentials), the JWKS, and routes guarded by scopes."""

import base64
import json
from typing import Annotated, Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Depends

from openbell.identity.bootstrap import build_in_memory_identity
from openbell.identity.entrypoints.routes import create_routers
from openbell.platform.auth import Principal, require_scope
from openbell.platform.settings import Settings
from openbell.platform.web import create_app
from openbell.shared.time import FixedClock

ISSUER = "https://id.openbell.test"
AUDIENCE = "openbell-test"
FORM = {"grant_type": "client_credentials"}

protected = APIRouter()


@protected.post("/orders")
async def place_order(
    principal: Annotated[Principal, Depends(require_scope("trade"))],
) -> dict[str, Any]:
    return {"account_id": principal.account_id, "client_id": principal.client_id}


@pytest.fixture
def settings(tmp_path):
    return Settings(
        data_dir=tmp_path,
        issuer=ISSUER,
        audience=AUDIENCE,
        access_token_ttl_seconds=300,
        argon2_time_cost=1,
        argon2_memory_cost_kib=64,
        argon2_parallelism=1,
    )


@pytest.fixture
def clock():
    return FixedClock()


@pytest.fixture
async def identity(settings, clock):
    identity = build_in_memory_identity(settings, clock=clock, kek=bytes(range(32)))
    await identity.start()
    return identity


@pytest.fixture
async def trader(identity):
    return await identity.clients.create_client(
        name="trader", scopes=["read", "trade"], account_id=7
    )


@pytest.fixture
async def reader(identity):
    return await identity.clients.create_client(name="reader", scopes=["read"], account_id=7)


@pytest.fixture
async def http(settings, identity):
    app = create_app(
        settings, routers=[*create_routers(identity), protected], token_verifier=identity.verifier
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    header, payload, signature = token.split(".")
    return json.loads(decode(header)), json.loads(decode(payload)), decode(signature)


async def token_for(http, issued, **form) -> str:
    response = await http.post(
        "/oauth/token", data=FORM | form, auth=(issued.client_id, issued.client_secret)
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_client_secret_basic_gets_a_bearer_token(http, trader):
    response = await http.post(
        "/oauth/token", data=FORM, auth=(trader.client_id, trader.client_secret)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "read trade"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["content-type"] == "application/json"


async def test_client_secret_post_gets_a_bearer_token(http, trader):
    form = FORM | {"client_id": trader.client_id, "client_secret": trader.client_secret}
    response = await http.post("/oauth/token", data=form)
    assert response.status_code == 200
    assert response.json()["scope"] == "read trade"


async def test_basic_may_repeat_its_own_client_id_in_the_form(http, trader):
    form = FORM | {"client_id": trader.client_id}
    response = await http.post(
        "/oauth/token", data=form, auth=(trader.client_id, trader.client_secret)
    )
    assert response.status_code == 200


async def test_access_token_header_and_claims(http, trader, clock):
    token = await token_for(http, trader)
    header, claims, signature = segments(token)
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "at+jwt"
    assert isinstance(header["kid"], str)
    assert header["kid"]
    now = clock.now_ns() // 1_000_000_000
    assert claims.pop("jti")
    assert claims.pop("iat_ns") == clock.now_ns()
    assert claims == {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": trader.client_id,
        "client_id": trader.client_id,
        "scope": "read trade",
        "acct": 7,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    assert len(signature) == 64


async def test_every_token_has_its_own_id(http, trader):
    first, second = await token_for(http, trader), await token_for(http, trader)
    assert segments(first)[1]["jti"] != segments(second)[1]["jti"]


async def test_jwks_publishes_the_key_that_verifies_the_token(http, trader):
    token = await token_for(http, trader)
    header, _, signature = segments(token)
    response = await http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    (key,) = response.json()["keys"]
    assert key["kid"] == header["kid"]
    assert key["kty"] == "OKP"
    assert key["crv"] == "Ed25519"
    assert key["alg"] == "EdDSA"
    assert key["use"] == "sig"
    assert "d" not in key
    raw = base64.urlsafe_b64decode(key["x"] + "=" * (-len(key["x"]) % 4))
    signing_input = token.rsplit(".", 1)[0].encode()
    Ed25519PublicKey.from_public_bytes(raw).verify(signature, signing_input)


async def failed_logins(http, identity, trader, **kwargs):
    revoked = await identity.clients.create_client(name="gone", scopes=["read"])
    await identity.clients.revoke_client(revoked.client_id)
    attempts = {
        "wrong secret": (trader.client_id, trader.client_secret + "x"),
        "unknown client": ("obc_" + "A" * 22, trader.client_secret),
        "malformed client id": ("nobody", "secret"),
        "revoked client": (revoked.client_id, revoked.client_secret),
    }
    return {
        name: await kwargs["send"](http, *credentials) for name, credentials in attempts.items()
    }


async def send_basic(http, client_id, secret):
    return await http.post("/oauth/token", data=FORM, auth=(client_id, secret))


async def send_post(http, client_id, secret):
    return await http.post(
        "/oauth/token", data=FORM | {"client_id": client_id, "client_secret": secret}
    )


async def test_basic_failures_are_one_indistinct_401(http, identity, trader):
    responses = await failed_logins(http, identity, trader, send=send_basic)
    bodies = {response.text for response in responses.values()}
    assert len(bodies) == 1
    for response in responses.values():
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"].startswith("Basic ")
        assert response.headers["cache-control"] == "no-store"


async def test_form_failures_are_one_indistinct_400(http, identity, trader):
    responses = await failed_logins(http, identity, trader, send=send_post)
    assert len({response.text for response in responses.values()}) == 1
    for response in responses.values():
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_client"
        assert "www-authenticate" not in response.headers


async def test_no_credentials_is_invalid_client_with_a_basic_challenge(http):
    response = await http.post("/oauth/token", data=FORM)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")


async def test_a_malformed_basic_header_is_invalid_client(http):
    response = await http.post(
        "/oauth/token", data=FORM, headers={"Authorization": "Basic !!!not-base64"}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_a_revoked_client_gets_no_new_token(http, identity, trader):
    await token_for(http, trader)
    await identity.clients.revoke_client(trader.client_id)
    response = await send_basic(http, trader.client_id, trader.client_secret)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "grant_type",
    [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
        "CLIENT_CREDENTIALS",
    ],
)
async def test_other_grant_types_are_unsupported(http, trader, grant_type):
    form = {"grant_type": grant_type, "username": "u", "password": "p", "code": "c"}
    response = await http.post(
        "/oauth/token", data=form, auth=(trader.client_id, trader.client_secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("grant_type", ["authorization_code", "refresh_token"])
async def test_a_client_credentials_client_may_not_use_user_grants(http, trader, grant_type):
    form = {"grant_type": grant_type, "code": "c", "refresh_token": "r", "redirect_uri": "x"}
    response = await http.post(
        "/oauth/token", data=form, auth=(trader.client_id, trader.client_secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


async def test_unsupported_grant_type_is_said_even_without_credentials(http):
    response = await http.post("/oauth/token", data={"grant_type": "password"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_missing_grant_type_is_invalid_request(http, trader):
    response = await http.post(
        "/oauth/token", data={}, auth=(trader.client_id, trader.client_secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_basic_and_form_secret_together_are_refused(http, trader):
    form = FORM | {"client_id": trader.client_id, "client_secret": trader.client_secret}
    response = await http.post(
        "/oauth/token", data=form, auth=(trader.client_id, trader.client_secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_basic_with_another_form_client_id_is_refused(http, trader, reader):
    form = FORM | {"client_id": reader.client_id}
    response = await http.post(
        "/oauth/token", data=form, auth=(trader.client_id, trader.client_secret)
    )
    assert response.json()["error"] == "invalid_request"


async def test_a_repeated_parameter_is_invalid_request(http, trader):
    response = await http.post(
        "/oauth/token",
        content=b"grant_type=client_credentials&scope=read&scope=trade",
        headers={"content-type": "application/x-www-form-urlencoded"},
        auth=(trader.client_id, trader.client_secret),
    )
    assert response.json()["error"] == "invalid_request"


async def test_a_json_body_is_invalid_request(http, trader):
    response = await http.post(
        "/oauth/token", json=FORM, auth=(trader.client_id, trader.client_secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_a_secret_in_the_query_string_is_refused(http, trader):
    response = await http.post(
        "/oauth/token",
        params={"client_id": trader.client_id, "client_secret": trader.client_secret},
        data=FORM,
    )
    assert response.json()["error"] == "invalid_request"


async def test_a_subset_of_scopes_may_be_requested(http, trader):
    token = await token_for(http, trader, scope="read")
    assert segments(token)[1]["scope"] == "read"


@pytest.mark.parametrize("scope", ["read withdraw", "admin", "trade superuser", "read\ttrade"])
async def test_scope_escalation_is_invalid_scope(http, trader, scope):
    response = await http.post(
        "/oauth/token", data=FORM | {"scope": scope}, auth=(trader.client_id, trader.client_secret)
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_scope_is_checked_only_after_authentication(http, trader):
    response = await http.post(
        "/oauth/token", data=FORM | {"scope": "admin"}, auth=(trader.client_id, "wrong")
    )
    assert response.json()["error"] == "invalid_client"


async def test_no_answer_ever_contains_the_secret(http, identity, trader):
    for send in (send_basic, send_post):
        response = await send(http, trader.client_id, trader.client_secret + "x")
        assert trader.client_secret not in response.text


async def test_protected_route_without_a_token_is_401(http):
    response = await http.post("/orders")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "authorization", ["Bearer not-a-jwt", "Bearer a.b.c", "Basic eDp5", "Bearer"]
)
async def test_protected_route_with_a_bad_token_is_401(http, authorization):
    response = await http.post("/orders", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json()["reason"] == "invalid_token"


async def test_protected_route_with_a_read_only_token_is_403(http, reader):
    token = await token_for(http, reader)
    response = await http.post("/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json()["reason"] == "insufficient_scope"


async def test_a_trade_token_narrowed_to_read_is_403(http, trader):
    token = await token_for(http, trader, scope="read")
    response = await http.post("/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


async def test_protected_route_with_a_trade_token_knows_the_account(http, trader):
    token = await token_for(http, trader)
    response = await http.post("/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {"account_id": 7, "client_id": trader.client_id}


async def test_an_expired_token_is_refused_by_the_route(http, trader, clock):
    token = await token_for(http, trader)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await http.post("/orders", headers=headers)).status_code == 200
    clock.advance(400 * 1_000_000_000)
    assert (await http.post("/orders", headers=headers)).status_code == 401


async def test_the_token_endpoint_is_documented_as_a_form(http):
    document = (await http.get("/openapi.json")).json()
    operation = document["paths"]["/oauth/token"]["post"]
    assert "application/x-www-form-urlencoded" in operation["requestBody"]["content"]
    assert {"200", "400", "401"} <= set(operation["responses"])


async def test_protected_routes_document_oauth2_client_credentials(http):
    document = (await http.get("/openapi.json")).json()
    assert document["paths"]["/orders"]["post"]["security"] == [{"OAuth2": []}]
    scheme = document["components"]["securitySchemes"]["OAuth2"]
    assert scheme["type"] == "oauth2"
    assert scheme["flows"]["clientCredentials"]["tokenUrl"] == "oauth/token"
    assert "security" not in document["paths"]["/oauth/token"]["post"]
