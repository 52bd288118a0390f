"""JWT access tokens with joserfc: signing, the JWKS document, and verification with a cache.

The accepted algorithm is fixed here, never read from the token: a token naming `none`,
HS256 or anything but EdDSA fails before any key is used.
"""

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

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
from openbell.identity.domain.revocation import CLIENT, GRANT, SUBJECT, TOKEN, revocation_key
from openbell.identity.domain.tokens import (
    ACCESS_TOKEN_TYPE,
    ID_TOKEN_TYPE,
    ISSUED_AT_NS,
    NANOSECONDS,
)
from openbell.platform.auth import InvalidTokenError, Principal
from openbell.shared.time import Clock

MAX_TOKEN_LENGTH = 4096
_ACCEPTED_TYPES = frozenset({ACCESS_TOKEN_TYPE, "application/" + ACCESS_TOKEN_TYPE})
_ID_TOKEN_TYPES = frozenset({ID_TOKEN_TYPE.lower()})
_REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "nbf", "jti", "client_id", "scope")


class RevocationChecker(Protocol):
    def refused(self, keys: Iterable[str], issued_at: int) -> bool: ...


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


class _Verified(NamedTuple):
    principal: Principal
    issued_at: int
    """Nanoseconds, as revocation instants are."""
    revocation_keys: tuple[str, ...]


def _revocation_keys(principal: Principal, grant_id: str | None) -> tuple[str, ...]:
    keys = [
        revocation_key(TOKEN, principal.token_id),
        revocation_key(SUBJECT, principal.subject),
        revocation_key(CLIENT, principal.client_id),
    ]
    if grant_id is not None:
        keys.append(revocation_key(GRANT, grant_id))
    return tuple(keys)


class VerifiedTokenCache:
    """Tokens whose signature and claims already verified, keyed by the exact token string.

    Bounded: when full, the oldest entry goes (tokens live minutes, so first-in is close to
    least-useful). An entry is dropped once its token expires. Revocation is checked on
    every use, cached or not, so a cached token stops working the moment it is revoked.
    """

    def __init__(self, max_entries: int, leeway_seconds: int) -> None:
        self._max_entries = max_entries
        self._leeway = leeway_seconds
        self._entries: dict[str, _Verified] = {}
        self._tokens_by_id: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, token: str, now: int) -> _Verified | None:
        found = self._entries.get(token)
        if found is not None and now >= found.principal.expires_at + self._leeway:
            self._discard(token)
            return None
        return found

    def get(self, token: str, now: int) -> Principal | None:
        found = self.entry(token, now)
        return None if found is None else found.principal

    def put(
        self,
        token: str,
        principal: Principal,
        *,
        issued_at: int = 0,
        grant_id: str | None = None,
    ) -> None:
        """Remember a verified token; without `issued_at`, any revocation of its keys refuses it."""
        self.put_entry(
            token, _Verified(principal, issued_at, _revocation_keys(principal, grant_id))
        )

    def put_entry(self, token: str, verified: _Verified) -> None:
        if self._max_entries <= 0:
            return
        while len(self._entries) >= self._max_entries:
            self._discard(next(iter(self._entries)))
        self._entries[token] = verified
        self._tokens_by_id[verified.principal.token_id] = token

    def evict_token_id(self, token_id: str) -> None:
        token = self._tokens_by_id.get(token_id)
        if token is not None:
            self._discard(token)

    def evict_where(self, predicate: Callable[[Principal], bool]) -> None:
        doomed = [token for token, found in self._entries.items() if predicate(found.principal)]
        for token in doomed:
            self._discard(token)

    def evict_client(self, client_id: str) -> None:
        self.evict_where(lambda principal: principal.client_id == client_id)

    def clear(self) -> None:
        self._entries.clear()
        self._tokens_by_id.clear()

    def _discard(self, token: str) -> None:
        found = self._entries.pop(token, None)
        if found is not None:
            self._tokens_by_id.pop(found.principal.token_id, None)


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
    acr, amr, auth_time = claims.get("acr"), claims.get("amr", []), claims.get("auth_time")
    if acr is not None and not isinstance(acr, str):
        raise InvalidTokenError
    if not isinstance(amr, list) or not all(isinstance(method, str) for method in amr):
        raise InvalidTokenError
    if auth_time is not None and (isinstance(auth_time, bool) or not isinstance(auth_time, int)):
        raise InvalidTokenError
    return Principal(
        subject=str(subject),
        client_id=str(client_id),
        account_id=account,
        scopes=frozenset(str(scope).split()),
        token_id=str(token_id),
        expires_at=expires_at,
        acr=acr,
        amr=frozenset(amr),
        auth_time=auth_time,
    )


