"""Who is calling: the verified principal, the port that verifies tokens, and scope checks."""

import time
from typing import Any, NamedTuple, Protocol

from fastapi import Request
from fastapi.openapi.models import OAuth2 as OAuth2Model
from fastapi.openapi.models import OAuthFlowClientCredentials
from fastapi.openapi.models import OAuthFlows as OAuthFlowsModel
from fastapi.security.base import SecurityBase
from starlette.types import Scope

from openbell.platform.problems import ProblemError


class Principal(NamedTuple):
    """A caller whose access token verified: who they are and what they may do."""

    subject: str
    client_id: str
    account_id: int | None
    scopes: frozenset[str]
    token_id: str
    expires_at: int
    acr: str | None = None
    """How the user signed in (OIDC `acr`); None for a client acting for itself."""
    amr: frozenset[str] = frozenset()
    auth_time: int | None = None
    """When the user last proved who they are, in seconds since the Unix epoch."""

    @property
    def is_user(self) -> bool:
        """A person signed in through a client, rather than a client acting for itself."""
        return self.auth_time is not None and self.subject != self.client_id


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
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verify_bearer(verifier, request.headers.get("authorization", ""))


async def verify_bearer(verifier: TokenVerifier, authorization: str) -> Principal:
    """The principal of an Authorization header's bearer token; 401 for anything else."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token or " " in token.strip():
        raise _unauthorized()
    try:
        return await verifier.verify(token.strip())
    except InvalidTokenError:
        raise _unauthorized() from None


def _authorization(scope: Scope) -> str:
    # The first Authorization header, as Starlette's Request.headers reads it.
    for name, value in scope["headers"]:
        if name == b"authorization":
            text: str = value.decode("latin-1")
            return text
    return ""


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
        return self.permit(await authenticate(request))

    async def authorize(self, scope: Scope) -> Principal:
        """The same check for a bare ASGI endpoint, from its request's scope."""
        verifier: TokenVerifier = scope["app"].state.token_verifier
        return self.permit(await verify_bearer(verifier, _authorization(scope)))

    def permit(self, principal: Principal) -> Principal:
        """The principal if its token carries the scope; 403 otherwise."""
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


STEP_UP_ACR = "urn:openbell:acr:mfa"
"""The `acr` of a sign-in proven with a second factor."""


def step_up_satisfied(
    principal: Principal, max_age_seconds: int, *, now: float, skew_seconds: int = 0
) -> bool:
    """A person signed in with a second factor no more than `max_age_seconds` ago.

    `skew_seconds` tolerates an issuer whose clock runs slightly ahead of this one.
    """
    if not principal.is_user or principal.acr != STEP_UP_ACR or principal.auth_time is None:
        return False
    return -skew_seconds <= now - principal.auth_time <= max_age_seconds


def _now_seconds(state: Any) -> float:  # noqa: ANN401  # the application's State
    # Tests hand the application a clock in `app.state.clock`; servers use the wall clock.
    clock = getattr(state, "clock", None)
    return clock.now_ns() / 1e9 if clock is not None else time.time()


def step_up_required(max_age_seconds: int) -> ProblemError:
    """RFC 9470's challenge: sign in again with `acr_values` and `max_age`, then retry."""
    return ProblemError(
        401,
        "Unauthorized",
        reason="step_up_required",
        detail="This action needs a fresh sign-in with a second factor.",
        headers={
            "WWW-Authenticate": (
                'Bearer error="insufficient_user_authentication", '
                f'acr_values="{STEP_UP_ACR}", max_age={max_age_seconds}'
            )
        },
    )


class StepUpRequirement(ScopeRequirement):
    """`require_scope`, and also a second factor proven within `max_age_seconds`."""

    def __init__(self, scope: str, max_age_seconds: int) -> None:
        super().__init__(scope)
        self.max_age_seconds = max_age_seconds
        self.__name__ = f"require_{scope}_scope_with_step_up"

    async def __call__(self, request: Request) -> Principal:
        return self._stepped_up(await super().__call__(request), request.app.state)

    async def authorize(self, scope: Scope) -> Principal:
        return self._stepped_up(await super().authorize(scope), scope["app"].state)

    def _stepped_up(self, principal: Principal, state: Any) -> Principal:  # noqa: ANN401  # State
        settings = getattr(state, "settings", None)
        skew = getattr(settings, "token_leeway_seconds", 0)
        now = _now_seconds(state)
        if not step_up_satisfied(principal, self.max_age_seconds, now=now, skew_seconds=skew):
            raise step_up_required(self.max_age_seconds)
        return principal


def require_step_up(scope: str, max_age_seconds: int = 300) -> StepUpRequirement:
    """A route dependency for sensitive actions (withdrawals, API keys): scope + fresh MFA."""
    return StepUpRequirement(scope, max_age_seconds)
