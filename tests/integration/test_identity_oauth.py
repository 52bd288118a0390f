"""The OAuth 2.0 / OIDC authorization server end to end, through its HTTP endpoints.

A console (a public client) signs users in with the authorization code flow and PKCE;
every attack the issue names is played against it: code replay, refresh token reuse,
PKCE downgrade, wrong redirect, implicit and password grants, login CSRF.
"""

import asyncio
import base64
import json
import re
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest

from openbell.identity.bootstrap import build_identity, build_in_memory_identity
from openbell.identity.domain.grants import pkce_challenge
from openbell.identity.domain.users import Role
from openbell.identity.entrypoints.routes import create_routers
from openbell.migrations import upgrade_database
from openbell.platform.settings import Settings
from openbell.platform.web import create_app
from openbell.shared.time import FixedClock

ISSUER = "http://testserver"
REDIRECT = "http://127.0.0.1:8765/callback"
PASSWORD = "correct horse battery staple"
CONSOLE_SCOPES = [
    "openid",
    "profile",
    "email",
    "read",
    "trade",
    "withdraw",
    "ops",
    "admin",
    "audit",
]
SECOND = 1_000_000_000


def settings_for(tmp_path, **overrides):
    values = {
        "data_dir": tmp_path,
        "issuer": ISSUER,
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 64,
        "argon2_parallelism": 1,
        "revocation_poll_seconds": 0.05,
        **overrides,
    }
    return Settings(**values)


class Accounts:
    """The core's AccountOpener, stood in for by a counter (identity cannot import the core)."""

    def __init__(self):
        self.opened = 0

    async def __call__(self):
        self.opened += 1
        return 100 + self.opened


class Harness:
    def __init__(self, http, identity, clock, console):
        self.http = http
        self.identity = identity
        self.clock = clock
        self.console = console

    async def user(self, email="alice@example.com", roles=(Role.TRADER,), *, totp=False):
        user = await self.identity.users.create_user(
            email=email, password=PASSWORD, roles=roles, name=email.split("@")[0].title()
        )
        secret = None
        if totp:
            setup = await self.identity.mfa.begin_totp(user.user_id, email)
            secret = setup.secret
            await self.identity.mfa.confirm_totp(user.user_id, self.totp(secret))
            self.clock.advance(30 * SECOND)  # the next code is a new time step
        return user, secret

    def totp(self, secret):
        return pyotp.TOTP(secret).at(self.clock.now_ns() // SECOND)

    async def authorize(self, **params):
        query = {
            "response_type": "code",
            "client_id": self.console.client_id,
            "redirect_uri": REDIRECT,
            "scope": " ".join(CONSOLE_SCOPES),
            "state": "st-123",
            **params,
        }
        return await self.http.get(
            "/oauth/authorize", params={k: v for k, v in query.items() if v is not None}
        )

    async def sign_in(
        self, email="alice@example.com", password=PASSWORD, *, totp_secret=None, **params
    ):
        """Drive the login page like a browser; return (code, verifier, final response)."""
        verifier = secrets.token_urlsafe(48)
        params.setdefault("code_challenge", pkce_challenge(verifier))
        params.setdefault("code_challenge_method", "S256")
        page = await self.authorize(**params)
        assert page.status_code == 200, page.text
        fields = hidden_fields(page.text)
        response = await self.http.post(
            "/oauth/authorize", data={**fields, "email": email, "password": password}
        )
        if totp_secret is not None and response.status_code == 200:
            fields = hidden_fields(response.text)
            response = await self.http.post(
                "/oauth/authorize", data={**fields, "code": self.totp(totp_secret)}
            )
        code = None
        if response.status_code == 303:
            code = parse_qs(urlsplit(response.headers["location"]).query).get("code", [None])[0]
        return code, verifier, response

    async def exchange(self, code, verifier, **overrides):
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": self.console.client_id,
            **overrides,
        }
        return await self.http.post(
            "/oauth/token", data={k: v for k, v in form.items() if v is not None}
        )

    async def tokens(self, email="alice@example.com", **kwargs):
        code, verifier, response = await self.sign_in(email, **kwargs)
        assert code is not None, response.text
        exchanged = await self.exchange(code, verifier)
        assert exchanged.status_code == 200, exchanged.text
        return exchanged.json()

    async def refresh(self, refresh_token, **extra):
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.console.client_id,
            **extra,
        }
        return await self.http.post("/oauth/token", data=form)

    async def me(self, access_token):
        return await self.http.get("/v1/me", headers={"Authorization": f"Bearer {access_token}"})


