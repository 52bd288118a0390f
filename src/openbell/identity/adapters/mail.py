"""Outgoing mail: an outbox directory of RFC 5322 messages, one file each (mode 0600).

Each message `NAME.eml` has its envelope beside it in `NAME.envelope.json`: the sender
and the one recipient it was written for. Delivery uses that envelope, never addresses
read back from the headers, because a header parser may find other mailboxes in an
address (encoded words, groups) than the one the application meant. Messages are built
with `email.headerregistry.Address`, which refuses anything but a single plain address.

With OPENBELL_SMTP_URL set, `SmtpRelay` delivers the outbox to a mail server in the
background; without it, a mail transfer agent or an operator in development picks the
files up. The log says a message was written or sent, never what it says (it carries
single-use tokens).
"""

import asyncio
import json
import logging
import os
import secrets
from email import message_from_bytes
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib

logger = logging.getLogger("openbell.identity")


ENVELOPE_SUFFIX = ".envelope.json"
UNROUTED_SUFFIX = ".unrouted"


_HEADER_SYNTAX = frozenset('"(),:;<>[\\]')
"""Characters that make an address header more than one plain mailbox (quotes, comments,
groups, route addresses, lists, IP literals). Which addresses users may register is the
domain's stricter rule; this guards the header syntax whatever the caller passes."""


def plain_address(addr_spec: str) -> Address:
    """`addr_spec` as one mailbox; ValueError unless it is plain and reads back as given."""
    if not _plain_syntax(addr_spec):
        raise ValueError("not a single plain email address")
    try:
        address = Address(addr_spec=addr_spec)
    except (ValueError, HeaderParseError):  # header defects are ValueErrors too
        raise ValueError("not a single plain email address") from None
    if address.addr_spec != addr_spec or not address.username or not address.domain:
        raise ValueError("not a single plain email address")
    return address


def _plain_syntax(addr_spec: str) -> bool:
    local_part, _, domain = addr_spec.partition("@")
    return (
        bool(local_part)
        and bool(domain)
        and "@" not in domain
        and addr_spec.isascii()
        and addr_spec.isprintable()
        and " " not in addr_spec
        and "=?" not in addr_spec  # an encoded word: readers decode it into other mailboxes
        and _HEADER_SYNTAX.isdisjoint(addr_spec)
    )


def sender_address(sender: str) -> Address:
    """The configured From (`name <addr>`); the operator's setting, checked all the same."""
    name, addr_spec = parseaddr(sender)
    return Address(display_name=name, addr_spec=plain_address(addr_spec).addr_spec)


def compose(sender: Address, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = plain_address(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="openbell.invalid")
    message.set_content(body)
    return message


class OutboxMailer:
    def __init__(self, directory: Path, *, sender: str) -> None:
        self._directory = directory
        self._sender = sender_address(sender)

    async def send(self, to: str, subject: str, body: str) -> None:
        message = compose(self._sender, to, subject, body)
        envelope = {"sender": self._sender.addr_spec, "recipient": to}
        await asyncio.to_thread(self._write, message.as_bytes(), json.dumps(envelope).encode())

    def _write(self, content: bytes, envelope: bytes) -> None:
        self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{os.getpid()}-{secrets.token_hex(8)}"
        # The envelope first: a visible .eml always has its envelope beside it.
        self._write_atomically(name + ENVELOPE_SUFFIX, envelope)
        self._write_atomically(f"{name}.eml", content)
        logger.info("mail written to the outbox %s", self._directory)

    def _write_atomically(self, name: str, content: bytes) -> None:
        temporary = self._directory / f".{name}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        temporary.rename(self._directory / name)


class MemoryMailer:
    """Keeps messages in a list: for in-memory identity in tests and demos.

    It builds each message as the outbox does, so it refuses the same addresses.
    """

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self._sender = sender_address("openbell <no-reply@openbell.invalid>")

    async def send(self, to: str, subject: str, body: str) -> None:
        compose(self._sender, to, subject, body)
        self.sent.append((to, subject, body))


class SmtpRelay:
    """Delivers the outbox over SMTP, in the background, and deletes what the server accepted.

    Requests never wait on the mail server: they write to the outbox, which survives a
    restart, and this relay sends on its own schedule, retrying what fails with backoff.
    `url` is smtp://[user:password@]host[:port] (STARTTLS, required unless
    `require_tls` is off) or smtps://... (TLS from the first byte).
    """

    def __init__(
        self,
        directory: Path,
        url: str,
        *,
        require_tls: bool = True,
        interval_seconds: float = 5.0,
        timeout_seconds: float = 30.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("the SMTP URL must be smtp://host[:port] or smtps://host[:port]")
        self._directory = directory
        self._implicit_tls = parts.scheme == "smtps"
        self._hostname = parts.hostname
        self._port = parts.port or (465 if self._implicit_tls else 587)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._require_tls = require_tls
        self._interval = interval_seconds
        self._timeout = timeout_seconds
        self._failures = 0
        self.delivered = 0

    async def run(self) -> None:
        """Deliver forever: every `interval`, or sooner after a failure clears."""
        while True:
            try:
                await self.deliver_pending()
                self._failures = 0
                delay = self._interval
            except (OSError, aiosmtplib.SMTPException) as error:
                self._failures += 1
                delay = min(300.0, self._interval * 2**self._failures)
                logger.warning(
                    "mail relay failed (%s); retrying in %.0f s", type(error).__name__, delay
                )
            await asyncio.sleep(delay)

    async def deliver_pending(self) -> int:
        """Send every message in the outbox, oldest first; return how many were sent."""
        sent = 0
        for path in sorted(self._directory.glob("*.eml"), key=_modified):
            envelope = await asyncio.to_thread(_envelope_of, path)
            if envelope is None:
                continue
            sender, recipient = envelope
            message = message_from_bytes(await asyncio.to_thread(path.read_bytes))
            await aiosmtplib.send(
                message,
                sender=sender,
                recipients=[recipient],
                hostname=self._hostname,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._implicit_tls,
                start_tls=None if self._implicit_tls else (True if self._require_tls else None),
                timeout=self._timeout,
            )
            path.unlink()
            _envelope_path(path).unlink(missing_ok=True)
            sent += 1
        if sent:
            self.delivered += sent
            logger.info("mail relay delivered %d message(s)", sent)
        return sent


def _envelope_path(message: Path) -> Path:
    return message.with_name(message.stem + ENVELOPE_SUFFIX)


def _envelope_of(message: Path) -> tuple[str, str] | None:
    """The message's sender and recipient; a message without a sound one is set aside."""
    try:
        envelope = json.loads(_envelope_path(message).read_bytes())
        sender = plain_address(envelope["sender"]).addr_spec
        recipient = plain_address(envelope["recipient"]).addr_spec
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        message.rename(message.with_name(message.name + UNROUTED_SUFFIX))
        logger.warning("an outbox message without a valid envelope was set aside, unsent")
        return None
    return sender, recipient


def _modified(path: Path) -> float:
    return path.stat().st_mtime
