"""API clients: programs that call openbell with a client id and secret."""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import NewType

from openbell.identity.domain.errors import (
    InvalidClientDefinitionError,
    InvalidRequestError,
    NoTradingAccountError,
    UnownedScopeError,
)
from openbell.identity.domain.grants import check_redirect_uri
from openbell.identity.domain.scopes import (
    ACCOUNT_SCOPES,
    OIDC_SCOPES,
    OPS,
    PEOPLE_ONLY_SCOPES,
    TRADE,
    WITHDRAW,
    format_scopes,
    validate_client_scopes,
)

ClientId = NewType("ClientId", str)

CLIENT_ID_PREFIX = "obc_"
CLIENT_SECRET_PREFIX = "obs_"  # a public prefix, not a secret  # noqa: S105  # nosec B105
"""Prefixes let secret scanners recognise a leaked credential for what it is."""
MAX_CLIENT_ID_LENGTH = 64
MAX_NAME_LENGTH = 200
MAX_REDIRECT_URIS = 10

CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"  # a grant type name, not a secret  # noqa: S105  # nosec B105
GRANT_TYPES = frozenset({CLIENT_CREDENTIALS, AUTHORIZATION_CODE, REFRESH_TOKEN})


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
    grant_types: frozenset[str] = frozenset({CLIENT_CREDENTIALS})
    redirect_uris: tuple[str, ...] = ()
    owner_user_id: str | None = None
    """The user who created it through self-service; None for clients an operator made."""
    previous_secret_hash: str | None = field(default=None, repr=False)
    previous_secret_expires_at: int | None = None
    """After a rotation the old secret keeps working until then, so deployments can roll."""

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def public(self) -> bool:
        """A public client (the browser console) has no secret; PKCE is its only proof."""
        return not self.secret_hash

    def rotate_secret(self, secret_hash: str, *, now: int, overlap_ns: int) -> "ApiClient":
        return replace(
            self,
            secret_hash=secret_hash,
            previous_secret_hash=self.secret_hash,
            previous_secret_expires_at=now + overlap_ns,
        )

    def previous_secret_valid(self, now: int) -> bool:
        expires = self.previous_secret_expires_at
        return bool(self.previous_secret_hash) and expires is not None and now < expires

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
    grant_types: frozenset[str] = frozenset({CLIENT_CREDENTIALS}),
    redirect_uris: tuple[str, ...] = (),
    owner_user_id: str | None = None,
) -> ApiClient:
    """A new client, checked: a printable name, known scopes, an account for trading scopes.

    A client credentials client acts for itself: see `machine_client_scopes`. An
    authorization code client acts for the user who signs in; its scopes bound what it
    may ask for, and it needs redirect URIs.
    """
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH or not cleaned.isprintable():
        raise InvalidClientDefinitionError(
            f"a client name is 1 to {MAX_NAME_LENGTH} printable characters"
        )
    if not grant_types or not grant_types <= GRANT_TYPES:
        raise InvalidClientDefinitionError(
            "grant types are client_credentials, authorization_code and refresh_token"
        )
    if AUTHORIZATION_CODE in grant_types:
        return _user_facing_client(
            client_id, cleaned, secret_hash, scopes, created_at, grant_types, redirect_uris
        )
    if grant_types != {CLIENT_CREDENTIALS}:
        raise InvalidClientDefinitionError("refresh_token goes with authorization_code")
    if redirect_uris:
        raise InvalidClientDefinitionError("only authorization code clients have redirect URIs")
    if not secret_hash:
        raise InvalidClientDefinitionError("a client credentials client needs a secret")
    chosen = machine_client_scopes(scopes, account_id)
    if account_id is not None and account_id < 0:
        raise InvalidClientDefinitionError("an account id is a non-negative integer")
    return ApiClient(
        client_id,
        cleaned,
        secret_hash,
        chosen,
        account_id,
        created_at,
        owner_user_id=owner_user_id,
    )


def machine_client_scopes(scopes: frozenset[str], account_id: int | None) -> frozenset[str]:
    """What a program acting for itself may hold: `read`/`trade` for a trading account
    (`read` alone may go without one), or `ops` alone, without an account, for an
    operator's program. Never `withdraw` (moving money out needs a person's fresh second
    factor), never `admin` or `audit` (those answer for a person, by name)."""
    chosen = validate_client_scopes(scopes)
    if WITHDRAW in chosen:
        raise InvalidClientDefinitionError("withdraw needs a user's step-up; no client gets it")
    if chosen & PEOPLE_ONLY_SCOPES:
        raise InvalidClientDefinitionError("admin and audit belong to people, never to a client")
    if OPS in chosen and (chosen != {OPS} or account_id is not None):
        raise InvalidClientDefinitionError(
            "ops goes alone, to an operator's program that acts for no account"
        )
    needs_account = chosen & ACCOUNT_SCOPES
    if needs_account and account_id is None:
        raise InvalidClientDefinitionError(
            f"scopes {format_scopes(needs_account)} need the account the client acts for"
        )
    return chosen


def user_client_scopes(
    requested: Iterable[str], *, own: frozenset[str], account_id: int | None
) -> frozenset[str]:
    """The scopes a user may give a client of their own: among theirs, never withdraw,
    and `trade` only with a trading account to act for."""
    chosen = frozenset(requested)
    if WITHDRAW in chosen or not chosen <= own:
        raise UnownedScopeError("Scopes must be among your own, not withdraw.")
    if TRADE in chosen and account_id is None:
        raise NoTradingAccountError("You have no trading account.")
    return chosen


def _user_facing_client(
    client_id: ClientId,
    name: str,
    secret_hash: str,
    scopes: frozenset[str],
    created_at: int,
    grant_types: frozenset[str],
    redirect_uris: tuple[str, ...],
) -> ApiClient:
    if not redirect_uris or len(redirect_uris) > MAX_REDIRECT_URIS:
        raise InvalidClientDefinitionError(
            f"an authorization code client needs 1 to {MAX_REDIRECT_URIS} redirect URIs"
        )
    try:
        uris = tuple(dict.fromkeys(check_redirect_uri(uri) for uri in redirect_uris))
    except InvalidRequestError as error:
        raise InvalidClientDefinitionError(str(error)) from None
    chosen = validate_client_scopes(frozenset(scopes) - OIDC_SCOPES) | (scopes & OIDC_SCOPES)
    return ApiClient(
        client_id,
        name,
        secret_hash,
        frozenset(chosen),
        None,
        created_at,
        grant_types=frozenset(grant_types),
        redirect_uris=uris,
    )


def plausible_client_id(value: str) -> bool:
    """Cheap shape check; callers still look the id up so timing does not tell the two apart."""
    return value.startswith(CLIENT_ID_PREFIX) and len(value) <= MAX_CLIENT_ID_LENGTH
