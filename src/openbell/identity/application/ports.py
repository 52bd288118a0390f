"""What identity's use cases need from the outside world; adapters provide it."""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from openbell.identity.domain.clients import ApiClient, ClientId
from openbell.identity.domain.grants import AuthorizationCode, Grant, GrantId, RefreshToken
from openbell.identity.domain.keys import PrivateKey, PublicKey, SigningKey
from openbell.identity.domain.mfa import TotpEnrolment
from openbell.identity.domain.revocation import Revocation
from openbell.identity.domain.throttle import ThrottleState
from openbell.identity.domain.users import User, UserId


class ClientRepository(Protocol):
    async def add(self, client: ApiClient) -> None: ...

    async def get(self, client_id: ClientId) -> ApiClient | None: ...

    async def save(self, client: ApiClient) -> None:
        """Store a changed client (revocation, a rehashed secret); it must exist."""

    async def list(self) -> Sequence[ApiClient]: ...

    async def owned_by(self, user_id: str) -> Sequence[ApiClient]: ...

    async def acting_for_account(self, account_id: int) -> Sequence[ApiClient]:
        """Every client that acts for the trading account, whoever made it."""


class SigningKeyRepository(Protocol):
    async def add(self, key: SigningKey) -> None: ...

    async def save(self, key: SigningKey) -> None:
        """Store a changed key (its retirement); it must exist."""

    async def list(self) -> Sequence[SigningKey]: ...


class SecretHasher(Protocol):
    """Slow, salted hashing of passwords (argon2id); safe to await on the event loop.

    Raises OverloadedError, at once, when too many hashes are running or waiting.
    """

    async def hash(self, secret: str) -> str: ...

    async def verify(self, secret_hash: str, secret: str) -> bool:
        """True when `secret` matches; False for a mismatch or a malformed hash."""

    def needs_rehash(self, secret_hash: str) -> bool: ...


class SecretDigest(Protocol):
    """A keyed fast hash (HMAC) for high-entropy secrets, compared in constant time."""

    def digest(self, secret: str) -> str: ...

    def matches(self, stored: str, secret: str) -> bool: ...

    def recognises(self, stored: str) -> bool:
        """Whether `stored` was made by `digest` (and not by an older, slow hash)."""


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


class UserRepository(Protocol):
    """The one place that stores users' PII (email, name): encrypting it later changes only this."""

    async def add(self, user: User) -> None:
        """Raise ConflictError when the email (or the account) already belongs to a user."""

    async def get(self, user_id: UserId) -> User | None: ...

    async def by_email(self, email: str) -> User | None: ...

    async def save(self, user: User) -> None:
        """Store a changed user; it must exist. ConflictError if its account is taken."""

    async def list(self) -> Sequence[User]: ...

    async def delete_pending(self, user_id: UserId) -> None:
        """Delete the user if it is still pending (never verified); else do nothing."""

    async def delete_pending_before(self, created_before: int) -> None:
        """Delete every pending user registered before `created_before`."""


class OneTimeTokenRepository(Protocol):
    """Single-use tokens sent by email (verification, recovery), stored as digests."""

    async def add(
        self, token_hash: str, user_id: UserId, purpose: str, expires_at: int
    ) -> None: ...

    async def consume(self, token_hash: str, purpose: str, now: int) -> UserId | None:
        """Mark the token used and return its user; None if unknown, used, expired or other."""

    async def owner(self, token_hash: str, purpose: str, now: int) -> UserId | None:
        """The user of a usable token, without using it; None as `consume` would."""

    async def void(self, user_id: UserId, purpose: str, now: int) -> None:
        """Mark every unused token of the user for `purpose` used."""

    async def delete_expired(self, now: int) -> None: ...


class MailThrottle(Protocol):
    """When each recipient was last mailed, shared by every process (mail bombing's brake)."""

    async def claim(self, recipient_hash: str, now: int, interval: int) -> bool:
        """Record a mail to the recipient at `now` unless one was recorded within `interval`;
        True if this call recorded it (and may send)."""


