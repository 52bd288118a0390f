"""The authorization endpoint's use case (RFC 6749 §4.1, RFC 7636, OIDC Core §3.1.2).

Validation follows RFC 6749 §4.1.2.1: an unknown client or a redirect URI that is not
registered is shown to the user and never redirected to; every other error goes back
to the client's redirect URI with `error`, `state` and `iss` (RFC 9207).
"""

from collections.abc import Mapping
from dataclasses import dataclass

from openbell.identity.application.clients import ClientService
from openbell.identity.application.tokens import TokenService, parse_requested_scopes
from openbell.identity.domain.clients import AUTHORIZATION_CODE, ApiClient
from openbell.identity.domain.errors import (
    IdentityError,
    InvalidRequestError,
    InvalidScopeError,
    LoginRequiredError,
    UnsupportedResponseTypeError,
)
from openbell.identity.domain.grants import (
    MAX_NONCE_LENGTH,
    MAX_STATE_LENGTH,
    AuthorizationRequest,
    check_code_challenge,
)
from openbell.identity.domain.mfa import ACR_MFA

SUPPORTED_PARAMETERS = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "nonce",
        "acr_values",
        "max_age",
        "prompt",
        "login_hint",
        "response_mode",
    }
)


class UnregisteredRedirectError(IdentityError):
    """The client or its redirect URI is unknown: the error is shown, never redirected."""


@dataclass(frozen=True, slots=True)
class RedirectableError(Exception):
    """An authorization error to send back to the client's (registered) redirect URI."""

    error: IdentityError
    redirect_uri: str
    state: str | None


class AuthorizationService:
    def __init__(self, clients: ClientService, tokens: TokenService) -> None:
        self._clients = clients
        self._tokens = tokens

    async def validate(self, params: Mapping[str, str]) -> tuple[ApiClient, AuthorizationRequest]:
        client = await self._clients.get(params.get("client_id", ""))
        if client is None or not client.active or AUTHORIZATION_CODE not in client.grant_types:
            raise UnregisteredRedirectError("unknown client")
        redirect_uri = params.get("redirect_uri")
        if redirect_uri is None and len(client.redirect_uris) == 1:
            redirect_uri = client.redirect_uris[0]
        if redirect_uri is None or redirect_uri not in client.redirect_uris:
            # Exact string match only: no prefix, no pattern (OAuth 2.1 §2.3.1).
            raise UnregisteredRedirectError("the redirect URI is not registered for this client")
        state = params.get("state")
        try:
            if state is not None and len(state) > MAX_STATE_LENGTH:
                state = None
                raise InvalidRequestError("state too long")
            return client, self._checked(client, redirect_uri, state, params)
        except IdentityError as error:
            raise RedirectableError(error, redirect_uri, state) from None

    def _checked(
        self, client: ApiClient, redirect_uri: str, state: str | None, params: Mapping[str, str]
    ) -> AuthorizationRequest:
        response_type = params.get("response_type")
        if response_type is None:
            raise InvalidRequestError("response_type is required")
        if response_type != "code":
            raise UnsupportedResponseTypeError("only the authorization code flow is supported")
        if params.get("response_mode", "query") != "query":
            raise InvalidRequestError("only response_mode=query is supported")
        challenge = check_code_challenge(
            params.get("code_challenge"), params.get("code_challenge_method")
        )
        scopes = parse_requested_scopes(params.get("scope")) or client.scopes
        if not scopes <= client.scopes:
            raise InvalidScopeError("requested scope exceeds the client's scopes")
        nonce = params.get("nonce")
        if nonce is not None and len(nonce) > MAX_NONCE_LENGTH:
            raise InvalidRequestError("nonce too long")
        prompt = set((params.get("prompt") or "").split())
        if "none" in prompt:
            # No sign-in session outlives a login here, so there is never one to reuse.
            raise LoginRequiredError("a sign-in is required")
        max_age = params.get("max_age")
        if max_age is not None and not max_age.isdigit():
            raise InvalidRequestError("max_age must be a non-negative integer")
        acr_values = (params.get("acr_values") or "").split()
        return AuthorizationRequest(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=state,
            code_challenge=challenge,
            nonce=nonce,
            require_mfa=ACR_MFA in acr_values,
        )
