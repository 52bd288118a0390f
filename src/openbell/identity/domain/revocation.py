"""What a revocation names: one token, a grant, a user or a client, and since when.

A token is refused when a user or client key it carries was revoked at or after the token
was issued, so new tokens of a re-enabled user or a narrowed client work while older ones do
not; a revoked token id or grant refuses its tokens whenever they were issued. Both
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


FOR_GOOD = frozenset({TOKEN, GRANT})
"""A token or a grant never comes back, so its revocation refuses every token carrying it,
whenever issued: a token minted by a request that raced the revocation dies too."""


def refuses(revocation: Revocation, issued_at: int) -> bool:
    kind = revocation.key.partition(":")[0]
    return kind in FOR_GOOD or issued_at <= revocation.revoked_at
