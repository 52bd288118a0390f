"""API clients: programs that call openbell with a client id and secret."""

from dataclasses import dataclass, field, replace
from typing import NewType

from openbell.identity.domain.errors import InvalidClientDefinitionError
from openbell.identity.domain.scopes import ACCOUNT_SCOPES, format_scopes, validate_client_scopes

ClientId = NewType("ClientId", str)

CLIENT_ID_PREFIX = "obc_"
CLIENT_SECRET_PREFIX = "obs_"  # a public prefix, not a secret  # noqa: S105  # nosec B105
"""Prefixes let secret scanners recognise a leaked credential for what it is."""
MAX_CLIENT_ID_LENGTH = 64
MAX_NAME_LENGTH = 200


@dataclass(frozen=True, slots=True)
class ApiClient:
    client_id: ClientId
    name: str
    secret_hash: str = field(repr=False)
    scopes: frozenset[str]
    account_id: int | None
    created_at: int
    """Nanoseconds since the Unix epoch, like every openbell timestamp."""
    revoked_at: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def revoke(self, at: int) -> "ApiClient":
        return self if self.revoked_at is not None else replace(self, revoked_at=at)

    def with_secret_hash(self, secret_hash: str) -> "ApiClient":
        return replace(self, secret_hash=secret_hash)


def register_client(
    *,
    client_id: ClientId,
    name: str,
    secret_hash: str,
    scopes: frozenset[str],
    account_id: int | None,
    created_at: int,
) -> ApiClient:
    """A new client, checked: a printable name, known scopes, an account for trading scopes."""
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH or not cleaned.isprintable():
        raise InvalidClientDefinitionError(
            f"a client name is 1 to {MAX_NAME_LENGTH} printable characters"
        )
    chosen = validate_client_scopes(scopes)
    needs_account = chosen & ACCOUNT_SCOPES
    if needs_account and account_id is None:
        raise InvalidClientDefinitionError(
            f"scopes {format_scopes(needs_account)} need the account the client acts for"
        )
    if account_id is not None and account_id < 0:
        raise InvalidClientDefinitionError("an account id is a non-negative integer")
    return ApiClient(client_id, cleaned, secret_hash, chosen, account_id, created_at)


def plausible_client_id(value: str) -> bool:
    """Cheap shape check; callers still look the id up so timing does not tell the two apart."""
    return value.startswith(CLIENT_ID_PREFIX) and len(value) <= MAX_CLIENT_ID_LENGTH
