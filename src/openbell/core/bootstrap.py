"""The core's composition root: pick adapters for a database URL, recover, start the sequencer."""

from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple

from openbell.contracts.results import Outcome
from openbell.core.adapters import tables as _tables  # noqa: F401  # registers the core's tables
from openbell.core.adapters.codec import decode_state, encode_state
from openbell.core.adapters.postgres import PostgresJournal, PostgresSnapshotStore
from openbell.core.adapters.sqlite import SqliteJournal, SqliteSnapshotStore
from openbell.core.application.ports import Journal, SnapshotStore
from openbell.core.application.recovery import Recovery, recover
from openbell.core.application.sequencer import Sequencer
from openbell.core.application.snapshots import Snapshotter
from openbell.core.application.tuning import tune_garbage_collector
from openbell.core.domain.exchange import Exchange
from openbell.core.domain.state import State
from openbell.core.domain.verification import LedgerReport, verify
from openbell.platform.db import is_postgres, is_sqlite
from openbell.shared.time import Clock

REPLAY_PUBLISH_CHUNK = 1_000


class CoreOptions(NamedTuple):
    max_batch: int = 4096
    max_inbox: int = 100_000
    snapshot_every_commands: int = 100_000
    snapshot_interval_seconds: float = 300.0
    snapshots_kept: int = 3


class Core:
    """A running core: the sequencer over a recovered exchange, and the stores behind it."""

    def __init__(
        self, sequencer: Sequencer, journal: Journal, snapshots: SnapshotStore, recovery: Recovery
    ) -> None:
        self.sequencer = sequencer
        self.journal = journal
        self.snapshots = snapshots
        self.recovery = recovery

    @property
    def exchange(self) -> Exchange:
        return self.sequencer.exchange

    async def stop(self) -> None:
        """Finish queued commands, write a final snapshot, close the stores."""
        try:
            await self.sequencer.stop()
        finally:
            await self.snapshots.close()
            await self.journal.close()


def journal_for(url: str, *, read_only: bool = False) -> Journal:
    if is_sqlite(url):
        return SqliteJournal(url, read_only=read_only)
    if is_postgres(url):
        return PostgresJournal(url, read_only=read_only)
    raise ValueError("the journal needs a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")


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


async def start_core(
    database_url: str,
    clock: Clock,
    *,
    publish: Callable[[Sequence[Outcome]], None] | None = None,
    replay_after: int | None = None,
    options: CoreOptions | None = None,
    before_start: Callable[[Exchange], Awaitable[None]] | None = None,
) -> Core:
    """Open the journal as its only writer, recover the exchange and start sequencing.

    Outcomes of commands after `replay_after` are published again while replaying, so
    projections that were behind the journal catch up before new commands arrive.
    `before_start` sees the recovered exchange while the writer lock is held and before
    any command is taken: it may refuse the start by raising.
    """
    options = options or CoreOptions()
    journal = journal_for(database_url)
    snapshots = snapshot_store_for(database_url)
    await journal.open()
    try:
        await snapshots.open()
        recovery = await _recover(journal, snapshots, publish, replay_after)
        if before_start is not None:
            await before_start(recovery.exchange)
    except BaseException:
        try:
            await snapshots.close()
        finally:
            await journal.close()
        raise
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
    sequencer = Sequencer(
        recovery.exchange,
        journal,
        clock,
        publish=publish,
        snapshotter=snapshotter,
        max_batch=options.max_batch,
        max_inbox=options.max_inbox,
    )
    await sequencer.start()
    return Core(sequencer, journal, snapshots, recovery)


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
