"""JWT access tokens with joserfc: signing, the JWKS document, and verification with a cache.

The accepted algorithm is fixed here, never read from the token: a token naming `none`,
HS256 or anything but EdDSA fails before any key is used.
"""

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from joserfc import jwt
from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry

from openbell.identity.application.ports import PublicKeySource
from openbell.identity.domain.keys import SIGNING_ALGORITHM, PrivateKey, PublicKey
from openbell.identity.domain.tokens import ACCESS_TOKEN_TYPE
from openbell.platform.auth import InvalidTokenError, Principal
from openbell.shared.time import Clock

MAX_TOKEN_LENGTH = 4096
_ACCEPTED_TYPES = frozenset({ACCESS_TOKEN_TYPE, "application/" + ACCESS_TOKEN_TYPE})
_REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "nbf", "jti", "client_id", "scope")


class EdDSAOnlyRegistry(JWSRegistry):
    """A JWS registry that knows one algorithm.

    joserfc flags the name "EdDSA" as deprecated by RFC 9864 (which names it "Ed25519");
    openbell keeps "EdDSA" because that is what today's JWT libraries verify, and the
    warning it would raise on every token is noise on the hot path.
    """

    def get_alg(self, name: str) -> JWSAlgModel:
        if name != SIGNING_ALGORITHM:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


REGISTRY = EdDSAOnlyRegistry(algorithms=[SIGNING_ALGORITHM])


def _private_jwk(key: PrivateKey) -> OKPKey:
    return OKPKey.import_key(Ed25519PrivateKey.from_private_bytes(key.private_key))


def _public_jwk(key: PublicKey) -> OKPKey:
    return OKPKey.import_key(Ed25519PublicKey.from_public_bytes(key.public_key))


class JoseTokenSigner:
    """Signs with Ed25519 keys, keeping each loaded key for the next token."""

    def __init__(self) -> None:
        self._loaded: dict[str, OKPKey] = {}

    def sign(self, header: Mapping[str, Any], claims: Mapping[str, Any], key: PrivateKey) -> str:
        jwk = self._loaded.get(key.kid)
        if jwk is None:
            jwk = self._loaded[key.kid] = _private_jwk(key)
        return jwt.encode(
            dict(header),
            dict(claims),
            jwk,
            algorithms=[SIGNING_ALGORITHM],
            registry=REGISTRY,
            default_type=None,
        )


def jwks_document(keys: Iterable[PublicKey]) -> dict[str, Any]:
    """The JSON Web Key Set of `keys` (RFC 7517), public halves only."""
    documents = []
    for key in keys:
        if key.algorithm != SIGNING_ALGORITHM:
            continue
        document = dict(_public_jwk(key).as_dict(private=False))
        document.update({"kid": key.kid, "use": "sig", "alg": key.algorithm})
        documents.append(document)
    return {"keys": documents}


class VerifiedTokenCache:
    """Tokens whose signature and claims already verified, keyed by the exact token string.

    Bounded: when full, the oldest entry goes (tokens live minutes, so first-in is close to
    least-useful). An entry is dropped once its token expires. Revocation will call
    `evict_token_id` or `evict_client`, so a revoked token stops working at once.
    """

    def __init__(self, max_entries: int, leeway_seconds: int) -> None:
        self._max_entries = max_entries
        self._leeway = leeway_seconds
        self._entries: dict[str, Principal] = {}
        self._tokens_by_id: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str, now: int) -> Principal | None:
        principal = self._entries.get(token)
        if principal is not None and now >= principal.expires_at + self._leeway:
            self._discard(token)
            return None
        return principal

    def put(self, token: str, principal: Principal) -> None:
        if self._max_entries <= 0:
            return
        while len(self._entries) >= self._max_entries:
            self._discard(next(iter(self._entries)))
        self._entries[token] = principal
        self._tokens_by_id[principal.token_id] = token

    def evict_token_id(self, token_id: str) -> None:
        token = self._tokens_by_id.get(token_id)
        if token is not None:
            self._discard(token)

    def evict_where(self, predicate: Callable[[Principal], bool]) -> None:
        for token in [token for token, principal in self._entries.items() if predicate(principal)]:
            self._discard(token)

    def evict_client(self, client_id: str) -> None:
        self.evict_where(lambda principal: principal.client_id == client_id)

    def clear(self) -> None:
        self._entries.clear()
        self._tokens_by_id.clear()

    def _discard(self, token: str) -> None:
        principal = self._entries.pop(token, None)
        if principal is not None:
            self._tokens_by_id.pop(principal.token_id, None)


