"""The authorization endpoint: a sign-in page served by the package (RFC 6749 §4.1).

GET shows the form for a valid request; POST checks the password, then (if enrolled) the
second factor, and redirects to the client with a code. No script, no style, nothing
inline: the page runs under `default-src 'none'`, and may submit only to itself and
redirect only to the client's registered origin.

Login CSRF is stopped three ways: a SameSite=Strict, HttpOnly cookie whose value the form
must repeat; the page's state sealed (AES-GCM) and bound to that value; and Origin /
Sec-Fetch-Site checks. Sign-in state lives in those sealed fields, not in the server, so
any process can continue what another began.
"""

import hmac
import html
import re
import secrets
from functools import cache
from importlib.resources import files
from string import Template
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openbell.identity.application.authorize import (
    SUPPORTED_PARAMETERS,
    RedirectableError,
    UnregisteredRedirectError,
)
from openbell.identity.bootstrap import Identity
from openbell.identity.domain.clients import ApiClient
from openbell.identity.domain.errors import (
    AuthenticationFailedError,
    IdentityError,
    UnmetAuthenticationRequirementsError,
)
from openbell.identity.domain.grants import AuthorizationRequest
from openbell.identity.domain.mfa import AuthenticationProof
from openbell.identity.domain.users import User, UserId
from openbell.identity.entrypoints.deps import IdentityDep
from openbell.identity.entrypoints.http import AUTHORIZE_PATH
from openbell.shared.errors import OverloadedError

NANOSECONDS = 1_000_000_000
REQUEST_LIFETIME_SECONDS = 600
LOGIN_STEP_SECONDS = 300
_CSRF_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
_FORM = "application/x-www-form-urlencoded"
_MAX_FIELDS = 8
_FAILED = "Invalid email or password, or too many attempts; try again later."
_BUSY = "Too many sign-ins are in progress; try again in a moment."
_EXPIRED = "This sign-in page has expired or was not opened here."


@cache
def _template(name: str) -> Template:
    text = files("openbell.identity.entrypoints").joinpath(f"templates/{name}").read_text("utf-8")
    return Template(text)


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(redirect_uri: str | None) -> str:
    """Form posts go to this page only; its answer may redirect to the client's origin."""
    targets = "'self'" if redirect_uri is None else f"'self' {_origin(redirect_uri)}"
    return f"default-src 'none'; form-action {targets}; base-uri 'none'; frame-ancestors 'none'"


