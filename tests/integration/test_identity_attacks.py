"""Forged, altered, misdirected, stale and revoked user tokens, against a real /v1 route;
revocation reaching other processes within a second; signing key rotation."""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from test_identity_oauth import SECOND, Accounts, claims_of, make_harness, settings_for

from openbell.identity.adapters.jwt import jwks_document
from openbell.identity.bootstrap import build_identity, build_in_memory_identity
from openbell.identity.domain.revocation import TOKEN
from openbell.identity.domain.users import Role
from openbell.migrations import upgrade_database
from openbell.platform.auth import InvalidTokenError
from openbell.shared.time import FixedClock, SystemClock

REDIS_URL = os.environ.get("OPENBELL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header, claims, key=b""):
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if key else b""
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture
def clock():
    return FixedClock(time.time_ns())


@pytest.fixture
async def oauth(tmp_path, clock):
    settings = settings_for(tmp_path)
    identity = build_in_memory_identity(settings, clock=clock, kek=bytes(32), accounts=Accounts())
    harness = await make_harness(identity, settings, clock)
    await harness.user()
    await harness.user("bob@example.com")
    yield harness
    await harness.http.aclose()
    await identity.close()


async def status(oauth, token):
    return (await oauth.me(token)).status_code


async def test_alg_none_is_refused(oauth):
    token = (await oauth.tokens())["access_token"]
    header = {
        "alg": "none",
        "typ": "at+jwt",
        "kid": json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"],
    }
    assert await status(oauth, forge(header, claims_of(token))) == 401
    assert await status(oauth, forge(header, claims_of(token))[:-1]) == 401


async def test_hmac_signed_with_the_public_key_is_refused(oauth):
    token = (await oauth.tokens())["access_token"]
    (public,) = await oauth.identity.keys.public_keys()
    header = {"alg": "HS256", "typ": "at+jwt", "kid": public.kid}
    jwk = json.dumps(jwks_document([public])["keys"][0]).encode()
    for secret in (public.public_key, jwk, b64(public.public_key).encode()):
        assert await status(oauth, forge(header, claims_of(token), secret)) == 401


async def test_a_tampered_signature_or_payload_is_refused(oauth):
    alice = (await oauth.tokens())["access_token"]
    bob = (await oauth.tokens("bob@example.com"))["access_token"]
    head, payload, signature = alice.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BA")
    assert await status(oauth, f"{head}.{payload}.{flipped}") == 401
    # Bob's identity in Alice's signed token: the signature no longer matches.
    claims = claims_of(alice) | {"sub": claims_of(bob)["sub"], "acct": claims_of(bob)["acct"]}
    forged_payload = b64(json.dumps(claims).encode())
    assert await status(oauth, f"{head}.{forged_payload}.{signature}") == 401
    assert await status(oauth, alice) == 200


@pytest.mark.parametrize(
    "change", [{"aud": "someone-else"}, {"iss": "https://evil.example"}, {"exp": 1}]
)
async def test_a_misdirected_or_expired_user_token_is_refused(oauth, change):
    token = (await oauth.tokens())["access_token"]
    key = oauth.identity.keys.signing_key()
    claims = claims_of(token) | change
    header = {"alg": "EdDSA", "kid": key.kid, "typ": "at+jwt"}
    resigned = oauth.identity.tokens._signer.sign(header, claims, key)
    assert await status(oauth, resigned) == 401


async def test_an_access_token_expires_on_time(oauth):
    token = (await oauth.tokens())["access_token"]
    assert await status(oauth, token) == 200
    oauth.clock.advance((600 + 11) * SECOND)
    assert await status(oauth, token) == 401


async def test_a_revoked_token_is_refused_by_every_process_within_a_second(tmp_path, database_url):
    await upgrade_database(database_url)
    settings = settings_for(tmp_path, revocation_poll_seconds=0.25)
    first = build_identity(settings, database_url, clock=SystemClock())
    second = build_identity(settings, database_url, clock=SystemClock())
    await first.start()
    await second.start()
    try:
        client = await first.clients.create_client(name="svc", scopes=["read"])
        from openbell.identity.application.tokens import TokenRequest  # noqa: PLC0415

        issued = await first.tokens.grant(
            TokenRequest("client_credentials", client.client_id, client.client_secret)
        )
        assert (await second.verifier.verify(issued.token)).client_id == client.client_id
        await first.revocations.revoke(TOKEN, claims_of(issued.token)["jti"])
        started = time.monotonic()
        while True:
            try:
                await second.verifier.verify(issued.token)
            except InvalidTokenError:
                break
            assert time.monotonic() - started < 1.0
            await asyncio.sleep(0.02)
    finally:
        await first.close()
        await second.close()


async def test_revocations_travel_through_redis_when_configured(tmp_path, sqlite_url):
    from redis.asyncio import Redis  # noqa: PLC0415

    probe = Redis.from_url(REDIS_URL)
    try:
        await probe.ping()
    except OSError as error:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI: {error}")
        pytest.skip(f"Redis not reachable: {error}")
    finally:
        await probe.aclose()
    await upgrade_database(sqlite_url)
    settings = settings_for(tmp_path, redis_url=REDIS_URL, revocation_poll_seconds=0.1)
    first = build_identity(settings, sqlite_url)
    second = build_identity(settings, sqlite_url)
    await first.start()
    await second.start()
    try:
        assert first.redis is not None
        jti = "jti-" + os.urandom(6).hex()
        await first.revocations.revoke(TOKEN, jti)
        started = time.monotonic()
        while not second.revocations.refused([f"jti:{jti}"], time.time_ns() - 1_000_000_000):
            assert time.monotonic() - started < 1.0
            await asyncio.sleep(0.02)
    finally:
        await first.close()
        await second.close()


async def test_key_rotation_signs_with_the_new_key_while_the_old_still_verifies(oauth):
    before = (await oauth.tokens())["access_token"]
    old_kid = json.loads(base64.urlsafe_b64decode(before.split(".")[0] + "=="))["kid"]
    oauth.clock.advance(SECOND)
    await oauth.identity.keys.rotate()
    oauth.identity.verifier.use_keys(await oauth.identity.keys.public_keys())
    after = (await oauth.tokens())["access_token"]
    new_kid = json.loads(base64.urlsafe_b64decode(after.split(".")[0] + "=="))["kid"]
    assert new_kid != old_kid
    assert await status(oauth, before) == 200
    assert await status(oauth, after) == 200
    kids = [key["kid"] for key in (await oauth.http.get("/.well-known/jwks.json")).json()["keys"]]
    assert kids == [new_kid, old_kid]
    # Once the overlap passes, the old key leaves the JWKS.
    oauth.clock.advance(3601 * SECOND)
    oauth.identity.verifier.use_keys(await oauth.identity.keys.public_keys())
    kids = [key["kid"] for key in (await oauth.http.get("/.well-known/jwks.json")).json()["keys"]]
    assert kids == [new_kid]


async def test_a_rotation_by_another_process_is_picked_up_for_signing(tmp_path, sqlite_url):
    await upgrade_database(sqlite_url)
    settings = settings_for(tmp_path)
    server = build_identity(settings, sqlite_url)
    await server.start()
    try:
        old = server.keys.signing_key().kid
        operator = build_identity(settings, sqlite_url)
        await operator.keys.ensure_active_key()
        new = (await operator.keys.rotate()).kid
        await operator.close()
        await server.keys.sync()
        assert server.keys.signing_key().kid == new != old
        assert {key.kid for key in await server.keys.public_keys()} == {old, new}
    finally:
        await server.close()


def test_public_key_bytes_are_what_an_attacker_would_try():
    # Guards the HMAC test above: the raw key is 32 bytes of Ed25519, as published.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415

    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert len(raw) == 32


async def test_roles_bound_what_a_user_token_can_do(oauth):
    await oauth.identity.users.create_user(
        email="ops@example.com", password="correct horse battery staple", roles=[Role.OPS]
    )
    token = (await oauth.tokens("ops@example.com"))["access_token"]
    assert set(claims_of(token)["scope"].split()) == {"openid", "profile", "email", "read", "ops"}