def hidden_fields(page):
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))


def claims_of(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def header_of(token):
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))


async def make_harness(identity, settings, clock):
    await identity.start()
    console = (
        await identity.clients.create_client(
            name="openbell console",
            scopes=CONSOLE_SCOPES,
            grant_types=["authorization_code", "refresh_token"],
            redirect_uris=[REDIRECT],
            public=True,
        )
    ).client
    app = create_app(settings, routers=create_routers(identity), token_verifier=identity.verifier)
    app.state.clock = clock  # step-up freshness is judged on the test's clock
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER)
    return Harness(http, identity, clock, console)


@pytest.fixture
def clock():
    return FixedClock(time.time_ns())


@pytest.fixture
async def oauth(tmp_path, clock):
    settings = settings_for(tmp_path)
    identity = build_in_memory_identity(settings, clock=clock, kek=bytes(32), accounts=Accounts())
    harness = await make_harness(identity, settings, clock)
    yield harness
    await harness.http.aclose()
    await identity.close()


@pytest.fixture
async def sql_oauth(tmp_path, clock, database_url):
    """The same server on each real database backend."""
    await upgrade_database(database_url)
    settings = settings_for(tmp_path)
    identity = build_identity(settings, database_url, clock=clock, accounts=Accounts())
    harness = await make_harness(identity, settings, clock)
    yield harness
    await harness.http.aclose()
    await identity.close()


# -- the happy path ----------------------------------------------------------------------


async def test_a_user_signs_in_with_a_code_and_pkce_and_gets_short_lived_signed_tokens(oauth):
    user, _ = await oauth.user()
    body = await oauth.tokens()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] <= 900
    assert body["refresh_token"].startswith("obr_")
    header, claims = header_of(body["access_token"]), claims_of(body["access_token"])
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "at+jwt"
    assert header["kid"] in {key.kid for key in await oauth.identity.keys.public_keys()}
    assert claims["iss"] == ISSUER
    assert claims["aud"] == "openbell"
    assert claims["sub"] == user.user_id
    assert claims["client_id"] == oauth.console.client_id
    assert claims["exp"] - claims["iat"] <= 900
    assert claims["jti"]
    assert claims["acct"] == user.account_id
    assert claims["acr"] == "urn:openbell:acr:pwd"
    assert claims["amr"] == ["pwd"]
    # Without a second factor there is no withdraw scope, whatever was asked for.
    assert set(body["scope"].split()) == {"openid", "profile", "email", "read", "trade"}
    me = await oauth.me(body["access_token"])
    assert me.status_code == 200
    assert me.json()["user_id"] == user.user_id


async def test_the_redirect_carries_state_and_the_issuer(oauth):
    await oauth.user()
    _, _, response = await oauth.sign_in()
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == ["st-123"]
    assert query["iss"] == [ISSUER]
    assert response.headers["location"].startswith(REDIRECT + "?")


async def test_the_id_token_is_for_the_client_and_carries_the_nonce(oauth):
    user, _ = await oauth.user()
    body = await oauth.tokens(nonce="n-0S6_WzA2Mj")
    id_claims = claims_of(body["id_token"])
    assert id_claims["aud"] == oauth.console.client_id
    assert id_claims["sub"] == user.user_id
    assert id_claims["nonce"] == "n-0S6_WzA2Mj"
    assert header_of(body["id_token"])["typ"] == "JWT"
    # An ID token is not an access token: the API refuses it.
    assert (await oauth.me(body["id_token"])).status_code == 401


async def test_a_trader_without_an_account_gets_one_at_first_sign_in(oauth):
    user = await oauth.identity.users.create_user(
        email="late@example.com", password=PASSWORD, roles=[Role.TRADER]
    )
    assert user.account_id is not None  # the opener ran at creation
    ops = await oauth.identity.users.create_user(
        email="ops@example.com", password=PASSWORD, roles=[Role.OPS]
    )
    assert ops.account_id is None
    body = await oauth.tokens("ops@example.com", scope="read")
    assert "acct" not in claims_of(body["access_token"])


