"""Users' own account over /v1: registration, verification, password, MFA, step-up,
self-service API clients and disabling, through the HTTP API."""

import re
import time

import pyotp
import pytest
from test_identity_oauth import (
    PASSWORD,
    SECOND,
    Accounts,
    claims_of,
    hidden_fields,
    make_harness,
    settings_for,
)

from openbell.identity.bootstrap import build_in_memory_identity
from openbell.identity.domain.users import Role
from openbell.shared.time import FixedClock

NEW_PASSWORD = "a much longer passphrase 2"


@pytest.fixture
def clock():
    return FixedClock(time.time_ns())


@pytest.fixture
async def oauth(tmp_path, clock):
    settings = settings_for(tmp_path)
    accounts = Accounts()
    identity = build_in_memory_identity(settings, clock=clock, kek=bytes(32), accounts=accounts)
    harness = await make_harness(identity, settings, clock)
    harness.accounts = accounts
    yield harness
    await harness.http.aclose()
    await identity.close()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


async def enrol_totp(oauth, access_token):
    """Enrol TOTP through the API; return the secret and the recovery codes."""
    setup = await oauth.http.post("/v1/me/mfa/totp", headers=bearer(access_token))
    assert setup.status_code == 201, setup.text
    secret = setup.json()["secret"]
    assert setup.json()["otpauth_uri"].startswith("otpauth://totp/")
    assert secret in setup.json()["otpauth_uri"]
    confirm = await oauth.http.post(
        "/v1/me/mfa/totp/confirm", json={"code": oauth.totp(secret)}, headers=bearer(access_token)
    )
    assert confirm.status_code == 200, confirm.text
    oauth.clock.advance(30 * SECOND)
    return secret, confirm.json()["recovery_codes"]


async def mfa_tokens(oauth, email="alice@example.com"):
    """A user with TOTP enrolled, signed in with it: a step-up token."""
    await oauth.user(email)
    first = await oauth.tokens(email)
    secret, codes = await enrol_totp(oauth, first["access_token"])
    tokens = await oauth.tokens(email, totp_secret=secret)
    return tokens, secret, codes


# -- registration and verification --------------------------------------------------------


async def test_registration_sends_a_verification_token_and_verifying_opens_an_account(oauth):
    response = await oauth.http.post(
        "/v1/users", json={"email": "New.Trader@Example.com", "password": PASSWORD, "name": "N"}
    )
    assert response.status_code == 202
    assert response.json() == {"status": "verification_sent"}
    to, _, body = oauth.identity.mailer.sent[-1]
    assert to == "new.trader@example.com"
    found = re.search(r"\n\n(\S+)\n\n", body)
    assert found is not None
    token = found.group(1)
    # Unverified: cannot sign in yet.
    code, _, page = await oauth.sign_in("new.trader@example.com")
    assert code is None
    assert page.status_code == 401
    verified = await oauth.http.post("/v1/users/verify", json={"token": token})
    assert verified.status_code == 200
    assert oauth.accounts.opened == 1
    tokens = await oauth.tokens("new.trader@example.com")
    assert claims_of(tokens["access_token"])["acct"] == 101
    again = await oauth.http.post("/v1/users/verify", json={"token": token})
    assert again.status_code == 400
    assert again.json()["reason"] == "invalid_token"


async def test_registering_a_taken_address_answers_the_same_and_warns_its_owner(oauth):
    await oauth.user()
    response = await oauth.http.post(
        "/v1/users", json={"email": "alice@example.com", "password": NEW_PASSWORD}
    )
    assert response.status_code == 202
    assert response.json() == {"status": "verification_sent"}
    assert "tried to register" in oauth.identity.mailer.sent[-1][1]
    assert len(await oauth.identity.users.list_users()) == 1


