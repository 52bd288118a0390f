"""Signing in: password then second factor, behind brute-force protection.

Failures are counted per account, per account at one address, and per address (see
`domain.throttle`). An attempt that is already locked out is refused before any argon2
work, so a locked account or address cannot be used to burn the server's CPU, yet it
takes as long as a real check (the pace of recent checks) and raises the same
AuthenticationFailedError: neither the answer nor its timing tells the cases apart.
Unknown emails still cost one argon2 verification, as a wrong password does.
"""

import asyncio
import hashlib
import secrets
import time
from collections.abc import Awaitable
from dataclasses import dataclass

from openbell.identity.application.mfa import MfaService
from openbell.identity.application.ports import (
    AuthEventSink,
    SecretHasher,
    ThrottleStore,
    UserRepository,
)
from openbell.identity.domain.errors import AuthenticationFailedError
from openbell.identity.domain.mfa import AuthenticationProof, mfa_proof, password_proof
from openbell.identity.domain.passwords import normalize_password
from openbell.identity.domain.throttle import (
    NANOSECONDS,
    ThrottlePolicy,
    ThrottleState,
    current,
    record_failure,
)
from openbell.identity.domain.users import User, email_lookup_key
from openbell.shared.time import Clock

FAILED = "Invalid email or password, or too many attempts; try again later."
MAX_PASSWORD_BYTES = 1024
"""Longer input is refused before hashing: argon2 of megabytes is a denial of service."""
PACE_SMOOTHING = 0.2


@dataclass(frozen=True, slots=True)
class Throttles:
    account: ThrottlePolicy
    """For an account, and for an account at one address."""
    address: ThrottlePolicy


@dataclass(frozen=True, slots=True)
class _Keys:
    account: str
    pair: str | None
    address: str | None


def _account_key(user_or_email: str) -> str:
    # Keyed by a digest so the throttle store (Redis) holds no email address.
    return "acct:" + hashlib.sha256(user_or_email.encode()).hexdigest()[:32]


def _keys(account_key: str, address: str | None) -> _Keys:
    if address is None:
        return _Keys(account_key, None, None)
    return _Keys(account_key, f"{account_key}@{address}", "addr:" + address)


class _Pace:
    """How long a password check has taken lately (wall time, queueing included).

    A refusal that skips the check waits this long without using the CPU, so its
    timing looks like a check's.
    """

    def __init__(self) -> None:
        self._typical = 0.0

    async def timed(self, work: Awaitable[bool]) -> bool:
        started = time.perf_counter()
        result = await work  # a refusal (overload) says nothing about a check's pace
        self._observe(time.perf_counter() - started)
        return result

    def _observe(self, seconds: float) -> None:
        if not self._typical:
            self._typical = seconds
        else:
            self._typical += PACE_SMOOTHING * (seconds - self._typical)

    async def pad(self, started: float) -> None:
        remaining = self._typical - (time.perf_counter() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)


