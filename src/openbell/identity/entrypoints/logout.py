"""The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0), GET or POST.

The rules (whose sign-in ends, where the browser may go) live in `LogoutService`; this
route parses the parameters, then redirects to the client's registered URI with `state`
or shows a signed-out page. A request that does not check out gets an error page and is
never redirected, so the endpoint cannot be used as an open redirector.
"""

import html
from functools import cache
from importlib.resources import files
from string import Template
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openbell.identity.application.logout import LogoutRequest
from openbell.identity.domain.errors import InvalidRequestError
from openbell.identity.entrypoints.deps import IdentityDep
from openbell.identity.entrypoints.http import END_SESSION_PATH

_FORM: Final = "application/x-www-form-urlencoded"
_MAX_FIELDS: Final = 8
_LIMITS: Final = {
    "id_token_hint": 4096,  # a length limit, not a secret  # nosec B105
    "client_id": 64,
    "post_logout_redirect_uri": 2000,
    "state": 512,
}
"""The parameters acted on, and their longest accepted values; others are ignored (§2)."""
_CSP: Final = "default-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
_SIGNED_OUT: Final = "You are signed out of the application. You may close this window."
_REFUSED: Final = (
    "This sign-out request is not valid: the application or its return address is not "
    "registered. Nothing was changed."
)


@cache
def _template() -> Template:
    page = files("openbell.identity.entrypoints").joinpath("templates/signed_out.html")
    return Template(page.read_text("utf-8"))


def _page(heading: str, message: str, status: int) -> HTMLResponse:
    body = _template().substitute(heading=html.escape(heading), message=html.escape(message))
    headers = {"Content-Security-Policy": _CSP, "Cache-Control": "no-store"}
    return HTMLResponse(body, status_code=status, headers=headers)


def _redirect(uri: str, state: str | None) -> Response:
    query = "" if state is None else urlencode({"state": state})
    separator = "&" if urlsplit(uri).query else "?"
    location = uri + (separator + query if query else "")
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})


async def _pairs(request: Request) -> list[tuple[str, str]]:
    if request.method == "GET":
        return list(request.query_params.multi_items())
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != _FORM:
        raise InvalidRequestError(f"the end-session endpoint takes {_FORM}")
    try:
        text = (await request.body()).decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequestError("malformed form body") from None


async def _logout_request(request: Request) -> LogoutRequest:
    known = [(name, value) for name, value in await _pairs(request) if name in _LIMITS]
    if len(dict(known)) != len(known):
        raise InvalidRequestError("a parameter appears more than once")
    if any(len(value) > _LIMITS[name] for name, value in known):
        raise InvalidRequestError("a parameter is too long")
    return LogoutRequest(**{name: value for name, value in known if value})


async def end_session(request: Request, identity: IdentityDep) -> Response:
    """End your sign-in with an application; go back to it, or see a signed-out page."""
    try:
        outcome = await identity.logout.end_session(await _logout_request(request))
    except InvalidRequestError:
        return _page("Cannot sign out", _REFUSED, 400)
    if outcome.redirect_uri is None:
        return _page("Signed out", _SIGNED_OUT, 200)
    return _redirect(outcome.redirect_uri, outcome.state)


router = APIRouter(tags=["identity"])
for _method in ("GET", "POST"):
    router.add_api_route(
        END_SESSION_PATH,
        end_session,
        methods=[_method],
        summary="End a sign-in (OIDC RP-initiated logout)",
        response_class=HTMLResponse,
        operation_id=f"end_session_{_method.lower()}",
        responses={303: {"description": "Back to the application's registered URI"}},
    )