async def test_a_verification_token_expires(oauth):
    await oauth.http.post("/v1/users", json={"email": "x@example.com", "password": PASSWORD})
    found = re.search(r"\n\n(\S+)\n\n", oauth.identity.mailer.sent[-1][2])
    assert found is not None
    token = found.group(1)
    oauth.clock.advance(86_401 * SECOND)
    response = await oauth.http.post("/v1/users/verify", json={"token": token})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "password",
    [
        "short",
        "password1234",  # on the breach list
        "Password1234",  # and whatever its case
        "WhosYourDaddy",
        "aaaaaaaaaaaaaaaa",
        "x" * 129,
        "bob.trader@example.com!",  # contains the address
        "bob.trader-secret",  # contains its local part
    ],
)
async def test_weak_passwords_are_refused_with_a_reason(oauth, password):
    response = await oauth.http.post(
        "/v1/users", json={"email": "bob.trader@example.com", "password": password}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == "weak_password"
    assert oauth.identity.mailer.sent == []


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "a@b", "password": PASSWORD},
        {"email": "a b@example.com", "password": PASSWORD},
        {"email": "a@example.com", "password": PASSWORD, "role": "admin"},
        {"email": "a@example.com", "password": PASSWORD, "name": "bell\x07"},
        {"email": "a@example.com"},
        {"email": "a@example.com", "password": 123456789012},
        {"email": "a@" + "x" * 250 + ".com", "password": PASSWORD},
    ],
)
async def test_bad_registrations_are_refused_as_problems(oauth, body):
    response = await oauth.http.post("/v1/users", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert oauth.identity.mailer.sent == []


async def test_registration_cannot_choose_a_role(oauth):
    await oauth.http.post("/v1/users", json={"email": "x@example.com", "password": PASSWORD})
    (user,) = await oauth.identity.users.list_users()
    assert user.roles == {Role.TRADER}


# -- password -------------------------------------------------------------------------------


async def test_changing_the_password_ends_every_session(oauth):
    await oauth.user()
    tokens = await oauth.tokens()
    oauth.clock.advance(SECOND)
    response = await oauth.http.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 204
    assert (await oauth.me(tokens["access_token"])).status_code == 401
    assert (await oauth.refresh(tokens["refresh_token"])).json()["error"] == "invalid_grant"
    oauth.clock.advance(SECOND)
    code, _, _ = await oauth.sign_in(password=PASSWORD)
    assert code is None
    assert await oauth.tokens(password=NEW_PASSWORD)


async def test_a_password_change_needs_the_current_password(oauth):
    await oauth.user()
    tokens = await oauth.tokens()
    response = await oauth.http.post(
        "/v1/me/password",
        json={"current_password": "wrong password here", "new_password": NEW_PASSWORD},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 422
    assert response.json()["reason"] == "invalid_credentials"


async def test_a_program_cannot_change_a_users_password(oauth):
    service = await oauth.identity.clients.create_client(name="svc", scopes=["read"])
    token = (
        await oauth.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(service.client_id, service.client_secret),
        )
    ).json()["access_token"]
    response = await oauth.http.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(token),
    )
    assert response.status_code == 403
    assert response.json()["reason"] == "user_token_required"


# -- MFA ------------------------------------------------------------------------------------


