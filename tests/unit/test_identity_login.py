"""Sign-in under attack: brute force, credential stuffing, and the uniform answer."""

import statistics
import time
from dataclasses import replace
from typing import Any

import pyotp
import pytest

from openbell.identity.bootstrap import build_in_memory_identity
from openbell.identity.domain.errors import AuthenticationFailedError
from openbell.identity.domain.throttle import (
    ThrottlePolicy,
    ThrottleState,
    current,
    record_failure,
)
from openbell.identity.domain.users import Role
from openbell.platform.settings import Settings
from openbell.shared.time import FixedClock

SECOND = 1_000_000_000
PASSWORD = "correct horse battery staple"
KEYCLOAK = ThrottlePolicy(
    failure_factor=30,
    wait_increment=60 * SECOND,
    max_wait=900 * SECOND,
    window=12 * 3600 * SECOND,
)
MILLISECOND = 1_000_000


def fail(times, *, spacing=2 * SECOND, policy=KEYCLOAK, start=0):
    state, now = ThrottleState(), start
    for _ in range(times):
        now += spacing
        state = record_failure(state, policy, now)
    return state, now


def test_below_the_failure_factor_there_is_no_lockout():
    state, now = fail(29)
    assert state.failures == 29
    assert not state.locked(now)


def test_the_failure_factor_locks_for_the_wait_increment():
    state, now = fail(30)
    assert state.locked(now)
    assert state.retry_after(now) == 60
    assert not state.locked(now + 60 * SECOND)


def test_waits_grow_with_each_factor_and_stop_at_the_maximum():
    state, now = fail(60)
    assert state.retry_after(now) == 120
    state, now = fail(30 * 20)
    assert state.retry_after(now) == 900


def test_failures_in_quick_succession_do_not_lock_before_the_failure_factor():
    state, now = fail(29, spacing=MILLISECOND)
    assert not state.locked(now)
    state = record_failure(state, KEYCLOAK, now + MILLISECOND)
    assert state.retry_after(now + MILLISECOND) == 60


def test_failures_are_forgotten_once_their_window_has_passed():
    state, _ = fail(29)
    later = state.window_start + 12 * 3600 * SECOND
    assert current(state, KEYCLOAK, later) == ThrottleState()
    assert record_failure(state, KEYCLOAK, later).failures == 1


def test_the_window_counts_from_the_first_failure_not_the_last():
    # A steady trickle of failures does not keep old ones alive forever.
    policy = ThrottlePolicy(100, 60 * SECOND, 900 * SECOND, window=900 * SECOND)
    state, now = fail(99, spacing=10 * SECOND, policy=policy)
    assert state.failures < 99
    assert not state.locked(now)


def test_a_lockout_outlasts_the_window_that_caused_it():
    policy = ThrottlePolicy(2, 600 * SECOND, 900 * SECOND, window=60 * SECOND)
    state, now = fail(2, spacing=SECOND, policy=policy)
    assert current(state, policy, now + 120 * SECOND).locked(now + 120 * SECOND)


class CountingHasher:
    """Wraps the real hasher and counts verifications: every path must cost one."""

    def __init__(self, inner):
        self.inner = inner
        self.verifications = 0

    async def hash(self, secret):
        return await self.inner.hash(secret)

    async def verify(self, secret_hash, secret):
        self.verifications += 1
        return await self.inner.verify(secret_hash, secret)

    def needs_rehash(self, secret_hash):
        return self.inner.needs_rehash(secret_hash)


@pytest.fixture
def clock():
    return FixedClock()