class MfaRepository(Protocol):
    async def totp(self, user_id: UserId) -> TotpEnrolment | None: ...

    async def put_totp(self, enrolment: TotpEnrolment) -> None:
        """Create or replace the user's enrolment."""

    async def delete_totp(self, user_id: UserId) -> None: ...

    async def use_totp_step(self, user_id: UserId, step: int) -> bool:
        """Record `step` as used if it is newer than the last used one; False if it is not."""

    async def replace_recovery_codes(self, user_id: UserId, digests: Sequence[str]) -> None: ...

    async def use_recovery_code(self, user_id: UserId, digest: str, now: int) -> bool:
        """Mark an unused code of this user used; False if there is none."""

    async def remaining_recovery_codes(self, user_id: UserId) -> int: ...


class GrantRepository(Protocol):
    """Authorization codes, grants and refresh tokens. Consumption is atomic across processes."""

    async def add_code(self, code: AuthorizationCode) -> None: ...

    async def consume_code(self, code_hash: str, now: int) -> tuple[AuthorizationCode, bool] | None:
        """The code and whether this call used it first (False: a replay); None if unknown."""

    async def add_grant(self, grant: Grant) -> None: ...

    async def get_grant(self, grant_id: GrantId) -> Grant | None: ...

    async def revoke_grant(self, grant_id: GrantId, now: int) -> None: ...

    async def active_grants_of_user(self, user_id: UserId, now: int) -> Sequence[Grant]: ...

    async def add_refresh_token(self, token: RefreshToken) -> None: ...

    async def find_refresh_token(self, token_hash: str) -> RefreshToken | None: ...

    async def consume_refresh_token(
        self, token_hash: str, now: int
    ) -> tuple[RefreshToken, bool] | None:
        """The token and whether this call used it first (False: a reuse); None if unknown."""

    async def retire_successors(self, token: RefreshToken, now: int) -> bool:
        """Mark the refresh tokens of `token`'s grant issued since it was used (its
        successors) used too, so a replacement can take their place; False, changing
        nothing, if there is none yet or one of them was used already."""


class RevocationStore(Protocol):
    """Where revocations are shared between processes; each keeps a local copy to check."""

    async def add(self, revocation: Revocation) -> None: ...

    async def changes(self, cursor: int, now: int) -> tuple[Sequence[Revocation], int]:
        """Revocations added after `cursor` and still in force, and the cursor to pass next."""


class ThrottleStore(Protocol):
    """Failure counters for brute-force protection, shared when Redis is configured."""

    async def get(self, key: str) -> ThrottleState: ...

    async def update(
        self, key: str, change: Callable[[ThrottleState], ThrottleState], ttl_seconds: int
    ) -> ThrottleState:
        """Apply `change` atomically to the stored state and return the result."""

    async def reset(self, key: str) -> None: ...


class Mailer(Protocol):
    async def send(self, to: str, subject: str, body: str) -> None: ...


class TotpAlgorithm(Protocol):
    def new_secret(self) -> str:
        """A fresh base32 secret of 160 bits (RFC 4226 §4)."""

    def matching_step(self, secret: str, code: str, now_seconds: int) -> int | None:
        """The time step `code` is valid for (one step of drift either way), else None."""

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str: ...


class AuthEventSink(Protocol):
    """Counts sign-in outcomes for the gateway's anomaly detector (never credentials)."""

    def record(self, event: str, outcome: str, *, address: str | None) -> None: ...


class AccountOpener(Protocol):
    """Opens a trading account in the core and returns its id; the composition root provides it."""

    async def __call__(self) -> int: ...


class AccessTokenInspector(Protocol):
    """Reads our own signed access tokens for revocation and introspection."""

    async def signed_claims(self, token: str) -> Mapping[str, Any] | None:
        """The claims of a token of ours whose signature verifies, even if expired."""

    def active(self, claims: Mapping[str, Any]) -> bool:
        """Whether signed claims are within their lifetime and not revoked."""


class IdTokenReader(Protocol):
    """Reads our own signed ID tokens (RP-initiated logout's `id_token_hint`)."""

    async def id_token_claims(self, token: str) -> Mapping[str, Any] | None:
        """The claims of an ID token of ours whose signature verifies, even if expired."""
