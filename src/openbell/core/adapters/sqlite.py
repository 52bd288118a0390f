"""SQLite journal and snapshot store, through aiosqlite.

The database runs in WAL mode with `synchronous=FULL`: a commit returns only
after the WAL is fsynced, so an acknowledged batch survives power loss. Each
append is a single INSERT in autocommit mode: one transaction, one fsync per
batch, which is the group commit the sequencer relies on.

One writer at a time is enforced with an exclusive `flock` on `<database>.lock`,
held while the journal is open, or, taken by the composition root before it
migrates the database, for the whole life of the process. The kernel drops the
lock when the process dies, so a crashed writer never blocks its successor.
`flock` is POSIX: no Windows.
"""

import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Final

import aiosqlite

from openbell.core.adapters.codec import (
    DISCONTINUITIES,
    encode_record,
    stream_entries,
)
from openbell.core.application.errors import (
    JournalLockedError,
    JournalReadOnlyError,
    JournalSequenceError,
    JournalStorageError,
    SnapshotConflictError,
    SnapshotStoreError,
)
from openbell.core.application.ports import (
    Acknowledged,
    AcknowledgedMark,
    Discontinuity,
    JournalEntry,
    JournalRecord,
    Snapshot,
)
from openbell.platform.db import sqlite_path

# The WHERE clause makes the database itself refuse a batch that does not continue
# the journal, whatever the writer believes; the primary key refuses a duplicate.
_INSERT_RECORD: Final = """
    INSERT INTO core_journal (first_sequence, last_sequence, entry_count, payload, checksum)
    SELECT :first_sequence, :last_sequence, :entry_count, :payload, :checksum
    WHERE :first_sequence = 1 + coalesce(
        (SELECT last_sequence FROM core_journal ORDER BY first_sequence DESC LIMIT 1), 0)
    RETURNING first_sequence
"""
_LAST_SEQUENCE: Final = (
    "SELECT last_sequence FROM core_journal ORDER BY first_sequence DESC LIMIT 1"
)
_RECORD_AT_OR_BEFORE: Final = """
    SELECT first_sequence, last_sequence, entry_count, payload, checksum FROM core_journal
    WHERE first_sequence <= ? ORDER BY first_sequence DESC LIMIT 1
"""
_RECORDS_BETWEEN: Final = """
    SELECT first_sequence, last_sequence, entry_count, payload, checksum FROM core_journal
    WHERE first_sequence > ? AND first_sequence <= ? ORDER BY first_sequence
"""
_FIRST_SEQUENCE_AFTER: Final = (
    "SELECT min(first_sequence) FROM core_journal WHERE first_sequence > ?"
)
_DISCONTINUITIES: Final = DISCONTINUITIES.format(limit="?")
_RECORDS_AFTER: Final = """
    SELECT first_sequence, last_sequence, entry_count, payload, checksum FROM core_journal
    WHERE first_sequence > ? ORDER BY first_sequence LIMIT ?
"""


def _lock_path(database: Path) -> Path:
    return database.with_name(f"{database.name}.lock")


class SqliteWriterLock:
    """An exclusive flock on a file beside the database, held by the one writer.

    The composition root takes it before migrating and hands it to the journal; a
    journal given none takes its own when it opens.
    """

    def __init__(self, url: str) -> None:
        self._path = _lock_path(sqlite_path(url))
        self._descriptor: int | None = None

    @property
    def name(self) -> str:
        return f"the lock file {self._path}"

    @property
    def held(self) -> bool:
        return self._descriptor is not None

    async def acquire(self) -> None:
        self.acquire_now()

    async def release(self) -> None:
        self.release_now()

    async def still_held(self) -> bool:
        # An flock lasts as long as its descriptor: nothing outside can take it away.
        return self.held

    def acquire_now(self) -> None:
        if self._descriptor is not None:
            raise RuntimeError("the writer lock is already held")
        try:
            descriptor = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise JournalStorageError(f"cannot create the writer lock: {error}") from error
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise JournalLockedError(
                f"another openbell process is the writer of this database: it holds {self.name}"
            ) from None
        self._descriptor = descriptor

    def release_now(self) -> None:
        if self._descriptor is not None:
            # Closing the descriptor releases the flock.
            os.close(self._descriptor)
            self._descriptor = None


def _read_only_uri(path: Path) -> str:
    # mode=ro refuses to create a missing database and any write through the connection.
    return f"{path.resolve().as_uri()}?mode=ro"


async def _connect(database: Path | str, *, busy_timeout: float) -> aiosqlite.Connection:
    """A connection in autocommit mode, every statement its own transaction.

    A string is a read-only URI; a path is opened for writing and made durable.
    """
    read_only = isinstance(database, str)
    connection = await aiosqlite.connect(
        database, uri=read_only, timeout=busy_timeout, isolation_level=None
    )
    try:
        if not read_only:
            await _make_durable(connection)
    except BaseException:
        await connection.close()
        raise
    return connection


