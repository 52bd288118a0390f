"""Every router of the identity context, for the composition root to mount."""

from fastapi import APIRouter

from openbell.identity.bootstrap import Identity
from openbell.identity.entrypoints.account import create_account_router
from openbell.identity.entrypoints.http import create_router
from openbell.identity.entrypoints.login import create_login_router
from openbell.identity.entrypoints.recovery import create_recovery_router


def create_routers(identity: Identity) -> list[APIRouter]:
    """OAuth/OIDC endpoints, the sign-in page, and the /v1 account and recovery routes."""
    return [
        create_router(identity),
        create_login_router(identity),
        create_account_router(identity),
        create_recovery_router(identity),
    ]
