"""Registering, revoking and authenticating API clients."""

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from openbell.identity.application.ports import ClientRepository, SecretHasher
from openbell.identity.domain.clients import (
    CLIENT_ID_PREFIX,
    CLIENT_SECRET_PREFIX,
    ApiClient,
    ClientId,
    plausible_client_id,
    register_client,
)
from openbell.identity.domain.errors import InvalidClientError
from openbell.shared.errors import NotFoundError
from openbell.shared.time import Clock


@dataclass(frozen=True, slots=True)
class IssuedClient:
    """A newly registered client and its secret: the only time the secret is ever seen."""

    client: ApiClient
    client_secret: str = field(repr=False)

    @property
    def client_id(self) -> ClientId:
        return self.client.client_id


def new_client_id() -> ClientId:
    return ClientId(CLIENT_ID_PREFIX + secrets.token_urlsafe(16))  # 128 random bits


def new_client_secret() -> str:
    return CLIENT_SECRET_PREFIX + secrets.token_urlsafe(32)  # 256 random bits


class ClientService:
    def __init__(self, repository: ClientRepository, hasher: SecretHasher, clock: Clock) -> None:
        self._repository = repository
        self._hasher = hasher
        self._clock = clock
        self._dummy_hash: str | None = None

    async def create_client(
        self, *, name: str, scopes: Iterable[str], account_id: int | None = None
    ) -> IssuedClient:
        """Register a client; the returned secret is not stored and cannot be shown again."""
        secret = new_client_secret()
        client = register_client(
            client_id=new_client_id(),
            name=name,
            secret_hash=await self._hasher.hash(secret),
            scopes=frozenset(scopes),
            account_id=account_id,
            created_at=self._clock.now_ns(),
        )
        await self._repository.add(client)
        return IssuedClient(client, secret)

    async def revoke_client(self, client_id: str) -> ApiClient:
        client = await self._repository.get(ClientId(client_id))
        if client is None:
            raise NotFoundError("no such client")
        revoked = client.revoke(self._clock.now_ns())
        if revoked is not client:
            await self._repository.save(revoked)
        return revoked

    async def list_clients(self) -> Sequence[ApiClient]:
        return await self._repository.list()

    async def authenticate(self, client_id: str, secret: str) -> ApiClient:
        """The active client these credentials belong to, or InvalidClientError.

        Unknown, revoked and wrong-secret all verify one argon2 hash and fail alike, so
        neither the answer nor its timing tells an attacker which client ids exist.
        """
        client = await self._find(client_id)
        secret_hash = client.secret_hash if client is not None else await self._dummy()
        matches = await self._hasher.verify(secret_hash, secret)
        if client is None or not client.active or not matches:
            raise InvalidClientError("client authentication failed")
        if self._hasher.needs_rehash(client.secret_hash):
            client = client.with_secret_hash(await self._hasher.hash(secret))
            await self._repository.save(client)
        return client

    async def _find(self, client_id: str) -> ApiClient | None:
        if not plausible_client_id(client_id):
            return None
        return await self._repository.get(ClientId(client_id))

    async def _dummy(self) -> str:
        # Hashed with the live parameters, so verifying it costs what a real one does.
        if self._dummy_hash is None:
            self._dummy_hash = await self._hasher.hash(secrets.token_urlsafe(32))
        return self._dummy_hash

    async def warm_up(self) -> None:
        """Compute the dummy hash at start, so the first unknown client is not slower."""
        await self._dummy()
