"""The OAuth 2.0 endpoints: token (RFC 6749), revocation (RFC 7009), introspection
(RFC 7662), JWKS, OIDC discovery and userinfo, as a FastAPI router.

These speak the OAuth error format (RFC 6749 §5.2), not problem+json: OAuth clients
parse `error`, and that is what they get.
"""

import base64
import binascii
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from openbell.identity.adapters.jwt import jwks_document
from openbell.identity.application.client_tokens import TokenQuery
from openbell.identity.application.tokens import TokenRequest
from openbell.identity.domain.errors import (
    IdentityError,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from openbell.identity.domain.scopes import KNOWN_SCOPES, OIDC_SCOPES, format_scopes
from openbell.identity.domain.tokens import TokenGrantResult
from openbell.identity.domain.users import userinfo_claims
from openbell.identity.entrypoints.deps import IdentityDep, OpenIdCaller, OpenIdUser
from openbell.shared.errors import OverloadedError

TOKEN_PATH = "/oauth/token"  # a URL path, not a secret  # noqa: S105  # nosec B105
AUTHORIZE_PATH = "/oauth/authorize"
REVOKE_PATH = "/oauth/revoke"
INTROSPECT_PATH = "/oauth/introspect"
USERINFO_PATH = "/oauth/userinfo"
END_SESSION_PATH = "/oauth/logout"
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/.well-known/jwks.json"
_FORM = "application/x-www-form-urlencoded"
_MAX_FIELDS = 16
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_BASIC_CHALLENGE = 'Basic realm="openbell", charset="UTF-8"'
_OAUTH_ERRORS = (
    InvalidRequestError,
    InvalidClientError,
    InvalidGrantError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
    InvalidScopeError,
    OverloadedError,
)
_BUSY_SECONDS = "1"


class TokenResponse(BaseModel):
    """RFC 6749 §5.1 successful token response."""

    access_token: str
    token_type: str = Field(examples=["Bearer"])
    expires_in: int
    scope: str = Field(description="Space-separated scopes granted.")
    refresh_token: str | None = Field(
        default=None, description="Single-use: each refresh returns a new one."
    )
    id_token: str | None = Field(default=None, description="With the openid scope.")


class OAuthErrorResponse(BaseModel):
    """RFC 6749 §5.2 error response."""

    error: str = Field(
        examples=["invalid_request", "invalid_client", "unsupported_grant_type", "invalid_scope"]
    )
    error_description: str | None = None


class JsonWebKeySet(BaseModel):
    keys: list[dict[str, Any]]


class IntrospectionResponse(BaseModel):
    """RFC 7662 §2.2: `active` always; the rest only for an active token."""

    active: bool
    scope: str | None = None
    client_id: str | None = None
    sub: str | None = None
    token_type: str | None = None
    exp: int | None = None
    iat: int | None = None


def _form_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            _FORM: {"schema": {"type": "object", "required": required, "properties": properties}}
        },
    }


_CLIENT_FIELDS: dict[str, Any] = {
    "client_id": {"type": "string", "description": "client_secret_post, or a public client."},
    "client_secret": {"type": "string", "description": "client_secret_post only."},
}
_TOKEN_REQUEST_BODY = _form_body(
    {
        "grant_type": {
            "type": "string",
            "enum": ["client_credentials", "authorization_code", "refresh_token"],
        },
        "scope": {"type": "string", "description": "Space-separated subset."},
        "code": {"type": "string"},
        "redirect_uri": {"type": "string"},
        "code_verifier": {"type": "string", "description": "PKCE (RFC 7636), S256 only."},
        "refresh_token": {"type": "string"},
        **_CLIENT_FIELDS,
    },
    ["grant_type"],
)
_TOKEN_FORM_BODY = _form_body(
    {
        "token": {"type": "string"},
        "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
        **_CLIENT_FIELDS,
    },
    ["token"],
)


class _Credentials(NamedTuple):
    client_id: str | None
    client_secret: str | None


def _oauth_error(error: IdentityError | OverloadedError, *, challenge: bool) -> JSONResponse:
    """RFC 6749 §5.2; invalid_client answers 401 with a Basic challenge when `challenge`;
    too much hashing queued answers 503 `temporarily_unavailable` with Retry-After."""
    headers = dict(_NO_STORE)
    if isinstance(error, OverloadedError):
        busy = {"error": "temporarily_unavailable", "error_description": "retry shortly"}
        return JSONResponse(busy, status_code=503, headers=headers | {"Retry-After": _BUSY_SECONDS})
    status = 400
    if isinstance(error, InvalidClientError) and challenge:
        status = 401
        headers["WWW-Authenticate"] = _BASIC_CHALLENGE
    body = {"error": error.code, "error_description": str(error)}
    return JSONResponse(body, status_code=status, headers=headers)


def _token_response(issued: TokenGrantResult) -> JSONResponse:
    token = issued.access
    body = TokenResponse(
        access_token=token.token,
        token_type="Bearer",  # RFC 6750's token type, not a secret  # noqa: S106  # nosec B106
        expires_in=token.expires_in,
        scope=format_scopes(token.scopes),
        refresh_token=issued.refresh_token,
        id_token=issued.id_token,
    )
    return JSONResponse(body.model_dump(exclude_none=True), headers=_NO_STORE)


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
        grant_type,
        credentials.client_id,
        credentials.client_secret,
        form.get("scope"),
        code=form.get("code"),
        redirect_uri=form.get("redirect_uri"),
        code_verifier=form.get("code_verifier"),
        refresh_token=form.get("refresh_token"),
    )