async def test_scopes_never_exceed_the_users_roles(oauth):
    await oauth.user("auditor@example.com", roles=(Role.AUDITOR,))
    body = await oauth.tokens("auditor@example.com")
    assert set(body["scope"].split()) == {"openid", "profile", "email", "read", "audit"}


async def test_discovery_names_every_endpoint_and_only_s256(oauth):
    document = (await oauth.http.get("/.well-known/openid-configuration")).json()
    assert document["issuer"] == ISSUER
    assert document["authorization_endpoint"] == ISSUER + "/oauth/authorize"
    assert document["token_endpoint"] == ISSUER + "/oauth/token"
    assert document["jwks_uri"] == ISSUER + "/.well-known/jwks.json"
    assert document["revocation_endpoint"] == ISSUER + "/oauth/revoke"
    assert document["introspection_endpoint"] == ISSUER + "/oauth/introspect"
    assert document["userinfo_endpoint"] == ISSUER + "/oauth/userinfo"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["response_types_supported"] == ["code"]
    assert "password" not in document["grant_types_supported"]
    assert "implicit" not in document["grant_types_supported"]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_userinfo_tells_the_claims_the_scopes_allow(oauth, method):
    user, _ = await oauth.user()
    body = await oauth.tokens()
    response = await oauth.http.request(
        method, "/oauth/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "sub": user.user_id,
        "email": "alice@example.com",
        "email_verified": True,
        "name": "Alice",
    }
    narrow = await oauth.tokens(scope="openid read")
    response = await oauth.http.get(
        "/oauth/userinfo", headers={"Authorization": f"Bearer {narrow['access_token']}"}
    )
    assert response.json() == {"sub": user.user_id}
    without_openid = await oauth.tokens(scope="read")
    response = await oauth.http.get(
        "/oauth/userinfo", headers={"Authorization": f"Bearer {without_openid['access_token']}"}
    )
    assert response.status_code == 403


# -- the login page ----------------------------------------------------------------------


async def test_the_login_page_runs_under_a_strict_csp_with_nothing_inline(oauth):
    page = await oauth.authorize(
        code_challenge=pkce_challenge("v" * 43), code_challenge_method="S256"
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policies = page.headers.get_list("content-security-policy")
    assert any("form-action 'self' http://127.0.0.1:8765" in policy for policy in policies)
    assert all("default-src 'none'" in policy for policy in policies)
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text
    assert "style=" not in page.text
    assert "<style" not in page.text
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie


async def test_a_post_without_the_csrf_cookie_is_refused(oauth):
    await oauth.user()
    page = await oauth.authorize(
        code_challenge=pkce_challenge("v" * 43), code_challenge_method="S256"
    )
    fields = hidden_fields(page.text)
    oauth.http.cookies.clear()
    response = await oauth.http.post(
        "/oauth/authorize", data={**fields, "email": "alice@example.com", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "location" not in response.headers


async def test_a_forged_csrf_field_is_refused(oauth):
    await oauth.user()
    page = await oauth.authorize(
        code_challenge=pkce_challenge("v" * 43), code_challenge_method="S256"
    )
    fields = hidden_fields(page.text)
    fields["csrf"] = secrets.token_urlsafe(32)
    response = await oauth.http.post(
        "/oauth/authorize", data={**fields, "email": "alice@example.com", "password": PASSWORD}
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    ],
)
async def test_a_cross_site_form_post_is_refused(oauth, headers):
    await oauth.user()
    page = await oauth.authorize(
        code_challenge=pkce_challenge("v" * 43), code_challenge_method="S256"
    )
    fields = hidden_fields(page.text)
    response = await oauth.http.post(
        "/oauth/authorize",
        data={**fields, "email": "alice@example.com", "password": PASSWORD},
        headers=headers,
    )
    assert response.status_code == 403


async def test_a_tampered_sealed_request_is_refused(oauth):
    await oauth.user()
    page = await oauth.authorize(
        code_challenge=pkce_challenge("v" * 43), code_challenge_method="S256"
    )
    fields = hidden_fields(page.text)
    sealed = fields["request"]
    fields["request"] = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    response = await oauth.http.post(
        "/oauth/authorize", data={**fields, "email": "alice@example.com", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_page_values_are_escaped(oauth):
    client = (
        await oauth.identity.clients.create_client(
            name='<script>alert(1)</script>"',
            scopes=["read"],
            grant_types=["authorization_code"],
            redirect_uris=[REDIRECT],
            public=True,
        )
    ).client
    page = await oauth.authorize(
        client_id=client.client_id,
        scope="read",
        code_challenge=pkce_challenge("v" * 43),
        code_challenge_method="S256",
    )
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in page.text


# -- authorization request errors -----------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": "obc_unknown"},
        {"redirect_uri": "http://127.0.0.1:8765/elsewhere"},
        {"redirect_uri": REDIRECT + "/"},
        {"redirect_uri": "https://evil.example/callback"},
    ],
)
async def test_an_unknown_client_or_redirect_is_shown_never_redirected(oauth, params):
    response = await oauth.authorize(
        code_challenge=pkce_challenge("v" * 43), code_challenge_method="S256", **params
    )
    assert response.status_code == 400
    assert "location" not in response.headers


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"code_challenge_method": "plain", "code_challenge": "v" * 43}, "invalid_request"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": "read superuser"}, "invalid_scope"),
        ({"prompt": "none"}, "login_required"),
        ({"response_mode": "fragment"}, "invalid_request"),
    ],
)
async def test_bad_requests_go_back_to_the_client_with_an_error(oauth, params, error):
    base = {"code_challenge": pkce_challenge("v" * 43), "code_challenge_method": "S256"}
    response = await oauth.authorize(**{**base, **params})
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == [error]
    assert query["state"] == ["st-123"]
    assert query["iss"] == [ISSUER]
    assert "code" not in query


