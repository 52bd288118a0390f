"""Access tokens: what a JWT access token says (RFC 9068 profile), decided without any I/O."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openbell.identity.domain.clients import ApiClient
from openbell.identity.domain.scopes import format_scopes

if TYPE_CHECKING:
    from openbell.identity.domain.mfa import AuthenticationProof

ACCESS_TOKEN_TYPE = "at+jwt"  # a media type, not a secret  # noqa: S105  # nosec B105
"""The JWT `typ` header of access tokens, so no other JWT of ours passes for one (RFC 9068)."""
NANOSECONDS = 1_000_000_000
ISSUED_AT_NS = "iat_ns"
"""The issue instant in nanoseconds: `iat` has whole seconds, too coarse to tell a token made
just before a revocation (a password change) from one made just after, in the same second."""


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A signed access token as the token endpoint hands it out."""

    token: str
    expires_in: int
    scopes: frozenset[str]


def client_credentials_claims(
    client: ApiClient,
    scopes: frozenset[str],
    *,
    issuer: str,
    audience: str,
    now_ns: int,
    ttl_seconds: int,
    token_id: str,
) -> dict[str, Any]:
    """The claims of a token a client gets for itself: it is its own subject."""
    issued_at = now_ns // NANOSECONDS
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": client.client_id,
        "client_id": client.client_id,
        "scope": format_scopes(scopes),
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + ttl_seconds,
        "jti": token_id,
        ISSUED_AT_NS: now_ns,
    }
    if client.account_id is not None:
        claims["acct"] = client.account_id
    return claims


ID_TOKEN_TYPE = "JWT"  # a media type, not a secret  # noqa: S105  # nosec B105


@dataclass(frozen=True, slots=True)
class TokenGrantResult:
    """What the token endpoint answers: an access token, and for users more."""

    access: AccessToken
    refresh_token: str | None = None
    id_token: str | None = None


def user_claims(
    *,
    user_id: str,
    client_id: str,
    account_id: int | None,
    scopes: frozenset[str],
    grant_id: str,
    proof: "AuthenticationProof",
    issuer: str,
    audience: str,
    now_ns: int,
    ttl_seconds: int,
    token_id: str,
) -> dict[str, Any]:
    """A token a client holds on behalf of a signed-in user, naming its grant in `sid`."""
    issued_at = now_ns // NANOSECONDS
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": user_id,
        "client_id": client_id,
        "scope": format_scopes(scopes),
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + ttl_seconds,
        "jti": token_id,
        ISSUED_AT_NS: now_ns,
        "sid": grant_id,
        "auth_time": proof.auth_time,
        "acr": proof.acr,
        "amr": sorted(proof.amr),
    }
    if account_id is not None:
        claims["acct"] = account_id
    return claims


def id_token_claims(
    *,
    user_id: str,
    client_id: str,
    nonce: str | None,
    proof: "AuthenticationProof",
    issuer: str,
    now_ns: int,
    ttl_seconds: int,
    access_token_hash: str,
) -> dict[str, Any]:
    """OIDC Core §2: an ID token is for the client (`aud`), never a key to an API."""
    issued_at = now_ns // NANOSECONDS
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client_id,
        "azp": client_id,
        "sub": user_id,
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
        "auth_time": proof.auth_time,
        "acr": proof.acr,
        "amr": sorted(proof.amr),
        "at_hash": access_token_hash,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return claims