async def test_with_totp_enrolled_sign_in_asks_for_a_code_and_proves_mfa(oauth):
    tokens, _, _ = await mfa_tokens(oauth)
    claims = claims_of(tokens["access_token"])
    assert claims["acr"] == "urn:openbell:acr:mfa"
    assert set(claims["amr"]) == {"pwd", "mfa", "otp"}
    assert abs(claims["auth_time"] - oauth.clock.now_ns() // SECOND) <= 1
    assert "withdraw" in tokens["scope"].split()


async def test_a_wrong_or_replayed_totp_code_does_not_sign_in(oauth):
    _, secret, _ = await mfa_tokens(oauth)
    _, _, page = await oauth.sign_in()
    assert page.status_code == 200
    fields = hidden_fields(page.text)
    wrong = await oauth.http.post("/oauth/authorize", data={**fields, "code": "000000"})
    assert wrong.status_code == 401
    oauth.clock.advance(30 * SECOND)
    used = oauth.totp(secret)
    first = await oauth.http.post("/oauth/authorize", data={**fields, "code": used})
    assert first.status_code == 303
    page = (await oauth.sign_in())[2]
    replay = await oauth.http.post(
        "/oauth/authorize", data={**hidden_fields(page.text), "code": used}
    )
    assert replay.status_code == 401


async def test_a_recovery_code_signs_in_once(oauth):
    _, _, codes = await mfa_tokens(oauth)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    page = (await oauth.sign_in())[2]
    response = await oauth.http.post(
        "/oauth/authorize", data={**hidden_fields(page.text), "code": codes[0].lower()}
    )
    assert response.status_code == 303
    page = (await oauth.sign_in())[2]
    again = await oauth.http.post(
        "/oauth/authorize", data={**hidden_fields(page.text), "code": codes[0]}
    )
    assert again.status_code == 401


async def test_recovery_codes_are_stored_only_as_digests(oauth):
    _, _, codes = await mfa_tokens(oauth)
    stored = repr(oauth.identity.mfa._repository._codes)
    assert all(code.replace("-", "") not in stored and code not in stored for code in codes)


async def test_the_totp_secret_is_stored_encrypted(oauth):
    _, secret, _ = await mfa_tokens(oauth)
    (user,) = await oauth.identity.users.list_users()
    enrolment = await oauth.identity.mfa._repository.totp(user.user_id)
    assert secret.encode() not in enrolment.encrypted_secret


async def test_the_mfa_step_cannot_be_skipped_or_moved_to_another_user(oauth):
    await mfa_tokens(oauth)
    await oauth.user("mallory@example.com")
    page = (await oauth.sign_in())[2]
    fields = hidden_fields(page.text)
    # Dropping the login field restarts at the password step; a forged one is refused.
    forged = {**fields, "login": fields["login"][:-6] + "AAAAAA", "code": "123456"}
    assert (await oauth.http.post("/oauth/authorize", data=forged)).status_code == 400


async def test_enrolment_twice_is_refused_and_removal_needs_a_step_up(oauth):
    tokens, _, _ = await mfa_tokens(oauth)
    again = await oauth.http.post("/v1/me/mfa/totp", headers=bearer(tokens["access_token"]))
    assert again.status_code == 409
    oauth.clock.advance(301 * SECOND)
    # Stale MFA: removal needs a fresh second factor (RFC 9470 challenge).
    stale = await oauth.http.delete("/v1/me/mfa/totp", headers=bearer(tokens["access_token"]))
    assert stale.status_code == 401
    assert stale.json()["reason"] == "step_up_required"
    challenge = stale.headers["www-authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'acr_values="urn:openbell:acr:mfa"' in challenge


async def test_the_withdraw_scope_needs_a_fresh_second_factor(oauth):
    await oauth.user()
    password_only = await oauth.tokens()
    assert "withdraw" not in password_only["scope"].split()
    tokens, _, _ = await mfa_tokens(oauth, "bob@example.com")
    assert "withdraw" in tokens["scope"].split()
    oauth.clock.advance(301 * SECOND)
    refreshed = (await oauth.refresh(tokens["refresh_token"])).json()
    assert "withdraw" not in refreshed["scope"].split()
    assert "trade" in refreshed["scope"].split()


async def test_enrolment_needs_a_recent_sign_in(oauth):
    await oauth.user()
    tokens = await oauth.tokens()
    oauth.clock.advance(301 * SECOND)
    refreshed = (await oauth.refresh(tokens["refresh_token"])).json()
    response = await oauth.http.post("/v1/me/mfa/totp", headers=bearer(refreshed["access_token"]))
    assert response.status_code == 401
    assert response.json()["reason"] == "step_up_required"


# -- self-service API clients ---------------------------------------------------------------


async def test_a_trader_creates_lists_and_revokes_their_own_api_clients(oauth):
    tokens, _, _ = await mfa_tokens(oauth)
    created = await oauth.http.post(
        "/v1/me/clients",
        json={"name": "my bot", "scopes": ["read", "trade"]},
        headers=bearer(tokens["access_token"]),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["client_secret"].startswith("obs_")
    (user,) = await oauth.identity.users.list_users()
    assert body["account_id"] == user.account_id
    token = await oauth.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(body["client_id"], body["client_secret"]),
    )
    bot_token = token.json()["access_token"]
    assert claims_of(bot_token)["acct"] == user.account_id
    listed = await oauth.http.get("/v1/me/clients", headers=bearer(tokens["access_token"]))
    assert [item["client_id"] for item in listed.json()] == [body["client_id"]]
    assert "client_secret" not in listed.json()[0]
    revoked = await oauth.http.delete(
        f"/v1/me/clients/{body['client_id']}", headers=bearer(tokens["access_token"])
    )
    assert revoked.json()["revoked"] is True
    # The bot's token is refused at once, and it gets no new one.
    assert (await oauth.me(bot_token)).status_code in {401, 403}
    introspected = await oauth.identity.verifier.signed_claims(bot_token)
    assert not oauth.identity.verifier.active(introspected)


@pytest.mark.parametrize(
    "scopes", [["read", "withdraw"], ["admin"], ["read", "ops"], ["superuser"], []]
)
async def test_self_service_clients_get_only_the_users_scopes_never_withdraw(oauth, scopes):
    tokens, _, _ = await mfa_tokens(oauth)
    response = await oauth.http.post(
        "/v1/me/clients",
        json={"name": "bot", "scopes": scopes},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 422


async def test_creating_an_api_client_needs_a_step_up(oauth):
    await oauth.user()
    tokens = await oauth.tokens()
    response = await oauth.http.post(
        "/v1/me/clients",
        json={"name": "bot", "scopes": ["read"]},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 401
    assert response.json()["reason"] == "step_up_required"


async def test_rotating_a_secret_keeps_the_old_one_for_the_overlap_only(oauth):
    tokens, _, _ = await mfa_tokens(oauth)
    headers = bearer(tokens["access_token"])
    body = (
        await oauth.http.post(
            "/v1/me/clients", json={"name": "bot", "scopes": ["read"]}, headers=headers
        )
    ).json()
    rotated = await oauth.http.post(f"/v1/me/clients/{body['client_id']}/secret", headers=headers)
    assert rotated.status_code == 200
    new_secret = rotated.json()["client_secret"]
    assert new_secret != body["client_secret"]

    async def grant(secret):
        return await oauth.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(body["client_id"], secret),
        )

    assert (await grant(body["client_secret"])).status_code == 200
    assert (await grant(new_secret)).status_code == 200
    oauth.clock.advance(86_401 * SECOND)
    assert (await grant(body["client_secret"])).status_code == 401
    assert (await grant(new_secret)).status_code == 200


async def test_another_users_client_is_not_found_for_every_action(oauth):
    alice, _, _ = await mfa_tokens(oauth, "alice@example.com")
    bob, _, _ = await mfa_tokens(oauth, "bob@example.com")
    body = (
        await oauth.http.post(
            "/v1/me/clients",
            json={"name": "alice bot", "scopes": ["read"]},
            headers=bearer(alice["access_token"]),
        )
    ).json()
    path = f"/v1/me/clients/{body['client_id']}"
    assert (await oauth.http.delete(path, headers=bearer(bob["access_token"]))).status_code == 404
    rotated = await oauth.http.post(path + "/secret", headers=bearer(bob["access_token"]))
    assert rotated.status_code == 404
    listed = await oauth.http.get("/v1/me/clients", headers=bearer(bob["access_token"]))
    assert listed.json() == []
    missing = await oauth.http.delete(
        "/v1/me/clients/obc_nope", headers=bearer(bob["access_token"])
    )
    assert missing.json()["reason"] == rotated.json()["reason"] == "client_not_found"
    # Alice's client still works.
    token = await oauth.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(body["client_id"], body["client_secret"]),
    )
    assert token.status_code == 200


# -- disabling ------------------------------------------------------------------------------


async def test_an_admin_disables_a_user_whose_sessions_tokens_and_clients_end(oauth):
    await oauth.user("admin@example.com", roles=(Role.ADMIN,))
    admin_first = await oauth.tokens("admin@example.com")
    secret, _ = await enrol_totp(oauth, admin_first["access_token"])
    admin = await oauth.tokens("admin@example.com", totp_secret=secret)
    victim, _, _ = await mfa_tokens(oauth, "bob@example.com")
    bot = (
        await oauth.http.post(
            "/v1/me/clients",
            json={"name": "bot", "scopes": ["read"]},
            headers=bearer(victim["access_token"]),
        )
    ).json()
    bob_id = claims_of(victim["access_token"])["sub"]
    oauth.clock.advance(SECOND)
    response = await oauth.http.post(
        f"/v1/users/{bob_id}/disable", headers=bearer(admin["access_token"])
    )
    assert response.status_code == 200
    assert (await oauth.me(victim["access_token"])).status_code == 401
    assert (await oauth.refresh(victim["refresh_token"])).json()["error"] == "invalid_grant"
    code, _, _ = await oauth.sign_in("bob@example.com")
    assert code is None
    token = await oauth.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(bot["client_id"], bot["client_secret"]),
    )
    assert token.status_code == 401


async def test_only_an_admin_with_a_step_up_may_disable_users(oauth):
    victim, _, _ = await mfa_tokens(oauth, "bob@example.com")
    bob_id = claims_of(victim["access_token"])["sub"]
    # A trader, even with a fresh second factor, lacks the admin scope.
    response = await oauth.http.post(
        f"/v1/users/{bob_id}/disable", headers=bearer(victim["access_token"])
    )
    assert response.status_code == 403
    await oauth.user("admin@example.com", roles=(Role.ADMIN,))
    admin = await oauth.tokens("admin@example.com")
    response = await oauth.http.post(
        f"/v1/users/{bob_id}/disable", headers=bearer(admin["access_token"])
    )
    assert response.status_code == 401
    assert response.json()["reason"] == "step_up_required"


async def test_the_totp_uri_names_the_issuer_and_user(oauth):
    await oauth.user()
    tokens = await oauth.tokens()
    setup = (
        await oauth.http.post("/v1/me/mfa/totp", headers=bearer(tokens["access_token"]))
    ).json()
    parsed = pyotp.parse_uri(setup["otpauth_uri"])
    assert parsed.issuer == "openbell"
    assert parsed.name == "alice@example.com"
    assert len(setup["secret"]) >= 32


async def test_a_trader_narrows_an_api_clients_scopes_and_its_old_tokens_die(oauth):
    tokens, _, _ = await mfa_tokens(oauth)
    headers = bearer(tokens["access_token"])
    body = (
        await oauth.http.post(
            "/v1/me/clients", json={"name": "bot", "scopes": ["read", "trade"]}, headers=headers
        )
    ).json()
    auth = (body["client_id"], body["client_secret"])
    grant = {"grant_type": "client_credentials"}
    old = (await oauth.http.post("/oauth/token", data=grant, auth=auth)).json()["access_token"]
    changed = await oauth.http.patch(
        f"/v1/me/clients/{body['client_id']}", json={"scopes": ["read"]}, headers=headers
    )
    assert changed.status_code == 200
    assert changed.json()["scopes"] == ["read"]
    assert not oauth.identity.verifier.active(await oauth.identity.verifier.signed_claims(old))
    oauth.clock.advance(SECOND)
    new = (await oauth.http.post("/oauth/token", data=grant, auth=auth)).json()
    assert new["scope"] == "read"
    for scopes in (["read", "withdraw"], ["admin"], []):
        refused = await oauth.http.patch(
            f"/v1/me/clients/{body['client_id']}", json={"scopes": scopes}, headers=headers
        )
        assert refused.status_code == 422


async def test_another_users_client_scopes_cannot_be_changed(oauth):
    alice, _, _ = await mfa_tokens(oauth, "alice@example.com")
    bob, _, _ = await mfa_tokens(oauth, "bob@example.com")
    body = (
        await oauth.http.post(
            "/v1/me/clients",
            json={"name": "alice bot", "scopes": ["read"]},
            headers=bearer(alice["access_token"]),
        )
    ).json()
    response = await oauth.http.patch(
        f"/v1/me/clients/{body['client_id']}",
        json={"scopes": ["read", "trade"]},
        headers=bearer(bob["access_token"]),
    )
    assert response.status_code == 404
    assert response.json()["reason"] == "client_not_found"


async def test_identity_is_ready_only_while_revocations_are_fresh(oauth):
    assert await oauth.identity.ready()
    oauth.identity.revocations._synced_at -= 60
    assert not await oauth.identity.ready()


# -- programs registered by an admin ---------------------------------------------------------


async def stepped_up_admin(oauth):
    await oauth.user("admin@example.com", roles=(Role.ADMIN,))
    first = await oauth.tokens("admin@example.com")
    secret, _ = await enrol_totp(oauth, first["access_token"])
    return await oauth.tokens("admin@example.com", totp_secret=secret)


async def test_an_admin_registers_an_operators_program_with_ops_alone_and_a_reason(oauth):
    admin = await stepped_up_admin(oauth)
    response = await oauth.http.post(
        "/v1/clients",
        json={"name": "mode-bot", "scopes": ["ops"], "reason": "runbook automation for the open"},
        headers=bearer(admin["access_token"]),
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["scopes"] == ["ops"]
    assert created["account_id"] is None
    token = await oauth.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(created["client_id"], created["client_secret"]),
    )
    assert token.status_code == 200
    assert token.json()["scope"] == "ops"


@pytest.mark.parametrize(
    ("scopes", "account_id", "reason"),
    [
        (["admin"], None, "needs to manage users"),
        (["audit"], None, "reads the audit trail"),
        (["read", "trade", "withdraw"], 1, "pays out automatically"),
        (["ops", "read"], None, "ops with something else"),
        (["ops"], 1, "ops acting for an account"),
        (["ops"], None, "why"),
        (["ops"], None, "        "),
    ],
)
async def test_an_admin_cannot_give_a_program_what_only_people_hold_or_skip_the_reason(
    oauth, scopes, account_id, reason
):
    admin = await stepped_up_admin(oauth)
    response = await oauth.http.post(
        "/v1/clients",
        json={"name": "bot", "scopes": scopes, "account_id": account_id, "reason": reason},
        headers=bearer(admin["access_token"]),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_only_an_admin_with_a_step_up_registers_programs(oauth):
    body = {"name": "bot", "scopes": ["ops"], "reason": "runbook automation for the open"}
    trader, _, _ = await mfa_tokens(oauth, "bob@example.com")
    response = await oauth.http.post(
        "/v1/clients", json=body, headers=bearer(trader["access_token"])
    )
    assert response.status_code == 403
    await oauth.user("admin@example.com", roles=(Role.ADMIN,))
    admin = await oauth.tokens("admin@example.com")
    response = await oauth.http.post(
        "/v1/clients", json=body, headers=bearer(admin["access_token"])
    )
    assert response.status_code == 401
    assert response.json()["reason"] == "step_up_required"


async def test_registering_a_program_refuses_unknown_fields(oauth):
    admin = await stepped_up_admin(oauth)
    body = {"name": "bot", "scopes": ["ops"], "reason": "runbook automation", "owner": "x"}
    response = await oauth.http.post(
        "/v1/clients", json=body, headers=bearer(admin["access_token"])
    )
    assert response.status_code == 422
    assert response.json()["reason"] == "validation_error"
