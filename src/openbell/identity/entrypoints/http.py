"""The OAuth 2.0 token endpoint (RFC 6749) and the JWKS, as a FastAPI router.

The token endpoint speaks RFC 6749 §5 JSON, not problem+json: OAuth clients parse
`error`, and that is what they get.
"""

import base64
import binascii
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from openbell.identity.adapters.jwt import jwks_document
from openbell.identity.application.tokens import TokenRequest
from openbell.identity.bootstrap import Identity
from openbell.identity.domain.errors import (
    IdentityError,
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    UnsupportedGrantTypeError,
)
from openbell.identity.domain.scopes import format_scopes
from openbell.identity.domain.tokens import AccessToken

TOKEN_PATH = "/oauth/token"  # a URL path, not a secret  # noqa: S105  # nosec B105
JWKS_PATH = "/.well-known/jwks.json"
_FORM = "application/x-www-form-urlencoded"
_MAX_FIELDS = 16
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_BASIC_CHALLENGE = 'Basic realm="openbell", charset="UTF-8"'
_OAUTH_ERRORS = (
    InvalidRequestError,
    InvalidClientError,
    UnsupportedGrantTypeError,
    InvalidScopeError,
)


class TokenResponse(BaseModel):
    """RFC 6749 §5.1 successful token response."""

    access_token: str
    token_type: str = Field(examples=["Bearer"])
    expires_in: int
    scope: str = Field(description="Space-separated scopes granted.")


class OAuthErrorResponse(BaseModel):
    """RFC 6749 §5.2 error response."""

    error: str = Field(
        examples=["invalid_request", "invalid_client", "unsupported_grant_type", "invalid_scope"]
    )
    error_description: str | None = None


class JsonWebKeySet(BaseModel):
    keys: list[dict[str, Any]]


_TOKEN_REQUEST_BODY = {
    "required": True,
    "content": {
        _FORM: {
            "schema": {
                "type": "object",
                "required": ["grant_type"],
                "properties": {
                    "grant_type": {"type": "string", "enum": ["client_credentials"]},
                    "scope": {"type": "string", "description": "Space-separated subset."},
                    "client_id": {"type": "string", "description": "client_secret_post only."},
                    "client_secret": {"type": "string", "description": "client_secret_post only."},
                },
            }
        }
    },
}


class _Credentials(NamedTuple):
    client_id: str | None
    client_secret: str | None


def _oauth_error(error: IdentityError, *, challenge: bool) -> JSONResponse:
    """RFC 6749 §5.2; invalid_client answers 401 with a Basic challenge when `challenge`."""
    status = 400
    headers = dict(_NO_STORE)
    if isinstance(error, InvalidClientError) and challenge:
        status = 401
        headers["WWW-Authenticate"] = _BASIC_CHALLENGE
    body = {"error": error.code, "error_description": str(error)}
    return JSONResponse(body, status_code=status, headers=headers)


def _token_response(token: AccessToken) -> JSONResponse:
    body = TokenResponse(
        access_token=token.token,
        token_type="Bearer",  # RFC 6750's token type, not a secret  # noqa: S106  # nosec B106
        expires_in=token.expires_in,
        scope=format_scopes(token.scopes),
    )
    return JSONResponse(body.model_dump(), headers=_NO_STORE)


async def _read_form(request: Request) -> dict[str, str]:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != _FORM:
        raise InvalidRequestError(f"the token endpoint takes {_FORM}")
    try:
        pairs = parse_qsl(
            (await request.body()).decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=_MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequestError("malformed form body") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise InvalidRequestError("a parameter appears more than once")
    return form


def _basic_credentials(header: str) -> tuple[str, str] | None:
    """Client id and secret from `Basic base64(id:secret)`, each form-urlencoded (RFC 6749)."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        return None
    return unquote_plus(client_id), unquote_plus(secret)


def _credentials(request: Request, form: dict[str, str]) -> _Credentials:
    header = request.headers.get("authorization")
    if header is None:
        return _Credentials(form.get("client_id"), form.get("client_secret"))
    if "client_secret" in form:
        raise InvalidRequestError("use one client authentication method, not two")
    basic = _basic_credentials(header)
    if basic is None:
        return _Credentials(None, None)
    if form.get("client_id", basic[0]) != basic[0]:
        raise InvalidRequestError("client_id differs from the authenticated client")
    return _Credentials(*basic)


def _token_request(form: dict[str, str], credentials: _Credentials) -> TokenRequest:
    grant_type = form.get("grant_type")
    if not grant_type:
        raise InvalidRequestError("grant_type is required")
    return TokenRequest(
        grant_type, credentials.client_id, credentials.client_secret, form.get("scope")
    )


def create_router(identity: Identity) -> APIRouter:
    """The token endpoint and the JWKS, bound to one wired identity context."""
    router = APIRouter(tags=["identity"])

    @router.post(
        TOKEN_PATH,
        summary="Get an access token (OAuth 2.0 client credentials)",
        response_model=TokenResponse,
        responses={400: {"model": OAuthErrorResponse}, 401: {"model": OAuthErrorResponse}},
        openapi_extra={"requestBody": _TOKEN_REQUEST_BODY},
    )
    async def token(request: Request) -> JSONResponse:
        """Authenticate with HTTP Basic (client_secret_basic) or form fields
        (client_secret_post), never both."""
        # A client that tried Basic, or sent no credentials at all, is told to use Basic;
        # a client_secret_post failure answers 400 (RFC 6749 §5.2).
        challenge = request.headers.get("authorization") is not None
        try:
            if "client_secret" in request.query_params:
                raise InvalidRequestError("credentials belong in the body or the header")
            form = await _read_form(request)
            credentials = _credentials(request, form)
            challenge = challenge or credentials.client_id is None
            issued = await identity.tokens.grant(_token_request(form, credentials))
        except _OAUTH_ERRORS as error:
            return _oauth_error(error, challenge=challenge)
        return _token_response(issued)

    @router.get(
        JWKS_PATH, summary="Public keys that verify access tokens", response_model=JsonWebKeySet
    )
    async def jwks() -> JSONResponse:
        document = jwks_document(await identity.keys.public_keys())
        # Verifiers may cache it briefly: a kid they do not know sends them back for more.
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})

    return router