def _issued_at_ns(claims: Mapping[str, Any]) -> int:
    """When the token was issued, in nanoseconds, for comparing with revocation instants.

    A token without `iat_ns` (issued before it existed) counts from the start of its `iat`
    second, so a revocation in that second still refuses it.
    """
    issued_at, precise = claims.get("iat"), claims.get(ISSUED_AT_NS)
    if not isinstance(issued_at, int) or isinstance(issued_at, bool):
        raise InvalidTokenError
    if precise is None:
        return issued_at * NANOSECONDS
    if not isinstance(precise, int) or isinstance(precise, bool):
        raise InvalidTokenError
    if precise // NANOSECONDS != issued_at:
        raise InvalidTokenError
    return precise


def _verified(claims: Mapping[str, Any]) -> _Verified:
    principal = _principal(claims)
    grant_id = claims.get("sid")
    if grant_id is not None and not isinstance(grant_id, str):
        raise InvalidTokenError
    return _Verified(principal, _issued_at_ns(claims), _revocation_keys(principal, grant_id))


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
        revocations: RevocationChecker | None = None,
    ) -> None:
        self._source = keys
        self._revocations = revocations
        self._clock = clock
        self._keys: dict[str, OKPKey] = {}
        self._refresh_interval_ns = refresh_interval_seconds * 1_000_000_000
        self._last_refresh_ns: int | None = None
        self.cache = VerifiedTokenCache(cache_size, leeway_seconds)
        essential: jwt.ClaimsOption = {"essential": True}
        self._issuer = issuer
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
        verified = self.cache.entry(token, self._now())
        if verified is None:
            verified = _verified(await self._decode(token, validate_claims=True))
            self.cache.put_entry(token, verified)
        revocations = self._revocations
        if revocations is not None and revocations.refused(
            verified.revocation_keys, verified.issued_at
        ):
            raise InvalidTokenError
        return verified.principal

    async def signed_claims(self, token: str) -> Mapping[str, Any] | None:
        """The claims of an access token of ours whose signature verifies, even if expired.

        For revocation (RFC 7009), where an expired token needs nothing done and a token
        that is not ours must be ignored; never for authorizing a request.
        """
        try:
            return await self._decode(token, validate_claims=False)
        except InvalidTokenError:
            return None

    def active(self, claims: Mapping[str, Any]) -> bool:
        """Whether signed claims are within their lifetime and not revoked (introspection)."""
        try:
            self._claims.validate(dict(claims))
            verified = _verified(claims)
        except (JoseError, ValueError, TypeError, InvalidTokenError):
            return False
        revocations = self._revocations
        return revocations is None or not revocations.refused(
            verified.revocation_keys, verified.issued_at
        )

    async def id_token_claims(self, token: str) -> Mapping[str, Any] | None:
        """The claims of an ID token of ours whose signature verifies, even if expired.

        For RP-initiated logout's `id_token_hint`, which names a past sign-in; never for
        authorizing a request (an ID token is no key to an API).
        """
        try:
            return await self._decode(token, validate_claims=False, types=_ID_TOKEN_TYPES)
        except InvalidTokenError:
            return None

    async def _decode(
        self, token: str, *, validate_claims: bool, types: frozenset[str] = _ACCEPTED_TYPES
    ) -> Mapping[str, Any]:
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
            if validate_claims:
                self._claims.validate(decoded.claims)
            elif decoded.claims.get("iss") != self._issuer:
                raise InvalidTokenError
        except (JoseError, ValueError, TypeError):
            raise InvalidTokenError from None
        if str(decoded.header.get("typ", "")).lower() not in types:
            raise InvalidTokenError
        return decoded.claims

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
