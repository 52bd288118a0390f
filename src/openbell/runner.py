"""Serving the platform in one process: prepare, start, listen, and shut down in order.

A start that is refused ends the process at once with a status naming the cause
(`EXIT_CODES`, documented in README and docs/recovery.md), so a supervisor learns it
and does not wait. SIGTERM or Ctrl-C during start-up cancels the start, closes what
had opened and exits 128 + the signal's number; nothing was served, nothing is lost.
Once serving, they make uvicorn stop accepting connections and let in-flight
requests finish; then the core drains its inbox, every batch is already durable
in the journal, and a final snapshot is written before the process exits.
"""

import asyncio
import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import Final

import asyncpg
import uvicorn
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from openbell.app import Platform, prepare, start_platform
from openbell.consistency import InconsistentPastError
from openbell.core.application.errors import (
    IntegrityCheckError,
    JournalCorruptedError,
    JournalLockedError,
    JournalStorageError,
    SnapshotStoreError,
)
from openbell.demo import seed_demo
from openbell.platform.data_dir import DataDirError
from openbell.platform.settings import Settings
from openbell.platform.web.server import ServerLimits, fit_descriptor_limit, limited_protocol

__all__ = ["EXIT_CODES", "EXIT_GRACE_SECONDS", "exit_within", "prepare", "serve"]

logger = logging.getLogger("openbell")

EXIT_STORAGE: Final = 1
EXIT_DATA_DIR: Final = 2
EXIT_INCONSISTENT: Final = 3
EXIT_LOCKED: Final = 4
EXIT_CODES: Final[tuple[tuple[tuple[type[BaseException], ...], int, str], ...]] = (
    ((DataDirError,), EXIT_DATA_DIR, "the data directory is refused"),
    ((InconsistentPastError,), EXIT_INCONSISTENT, "the past is inconsistent"),
    (
        (JournalCorruptedError, IntegrityCheckError),
        EXIT_INCONSISTENT,
        "the journal failed its integrity check",
    ),
    ((JournalLockedError,), EXIT_LOCKED, "another server holds the journal"),
    (
        (JournalStorageError, SnapshotStoreError, SQLAlchemyError, asyncpg.PostgresError, OSError),
        EXIT_STORAGE,
        "the database cannot be reached or used",
    ),
)
"""Each refusal at start: the errors, the process's exit status, and what it means."""
REFUSALS: Final = tuple(error for errors, _, _ in EXIT_CODES for error in errors)
SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)
EXIT_GRACE_SECONDS: Final = 5.0
"""How long a refused or interrupted start may take to close what it opened."""


class StartInterruptedError(Exception):
    """SIGTERM or SIGINT arrived while the platform was starting."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


async def serve(settings: Settings, *, demo: bool, console: Console) -> int:
    """Run until signalled; return the process exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        platform = await start_interruptibly(settings)
    except StartInterruptedError as interrupted:
        console.print(f"[yellow]Start-up interrupted by {interrupted}[/yellow]: nothing served")
        return 128 + interrupted.signum
    except REFUSALS as error:
        code, meaning = refusal(error)
        console.print(
            f"[red]Refusing to start ({meaning}):[/red] {escape(_first_line(error))} "
            "(docs/recovery.md says what to do)"
        )
        return code
    received = _remember_signals()
    try:
        if demo:
            credentials = await seed_demo(platform.core, platform.identity, settings.data_dir)
            console.print(f"Demo traders' credentials: [bold]{credentials.resolve()}[/bold]")
        _announce(settings, platform, console)
        server = uvicorn.Server(_config(settings, platform))
        if not received:  # a signal before uvicorn listens would otherwise go unheard
            await server.serve()
        if not server.started and not received:
            console.print(f"[red]Could not listen on {settings.host}:{settings.port}[/red]")
            return 1
    finally:
        console.print("Shutting down: draining the core and writing a snapshot...")
        await platform.stop()
        console.print(f"Stopped at sequence {platform.core.sequencer.committed_sequence}.")
    return 0


def refusal(error: BaseException) -> tuple[int, str]:
    """The exit status and meaning of a refused start."""
    for errors, code, meaning in EXIT_CODES:
        if isinstance(error, errors):
            return code, meaning
    raise ValueError(f"not a refusal: {type(error).__name__}")


async def start_interruptibly(settings: Settings) -> Platform:
    """Start the platform; SIGTERM or SIGINT meanwhile cancels the start, which closes what
    it opened, and raises StartInterruptedError."""
    loop = asyncio.get_running_loop()
    start = asyncio.ensure_future(start_platform(settings))
    received: list[int] = []

    def interrupt(signum: int) -> None:
        if not received:  # closing may wait on a blocked database call: bound it
            logger.warning(
                "%s during start-up: closing what had opened", signal.Signals(signum).name
            )
            exit_within(EXIT_GRACE_SECONDS, 128 + signum)
        received.append(signum)
        start.cancel()

    for signum in SIGNALS:
        loop.add_signal_handler(signum, interrupt, signum)
    try:
        return await start
    except asyncio.CancelledError:
        if not received:
            raise
        raise StartInterruptedError(received[0]) from None
    finally:
        for signum in SIGNALS:
            loop.remove_signal_handler(signum)


def _remember_signals() -> list[int]:
    """Once serving: remember SIGTERM/SIGINT for the drain and snapshot; uvicorn re-raises
    the one that stopped it. A second Ctrl-C forces the exit."""
    received: list[int] = []

    def remember(signum: int, _frame: FrameType | None) -> None:
        if received and signum == signal.SIGINT:
            os._exit(130)
        received.append(signum)

    for signum in SIGNALS:
        signal.signal(signum, remember)
    return received


def exit_within(seconds: float, code: int) -> None:
    """End the process with `code` in `seconds` at the latest, whatever is still running:
    a refused start must not be kept alive by a thread it left behind (a database
    connection's, say), nor by a database call that waits."""

    def force() -> None:
        sys.stderr.flush()
        os._exit(code)

    timer = threading.Timer(seconds, force)
    timer.daemon = True
    timer.start()


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _config(settings: Settings, platform: Platform) -> uvicorn.Config:
    limits = fit_descriptor_limit(ServerLimits.from_settings(settings))
    return uvicorn.Config(
        platform.app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=limited_protocol(limits),  # httptools, with limits on what clients may send
        timeout_keep_alive=settings.keep_alive_timeout_seconds,
        ws="none",  # no WebSocket route yet: an upgrade request is served as plain HTTP
        lifespan="off",
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        log_level="info",
    )


def _announce(settings: Settings, platform: Platform, console: Console) -> None:
    base = f"http://{settings.host}:{settings.port}"
    database = "PostgreSQL" if settings.database_url else f"SQLite in {settings.data_dir.resolve()}"
    console.print(f"openbell listening on [bold]{base}[/bold] ({database})")
    console.print(f"API docs: {base}/docs   OpenAPI: {base}/openapi.json")
    recovery = platform.core.recovery
    console.print(
        f"Core at sequence {platform.core.sequencer.committed_sequence} "
        f"(snapshot {recovery.snapshot_sequence}, replayed {recovery.replayed} commands)"
    )
