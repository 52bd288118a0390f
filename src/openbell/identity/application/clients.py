"""Registering, revoking and authenticating API clients.

Client secrets are kept as keyed digests (HMAC-SHA-256, see `SecretDigest`): checking one
costs microseconds, so a flood of wrong secrets or unknown ids costs the server nothing
worth having. A secret still stored as argon2 (from before) is checked once the slow way
and rewritten as a digest on that first successful use.

A client that is revoked or narrowed loses the tokens it holds here, in one place: every
caller (a user's own route, the operator's CLI, disabling a user) goes through it.
"""

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from openbell.identity.application.ports import ClientRepository, SecretDigest, SecretHasher
from openbell.identity.application.revocation import RevocationService
from openbell.identity.domain.clients import (
    CLIENT_CREDENTIALS,
    CLIENT_ID_PREFIX,
    CLIENT_SECRET_PREFIX,
    ApiClient,
    ClientId,
    plausible_client_id,
    register_client,
    user_client_scopes,
)
from openbell.identity.domain.errors import InvalidClientDefinitionError, InvalidClientError
from openbell.identity.domain.revocation import CLIENT
from openbell.identity.domain.users import User
from openbell.shared.errors import NotFoundError
from openbell.shared.time import Clock

logger = logging.getLogger("openbell.identity")


@dataclass(frozen=True, slots=True)
class IssuedClient:
    """A newly registered client and its secret: the only time the secret is ever seen."""

    client: ApiClient
    client_secret: str = field(repr=False)

    @property
    def client_id(self) -> ClientId:
        return self.client.client_id


MAX_SECRET = 256
MIN_REASON_LENGTH = 8
"""An admin's reason for a new client: a few words, not a placeholder."""
_FAILED = "client authentication failed"


def new_client_id() -> ClientId:
    return ClientId(CLIENT_ID_PREFIX + secrets.token_urlsafe(16))  # 128 random bits


def new_client_secret() -> str:
    return CLIENT_SECRET_PREFIX + secrets.token_urlsafe(32)  # 256 random bits


