"""Scopes: the permissions a token carries, as space-separated words (RFC 6749 §3.3)."""

import re
from collections.abc import Iterable

from openbell.identity.domain.errors import InvalidClientDefinitionError, InvalidScopeError

READ = "read"
TRADE = "trade"
WITHDRAW = "withdraw"
OPS = "ops"
ADMIN = "admin"
AUDIT = "audit"

KNOWN_SCOPES = frozenset({READ, TRADE, WITHDRAW, OPS, ADMIN, AUDIT})
OPENID = "openid"
PROFILE = "profile"
EMAIL = "email"
OIDC_SCOPES = frozenset({OPENID, PROFILE, EMAIL})
"""OpenID Connect scopes: they open userinfo claims, never an API."""
ACCOUNT_SCOPES = frozenset({TRADE, WITHDRAW})
"""Scopes that act on a trading account, so a client holding them must name one."""
PEOPLE_ONLY_SCOPES = frozenset({ADMIN, AUDIT})
"""Scopes a person answers for by name: no program acting for itself ever holds them."""

_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")


def format_scopes(scopes: Iterable[str]) -> str:
    """Scopes as the space-separated string tokens carry, in a stable order."""
    return " ".join(sorted(set(scopes)))


def parse_scopes(text: str) -> frozenset[str]:
    """Split a scope string; raise InvalidScopeError on a malformed word."""
    words = text.split(" ")
    if not all(_SCOPE_TOKEN.fullmatch(word) for word in words):
        raise InvalidScopeError("malformed scope")
    return frozenset(words)


def validate_client_scopes(scopes: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(scopes)
    if not chosen:
        raise InvalidClientDefinitionError("a client needs at least one scope")
    unknown = chosen - KNOWN_SCOPES
    if unknown:
        raise InvalidClientDefinitionError(f"unknown scopes: {format_scopes(unknown)}")
    return chosen


def grant_scopes(allowed: frozenset[str], requested: str | None) -> frozenset[str]:
    """The scopes a token gets: all the client may have, or the requested subset of them."""
    if requested is None or requested == "":
        return allowed
    wanted = parse_scopes(requested)
    if not wanted <= allowed:
        # Do not name the scopes: the client learns nothing about its own registration.
        raise InvalidScopeError("requested scope exceeds the client's scopes")
    return wanted
