"""Users' own account over /v1: registration, verification, password, MFA, API clients.

Every route answers problem+json (RFC 9457), refuses unknown fields, and acts only on
the caller's own user: another user's client answers 404, exactly as a missing one.
Sensitive changes (MFA removal, new recovery codes, API clients and their secrets)
need a step-up: a second factor proven within `step_up_max_age_seconds`.
"""

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from openbell.identity.bootstrap import Identity
from openbell.identity.domain.clients import ApiClient
from openbell.identity.domain.errors import (
    AuthenticationFailedError,
    InvalidClientDefinitionError,
    InvalidGrantError,
    InvalidUserDefinitionError,
    MfaError,
    WeakPasswordError,
)
from openbell.identity.domain.revocation import CLIENT
from openbell.identity.domain.scopes import ADMIN, READ, TRADE, WITHDRAW
from openbell.identity.domain.users import User
from openbell.platform.auth import (
    Principal,
    require_scope,
    require_step_up,
    step_up_required,
)
from openbell.platform.problems import PROBLEM_JSON, ProblemError
from openbell.shared.errors import NotFoundError

PREFIX: Final = "/v1"
_PROBLEM: Final = {"content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_AUTH: Final[dict[int | str, dict[str, Any]]] = {
    401: {"description": "Missing or invalid token, or a step-up is needed", **_PROBLEM},
    403: {"description": "Missing scope, or not a user's token", **_PROBLEM},
}
NANOSECONDS = 1_000_000_000
_READER = require_scope(READ)
ClientIdPath = Annotated[str, Path(min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class RegisterRequest(_Strict):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)
    name: str = Field(default="", max_length=200)


class RegisterResponse(BaseModel):
    status: str = Field(examples=["verification_sent"])


class VerifyRequest(_Strict):
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


class ChangePasswordRequest(_Strict):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class TotpSetupResponse(BaseModel):
    otpauth_uri: str
    secret: str = Field(description="The same secret as in the URI, for manual entry.")


class CodeRequest(_Strict):
    code: str = Field(min_length=6, max_length=64)


class RecoveryCodesResponse(BaseModel):
    recovery_codes: list[str] = Field(description="Shown once; each works once.")


class CreateClientRequest(_Strict):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1, max_length=8)


class ChangeScopesRequest(_Strict):
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


def _not_a_user() -> ProblemError:
    return ProblemError(
        403,
        "Forbidden",
        reason="user_token_required",
        detail="Only a person signed in through the authorization code flow can do this.",
    )


def _client_response(client: ApiClient) -> ClientResponse:
    return ClientResponse(
        client_id=client.client_id,
        name=client.name,
        scopes=sorted(client.scopes),
        account_id=client.account_id,
        created_at=client.created_at,
        revoked=not client.active,
    )


