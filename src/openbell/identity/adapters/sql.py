"""SQL storage for clients and signing keys (SQLite and PostgreSQL through SQLAlchemy async)."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from openbell.identity.adapters.tables import api_clients, signing_keys
from openbell.identity.domain.clients import ApiClient, ClientId
from openbell.identity.domain.keys import SigningKey
from openbell.shared.errors import ConflictError, NotFoundError


async def insert_row(engine: AsyncEngine, table: Table, row: dict[str, Any]) -> None:
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(table).values(row))
    except IntegrityError:
        # Say no more than the in-memory adapter does: the driver's text names columns and values.
        raise ConflictError(f"{table.name}: the key already exists") from None


def _client_row(client: ApiClient) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "secret_hash": client.secret_hash,
        "scopes": " ".join(sorted(client.scopes)),
        "account_id": client.account_id,
        "created_at": client.created_at,
        "revoked_at": client.revoked_at,
        "grant_types": " ".join(sorted(client.grant_types)),
        "redirect_uris": "\n".join(client.redirect_uris),
        "owner_user_id": client.owner_user_id,
        "previous_secret_hash": client.previous_secret_hash,
        "previous_secret_expires_at": client.previous_secret_expires_at,
    }


def _client(row: RowMapping) -> ApiClient:
    return ApiClient(
        client_id=ClientId(row["client_id"]),
        name=row["name"],
        secret_hash=row["secret_hash"],
        scopes=frozenset(row["scopes"].split()),
        account_id=row["account_id"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        grant_types=frozenset(row["grant_types"].split()),
        redirect_uris=tuple(uri for uri in row["redirect_uris"].split("\n") if uri),
        owner_user_id=row["owner_user_id"],
        previous_secret_hash=row["previous_secret_hash"],
        previous_secret_expires_at=row["previous_secret_expires_at"],
    )


class SqlClientRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, client: ApiClient) -> None:
        await insert_row(self._engine, api_clients, _client_row(client))

    async def get(self, client_id: ClientId) -> ApiClient | None:
        query = select(api_clients).where(api_clients.c.client_id == client_id)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).mappings().first()
        return None if row is None else _client(row)

    async def save(self, client: ApiClient) -> None:
        statement = (
            update(api_clients)
            .where(api_clients.c.client_id == client.client_id)
            .values(_client_row(client))
        )
        async with self._engine.begin() as connection:
            if (await connection.execute(statement)).rowcount != 1:
                raise NotFoundError("no such client")

    async def list(self) -> Sequence[ApiClient]:
        query = select(api_clients).order_by(api_clients.c.created_at, api_clients.c.client_id)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_client(row) for row in rows]

    async def owned_by(self, user_id: str) -> Sequence[ApiClient]:
        return await self._where(api_clients.c.owner_user_id == user_id)

    async def acting_for_account(self, account_id: int) -> Sequence[ApiClient]:
        return await self._where(api_clients.c.account_id == account_id)

    async def _where(self, condition: ColumnElement[bool]) -> Sequence[ApiClient]:
        query = (
            select(api_clients)
            .where(condition)
            .order_by(api_clients.c.created_at, api_clients.c.client_id)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_client(row) for row in rows]


def _key_row(key: SigningKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "algorithm": key.algorithm,
        "public_key": key.public_key,
        "encrypted_private_key": key.encrypted_private_key,
        "created_at": key.created_at,
        "retired_at": key.retired_at,
    }


def _key(row: RowMapping) -> SigningKey:
    return SigningKey(
        kid=row["kid"],
        algorithm=row["algorithm"],
        public_key=bytes(row["public_key"]),
        encrypted_private_key=bytes(row["encrypted_private_key"]),
        created_at=row["created_at"],
        retired_at=row["retired_at"],
    )


class SqlSigningKeyRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, key: SigningKey) -> None:
        await insert_row(self._engine, signing_keys, _key_row(key))

    async def save(self, key: SigningKey) -> None:
        statement = update(signing_keys).where(signing_keys.c.kid == key.kid).values(_key_row(key))
        async with self._engine.begin() as connection:
            if (await connection.execute(statement)).rowcount != 1:
                raise NotFoundError("no such signing key")

    async def list(self) -> Sequence[SigningKey]:
        query = select(signing_keys).order_by(signing_keys.c.created_at, signing_keys.c.kid)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_key(row) for row in rows]
