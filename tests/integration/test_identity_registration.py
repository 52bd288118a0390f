"""Registration and account recovery through the HTTP API, played as an attacker would:
addresses that are more than one mailbox, pre-hijacking a sign-up, mail bombing, and
telling known addresses from unknown ones by the answer or its timing."""

import re
import time
from email import message_from_bytes

import pytest
from test_identity_oauth import PASSWORD, SECOND, Accounts, make_harness, settings_for

from openbell.identity.bootstrap import OUTBOX_DIRECTORY, build_identity, build_in_memory_identity
from openbell.identity.domain.users import Role, UserStatus
from openbell.migrations import upgrade_database
from openbell.shared.time import FixedClock

NEW_PASSWORD = "a much longer passphrase 2"
ATTACKER_PASSWORD = "the attackers own passphrase 7"
VICTIM = "victim@corp.example"
INTERVAL = 61 * SECOND
PADDING = 0.3


@pytest.fixture
def clock():
    return FixedClock(time.time_ns())


@pytest.fixture
async def server(tmp_path, clock):
    """Makes a server (in memory) with the given settings; closes them all at the end."""
    made = []

    async def make(**overrides):
        settings = settings_for(tmp_path, **{"account_mail_response_seconds": 0.0, **overrides})
        identity = build_in_memory_identity(
            settings, clock=clock, kek=bytes(32), accounts=Accounts()
        )
        harness = await make_harness(identity, settings, clock)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        await harness.http.aclose()
        await harness.identity.close()


@pytest.fixture
async def oauth(server):
    return await server()


def token_in(body):
    found = re.search(r"\n\n(\S+)\n\n", body)
    assert found is not None, body
    return found.group(1)


def mails_to(oauth, address):
    return [(subject, body) for to, subject, body in oauth.identity.mailer.sent if to == address]


async def register(oauth, email=VICTIM, password=PASSWORD):
    return await oauth.http.post("/v1/users", json={"email": email, "password": password})


async def recover(oauth, email="alice@example.com"):
    return await oauth.http.post("/v1/users/recover", json={"email": email})


async def confirm(oauth, token, password=NEW_PASSWORD):
    return await oauth.http.post(
        "/v1/users/recover/confirm", json={"token": token, "new_password": password}
    )


def comparable(response):
    """What a client sees of an answer, less what differs by request (date, request id)."""
    varying = {"date", "x-request-id", "traceparent"}
    headers = tuple(sorted((k, v) for k, v in response.headers.items() if k not in varying))
    return response.status_code, headers, response.content


async def timed(call):
    started = time.monotonic()
    response = await call
    return response, time.monotonic() - started


# -- only plain addresses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "=?utf-8?q?attacker=40evil.example=2c?=@corp.example",
        "a: b@c;",
        "undisclosed:;a@corp.example",
        "g:a@corp.example,b@evil.example;",
        '"x"@corp.example',
        "a(comment)@corp.example",
        "Attacker <attacker@evil.example>",
        "a@corp.example\r\nBcc: attacker@evil.example",
        "a\x00@corp.example",
        "attacker%evil.example@corp.example",
        "a@[127.0.0.1]",
        "\u0430dmin@corp.example",
        "admin\uff20evil.example@corp.example",
    ],
)
async def test_an_address_that_is_not_one_plain_mailbox_is_refused_and_leaves_nothing(oauth, email):
    response = await register(oauth, email)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == "invalid_user"
    assert oauth.identity.mailer.sent == []
    assert await oauth.identity.users.list_users() == []


# -- pre-hijacking and expiry -----------------------------------------------------------------


async def test_the_owners_registration_replaces_an_earlier_unverified_one(oauth):
    await register(oauth, VICTIM, ATTACKER_PASSWORD)
    oauth.clock.advance(INTERVAL)
    response = await register(oauth, VICTIM, PASSWORD)
    assert response.status_code == 202
    (_, attackers), (_, owners) = mails_to(oauth, VICTIM)
    stale = await oauth.http.post("/v1/users/verify", json={"token": token_in(attackers)})
    assert stale.status_code == 400
    verified = await oauth.http.post("/v1/users/verify", json={"token": token_in(owners)})
    assert verified.status_code == 200
    (user,) = await oauth.identity.users.list_users()
    assert user.status is UserStatus.ACTIVE
    assert await oauth.tokens(VICTIM, password=PASSWORD)
    oauth.clock.advance(SECOND)
    code, _, _ = await oauth.sign_in(VICTIM, password=ATTACKER_PASSWORD)
    assert code is None