def discovery_document(issuer: str) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 / RFC 8414 metadata."""
    base = issuer.rstrip("/")
    return {
        "issuer": issuer,
        "authorization_endpoint": base + AUTHORIZE_PATH,
        "token_endpoint": base + TOKEN_PATH,
        "revocation_endpoint": base + REVOKE_PATH,
        "introspection_endpoint": base + INTROSPECT_PATH,
        "userinfo_endpoint": base + USERINFO_PATH,
        "end_session_endpoint": base + END_SESSION_PATH,
        "jwks_uri": base + JWKS_PATH,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "scopes_supported": sorted(KNOWN_SCOPES | OIDC_SCOPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "acr_values_supported": ["urn:openbell:acr:pwd", "urn:openbell:acr:mfa"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "acr",
            "amr",
            "nonce",
            "email",
            "email_verified",
            "name",
        ],
        "prompt_values_supported": ["login", "none"],
        "authorization_response_iss_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }


def _token_query(request: Request, form: dict[str, str]) -> TokenQuery:
    credentials = _credentials(request, form)
    return TokenQuery(credentials.client_id, credentials.client_secret, form.get("token"))


async def _token_form(request: Request) -> TokenQuery:
    """The revocation and introspection form (RFC 7009 §2.1, RFC 7662 §2.1)."""
    if "client_secret" in request.query_params or "token" in request.query_params:
        raise InvalidRequestError("parameters belong in the body")
    return _token_query(request, await _read_form(request))


router = APIRouter(tags=["identity"])


@router.post(
    TOKEN_PATH,
    summary="Get an access token (OAuth 2.0 client credentials)",
    response_model=TokenResponse,
    responses={
        400: {"model": OAuthErrorResponse},
        401: {"model": OAuthErrorResponse},
        503: {"model": OAuthErrorResponse},
    },
    openapi_extra={"requestBody": _TOKEN_REQUEST_BODY},
)
async def token(request: Request, identity: IdentityDep) -> JSONResponse:
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
        issued = await identity.tokens.grant_tokens(_token_request(form, credentials))
    except _OAUTH_ERRORS as error:
        return _oauth_error(error, challenge=challenge)
    return _token_response(issued)


@router.post(
    REVOKE_PATH,
    summary="Revoke an access or refresh token (RFC 7009)",
    status_code=200,
    responses={
        400: {"model": OAuthErrorResponse},
        401: {"model": OAuthErrorResponse},
        503: {"model": OAuthErrorResponse},
    },
    openapi_extra={"requestBody": _TOKEN_FORM_BODY},
)
async def revoke(request: Request, identity: IdentityDep) -> Response:
    """A refresh token ends its whole grant (and the grant's access tokens); an access
    token is refused everywhere within a second. Unknown tokens answer 200 too."""
    try:
        await identity.client_tokens.revoke(await _token_form(request))
    except _OAUTH_ERRORS as error:
        return _oauth_error(error, challenge=True)
    return Response(status_code=200, headers=_NO_STORE)


@router.post(
    INTROSPECT_PATH,
    summary="Introspect a token (RFC 7662)",
    response_model=IntrospectionResponse,
    responses={
        400: {"model": OAuthErrorResponse},
        401: {"model": OAuthErrorResponse},
        503: {"model": OAuthErrorResponse},
    },
    openapi_extra={"requestBody": _TOKEN_FORM_BODY},
)
async def introspect(request: Request, identity: IdentityDep) -> JSONResponse:
    """For confidential clients, about tokens issued to them; any other token is
    reported inactive, so a client learns nothing of others' tokens."""
    try:
        body = await identity.client_tokens.introspect(await _token_form(request))
    except _OAUTH_ERRORS as error:
        return _oauth_error(error, challenge=True)
    return JSONResponse(dict(body), headers=_NO_STORE)


@router.get(DISCOVERY_PATH, summary="OpenID Connect discovery document")
async def discovery(identity: IdentityDep) -> JSONResponse:
    return JSONResponse(
        discovery_document(identity.settings.issuer),
        headers={"Cache-Control": "public, max-age=300"},
    )


async def userinfo(principal: OpenIdCaller, user: OpenIdUser) -> JSONResponse:
    """OIDC Core §5.3: claims about the signed-in user, as the token's scopes allow."""
    return JSONResponse(userinfo_claims(user, principal.scopes), headers=_NO_STORE)


for _method in ("GET", "POST"):
    router.add_api_route(
        USERINFO_PATH,
        userinfo,
        methods=[_method],
        summary="Claims about the signed-in user (OIDC)",
        operation_id=f"userinfo_{_method.lower()}",
    )


@router.get(
    JWKS_PATH, summary="Public keys that verify access tokens", response_model=JsonWebKeySet
)
async def jwks(identity: IdentityDep) -> JSONResponse:
    document = jwks_document(await identity.keys.public_keys())
    # Verifiers may cache it briefly: a kid they do not know sends them back for more.
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})
