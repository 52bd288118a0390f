"""Signing keys in SQL: encrypted at rest, reused after a restart, rotated with overlap."""

from collections.abc import Sequence

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import RowMapping, func, select

from openbell.identity.adapters.crypto import AesGcmKeyCipher, load_or_create_key_encryption_key
from openbell.identity.adapters.tables import signing_keys
from openbell.identity.application.keys import KeyDecryptionError
from openbell.identity.application.tokens import TokenRequest
from openbell.identity.bootstrap import build_identity
from openbell.platform.db import create_engine, prepare_database
from openbell.platform.settings import Settings
from openbell.shared.time import FixedClock

SECOND = 1_000_000_000


@pytest.fixture
def settings(tmp_path):
    return Settings(
        data_dir=tmp_path / "var",
        argon2_time_cost=1,
        argon2_memory_cost_kib=64,
        argon2_parallelism=1,
        signing_key_overlap_seconds=3600,
    )


@pytest.fixture
async def url(database_url):
    await prepare_database(database_url)
    return database_url


async def stored_keys(url: str) -> Sequence[RowMapping]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(select(signing_keys))).mappings().all()
    finally:
        await engine.dispose()


async def started(settings, url, clock=None):
    identity = build_identity(settings, url, clock=clock)
    await identity.start()
    return identity


async def test_the_private_key_is_stored_encrypted(settings, url):
    identity = await started(settings, url)
    private = identity.keys.signing_key().private_key
    await identity.close()
    (row,) = await stored_keys(url)
    blob = bytes(row["encrypted_private_key"])
    assert private not in blob
    assert b"PRIVATE KEY" not in blob
    assert blob != private
    assert len(blob) == 1 + 12 + 32 + 16  # version, nonce, key, tag
    kek = load_or_create_key_encryption_key(settings.data_dir)
    decrypted = AesGcmKeyCipher(kek).decrypt(blob, row["kid"].encode())
    public = Ed25519PrivateKey.from_private_bytes(decrypted).public_key()
    assert public.public_bytes(Encoding.Raw, PublicFormat.Raw) == bytes(row["public_key"])


async def test_the_signing_key_survives_a_restart(settings, url):
    first = await started(settings, url)
    issued = await first.clients.create_client(name="bot", scopes=["read"])
    token = await first.tokens.grant(
        TokenRequest("client_credentials", issued.client_id, issued.client_secret)
    )
    kid = first.keys.signing_key().kid
    await first.close()

    second = await started(settings, url)
    try:
        assert second.keys.signing_key().kid == kid
        assert (await second.verifier.verify(token.token)).client_id == issued.client_id
        assert [key.kid for key in await second.keys.public_keys()] == [kid]
    finally:
        await second.close()
    assert len(await stored_keys(url)) == 1


async def test_a_different_key_encryption_key_fails_loudly(settings, url, tmp_path):
    await (await started(settings, url)).close()
    elsewhere = settings.model_copy(update={"data_dir": tmp_path / "other"})
    identity = build_identity(elsewhere, url)
    try:
        with pytest.raises(KeyDecryptionError):
            await identity.start()
    finally:
        await identity.close()
    # No silent rotation to a key nobody else can verify.
    assert len(await stored_keys(url)) == 1


async def test_rotation_keeps_the_retired_key_published_for_the_overlap(settings, url):
    clock = FixedClock()
    identity = await started(settings, url, clock)
    try:
        old = identity.keys.signing_key().kid
        clock.advance(SECOND)
        new = (await identity.keys.rotate()).kid
        assert [key.kid for key in await identity.keys.public_keys()] == [new, old]
        clock.advance(3600 * SECOND)
        assert [key.kid for key in await identity.keys.public_keys()] == [new]
    finally:
        await identity.close()
    rows = {row["kid"]: row for row in await stored_keys(url)}
    assert rows[old]["retired_at"] is not None
    assert rows[new]["retired_at"] is None


async def test_a_shared_engine_is_left_open(settings, url):
    engine = create_engine(url)
    try:
        identity = build_identity(settings, engine)
        await identity.start()
        await identity.close()
        async with engine.connect() as connection:
            count = await connection.scalar(select(func.count()).select_from(signing_keys))
        assert count == 1
    finally:
        await engine.dispose()
