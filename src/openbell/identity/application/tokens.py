"""The token endpoint's use cases: grant requests in, signed tokens out.

Grants: client credentials (RFC 6749 §4.4), authorization code with PKCE (§4.1, RFC 7636)
and refresh tokens that rotate on every use (OAuth 2.1 §4.3). There is no implicit and
no password grant: anything else is `unsupported_grant_type`.
"""

import base64
import hashlib
import secrets
from dataclasses import dataclass, field

from openbell.identity.application.clients import ClientService
from openbell.identity.application.keys import KeyService
from openbell.identity.application.ports import GrantRepository, TokenSigner, UserRepository
from openbell.identity.application.revocation import RevocationService
from openbell.identity.domain.clients import (
    AUTHORIZATION_CODE,
    CLIENT_CREDENTIALS,
    REFRESH_TOKEN,
    ApiClient,
)
from openbell.identity.domain.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from openbell.identity.domain.grants import (
    AuthorizationCode,
    Grant,
    GrantId,
    RefreshToken,
    pkce_matches,
    token_digest,
)
from openbell.identity.domain.keys import SIGNING_ALGORITHM
from openbell.identity.domain.mfa import AuthenticationProof
from openbell.identity.domain.revocation import GRANT
from openbell.identity.domain.scopes import OPENID, WITHDRAW, grant_scopes, parse_scopes
from openbell.identity.domain.tokens import (
    ACCESS_TOKEN_TYPE,
    ID_TOKEN_TYPE,
    NANOSECONDS,
    AccessToken,
    TokenGrantResult,
    client_credentials_claims,
    id_token_claims,
    user_claims,
)
from openbell.identity.domain.users import User
from openbell.shared.time import Clock

