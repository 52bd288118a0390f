"""Users' own account over /v1: registration, verification, password, MFA, API clients.

Every route answers problem+json (RFC 9457), refuses unknown fields, and acts only on
the caller's own user: another user's client answers 404, exactly as a missing one.
Sensitive changes (MFA removal, new recovery codes, API clients and their secrets)
need a step-up: a second factor proven within `step_up_max_age_seconds`.
"""

from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from openbell.identity.domain.clients import ApiClient
from openbell.identity.domain.errors import (
    AuthenticationFailedError,
    CannotDisableSelfError,
    InvalidClientDefinitionError,
    InvalidGrantError,
    InvalidUserDefinitionError,
    MfaError,
    NoTradingAccountError,
    UnownedScopeError,
    WeakPasswordError,
)
from openbell.identity.entrypoints.deps import (
    AdminUser,
    IdentityDep,
    ReaderUser,
    RecentlySignedInUser,
    SteppedUpUser,
)
from openbell.identity.entrypoints.models import StrictRequest
from openbell.platform.problems import PROBLEM_CONTENT, ProblemError
from openbell.shared.errors import NotFoundError

PREFIX: Final = "/v1"
_AUTH: Final[dict[int | str, dict[str, Any]]] = {
    401: {"description": "Missing or invalid token, or a step-up is needed", **PROBLEM_CONTENT},
    403: {"description": "Missing scope, or not a user's token", **PROBLEM_CONTENT},
}
ClientIdPath = Annotated[str, Path(min_length=1, max_length=64)]


class RegisterRequest(StrictRequest):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    name: str = Field(default="", max_length=200)


class RegisterResponse(BaseModel):
    status: str = Field(examples=["verification_sent"])


class VerifyRequest(StrictRequest):
    token: str = Field(min_length=1, max_length=256)


class UserResponse(BaseModel):
    user_id: str
    email: str
    name: str
    roles: list[str]
    status: str
    account_id: int | None
    mfa_enabled: bool
    recovery_codes_remaining: int


class ChangePasswordRequest(StrictRequest):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class TotpSetupResponse(BaseModel):
    otpauth_uri: str
    secret: str = Field(description="The same secret as in the URI, for manual entry.")


class CodeRequest(StrictRequest):
    code: str = Field(min_length=6, max_length=64)


class RecoveryCodesResponse(BaseModel):
    recovery_codes: list[str] = Field(description="Shown once; each works once.")


class CreateClientRequest(StrictRequest):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1, max_length=8)


class CreateOperatorClientRequest(StrictRequest):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1, max_length=8, examples=[["ops"]])
    account_id: int | None = Field(default=None, ge=0, description="For read/trade only.")
    reason: str = Field(min_length=1, max_length=500, description="Why; recorded with your id.")


class ChangeScopesRequest(StrictRequest):
    scopes: list[str] = Field(min_length=1, max_length=8)


class ClientResponse(BaseModel):
    client_id: str
    name: str
    scopes: list[str]
    account_id: int | None
    created_at: int
    revoked: bool


class IssuedClientResponse(ClientResponse):
    client_secret: str = Field(description="Shown once; only its hash is stored.")


def _problem(status: int, reason: str, detail: str) -> ProblemError:
    titles = {400: "Bad Request", 404: "Not Found", 409: "Conflict", 422: "Unprocessable Content"}
    return ProblemError(status, titles.get(status, "Error"), reason=reason, detail=detail)


def _client_problem(error: Exception) -> ProblemError:
    """How a refused client definition reads over /v1."""
    if isinstance(error, UnownedScopeError):
        return _problem(422, "invalid_scope", str(error))
    if isinstance(error, NoTradingAccountError):
        return _problem(422, "no_trading_account", str(error))
    if isinstance(error, NotFoundError):
        return _problem(404, "client_not_found", "No such client.")
    return _problem(422, "invalid_client", str(error))


def _client_response(client: ApiClient) -> ClientResponse:
    return ClientResponse(
        client_id=client.client_id,
        name=client.name,
        scopes=sorted(client.scopes),
        account_id=client.account_id,
        created_at=client.created_at,
        revoked=not client.active,
    )


def _issued_response(client: ApiClient, secret: str) -> IssuedClientResponse:
    return IssuedClientResponse(**_client_response(client).model_dump(), client_secret=secret)


router = APIRouter(prefix=PREFIX, tags=["account"])


