"""The core's composition root: pick adapters for a database URL, recover, start the sequencer."""

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import NamedTuple

from sqlalchemy.engine import make_url

from openbell.contracts.results import Outcome
from openbell.core.adapters import tables as _tables  # noqa: F401  # registers the core's tables
from openbell.core.adapters.acknowledged import AcknowledgedFile
from openbell.core.adapters.codec import decode_record, decode_state, encode_state
from openbell.core.adapters.postgres import (
    PostgresJournal,
    PostgresSnapshotStore,
    PostgresWriterLock,
)
from openbell.core.adapters.sqlite import SqliteJournal, SqliteSnapshotStore, SqliteWriterLock
from openbell.core.application.fence import FenceWatch
from openbell.core.application.integrity import (
    IntegrityMonitor,
    JournalReport,
    accept_journal_end,
    check_acknowledged,
    check_at_start,
    verify_journal,
)
from openbell.core.application.ports import (
    AcknowledgedMark,
    AuditedJournal,
    Journal,
    SnapshotStore,
    WriterLock,
)
from openbell.core.application.recovery import Recovery, recover
from openbell.core.application.sequencer import Sequencer
from openbell.core.application.snapshots import Snapshotter
from openbell.core.application.tuning import tune_garbage_collector
from openbell.core.domain.exchange import Exchange
from openbell.core.domain.state import State
from openbell.core.domain.verification import LedgerReport, verify
from openbell.platform.db import is_postgres, is_sqlite, sqlite_path
from openbell.shared.time import Clock

REPLAY_PUBLISH_CHUNK = 1_000


class CoreOptions(NamedTuple):
    max_batch: int = 4096
    max_inbox: int = 100_000
    snapshot_every_commands: int = 100_000
    snapshot_interval_seconds: float = 300.0
    snapshots_kept: int = 3
    integrity_check_interval_seconds: float = 300.0
    fence_check_interval_seconds: float = 1.0


class Core:
    """A running core: the sequencer over a recovered exchange, and the stores behind it."""

    def __init__(
        self,
        sequencer: Sequencer,
        journal: Journal,
        snapshots: SnapshotStore,
        recovery: Recovery,
        integrity: IntegrityMonitor,
        resources: AsyncExitStack,
        fence: FenceWatch,
    ) -> None:
        self.sequencer = sequencer
        self.journal = journal
        self.snapshots = snapshots
        self.recovery = recovery
        self.integrity = integrity
        self._resources = resources
        self._fence = fence

    @property
    def exchange(self) -> Exchange:
        return self.sequencer.exchange

    @property
    def integrity_ok(self) -> bool:
        """False while the last background check of the journal found a problem."""
        return self.integrity.ok

    async def stop(self) -> None:
        """Finish queued commands, write a final snapshot, close the stores."""
        try:
            await self._fence.stop()
            await self.integrity.stop()
            await self.sequencer.stop()
        finally:
            await self._resources.aclose()


def writer_lock_for(url: str) -> WriterLock:
    if is_sqlite(url):
        return SqliteWriterLock(url)
    if is_postgres(url):
        return PostgresWriterLock(url)
    raise ValueError("the writer lock needs a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")


@asynccontextmanager
async def hold_writer_lock(url: str) -> AsyncIterator[WriterLock]:
    """Hold the database's writer lock, or raise JournalLockedError naming who holds it.

    Take it before migrating: a second server on a live database then refuses before
    it changes anything. Hand it to `start_core`, which writes under it.
    """
    lock = writer_lock_for(url)
    await lock.acquire()
    try:
        yield lock
    finally:
        await lock.release()


def acknowledged_path(data_dir: Path, url: str) -> Path:
    """Where the last acknowledged sequence of the database at `url` is recorded.

    The default SQLite database's is `journal.acknowledged` beside it, so a copied data
    directory carries it along; any other database's name carries a digest of where
    that database is, so pointing the data directory at another one starts afresh.
    """
    if is_sqlite(url) and sqlite_path(url).resolve() == (data_dir / "openbell.db").resolve():
        return data_dir / "journal.acknowledged"
    where = make_url(url)
    place = f"{where.drivername}://{where.host}:{where.port}/{where.database}"
    digest = hashlib.sha256(place.encode()).hexdigest()[:12]
    return data_dir / f"journal-{digest}.acknowledged"


def journal_for(
    url: str,
    *,
    read_only: bool = False,
    lock: WriterLock | None = None,
    acknowledged: AcknowledgedMark | None = None,
) -> AuditedJournal:
    """The journal at `url`; a writer under `lock` if given, else under a lock of its own."""
    if is_sqlite(url):
        if lock is not None and not isinstance(lock, SqliteWriterLock):
            raise TypeError("a SQLite journal is written under a SqliteWriterLock")
        return SqliteJournal(url, read_only=read_only, lock=lock, acknowledged=acknowledged)
    if is_postgres(url):
        # The journal fences its own session; `lock` keeps other processes out.
        return PostgresJournal(url, read_only=read_only, acknowledged=acknowledged)
    raise ValueError("the journal needs a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")


@asynccontextmanager
async def open_journal(url: str, *, read_only: bool = True) -> AsyncIterator[AuditedJournal]:
    journal = journal_for(url, read_only=read_only)
    await journal.open()
    try:
        yield journal
    finally:
        await journal.close()


def snapshot_store_for(url: str, *, read_only: bool = False) -> SnapshotStore:
    if is_sqlite(url):
        return SqliteSnapshotStore(url, read_only=read_only)
    if is_postgres(url):
        return PostgresSnapshotStore(url, read_only=read_only)
    raise ValueError("snapshots need a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")


