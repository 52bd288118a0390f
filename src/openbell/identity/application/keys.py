"""Signing keys: make sure one is active, publish the public halves, rotate."""

from collections.abc import Sequence

from openbell.identity.application.ports import KeyCipher, KeyPairGenerator, SigningKeyRepository
from openbell.identity.domain.errors import SigningKeyUnavailableError
from openbell.identity.domain.keys import (
    PrivateKey,
    PublicKey,
    SigningKey,
    active_key,
    published_keys,
)
from openbell.shared.time import Clock


class KeyDecryptionError(Exception):
    """A stored private key does not decrypt: the key-encryption key is not the one used."""


class KeyService:
    """Owns the signing keys: the active private key lives decrypted in this process only.

    Keeps the stored keys in memory; `refresh` reloads them, so a key another process
    made becomes known.
    """

    def __init__(
        self,
        repository: SigningKeyRepository,
        generator: KeyPairGenerator,
        cipher: KeyCipher,
        clock: Clock,
        *,
        overlap_seconds: int,
    ) -> None:
        self._repository = repository
        self._generator = generator
        self._cipher = cipher
        self._clock = clock
        self._overlap_ns = overlap_seconds * 1_000_000_000
        self._keys: Sequence[SigningKey] = ()
        self._signing: PrivateKey | None = None

    async def ensure_active_key(self) -> PrivateKey:
        """Load the keys, creating the first one if there is none; return the signing key."""
        await self._load()
        current = active_key(self._keys)
        if current is None:
            return await self.rotate()
        self._signing = self._decrypt(current)
        return self._signing

    async def rotate(self) -> PrivateKey:
        """Make a new active key and retire the others; retired keys stay published a while."""
        now = self._clock.now_ns()
        pair = self._generator.generate()
        encrypted = self._cipher.encrypt(pair.private_key, pair.kid.encode())
        for key in self._keys:
            if key.retired_at is None:
                await self._repository.save(key.retire(now))
        await self._repository.add(
            SigningKey(pair.kid, pair.algorithm, pair.public_key, encrypted, created_at=now)
        )
        await self._load()
        self._signing = PrivateKey(pair.kid, pair.algorithm, pair.private_key)
        return self._signing

    @property
    def has_signing_key(self) -> bool:
        return self._signing is not None

    def signing_key(self) -> PrivateKey:
        if self._signing is None:
            raise SigningKeyUnavailableError("no active signing key; start the identity service")
        return self._signing

    async def public_keys(self) -> Sequence[PublicKey]:
        return published_keys(self._keys, now=self._clock.now_ns(), overlap=self._overlap_ns)

    async def refresh(self) -> Sequence[PublicKey]:
        await self._load()
        return await self.public_keys()

    async def sync(self) -> None:
        """Reload the keys and sign with the newest active one (rotated by another process).

        The key it replaces stays published for the overlap, so tokens it signed verify.
        """
        await self._load()
        current = active_key(self._keys)
        if current is not None and (self._signing is None or self._signing.kid != current.kid):
            self._signing = self._decrypt(current)

    async def rotate_stored(self) -> str:
        """Rotate from a process that has not loaded the keys (the CLI); the new key's kid.

        Loading first proves the key-encryption key opens the stored keys, so a wrong one
        fails before anything is written.
        """
        await self.ensure_active_key()
        return (await self.rotate()).kid

    async def stored_keys(self) -> Sequence[SigningKey]:
        """Every stored key, newest first (public halves and dates; never decrypted)."""
        await self._load()
        return sorted(self._keys, key=lambda key: (key.created_at, key.kid), reverse=True)

    async def _load(self) -> None:
        self._keys = tuple(await self._repository.list())

    def _decrypt(self, key: SigningKey) -> PrivateKey:
        try:
            private = self._cipher.decrypt(key.encrypted_private_key, key.kid.encode())
        except Exception as error:
            raise KeyDecryptionError(
                f"signing key {key.kid} does not decrypt with the configured key-encryption key"
            ) from error
        return PrivateKey(key.kid, key.algorithm, private)