class ClientService:
    def __init__(
        self,
        repository: ClientRepository,
        hasher: SecretHasher,
        clock: Clock,
        *,
        digest: SecretDigest,
        revocations: RevocationService,
        secret_overlap_seconds: int = 86_400,
    ) -> None:
        self._repository = repository
        self._hasher = hasher
        self._digest = digest
        self._clock = clock
        self._revocations = revocations
        self._overlap_ns = secret_overlap_seconds * 1_000_000_000
        self._stand_in = digest.digest(secrets.token_urlsafe(32))

    async def create_client(
        self,
        *,
        name: str,
        scopes: Iterable[str],
        account_id: int | None = None,
        grant_types: Iterable[str] = (CLIENT_CREDENTIALS,),
        redirect_uris: Iterable[str] = (),
        public: bool = False,
        owner_user_id: str | None = None,
    ) -> IssuedClient:
        """Register a client; the returned secret is not stored and cannot be shown again.

        A public client (a browser console) gets no secret: `client_secret` is empty.
        """
        kinds = frozenset(grant_types)
        if public and CLIENT_CREDENTIALS in kinds:
            raise InvalidClientDefinitionError("a public client cannot use client credentials")
        secret = "" if public else new_client_secret()
        client = register_client(
            client_id=new_client_id(),
            name=name,
            secret_hash=self._digest.digest(secret) if secret else "",
            scopes=frozenset(scopes),
            account_id=account_id,
            created_at=self._clock.now_ns(),
            grant_types=kinds,
            redirect_uris=tuple(redirect_uris),
            owner_user_id=owner_user_id,
        )
        await self._repository.add(client)
        return IssuedClient(client, secret)

    async def create_user_client(
        self, user: User, *, name: str, scopes: Iterable[str]
    ) -> IssuedClient:
        """A user's own client, for their trading account, with at most their own scopes."""
        return await self.create_client(
            name=name,
            scopes=user_client_scopes(scopes, own=user.scopes, account_id=user.account_id),
            account_id=user.account_id,
            owner_user_id=user.user_id,
        )

    async def create_operator_client(
        self, admin: User, *, name: str, scopes: Iterable[str], reason: str, account_id: int | None
    ) -> IssuedClient:
        """A program an admin registers for the platform: `ops` alone, or read/trade for
        an account (the domain's `machine_client_scopes`), never admin or audit. The reason
        is required and recorded with who gave it."""
        why = " ".join(reason.split())
        if len(why) < MIN_REASON_LENGTH:
            raise InvalidClientDefinitionError("say why this client is needed (a reason)")
        issued = await self.create_client(name=name, scopes=scopes, account_id=account_id)
        logger.info(
            "client %s (%s) created by admin %s: %s",
            issued.client_id,
            " ".join(sorted(issued.client.scopes)),
            admin.user_id,
            why,
        )
        return issued

    async def get(self, client_id: str) -> ApiClient | None:
        return await self._find(client_id)

    async def revoke_client(self, client_id: str, *, owner_user_id: str | None = None) -> ApiClient:
        """Revoke a client and refuse its tokens everywhere within a second; with
        `owner_user_id`, only that user's own (else NotFoundError)."""
        return await self._revoke(await self._owned(client_id, owner_user_id))

    async def revoke_clients_of(self, user: User) -> Sequence[ApiClient]:
        """Revoke every client acting for the user: their own, and any an operator made
        for their trading account."""
        acting = {client.client_id: client for client in await self._acting_for(user)}
        return [await self._revoke(client) for client in acting.values()]

    async def _acting_for(self, user: User) -> Sequence[ApiClient]:
        owned = await self._repository.owned_by(user.user_id)
        if user.account_id is None:
            return owned
        return [*owned, *await self._repository.acting_for_account(user.account_id)]

    async def _revoke(self, client: ApiClient) -> ApiClient:
        revoked = client.revoke(self._clock.now_ns())
        if revoked is not client:
            await self._repository.save(revoked)
        await self._revocations.revoke(CLIENT, revoked.client_id)
        return revoked

    async def rotate_secret(
        self, client_id: str, *, owner_user_id: str | None = None
    ) -> IssuedClient:
        """A new secret; the previous one keeps working for the overlap, then stops."""
        client = await self._owned(client_id, owner_user_id)
        if not client.active or client.public:
            raise NotFoundError("no such client")
        secret = new_client_secret()
        rotated = client.rotate_secret(
            self._digest.digest(secret), now=self._clock.now_ns(), overlap_ns=self._overlap_ns
        )
        await self._repository.save(rotated)
        return IssuedClient(rotated, secret)

    async def change_user_client_scopes(
        self, user: User, client_id: str, scopes: Iterable[str]
    ) -> ApiClient:
        """New scopes for one of the user's own clients, within the user's own scopes."""
        chosen = user_client_scopes(scopes, own=user.scopes, account_id=user.account_id)
        return await self.change_scopes(client_id, chosen, owner_user_id=user.user_id)

    async def change_scopes(
        self, client_id: str, scopes: Iterable[str], *, owner_user_id: str | None = None
    ) -> ApiClient:
        """Give an active client credentials client new scopes (checked as at creation);
        the tokens it holds are refused within a second, new ones carry the new scopes."""
        client = await self._owned(client_id, owner_user_id)
        if not client.active or client.grant_types != {CLIENT_CREDENTIALS}:
            raise NotFoundError("no such client")
        checked = register_client(
            client_id=client.client_id,
            name=client.name,
            secret_hash=client.secret_hash,
            scopes=frozenset(scopes),
            account_id=client.account_id,
            created_at=client.created_at,
        )
        changed = replace(client, scopes=checked.scopes)
        await self._repository.save(changed)
        await self._revocations.revoke(CLIENT, changed.client_id)
        return changed

    async def _owned(self, client_id: str, owner_user_id: str | None) -> ApiClient:
        client = await self._find(client_id)
        if client is None or (owner_user_id is not None and client.owner_user_id != owner_user_id):
            raise NotFoundError("no such client")
        return client

    async def list_clients(self, *, owner_user_id: str | None = None) -> Sequence[ApiClient]:
        if owner_user_id is not None:
            return await self._repository.owned_by(owner_user_id)
        return await self._repository.list()

    async def identify(self, client_id: str | None, secret: str | None) -> ApiClient:
        """The client a token request comes from: a confidential client proves its secret;
        a public client only names itself (PKCE or the refresh token proves the rest)."""
        if client_id is None:
            raise InvalidClientError("client authentication is required")
        if secret is not None:
            return await self.authenticate(client_id, secret)
        client = await self._find(client_id)
        if client is None or not client.active or not client.public:
            raise InvalidClientError(_FAILED)
        return client

    async def authenticate(self, client_id: str, secret: str) -> ApiClient:
        """The active client these credentials belong to, or InvalidClientError.

        Unknown, revoked, public and wrong-secret all fail alike after one keyed digest
        (microseconds), so neither the answer nor its timing tells which client ids exist.
        """
        client = await self._find(client_id)
        if client is None or client.public or not client.active or len(secret) > MAX_SECRET:
            self._digest.matches(self._stand_in, secret)
            raise InvalidClientError(_FAILED)
        matched, legacy = await self._verify(client.secret_hash, secret)
        if matched:
            if legacy:
                client = client.with_secret_hash(self._digest.digest(secret))
                await self._repository.save(client)
            return client
        if await self._previous_secret_matches(client, secret):
            return client
        raise InvalidClientError(_FAILED)

    async def _verify(self, stored: str, secret: str) -> tuple[bool, bool]:
        """Whether `secret` matches `stored`, and whether `stored` is a legacy argon2 hash."""
        if self._digest.recognises(stored):
            return self._digest.matches(stored, secret), False
        return await self._hasher.verify(stored, secret), True

    async def _previous_secret_matches(self, client: ApiClient, secret: str) -> bool:
        if not client.previous_secret_valid(self._clock.now_ns()):
            return False
        return (await self._verify(client.previous_secret_hash or "", secret))[0]

    async def _find(self, client_id: str) -> ApiClient | None:
        if not plausible_client_id(client_id):
            return None
        return await self._repository.get(ClientId(client_id))