REFRESH_TOKEN_PREFIX = "obr_"  # a public prefix, not a secret  # noqa: S105  # nosec B105
CODE_PREFIX = "obac_"
_INVALID_GRANT = "the grant is invalid, expired, used or revoked"


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A token request after HTTP parsing: one grant type, one client."""

    grant_type: str
    client_id: str | None
    client_secret: str | None = field(repr=False)
    scope: str | None = None
    code: str | None = field(default=None, repr=False)
    redirect_uri: str | None = None
    code_verifier: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    issuer: str
    audience: str
    ttl_seconds: int
    code_ttl_seconds: int = 60
    refresh_idle_seconds: int = 900
    refresh_absolute_seconds: int = 43_200
    step_up_max_age_seconds: int = 300
    refresh_reuse_grace_seconds: int = 5
    """A client replaying its refresh token this soon after using it (the answer got lost)
    gets new tokens in place of the lost ones, instead of losing the whole family."""


def new_refresh_token() -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_code() -> str:
    return CODE_PREFIX + secrets.token_urlsafe(32)


def access_token_hash(token: str) -> str:
    """OIDC at_hash for EdDSA over Ed25519: the left half of SHA-512 (OIDC Core §3.1.3.6)."""
    digest = hashlib.sha512(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:32]).rstrip(b"=").decode("ascii")


class TokenService:
    def __init__(
        self,
        clients: ClientService,
        keys: KeyService,
        signer: TokenSigner,
        clock: Clock,
        policy: TokenPolicy,
        *,
        users: UserRepository | None = None,
        grants: GrantRepository | None = None,
        revocations: RevocationService | None = None,
    ) -> None:
        self._clients = clients
        self._keys = keys
        self._signer = signer
        self._clock = clock
        self._policy = policy
        self._users = users
        self._grants = grants
        self._revocations = revocations

    @property
    def policy(self) -> TokenPolicy:
        return self._policy

    async def grant(self, request: TokenRequest) -> AccessToken:
        """Answer a client credentials request (kept for callers that want only the token)."""
        return (await self.grant_tokens(request)).access

    async def grant_tokens(self, request: TokenRequest) -> TokenGrantResult:
        if request.grant_type not in {CLIENT_CREDENTIALS, AUTHORIZATION_CODE, REFRESH_TOKEN}:
            raise UnsupportedGrantTypeError("unsupported grant type")
        if request.grant_type == CLIENT_CREDENTIALS:
            if request.client_id is None or request.client_secret is None:
                raise InvalidClientError("client authentication is required")
            client = await self._clients.authenticate(request.client_id, request.client_secret)
        else:
            client = await self._clients.identify(request.client_id, request.client_secret)
        if request.grant_type not in client.grant_types:
            raise UnauthorizedClientError("the client may not use this grant type")
        if request.grant_type == CLIENT_CREDENTIALS:
            return TokenGrantResult(self._client_token(client, request.scope))
        if request.grant_type == AUTHORIZATION_CODE:
            return await self._exchange_code(client, request)
        return await self._refresh(client, request)

    def _client_token(self, client: ApiClient, scope: str | None) -> AccessToken:
        scopes = grant_scopes(client.scopes, scope)
        claims = client_credentials_claims(
            client,
            scopes,
            issuer=self._policy.issuer,
            audience=self._policy.audience,
            now_ns=self._clock.now_ns(),
            ttl_seconds=self._policy.ttl_seconds,
            token_id=secrets.token_urlsafe(16),
        )
        return AccessToken(self._sign(claims, ACCESS_TOKEN_TYPE), self._policy.ttl_seconds, scopes)

    def _sign(self, claims: dict[str, object], token_type: str) -> str:
        key = self._keys.signing_key()
        header = {"alg": SIGNING_ALGORITHM, "kid": key.kid, "typ": token_type}
        return self._signer.sign(header, claims, key)

    # -- authorization code ------------------------------------------------------------

    async def issue_code(
        self,
        *,
        client: ApiClient,
        user: User,
        redirect_uri: str,
        scopes: frozenset[str],
        code_challenge: str,
        nonce: str | None,
        proof: AuthenticationProof,
    ) -> str:
        """A single-use code for a signed-in user, valid `code_ttl_seconds` (≤ 60)."""
        grants = self._stores()[1]
        code = new_code()
        now = self._clock.now_ns()
        await grants.add_code(
            AuthorizationCode(
                code_hash=token_digest(code),
                grant_id=GrantId("grt_" + secrets.token_urlsafe(16)),
                client_id=client.client_id,
                user_id=user.user_id,
                redirect_uri=redirect_uri,
                scopes=scopes,
                code_challenge=code_challenge,
                nonce=nonce,
                proof=proof,
                created_at=now,
                expires_at=now + self._policy.code_ttl_seconds * NANOSECONDS,
            )
        )
        return code

    async def _exchange_code(self, client: ApiClient, request: TokenRequest) -> TokenGrantResult:
        users, grants = self._stores()
        if not request.code or request.redirect_uri is None:
            raise InvalidRequestError("code and redirect_uri are required")
        now = self._clock.now_ns()
        consumed = await grants.consume_code(token_digest(request.code), now)
        if consumed is None:
            raise InvalidGrantError(_INVALID_GRANT)
        code, first_use = consumed
        if not first_use:
            # A replayed code means it leaked: everything issued from it goes (RFC 6749 §4.1.2).
            await self._revoke_grant(code.grant_id)
            raise InvalidGrantError(_INVALID_GRANT)
        valid = (
            code.client_id == client.client_id
            and code.redirect_uri == request.redirect_uri
            and now < code.expires_at
            and pkce_matches(request.code_verifier, code.code_challenge)
        )
        user = await users.get(code.user_id) if valid else None
        if user is None or not user.active:
            await self._revoke_grant(code.grant_id)
            raise InvalidGrantError(_INVALID_GRANT)
        grant = Grant(
            grant_id=code.grant_id,
            client_id=client.client_id,
            user_id=user.user_id,
            scopes=code.scopes,
            proof=code.proof,
            created_at=now,
            expires_at=now + self._policy.refresh_absolute_seconds * NANOSECONDS,
        )
        await grants.add_grant(grant)
        return await self._user_tokens(client, user, grant, code.scopes, nonce=code.nonce)

    # -- refresh -------------------------------------------------------------------------

    async def _refresh(self, client: ApiClient, request: TokenRequest) -> TokenGrantResult:
        users, grants = self._stores()
        if not request.refresh_token:
            raise InvalidRequestError("refresh_token is required")
        now = self._clock.now_ns()
        consumed = await grants.consume_refresh_token(token_digest(request.refresh_token), now)
        if consumed is None:
            raise InvalidGrantError(_INVALID_GRANT)
        token, first_use = consumed
        same_client = token.client_id == client.client_id
        if not first_use and not (same_client and await self._lost_answer(token, now)):
            # Reuse of a rotated token: one of the two holders is a thief; end the family.
            await self._revoke_grant(token.grant_id)
            raise InvalidGrantError(_INVALID_GRANT)
        if not same_client:
            raise InvalidGrantError(_INVALID_GRANT)
        grant = await grants.get_grant(token.grant_id)
        user = None if grant is None else await users.get(grant.user_id)
        if grant is None or not grant.usable(now) or now >= token.expires_at:
            raise InvalidGrantError(_INVALID_GRANT)
        if user is None or not user.active:
            await self._revoke_grant(grant.grant_id)
            raise InvalidGrantError(_INVALID_GRANT)
        scopes = grant.scopes
        if request.scope:
            scopes = grant_scopes(grant.scopes, request.scope)
        return await self._user_tokens(client, user, grant, scopes, nonce=None)

    async def _lost_answer(self, token: RefreshToken, now: int) -> bool:
        """Whether a replay looks like a client retrying after losing the answer: within
        the grace window, after that answer was made, and the refresh token it carried
        never used. Then that token is retired: the family keeps one live refresh token."""
        grace = self._policy.refresh_reuse_grace_seconds * NANOSECONDS
        if token.used_at is None or now - token.used_at > grace:
            return False
        return await self._stores()[1].retire_successors(token, now)

    async def _user_tokens(
        self,
        client: ApiClient,
        user: User,
        grant: Grant,
        requested: frozenset[str],
        *,
        nonce: str | None,
    ) -> TokenGrantResult:
        """Access token (+ refresh token, + ID token for `openid`) for `user` via `client`."""
        now = self._clock.now_ns()
        scopes = self.effective_scopes(user, requested, grant.proof)
        claims = user_claims(
            user_id=user.user_id,
            client_id=client.client_id,
            account_id=user.account_id,
            scopes=scopes,
            grant_id=grant.grant_id,
            proof=grant.proof,
            issuer=self._policy.issuer,
            audience=self._policy.audience,
            now_ns=now,
            ttl_seconds=self._policy.ttl_seconds,
            token_id=secrets.token_urlsafe(16),
        )
        access = AccessToken(
            self._sign(claims, ACCESS_TOKEN_TYPE), self._policy.ttl_seconds, scopes
        )
        refresh = None
        if REFRESH_TOKEN in client.grant_types:
            refresh = new_refresh_token()
            idle_end = now + self._policy.refresh_idle_seconds * NANOSECONDS
            await self._stores()[1].add_refresh_token(
                RefreshToken(
                    token_digest(refresh),
                    grant.grant_id,
                    client.client_id,
                    now,
                    min(idle_end, grant.expires_at),
                )
            )
        id_token = None
        if OPENID in scopes:
            id_claims = id_token_claims(
                user_id=user.user_id,
                client_id=client.client_id,
                nonce=nonce,
                proof=grant.proof,
                issuer=self._policy.issuer,
                now_ns=now,
                ttl_seconds=self._policy.ttl_seconds,
                access_token_hash=access_token_hash(access.token),
            )
            id_token = self._sign(id_claims, ID_TOKEN_TYPE)
        return TokenGrantResult(access, refresh, id_token)

    def effective_scopes(
        self, user: User, requested: frozenset[str], proof: AuthenticationProof
    ) -> frozenset[str]:
        """What the user may have of what was asked: their roles' scopes, OIDC scopes, and
        `withdraw` only while the sign-in's second factor is fresh (a step-up)."""
        allowed = (user.scopes | {OPENID, "profile", "email"}) & requested
        now = self._clock.now_ns() // NANOSECONDS
        if WITHDRAW in allowed and not proof.fresh(now, self._policy.step_up_max_age_seconds):
            allowed -= {WITHDRAW}
        return frozenset(allowed)

    async def _revoke_grant(self, grant_id: GrantId) -> None:
        await self._stores()[1].revoke_grant(grant_id, self._clock.now_ns())
        if self._revocations is not None:
            await self._revocations.revoke(GRANT, grant_id)

    async def revoke_refresh_token(self, client: ApiClient, token: str) -> bool:
        """RFC 7009 for a refresh token: end its grant (and so its access tokens)."""
        found = await self._stores()[1].find_refresh_token(token_digest(token))
        if found is None or found.client_id != client.client_id:
            return False
        await self._revoke_grant(found.grant_id)
        return True

    async def refresh_token_info(self, token: str) -> tuple[RefreshToken, Grant] | None:
        """An active refresh token and its grant, for introspection; None otherwise."""
        grants = self._stores()[1]
        found = await grants.find_refresh_token(token_digest(token))
        if found is None:
            return None
        grant = await grants.get_grant(found.grant_id)
        now = self._clock.now_ns()
        if grant is None or not grant.usable(now) or found.used_at is not None:
            return None
        if now >= found.expires_at:
            return None
        return found, grant

    def _stores(self) -> tuple[UserRepository, GrantRepository]:
        if self._users is None or self._grants is None:
            raise UnsupportedGrantTypeError("this server issues client credentials only")
        return self._users, self._grants


def parse_requested_scopes(text: str | None) -> frozenset[str]:
    return frozenset() if not text else parse_scopes(text)
