"""What identity's use cases need from the outside world; adapters provide it."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from openbell.identity.domain.clients import ApiClient, ClientId
from openbell.identity.domain.keys import PrivateKey, PublicKey, SigningKey


class ClientRepository(Protocol):
    async def add(self, client: ApiClient) -> None: ...

    async def get(self, client_id: ClientId) -> ApiClient | None: ...

    async def save(self, client: ApiClient) -> None:
        """Store a changed client (revocation, a rehashed secret); it must exist."""

    async def list(self) -> Sequence[ApiClient]: ...


class SigningKeyRepository(Protocol):
    async def add(self, key: SigningKey) -> None: ...

    async def save(self, key: SigningKey) -> None:
        """Store a changed key (its retirement); it must exist."""

    async def list(self) -> Sequence[SigningKey]: ...


class SecretHasher(Protocol):
    """Slow, salted hashing of secrets (argon2id); safe to await on the event loop."""

    async def hash(self, secret: str) -> str: ...

    async def verify(self, secret_hash: str, secret: str) -> bool:
        """True when `secret` matches; False for a mismatch or a malformed hash."""

    def needs_rehash(self, secret_hash: str) -> bool: ...


class KeyCipher(Protocol):
    """Encrypts private keys at rest; `associated_data` binds a ciphertext to its key id."""

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> bytes: ...

    def decrypt(self, ciphertext: bytes, associated_data: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class KeyPair:
    kid: str
    algorithm: str
    public_key: bytes
    private_key: bytes = field(repr=False)


class KeyPairGenerator(Protocol):
    def generate(self) -> KeyPair: ...


class TokenSigner(Protocol):
    def sign(self, header: Mapping[str, Any], claims: Mapping[str, Any], key: PrivateKey) -> str:
        """A compact JWS of `claims` signed with `key`, with `header` merged into its header."""


class PublicKeySource(Protocol):
    """Where verifiers find the public keys they trust (in-process, or later over JWKS)."""

    async def public_keys(self) -> Sequence[PublicKey]: ...

    async def refresh(self) -> Sequence[PublicKey]:
        """Reload from the source of truth, to learn of a key another process created."""
