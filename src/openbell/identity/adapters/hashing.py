"""Hashing secrets: argon2id for passwords (off the event loop, bounded), and a keyed fast
hash for client secrets, which are random enough that slowness buys nothing."""

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from openbell.shared.errors import OverloadedError

_T = TypeVar("_T")


class HashingOverloadedError(OverloadedError):
    """As many argon2 computations are running or waiting as the server allows."""


class Argon2SecretHasher:
    """argon2-cffi's PasswordHasher run in worker threads (it releases the GIL).

    Passwords, and client secrets stored before they were kept as keyed digests.
    One hash costs tens of milliseconds and `memory_cost_kib` of memory, so at most
    `concurrency` run at once, and at most `queue_limit` run or wait: beyond that a request
    is refused at once (HashingOverloadedError, answered 503 + Retry-After) rather than
    queued behind a flood where it would wait seconds and time out anyway.
    """

    def __init__(
        self,
        *,
        time_cost: int,
        memory_cost_kib: int,
        parallelism: int,
        concurrency: int,
        queue_limit: int,
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism
        )
        self._slots = asyncio.Semaphore(concurrency)
        self._queue_limit = max(queue_limit, concurrency)
        self._admitted = 0

    @property
    def admitted(self) -> int:
        """How many computations are running or waiting now."""
        return self._admitted

    async def hash(self, secret: str) -> str:
        return await self._run(self._hasher.hash, secret)

    async def verify(self, secret_hash: str, secret: str) -> bool:
        return await self._run(self._verify, secret_hash, secret)

    async def _run(self, work: Callable[..., _T], *arguments: str) -> _T:
        if self._admitted >= self._queue_limit:
            raise HashingOverloadedError("too many password hashes queued")
        self._admitted += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(work, *arguments)
        finally:
            self._admitted -= 1

    def _verify(self, secret_hash: str, secret: str) -> bool:
        try:
            return self._hasher.verify(secret_hash, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, secret_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(secret_hash)
        except InvalidHashError:
            return False


HMAC_PREFIX = "$hmac-sha256$"
"""Marks a keyed digest among stored hashes; the rest of the value is its base64url."""


class HmacSecretDigest:
    """HMAC-SHA-256 of client secrets under a server key derived from the key-encryption key.

    A client secret is 256 random bits: nobody can guess it, so a slow hash adds no
    protection, only a CPU cost any caller can trigger with a wrong secret. The key makes a
    stolen table useless without the server's key material; comparison is constant-time.
    """

    def __init__(self, key_encryption_key: bytes) -> None:
        self._key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"openbell client secrets"
        ).derive(key_encryption_key)

    def digest(self, secret: str) -> str:
        mac = hmac.new(self._key, secret.encode("utf-8", "replace"), hashlib.sha256).digest()
        return HMAC_PREFIX + base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def matches(self, stored: str, secret: str) -> bool:
        return hmac.compare_digest(self.digest(secret).encode(), stored.encode())

    def recognises(self, stored: str) -> bool:
        """Whether `stored` is in this form (else it is an argon2 hash from before)."""
        return stored.startswith(HMAC_PREFIX)