def create_account_router(identity: Identity) -> APIRouter:  # noqa: C901, PLR0915  # one closure per route
    router = APIRouter(prefix=PREFIX, tags=["account"])
    step_up_age = identity.settings.step_up_max_age_seconds
    stepped_up = require_step_up(READ, step_up_age)
    admin = require_step_up(ADMIN, step_up_age)

    async def user_of(principal: Principal) -> User:
        if not principal.is_user:
            raise _not_a_user()
        user = await identity.users.get(principal.subject)
        if user is None or not user.active:
            raise ProblemError(
                401,
                "Unauthorized",
                reason="invalid_token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return user

    def recently_signed_in(principal: Principal) -> None:
        """Enrolling a factor needs a sign-in within the step-up age (a password at least),
        so a stolen long-lived session cannot bind the thief's authenticator."""
        now = identity.clock.now_ns() // NANOSECONDS
        if principal.auth_time is None or now - principal.auth_time > step_up_age:
            raise step_up_required(step_up_age)

    @router.post(
        "/users",
        status_code=202,
        summary="Register as a trader",
        responses={422: {"description": "Weak password or invalid email", **_PROBLEM}},
    )
    async def register(body: RegisterRequest) -> RegisterResponse:
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
        responses={400: {"description": "Unknown, used or expired token", **_PROBLEM}},
    )
    async def verify(body: VerifyRequest) -> RegisterResponse:
        try:
            await identity.users.verify_email(body.token)
        except InvalidGrantError:
            raise _problem(400, "invalid_token", "The token is unknown, used or expired.") from None
        return RegisterResponse(status="verified")

    @router.get("/me", summary="Your user", responses=_AUTH)
    async def me(principal: Annotated[Principal, Depends(_READER)]) -> UserResponse:
        user = await user_of(principal)
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
            422: {"description": "Wrong current password or weak new one", **_PROBLEM},
        },
    )
    async def change_password(
        body: ChangePasswordRequest,
        principal: Annotated[Principal, Depends(_READER)],
        request: Request,
    ) -> Response:
        """Every session and token of yours ends; sign in again with the new password."""
        user = await user_of(principal)
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
        responses={**_AUTH, 409: {"description": "TOTP is enrolled already", **_PROBLEM}},
    )
    async def begin_totp(principal: Annotated[Principal, Depends(_READER)]) -> TotpSetupResponse:
        user = await user_of(principal)
        recently_signed_in(principal)
        try:
            setup = await identity.mfa.begin_totp(user.user_id, user.email)
        except MfaError as error:
            raise _problem(409, "mfa_enrolled", str(error)) from None
        return TotpSetupResponse(otpauth_uri=setup.otpauth_uri, secret=setup.secret)

    @router.post(
        "/me/mfa/totp/confirm",
        summary="Confirm TOTP with a first code",
        responses={**_AUTH, 422: {"description": "Wrong code or nothing to confirm", **_PROBLEM}},
    )
    async def confirm_totp(
        body: CodeRequest, principal: Annotated[Principal, Depends(_READER)]
    ) -> RecoveryCodesResponse:
        user = await user_of(principal)
        recently_signed_in(principal)
        try:
            codes = await identity.mfa.confirm_totp(user.user_id, body.code)
        except MfaError as error:
            raise _problem(422, "invalid_code", str(error)) from None
        return RecoveryCodesResponse(recovery_codes=codes)

    @router.delete("/me/mfa/totp", status_code=204, summary="Remove TOTP", responses=_AUTH)
    async def remove_totp(principal: Annotated[Principal, Depends(stepped_up)]) -> Response:
        user = await user_of(principal)
        await identity.mfa.remove_totp(user.user_id)
        return Response(status_code=204)

    @router.post("/me/mfa/recovery-codes", summary="Replace your recovery codes", responses=_AUTH)
    async def new_recovery_codes(
        principal: Annotated[Principal, Depends(stepped_up)],
    ) -> RecoveryCodesResponse:
        user = await user_of(principal)
        if not await identity.mfa.enrolled(user.user_id):
            raise _problem(409, "mfa_not_enrolled", "Enrol TOTP first.")
        return RecoveryCodesResponse(
            recovery_codes=await identity.mfa.new_recovery_codes(user.user_id)
        )

    @router.get("/me/clients", summary="Your API clients", responses=_AUTH)
    async def list_clients(
        principal: Annotated[Principal, Depends(_READER)],
    ) -> list[ClientResponse]:
        user = await user_of(principal)
        clients = await identity.clients.list_clients(owner_user_id=user.user_id)
        return [_client_response(client) for client in clients]

    @router.post(
        "/me/clients",
        status_code=201,
        summary="Create an API client",
        responses={**_AUTH, 422: {"description": "Invalid name or scopes", **_PROBLEM}},
    )
    async def create_client(
        body: CreateClientRequest, principal: Annotated[Principal, Depends(stepped_up)]
    ) -> IssuedClientResponse:
        """For your trading account, with at most your own scopes (never withdraw); the
        secret is shown once."""
        user = await user_of(principal)
        scopes = frozenset(body.scopes)
        if WITHDRAW in scopes or not scopes <= user.scopes:
            raise _problem(422, "invalid_scope", "Scopes must be among your own, not withdraw.")
        if scopes & {TRADE} and user.account_id is None:
            raise _problem(422, "no_trading_account", "You have no trading account.")
        try:
            issued = await identity.clients.create_client(
                name=body.name,
                scopes=scopes,
                account_id=user.account_id,
                owner_user_id=user.user_id,
            )
        except InvalidClientDefinitionError as error:
            raise _problem(422, "invalid_client", str(error)) from None
        return IssuedClientResponse(
            **_client_response(issued.client).model_dump(), client_secret=issued.client_secret
        )

    @router.delete(
        "/me/clients/{client_id}",
        summary="Revoke one of your API clients",
        responses={**_AUTH, 404: {"description": "No such client of yours", **_PROBLEM}},
    )
    async def revoke_client(
        client_id: ClientIdPath, principal: Annotated[Principal, Depends(_READER)]
    ) -> ClientResponse:
        """Its tokens are refused within a second everywhere."""
        user = await user_of(principal)
        client = await _owned(identity, client_id, user)
        revoked = await identity.clients.revoke_client(client.client_id, owner_user_id=user.user_id)
        await identity.revocations.revoke(CLIENT, revoked.client_id)
        return _client_response(revoked)

    @router.patch(
        "/me/clients/{client_id}",
        summary="Change one of your API clients' scopes",
        responses={
            **_AUTH,
            404: {"description": "No such client of yours", **_PROBLEM},
            422: {"description": "Scopes beyond yours, or withdraw", **_PROBLEM},
        },
    )
    async def change_client_scopes(
        client_id: ClientIdPath,
        body: ChangeScopesRequest,
        principal: Annotated[Principal, Depends(stepped_up)],
    ) -> ClientResponse:
        """Its tokens issued so far are refused within a second; new ones carry the new
        scopes."""
        user = await user_of(principal)
        client = await _owned(identity, client_id, user)
        scopes = frozenset(body.scopes)
        if WITHDRAW in scopes or not scopes <= user.scopes:
            raise _problem(422, "invalid_scope", "Scopes must be among your own, not withdraw.")
        try:
            changed = await identity.clients.change_scopes(
                client.client_id, scopes, owner_user_id=user.user_id
            )
        except InvalidClientDefinitionError as error:
            raise _problem(422, "invalid_client", str(error)) from None
        except NotFoundError:
            raise _problem(404, "client_not_found", "No such client.") from None
        await identity.revocations.revoke(CLIENT, changed.client_id)
        return _client_response(changed)

    @router.post(
        "/me/clients/{client_id}/secret",
        summary="Rotate an API client's secret",
        responses={**_AUTH, 404: {"description": "No such client of yours", **_PROBLEM}},
    )
    async def rotate_secret(
        client_id: ClientIdPath, principal: Annotated[Principal, Depends(stepped_up)]
    ) -> IssuedClientResponse:
        """The old secret keeps working for `client_secret_overlap_seconds`, then stops."""
        user = await user_of(principal)
        client = await _owned(identity, client_id, user)
        issued = await identity.clients.rotate_secret(client.client_id, owner_user_id=user.user_id)
        return IssuedClientResponse(
            **_client_response(issued.client).model_dump(), client_secret=issued.client_secret
        )

    @router.post(
        "/users/{user_id}/disable",
        summary="Disable a user (admin)",
        responses={**_AUTH, 404: {"description": "No such user", **_PROBLEM}},
    )
    async def disable_user(
        user_id: Annotated[str, Path(min_length=1, max_length=40)],
        principal: Annotated[Principal, Depends(admin)],
    ) -> RegisterResponse:
        """Sign-ins stop; the user's sessions, tokens and API clients end within a second."""
        await user_of(principal)
        if user_id == principal.subject:
            raise _problem(409, "cannot_disable_self", "An admin cannot disable themselves.")
        try:
            await identity.users.disable(user_id)
        except NotFoundError:
            raise _problem(404, "user_not_found", "No such user.") from None
        return RegisterResponse(status="disabled")

    return router


async def _owned(identity: Identity, client_id: str, user: User) -> ApiClient:
    client = await identity.clients.get(client_id)
    if client is None or client.owner_user_id != user.user_id:
        raise _problem(404, "client_not_found", "No such client.")
    return client
