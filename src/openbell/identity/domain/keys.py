"""Signing keys: which key signs new tokens and which public keys verifiers may trust."""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

SIGNING_ALGORITHM = "EdDSA"
"""JWS algorithm of every token; verifiers accept nothing else."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A key pair as stored: the private half only ever encrypted."""

    kid: str
    algorithm: str
    public_key: bytes
    """Raw Ed25519 public key (32 bytes)."""
    encrypted_private_key: bytes = field(repr=False)
    created_at: int
    retired_at: int | None = None

    def retire(self, at: int) -> "SigningKey":
        return self if self.retired_at is not None else replace(self, retired_at=at)


@dataclass(frozen=True, slots=True)
class PublicKey:
    kid: str
    algorithm: str
    public_key: bytes


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """A decrypted private key, held in memory by the process that signs."""

    kid: str
    algorithm: str
    private_key: bytes = field(repr=False)


def active_key(keys: Iterable[SigningKey]) -> SigningKey | None:
    """The newest key not retired: the one that signs new tokens."""
    candidates = [key for key in keys if key.retired_at is None]
    return max(candidates, key=lambda key: (key.created_at, key.kid), default=None)


def published_keys(keys: Iterable[SigningKey], *, now: int, overlap: int) -> list[PublicKey]:
    """Keys verifiers should trust: every active key and those retired less than `overlap` ago.

    A retired key stays published while tokens it signed can still be valid.
    """
    return [
        PublicKey(key.kid, key.algorithm, key.public_key)
        for key in sorted(keys, key=lambda key: (key.created_at, key.kid), reverse=True)
        if key.retired_at is None or now - key.retired_at < overlap
    ]