class LoginService:
    def __init__(
        self,
        users: UserRepository,
        hasher: SecretHasher,
        mfa: MfaService,
        throttle: ThrottleStore,
        events: AuthEventSink,
        clock: Clock,
        policies: Throttles,
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._mfa = mfa
        self._throttle = throttle
        self._events = events
        self._clock = clock
        self._policies = policies
        self._dummy_hash: str | None = None
        self._pace = _Pace()

    async def warm_up(self) -> None:
        """Make the stand-in hash and time one check, so the first refusals are paced."""
        dummy = await self._dummy()
        await self._pace.timed(self._hasher.verify(dummy, secrets.token_urlsafe(16)))

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self._hasher.hash(secrets.token_urlsafe(32))
        return self._dummy_hash

    async def check_password(self, email: str, password: str, *, address: str | None) -> User:
        """The active user these credentials belong to, or AuthenticationFailedError."""
        started = time.perf_counter()
        user = await self._find(email)
        keys = _keys(_account_key(user.user_id if user else email.strip().lower()), address)
        await self._refuse_without_hashing(keys, password, address, started)
        normalized = normalize_password(password)
        candidate = user.password_hash if user is not None else await self._dummy()
        matches = await self._pace.timed(self._hasher.verify(candidate, normalized))
        if user is None or not matches or not user.active:
            await self._fail(keys, address, "password")
            raise AuthenticationFailedError(FAILED)
        await self._succeed(user, keys)
        if self._hasher.needs_rehash(user.password_hash):
            rehashed = await self._hasher.hash(normalized)
            user = user.with_password_hash(rehashed, changed_at=None)
            await self._users.save(user)
        self._events.record("password", "success", address=address)
        return user

    async def _refuse_without_hashing(
        self, keys: _Keys, password: str, address: str | None, started: float
    ) -> None:
        """Raise for a locked-out attempt or an oversized password, after a check's time."""
        locked = await self._locked(keys)
        if not locked and len(password.encode()) <= MAX_PASSWORD_BYTES:
            return
        if locked:
            self._events.record("password", "locked", address=address)
        else:
            await self._fail(keys, address, "password")
        await self._pace.pad(started)
        raise AuthenticationFailedError(FAILED)

    async def _succeed(self, user: User, keys: _Keys) -> None:
        if keys.pair is not None:
            await self._throttle.reset(keys.pair)
        if not await self._mfa.enrolled(user.user_id):
            # With a second factor the count runs on until that passes too: otherwise
            # whoever knows the password could reset it between rounds of code guesses.
            await self._throttle.reset(keys.account)

    async def check_second_factor(
        self, user: User, code: str, *, address: str | None
    ) -> AuthenticationProof:
        """A TOTP code or a recovery code; failures count towards the account's lockout."""
        keys = _keys(_account_key(user.user_id), address)
        if await self._locked(keys):
            self._events.record("mfa", "locked", address=address)
            raise AuthenticationFailedError(FAILED)
        recovery = await self._mfa.verify(user.user_id, code)
        if recovery is None:
            await self._fail(keys, address, "mfa")
            raise AuthenticationFailedError(FAILED)
        await self._throttle.reset(keys.account)
        if keys.pair is not None:
            await self._throttle.reset(keys.pair)
        self._events.record("mfa", "success", address=address)
        return mfa_proof(self._now_seconds(), recovery_code=recovery)

    def password_proof(self) -> AuthenticationProof:
        return password_proof(self._now_seconds())

    def _now_seconds(self) -> int:
        return self._clock.now_ns() // NANOSECONDS

    async def _find(self, email: str) -> User | None:
        return await self._users.by_email(email_lookup_key(email))

    async def _locked(self, keys: _Keys) -> bool:
        now = self._clock.now_ns()
        checks = [(keys.account, self._policies.account), (keys.pair, self._policies.account)]
        checks.append((keys.address, self._policies.address))
        for key, policy in checks:
            if key is not None and current(await self._throttle.get(key), policy, now).locked(now):
                return True
        return False

    async def _fail(self, keys: _Keys, address: str | None, stage: str) -> None:
        now = self._clock.now_ns()
        await self._count(keys.account, self._policies.account, now)
        if keys.pair is not None and keys.address is not None:
            await self._count(keys.pair, self._policies.account, now)
            await self._count(keys.address, self._policies.address, now)
        self._events.record(stage, "failure", address=address)

    async def _count(self, key: str, policy: ThrottlePolicy, now: int) -> ThrottleState:
        ttl = policy.retention // NANOSECONDS
        return await self._throttle.update(
            key, lambda state: record_failure(state, policy, now), ttl
        )

    async def lockout(self, email: str) -> ThrottleState:
        """The account's throttle state: whether it is locked, and until when."""
        user = await self._find(email)
        key = _account_key(user.user_id if user is not None else email.strip().lower())
        return current(await self._throttle.get(key), self._policies.account, self._clock.now_ns())
