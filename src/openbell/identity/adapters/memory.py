"""In-memory storage for every identity port: for tests and throwaway runs.

Each passes the same contract tests as its SQL or Redis counterpart.
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace

from openbell.identity.domain.clients import ApiClient, ClientId
from openbell.identity.domain.grants import AuthorizationCode, Grant, GrantId, RefreshToken
from openbell.identity.domain.keys import SigningKey
from openbell.identity.domain.mfa import TotpEnrolment
from openbell.identity.domain.revocation import Revocation
from openbell.identity.domain.throttle import ThrottleState
from openbell.identity.domain.users import User, UserId, UserStatus
from openbell.shared.errors import ConflictError, NotFoundError


class InMemoryClientRepository:
    def __init__(self) -> None:
        self._clients: dict[str, ApiClient] = {}

    async def add(self, client: ApiClient) -> None:
        if client.client_id in self._clients:
            raise ConflictError("client id already exists")
        self._clients[client.client_id] = client

    async def get(self, client_id: ClientId) -> ApiClient | None:
        return self._clients.get(client_id)

    async def save(self, client: ApiClient) -> None:
        if client.client_id not in self._clients:
            raise NotFoundError("no such client")
        self._clients[client.client_id] = client

    async def list(self) -> Sequence[ApiClient]:
        return sorted(
            self._clients.values(), key=lambda client: (client.created_at, client.client_id)
        )

    async def owned_by(self, user_id: str) -> Sequence[ApiClient]:
        return [client for client in await self.list() if client.owner_user_id == user_id]

    async def acting_for_account(self, account_id: int) -> Sequence[ApiClient]:
        return [client for client in await self.list() if client.account_id == account_id]


class InMemorySigningKeyRepository:
    def __init__(self) -> None:
        self._keys: dict[str, SigningKey] = {}

    async def add(self, key: SigningKey) -> None:
        if key.kid in self._keys:
            raise ConflictError("key id already exists")
        self._keys[key.kid] = key

    async def save(self, key: SigningKey) -> None:
        if key.kid not in self._keys:
            raise NotFoundError("no such signing key")
        self._keys[key.kid] = key

    async def list(self) -> Sequence[SigningKey]:
        return sorted(self._keys.values(), key=lambda key: (key.created_at, key.kid))


class InMemoryUserRepository:
    def __init__(self) -> None:
        self._users: dict[str, User] = {}

    def _taken(self, user: User) -> bool:
        return any(
            other.user_id != user.user_id
            and (
                other.email == user.email
                or (user.account_id is not None and other.account_id == user.account_id)
            )
            for other in self._users.values()
        )

    async def add(self, user: User) -> None:
        if user.user_id in self._users or self._taken(user):
            raise ConflictError("identity_users: the key already exists")
        self._users[user.user_id] = user

    async def get(self, user_id: UserId) -> User | None:
        return self._users.get(user_id)

    async def by_email(self, email: str) -> User | None:
        return next((user for user in self._users.values() if user.email == email), None)

    async def save(self, user: User) -> None:
        if user.user_id not in self._users:
            raise NotFoundError("no such user")
        if self._taken(user):
            raise ConflictError("identity_users: the email or account is taken")
        self._users[user.user_id] = user

    async def list(self) -> Sequence[User]:
        return sorted(self._users.values(), key=lambda user: (user.created_at, user.user_id))

    async def delete_pending(self, user_id: UserId) -> None:
        user = self._users.get(user_id)
        if user is not None and user.status is UserStatus.PENDING:
            del self._users[user_id]

    async def delete_pending_before(self, created_before: int) -> None:
        self._users = {
            user_id: user
            for user_id, user in self._users.items()
            if user.status is not UserStatus.PENDING or user.created_at >= created_before
        }


class InMemoryOneTimeTokenRepository:
    def __init__(self) -> None:
        self._tokens: dict[str, tuple[UserId, str, int, int | None]] = {}

    async def add(self, token_hash: str, user_id: UserId, purpose: str, expires_at: int) -> None:
        if token_hash in self._tokens:
            raise ConflictError("identity_one_time_tokens: the key already exists")
        self._tokens[token_hash] = (user_id, purpose, expires_at, None)

    async def consume(self, token_hash: str, purpose: str, now: int) -> UserId | None:
        found = self._tokens.get(token_hash)
        if found is None:
            return None
        user_id, kind, expires_at, used_at = found
        if kind != purpose or used_at is not None or now >= expires_at:
            return None
        self._tokens[token_hash] = (user_id, kind, expires_at, now)
        return user_id

    async def owner(self, token_hash: str, purpose: str, now: int) -> UserId | None:
        found = self._tokens.get(token_hash)
        if found is None:
            return None
        user_id, kind, expires_at, used_at = found
        return user_id if kind == purpose and used_at is None and now < expires_at else None

    async def void(self, user_id: UserId, purpose: str, now: int) -> None:
        for token_hash, (owner, kind, expires_at, used_at) in list(self._tokens.items()):
            if owner == user_id and kind == purpose and used_at is None:
                self._tokens[token_hash] = (owner, kind, expires_at, now)

    async def delete_expired(self, now: int) -> None:
        self._tokens = {key: token for key, token in self._tokens.items() if token[2] > now}


class InMemoryMailThrottle:
    """Recipients' last mail in this process; the database shares it between processes."""

    def __init__(self) -> None:
        self._sent_at: dict[str, int] = {}

    async def claim(self, recipient_hash: str, now: int, interval: int) -> bool:
        self._sent_at = {key: at for key, at in self._sent_at.items() if at > now - interval}
        if recipient_hash in self._sent_at:
            return False
        self._sent_at[recipient_hash] = now
        return True


