"""Users: registration with email verification, password changes, disabling."""

import logging
import secrets
from collections.abc import Iterable, Sequence

from openbell.identity.application.ports import (
    AccountOpener,
    ClientRepository,
    GrantRepository,
    Mailer,
    OneTimeTokenRepository,
    SecretHasher,
    UserRepository,
)
from openbell.identity.application.revocation import RevocationService
from openbell.identity.domain.errors import InvalidGrantError, InvalidUserDefinitionError
from openbell.identity.domain.grants import token_digest
from openbell.identity.domain.passwords import PasswordPolicy
from openbell.identity.domain.revocation import CLIENT, GRANT, SUBJECT
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
NANOSECONDS = 1_000_000_000


def new_user_id() -> UserId:
    return UserId(USER_ID_PREFIX + secrets.token_urlsafe(16))


class UserService:
    def __init__(
        self,
        users: UserRepository,
        one_time_tokens: OneTimeTokenRepository,
        grants: GrantRepository,
        clients: ClientRepository,
        hasher: SecretHasher,
        policy: PasswordPolicy,
        mailer: Mailer,
        revocations: RevocationService,
        clock: Clock,
        *,
        verification_ttl_seconds: int,
        accounts: AccountOpener | None = None,
    ) -> None:
        self._users = users
        self._tokens = one_time_tokens
        self._grants = grants
        self._clients = clients
        self._hasher = hasher
        self._policy = policy
        self._mailer = mailer
        self._revocations = revocations
        self._clock = clock
        self._verification_ttl_ns = verification_ttl_seconds * NANOSECONDS
        self._accounts = accounts

    async def get(self, user_id: str) -> User | None:
        return await self._users.get(UserId(user_id))

    async def list_users(self) -> Sequence[User]:
        return await self._users.list()

    async def register(self, *, email: str, password: str, name: str = "") -> None:
        """Self-registration of a trader; the answer never says whether the email was taken.

        A new address gets a verification link; a known one gets a note that someone tried
        to register it, so its owner learns of it and an attacker learns nothing.
        """
        address = normalize_email(email)
        checked = self._policy.check(password, email=address)
        # Hash before looking the address up: both answers then cost the same argon2 time.
        password_hash = await self._hasher.hash(checked)
        existing = await self._users.by_email(address)
        if existing is not None:
            await self._mailer.send(
                address,
                "Someone tried to register your address at openbell",
                "An account already exists for this address. If this was you, sign in or "
                "reset your password; otherwise you can ignore this message.\n",
            )
            return
        user = self._new_user(address, password_hash, name, frozenset({Role.TRADER}), None)
        try:
            await self._users.add(user)
        except ConflictError:
            return  # a concurrent registration of the same address won
        await self._send_verification(user)

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
        user = self._new_user(
            address, await self._hasher.hash(checked), name, frozenset(roles), account_id
        )
        if not user.roles:
            raise InvalidUserDefinitionError("a user needs at least one role")
        if account_id is not None and Role.TRADER not in user.roles:
            raise InvalidUserDefinitionError("only traders have a trading account")
        user = user.verify_email(self._clock.now_ns())
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
            name=clean_name(name),
            password_hash=password_hash,
            roles=roles,
            status=UserStatus.PENDING,
            created_at=self._clock.now_ns(),
            account_id=account_id,
            password_changed_at=self._clock.now_ns(),
        )

    async def _send_verification(self, user: User) -> None:
        token = secrets.token_urlsafe(32)
        expires_at = self._clock.now_ns() + self._verification_ttl_ns
        await self._tokens.add(token_digest(token), user.user_id, VERIFY_EMAIL, expires_at)
        await self._mailer.send(
            user.email,
            "Confirm your email address for openbell",
            "Confirm your address by sending this token to POST /v1/users/verify:\n\n"
            f"{token}\n\nIt works once and expires in "
            f"{self._verification_ttl_ns // NANOSECONDS // 3600} hours.\n",
        )

    async def verify_email(self, token: str) -> User:
        """Activate the user the token was sent to; open their trading account."""
        if len(token) > 256:
            raise InvalidGrantError("invalid or expired token")
        user_id = await self._tokens.consume(
            token_digest(token), VERIFY_EMAIL, self._clock.now_ns()
        )
        user = None if user_id is None else await self._users.get(user_id)
        if user is None:
            raise InvalidGrantError("invalid or expired token")
        verified = user.verify_email(self._clock.now_ns())
        if verified is not user:
            await self._users.save(verified)
        return await self.ensure_account(verified)

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
        now = self._clock.now_ns()
        updated = user.with_password_hash(await self._hasher.hash(checked), changed_at=now)
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

    async def disable(self, user_id: str) -> User:
        """No more sign-ins; sessions, tokens and the user's own API clients end at once."""
        user = await self._users.get(UserId(user_id))
        if user is None:
            raise NotFoundError("no such user")
        disabled = user.disable(self._clock.now_ns())
        if disabled is not user:
            await self._users.save(disabled)
        await self.end_sessions(disabled.user_id)
        for client in await self._clients.owned_by(disabled.user_id):
            if client.active:
                await self._clients.save(client.revoke(self._clock.now_ns()))
            await self._revocations.revoke(CLIENT, client.client_id)
        return disabled

    async def enable(self, user_id: str) -> User:
        user = await self._users.get(UserId(user_id))
        if user is None:
            raise NotFoundError("no such user")
        enabled = user.enable()
        if enabled is not user:
            await self._users.save(enabled)
        return enabled