async def test_a_pending_registration_lapses_and_frees_its_address(server):
    oauth = await server(pending_user_ttl_seconds=600)
    await register(oauth)
    (_, body) = mails_to(oauth, VICTIM)[0]
    oauth.clock.advance(601 * SECOND)
    response = await oauth.http.post("/v1/users/verify", json={"token": token_in(body)})
    assert response.status_code == 400
    owner = await oauth.identity.users.create_user(
        email=VICTIM, password=NEW_PASSWORD, roles={Role.TRADER}
    )
    assert owner.active


async def test_lapsed_registrations_and_their_tokens_are_forgotten(oauth):
    await register(oauth, "early@corp.example")
    oauth.clock.advance(86_400 * SECOND)
    await register(oauth, "later@corp.example")
    (user,) = await oauth.identity.users.list_users()
    assert user.email == "later@corp.example"


# -- mail bombing -----------------------------------------------------------------------------


async def test_an_address_gets_at_most_one_mail_per_interval_however_often_it_is_registered(
    oauth,
):
    await oauth.user()
    for _ in range(20):
        assert (await register(oauth, VICTIM)).status_code == 202
        assert (await register(oauth, "alice@example.com")).status_code == 202
        oauth.clock.advance(SECOND)
    assert len(mails_to(oauth, VICTIM)) == 1
    assert len(mails_to(oauth, "alice@example.com")) == 1
    oauth.clock.advance(INTERVAL)
    await register(oauth, VICTIM)
    assert len(mails_to(oauth, VICTIM)) == 2


async def test_a_registration_within_the_interval_changes_nothing(oauth):
    await register(oauth, VICTIM, PASSWORD)
    (_, body) = mails_to(oauth, VICTIM)[0]
    await register(oauth, VICTIM, ATTACKER_PASSWORD)
    assert len(mails_to(oauth, VICTIM)) == 1
    verified = await oauth.http.post("/v1/users/verify", json={"token": token_in(body)})
    assert verified.status_code == 200
    assert await oauth.tokens(VICTIM, password=PASSWORD)


# -- answers that tell nothing ----------------------------------------------------------------


async def test_registration_answers_alike_and_as_slowly_for_every_kind_of_address(server):
    oauth = await server(account_mail_response_seconds=PADDING)
    await oauth.user()
    answers = [
        await timed(register(oauth, "new@corp.example")),  # unknown
        await timed(register(oauth, "new@corp.example")),  # pending, and mailed just now
        await timed(register(oauth, "alice@example.com")),  # an account
        await timed(register(oauth, "alice@example.com")),  # an account, mailed just now
    ]
    assert len({comparable(response) for response, _ in answers}) == 1
    assert answers[0][0].status_code == 202
    assert all(elapsed >= PADDING for _, elapsed in answers)


async def test_recovery_answers_alike_and_as_slowly_for_every_kind_of_address(server):
    oauth = await server(account_mail_response_seconds=PADDING)
    await oauth.user()
    disabled, _ = await oauth.user("gone@example.com")
    await oauth.identity.users.disable(disabled.user_id)
    await register(oauth, "pending@example.com")
    answers = [
        await timed(recover(oauth, "alice@example.com")),
        await timed(recover(oauth, "alice@example.com")),  # mailed just now
        await timed(recover(oauth, "nobody@example.com")),
        await timed(recover(oauth, "pending@example.com")),
        await timed(recover(oauth, "gone@example.com")),
    ]
    assert len({comparable(response) for response, _ in answers}) == 1
    assert answers[0][0].status_code == 202
    assert answers[0][0].json() == {"status": "recovery_sent"}
    assert all(elapsed >= PADDING for _, elapsed in answers)
    recipients = [to for to, subject, _ in oauth.identity.mailer.sent if "password" in subject]
    assert recipients == ["alice@example.com"]


# -- account recovery -------------------------------------------------------------------------


async def test_recovery_sets_a_new_password_and_ends_every_session(oauth):
    await oauth.user()
    tokens = await oauth.tokens()
    oauth.clock.advance(SECOND)
    assert (await recover(oauth)).status_code == 202
    ((_, body),) = mails_to(oauth, "alice@example.com")
    response = await confirm(oauth, token_in(body))
    assert response.status_code == 204
    assert (await oauth.me(tokens["access_token"])).status_code == 401
    assert (await oauth.refresh(tokens["refresh_token"])).json()["error"] == "invalid_grant"
    oauth.clock.advance(SECOND)
    assert await oauth.tokens(password=NEW_PASSWORD)
    oauth.clock.advance(SECOND)
    code, _, _ = await oauth.sign_in(password=PASSWORD)
    assert code is None


