"""The token endpoint's use case: grant requests in, signed access tokens out."""

import secrets
from dataclasses import dataclass, field

from openbell.identity.application.clients import ClientService
from openbell.identity.application.keys import KeyService
from openbell.identity.application.ports import TokenSigner
from openbell.identity.domain.errors import InvalidClientError, UnsupportedGrantTypeError
from openbell.identity.domain.keys import SIGNING_ALGORITHM
from openbell.identity.domain.scopes import grant_scopes
from openbell.identity.domain.tokens import (
    ACCESS_TOKEN_TYPE,
    AccessToken,
    client_credentials_claims,
)
from openbell.shared.time import Clock

CLIENT_CREDENTIALS = "client_credentials"


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A token request after HTTP parsing: one grant type, one authenticated-to-be client."""

    grant_type: str
    client_id: str | None
    client_secret: str | None = field(repr=False)
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    issuer: str
    audience: str
    ttl_seconds: int


class TokenService:
    def __init__(
        self,
        clients: ClientService,
        keys: KeyService,
        signer: TokenSigner,
        clock: Clock,
        policy: TokenPolicy,
    ) -> None:
        self._clients = clients
        self._keys = keys
        self._signer = signer
        self._clock = clock
        self._policy = policy

    async def grant(self, request: TokenRequest) -> AccessToken:
        """Answer a token request; only the client credentials grant exists (RFC 6749 §4.4)."""
        if request.grant_type != CLIENT_CREDENTIALS:
            raise UnsupportedGrantTypeError("unsupported grant type")
        if request.client_id is None or request.client_secret is None:
            raise InvalidClientError("client authentication is required")
        client = await self._clients.authenticate(request.client_id, request.client_secret)
        scopes = grant_scopes(client.scopes, request.scope)
        claims = client_credentials_claims(
            client,
            scopes,
            issuer=self._policy.issuer,
            audience=self._policy.audience,
            now_ns=self._clock.now_ns(),
            ttl_seconds=self._policy.ttl_seconds,
            token_id=secrets.token_urlsafe(16),
        )
        key = self._keys.signing_key()
        header = {"alg": SIGNING_ALGORITHM, "kid": key.kid, "typ": ACCESS_TOKEN_TYPE}
        token = self._signer.sign(header, claims, key)
        return AccessToken(token, self._policy.ttl_seconds, scopes)
