"""Key material: Ed25519 key pairs, and AES-GCM encryption of private keys at rest."""

import base64
import binascii
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc.jwk import OKPKey, thumbprint

from openbell.identity.application.ports import KeyPair
from openbell.identity.domain.keys import SIGNING_ALGORITHM

logger = logging.getLogger("openbell.identity")

KEY_ENCRYPTION_KEY_FILE = "key-encryption-key"
_KEK_BYTES = 32
_NONCE_BYTES = 12
_FORMAT_VERSION = b"\x01"


class KeyEncryptionKeyError(Exception):
    """The key-encryption key is missing or malformed."""


class Ed25519KeyPairGenerator:
    """New Ed25519 key pairs; the kid is the RFC 7638 thumbprint of the public key."""

    def generate(self) -> KeyPair:
        private = Ed25519PrivateKey.generate()
        public_raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        kid = thumbprint(OKPKey.import_key(private.public_key()).as_dict(private=False))
        return KeyPair(kid, SIGNING_ALGORITHM, public_raw, private.private_bytes_raw())


class AesGcmKeyCipher:
    """AES-256-GCM: version byte, 96-bit random nonce, ciphertext with its tag."""

    def __init__(self, key_encryption_key: bytes) -> None:
        if len(key_encryption_key) != _KEK_BYTES:
            raise KeyEncryptionKeyError("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(key_encryption_key)

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _FORMAT_VERSION + nonce + self._aead.encrypt(nonce, plaintext, associated_data)

    def decrypt(self, ciphertext: bytes, associated_data: bytes) -> bytes:
        if not ciphertext.startswith(_FORMAT_VERSION):
            raise ValueError("unknown encrypted key format")
        nonce = ciphertext[1 : 1 + _NONCE_BYTES]
        return self._aead.decrypt(nonce, ciphertext[1 + _NONCE_BYTES :], associated_data)


def decode_key_encryption_key(encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyEncryptionKeyError("the key-encryption key is not base64") from None
    if len(key) != _KEK_BYTES:
        raise KeyEncryptionKeyError("the key-encryption key must decode to 32 bytes")
    return key


def load_or_create_key_encryption_key(data_dir: Path) -> bytes:
    """Development only: the KEK in `<data_dir>/key-encryption-key`, made (mode 0600) if absent."""
    path = data_dir / KEY_ENCRYPTION_KEY_FILE
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    encoded = base64.b64encode(os.urandom(_KEK_BYTES))
    temporary = data_dir / f".{KEY_ENCRYPTION_KEY_FILE}.{os.getpid()}.{os.urandom(4).hex()}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(encoded + b"\n")
    try:
        # A hard link appears whole or not at all: a process starting beside this one
        # either reads the complete file or loses the race and reads the winner's key.
        os.link(temporary, path)
    except FileExistsError:
        return _read_key_file(path)
    finally:
        temporary.unlink()
    logger.info("created a development key-encryption key in %s", path)
    return decode_key_encryption_key(encoded.decode())


def _read_key_file(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("%s is readable by other users; restrict it to mode 0600", path)
    return decode_key_encryption_key(path.read_text(encoding="ascii"))


class Sealer:
    """Tamper-proof, confidential, expiring blobs (AES-256-GCM under a key derived from the KEK).

    The login page carries its state in them (the authorization request, then who passed
    the password step), so any process can continue a sign-in another process began.
    """

    def __init__(self, key_encryption_key: bytes, purpose: bytes) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"openbell seal " + purpose
        ).derive(key_encryption_key)
        self._aead = AESGCM(derived)

    def seal(self, payload: dict[str, Any], *, expires_at: int, binding: str) -> str:
        body = json.dumps({"p": payload, "e": expires_at}, separators=(",", ":")).encode()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, body, binding.encode())
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def open(self, token: str, *, now: int, binding: str) -> dict[str, Any] | None:
        """The payload, or None if the blob was altered, bound elsewhere, or expired."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            body = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], binding.encode())
            document = json.loads(body)
        except (ValueError, InvalidTag, binascii.Error):
            return None
        if not isinstance(document, dict) or not isinstance(document.get("e"), int):
            return None
        if now >= document["e"] or not isinstance(document.get("p"), dict):
            return None
        payload: dict[str, Any] = document["p"]
        return payload
