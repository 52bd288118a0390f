"""When argon2 work piles up, what needs it is refused at once (503 + Retry-After) instead
of queueing for seconds behind a flood; what does not need it carries on."""

import asyncio
import contextlib
import secrets
import time

import pytest
from test_identity_oauth import PASSWORD, Accounts, hidden_fields, make_harness, settings_for

from openbell.identity.adapters.hashing import Argon2SecretHasher, HashingOverloadedError
from openbell.identity.bootstrap import build_in_memory_identity
from openbell.identity.domain.clients import ClientId, register_client
from openbell.identity.domain.grants import pkce_challenge
from openbell.shared.time import FixedClock


@pytest.fixture
def clock():
    return FixedClock(time.time_ns())


@pytest.fixture
async def oauth(tmp_path, clock):
    settings = settings_for(tmp_path, secret_hash_concurrency=1, secret_hash_queue_limit=1)
    identity = build_in_memory_identity(settings, clock=clock, kek=bytes(32), accounts=Accounts())
    harness = await make_harness(identity, settings, clock)
    yield harness
    await harness.http.aclose()
    await identity.close()


@contextlib.asynccontextmanager
async def saturated(hasher):
    """Every argon2 slot busy and the queue full, as under a flood of sign-ins."""
    async with hasher._slots:  # the one worker slot, held as a long hash would hold it
        waiting = asyncio.create_task(hasher.hash("queued behind it"))
        await asyncio.sleep(0)
        assert hasher.admitted == 1
        yield
    await waiting


async def test_beyond_the_queue_limit_a_hash_is_refused_at_once():
    hasher = Argon2SecretHasher(
        time_cost=1, memory_cost_kib=64, parallelism=1, concurrency=1, queue_limit=2
    )
    results = await asyncio.gather(
        *(hasher.hash(f"secret {number}") for number in range(5)), return_exceptions=True
    )
    assert sum(isinstance(result, str) for result in results) == 2
    assert sum(isinstance(result, HashingOverloadedError) for result in results) == 3
    assert hasher.admitted == 0
    assert isinstance(await hasher.hash("and later it works again"), str)


async def test_a_sign_in_while_argon2_is_saturated_answers_503_with_retry_after(oauth):
    await oauth.user()
    challenge = pkce_challenge(secrets.token_urlsafe(48))
    page = await oauth.authorize(code_challenge=challenge, code_challenge_method="S256")
    assert page.status_code == 200
    fields = hidden_fields(page.text)
    async with saturated(oauth.identity.login._hasher):
        response = await oauth.http.post(
            "/oauth/authorize",
            data={**fields, "email": "alice@example.com", "password": PASSWORD},
        )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "try again in a moment" in response.text
    # Not counted as a failed attempt: once the flood passes, the same sign-in works.
    code, _, _ = await oauth.sign_in()
    assert code is not None


async def test_registration_while_argon2_is_saturated_is_a_503_problem(oauth):
    async with saturated(oauth.identity.login._hasher):
        response = await oauth.http.post(
            "/v1/users", json={"email": "new@example.com", "password": PASSWORD}
        )
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert response.json()["reason"] == "overloaded"


async def test_the_token_endpoint_answers_temporarily_unavailable_when_it_needs_argon2(oauth):
    # Only a secret still stored as argon2 (from before keyed digests) needs the queue.
    hasher = oauth.identity.login._hasher
    legacy = register_client(
        client_id=ClientId("obc_legacylegacylegacy00"),
        name="old desk",
        secret_hash=await hasher.hash("obs_old-secret"),
        scopes=frozenset({"read"}),
        account_id=None,
        created_at=0,
    )
    current = await oauth.identity.clients.create_client(name="desk", scopes=["read"])
    await oauth.identity.clients._repository.add(legacy)
    form = {"grant_type": "client_credentials"}
    async with saturated(hasher):
        busy = await oauth.http.post(
            "/oauth/token", data=form, auth=(legacy.client_id, "obs_old-secret")
        )
        fine = await oauth.http.post(
            "/oauth/token", data=form, auth=(current.client_id, current.client_secret)
        )
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["error"] == "temporarily_unavailable"
    assert fine.status_code == 200  # a keyed-digest secret needs no argon2 at all
