"""What a client may do with a token it holds: end it (RFC 7009) or ask about it (RFC 7662).

The decisions live here so the HTTP layer only parses the form and maps errors: a client
acts on its own tokens only; anyone else's token, or a token of no one, is answered as if
it were unknown, so a client learns nothing about tokens it was not issued.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from openbell.identity.application.clients import ClientService
from openbell.identity.application.ports import AccessTokenInspector
from openbell.identity.application.revocation import RevocationService
from openbell.identity.application.tokens import REFRESH_TOKEN_PREFIX, TokenService
from openbell.identity.domain.errors import InvalidClientError, InvalidRequestError
from openbell.identity.domain.revocation import TOKEN
from openbell.identity.domain.scopes import format_scopes

ACCESS_TOKEN_TYPE_HINT: Final = "access_token"  # RFC 7009 names  # noqa: S105  # nosec B105
REFRESH_TOKEN_TYPE_HINT: Final = "refresh_token"  # noqa: S105  # nosec B105
NANOSECONDS: Final = 1_000_000_000
INACTIVE: Final[Mapping[str, Any]] = {"active": False}
_SHOWN_CLAIMS: Final = (
    "scope",
    "client_id",
    "sub",
    "exp",
    "iat",
    "nbf",
    "jti",
    "iss",
    "aud",
    "acr",
    "amr",
    "auth_time",
    "acct",
    "sid",
)


@dataclass(frozen=True, slots=True)
class TokenQuery:
    """A client's credentials and the token it asks about, as the request carried them."""

    client_id: str | None
    client_secret: str | None = field(repr=False)
    token: str | None = field(repr=False)


class ClientTokenService:
    def __init__(
        self,
        clients: ClientService,
        tokens: TokenService,
        inspector: AccessTokenInspector,
        revocations: RevocationService,
    ) -> None:
        self._clients = clients
        self._tokens = tokens
        self._inspector = inspector
        self._revocations = revocations

    async def revoke(self, query: TokenQuery) -> None:
        """RFC 7009: a refresh token ends its whole grant; an access token is refused
        everywhere within a second. Unknown tokens and others' tokens change nothing."""
        client = await self._clients.identify(query.client_id, query.client_secret)
        token = _required(query.token)
        if token.startswith(REFRESH_TOKEN_PREFIX):
            await self._tokens.revoke_refresh_token(client, token)
            return
        claims = await self._inspector.signed_claims(token)
        if claims is not None and claims.get("client_id") == client.client_id:
            await self._revocations.revoke(TOKEN, str(claims["jti"]), expires_at=int(claims["exp"]))

    async def introspect(self, query: TokenQuery) -> Mapping[str, Any]:
        """RFC 7662, for confidential clients about their own tokens; any other is inactive."""
        if query.client_secret is None:
            raise InvalidClientError("client authentication is required")
        client = await self._clients.identify(query.client_id, query.client_secret)
        token = _required(query.token)
        if token.startswith(REFRESH_TOKEN_PREFIX):
            return await self._refresh_token_info(client.client_id, token)
        claims = await self._inspector.signed_claims(token)
        if claims is None or claims.get("client_id") != client.client_id:
            return INACTIVE
        if not self._inspector.active(claims):
            return INACTIVE
        shown = {name: claims[name] for name in _SHOWN_CLAIMS if name in claims}
        return {"active": True, "token_type": ACCESS_TOKEN_TYPE_HINT, **shown}

    async def _refresh_token_info(self, client_id: str, token: str) -> Mapping[str, Any]:
        found = await self._tokens.refresh_token_info(token)
        if found is None or found[0].client_id != client_id:
            return INACTIVE
        refresh, grant = found
        return {
            "active": True,
            "token_type": REFRESH_TOKEN_TYPE_HINT,
            "client_id": client_id,
            "sub": grant.user_id,
            "scope": format_scopes(grant.scopes),
            "exp": refresh.expires_at // NANOSECONDS,
            "iat": refresh.created_at // NANOSECONDS,
        }


def _required(token: str | None) -> str:
    if not token:
        raise InvalidRequestError("token is required")
    return token
