"""Every identity storage port, one contract suite per port, run against each adapter:
in memory, SQLite, PostgreSQL, and Redis for what Redis holds."""

import asyncio
import os
import secrets
from dataclasses import replace

import pytest
from redis.asyncio import Redis

from openbell.identity.adapters.memory import (
    InMemoryGrantRepository,
    InMemoryMailThrottle,
    InMemoryMfaRepository,
    InMemoryOneTimeTokenRepository,
    InMemoryRevocationStore,
    InMemoryThrottleStore,
    InMemoryUserRepository,
)
from openbell.identity.adapters.redis import RedisRevocationStore, RedisThrottleStore
from openbell.identity.adapters.sql_grants import SqlGrantRepository, SqlRevocationStore
from openbell.identity.adapters.sql_users import (
    SqlMailThrottle,
    SqlMfaRepository,
    SqlOneTimeTokenRepository,
    SqlUserRepository,
)
from openbell.identity.domain.grants import AuthorizationCode, Grant, GrantId, RefreshToken
from openbell.identity.domain.mfa import TotpEnrolment, mfa_proof
from openbell.identity.domain.revocation import Revocation
from openbell.identity.domain.throttle import ThrottleState
from openbell.identity.domain.users import Role, User, UserId, UserStatus
from openbell.migrations import upgrade_database
from openbell.platform.db import create_engine
from openbell.shared.errors import ConflictError, NotFoundError