class LoginPage:
    """The sign-in page's steps for one request: what to show, check and answer."""

    def __init__(self, identity: Identity) -> None:
        self._identity = identity
        issuer = identity.settings.issuer
        self._secure = issuer.startswith("https://")
        self._cookie = "__Host-openbell-csrf" if self._secure else "openbell-csrf"
        self._issuer_origin = _origin(issuer)

    # -- responses ---------------------------------------------------------------------

    def _page(
        self,
        name: str,
        *,
        status: int = 200,
        csrf: str | None = None,
        redirect_uri: str | None = None,
        **values: str,
    ) -> HTMLResponse:
        escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
        if "error" in values:
            escaped["error"] = (
                f'<p role="alert"><strong>{escaped["error"]}</strong></p>'
                if values["error"]
                else ""
            )
        body = _template(name).substitute(action=AUTHORIZE_PATH, **escaped)
        response = HTMLResponse(body, status_code=status)
        response.headers["Content-Security-Policy"] = content_security_policy(redirect_uri)
        response.headers["Cache-Control"] = "no-store"
        if csrf is not None:
            response.set_cookie(
                self._cookie,
                csrf,
                max_age=REQUEST_LIFETIME_SECONDS,
                path="/" if self._secure else AUTHORIZE_PATH,
                secure=self._secure,
                httponly=True,
                samesite="strict",
            )
        return response

    def _error_page(self, message: str, status: int = 400) -> HTMLResponse:
        return self._page("error.html", status=status, message=message)

    def _redirect(self, redirect_uri: str, parameters: dict[str, str | None]) -> Response:
        query = urlencode({k: v for k, v in parameters.items() if v is not None})
        separator = "&" if urlsplit(redirect_uri).query else "?"
        response = RedirectResponse(redirect_uri + separator + query, status_code=303)
        response.headers["Cache-Control"] = "no-store"
        return response

    def _error_redirect(
        self, error: IdentityError, redirect_uri: str, state: str | None
    ) -> Response:
        return self._redirect(
            redirect_uri,
            {
                "error": error.code,
                "error_description": str(error),
                "state": state,
                "iss": self._identity.settings.issuer,
            },
        )

    # -- GET ---------------------------------------------------------------------------

    async def show(self, request: Request) -> Response:
        params = _single_valued(list(request.query_params.multi_items()))
        if params is None:
            return self._error_page("The request repeats a parameter.")
        try:
            client, authorization = await self._identity.authorization.validate(params)
        except UnregisteredRedirectError:
            return self._error_page("The application or its return address is not registered.")
        except RedirectableError as failure:
            return self._error_redirect(failure.error, failure.redirect_uri, failure.state)
        csrf = self._csrf_of(request) or secrets.token_urlsafe(32)
        sealed = self._seal_request(authorization, csrf)
        return self._login_form(client, authorization, csrf, sealed, error="")

    def _login_form(
        self,
        client: ApiClient,
        authorization: AuthorizationRequest,
        csrf: str,
        sealed: str,
        *,
        error: str,
        status: int = 200,
    ) -> HTMLResponse:
        return self._page(
            "login.html",
            status=status,
            csrf=csrf,
            redirect_uri=authorization.redirect_uri,
            client_name=client.name,
            csrf_value=csrf,
            request=sealed,
            error=error,
        )

    # -- POST --------------------------------------------------------------------------

    async def submit(self, request: Request) -> Response:
        if not self._same_origin(request):
            return self._error_page("The form was not sent from this page.", 403)
        form = await _read_form(request)
        csrf = self._csrf_of(request)
        if form is None or csrf is None or not hmac.compare_digest(form.get("csrf", ""), csrf):
            return self._error_page(_EXPIRED, 403)
        authorization = self._open_request(form.get("request", ""), csrf)
        client = None
        if authorization is not None:
            client = await self._identity.clients.get(authorization.client_id)
        if authorization is None or client is None or not client.active:
            return self._error_page(_EXPIRED)
        if "login" in form:
            return await self._second_factor(request, form, csrf, client, authorization)
        return await self._password(request, form, csrf, client, authorization)

    async def _password(
        self,
        request: Request,
        form: dict[str, str],
        csrf: str,
        client: ApiClient,
        authorization: AuthorizationRequest,
    ) -> Response:
        login = self._identity.login
        try:
            user = await login.check_password(
                form.get("email", ""), form.get("password", ""), address=_address(request)
            )
        except AuthenticationFailedError:
            sealed = form["request"]
            return self._login_form(client, authorization, csrf, sealed, error=_FAILED, status=401)
        except OverloadedError:
            sealed = form["request"]
            busy = self._login_form(client, authorization, csrf, sealed, error=_BUSY, status=503)
            busy.headers["Retry-After"] = "1"
            return busy
        user = await self._identity.users.ensure_account(user)
        if await self._identity.mfa.enrolled(user.user_id):
            return self._mfa_form(form["request"], csrf, authorization, user, error="")
        if authorization.require_mfa:
            error = UnmetAuthenticationRequirementsError("this sign-in needs a second factor")
            return self._error_redirect(error, authorization.redirect_uri, authorization.state)
        return await self._finish(client, authorization, user, login.password_proof())

    def _mfa_form(
        self,
        sealed_request: str,
        csrf: str,
        authorization: AuthorizationRequest,
        user: User,
        *,
        error: str,
        status: int = 200,
    ) -> HTMLResponse:
        now = self._identity_now()
        login = self._identity.login_sealer.seal(
            {"uid": user.user_id, "rq": sealed_request[-32:]},
            expires_at=now + LOGIN_STEP_SECONDS * NANOSECONDS,
            binding="mfa:" + csrf,
        )
        return self._page(
            "mfa.html",
            status=status,
            csrf=csrf,
            redirect_uri=authorization.redirect_uri,
            csrf_value=csrf,
            request=sealed_request,
            login=login,
            error=error,
        )

    async def _second_factor(
        self,
        request: Request,
        form: dict[str, str],
        csrf: str,
        client: ApiClient,
        authorization: AuthorizationRequest,
    ) -> Response:
        step = self._identity.login_sealer.open(
            form.get("login", ""), now=self._identity_now(), binding="mfa:" + csrf
        )
        if step is None or step.get("rq") != form["request"][-32:]:
            return self._error_page(_EXPIRED)
        user = await self._identity.users.get(UserId(str(step.get("uid"))))
        if user is None or not user.active:
            return self._error_page(_EXPIRED)
        try:
            proof = await self._identity.login.check_second_factor(
                user, form.get("code", ""), address=_address(request)
            )
        except AuthenticationFailedError:
            return self._mfa_form(
                form["request"],
                csrf,
                authorization,
                user,
                error="The code is not valid.",
                status=401,
            )
        return await self._finish(client, authorization, user, proof)

    async def _finish(
        self,
        client: ApiClient,
        authorization: AuthorizationRequest,
        user: User,
        proof: AuthenticationProof,
    ) -> Response:
        code = await self._identity.tokens.issue_code(
            client=client,
            user=user,
            redirect_uri=authorization.redirect_uri,
            scopes=authorization.scopes,
            code_challenge=authorization.code_challenge,
            nonce=authorization.nonce,
            proof=proof,
        )
        return self._redirect(
            authorization.redirect_uri,
            {"code": code, "state": authorization.state, "iss": self._identity.settings.issuer},
        )

    # -- helpers -----------------------------------------------------------------------

    def _identity_now(self) -> int:
        return self._identity.clock.now_ns()

    def _csrf_of(self, request: Request) -> str | None:
        value = request.cookies.get(self._cookie)
        return value if value is not None and _CSRF_PATTERN.fullmatch(value) else None

    def _same_origin(self, request: Request) -> bool:
        """Refuse what the browser says came from another site. Under the page's
        `Referrer-Policy: no-referrer` browsers send `Origin: null` even for its own form,
        so a null origin counts on Sec-Fetch-Site and, always, the CSRF binding."""
        if request.headers.get("sec-fetch-site", "same-origin") not in {"same-origin", "none"}:
            return False
        origin = request.headers.get("origin")
        if origin is None or origin == "null":
            return True
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        return origin in {own, self._issuer_origin}

    def _seal_request(self, authorization: AuthorizationRequest, csrf: str) -> str:
        payload: dict[str, Any] = {
            "c": authorization.client_id,
            "r": authorization.redirect_uri,
            "s": sorted(authorization.scopes),
            "st": authorization.state,
            "cc": authorization.code_challenge,
            "n": authorization.nonce,
            "m": authorization.require_mfa,
        }
        expires_at = self._identity_now() + REQUEST_LIFETIME_SECONDS * NANOSECONDS
        return self._identity.login_sealer.seal(payload, expires_at=expires_at, binding=csrf)

    def _open_request(self, sealed: str, csrf: str) -> AuthorizationRequest | None:
        payload = self._identity.login_sealer.open(sealed, now=self._identity_now(), binding=csrf)
        if payload is None:
            return None
        return AuthorizationRequest(
            client_id=str(payload["c"]),
            redirect_uri=str(payload["r"]),
            scopes=frozenset(str(scope) for scope in payload["s"]),
            state=payload["st"],
            code_challenge=str(payload["cc"]),
            nonce=payload["n"],
            require_mfa=bool(payload["m"]),
        )


