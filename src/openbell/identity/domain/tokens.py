"""Access tokens: what a JWT access token says (RFC 9068 profile), decided without any I/O."""

from dataclasses import dataclass
from typing import Any

from openbell.identity.domain.clients import ApiClient
from openbell.identity.domain.scopes import format_scopes

ACCESS_TOKEN_TYPE = "at+jwt"  # a media type, not a secret  # noqa: S105  # nosec B105
"""The JWT `typ` header of access tokens, so no other JWT of ours passes for one (RFC 9068)."""
NANOSECONDS = 1_000_000_000


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
    }
    if client.account_id is not None:
        claims["acct"] = client.account_id
    return claims
