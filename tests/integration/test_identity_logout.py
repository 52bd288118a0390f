"""OpenID Connect RP-initiated logout: an application ends a user's sign-in with it and the
browser goes back only to a URI registered for that application."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from test_identity_oauth import (
    ISSUER,
    REDIRECT,
    SECOND,
    Accounts,
    make_harness,
    settings_for,
)

from openbell.identity.bootstrap import build_in_memory_identity
from openbell.shared.time import FixedClock

LOGOUT = "/oauth/logout"


@pytest.fixture
def clock():
    return FixedClock(time.time_ns())


@pytest.fixture
async def oauth(tmp_path, clock):
    # Refresh tokens outlive ID tokens here, so a logout with an expired hint has work to do.
    settings = settings_for(tmp_path, refresh_token_idle_seconds=7200)
    identity = build_in_memory_identity(settings, clock=clock, kek=bytes(32), accounts=Accounts())
    harness = await make_harness(identity, settings, clock)
    yield harness
    await harness.http.aclose()
    await identity.close()


async def signed_in(oauth, email="alice@example.com"):
    await oauth.user(email)
    tokens = await oauth.tokens(email)
    oauth.clock.advance(SECOND)
    return tokens


async def still_signed_in(oauth, tokens) -> bool:
    """Whether the sign-in's refresh token would still be honoured (without using it)."""
    return await oauth.identity.tokens.refresh_token_info(tokens["refresh_token"]) is not None


async def test_discovery_names_the_end_session_endpoint(oauth):
    document = (await oauth.http.get("/.well-known/openid-configuration")).json()
    assert document["end_session_endpoint"] == ISSUER + LOGOUT


async def test_logout_ends_the_users_sign_in_with_the_client_and_returns_with_state(oauth):
    alice = await signed_in(oauth)
    bob = await signed_in(oauth, "bob@example.com")
    response = await oauth.http.get(
        LOGOUT,
        params={
            "id_token_hint": alice["id_token"],
            "post_logout_redirect_uri": REDIRECT,
            "state": "bye-1",
        },
    )
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert parse_qs(location.query) == {"state": ["bye-1"]}
    # The refresh-token family is gone, and the access token with it, at once.
    assert (await oauth.me(alice["access_token"])).status_code == 401
    assert not await still_signed_in(oauth, alice)
    # Another user's sign-in with the same application is untouched.
    assert (await oauth.me(bob["access_token"])).status_code == 200


async def test_logout_by_form_post_with_an_expired_hint_shows_the_signed_out_page(oauth):
    alice = await signed_in(oauth)
    oauth.clock.advance(1800 * SECOND)  # the ID token has expired; it still names the sign-in
    assert await still_signed_in(oauth, alice)
    response = await oauth.http.post(LOGOUT, data={"id_token_hint": alice["id_token"]})
    assert response.status_code == 200
    assert "Signed out" in response.text
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert not await still_signed_in(oauth, alice)


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example/callback",
        REDIRECT + "/more",
        REDIRECT.replace("127.0.0.1", "localhost"),
    ],
)
async def test_logout_never_redirects_to_an_unregistered_uri_and_changes_nothing(oauth, uri):
    alice = await signed_in(oauth)
    response = await oauth.http.get(
        LOGOUT, params={"id_token_hint": alice["id_token"], "post_logout_redirect_uri": uri}
    )
    assert response.status_code == 400
    assert "location" not in response.headers
    assert await still_signed_in(oauth, alice)


async def test_a_return_uri_needs_a_client_to_check_it_against(oauth):
    response = await oauth.http.get(LOGOUT, params={"post_logout_redirect_uri": REDIRECT})
    assert response.status_code == 400
    assert "location" not in response.headers
    named = await oauth.http.get(
        LOGOUT,
        params={
            "client_id": oauth.console.client_id,
            "post_logout_redirect_uri": REDIRECT,
            "state": "s",
        },
    )
    assert named.status_code == 303


async def test_an_access_token_or_a_forged_hint_is_refused(oauth):
    alice = await signed_in(oauth)
    forged = alice["id_token"][:-4] + ("AAAA" if not alice["id_token"].endswith("AAAA") else "BBBB")
    for hint in (alice["access_token"], forged, "not-a-token"):
        response = await oauth.http.get(LOGOUT, params={"id_token_hint": hint})
        assert response.status_code == 400, hint
    assert await still_signed_in(oauth, alice)


async def test_a_client_id_other_than_the_hints_audience_is_refused(oauth):
    alice = await signed_in(oauth)
    other = await oauth.identity.clients.create_client(
        name="other app",
        scopes=["openid", "read"],
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=["https://other.example/back"],
        public=True,
    )
    response = await oauth.http.get(
        LOGOUT,
        params={
            "id_token_hint": alice["id_token"],
            "client_id": other.client_id,
            "post_logout_redirect_uri": "https://other.example/back",
        },
    )
    assert response.status_code == 400
    assert await still_signed_in(oauth, alice)


async def test_without_parameters_the_signed_out_page_is_shown(oauth):
    response = await oauth.http.get(LOGOUT)
    assert response.status_code == 200
    assert "Signed out" in response.text
    assert response.headers["cache-control"] == "no-store"
