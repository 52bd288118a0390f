"""The dependencies identity's routes declare, written once (FastAPI's `api/deps.py` pattern).

Routes are module-level functions: they name what they need (`IdentityDep`, `ReaderUser`,
`SteppedUpUser`...) and FastAPI resolves it per request. The wired `Identity` reaches
them through a router-level dependency that `routes.create_routers` binds, so the routes
hold no state of their own and one process can serve several applications (tests do).
"""

from functools import cache
from typing import Annotated

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from openbell.identity.application.users import UserService
from openbell.identity.bootstrap import Identity
from openbell.identity.domain.scopes import ADMIN, OPENID, READ
from openbell.identity.domain.users import User, UserId
from openbell.platform.auth import (
    Principal,
    StepUpRequirement,
    require_scope,
    require_step_up,
    step_up_required,
)
from openbell.platform.problems import ProblemError

NANOSECONDS = 1_000_000_000
_STATE_KEY = "identity"


def bind_identity(identity: Identity) -> DependsParam:
    """A router-level dependency that hands `identity` to every route under the router."""

    async def bind(request: Request) -> None:
        setattr(request.state, _STATE_KEY, identity)

    return DependsParam(bind)


def get_identity(request: Request) -> Identity:
    identity = getattr(request.state, _STATE_KEY, None)
    if not isinstance(identity, Identity):  # a wiring mistake, never a client's
        raise TypeError("identity routes must be mounted through create_routers")
    return identity


IdentityDep = Annotated[Identity, Depends(get_identity)]


def get_users(identity: IdentityDep) -> UserService:
    return identity.users


Users = Annotated[UserService, Depends(get_users)]


class IdentityStepUp(StepUpRequirement):
    """`require_step_up` with the maximum age identity is configured with.

    Still a SecurityBase, so the OpenAPI document describes these routes as before.
    """

    def __init__(self, scope: str) -> None:
        super().__init__(scope, 0)

    async def __call__(self, request: Request) -> Principal:
        max_age = get_identity(request).settings.step_up_max_age_seconds
        return await _step_up(self.scope, max_age)(request)


_step_up = cache(require_step_up)

Reader = Annotated[Principal, Depends(require_scope(READ))]
OpenIdCaller = Annotated[Principal, Depends(require_scope(OPENID))]
SteppedUpReader = Annotated[Principal, Depends(IdentityStepUp(READ))]
SteppedUpAdmin = Annotated[Principal, Depends(IdentityStepUp(ADMIN))]


def invalid_token() -> ProblemError:
    return ProblemError(
        401,
        "Unauthorized",
        reason="invalid_token",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def _not_a_user() -> ProblemError:
    return ProblemError(
        403,
        "Forbidden",
        reason="user_token_required",
        detail="Only a person signed in through the authorization code flow can do this.",
    )


async def _active_user(principal: Principal, identity: Identity) -> User:
    """The person behind a user's token; a client's own token is refused (403)."""
    if not principal.is_user:
        raise _not_a_user()
    user = await identity.users.get(UserId(principal.subject))
    if user is None or not user.active:
        raise invalid_token()
    return user


async def reading_user(principal: Reader, identity: IdentityDep) -> User:
    return await _active_user(principal, identity)


async def stepped_up_user(principal: SteppedUpReader, identity: IdentityDep) -> User:
    return await _active_user(principal, identity)


async def admin_user(principal: SteppedUpAdmin, identity: IdentityDep) -> User:
    return await _active_user(principal, identity)


async def recently_signed_in_user(
    principal: Reader, user: Annotated[User, Depends(reading_user)], identity: IdentityDep
) -> User:
    """Enrolling a factor needs a sign-in within the step-up age (a password at least),
    so a stolen long-lived session cannot bind the thief's authenticator."""
    max_age = identity.settings.step_up_max_age_seconds
    now = identity.clock.now_ns() // NANOSECONDS
    if principal.auth_time is None or now - principal.auth_time > max_age:
        raise step_up_required(max_age)
    return user


ReaderUser = Annotated[User, Depends(reading_user)]
SteppedUpUser = Annotated[User, Depends(stepped_up_user)]
AdminUser = Annotated[User, Depends(admin_user)]
RecentlySignedInUser = Annotated[User, Depends(recently_signed_in_user)]


async def openid_user(principal: OpenIdCaller, identity: IdentityDep) -> User:
    """The person an OIDC access token speaks for; anything else is an invalid token (401)."""
    user = await identity.users.get(UserId(principal.subject)) if principal.is_user else None
    if user is None or not user.active:
        raise invalid_token()
    return user


OpenIdUser = Annotated[User, Depends(openid_user)]