def decode_snapshot(payload: bytes) -> State:
    """Decode a snapshot's payload, refusing anything but the mapping `restore` expects."""
    state = decode_state(payload)
    if not isinstance(state, dict):
        raise TypeError("a snapshot must hold a mapping")
    return state


class StoreOptions(NamedTuple):
    """Where the core writes, besides its database: how it is locked and its acknowledged mark."""

    writer_lock: WriterLock | None = None
    """Held by the caller (see `hold_writer_lock`); without one the core takes its own."""
    acknowledged: Path | None = None
    """The file of the last acknowledged sequence (see `acknowledged_path`); None: no file."""


async def start_core(
    database_url: str,
    clock: Clock,
    *,
    publish: Callable[[Sequence[Outcome]], None] | None = None,
    replay_after: int | None = None,
    options: CoreOptions | None = None,
    stores: StoreOptions | None = None,
    before_start: Callable[[Exchange], Awaitable[None]] | None = None,
) -> Core:
    """Open the journal as its only writer, check it, recover the exchange and start sequencing.

    Outcomes of commands after `replay_after` are published again while replaying, so
    projections that were behind the journal catch up before new commands arrive.
    `before_start` sees the recovered exchange while the writer lock is held and before
    any command is taken: it may refuse the start by raising. Whatever fails, every
    store opened here is closed again before the error propagates.
    """
    options, stores = options or CoreOptions(), stores or StoreOptions()
    resources = AsyncExitStack()
    try:
        mark = _open_mark(stores.acknowledged, resources)
        lock = stores.writer_lock
        if lock is None:
            lock = await resources.enter_async_context(hold_writer_lock(database_url))
        journal = await _open_journal(database_url, lock, mark, resources)
        await check_at_start(journal)
        snapshots = snapshot_store_for(database_url)
        await snapshots.open()
        resources.push_async_callback(snapshots.close)
        recovery = await _recover(journal, snapshots, publish, replay_after)
        if before_start is not None:
            await before_start(recovery.exchange)
        # After the callers' checks, whose findings name what else is ahead of the journal.
        await check_acknowledged(journal, mark)
        sequencer = _sequencer(recovery, journal, snapshots, clock, publish, options)
        await sequencer.start()
    except BaseException:
        await resources.aclose()
        raise
    integrity = IntegrityMonitor(
        lambda: open_journal(database_url), mark, options.integrity_check_interval_seconds
    )
    integrity.start()
    fence = FenceWatch(lock, sequencer.fence, options.fence_check_interval_seconds)
    fence.start()
    return Core(sequencer, journal, snapshots, recovery, integrity, resources, fence)


def _open_mark(path: Path | None, resources: AsyncExitStack) -> AcknowledgedFile | None:
    if path is None:
        return None
    mark = AcknowledgedFile(path)
    resources.callback(mark.close)
    return mark


async def _open_journal(
    url: str, lock: WriterLock, mark: AcknowledgedMark | None, resources: AsyncExitStack
) -> AuditedJournal:
    journal = journal_for(url, lock=lock, acknowledged=mark)
    await journal.open()
    resources.push_async_callback(journal.close)
    return journal


def _sequencer(
    recovery: Recovery,
    journal: Journal,
    snapshots: SnapshotStore,
    clock: Clock,
    publish: Callable[[Sequence[Outcome]], None] | None,
    options: CoreOptions,
) -> Sequencer:
    snapshotter = Snapshotter(
        snapshots,
        encode_state,
        clock,
        every_commands=options.snapshot_every_commands,
        interval_seconds=options.snapshot_interval_seconds,
        keep=options.snapshots_kept,
    )
    snapshotter.last_sequence = recovery.snapshot_sequence
    tune_garbage_collector()
    return Sequencer(
        recovery.exchange,
        journal,
        clock,
        publish=publish,
        snapshotter=snapshotter,
        max_batch=options.max_batch,
        max_inbox=options.max_inbox,
    )


async def _recover(
    journal: Journal,
    snapshots: SnapshotStore,
    publish: Callable[[Sequence[Outcome]], None] | None,
    replay_after: int | None,
) -> Recovery:
    if publish is None:
        return await recover(journal, snapshots, decode_snapshot)
    pending: list[Outcome] = []

    def collect(outcome: Outcome) -> None:
        pending.append(outcome)
        if len(pending) >= REPLAY_PUBLISH_CHUNK:
            publish(pending.copy())
            pending.clear()

    recovery = await recover(
        journal, snapshots, decode_snapshot, replay_after=replay_after, on_outcome=collect
    )
    if pending:
        publish(pending)
    return recovery


async def verify_ledger(database_url: str) -> LedgerReport:
    """Rebuild the core's state read-only, beside a running writer if there is one, and check it."""
    journal = journal_for(database_url, read_only=True)
    snapshots = snapshot_store_for(database_url, read_only=True)
    await journal.open()
    try:
        await snapshots.open()
        try:
            recovery = await recover(journal, snapshots, decode_snapshot)
        finally:
            await snapshots.close()
    finally:
        await journal.close()
    return verify(recovery.exchange)


async def verify_journal_at(database_url: str, acknowledged: Path | None) -> JournalReport:
    """Verify the whole journal read-only, beside a running writer if there is one."""
    mark = AcknowledgedFile(acknowledged) if acknowledged is not None else None
    async with open_journal(database_url) as journal:
        return await verify_journal(journal, decode_record, mark)


async def accept_journal(database_url: str, acknowledged: Path) -> int:
    """Record the journal's end as acknowledged, once an operator chose to trust the journal.

    Without it, a journal that lost acknowledged commands keeps being refused at start.
    """
    mark = AcknowledgedFile(acknowledged)
    try:
        async with open_journal(database_url) as journal:
            await accept_journal_end(journal, mark)
            return await journal.last_sequence()
    finally:
        mark.close()
