"""OpenID Connect RP-initiated logout: an application asks to end a user's sign-in with it.

Sign-in state lives in the client's tokens, not in a server-side session, so ending a
sign-in means ending the grants (refresh-token families, and with them their access
tokens) that the user gave that client. Who and which client come from `id_token_hint`,
an ID token we signed (an expired one is fine: it names a past sign-in). The browser goes
back only to a URI registered for that client; anything else is refused, never followed.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from openbell.identity.application.clients import ClientService
from openbell.identity.application.ports import GrantRepository, IdTokenReader
from openbell.identity.application.revocation import RevocationService
from openbell.identity.domain.clients import ApiClient
from openbell.identity.domain.errors import InvalidRequestError
from openbell.identity.domain.revocation import GRANT
from openbell.identity.domain.users import UserId
from openbell.shared.time import Clock


@dataclass(frozen=True, slots=True)
class LogoutRequest:
    """The parameters of OIDC RP-Initiated Logout 1.0 §2 that openbell acts on."""

    id_token_hint: str | None = field(default=None, repr=False)
    client_id: str | None = None
    post_logout_redirect_uri: str | None = None
    state: str | None = None


@dataclass(frozen=True, slots=True)
class LogoutOutcome:
    """Where the browser goes next: the client's URI with `state`, or a signed-out page."""

    redirect_uri: str | None
    state: str | None
    ended_grants: int


class LogoutService:
    def __init__(
        self,
        clients: ClientService,
        id_tokens: IdTokenReader,
        grants: GrantRepository,
        revocations: RevocationService,
        clock: Clock,
    ) -> None:
        self._clients = clients
        self._id_tokens = id_tokens
        self._grants = grants
        self._revocations = revocations
        self._clock = clock

    async def end_session(self, request: LogoutRequest) -> LogoutOutcome:
        """End the hinted user's grants to the client; InvalidRequestError if the request
        names a client or a return URI that does not check out (then nothing is done)."""
        claims = await self._hint(request.id_token_hint)
        client = await self._client(request.client_id, claims)
        redirect_uri = _return_uri(request.post_logout_redirect_uri, client)
        ended = 0
        if claims is not None and client is not None:
            ended = await self._end_grants(UserId(str(claims["sub"])), client.client_id)
        state = request.state if redirect_uri is not None else None
        return LogoutOutcome(redirect_uri, state, ended)

    async def _hint(self, token: str | None) -> Mapping[str, Any] | None:
        if token is None:
            return None
        claims = await self._id_tokens.id_token_claims(token)
        if claims is None or not isinstance(claims.get("sub"), str):
            raise InvalidRequestError("id_token_hint is not an ID token issued here")
        return claims

    async def _client(
        self, client_id: str | None, claims: Mapping[str, Any] | None
    ) -> ApiClient | None:
        hinted = None if claims is None else _audience(claims)
        if client_id is not None and hinted is not None and client_id != hinted:
            raise InvalidRequestError("client_id is not the ID token's audience")
        chosen = client_id or hinted
        if chosen is None:
            return None
        client = await self._clients.get(chosen)
        if client is None or not client.active:
            raise InvalidRequestError("unknown client")
        return client

    async def _end_grants(self, user_id: UserId, client_id: str) -> int:
        now = self._clock.now_ns()
        ended = 0
        for grant in await self._grants.active_grants_of_user(user_id, now):
            if grant.client_id == client_id:
                await self._grants.revoke_grant(grant.grant_id, now)
                await self._revocations.revoke(GRANT, grant.grant_id)
                ended += 1
        return ended


def _audience(claims: Mapping[str, Any]) -> str | None:
    """The one client an ID token was issued to (`aud`, a string or a one-element list)."""
    audience = claims.get("aud")
    if isinstance(audience, list) and len(audience) == 1:
        audience = audience[0]
    return audience if isinstance(audience, str) else None


def _return_uri(uri: str | None, client: ApiClient | None) -> str | None:
    """Only a URI registered for the client, compared exactly (as redirect URIs are)."""
    if uri is None:
        return None
    if client is None or uri not in client.redirect_uris:
        raise InvalidRequestError("post_logout_redirect_uri is not registered for the client")
    return uri
