"""Outgoing mail: an outbox directory of RFC 5322 messages, one file each (mode 0600).

With OPENBELL_SMTP_URL set, `SmtpRelay` delivers the outbox to a mail server in the
background; without it, a mail transfer agent or an operator in development picks the
files up. The log says a message was written or sent, never what it says (it carries
single-use tokens).
"""

import asyncio
import logging
import os
import secrets
from email import message_from_bytes
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib

logger = logging.getLogger("openbell.identity")


class OutboxMailer:
    def __init__(self, directory: Path, *, sender: str) -> None:
        self._directory = directory
        self._sender = sender

    async def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="openbell.invalid")
        message.set_content(body)
        await asyncio.to_thread(self._write, message.as_bytes())

    def _write(self, content: bytes) -> None:
        self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{os.getpid()}-{secrets.token_hex(8)}"
        temporary = self._directory / f".{name}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        temporary.rename(self._directory / f"{name}.eml")
        logger.info("mail written to the outbox %s", self._directory)


class MemoryMailer:
    """Keeps messages in a list: for in-memory identity in tests and demos."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def send(self, to: str, subject: str, body: str) -> None:
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
            message = message_from_bytes(await asyncio.to_thread(path.read_bytes))
            await aiosmtplib.send(
                message,
                hostname=self._hostname,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._implicit_tls,
                start_tls=None if self._implicit_tls else (True if self._require_tls else None),
                timeout=self._timeout,
            )
            path.unlink()
            sent += 1
        if sent:
            self.delivered += sent
            logger.info("mail relay delivered %d message(s)", sent)
        return sent


def _modified(path: Path) -> float:
    return path.stat().st_mtime
