"""Outgoing mail: an outbox directory of RFC 5322 messages, one file each (mode 0600).

A mail transfer agent, or an operator in development, picks them up from there; the
log says a message was written, never what it says (it carries single-use tokens).
"""

import asyncio
import logging
import os
import secrets
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

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