async def test_a_repeated_parameter_is_refused(oauth):
    response = await oauth.http.get("/oauth/authorize?response_type=code&client_id=a&client_id=b")
    assert response.status_code == 400


async def test_mfa_requested_by_acr_values_but_not_enrolled_is_an_error(oauth):
    await oauth.user()
    _, _, response = await oauth.sign_in(acr_values="urn:openbell:acr:mfa")
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["unmet_authentication_requirements"]


# -- the token endpoint: codes ------------------------------------------------------------


async def test_a_replayed_code_fails_and_revokes_every_token_issued_from_it(oauth):
    await oauth.user()
    code, verifier, _ = await oauth.sign_in()
    first = await oauth.exchange(code, verifier)
    assert first.status_code == 200
    issued = first.json()
    assert (await oauth.me(issued["access_token"])).status_code == 200
    replay = await oauth.exchange(code, verifier)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert (await oauth.me(issued["access_token"])).status_code == 401
    refreshed = await oauth.refresh(issued["refresh_token"])
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"


async def test_a_code_without_the_right_verifier_is_refused(oauth):
    await oauth.user()
    code, _, _ = await oauth.sign_in()
    wrong = await oauth.exchange(code, secrets.token_urlsafe(48))
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"


async def test_a_code_with_no_verifier_is_refused_pkce_cannot_be_skipped(oauth):
    await oauth.user()
    code, _, _ = await oauth.sign_in()
    response = await oauth.exchange(code, None)
    assert response.json()["error"] == "invalid_grant"


async def test_a_plain_verifier_equal_to_the_challenge_is_refused(oauth):
    # The PKCE downgrade: presenting the challenge itself as if the method were plain.
    await oauth.user()
    verifier = secrets.token_urlsafe(48)
    challenge = pkce_challenge(verifier)
    code, _, _ = await oauth.sign_in(code_challenge=challenge)
    response = await oauth.exchange(code, challenge)
    assert response.json()["error"] == "invalid_grant"


async def test_a_code_lives_at_most_sixty_seconds(oauth):
    await oauth.user()
    code, verifier, _ = await oauth.sign_in()
    oauth.clock.advance(61 * SECOND)
    response = await oauth.exchange(code, verifier)
    assert response.json()["error"] == "invalid_grant"


