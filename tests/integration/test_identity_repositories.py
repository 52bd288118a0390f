"""One contract for client and signing-key storage: in memory, SQLite and PostgreSQL alike."""

from typing import Any

import pytest

import openbell.identity.adapters.tables  # noqa: F401 - registers identity's tables
from openbell.identity.adapters.memory import (
    InMemoryClientRepository,
    InMemorySigningKeyRepository,
)
from openbell.identity.adapters.sql import SqlClientRepository, SqlSigningKeyRepository
from openbell.identity.domain.clients import ApiClient, ClientId
from openbell.identity.domain.keys import SigningKey
from openbell.platform.db import create_engine, prepare_database
from openbell.shared.errors import ConflictError, NotFoundError


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def storage_url(request) -> str | None:
    """None for in-memory storage, else a fresh database of each backend."""
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
async def repositories(storage_url):
    if storage_url is None:
        yield InMemoryClientRepository(), InMemorySigningKeyRepository()
        return
    url = storage_url
    await prepare_database(url)
    engine = create_engine(url)
    try:
        yield SqlClientRepository(engine), SqlSigningKeyRepository(engine)
    finally:
        await engine.dispose()


def client(client_id: str = "obc_1", created_at: int = 10, **changes) -> ApiClient:
    fields: dict[str, Any] = {
        "client_id": ClientId(client_id),
        "name": "desk",
        "secret_hash": "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA",
        "scopes": frozenset({"read", "trade"}),
        "account_id": 2**40,
        "created_at": created_at,
        "revoked_at": None,
    }
    return ApiClient(**(fields | changes))


def key(kid: str = "kid-1", created_at: int = 10, **changes) -> SigningKey:
    fields: dict[str, Any] = {
        "kid": kid,
        "algorithm": "EdDSA",
        "public_key": bytes(range(32)),
        "encrypted_private_key": b"\x01" + bytes(range(60)),
        "created_at": created_at,
        "retired_at": None,
    }
    return SigningKey(**(fields | changes))


async def test_a_stored_client_reads_back_equal(repositories):
    clients, _ = repositories
    stored = client(account_id=None, scopes=frozenset({"read", "ops", "audit"}))
    await clients.add(stored)
    assert await clients.get(stored.client_id) == stored
    assert await clients.get(ClientId("obc_unknown")) is None


async def test_a_client_id_is_stored_once(repositories):
    clients, _ = repositories
    await clients.add(client())
    with pytest.raises(ConflictError):
        await clients.add(client(name="impostor"))
    assert (await clients.get(ClientId("obc_1"))).name == "desk"


async def test_a_saved_client_keeps_its_changes(repositories):
    clients, _ = repositories
    await clients.add(client())
    changed = client().revoke(99).with_secret_hash("$argon2id$new")
    await clients.save(changed)
    assert await clients.get(changed.client_id) == changed


async def test_saving_an_unknown_client_fails(repositories):
    clients, _ = repositories
    with pytest.raises(NotFoundError):
        await clients.save(client())


async def test_clients_list_in_creation_order(repositories):
    clients, _ = repositories
    for client_id, created in (("obc_b", 30), ("obc_a", 20), ("obc_c", 40)):
        await clients.add(client(client_id, created_at=created))
    assert [c.client_id for c in await clients.list()] == ["obc_a", "obc_b", "obc_c"]


async def test_a_stored_key_reads_back_equal_and_retires(repositories):
    _, keys = repositories
    await keys.add(key("kid-2", created_at=20))
    await keys.add(key("kid-1", created_at=10))
    assert [k.kid for k in await keys.list()] == ["kid-1", "kid-2"]
    assert (await keys.list())[0] == key("kid-1", created_at=10)
    await keys.save(key("kid-1", created_at=10).retire(15))
    assert (await keys.list())[0].retired_at == 15


async def test_a_key_id_is_stored_once_and_unknown_keys_do_not_save(repositories):
    _, keys = repositories
    await keys.add(key())
    with pytest.raises(ConflictError):
        await keys.add(key())
    with pytest.raises(NotFoundError):
        await keys.save(key("kid-missing"))