class InMemoryMfaRepository:
    def __init__(self) -> None:
        self._totp: dict[str, TotpEnrolment] = {}
        self._codes: dict[str, tuple[UserId, int | None]] = {}

    async def totp(self, user_id: UserId) -> TotpEnrolment | None:
        return self._totp.get(user_id)

    async def put_totp(self, enrolment: TotpEnrolment) -> None:
        self._totp[enrolment.user_id] = enrolment

    async def delete_totp(self, user_id: UserId) -> None:
        self._totp.pop(user_id, None)

    async def use_totp_step(self, user_id: UserId, step: int) -> bool:
        enrolment = self._totp.get(user_id)
        if enrolment is None:
            return False
        if enrolment.last_used_step is not None and enrolment.last_used_step >= step:
            return False
        self._totp[user_id] = replace(enrolment, last_used_step=step)
        return True

    async def replace_recovery_codes(self, user_id: UserId, digests: Sequence[str]) -> None:
        self._codes = {k: v for k, v in self._codes.items() if v[0] != user_id}
        for digest in digests:
            self._codes[digest] = (user_id, None)

    async def use_recovery_code(self, user_id: UserId, digest: str, now: int) -> bool:
        found = self._codes.get(digest)
        if found is None or found[0] != user_id or found[1] is not None:
            return False
        self._codes[digest] = (user_id, now)
        return True

    async def remaining_recovery_codes(self, user_id: UserId) -> int:
        return sum(1 for owner, used in self._codes.values() if owner == user_id and used is None)


class InMemoryGrantRepository:
    def __init__(self) -> None:
        self._codes: dict[str, AuthorizationCode] = {}
        self._grants: dict[str, Grant] = {}
        self._refresh: dict[str, RefreshToken] = {}

    async def add_code(self, code: AuthorizationCode) -> None:
        self._codes[code.code_hash] = code

    async def consume_code(self, code_hash: str, now: int) -> tuple[AuthorizationCode, bool] | None:
        code = self._codes.get(code_hash)
        if code is None:
            return None
        if code.used_at is not None:
            return code, False
        self._codes[code_hash] = used = replace(code, used_at=now)
        return used, True

    async def add_grant(self, grant: Grant) -> None:
        if grant.grant_id in self._grants:
            raise ConflictError("identity_grants: the key already exists")
        self._grants[grant.grant_id] = grant

    async def get_grant(self, grant_id: GrantId) -> Grant | None:
        return self._grants.get(grant_id)

    async def revoke_grant(self, grant_id: GrantId, now: int) -> None:
        grant = self._grants.get(grant_id)
        if grant is not None:
            self._grants[grant_id] = grant.revoke(now)

    async def active_grants_of_user(self, user_id: UserId, now: int) -> Sequence[Grant]:
        return [
            grant
            for grant in self._grants.values()
            if grant.user_id == user_id and grant.usable(now)
        ]

    async def add_refresh_token(self, token: RefreshToken) -> None:
        self._refresh[token.token_hash] = token

    async def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        return self._refresh.get(token_hash)

    async def consume_refresh_token(
        self, token_hash: str, now: int
    ) -> tuple[RefreshToken, bool] | None:
        token = self._refresh.get(token_hash)
        if token is None:
            return None
        if token.used_at is not None:
            return token, False
        self._refresh[token_hash] = used = replace(token, used_at=now)
        return used, True

    async def retire_successors(self, token: RefreshToken, now: int) -> bool:
        since = token.used_at if token.used_at is not None else now
        successors = [
            other
            for other in self._refresh.values()
            if other.grant_id == token.grant_id
            and other.created_at >= since
            and other.token_hash != token.token_hash
        ]
        if not successors or any(other.used_at is not None for other in successors):
            return False
        for other in successors:
            self._refresh[other.token_hash] = replace(other, used_at=now)
        return True


class InMemoryRevocationStore:
    """One process's revocations; nothing is shared, so use it where one process serves."""

    def __init__(self) -> None:
        self._entries: list[Revocation] = []

    async def add(self, revocation: Revocation) -> None:
        self._entries.append(revocation)

    async def changes(self, cursor: int, now: int) -> tuple[Sequence[Revocation], int]:
        fresh = [entry for entry in self._entries[cursor:] if entry.expires_at > now]
        return fresh, len(self._entries)


class InMemoryThrottleStore:
    """Failure counters in this process; with several processes, use Redis."""

    def __init__(self) -> None:
        self._states: dict[str, ThrottleState] = {}
        self._lock = asyncio.Lock()

    async def get(self, key: str) -> ThrottleState:
        return self._states.get(key, ThrottleState())

    async def update(
        self, key: str, change: Callable[[ThrottleState], ThrottleState], ttl_seconds: int
    ) -> ThrottleState:
        del ttl_seconds  # state resets by its own clock; memory is bounded by `prune`
        async with self._lock:
            self._states[key] = state = change(self._states.get(key, ThrottleState()))
            if len(self._states) > 100_000:
                self._prune()
            return state

    def _prune(self) -> None:
        # Keep the locked and the most recent half; an attacker filling memory with
        # fresh keys only evicts its own oldest counters.
        ordered = sorted(self._states.items(), key=lambda item: item[1].window_start)
        self._states = dict(ordered[len(ordered) // 2 :])

    async def reset(self, key: str) -> None:
        self._states.pop(key, None)