def settings(tmp_path, **overrides):
    values = {
        "data_dir": tmp_path,
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 64,
        "argon2_parallelism": 1,
        "login_failure_factor": 5,
        "login_address_failure_factor": 12,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
async def identity(tmp_path, clock):
    identity = build_in_memory_identity(settings(tmp_path), clock=clock, kek=bytes(32))
    await identity.start()
    await identity.users.create_user(
        email="alice@example.com", password=PASSWORD, roles=[Role.TRADER]
    )
    yield identity
    await identity.close()


async def attempt(identity, email, password, address="203.0.113.7"):
    try:
        await identity.login.check_password(email, password, address=address)
    except AuthenticationFailedError as error:
        return str(error)
    return "ok"


async def test_an_account_locks_after_the_failure_factor_even_for_the_right_password(
    identity, clock
):
    for _ in range(5):
        clock.advance(2 * SECOND)
        assert await attempt(identity, "alice@example.com", "wrong password!!") != "ok"
    clock.advance(2 * SECOND)
    assert await attempt(identity, "alice@example.com", PASSWORD) != "ok"
    clock.advance(61 * SECOND)
    assert await attempt(identity, "alice@example.com", PASSWORD) == "ok"


async def test_lockout_follows_the_account_across_addresses(identity, clock):
    for number in range(5):
        clock.advance(2 * SECOND)
        await attempt(identity, "alice@example.com", "wrong password!!", f"198.51.100.{number}")
    assert await attempt(identity, "alice@example.com", PASSWORD, "192.0.2.1") != "ok"


async def test_one_address_spraying_many_accounts_is_locked_out(identity, clock):
    # Credential stuffing: one guess each at many accounts never trips an account lock,
    # but the address's own counter does.
    for number in range(12):
        clock.advance(2 * SECOND)
        await attempt(identity, f"user{number}@example.com", "Summer2024!!xx")
    assert await attempt(identity, "alice@example.com", PASSWORD) != "ok"
    assert await attempt(identity, "alice@example.com", PASSWORD, "192.0.2.9") == "ok"


async def test_unknown_user_wrong_password_locked_and_disabled_answer_alike(identity, clock):
    hasher = CountingHasher(identity.login._hasher)
    identity.login._hasher = hasher
    bob = await identity.users.create_user(
        email="bob@example.com", password=PASSWORD, roles=[Role.TRADER]
    )
    await identity.users.disable(bob.user_id)
    messages = set()
    for email, password in [
        ("nobody@example.com", PASSWORD),
        ("alice@example.com", "wrong password!!"),
        ("bob@example.com", PASSWORD),  # disabled
        ("not an email", PASSWORD),
    ]:
        clock.advance(2 * SECOND)
        before = hasher.verifications
        messages.add(await attempt(identity, email, password))
        assert hasher.verifications == before + 1, email
    for _ in range(5):
        clock.advance(2 * SECOND)
        await attempt(identity, "alice@example.com", "wrong password!!")
    before = hasher.verifications
    messages.add(await attempt(identity, "alice@example.com", PASSWORD))  # locked
    assert hasher.verifications == before  # refused without spending argon2 on it
    assert len(messages) == 1
    assert "ok" not in messages


async def test_failure_timings_do_not_tell_unknown_from_known_users(tmp_path):
    # Real argon2 cost, so a skipped hash would show as a 10x difference.
    slow = settings(tmp_path, argon2_memory_cost_kib=8192, login_failure_factor=1000)
    identity = build_in_memory_identity(slow, clock=FixedClock(), kek=bytes(32))
    await identity.start()
    await identity.users.create_user(
        email="alice@example.com", password=PASSWORD, roles=[Role.TRADER]
    )

    async def timed(email, password):
        started = time.perf_counter()
        await attempt(identity, email, password, address=None)
        return time.perf_counter() - started

    unknown, wrong = [], []
    for _ in range(9):
        unknown.append(await timed("nobody@example.com", "wrong password!!"))
        wrong.append(await timed("alice@example.com", "wrong password!!"))
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 < ratio < 2.0
    await identity.close()


async def test_an_oversized_password_is_refused_without_hashing(identity):
    hasher = CountingHasher(identity.login._hasher)
    identity.login._hasher = hasher
    assert await attempt(identity, "alice@example.com", "x" * 100_000) != "ok"
    assert hasher.verifications == 0


async def test_sign_in_outcomes_are_counted_for_the_anomaly_detector(identity, clock):
    await attempt(identity, "alice@example.com", PASSWORD)
    clock.advance(2 * SECOND)
    await attempt(identity, "alice@example.com", "wrong password!!")
    totals = identity.events.totals
    assert totals["password", "success"] == 1
    assert totals["password", "failure"] == 1
    assert identity.events.failures_by_address["203.0.113.7"] == 1


async def test_knowing_the_password_does_not_reset_the_count_of_wrong_second_factors(
    identity, clock
):
    # Otherwise an attacker with the password could guess codes forever, resetting the
    # account's count with a correct password between rounds.
    alice = await identity.users._users.by_email("alice@example.com")
    setup = await identity.mfa.begin_totp(alice.user_id, "alice@example.com")
    await identity.mfa.confirm_totp(
        alice.user_id, pyotp.TOTP(setup.secret).at(clock.now_ns() // SECOND)
    )
    for _ in range(5):
        clock.advance(2 * SECOND)
        assert await attempt(identity, "alice@example.com", PASSWORD) == "ok"
        clock.advance(2 * SECOND)
        with pytest.raises(AuthenticationFailedError):
            await identity.login.check_second_factor(alice, "000000", address="203.0.113.7")
    clock.advance(2 * SECOND)
    assert await attempt(identity, "alice@example.com", PASSWORD) != "ok"


@pytest.fixture
async def defaults(tmp_path, clock):
    """Identity with the shipped lockout thresholds (only argon2 made cheap)."""
    cheap: dict[str, Any] = {
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 64,
        "argon2_parallelism": 1,
    }
    identity = build_in_memory_identity(
        Settings(data_dir=tmp_path, **cheap), clock=clock, kek=bytes(32)
    )
    await identity.start()
    await identity.users.create_user(
        email="alice@example.com", password=PASSWORD, roles=[Role.TRADER]
    )
    yield identity
    await identity.close()


async def test_29_quick_failures_do_not_lock_an_account_and_the_30th_does(defaults, clock):
    for _ in range(29):
        clock.advance(MILLISECOND)
        await attempt(defaults, "alice@example.com", "wrong password!!")
    clock.advance(MILLISECOND)
    assert await attempt(defaults, "alice@example.com", PASSWORD) == "ok"
    for _ in range(30):
        clock.advance(MILLISECOND)
        await attempt(defaults, "alice@example.com", "wrong password!!")
    clock.advance(MILLISECOND)
    assert await attempt(defaults, "alice@example.com", PASSWORD) != "ok"
    assert (await defaults.login.lockout("alice@example.com")).retry_after(clock.now_ns()) == 60


async def test_two_quick_failures_for_unknown_accounts_lock_nobody_out_at_that_address(
    defaults, clock
):
    # Behind a proxy or NAT one address is many people: a couple of typos is not an attack.
    for name in ("nobody", "someone"):
        clock.advance(MILLISECOND)
        await attempt(defaults, f"{name}@example.com", "wrong password!!")
    clock.advance(MILLISECOND)
    assert await attempt(defaults, "alice@example.com", PASSWORD) == "ok"


async def test_an_address_locks_after_100_failures_in_its_window_and_not_before(defaults, clock):
    for number in range(99):
        clock.advance(MILLISECOND)
        await attempt(defaults, f"user{number}@example.com", "wrong password!!")
    clock.advance(MILLISECOND)
    assert await attempt(defaults, "alice@example.com", PASSWORD) == "ok"
    clock.advance(MILLISECOND)
    await attempt(defaults, "user99@example.com", "wrong password!!")
    clock.advance(MILLISECOND)
    assert await attempt(defaults, "alice@example.com", PASSWORD) != "ok"
    assert await attempt(defaults, "alice@example.com", PASSWORD, "192.0.2.9") == "ok"


async def test_the_owner_signing_in_elsewhere_does_not_give_a_guesser_fresh_attempts(
    defaults, clock
):
    # The owner's success resets the account's count; the guesser's address keeps its own.
    for _ in range(29):
        clock.advance(MILLISECOND)
        await attempt(defaults, "alice@example.com", "wrong password!!", "198.51.100.66")
    assert await attempt(defaults, "alice@example.com", PASSWORD, "192.0.2.1") == "ok"
    clock.advance(MILLISECOND)
    await attempt(defaults, "alice@example.com", "wrong password!!", "198.51.100.66")
    clock.advance(MILLISECOND)
    assert await attempt(defaults, "alice@example.com", PASSWORD, "198.51.100.66") != "ok"
    assert await attempt(defaults, "alice@example.com", PASSWORD, "192.0.2.1") == "ok"


async def test_a_locked_address_is_refused_without_hashing_yet_takes_as_long(tmp_path):
    # Real argon2 cost, so a refusal that skipped the hash without waiting would show.
    slow = settings(tmp_path, argon2_memory_cost_kib=8192, login_address_failure_factor=3)
    identity = build_in_memory_identity(slow, clock=FixedClock(), kek=bytes(32))
    await identity.start()
    hasher = CountingHasher(identity.login._hasher)
    identity.login._hasher = hasher

    async def timed(email):
        started = time.perf_counter()
        await attempt(identity, email, "wrong password!!")
        return time.perf_counter() - started

    checked = [await timed(f"user{number}@example.com") for number in range(3)]
    before = hasher.verifications
    refused = [await timed("alice@example.com") for _ in range(5)]
    assert hasher.verifications == before
    assert statistics.median(refused) > 0.5 * statistics.median(checked)
    await identity.close()


def full_width(text):
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


async def test_a_password_set_in_one_unicode_form_signs_in_typed_in_another(identity):
    # NFKC when set and when checked: full-width letters and a decomposed accent match.
    typed = full_width("correct horse ") + "cafe\u0301"
    await identity.users.create_user(email="carol@example.com", password=typed, roles=[Role.TRADER])
    assert await attempt(identity, "carol@example.com", typed) == "ok"
    assert await attempt(identity, "carol@example.com", "correct horse caf\u00e9") == "ok"


async def test_an_account_whose_address_predates_the_plain_address_rule_still_signs_in(identity):
    # Registration now refuses `%` and non-ASCII addresses; accounts stored before must work.
    user = await identity.users.create_user(
        email="dave@example.com", password=PASSWORD, roles=[Role.TRADER]
    )
    for legacy in ("d%ave@example.com", "dävé@example.com"):
        await identity.users._users.save(replace(user, email=legacy))
        assert await attempt(identity, legacy.upper(), PASSWORD) == "ok"
