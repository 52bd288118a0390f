"""Signing in: password then second factor, behind brute-force protection.

Every failure (unknown email, wrong password, disabled or unverified user, locked
account or address) costs one argon2 verification and raises the same
AuthenticationFailedError, so neither the answer nor its timing tells them apart.
"""

import hashlib
import secrets
from dataclasses import dataclass

from openbell.identity.application.mfa import MfaService
from openbell.identity.application.ports import (
    AuthEventSink,
    SecretHasher,
    ThrottleStore,
    UserRepository,
)
from openbell.identity.domain.errors import AuthenticationFailedError, InvalidUserDefinitionError
from openbell.identity.domain.mfa import AuthenticationProof, mfa_proof, password_proof
from openbell.identity.domain.throttle import (
    NANOSECONDS,
    ThrottlePolicy,
    ThrottleState,
    current,
    record_failure,
)
from openbell.identity.domain.users import User, normalize_email
from openbell.shared.time import Clock

FAILED = "Invalid email or password, or too many attempts; try again later."
MAX_PASSWORD_BYTES = 1024
"""Longer input is refused before hashing: argon2 of megabytes is a denial of service."""


@dataclass(frozen=True, slots=True)
class Throttles:
    account: ThrottlePolicy
    address: ThrottlePolicy


def _account_key(user_or_email: str) -> str:
    # Keyed by a digest so the throttle store (Redis) holds no email address.
    return "acct:" + hashlib.sha256(user_or_email.encode()).hexdigest()[:32]


def _address_key(address: str | None) -> str | None:
    return None if address is None else "addr:" + address


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

    async def warm_up(self) -> None:
        await self._dummy()

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self._hasher.hash(secrets.token_urlsafe(32))
        return self._dummy_hash

    async def check_password(self, email: str, password: str, *, address: str | None) -> User:
        """The active user these credentials belong to, or AuthenticationFailedError."""
        user = await self._find(email)
        account_key = _account_key(user.user_id if user is not None else email.strip().lower())
        locked = await self._locked(account_key, _address_key(address))
        candidate = user.password_hash if user is not None else await self._dummy()
        matches = len(password.encode()) <= MAX_PASSWORD_BYTES and await self._hasher.verify(
            candidate, password
        )
        if locked:
            self._events.record("password", "locked", address=address)
            raise AuthenticationFailedError(FAILED)
        if user is None or not matches or not user.active:
            await self._fail(account_key, address, "password")
            raise AuthenticationFailedError(FAILED)
        if not await self._mfa.enrolled(user.user_id):
            # With a second factor the count runs on until that passes too: otherwise
            # whoever knows the password could reset it between rounds of code guesses.
            await self._throttle.reset(account_key)
        if self._hasher.needs_rehash(user.password_hash):
            rehashed = await self._hasher.hash(password)
            user = user.with_password_hash(rehashed, changed_at=None)
            await self._users.save(user)
        self._events.record("password", "success", address=address)
        return user

    async def check_second_factor(
        self, user: User, code: str, *, address: str | None
    ) -> AuthenticationProof:
        """A TOTP code or a recovery code; failures count towards the account's lockout."""
        account_key = _account_key(user.user_id)
        if await self._locked(account_key, _address_key(address)):
            self._events.record("mfa", "locked", address=address)
            raise AuthenticationFailedError(FAILED)
        recovery = await self._mfa.verify(user.user_id, code)
        if recovery is None:
            await self._fail(account_key, address, "mfa")
            raise AuthenticationFailedError(FAILED)
        await self._throttle.reset(account_key)
        self._events.record("mfa", "success", address=address)
        return mfa_proof(self._now_seconds(), recovery_code=recovery)

    def password_proof(self) -> AuthenticationProof:
        return password_proof(self._now_seconds())

    def _now_seconds(self) -> int:
        return self._clock.now_ns() // NANOSECONDS

    async def _find(self, email: str) -> User | None:
        try:
            normalized = normalize_email(email)
        except InvalidUserDefinitionError:
            return None
        return await self._users.by_email(normalized)

    async def _locked(self, account_key: str, address_key: str | None) -> bool:
        now = self._clock.now_ns()
        account = current(await self._throttle.get(account_key), self._policies.account, now)
        if account.locked(now):
            return True
        if address_key is None:
            return False
        address = current(await self._throttle.get(address_key), self._policies.address, now)
        return address.locked(now)

    async def _fail(self, account_key: str, address: str | None, stage: str) -> None:
        now = self._clock.now_ns()
        await self._count(account_key, self._policies.account, now)
        address_key = _address_key(address)
        if address_key is not None:
            await self._count(address_key, self._policies.address, now)
        self._events.record(stage, "failure", address=address)

    async def _count(self, key: str, policy: ThrottlePolicy, now: int) -> ThrottleState:
        ttl = policy.failure_reset // NANOSECONDS + policy.max_wait // NANOSECONDS
        return await self._throttle.update(
            key, lambda state: record_failure(state, policy, now), ttl
        )

    async def lockout(self, email: str) -> ThrottleState:
        """The account's throttle state, for operators (`openbell users show`) and tests."""
        user = await self._find(email)
        key = _account_key(user.user_id if user is not None else email.strip().lower())
        return current(await self._throttle.get(key), self._policies.account, self._clock.now_ns())