@router.post(
    "/users",
    status_code=202,
    summary="Register as a trader",
    responses={422: {"description": "Weak password or invalid email", **PROBLEM_CONTENT}},
)
async def register(body: RegisterRequest, identity: IdentityDep) -> RegisterResponse:
    """The answer is the same whether or not the address is registered already."""
    try:
        await identity.users.register(email=body.email, password=body.password, name=body.name)
    except WeakPasswordError as error:
        raise _problem(422, "weak_password", str(error)) from None
    except InvalidUserDefinitionError as error:
        raise _problem(422, "invalid_user", str(error)) from None
    return RegisterResponse(status="verification_sent")


@router.post(
    "/users/verify",
    summary="Confirm an email address with its token",
    responses={400: {"description": "Unknown, used or expired token", **PROBLEM_CONTENT}},
)
async def verify(body: VerifyRequest, identity: IdentityDep) -> RegisterResponse:
    try:
        await identity.users.verify_email(body.token)
    except InvalidGrantError:
        raise _problem(400, "invalid_token", "The token is unknown, used or expired.") from None
    return RegisterResponse(status="verified")


@router.get("/me", summary="Your user", responses=_AUTH)
async def me(user: ReaderUser, identity: IdentityDep) -> UserResponse:
    return UserResponse(
        user_id=user.user_id,
        email=user.email,
        name=user.name,
        roles=sorted(role.value for role in user.roles),
        status=user.status.value,
        account_id=user.account_id,
        mfa_enabled=await identity.mfa.enrolled(user.user_id),
        recovery_codes_remaining=await identity.mfa.remaining_recovery_codes(user.user_id),
    )


@router.post(
    "/me/password",
    status_code=204,
    summary="Change your password",
    responses={
        **_AUTH,
        422: {"description": "Wrong current password or weak new one", **PROBLEM_CONTENT},
    },
)
async def change_password(
    body: ChangePasswordRequest, user: ReaderUser, identity: IdentityDep, request: Request
) -> Response:
    """Every session and token of yours ends; sign in again with the new password."""
    address = request.client.host if request.client else None
    try:
        await identity.login.check_password(user.email, body.current_password, address=address)
        await identity.users.change_password(user, body.new_password)
    except AuthenticationFailedError:
        raise _problem(422, "invalid_credentials", "The current password is wrong.") from None
    except WeakPasswordError as error:
        raise _problem(422, "weak_password", str(error)) from None
    return Response(status_code=204)


@router.post(
    "/me/mfa/totp",
    status_code=201,
    summary="Start TOTP enrolment",
    responses={**_AUTH, 409: {"description": "TOTP is enrolled already", **PROBLEM_CONTENT}},
)
async def begin_totp(user: RecentlySignedInUser, identity: IdentityDep) -> TotpSetupResponse:
    try:
        setup = await identity.mfa.begin_totp(user.user_id, user.email)
    except MfaError as error:
        raise _problem(409, "mfa_enrolled", str(error)) from None
    return TotpSetupResponse(otpauth_uri=setup.otpauth_uri, secret=setup.secret)


@router.post(
    "/me/mfa/totp/confirm",
    summary="Confirm TOTP with a first code",
    responses={
        **_AUTH,
        422: {"description": "Wrong code or nothing to confirm", **PROBLEM_CONTENT},
    },
)
async def confirm_totp(
    body: CodeRequest, user: RecentlySignedInUser, identity: IdentityDep
) -> RecoveryCodesResponse:
    try:
        codes = await identity.mfa.confirm_totp(user.user_id, body.code)
    except MfaError as error:
        raise _problem(422, "invalid_code", str(error)) from None
    return RecoveryCodesResponse(recovery_codes=codes)


@router.delete("/me/mfa/totp", status_code=204, summary="Remove TOTP", responses=_AUTH)
async def remove_totp(user: SteppedUpUser, identity: IdentityDep) -> Response:
    await identity.mfa.remove_totp(user.user_id)
    return Response(status_code=204)


@router.post("/me/mfa/recovery-codes", summary="Replace your recovery codes", responses=_AUTH)
async def new_recovery_codes(user: SteppedUpUser, identity: IdentityDep) -> RecoveryCodesResponse:
    try:
        codes = await identity.mfa.new_recovery_codes(user.user_id)
    except MfaError:
        raise _problem(409, "mfa_not_enrolled", "Enrol TOTP first.") from None
    return RecoveryCodesResponse(recovery_codes=codes)


