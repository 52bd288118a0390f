"""Private keys are encrypted at rest under a key-encryption key kept out of the database."""

import base64
import stat

import pytest
from cryptography.exceptions import InvalidTag
from pydantic import SecretStr, ValidationError

from openbell.identity.adapters.crypto import (
    AesGcmKeyCipher,
    Ed25519KeyPairGenerator,
    KeyEncryptionKeyError,
    decode_key_encryption_key,
    load_or_create_key_encryption_key,
)
from openbell.identity.bootstrap import key_encryption_key
from openbell.platform.settings import Settings

KEK = bytes(range(32))


def test_encryption_round_trips_with_a_fresh_nonce_each_time():
    cipher = AesGcmKeyCipher(KEK)
    first = cipher.encrypt(b"private key", b"kid-1")
    second = cipher.encrypt(b"private key", b"kid-1")
    assert first != second
    assert b"private key" not in first
    assert cipher.decrypt(first, b"kid-1") == b"private key"


def test_a_ciphertext_moved_to_another_kid_does_not_decrypt():
    cipher = AesGcmKeyCipher(KEK)
    with pytest.raises(InvalidTag):
        cipher.decrypt(cipher.encrypt(b"private key", b"kid-1"), b"kid-2")


def test_a_changed_ciphertext_does_not_decrypt():
    cipher = AesGcmKeyCipher(KEK)
    blob = bytearray(cipher.encrypt(b"private key", b"kid"))
    blob[-1] ^= 1
    with pytest.raises(InvalidTag):
        cipher.decrypt(bytes(blob), b"kid")


def test_another_key_encryption_key_does_not_decrypt():
    blob = AesGcmKeyCipher(KEK).encrypt(b"private key", b"kid")
    with pytest.raises(InvalidTag):
        AesGcmKeyCipher(bytes(32)).decrypt(blob, b"kid")


def test_the_key_encryption_key_must_be_32_bytes():
    with pytest.raises(KeyEncryptionKeyError):
        AesGcmKeyCipher(bytes(16))
    with pytest.raises(KeyEncryptionKeyError):
        decode_key_encryption_key(base64.b64encode(bytes(16)).decode())
    with pytest.raises(KeyEncryptionKeyError):
        decode_key_encryption_key("not base64 at all!")


def test_generated_key_pairs_are_ed25519_named_by_thumbprint():
    first, second = Ed25519KeyPairGenerator().generate(), Ed25519KeyPairGenerator().generate()
    assert first.algorithm == "EdDSA"
    assert len(first.public_key) == 32
    assert len(first.private_key) == 32
    assert first.kid != second.kid
    assert len(first.kid) == 43  # base64url SHA-256
    assert first.private_key.hex() not in repr(first)


def test_development_kek_file_is_created_private_and_reused(tmp_path):
    data_dir = tmp_path / "var"
    created = load_or_create_key_encryption_key(data_dir)
    path = data_dir / "key-encryption-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(created) == 32
    assert load_or_create_key_encryption_key(data_dir) == created
    assert sorted(child.name for child in data_dir.iterdir()) == ["key-encryption-key"]


def test_a_configured_kek_wins_over_the_file(tmp_path):
    encoded = base64.b64encode(KEK).decode()
    settings = Settings(data_dir=tmp_path, key_encryption_key=SecretStr(encoded))
    assert key_encryption_key(settings) == KEK
    assert not (tmp_path / "key-encryption-key").exists()


def test_development_without_a_kek_uses_the_file(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert key_encryption_key(settings) == key_encryption_key(settings)
    assert (tmp_path / "key-encryption-key").exists()


def test_production_refuses_to_start_without_a_kek(tmp_path):
    with pytest.raises(ValidationError, match="KEY_ENCRYPTION_KEY"):
        Settings(environment="production", data_dir=tmp_path, database_url="sqlite+aiosqlite:///x")


def test_production_refuses_weak_argon2_parameters(tmp_path):
    with pytest.raises(ValidationError, match="argon2"):
        Settings(
            environment="production",
            data_dir=tmp_path,
            database_url="postgresql+asyncpg://db/openbell",
            key_encryption_key=SecretStr(base64.b64encode(KEK).decode()),
            argon2_memory_cost_kib=1024,
        )