def _single_valued(pairs: list[tuple[str, str]]) -> dict[str, str] | None:
    """Parameters must not repeat (RFC 6749 §3.1); unknown ones are ignored (§3.1)."""
    known = [(key, value) for key, value in pairs if key in SUPPORTED_PARAMETERS]
    form = dict(known)
    return form if len(form) == len(known) else None


async def _read_form(request: Request) -> dict[str, str] | None:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != _FORM:
        return None
    try:
        pairs = parse_qsl(
            (await request.body()).decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=_MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        return None
    form = dict(pairs)
    return form if len(form) == len(pairs) else None


def _address(request: Request) -> str | None:
    # The real client: behind a trusted proxy the edge (ClientIpMiddleware) has already
    # replaced the socket peer with the forwarded address.
    return request.client.host if request.client is not None else None


router = APIRouter(tags=["identity"])


@router.get(
    AUTHORIZE_PATH,
    summary="Sign-in page (authorization code + PKCE S256)",
    response_class=HTMLResponse,
)
async def show(request: Request, identity: IdentityDep) -> Response:
    return await LoginPage(identity).show(request)


@router.post(
    AUTHORIZE_PATH,
    summary="Sign-in form submission",
    response_class=HTMLResponse,
    include_in_schema=False,
)
async def submit(request: Request, identity: IdentityDep) -> Response:
    return await LoginPage(identity).submit(request)