REDIS_URL = os.environ.get("OPENBELL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_url(request, tmp_path):
    if request.param == "memory":
        return None
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'openbell.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def engine(store_url):
    if store_url is None:
        yield None
        return
    url = store_url
    await upgrade_database(url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def redis():
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as error:
        await client.aclose()
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required in CI: {error}")
        pytest.skip(f"Redis not reachable: {error}")
    yield client
    await client.aclose()


def pick(engine, memory, sql):
    return memory() if engine is None else sql(engine)


def user(email="a@example.com", account_id=None, **changes):
    made = User(
        user_id=UserId("usr_" + secrets.token_hex(4)),
        email=email,
        name="A",
        password_hash="$argon2id$x",
        roles=frozenset({Role.TRADER}),
        status=UserStatus.ACTIVE,
        created_at=1,
        account_id=account_id,
    )
    return replace(made, **changes)


# -- users ------------------------------------------------------------------------------------


async def test_users_round_trip_and_are_found_by_email(engine):
    users = pick(engine, InMemoryUserRepository, SqlUserRepository)
    alice = user(roles=frozenset({Role.TRADER, Role.AUDITOR}), email_verified_at=5)
    await users.add(alice)
    assert await users.get(alice.user_id) == alice
    assert await users.by_email("a@example.com") == alice
    assert await users.by_email("b@example.com") is None
    changed = alice.disable(9)
    await users.save(changed)
    assert await users.get(alice.user_id) == changed
    assert await users.list() == [changed]


async def test_an_email_or_account_belongs_to_one_user(engine):
    users = pick(engine, InMemoryUserRepository, SqlUserRepository)
    await users.add(user(account_id=7))
    with pytest.raises(ConflictError):
        await users.add(user())
    other = user("b@example.com")
    await users.add(other)
    with pytest.raises(ConflictError):
        await users.save(other.with_account(7))
    with pytest.raises(NotFoundError):
        await users.save(user("c@example.com"))


async def test_a_one_time_token_works_once_for_its_purpose_until_it_expires(engine):
    tokens = pick(engine, InMemoryOneTimeTokenRepository, SqlOneTimeTokenRepository)
    await tokens.add("h1", UserId("usr_a"), "verify_email", expires_at=100)
    assert await tokens.consume("h1", "reset_password", 50) is None
    assert await tokens.consume("h1", "verify_email", 50) == "usr_a"
    assert await tokens.consume("h1", "verify_email", 51) is None
    await tokens.add("h2", UserId("usr_a"), "verify_email", expires_at=100)
    assert await tokens.consume("h2", "verify_email", 100) is None
    assert await tokens.consume("nope", "verify_email", 1) is None


async def test_only_pending_users_are_deleted_and_only_when_asked_by_age(engine):
    users = pick(engine, InMemoryUserRepository, SqlUserRepository)
    active = user("active@example.com", created_at=1)
    old = user("old@example.com", status=UserStatus.PENDING, created_at=10)
    young = user("young@example.com", status=UserStatus.PENDING, created_at=20)
    for each in (active, old, young):
        await users.add(each)
    await users.delete_pending_before(20)
    assert {each.email for each in await users.list()} == {
        "active@example.com",
        "young@example.com",
    }
    await users.delete_pending(active.user_id)
    await users.delete_pending(young.user_id)
    assert await users.list() == [active]


async def test_a_token_can_be_looked_at_without_using_it(engine):
    tokens = pick(engine, InMemoryOneTimeTokenRepository, SqlOneTimeTokenRepository)
    await tokens.add("h1", UserId("usr_a"), "recovery", expires_at=100)
    assert await tokens.owner("h1", "recovery", 50) == "usr_a"
    assert await tokens.owner("h1", "verify_email", 50) is None
    assert await tokens.owner("h1", "recovery", 100) is None
    assert await tokens.consume("h1", "recovery", 50) == "usr_a"
    assert await tokens.owner("h1", "recovery", 50) is None


async def test_voiding_ends_every_unused_token_of_a_user_for_one_purpose(engine):
    tokens = pick(engine, InMemoryOneTimeTokenRepository, SqlOneTimeTokenRepository)
    await tokens.add("h1", UserId("usr_a"), "verify_email", expires_at=100)
    await tokens.add("h2", UserId("usr_a"), "verify_email", expires_at=100)
    await tokens.add("h3", UserId("usr_a"), "recovery", expires_at=100)
    await tokens.add("h4", UserId("usr_b"), "verify_email", expires_at=100)
    await tokens.void(UserId("usr_a"), "verify_email", 10)
    assert await tokens.consume("h1", "verify_email", 11) is None
    assert await tokens.consume("h2", "verify_email", 11) is None
    assert await tokens.consume("h3", "recovery", 11) == "usr_a"
    assert await tokens.consume("h4", "verify_email", 11) == "usr_b"


async def test_expired_tokens_are_deleted(engine):
    tokens = pick(engine, InMemoryOneTimeTokenRepository, SqlOneTimeTokenRepository)
    await tokens.add("h1", UserId("usr_a"), "verify_email", expires_at=100)
    await tokens.add("h2", UserId("usr_a"), "verify_email", expires_at=200)
    await tokens.delete_expired(100)
    await tokens.add("h1", UserId("usr_a"), "verify_email", expires_at=300)  # the key is free
    assert await tokens.consume("h2", "verify_email", 150) == "usr_a"


async def test_a_recipient_is_mailed_at_most_once_per_interval(engine):
    throttle = pick(engine, InMemoryMailThrottle, SqlMailThrottle)
    assert await throttle.claim("r1", now=1_000, interval=100)
    assert not await throttle.claim("r1", now=1_099, interval=100)
    assert await throttle.claim("r2", now=1_099, interval=100)
    assert await throttle.claim("r1", now=1_100, interval=100)
    assert not await throttle.claim("r1", now=1_150, interval=100)


async def test_concurrent_claims_for_one_recipient_let_one_through(engine):
    throttle = pick(engine, InMemoryMailThrottle, SqlMailThrottle)
    claims = await asyncio.gather(*(throttle.claim("r", now=5, interval=60) for _ in range(8)))
    assert claims.count(True) == 1


# -- MFA --------------------------------------------------------------------------------------


async def test_totp_steps_are_used_once_and_only_forward(engine):
    mfa = pick(engine, InMemoryMfaRepository, SqlMfaRepository)
    owner = UserId("usr_a")
    assert not await mfa.use_totp_step(owner, 5)
    await mfa.put_totp(TotpEnrolment(owner, b"sealed", 1))
    assert await mfa.use_totp_step(owner, 5)
    assert not await mfa.use_totp_step(owner, 5)
    assert not await mfa.use_totp_step(owner, 4)
    assert await mfa.use_totp_step(owner, 6)
    confirmed = TotpEnrolment(owner, b"sealed", 1, confirmed_at=2, last_used_step=6)
    await mfa.put_totp(confirmed)
    assert await mfa.totp(owner) == confirmed
    await mfa.delete_totp(owner)
    assert await mfa.totp(owner) is None


async def test_recovery_codes_are_per_user_single_use_and_replaced_whole(engine):
    mfa = pick(engine, InMemoryMfaRepository, SqlMfaRepository)
    alice, bob = UserId("usr_a"), UserId("usr_b")
    await mfa.replace_recovery_codes(alice, ["a1", "a2"])
    await mfa.replace_recovery_codes(bob, ["b1"])
    assert not await mfa.use_recovery_code(bob, "a1", 1)
    assert await mfa.use_recovery_code(alice, "a1", 1)
    assert not await mfa.use_recovery_code(alice, "a1", 2)
    assert await mfa.remaining_recovery_codes(alice) == 1
    await mfa.replace_recovery_codes(alice, ["a3"])
    assert not await mfa.use_recovery_code(alice, "a2", 3)
    assert await mfa.remaining_recovery_codes(alice) == 1
    assert await mfa.remaining_recovery_codes(bob) == 1


# -- grants -----------------------------------------------------------------------------------


def code(code_hash="c1", grant_id="grt_1"):
    return AuthorizationCode(
        code_hash=code_hash,
        grant_id=GrantId(grant_id),
        client_id="obc_c",
        user_id=UserId("usr_a"),
        redirect_uri="https://app.example/cb",
        scopes=frozenset({"read", "openid"}),
        code_challenge="x" * 43,
        nonce=None,
        proof=mfa_proof(1_700_000_000, recovery_code=False),
        created_at=10,
        expires_at=20,
    )


async def test_a_code_is_consumed_once_and_a_replay_is_recognised(engine):
    grants = pick(engine, InMemoryGrantRepository, SqlGrantRepository)
    await grants.add_code(code())
    first = await grants.consume_code("c1", 15)
    assert first == (replace(code(), used_at=15), True)
    replayed = await grants.consume_code("c1", 16)
    assert replayed is not None
    assert replayed[1] is False
    assert replayed[0].grant_id == "grt_1"
    assert await grants.consume_code("unknown", 16) is None


async def test_racing_consumers_of_a_refresh_token_have_one_winner(engine):
    grants = pick(engine, InMemoryGrantRepository, SqlGrantRepository)
    await grants.add_refresh_token(RefreshToken("r1", GrantId("grt_1"), "obc_c", 1, 100))
    results = await asyncio.gather(*(grants.consume_refresh_token("r1", 5) for _ in range(8)))
    assert sum(first for _, first in results) == 1
    assert await grants.find_refresh_token("r1") == RefreshToken(
        "r1", GrantId("grt_1"), "obc_c", 1, 100, used_at=5
    )


async def test_a_used_refresh_tokens_successors_are_retired_once_and_only_if_unused(engine):
    grants = pick(engine, InMemoryGrantRepository, SqlGrantRepository)
    family = GrantId("grt_1")
    for name, created in (("r1", 1), ("r2", 5), ("r3", 6)):
        await grants.add_refresh_token(RefreshToken(name, family, "obc_c", created, 100))
    await grants.add_refresh_token(RefreshToken("x1", GrantId("grt_2"), "obc_c", 7, 100))
    used, _ = await grants.consume_refresh_token("r1", 5)
    results = await asyncio.gather(*(grants.retire_successors(used, 8) for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert (await grants.find_refresh_token("r2")).used_at == 8
    assert (await grants.find_refresh_token("r3")).used_at == 8
    assert (await grants.find_refresh_token("x1")).used_at is None
    assert (await grants.find_refresh_token("r1")).used_at == 5
    # A successor the client went on to use means its answer was not lost.
    await grants.add_refresh_token(RefreshToken("r4", family, "obc_c", 9, 100))
    assert not await grants.retire_successors(used, 10)
    assert (await grants.find_refresh_token("r4")).used_at is None


async def test_grants_are_revoked_and_listed_per_user(engine):
    grants = pick(engine, InMemoryGrantRepository, SqlGrantRepository)
    proof = mfa_proof(1_700_000_000, recovery_code=True)
    one = Grant(GrantId("grt_1"), "obc_c", UserId("usr_a"), frozenset({"read"}), proof, 1, 100)
    two = replace(one, grant_id=GrantId("grt_2"))
    old = replace(one, grant_id=GrantId("grt_3"), expires_at=5)
    for grant in (one, two, old):
        await grants.add_grant(grant)
    assert await grants.get_grant(GrantId("grt_1")) == one
    await grants.revoke_grant(GrantId("grt_1"), 7)
    await grants.revoke_grant(GrantId("grt_1"), 8)  # the first revocation time stays
    assert (await grants.get_grant(GrantId("grt_1"))).revoked_at == 7
    await grants.revoke_grant(GrantId("grt_missing"), 7)
    assert await grants.active_grants_of_user(UserId("usr_a"), 10) == [two]
    assert await grants.active_grants_of_user(UserId("usr_b"), 10) == []


# -- revocations and throttles, including Redis ------------------------------------------------


async def _migrated_engine(url):
    await upgrade_database(url)
    return create_engine(url)


@pytest.fixture
async def sqlite_engine(tmp_path):
    engine = await _migrated_engine(f"sqlite+aiosqlite:///{tmp_path / 'openbell.db'}")
    yield engine
    await engine.dispose()


@pytest.fixture
async def postgres_engine(postgres_url):
    engine = await _migrated_engine(postgres_url)
    yield engine
    await engine.dispose()


@pytest.fixture(params=["memory", "sqlite", "postgres", "redis"])
def revocations(request):
    if request.param == "memory":
        return InMemoryRevocationStore()
    if request.param == "redis":
        redis = request.getfixturevalue("redis")
        return RedisRevocationStore(redis, prefix=f"test:{secrets.token_hex(6)}:")
    return SqlRevocationStore(request.getfixturevalue(f"{request.param}_engine"))


async def test_revocations_reach_a_follower_and_lapse(revocations):
    # A follower polls with its cursor; it may see an entry twice (applying is idempotent)
    # but never misses one, and never gets one that has lapsed.
    first = Revocation("jti:a", 100, 200)
    await revocations.add(first)
    entries, cursor = await revocations.changes(0, 150)
    assert entries == [first]
    second = Revocation("sid:b", 110, 120)
    await revocations.add(second)
    entries, cursor = await revocations.changes(cursor, 115)
    assert second in entries
    assert set(entries) <= {first, second}
    late, _ = await revocations.changes(0, 130)
    assert late == [first]


async def test_revocation_instants_keep_every_nanosecond(revocations):
    exact = Revocation("sub:u", 1_764_650_000_123_456_789, 1_764_650_610_987_654_321)
    await revocations.add(exact)
    entries, _ = await revocations.changes(0, exact.revoked_at)
    assert entries == [exact]


@pytest.fixture(params=["memory", "redis"])
def throttle(request):
    if request.param == "memory":
        return InMemoryThrottleStore()
    redis = request.getfixturevalue("redis")
    return RedisThrottleStore(redis, prefix=f"test:{secrets.token_hex(6)}:")


async def test_throttle_updates_are_atomic_under_concurrency(throttle):
    def bump(state):
        return ThrottleState(state.failures + 1, state.window_start + 1, 0)

    await asyncio.gather(*(throttle.update("acct:x", bump, 60) for _ in range(20)))
    assert (await throttle.get("acct:x")).failures == 20
    assert (await throttle.get("acct:y")) == ThrottleState()
    await throttle.reset("acct:x")
    assert (await throttle.get("acct:x")) == ThrottleState()
