"""Registering and authenticating API clients: secrets shown once, failures indistinguishable."""

import pytest

from openbell.identity.adapters.hashing import Argon2SecretHasher, HmacSecretDigest
from openbell.identity.adapters.memory import InMemoryClientRepository, InMemoryRevocationStore
from openbell.identity.application.clients import ClientService
from openbell.identity.application.revocation import RevocationService
from openbell.identity.domain.clients import ClientId, register_client
from openbell.identity.domain.errors import InvalidClientDefinitionError, InvalidClientError
from openbell.shared.errors import NotFoundError
from openbell.shared.time import FixedClock


def fast_hasher(**changes) -> Argon2SecretHasher:
    parameters = {
        "time_cost": 1,
        "memory_cost_kib": 64,
        "parallelism": 1,
        "concurrency": 2,
        "queue_limit": 8,
    }
    return Argon2SecretHasher(**(parameters | changes))


class CountingHasher:
    """Wraps the real hasher and records which hashes were verified."""

    def __init__(self, inner: Argon2SecretHasher) -> None:
        self.inner = inner
        self.verified: list[str] = []

    async def hash(self, secret):
        return await self.inner.hash(secret)

    async def verify(self, secret_hash, secret):
        self.verified.append(secret_hash)
        return await self.inner.verify(secret_hash, secret)

    def needs_rehash(self, secret_hash):
        return self.inner.needs_rehash(secret_hash)


@pytest.fixture
def repository():
    return InMemoryClientRepository()


@pytest.fixture
def hasher():
    return CountingHasher(fast_hasher())


DIGEST = HmacSecretDigest(bytes(32))


@pytest.fixture
def service(repository, hasher):
    revocations = RevocationService(
        InMemoryRevocationStore(),
        FixedClock(),
        retention_seconds=600,
        leeway_seconds=10,
        poll_interval_seconds=1,
    )
    return ClientService(repository, hasher, FixedClock(), digest=DIGEST, revocations=revocations)


async def test_a_new_client_gets_a_random_id_and_a_256_bit_secret(service):
    first = await service.create_client(name="desk", scopes=["read"])
    second = await service.create_client(name="desk", scopes=["read"])
    assert first.client_id != second.client_id
    assert first.client_secret != second.client_secret
    assert first.client_id.startswith("obc_")
    assert len(first.client_id) - len("obc_") >= 22  # 128 bits in base64url
    assert first.client_secret.startswith("obs_")
    assert len(first.client_secret) - len("obs_") >= 43  # 256 bits in base64url


async def test_only_a_keyed_digest_of_the_secret_is_stored(service, repository, hasher):
    issued = await service.create_client(name="desk", scopes=["read", "trade"], account_id=5)
    stored = await repository.get(issued.client_id)
    assert stored.secret_hash.startswith("$hmac-sha256$")
    assert stored.secret_hash != HmacSecretDigest(bytes([1]) * 32).digest(issued.client_secret)
    assert issued.client_secret not in stored.secret_hash
    assert stored.scopes == {"read", "trade"}
    assert stored.account_id == 5
    assert stored.created_at == FixedClock().now_ns()
    assert stored.revoked_at is None
    rotated = await service.rotate_secret(issued.client_id)
    assert (await repository.get(issued.client_id)).secret_hash.startswith("$hmac-sha256$")
    assert (await service.authenticate(issued.client_id, rotated.client_secret)).active
    assert (await service.authenticate(issued.client_id, issued.client_secret)).active
    assert hasher.verified == []


async def test_the_secret_is_not_in_the_repr_of_the_issued_client(service):
    issued = await service.create_client(name="desk", scopes=["read"])
    assert issued.client_secret not in repr(issued)


async def test_an_invalid_definition_stores_nothing(service, repository):
    with pytest.raises(InvalidClientDefinitionError):
        await service.create_client(name="desk", scopes=["trade"])
    assert await repository.list() == []


async def test_the_right_secret_authenticates(service):
    issued = await service.create_client(name="desk", scopes=["read"])
    client = await service.authenticate(issued.client_id, issued.client_secret)
    assert client.client_id == issued.client_id


async def test_no_failure_costs_an_argon2_verification_and_all_say_the_same(service, hasher):
    good = await service.create_client(name="good", scopes=["read"])
    gone = await service.create_client(name="gone", scopes=["read"])
    await service.revoke_client(gone.client_id)
    attempts = [
        (good.client_id, "wrong"),
        ("obc_" + "Z" * 22, good.client_secret),
        ("not-even-an-id", good.client_secret),
        (gone.client_id, gone.client_secret),
    ]
    messages = set()
    for client_id, secret in attempts:
        with pytest.raises(InvalidClientError) as raised:
            await service.authenticate(client_id, secret)
        messages.add(str(raised.value))
    assert hasher.verified == []
    assert len(messages) == 1


async def legacy_client(repository, secret):
    """A client whose secret was stored as argon2id, as every secret was before."""
    client = register_client(
        client_id=ClientId("obc_legacylegacylegacy00"),
        name="old desk",
        secret_hash=await fast_hasher().hash(secret),
        scopes=frozenset({"read"}),
        account_id=None,
        created_at=0,
    )
    await repository.add(client)
    return client


async def test_an_argon2_secret_becomes_a_keyed_digest_on_its_next_successful_use(
    service, repository, hasher
):
    client = await legacy_client(repository, "obs_old-secret")
    with pytest.raises(InvalidClientError):
        await service.authenticate(client.client_id, "obs_wrong")
    assert (await repository.get(client.client_id)).secret_hash.startswith("$argon2id$")
    await service.authenticate(client.client_id, "obs_old-secret")
    assert (await repository.get(client.client_id)).secret_hash == DIGEST.digest("obs_old-secret")
    hasher.verified.clear()
    await service.authenticate(client.client_id, "obs_old-secret")
    with pytest.raises(InvalidClientError):
        await service.authenticate(client.client_id, "obs_wrong")
    assert hasher.verified == []


async def test_revoking_is_idempotent_and_unknown_clients_are_not_found(service):
    issued = await service.create_client(name="desk", scopes=["read"])
    first = await service.revoke_client(issued.client_id)
    again = await service.revoke_client(issued.client_id)
    assert first.revoked_at == again.revoked_at
    with pytest.raises(NotFoundError):
        await service.revoke_client("obc_missing")


async def test_a_malformed_hash_fails_verification_quietly():
    assert not await fast_hasher().verify("not-a-hash", "secret")
    assert not fast_hasher().needs_rehash("not-a-hash")
