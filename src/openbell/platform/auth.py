"""Who is calling: the verified principal, the port that verifies tokens, and scope checks."""

from typing import NamedTuple, Protocol

from fastapi import Request
from fastapi.openapi.models import OAuth2 as OAuth2Model
from fastapi.openapi.models import OAuthFlowClientCredentials
from fastapi.openapi.models import OAuthFlows as OAuthFlowsModel
from fastapi.security.base import SecurityBase

from openbell.platform.problems import ProblemError


class Principal(NamedTuple):
    """A caller whose access token verified: who they are and what they may do."""

    subject: str
    client_id: str
    account_id: int | None
    scopes: frozenset[str]
    token_id: str
    expires_at: int


class TokenVerifier(Protocol):
    """Turns a bearer token into a principal, or raises InvalidTokenError."""

    async def verify(self, token: str) -> Principal: ...


class InvalidTokenError(Exception):
    """The token is missing, malformed, expired, revoked or not ours. Never say which."""


def _unauthorized() -> ProblemError:
    return ProblemError(
        401,
        "Unauthorized",
        reason="invalid_token",
        detail="A valid bearer access token is required.",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


async def authenticate(request: Request) -> Principal:
    """Verify the request's bearer token with the verifier the application was built with."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token or " " in token.strip():
        raise _unauthorized()
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return await verifier.verify(token.strip())
    except InvalidTokenError:
        raise _unauthorized() from None


TOKEN_URL = "oauth/token"  # the token endpoint, not a secret  # noqa: S105  # nosec B105
"""Relative, so Swagger UI finds it under any root path. Identity serves it; a split
deployment routes it there through the gateway."""

_CLIENT_CREDENTIALS = OAuthFlowsModel(
    clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL, scopes={})
)


class ScopeRequirement(SecurityBase):
    """A route dependency: the caller must hold a valid bearer token carrying `scope`.

    Being a SecurityBase, it also puts OAuth 2.0 client credentials in the OpenAPI
    document, so Swagger UI can fetch a token and try protected routes.
    """

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.model = OAuth2Model(
            flows=_CLIENT_CREDENTIALS,
            description="Bearer access token from the client credentials grant.",
        )
        self.scheme_name = "OAuth2"
        self.__name__ = f"require_{scope}_scope"

    async def __call__(self, request: Request) -> Principal:
        principal = await authenticate(request)
        if self.scope not in principal.scopes:
            raise ProblemError(
                403,
                "Forbidden",
                reason="insufficient_scope",
                detail=f"This operation needs the '{self.scope}' scope.",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope" scope="{self.scope}"'
                },
            )
        return principal


def require_scope(scope: str) -> ScopeRequirement:
    """A route dependency: `Annotated[Principal, Depends(require_scope("trade"))]`."""
    return ScopeRequirement(scope)
