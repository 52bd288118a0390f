"""Every route of the identity context, bound to one wired Identity for the composition root."""

from fastapi import APIRouter

from openbell.identity.bootstrap import Identity
from openbell.identity.entrypoints import account, http, login, logout, recovery
from openbell.identity.entrypoints.deps import bind_identity


def create_routers(identity: Identity) -> list[APIRouter]:
    """OAuth/OIDC endpoints, the sign-in and sign-out pages, and the /v1 account and
    recovery routes, serving `identity`."""
    bound = APIRouter(dependencies=[bind_identity(identity)])
    for module in (http, login, logout, account, recovery):
        bound.include_router(module.router)
    return [bound]
