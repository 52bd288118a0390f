"""Ports the sequencer needs from the outside world."""

from collections.abc import AsyncIterator, Sequence
from typing import NamedTuple, Protocol

from openbell.contracts.commands import Command
from openbell.shared.ids import SequenceNumber
from openbell.shared.time import Timestamp


class JournalEntry(NamedTuple):
    """A command as sequenced: its number, the time it was stamped, and the command."""

    sequence: SequenceNumber
    timestamp: Timestamp
    command: Command


class Journal(Protocol):
    """The durable, ordered log of accepted commands.

    `append` writes a whole batch in one durable write (one transaction, one
    fsync): when it returns, every entry in the batch survives a crash.
    """

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def append(self, entries: Sequence[JournalEntry]) -> None: ...

    def read(self, after_sequence: int = 0) -> AsyncIterator[JournalEntry]:
        """Yield every entry with a sequence number greater than `after_sequence`, in order."""
        ...

    async def last_sequence(self) -> int:
        """The sequence number of the last durable entry, 0 when empty."""
        ...


class JournalRecord(NamedTuple):
    """One appended batch as stored: a row of `core_journal`."""

    first_sequence: int
    last_sequence: int
    entry_count: int
    payload: bytes
    checksum: int


class Discontinuity(NamedTuple):
    """A record that does not start right after the one before it (a gap, or an overlap)."""

    previous_last: int
    first_sequence: int
    last_sequence: int


class JournalAudit(Protocol):
    """What an integrity check reads from a journal's store, beside or without a writer."""

    async def storage_problems(self) -> list[str]:
        """What the database itself reports about its files (SQLite's quick_check)."""
        ...

    async def discontinuities(self, limit: int) -> list[Discontinuity]:
        """Up to `limit` records that do not continue the one before, in one query."""
        ...

    async def records_after(self, after_first: int, limit: int) -> list[JournalRecord]:
        """Up to `limit` stored records with a first sequence above `after_first`, in order."""
        ...

    async def record_holding(self, sequence: int) -> JournalRecord | None:
        """The stored record whose range holds `sequence`, unverified."""
        ...


class AuditedJournal(Journal, JournalAudit, Protocol):
    """A journal whose store can also be audited: every adapter is one."""


class Acknowledged(NamedTuple):
    """The last sequence acknowledged to a client, and the checksum of the record ending there."""

    sequence: int
    checksum: int


class AcknowledgedMark(Protocol):
    """A record of the last acknowledged sequence kept outside the journal's database.

    It survives what rolls the database back (a lost `-wal`, a restored older file), so
    a journal that ends before it has lost acknowledged commands.
    """

    def read(self) -> Acknowledged | None:
        """The recorded mark; None when there is none yet."""
        ...

    def write(self, acknowledged: Acknowledged) -> None: ...

    def close(self) -> None: ...


class WriterLock(Protocol):
    """The one-writer lock of a journal's database, taken before anything writes to it."""

    @property
    def name(self) -> str:
        """What the lock is, for an operator: a file, or an advisory lock."""
        ...

    async def acquire(self) -> None:
        """Take the lock or raise JournalLockedError naming it."""
        ...

    async def release(self) -> None: ...

    async def still_held(self) -> bool:
        """Whether this process still holds the lock; False once it may have lost it."""
        ...


class Snapshot(NamedTuple):
    """The core's state as of `sequence`, with the hash that replay must reproduce."""

    sequence: int
    state_hash: str
    created_at: int
    payload: bytes


class SnapshotStore(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def save(self, snapshot: Snapshot) -> None: ...

    async def latest(self, at_or_before: int | None = None) -> Snapshot | None:
        """The newest snapshot, or the newest at or before a sequence number."""
        ...

    async def prune(self, keep: int) -> None:
        """Delete all but the `keep` newest snapshots."""
        ...