async def test_a_code_is_bound_to_its_redirect_uri_and_client(oauth):
    await oauth.user()
    code, verifier, _ = await oauth.sign_in()
    response = await oauth.exchange(code, verifier, redirect_uri="http://127.0.0.1:8765/other")
    assert response.json()["error"] == "invalid_grant"
    other = await oauth.identity.clients.create_client(
        name="other app",
        scopes=["read"],
        grant_types=["authorization_code"],
        redirect_uris=[REDIRECT],
        public=True,
    )
    code, verifier, _ = await oauth.sign_in()
    response = await oauth.exchange(code, verifier, client_id=other.client_id)
    assert response.json()["error"] == "invalid_grant"


async def test_the_password_and_implicit_grants_do_not_exist(oauth):
    await oauth.user()
    for grant_type in ("password", "implicit"):
        response = await oauth.http.post(
            "/oauth/token",
            data={
                "grant_type": grant_type,
                "username": "alice@example.com",
                "password": PASSWORD,
                "client_id": oauth.console.client_id,
            },
        )
        assert response.status_code == 400
        assert response.json()["error"] == "unsupported_grant_type"


async def test_a_public_client_cannot_use_client_credentials(oauth):
    response = await oauth.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": oauth.console.client_id},
    )
    assert response.json()["error"] == "invalid_client"


# -- refresh tokens -----------------------------------------------------------------------


async def test_refresh_tokens_rotate_and_each_works_once(oauth):
    await oauth.user()
    issued = await oauth.tokens()
    first = await oauth.refresh(issued["refresh_token"])
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != issued["refresh_token"]
    assert claims_of(rotated["access_token"])["sid"] == claims_of(issued["access_token"])["sid"]
    second = await oauth.refresh(rotated["refresh_token"])
    assert second.status_code == 200


async def test_reusing_an_old_refresh_token_revokes_the_whole_family(oauth):
    await oauth.user()
    issued = await oauth.tokens()
    rotated = (await oauth.refresh(issued["refresh_token"])).json()
    oauth.clock.advance(6 * SECOND)  # past the grace window for a lost answer
    reuse = await oauth.refresh(issued["refresh_token"])
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    # The thief's and the user's tokens of that family are all dead now.
    assert (await oauth.refresh(rotated["refresh_token"])).json()["error"] == "invalid_grant"
    assert (await oauth.me(rotated["access_token"])).status_code == 401
    assert (await oauth.me(issued["access_token"])).status_code == 401
    # Another sign-in is a new family and works.
    fresh = await oauth.tokens()
    assert (await oauth.me(fresh["access_token"])).status_code == 200


async def test_a_client_retrying_a_lost_refresh_answer_gets_fresh_tokens_in_one_family(
    oauth,
):
    await oauth.user()
    issued = await oauth.tokens()
    lost = (await oauth.refresh(issued["refresh_token"])).json()  # never reached the client
    oauth.clock.advance(2 * SECOND)
    retried = await oauth.refresh(issued["refresh_token"])
    assert retried.status_code == 200
    again = retried.json()
    assert claims_of(again["access_token"])["sid"] == claims_of(issued["access_token"])["sid"]
    assert (await oauth.me(again["access_token"])).status_code == 200
    newest = await oauth.refresh(again["refresh_token"])
    assert newest.status_code == 200
    # The lost token was retired for the replacement, so the family never forks: showing
    # it later is reuse, and ends the family.
    oauth.clock.advance(10 * SECOND)
    assert (await oauth.refresh(lost["refresh_token"])).json()["error"] == "invalid_grant"
    assert (await oauth.refresh(newest.json()["refresh_token"])).json()["error"] == "invalid_grant"


async def test_a_refresh_token_replayed_by_another_client_ends_its_family(oauth):
    await oauth.user()
    issued = await oauth.tokens()
    rotated = (await oauth.refresh(issued["refresh_token"])).json()
    other = await oauth.identity.clients.create_client(
        name="other app",
        scopes=["read"],
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=[REDIRECT],
        public=True,
    )
    stolen = {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}
    response = await oauth.http.post("/oauth/token", data=stolen | {"client_id": other.client_id})
    assert response.json()["error"] == "invalid_grant"
    assert (await oauth.refresh(rotated["refresh_token"])).json()["error"] == "invalid_grant"
    assert (await oauth.me(rotated["access_token"])).status_code == 401


