"""Users: registration with email verification, account recovery, password changes, disabling.

Registration and recovery answer alike for every address, in content and in time, so
neither tells whether an address has an account; each mails a recipient at most once per
interval, so neither can be turned on someone's inbox.
"""

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from openbell.identity.application.clients import ClientService
from openbell.identity.application.ports import (
    AccountOpener,
    GrantRepository,
    Mailer,
    MailThrottle,
    OneTimeTokenRepository,
    SecretHasher,
    UserRepository,
)
from openbell.identity.application.revocation import RevocationService
from openbell.identity.domain.errors import (
    CannotDisableSelfError,
    InvalidGrantError,
    InvalidUserDefinitionError,
)
from openbell.identity.domain.grants import token_digest
from openbell.identity.domain.passwords import PasswordPolicy
from openbell.identity.domain.revocation import GRANT, SUBJECT
from openbell.identity.domain.users import (
    USER_ID_PREFIX,
    Role,
    User,
    UserId,
    UserStatus,
    clean_name,
    normalize_email,
)
from openbell.shared.errors import ConflictError, NotFoundError
from openbell.shared.time import Clock

logger = logging.getLogger("openbell.identity")

VERIFY_EMAIL = "verify_email"
RECOVERY = "recovery"
NANOSECONDS = 1_000_000_000
MAX_TOKEN_LENGTH = 256
UNUSABLE = "invalid or expired token"