async def test_a_recovery_token_works_once(oauth):
    await oauth.user()
    await recover(oauth)
    token = token_in(mails_to(oauth, "alice@example.com")[0][1])
    assert (await confirm(oauth, token)).status_code == 204
    again = await confirm(oauth, token, "yet another passphrase 3")
    assert again.status_code == 400
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["reason"] == "invalid_token"


async def test_a_recovery_token_expires(oauth):
    await oauth.user()
    await recover(oauth)
    token = token_in(mails_to(oauth, "alice@example.com")[0][1])
    oauth.clock.advance(3_601 * SECOND)
    assert (await confirm(oauth, token)).status_code == 400


async def test_only_the_newest_recovery_token_works(oauth):
    await oauth.user()
    await recover(oauth)
    oauth.clock.advance(INTERVAL)
    await recover(oauth)
    (_, older), (_, newer) = mails_to(oauth, "alice@example.com")
    assert (await confirm(oauth, token_in(older))).status_code == 400
    assert (await confirm(oauth, token_in(newer))).status_code == 204


async def test_a_weak_new_password_is_refused_and_the_token_still_works(oauth):
    await oauth.user()
    await recover(oauth)
    token = token_in(mails_to(oauth, "alice@example.com")[0][1])
    weak = await confirm(oauth, token, "password1234")
    assert weak.status_code == 422
    assert weak.json()["reason"] == "weak_password"
    assert (await confirm(oauth, token)).status_code == 204


async def test_a_user_disabled_after_asking_cannot_recover(oauth):
    alice, _ = await oauth.user()
    await recover(oauth)
    token = token_in(mails_to(oauth, "alice@example.com")[0][1])
    await oauth.identity.users.disable(alice.user_id)
    assert (await confirm(oauth, token)).status_code == 400


async def test_recovery_mails_an_address_at_most_once_per_interval(oauth):
    await oauth.user()
    for _ in range(10):
        assert (await recover(oauth)).status_code == 202
    assert len(mails_to(oauth, "alice@example.com")) == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/users/recover", {"email": "alice@example.com", "extra": 1}),
        ("/v1/users/recover", {}),
        ("/v1/users/recover", {"email": "=?utf-8?q?a=40evil.example?=@example.com"}),
        ("/v1/users/recover/confirm", {"token": "x", "new_password": NEW_PASSWORD, "x": 1}),
        ("/v1/users/recover/confirm", {"token": "x" * 257, "new_password": NEW_PASSWORD}),
        ("/v1/users/recover/confirm", {"token": "", "new_password": NEW_PASSWORD}),
        ("/v1/users/recover/confirm", {"token": "x"}),
    ],
)
async def test_recovery_requests_are_strict(oauth, path, body):
    await oauth.user()
    response = await oauth.http.post(path, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert oauth.identity.mailer.sent == []


# -- on the real databases --------------------------------------------------------------------


def outbox_mails(directory):
    mails = []
    for path in sorted(directory.glob("*.eml"), key=lambda path: path.stat().st_mtime_ns):
        message = message_from_bytes(path.read_bytes())
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        mails.append((message["To"], payload.decode()))
    return mails


async def test_registration_and_recovery_on_each_database(tmp_path, clock, database_url):
    await upgrade_database(database_url)
    settings = settings_for(tmp_path, account_mail_response_seconds=0.0)
    identity = build_identity(settings, database_url, clock=clock, accounts=Accounts())
    oauth = await make_harness(identity, settings, clock)
    outbox = tmp_path / OUTBOX_DIRECTORY
    try:
        await register(oauth, VICTIM, ATTACKER_PASSWORD)
        await register(oauth, VICTIM, PASSWORD)  # within the interval: nothing happens
        oauth.clock.advance(INTERVAL)
        await register(oauth, VICTIM, PASSWORD)
        (_, attackers), (_, owners) = outbox_mails(outbox)
        verify = "/v1/users/verify"
        assert (await oauth.http.post(verify, json={"token": token_in(attackers)})).is_client_error
        assert (await oauth.http.post(verify, json={"token": token_in(owners)})).is_success
        oauth.clock.advance(INTERVAL)
        assert (await recover(oauth, VICTIM)).status_code == 202
        assert (await recover(oauth, VICTIM)).status_code == 202
        (to, body) = outbox_mails(outbox)[2]
        assert to == VICTIM
        assert len(outbox_mails(outbox)) == 3
        assert (await confirm(oauth, token_in(body))).status_code == 204
        assert (await confirm(oauth, token_in(body))).status_code == 400
        assert await oauth.tokens(VICTIM, password=NEW_PASSWORD)
    finally:
        await oauth.http.aclose()
        await identity.close()
