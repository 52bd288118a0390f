"""What a revocation names: one token, a grant, a user or a client, and since when.

A token is refused when any key it carries was revoked at or after the token was issued,
so new tokens of a re-enabled user or a fresh grant work while older ones do not. Both
instants are in nanoseconds: in whole seconds, a token issued just after a password change,
in the same second, died with the ones the change was meant to end.
"""

from dataclasses import dataclass

TOKEN = "jti"  # a claim name, not a secret  # noqa: S105  # nosec B105
GRANT = "sid"
SUBJECT = "sub"
CLIENT = "cid"
NANOSECONDS = 1_000_000_000


def revocation_key(kind: str, value: str) -> str:
    return f"{kind}:{value}"


@dataclass(frozen=True, slots=True)
class Revocation:
    key: str
    revoked_at: int
    """Nanoseconds since the Unix epoch; tokens issued at or before it are refused."""
    expires_at: int
    """Nanoseconds; after it no token the key could refuse is still accepted (its expiry
    plus the verifier's leeway has passed), so it can go."""


def refuses(revoked_at: int | None, issued_at: int) -> bool:
    return revoked_at is not None and issued_at <= revoked_at
