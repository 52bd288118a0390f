"""Mail leaves through the outbox and an SMTP relay, tested against a real SMTP server."""

import re
import socket
from email import message_from_bytes
from email.message import Message  # noqa: TC003  # annotations here are evaluated
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from openbell.identity.adapters.mail import OutboxMailer, SmtpRelay
from openbell.identity.bootstrap import OUTBOX_DIRECTORY, build_identity
from openbell.migrations import upgrade_database
from openbell.platform.settings import Settings


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts and who it went to."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.recipients: list[str] = []

    async def handle_DATA(self, _server, _session, envelope):  # noqa: N802  # aiosmtpd's hook
        self.messages.append(message_from_bytes(envelope.content))
        self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


async def test_the_relay_delivers_the_outbox_and_empties_it(tmp_path, smtp_server):
    controller, inbox = smtp_server
    outbox = tmp_path / "outbox"
    mailer = OutboxMailer(outbox, sender="openbell <no-reply@example.test>")
    await mailer.send("alice@example.test", "first", "one\n")
    await mailer.send("bob@example.test", "second", "two\n")
    relay = SmtpRelay(outbox, f"smtp://127.0.0.1:{controller.port}", require_tls=False)
    assert await relay.deliver_pending() == 2
    assert sorted(m["Subject"] for m in inbox.messages) == ["first", "second"]
    assert {m["To"] for m in inbox.messages} == {"alice@example.test", "bob@example.test"}
    assert list(outbox.glob("*.eml")) == []


async def test_the_relay_sends_to_the_stored_recipient_never_to_addresses_in_headers(
    tmp_path, smtp_server
):
    controller, inbox = smtp_server
    outbox = tmp_path / "outbox"
    await OutboxMailer(outbox, sender="x@example.test").send("victim@corp.example", "t", "x\n")
    (path,) = outbox.glob("*.eml")
    # Headers that a parser reads as other mailboxes (here plainly) must not route the mail.
    forged = path.read_bytes().replace(
        b"To: victim@corp.example",
        b"To: =?utf-8?q?attacker=40evil.example=2c?=@corp.example, attacker@evil.example\r\n"
        b"Cc: attacker@evil.example",
    )
    path.write_bytes(forged)
    relay = SmtpRelay(outbox, f"smtp://127.0.0.1:{controller.port}", require_tls=False)
    assert await relay.deliver_pending() == 1
    assert inbox.recipients == ["victim@corp.example"]
    assert list(outbox.iterdir()) == []


async def test_a_message_without_its_envelope_is_set_aside_unsent(tmp_path, smtp_server):
    controller, inbox = smtp_server
    outbox = tmp_path / "outbox"
    await OutboxMailer(outbox, sender="x@example.test").send("a@example.test", "t", "x\n")
    for envelope in outbox.glob("*.envelope.json"):
        envelope.unlink()
    relay = SmtpRelay(outbox, f"smtp://127.0.0.1:{controller.port}", require_tls=False)
    assert await relay.deliver_pending() == 0
    assert await relay.deliver_pending() == 0  # not retried forever
    assert inbox.messages == []
    assert len(list(outbox.glob("*.eml.unrouted"))) == 1


@pytest.mark.parametrize(
    "address",
    [
        "a: b@c;",
        "undisclosed:;a@corp.example",
        "=?utf-8?q?attacker=40evil.example=2c?=@corp.example",
    ],
)
async def test_the_outbox_refuses_anything_but_one_plain_mailbox_and_writes_nothing(
    tmp_path, address
):
    outbox = tmp_path / "outbox"
    with pytest.raises(ValueError, match="plain email address"):
        await OutboxMailer(outbox, sender="x@example.test").send(address, "t", "x\n")
    assert not outbox.exists() or list(outbox.iterdir()) == []


async def test_mail_waits_in_the_outbox_while_the_server_is_down(tmp_path):
    outbox = tmp_path / "outbox"
    await OutboxMailer(outbox, sender="x@example.test").send("a@example.test", "later", "x\n")
    port = free_port()
    relay = SmtpRelay(outbox, f"smtp://127.0.0.1:{port}", require_tls=False, timeout_seconds=2)
    with pytest.raises(OSError):
        await relay.deliver_pending()
    assert len(list(outbox.glob("*.eml"))) == 1
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert await relay.deliver_pending() == 1
    finally:
        controller.stop()
    assert [m["Subject"] for m in inbox.messages] == ["later"]


async def test_without_starttls_the_relay_refuses_to_send_in_the_clear(tmp_path, smtp_server):
    controller, inbox = smtp_server
    outbox = tmp_path / "outbox"
    await OutboxMailer(outbox, sender="x@example.test").send("a@example.test", "secret", "x\n")
    relay = SmtpRelay(outbox, f"smtp://127.0.0.1:{controller.port}")  # TLS required by default
    with pytest.raises(Exception, match="STARTTLS"):
        await relay.deliver_pending()
    assert inbox.messages == []
    assert len(list(outbox.glob("*.eml"))) == 1


def test_only_smtp_and_smtps_urls_are_accepted(tmp_path):
    for url in ("http://mail.example.test", "smtp://", "mail.example.test:25"):
        with pytest.raises(ValueError, match="SMTP URL"):
            SmtpRelay(tmp_path, url)


async def test_a_registration_mail_reaches_the_server_and_its_token_verifies(
    tmp_path, smtp_server, sqlite_url
):
    controller, inbox = smtp_server
    await upgrade_database(sqlite_url)
    settings = Settings(
        data_dir=tmp_path,
        database_url=sqlite_url,
        smtp_url=SecretStr(f"smtp://127.0.0.1:{controller.port}"),
        smtp_require_tls=False,
    )
    identity = build_identity(settings)
    try:
        await identity.users.register(email="carol@example.test", password="a long new secret 9")
        assert identity.mail_relay is not None
        assert await identity.mail_relay.deliver_pending() == 1
        [message] = inbox.messages
        assert message["To"] == "carol@example.test"
        assert inbox.recipients == ["carol@example.test"]
        body = message.get_payload(decode=True).decode()
        found = re.search(r"^([A-Za-z0-9_-]{40,})\s*$", body, re.MULTILINE)
        assert found is not None
        token = found.group(1)
        user = await identity.users.verify_email(token)
        assert user.email == "carol@example.test"
        assert list(Path(tmp_path / OUTBOX_DIRECTORY).glob("*.eml")) == []
    finally:
        await identity.close()