async def test_a_refresh_token_dies_when_idle_and_at_its_absolute_lifetime(oauth):
    await oauth.user()
    issued = await oauth.tokens()
    oauth.clock.advance(901 * SECOND)
    assert (await oauth.refresh(issued["refresh_token"])).json()["error"] == "invalid_grant"
    issued = await oauth.tokens()
    signed_in = oauth.clock.now_ns()
    token = issued["refresh_token"]
    for _ in range(60):  # keep it busy every 14 minutes, past the 12-hour limit
        oauth.clock.advance(14 * 60 * SECOND)
        response = await oauth.refresh(token)
        if response.status_code != 200:
            break
        token = response.json()["refresh_token"]
    assert response.json()["error"] == "invalid_grant"
    lived = oauth.clock.now_ns() - signed_in
    assert 12 * 3600 * SECOND <= lived < 12 * 3600 * SECOND + 14 * 60 * SECOND


async def test_a_refresh_token_is_bound_to_its_client(oauth):
    await oauth.user()
    issued = await oauth.tokens()
    other = await oauth.identity.clients.create_client(
        name="other app",
        scopes=["read"],
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=[REDIRECT],
        public=True,
    )
    response = await oauth.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": issued["refresh_token"],
            "client_id": other.client_id,
        },
    )
    assert response.json()["error"] == "invalid_grant"


async def test_refresh_may_narrow_but_never_widen_scopes(oauth):
    await oauth.user()
    issued = await oauth.tokens(scope="openid read")
    widened = await oauth.refresh(issued["refresh_token"], scope="openid read trade")
    assert widened.json()["error"] == "invalid_scope"
    issued = await oauth.tokens(scope="openid read trade")
    narrowed = await oauth.refresh(issued["refresh_token"], scope="read")
    assert narrowed.json()["scope"] == "read"


# -- revocation and introspection ------------------------------------------------------------


async def test_revoking_an_access_token_refuses_it_at_once(oauth):
    await oauth.user()
    issued = await oauth.tokens()
    assert (await oauth.me(issued["access_token"])).status_code == 200  # now cached
    response = await oauth.http.post(
        "/oauth/revoke",
        data={"token": issued["access_token"], "client_id": oauth.console.client_id},
    )
    assert response.status_code == 200
    assert (await oauth.me(issued["access_token"])).status_code == 401


