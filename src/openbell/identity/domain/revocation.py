"""What a revocation names: one token, a grant, a user or a client, and since when.

A token is refused when any key it carries was revoked at or after the token was issued,
so new tokens of a re-enabled user or a fresh grant work while older ones do not.
"""

from dataclasses import dataclass

TOKEN = "jti"  # a claim name, not a secret  # noqa: S105  # nosec B105
GRANT = "sid"
SUBJECT = "sub"
CLIENT = "cid"


def revocation_key(kind: str, value: str) -> str:
    return f"{kind}:{value}"


@dataclass(frozen=True, slots=True)
class Revocation:
    key: str
    revoked_at: int
    """Seconds since the Unix epoch; tokens issued at or before it are refused."""
    expires_at: int
    """Seconds; after it no token the key could refuse is still valid, so it can go."""


def refuses(revoked_at: int | None, issued_at: int) -> bool:
    return revoked_at is not None and issued_at <= revoked_at