async def _make_durable(connection: aiosqlite.Connection) -> None:
    rows = list(await connection.execute_fetchall("PRAGMA journal_mode = WAL"))
    if not rows or str(rows[0][0]).lower() != "wal":
        raise JournalStorageError(f"SQLite refused WAL mode: {rows}")
    await connection.execute_fetchall("PRAGMA synchronous = FULL")


class SqliteJournal:
    """The journal in a SQLite file. `read_only=True` reads beside a running writer."""

    def __init__(
        self,
        url: str,
        *,
        read_only: bool = False,
        busy_timeout: float = 30.0,
        read_chunk_entries: int = 16_384,
        lock: SqliteWriterLock | None = None,
        acknowledged: AcknowledgedMark | None = None,
    ) -> None:
        self._url = url
        self._path = sqlite_path(url)
        self._database = _read_only_uri(self._path) if read_only else self._path
        self._read_only = read_only
        self._busy_timeout = busy_timeout
        self._read_chunk_entries = read_chunk_entries
        self._owns_lock = lock is None and not read_only
        self._lock = lock
        self._acknowledged = acknowledged
        self._connection: aiosqlite.Connection | None = None
        self._last_sequence: int | None = None
        """The last durable sequence; None after a failed write, until read back."""

    async def open(self) -> None:
        if self._connection is not None:
            raise RuntimeError("the journal is already open")
        if self._owns_lock:
            self._lock = SqliteWriterLock(self._url)
            self._lock.acquire_now()
        elif not self._read_only and not (self._lock and self._lock.held):
            raise RuntimeError("the journal's writer lock is not held")
        try:
            self._connection = await self._connect()
            self._last_sequence = await self._durable_sequence()
        except BaseException:
            await self.close()
            raise

    async def _connect(self) -> aiosqlite.Connection:
        try:
            return await _connect(self._database, busy_timeout=self._busy_timeout)
        except sqlite3.Error as error:
            raise JournalStorageError(
                f"cannot open the journal at {self._path}: {error}"
            ) from error

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        try:
            if connection is not None:
                await connection.close()
        finally:
            if self._owns_lock and self._lock is not None:
                self._lock.release_now()

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        connection = self._writer()
        if not entries:
            return
        last_sequence = self._last_sequence
        if last_sequence is None:
            last_sequence = self._last_sequence = await self._durable_sequence()
        record = encode_record(entries, last_sequence)
        # Until this write is known to have happened or not, the position is unknown.
        self._last_sequence = None
        try:
            inserted = await connection.execute_fetchall(_INSERT_RECORD, record._asdict())
        except sqlite3.IntegrityError as error:
            raise JournalSequenceError(f"the database refused: {error}") from error
        except sqlite3.Error as error:
            raise JournalStorageError(f"append failed: {error}") from error
        if not list(inserted):
            raise JournalSequenceError(
                f"the database refused sequences {record.first_sequence}..{record.last_sequence}",
            )
        self._last_sequence = record.last_sequence
        if self._acknowledged is not None:
            self._acknowledged.write(Acknowledged(record.last_sequence, record.checksum))

    def read(self, after_sequence: int = 0) -> AsyncIterator[JournalEntry]:
        source = _SqliteRecords(self._open_connection())
        return stream_entries(source, after_sequence, self._read_chunk_entries)

    async def last_sequence(self) -> int:
        self._open_connection()
        if self._read_only or self._last_sequence is None:
            # A reader follows the writer; a writer re-reads after a failed append.
            return await self._durable_sequence()
        return self._last_sequence

    async def _durable_sequence(self) -> int:
        try:
            rows = list(await self._open_connection().execute_fetchall(_LAST_SEQUENCE))
        except sqlite3.Error as error:
            raise JournalStorageError(f"cannot read the journal: {error}") from error
        last: int = rows[0][0] if rows else 0
        return last

    async def storage_problems(self) -> list[str]:
        """SQLite's quick_check: every page and index readable and well formed."""
        try:
            rows = await self._open_connection().execute_fetchall("PRAGMA quick_check")
        except sqlite3.Error as error:
            return [f"{self._path}: {error}"]
        reported = [str(row[0]) for row in rows]
        return [] if reported == ["ok"] else [f"{self._path}: {line}" for line in reported]

    async def discontinuities(self, limit: int) -> list[Discontinuity]:
        rows = await self._fetch_rows(_DISCONTINUITIES, limit)
        return [Discontinuity._make(row) for row in rows]

    async def records_after(self, after_first: int, limit: int) -> list[JournalRecord]:
        rows = await self._fetch_rows(_RECORDS_AFTER, after_first, limit)
        return [JournalRecord._make(row) for row in rows]

    async def record_holding(self, sequence: int) -> JournalRecord | None:
        return await _SqliteRecords(self._open_connection()).record_holding(sequence)

    async def _fetch_rows(self, query: str, *parameters: int) -> list[sqlite3.Row]:
        try:
            return list(await self._open_connection().execute_fetchall(query, parameters))
        except sqlite3.Error as error:
            raise JournalStorageError(f"cannot read the journal: {error}") from error

    def _open_connection(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise RuntimeError("the journal is not open")
        return self._connection

    def _writer(self) -> aiosqlite.Connection:
        connection = self._open_connection()
        if self._read_only:
            raise JournalReadOnlyError("the journal was opened read-only")
        return connection


class _SqliteRecords:
    """The journal's range queries, one statement (one thread hop) each."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def record_holding(self, sequence: int) -> JournalRecord | None:
        rows = await self._fetch(_RECORD_AT_OR_BEFORE, sequence)
        if not rows or rows[0].last_sequence < sequence:
            return None
        return rows[0]

    async def records_between(self, after_first: int, up_to_first: int) -> list[JournalRecord]:
        return await self._fetch(_RECORDS_BETWEEN, after_first, up_to_first)

    async def first_sequence_after(self, after_first: int) -> int | None:
        try:
            rows = list(
                await self._connection.execute_fetchall(_FIRST_SEQUENCE_AFTER, (after_first,))
            )
        except sqlite3.Error as error:
            raise JournalStorageError(f"cannot read the journal: {error}") from error
        first: int | None = rows[0][0]
        return first

    async def _fetch(self, query: str, *parameters: int) -> list[JournalRecord]:
        try:
            rows = await self._connection.execute_fetchall(query, parameters)
        except sqlite3.Error as error:
            raise JournalStorageError(f"cannot read the journal: {error}") from error
        return [JournalRecord._make(row) for row in rows]


_INSERT_SNAPSHOT: Final = """
    INSERT INTO core_snapshots (sequence, state_hash, created_at, payload) VALUES (?, ?, ?, ?)
    ON CONFLICT (sequence) DO NOTHING RETURNING sequence
"""
_SNAPSHOT_HASH: Final = "SELECT state_hash FROM core_snapshots WHERE sequence = ?"
_LATEST_SNAPSHOT: Final = """
    SELECT sequence, state_hash, created_at, payload FROM core_snapshots WHERE sequence <= ?
    ORDER BY sequence DESC LIMIT 1
"""
# Everything older than the keep-th newest; with fewer snapshots the subquery is
# NULL and nothing matches.
_PRUNE_SNAPSHOTS: Final = """
    DELETE FROM core_snapshots WHERE sequence <
        (SELECT sequence FROM core_snapshots ORDER BY sequence DESC LIMIT 1 OFFSET ?)
"""
_NO_LIMIT: Final = 2**63 - 1


class SqliteSnapshotStore:
    """Snapshots in the same SQLite file as the journal."""

    def __init__(self, url: str, *, read_only: bool = False, busy_timeout: float = 30.0) -> None:
        self._path = sqlite_path(url)
        self._database = _read_only_uri(self._path) if read_only else self._path
        self._read_only = read_only
        self._busy_timeout = busy_timeout
        self._connection: aiosqlite.Connection | None = None

    async def open(self) -> None:
        if self._connection is not None:
            raise RuntimeError("the snapshot store is already open")
        try:
            self._connection = await _connect(self._database, busy_timeout=self._busy_timeout)
        except sqlite3.Error as error:
            raise SnapshotStoreError(f"cannot open snapshots at {self._path}: {error}") from error

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def save(self, snapshot: Snapshot) -> None:
        self._check_writable()
        if await self._query(_INSERT_SNAPSHOT, snapshot):
            return
        rows = await self._query(_SNAPSHOT_HASH, (snapshot.sequence,))
        if rows and rows[0][0] != snapshot.state_hash:
            raise SnapshotConflictError(f"another state is saved at sequence {snapshot.sequence}")

    async def latest(self, at_or_before: int | None = None) -> Snapshot | None:
        bound = _NO_LIMIT if at_or_before is None else at_or_before
        rows = await self._query(_LATEST_SNAPSHOT, (bound,))
        return Snapshot._make(rows[0]) if rows else None

    async def prune(self, keep: int) -> None:
        self._check_writable()
        if keep < 1:
            raise ValueError("keep at least one snapshot")
        await self._query(_PRUNE_SNAPSHOTS, (keep - 1,))

    def _check_writable(self) -> None:
        if self._read_only:
            raise SnapshotStoreError("the snapshot store was opened read-only")

    async def _query(self, query: str, parameters: Sequence[object]) -> list[sqlite3.Row]:
        if self._connection is None:
            raise RuntimeError("the snapshot store is not open")
        try:
            return list(await self._connection.execute_fetchall(query, parameters))
        except sqlite3.Error as error:
            raise SnapshotStoreError(f"snapshot store failed: {error}") from error