async def test_revoking_a_refresh_token_ends_its_grant_and_access_tokens(oauth):
    await oauth.user()
    issued = await oauth.tokens()
    response = await oauth.http.post(
        "/oauth/revoke",
        data={
            "token": issued["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": oauth.console.client_id,
        },
    )
    assert response.status_code == 200
    assert (await oauth.refresh(issued["refresh_token"])).json()["error"] == "invalid_grant"
    assert (await oauth.me(issued["access_token"])).status_code == 401


async def test_revocation_of_unknown_or_foreign_tokens_answers_200_and_changes_nothing(oauth):
    await oauth.user()
    issued = await oauth.tokens()
    other = await oauth.identity.clients.create_client(
        name="other app",
        scopes=["read"],
        grant_types=["authorization_code"],
        redirect_uris=[REDIRECT],
        public=True,
    )
    for token in ("garbage", "obr_" + "x" * 43, issued["access_token"], issued["refresh_token"]):
        response = await oauth.http.post(
            "/oauth/revoke", data={"token": token, "client_id": other.client_id}
        )
        assert response.status_code == 200
    assert (await oauth.me(issued["access_token"])).status_code == 200
    assert (await oauth.refresh(issued["refresh_token"])).status_code == 200


async def test_revocation_needs_client_authentication(oauth):
    response = await oauth.http.post("/oauth/revoke", data={"token": "x"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_introspection_reports_a_confidential_clients_own_tokens_only(oauth):
    service = await oauth.identity.clients.create_client(name="svc", scopes=["read"])
    mine = (
        await oauth.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(service.client_id, service.client_secret),
        )
    ).json()["access_token"]
    auth = (service.client_id, service.client_secret)
    response = await oauth.http.post("/oauth/introspect", data={"token": mine}, auth=auth)
    body = response.json()
    assert body["active"] is True
    assert body["client_id"] == service.client_id
    assert body["scope"] == "read"
    assert body["token_type"] == "access_token"
    await oauth.user()
    users = await oauth.tokens()
    for token in (users["access_token"], users["refresh_token"], "junk"):
        response = await oauth.http.post("/oauth/introspect", data={"token": token}, auth=auth)
        assert response.json() == {"active": False}
    await oauth.http.post("/oauth/revoke", data={"token": mine}, auth=auth)
    response = await oauth.http.post("/oauth/introspect", data={"token": mine}, auth=auth)
    assert response.json() == {"active": False}


async def test_introspection_is_closed_to_public_and_unauthenticated_clients(oauth):
    for data in ({"token": "x"}, {"token": "x", "client_id": oauth.console.client_id}):
        response = await oauth.http.post("/oauth/introspect", data=data)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"


# -- the same flows on SQLite and PostgreSQL ---------------------------------------------------


async def test_the_flows_hold_on_each_database(sql_oauth):
    await sql_oauth.user()
    code, verifier, _ = await sql_oauth.sign_in()
    issued = (await sql_oauth.exchange(code, verifier)).json()
    rotated = (await sql_oauth.refresh(issued["refresh_token"])).json()
    assert "refresh_token" in rotated
    sql_oauth.clock.advance(6 * SECOND)  # past the grace window for a lost answer
    assert (await sql_oauth.refresh(issued["refresh_token"])).json()["error"] == "invalid_grant"
    assert (await sql_oauth.me(rotated["access_token"])).status_code == 401
    assert (await sql_oauth.exchange(code, verifier)).json()["error"] == "invalid_grant"


async def test_concurrent_use_of_one_refresh_token_leaves_no_live_tokens_behind(sql_oauth):
    await sql_oauth.user()
    issued = await sql_oauth.tokens()
    responses = await asyncio.gather(
        *(sql_oauth.refresh(issued["refresh_token"]) for _ in range(5))
    )
    # One use wins the token, and at most one other passes for a retry of a lost answer;
    # the rest are reuse, which ends the family, so whatever the winners got is dead too
    # (and a winner may even lose the race to the revocation).
    winners = [response for response in responses if response.status_code == 200]
    assert len(winners) <= 2
    assert sum(response.status_code == 400 for response in responses) >= 3
    for winner in winners:
        again = await sql_oauth.refresh(winner.json()["refresh_token"])
        assert again.json()["error"] == "invalid_grant"
        assert (await sql_oauth.me(winner.json()["access_token"])).status_code == 401


# -- malformed token requests ----------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"code": None},
        {"code": ""},
        {"code": "obac_" + "x" * 5000},
        {"redirect_uri": None},
        {"code_verifier": "short"},
        {"code_verifier": "v" * 129},
        {"code_verifier": "with spaces and !" * 4},
        {"code_verifier": "é" * 50},
    ],
)
async def test_malformed_code_exchanges_are_refused(oauth, changes):
    await oauth.user()
    code, verifier, _ = await oauth.sign_in()
    form = {"code": code, "code_verifier": verifier, **changes}
    response = await oauth.exchange(form.pop("code"), form.pop("code_verifier"), **form)
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_request", "invalid_grant"}
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("token", [None, "", "obr_", "obr_" + "x" * 5000, "not-a-token"])
async def test_malformed_refresh_requests_are_refused(oauth, token):
    form = {"grant_type": "refresh_token", "client_id": oauth.console.client_id}
    if token is not None:
        form["refresh_token"] = token
    response = await oauth.http.post("/oauth/token", data=form)
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_request", "invalid_grant"}


async def test_a_repeated_token_parameter_is_refused(oauth):
    response = await oauth.http.post(
        "/oauth/token",
        content="grant_type=refresh_token&refresh_token=a&refresh_token=b&client_id=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.json()["error"] == "invalid_request"


async def test_an_overlong_state_is_refused_and_not_echoed(oauth):
    response = await oauth.authorize(
        state="s" * 600, code_challenge=pkce_challenge("v" * 43), code_challenge_method="S256"
    )
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"]
    assert "state" not in query


async def test_a_code_from_a_password_only_sign_in_never_carries_withdraw(oauth):
    await oauth.user()
    body = await oauth.tokens(scope="read withdraw")
    assert body["scope"] == "read"
