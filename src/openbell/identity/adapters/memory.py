"""In-memory storage for clients and signing keys: for tests and throwaway runs."""

from collections.abc import Sequence

from openbell.identity.domain.clients import ApiClient, ClientId
from openbell.identity.domain.keys import SigningKey
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
