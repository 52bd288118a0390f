"""Authorization code + PKCE and rotating refresh tokens (RFC 6749, RFC 7636, OAuth 2.1).

A grant is what one sign-in produced: its code, then a family of refresh tokens, each used
once. Every access token names its grant in `sid`, so revoking the grant revokes them all.
"""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field, replace
from typing import NewType
from urllib.parse import urlsplit

from openbell.identity.domain.errors import InvalidRequestError
from openbell.identity.domain.mfa import AuthenticationProof
from openbell.identity.domain.users import UserId

GrantId = NewType("GrantId", str)

PKCE_METHOD = "S256"
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")
MAX_REDIRECT_URI_LENGTH = 2000
MAX_STATE_LENGTH = 512
MAX_NONCE_LENGTH = 256


def token_digest(token: str) -> str:
    """Codes and refresh tokens are stored as SHA-256: 256 random bits need no slow hash."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pkce_matches(verifier: str | None, challenge: str) -> bool:
    """RFC 7636 §4.6 with S256, the only method: `plain` would give the code away."""
    if verifier is None or not _VERIFIER.fullmatch(verifier):
        return False
    return hmac.compare_digest(pkce_challenge(verifier), challenge)


def check_code_challenge(challenge: str | None, method: str | None) -> str:
    if not challenge:
        raise InvalidRequestError("code_challenge is required (PKCE)")
    if method != PKCE_METHOD:
        raise InvalidRequestError("code_challenge_method must be S256")
    if not _CHALLENGE.fullmatch(challenge):
        raise InvalidRequestError("code_challenge must be a base64url SHA-256 digest")
    return challenge


def check_redirect_uri(uri: str) -> str:
    """A redirect URI a client may register: https, or http on a loopback host; no fragment."""
    if len(uri) > MAX_REDIRECT_URI_LENGTH:
        raise InvalidRequestError("redirect URI too long")
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri or not parts.netloc or "@" in parts.netloc:
        raise InvalidRequestError("a redirect URI is absolute, without fragment or userinfo")
    host = parts.hostname or ""
    loopback = host in {"127.0.0.1", "::1", "localhost"}
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise InvalidRequestError("a redirect URI uses https (http only on loopback)")
    return uri


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated /oauth/authorize request, waiting for the user to sign in."""

    client_id: str
    redirect_uri: str
    scopes: frozenset[str]
    state: str | None
    code_challenge: str
    nonce: str | None
    require_mfa: bool


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    code_hash: str = field(repr=False)
    grant_id: GrantId
    client_id: str
    user_id: UserId
    redirect_uri: str
    scopes: frozenset[str]
    code_challenge: str
    nonce: str | None
    proof: AuthenticationProof
    created_at: int
    expires_at: int
    used_at: int | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    """One sign-in's lasting authorization: the family its refresh tokens belong to."""

    grant_id: GrantId
    client_id: str
    user_id: UserId
    scopes: frozenset[str]
    proof: AuthenticationProof
    created_at: int
    expires_at: int
    """Absolute end: no refresh token of the family outlives it."""
    revoked_at: int | None = None

    def usable(self, now: int) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def revoke(self, at: int) -> "Grant":
        return self if self.revoked_at is not None else replace(self, revoked_at=at)


@dataclass(frozen=True, slots=True)
class RefreshToken:
    token_hash: str = field(repr=False)
    grant_id: GrantId
    client_id: str
    created_at: int
    expires_at: int
    """Idle end: a refresh token unused this long is dead, whatever the grant's lifetime."""
    used_at: int | None = None