def _unverified_kid(token: str) -> str:
    """The kid from the token's header, read only to choose a key to verify with."""
    header_segment = token.partition(".")[0]
    try:
        header = json.loads(
            base64.urlsafe_b64decode(header_segment + "=" * (-len(header_segment) % 4))
        )
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidTokenError from None
    kid = header.get("kid") if isinstance(header, dict) else None
    if not isinstance(kid, str):
        raise InvalidTokenError
    return kid


def _principal(claims: Mapping[str, Any]) -> Principal:
    subject, client_id, scope, token_id = (
        claims.get(name) for name in ("sub", "client_id", "scope", "jti")
    )
    account = claims.get("acct")
    expires_at = claims.get("exp")
    if not all(isinstance(value, str) for value in (subject, client_id, scope, token_id)):
        raise InvalidTokenError
    if account is not None and (isinstance(account, bool) or not isinstance(account, int)):
        raise InvalidTokenError
    if isinstance(expires_at, bool) or not isinstance(expires_at, int):
        raise InvalidTokenError
    return Principal(
        subject=str(subject),
        client_id=str(client_id),
        account_id=account,
        scopes=frozenset(str(scope).split()),
        token_id=str(token_id),
        expires_at=expires_at,
    )


class JwtAccessTokenVerifier:
    """platform.auth.TokenVerifier for openbell's EdDSA JWT access tokens.

    Checks, in order: size, header kid names a trusted key, signature with alg fixed to
    EdDSA, typ at+jwt, iss, aud, exp/nbf/iat within `leeway_seconds`, required claims.
    A kid it does not know makes it reload the keys, at most every `refresh_interval_seconds`,
    so random kids cannot turn each request into a database query.
    """

    def __init__(
        self,
        keys: PublicKeySource,
        *,
        issuer: str,
        audience: str,
        clock: Clock,
        leeway_seconds: int,
        cache_size: int,
        refresh_interval_seconds: int = 30,
    ) -> None:
        self._source = keys
        self._clock = clock
        self._keys: dict[str, OKPKey] = {}
        self._refresh_interval_ns = refresh_interval_seconds * 1_000_000_000
        self._last_refresh_ns: int | None = None
        self.cache = VerifiedTokenCache(cache_size, leeway_seconds)
        essential: jwt.ClaimsOption = {"essential": True}
        self._claims = jwt.JWTClaimsRegistry(
            now=self._now,
            leeway=leeway_seconds,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            **{name: essential for name in _REQUIRED_CLAIMS if name not in {"iss", "aud"}},
        )

    def _now(self) -> int:
        return self._clock.now_ns() // 1_000_000_000

    async def start(self) -> None:
        self._install(await self._source.public_keys())
        self._last_refresh_ns = self._clock.now_ns()

    def use_keys(self, keys: Sequence[PublicKey]) -> None:
        """Trust exactly `keys`; cached tokens go when a key they may have used is withdrawn."""
        self._install(keys)

    async def verify(self, token: str) -> Principal:
        principal = self.cache.get(token, self._now())
        if principal is None:
            principal = await self._verify(token)
            self.cache.put(token, principal)
        return principal

    async def _verify(self, token: str) -> Principal:
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidTokenError
        kid = _unverified_kid(token)
        key = self._keys.get(kid)
        if key is None:
            key = await self._refreshed_key(kid)
        if key is None:
            raise InvalidTokenError
        try:
            decoded = jwt.decode(token, key, algorithms=[SIGNING_ALGORITHM], registry=REGISTRY)
            self._claims.validate(decoded.claims)
        except (JoseError, ValueError, TypeError):
            raise InvalidTokenError from None
        if str(decoded.header.get("typ", "")).lower() not in _ACCEPTED_TYPES:
            raise InvalidTokenError
        return _principal(decoded.claims)

    async def _refreshed_key(self, kid: str) -> OKPKey | None:
        now = self._clock.now_ns()
        last = self._last_refresh_ns
        if last is not None and now - last < self._refresh_interval_ns:
            return None
        self._last_refresh_ns = now
        self._install(await self._source.refresh())
        return self._keys.get(kid)

    def _install(self, keys: Sequence[PublicKey]) -> None:
        installed = {
            key.kid: _public_jwk(key) for key in keys if key.algorithm == SIGNING_ALGORITHM
        }
        if set(self._keys) - set(installed):
            self.cache.clear()
        self._keys = installed
