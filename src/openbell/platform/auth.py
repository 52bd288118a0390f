"""Who is calling: the verified principal, the port that verifies tokens, and scope checks."""

from collections.abc import Awaitable, Callable
from typing import NamedTuple, Protocol

from fastapi import Request

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


def require_scope(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """A route dependency: the caller must hold a valid token carrying `scope`."""

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if scope not in principal.scopes:
            raise ProblemError(
                403,
                "Forbidden",
                reason="insufficient_scope",
                detail=f"This operation needs the '{scope}' scope.",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope" scope="{scope}"'},
            )
        return principal

    dependency.__name__ = f"require_{scope}_scope"
    return dependency