@router.get("/me/clients", summary="Your API clients", responses=_AUTH)
async def list_clients(user: ReaderUser, identity: IdentityDep) -> list[ClientResponse]:
    clients = await identity.clients.list_clients(owner_user_id=user.user_id)
    return [_client_response(client) for client in clients]


@router.post(
    "/me/clients",
    status_code=201,
    summary="Create an API client",
    responses={**_AUTH, 422: {"description": "Invalid name or scopes", **PROBLEM_CONTENT}},
)
async def create_client(
    body: CreateClientRequest, user: SteppedUpUser, identity: IdentityDep
) -> IssuedClientResponse:
    """For your trading account, with at most your own scopes (never withdraw); the
    secret is shown once."""
    try:
        issued = await identity.clients.create_user_client(user, name=body.name, scopes=body.scopes)
    except InvalidClientDefinitionError as error:
        raise _client_problem(error) from None
    return _issued_response(issued.client, issued.client_secret)


@router.delete(
    "/me/clients/{client_id}",
    summary="Revoke one of your API clients",
    responses={**_AUTH, 404: {"description": "No such client of yours", **PROBLEM_CONTENT}},
)
async def revoke_client(
    client_id: ClientIdPath, user: ReaderUser, identity: IdentityDep
) -> ClientResponse:
    """Its tokens are refused within a second everywhere."""
    try:
        revoked = await identity.clients.revoke_client(client_id, owner_user_id=user.user_id)
    except NotFoundError as error:
        raise _client_problem(error) from None
    return _client_response(revoked)


@router.patch(
    "/me/clients/{client_id}",
    summary="Change one of your API clients' scopes",
    responses={
        **_AUTH,
        404: {"description": "No such client of yours", **PROBLEM_CONTENT},
        422: {"description": "Scopes beyond yours, or withdraw", **PROBLEM_CONTENT},
    },
)
async def change_client_scopes(
    client_id: ClientIdPath, body: ChangeScopesRequest, user: SteppedUpUser, identity: IdentityDep
) -> ClientResponse:
    """Its tokens issued so far are refused within a second; new ones carry the new
    scopes."""
    try:
        changed = await identity.clients.change_user_client_scopes(user, client_id, body.scopes)
    except (InvalidClientDefinitionError, NotFoundError) as error:
        raise _client_problem(error) from None
    return _client_response(changed)


@router.post(
    "/me/clients/{client_id}/secret",
    summary="Rotate an API client's secret",
    responses={**_AUTH, 404: {"description": "No such client of yours", **PROBLEM_CONTENT}},
)
async def rotate_secret(
    client_id: ClientIdPath, user: SteppedUpUser, identity: IdentityDep
) -> IssuedClientResponse:
    """The old secret keeps working for `client_secret_overlap_seconds`, then stops."""
    try:
        issued = await identity.clients.rotate_secret(client_id, owner_user_id=user.user_id)
    except NotFoundError as error:
        raise _client_problem(error) from None
    return _issued_response(issued.client, issued.client_secret)


@router.post(
    "/users/{user_id}/disable",
    summary="Disable a user (admin)",
    responses={**_AUTH, 404: {"description": "No such user", **PROBLEM_CONTENT}},
)
async def disable_user(
    user_id: Annotated[str, Path(min_length=1, max_length=40)],
    admin: AdminUser,
    identity: IdentityDep,
) -> RegisterResponse:
    """Sign-ins stop; the user's sessions, tokens and API clients end within a second."""
    try:
        await identity.users.disable(user_id, by=admin.user_id)
    except CannotDisableSelfError:
        raise _problem(409, "cannot_disable_self", "An admin cannot disable themselves.") from None
    except NotFoundError:
        raise _problem(404, "user_not_found", "No such user.") from None
    return RegisterResponse(status="disabled")


@router.post(
    "/clients",
    status_code=201,
    summary="Register a program's API client (admin)",
    responses={
        **_AUTH,
        422: {"description": "Scopes no program may hold, or no reason", **PROBLEM_CONTENT},
    },
)
async def create_operator_client(
    body: CreateOperatorClientRequest, admin: AdminUser, identity: IdentityDep
) -> IssuedClientResponse:
    """`ops` alone for an operator's program, or read/trade for a trading account; never
    admin, audit or withdraw. The secret is shown once."""
    try:
        issued = await identity.clients.create_operator_client(
            admin,
            name=body.name,
            scopes=body.scopes,
            reason=body.reason,
            account_id=body.account_id,
        )
    except InvalidClientDefinitionError as error:
        raise _client_problem(error) from None
    return _issued_response(issued.client, issued.client_secret)