def new_user_id() -> UserId:
    return UserId(USER_ID_PREFIX + secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class AccountMailPolicy:
    """How long mailed tokens and unverified registrations live, and how often mail goes."""

    verification_ttl_seconds: int
    pending_user_ttl_seconds: int
    recovery_ttl_seconds: int
    mail_interval_seconds: int
    min_response_seconds: float


@contextlib.asynccontextmanager
async def _answer_no_sooner_than(seconds: float) -> AsyncIterator[None]:
    """Pad the block to a fixed duration, so its time does not tell which path it took."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    yield
    await asyncio.sleep(max(0.0, deadline - loop.time()))


def _digest(token: str) -> str:
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidGrantError(UNUSABLE)
    return token_digest(token)


def _duration(seconds: int) -> str:
    if seconds >= 7_200:
        return f"{seconds // 3_600} hours"
    return f"{seconds // 60} minutes"


class UserService:
    def __init__(
        self,
        users: UserRepository,
        one_time_tokens: OneTimeTokenRepository,
        grants: GrantRepository,
        clients: ClientService,
        hasher: SecretHasher,
        policy: PasswordPolicy,
        mailer: Mailer,
        mail_throttle: MailThrottle,
        revocations: RevocationService,
        clock: Clock,
        *,
        mail_policy: AccountMailPolicy,
        accounts: AccountOpener | None = None,
    ) -> None:
        self._users = users
        self._tokens = one_time_tokens
        self._grants = grants
        self._clients = clients
        self._hasher = hasher
        self._policy = policy
        self._mailer = mailer
        self._mail_throttle = mail_throttle
        self._revocations = revocations
        self._clock = clock
        self._mail_policy = mail_policy
        self._accounts = accounts

    async def get(self, user_id: str) -> User | None:
        return await self._users.get(UserId(user_id))

    async def list_users(self) -> Sequence[User]:
        return await self._users.list()

    async def register(self, *, email: str, password: str, name: str = "") -> None:
        """Self-registration of a trader; the answer never says whether the email was taken.

        A new or unverified address gets a verification token; a known one gets a note
        that someone tried to register it, so its owner learns of it and an attacker
        learns nothing. Within the mail interval of the last mail to the address, nothing
        happens at all (and the answer is the same).
        """
        address = normalize_email(email)
        cleaned_name = clean_name(name)
        checked = self._policy.check(password, email=address)
        async with _answer_no_sooner_than(self._mail_policy.min_response_seconds):
            # Hash whatever follows: every path then costs the same argon2 time.
            password_hash = await self._hasher.hash(checked)
            if await self._may_mail(address):
                await self._register(address, password_hash, cleaned_name)

    async def _register(self, address: str, password_hash: str, name: str) -> None:
        await self._forget_lapsed_registrations()
        existing = await self._users.by_email(address)
        if existing is not None and existing.status is not UserStatus.PENDING:
            await self._mailer.send(
                address,
                "Someone tried to register your address at openbell",
                "An account already exists for this address. If this was you, sign in, or "
                "reset your password with POST /v1/users/recover; otherwise you can ignore "
                "this message.\n",
            )
            return
        if existing is not None:
            # The newest registration of an unverified address replaces the older one and
            # voids its tokens: an earlier sign-up by someone else cannot become the
            # account its owner registers and confirms.
            await self._tokens.void(existing.user_id, VERIFY_EMAIL, self._clock.now_ns())
            await self._users.delete_pending(existing.user_id)
        user = self._new_user(address, password_hash, name, frozenset({Role.TRADER}), None)
        try:
            await self._users.add(user)
        except ConflictError:
            return  # a concurrent registration of the same address won
        await self._send_verification(user)

    async def _may_mail(self, address: str) -> bool:
        interval = self._mail_policy.mail_interval_seconds * NANOSECONDS
        return await self._mail_throttle.claim(
            token_digest(address), self._clock.now_ns(), interval
        )

    async def _forget_lapsed_registrations(self) -> None:
        now = self._clock.now_ns()
        # Lapsed means as old as the time to live or older, as in `_lapsed`.
        await self._users.delete_pending_before(now - self._pending_ttl_ns + 1)
        await self._tokens.delete_expired(now)

    @property
    def _pending_ttl_ns(self) -> int:
        return self._mail_policy.pending_user_ttl_seconds * NANOSECONDS

    def _lapsed(self, user: User) -> bool:
        age = self._clock.now_ns() - user.created_at
        return user.status is UserStatus.PENDING and age >= self._pending_ttl_ns

    async def create_user(
        self,
        *,
        email: str,
        password: str,
        roles: Iterable[Role],
        name: str = "",
        account_id: int | None = None,
    ) -> User:
        """An operator creates a user directly, already verified (the CLI)."""
        address = normalize_email(email)
        checked = self._policy.check(password, email=address)
        password_hash = await self._hasher.hash(checked)
        roles = frozenset(roles)
        user = self._new_user(address, password_hash, clean_name(name), roles, account_id)
        if not user.roles:
            raise InvalidUserDefinitionError("a user needs at least one role")
        if account_id is not None and Role.TRADER not in user.roles:
            raise InvalidUserDefinitionError("only traders have a trading account")
        user = user.verify_email(self._clock.now_ns())
        await self._forget_lapsed_registrations()
        await self._users.add(user)
        return await self.ensure_account(user)

    def _new_user(
        self,
        email: str,
        password_hash: str,
        name: str,
        roles: frozenset[Role],
        account_id: int | None,
    ) -> User:
        return User(
            user_id=new_user_id(),
            email=email,
            name=name,
            password_hash=password_hash,
            roles=roles,
            status=UserStatus.PENDING,
            created_at=self._clock.now_ns(),
            account_id=account_id,
            password_changed_at=self._clock.now_ns(),
        )

    async def _new_token(self, user_id: UserId, purpose: str, ttl_seconds: int) -> str:
        token = secrets.token_urlsafe(32)
        expires_at = self._clock.now_ns() + ttl_seconds * NANOSECONDS
        await self._tokens.add(token_digest(token), user_id, purpose, expires_at)
        return token

    async def _send_verification(self, user: User) -> None:
        ttl = min(
            self._mail_policy.verification_ttl_seconds, self._mail_policy.pending_user_ttl_seconds
        )
        token = await self._new_token(user.user_id, VERIFY_EMAIL, ttl)
        await self._mailer.send(
            user.email,
            "Confirm your email address for openbell",
            "Confirm your address by sending this token to POST /v1/users/verify:\n\n"
            f"{token}\n\nIt works once and expires in {_duration(ttl)}.\n",
        )

    async def verify_email(self, token: str) -> User:
        """Activate the user the token was sent to; open their trading account."""
        user_id = await self._tokens.consume(_digest(token), VERIFY_EMAIL, self._clock.now_ns())
        user = None if user_id is None else await self._users.get(user_id)
        if user is None or self._lapsed(user):
            raise InvalidGrantError(UNUSABLE)
        verified = user.verify_email(self._clock.now_ns())
        if verified is not user:
            await self._users.save(verified)
        return await self.ensure_account(verified)

    async def request_recovery(self, email: str) -> None:
        """Mail an active user a single-use token that sets a new password.

        Every address gets the same answer in the same time; an address without an active
        account, or mailed within the interval, gets nothing.
        """
        address = normalize_email(email)
        async with _answer_no_sooner_than(self._mail_policy.min_response_seconds):
            user = await self._users.by_email(address)
            if user is not None and user.active and await self._may_mail(address):
                await self._send_recovery(user)

    async def _send_recovery(self, user: User) -> None:
        # Only the newest link works: an older mail read by someone else is worthless.
        await self._tokens.void(user.user_id, RECOVERY, self._clock.now_ns())
        ttl = self._mail_policy.recovery_ttl_seconds
        token = await self._new_token(user.user_id, RECOVERY, ttl)
        await self._mailer.send(
            user.email,
            "Reset your openbell password",
            "Set a new password by sending this token and the new password to "
            f"POST /v1/users/recover/confirm:\n\n{token}\n\nIt works once and expires in "
            f"{_duration(ttl)}. If you did not ask for it, ignore this message: your "
            "password stays as it is.\n",
        )

    async def recover(self, token: str, new_password: str) -> User:
        """Set the password of the user a recovery token was mailed to; end every session.

        A weak password is refused before the token is used, so the user may try again.
        """
        digest = _digest(token)
        user = await self._recovering_user(
            await self._tokens.owner(digest, RECOVERY, self._clock.now_ns())
        )
        checked = self._policy.check(new_password, email=user.email)
        password_hash = await self._hasher.hash(checked)
        user = await self._recovering_user(
            await self._tokens.consume(digest, RECOVERY, self._clock.now_ns())
        )
        return await self._set_password(user, password_hash)

    async def _recovering_user(self, user_id: UserId | None) -> User:
        user = None if user_id is None else await self._users.get(user_id)
        if user is None or not user.active:
            raise InvalidGrantError(UNUSABLE)
        return user

    async def ensure_account(self, user: User) -> User:
        """A trader without a trading account gets one (when the core is reachable)."""
        if not user.needs_account or not user.active or self._accounts is None:
            return user
        account_id = await self._accounts()
        updated = user.with_account(account_id)
        await self._users.save(updated)
        return updated

    async def change_password(self, user: User, new_password: str) -> User:
        """Set a new password (the caller proved the current one) and end every session."""
        checked = self._policy.check(new_password, email=user.email)
        return await self._set_password(user, await self._hasher.hash(checked))

    async def _set_password(self, user: User, password_hash: str) -> User:
        updated = user.with_password_hash(password_hash, changed_at=self._clock.now_ns())
        await self._users.save(updated)
        await self.end_sessions(updated.user_id)
        return updated

    async def end_sessions(self, user_id: UserId) -> None:
        """Revoke every grant of the user and every access token issued to them so far."""
        now = self._clock.now_ns()
        for grant in await self._grants.active_grants_of_user(user_id, now):
            await self._grants.revoke_grant(grant.grant_id, now)
            await self._revocations.revoke(GRANT, grant.grant_id)
        await self._revocations.revoke(SUBJECT, user_id)

    async def disable(self, user_id: str, *, by: str | None = None) -> User:
        """No more sign-ins; sessions, tokens and every API client acting for the user
        (their own and any an operator made for their account) end at once.

        `by` is the admin doing it, who may not disable themselves.
        """
        if by is not None and by == user_id:
            raise CannotDisableSelfError("an admin cannot disable themselves")
        user = await self._users.get(UserId(user_id))
        if user is None:
            raise NotFoundError("no such user")
        disabled = user.disable(self._clock.now_ns())
        if disabled is not user:
            await self._users.save(disabled)
        await self.end_sessions(disabled.user_id)
        await self._clients.revoke_clients_of(disabled)
        return disabled

    async def enable(self, user_id: str) -> User:
        user = await self._users.get(UserId(user_id))
        if user is None:
            raise NotFoundError("no such user")
        enabled = user.enable()
        if enabled is not user:
            await self._users.save(enabled)
        return enabled
