"""Account recovery over /v1: a mailed, single-use token sets a new password.

Asking answers 202 with the same body, in the same time, for every address, so the
route cannot be used to learn who has an account. The rules (who gets a mail, how
often, what a token may do) live in `UserService`; these routes only translate.
"""

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from openbell.identity.domain.errors import (
    InvalidGrantError,
    InvalidUserDefinitionError,
    WeakPasswordError,
)
from openbell.identity.entrypoints.deps import Users
from openbell.identity.entrypoints.models import StrictRequest
from openbell.platform.problems import PROBLEM_CONTENT, ProblemError


class RecoverRequest(StrictRequest):
    email: str = Field(max_length=254)


class RecoverConfirmRequest(StrictRequest):
    token: str = Field(min_length=1, max_length=256)
    new_password: str = Field(max_length=1024)


class RecoverResponse(BaseModel):
    status: str = Field(examples=["recovery_sent"])


router = APIRouter(prefix="/v1", tags=["account"])


@router.post(
    "/users/recover",
    status_code=202,
    summary="Ask for a password reset mail",
    responses={422: {"description": "Not a plain email address", **PROBLEM_CONTENT}},
)
async def recover(body: RecoverRequest, users: Users) -> RecoverResponse:
    """The same answer, in the same time, whether or not the address has an account."""
    try:
        await users.request_recovery(body.email)
    except InvalidUserDefinitionError as error:
        raise ProblemError(
            422, "Unprocessable Content", reason="invalid_email", detail=str(error)
        ) from None
    return RecoverResponse(status="recovery_sent")


@router.post(
    "/users/recover/confirm",
    status_code=204,
    summary="Set a new password with a mailed recovery token",
    responses={
        400: {"description": "Unknown, used or expired token", **PROBLEM_CONTENT},
        422: {"description": "Weak new password (the token still works)", **PROBLEM_CONTENT},
    },
)
async def confirm_recovery(body: RecoverConfirmRequest, users: Users) -> Response:
    """Every session and token of the user ends; second factors stay as they were."""
    try:
        await users.recover(body.token, body.new_password)
    except InvalidGrantError:
        detail = "The token is unknown, used or expired."
        raise ProblemError(400, "Bad Request", reason="invalid_token", detail=detail) from None
    except WeakPasswordError as error:
        raise ProblemError(
            422, "Unprocessable Content", reason="weak_password", detail=str(error)
        ) from None
    return Response(status_code=204)
