"""PostgreSQL journal and snapshot store, on the raw asyncpg driver.

Each append is a single INSERT statement, so one transaction and one WAL flush
per batch, in one round trip. The writer is fenced with a session-level
advisory lock taken when it opens: PostgreSQL releases it when the session
ends, so a crashed writer's lock goes with its connection. A lost connection
is replaced on the next call, and the writer takes its lock again with it:
if another writer took over meanwhile, that call raises JournalLockedError.
"""

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Final

import asyncpg

from openbell.core.adapters.codec import DISCONTINUITIES, encode_record, stream_entries
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
from openbell.platform.db import asyncpg_dsn

WRITER_LOCK_KEY: Final = int.from_bytes(
    hashlib.sha256(b"openbell.core.journal.writer").digest()[:8], "big", signed=True
)
"""The advisory lock id of the journal writer; advisory locks are scoped to one database."""

PROCESS_LOCK_KEY: Final = int.from_bytes(
    hashlib.sha256(b"openbell.core.writer-process").digest()[:8], "big", signed=True
)
"""The advisory lock id the writing process holds from before it migrates until it stops.

It is another id than the journal's: an advisory lock held by one session is refused to
every other, and the journal's session, which takes its own again on every reconnection
(its fence), is not the session that migrated."""

# Errors meaning the database or the connection to it failed.
_DRIVER_ERRORS: Final = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)

# The WHERE clause makes the database itself refuse a batch that does not continue
# the journal, whatever the writer believes; the primary key refuses a duplicate.
_INSERT_RECORD: Final = """
    INSERT INTO core_journal (first_sequence, last_sequence, entry_count, payload, checksum)
    SELECT $1::bigint, $2::bigint, $3::integer, $4::bytea, $5::bigint
    WHERE $1::bigint = 1 + coalesce(
        (SELECT last_sequence FROM core_journal ORDER BY first_sequence DESC LIMIT 1), 0)
    RETURNING first_sequence
"""
_LAST_SEQUENCE: Final = (
    "SELECT last_sequence FROM core_journal ORDER BY first_sequence DESC LIMIT 1"
)
_RECORD_AT_OR_BEFORE: Final = """
    SELECT first_sequence, last_sequence, entry_count, payload, checksum FROM core_journal
    WHERE first_sequence <= $1 ORDER BY first_sequence DESC LIMIT 1
"""
_RECORDS_BETWEEN: Final = """
    SELECT first_sequence, last_sequence, entry_count, payload, checksum FROM core_journal
    WHERE first_sequence > $1 AND first_sequence <= $2 ORDER BY first_sequence
"""
_FIRST_SEQUENCE_AFTER: Final = (
    "SELECT min(first_sequence) FROM core_journal WHERE first_sequence > $1"
)
_DISCONTINUITIES: Final = DISCONTINUITIES.format(limit="$1")
_RECORDS_AFTER: Final = """
    SELECT first_sequence, last_sequence, entry_count, payload, checksum FROM core_journal
    WHERE first_sequence > $1 ORDER BY first_sequence LIMIT $2
"""


async def _connect(url: str, *, read_only: bool) -> asyncpg.Connection:
    settings = {"default_transaction_read_only": "on"} if read_only else {}
    connection: asyncpg.Connection = await asyncpg.connect(
        asyncpg_dsn(url), server_settings=settings
    )
    return connection


async def _close(connection: asyncpg.Connection) -> None:
    try:
        await connection.close(timeout=5)
    except _DRIVER_ERRORS:
        # A connection that cannot close politely is dropped; the session ends either way.
        connection.terminate()


async def _take_writer_lock(connection: asyncpg.Connection) -> None:
    if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", WRITER_LOCK_KEY):
        raise JournalLockedError(
            f"another journal writer holds this database's advisory lock {WRITER_LOCK_KEY}"
        )


LOCK_CHECK_TIMEOUT_SECONDS: Final = 5.0
"""How long the lock's session may take to answer before the lock counts as lost."""


class PostgresWriterLock:
    """The writing process's advisory lock, on a connection of its own held until release.

    Taken before the database is migrated, it makes a second server refuse before it
    changes anything; the journal still fences its own session with `WRITER_LOCK_KEY`.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: asyncpg.Connection | None = None

    @property
    def name(self) -> str:
        return f"the PostgreSQL advisory lock {PROCESS_LOCK_KEY} of this database"

    async def acquire(self) -> None:
        if self._connection is not None:
            raise RuntimeError("the writer lock is already held")
        with _failures_as(JournalStorageError, "cannot take the writer lock"):
            connection = await _connect(self._url, read_only=False)
        try:
            with _failures_as(JournalStorageError, "cannot take the writer lock"):
                taken = await connection.fetchval(
                    "SELECT pg_try_advisory_lock($1)", PROCESS_LOCK_KEY
                )
        except BaseException:
            connection.terminate()
            raise
        if not taken:
            await _close(connection)
            raise JournalLockedError(
                f"another openbell process is the writer of this database: it holds {self.name}"
            )
        self._connection = connection

    async def release(self) -> None:
        # Ending the session releases the advisory lock.
        connection, self._connection = self._connection, None
        if connection is not None:
            await _close(connection)

    async def still_held(self) -> bool:
        """A session keeps its advisory lock until it ends: the lock is held while it answers."""
        connection = self._connection
        if connection is None or connection.is_closed():
            return False
        try:
            await connection.fetchval("SELECT 1", timeout=LOCK_CHECK_TIMEOUT_SECONDS)
        except _DRIVER_ERRORS:
            return False
        return True


async def _tune_writer(connection: asyncpg.Connection) -> None:
    # A server configured with synchronous_commit=off acknowledges commits before
    # they are flushed; the journal must not, so it turns it back on for its session.
    if await connection.fetchval("SHOW synchronous_commit") == "off":
        await connection.execute("SET synchronous_commit TO on")
    # Payloads are compressed when stored (TOAST). With the default, pglz, a
    # 1,024-order insert took about five times as long as with lz4, for a similar
    # ratio (about 3:1). Servers older than 14 or built without lz4 keep pglz.
    with suppress(asyncpg.InvalidParameterValueError, asyncpg.UndefinedObjectError):
        await connection.execute("SET default_toast_compression TO lz4")


@contextmanager
def _failures_as(error_type: type[Exception], message: str) -> Iterator[None]:
    """Raise driver failures as `error_type`, which callers can catch without asyncpg."""
    try:
        yield
    except _DRIVER_ERRORS as error:
        raise error_type(f"{message}: {error}") from error


class _Session:
    """One connection, replaced when lost; a fenced session takes the writer lock with it."""

    def __init__(self, url: str, name: str, *, read_only: bool, fenced: bool) -> None:
        self._url = url
        self._name = name
        self._read_only = read_only
        self._fenced = fenced
        self._connection: asyncpg.Connection | None = None
        self._is_open = False
        # asyncpg refuses concurrent operations on one connection; a read in one
        # task and an append in another take turns instead of failing.
        self._turn = asyncio.Lock()
        self.connections = 0
        """How many connections this session has made: a change means a new session."""

    async def open(self) -> None:
        if self._is_open:
            raise RuntimeError(f"the {self._name} is already open")
        self._is_open = True
        try:
            async with self._turn:
                await self._connect()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        self._is_open = False
        connection, self._connection = self._connection, None
        if connection is not None:
            await _close(connection)

    def check_open(self) -> None:
        if not self._is_open:
            raise RuntimeError(f"the {self._name} is not open")

    async def fetch(self, query: str, *parameters: object) -> list[asyncpg.Record]:
        async with self._turn:
            connection = await self._live()
            with self._dropped_on_failure(connection):
                rows: list[asyncpg.Record] = await connection.fetch(query, *parameters)
        return rows

    async def fetchval(self, query: str, *parameters: object) -> object:
        async with self._turn:
            connection = await self._live()
            with self._dropped_on_failure(connection):
                return await connection.fetchval(query, *parameters)

    @contextmanager
    def _dropped_on_failure(self, connection: asyncpg.Connection) -> Iterator[None]:
        # After a failure the connection may be dead or mid-protocol (a terminated
        # backend, a cancelled query): the next call starts a fresh session rather
        # than trust it. A refused duplicate is an ordinary answer and keeps it.
        try:
            yield
        except asyncpg.UniqueViolationError:
            raise
        except BaseException:
            if self._connection is connection:
                self._connection = None
            connection.terminate()
            raise

    async def _live(self) -> asyncpg.Connection:
        self.check_open()
        connection = self._connection
        if connection is None or connection.is_closed():
            connection = await self._connect()
        return connection

    async def _connect(self) -> asyncpg.Connection:
        stale, self._connection = self._connection, None
        if stale is not None:
            stale.terminate()
        connection = await _connect(self._url, read_only=self._read_only)
        try:
            if self._fenced:
                await _take_writer_lock(connection)
            if not self._read_only:
                await _tune_writer(connection)
        except BaseException:
            connection.terminate()
            raise
        self._connection = connection
        self.connections += 1
        return connection


class PostgresJournal:
    """The journal in PostgreSQL. `read_only=True` reads beside a running writer."""

    def __init__(
        self,
        url: str,
        *,
        read_only: bool = False,
        read_chunk_entries: int = 16_384,
        acknowledged: AcknowledgedMark | None = None,
    ) -> None:
        self._session = _Session(url, "journal", read_only=read_only, fenced=not read_only)
        self._read_only = read_only
        self._acknowledged = acknowledged
        self._read_chunk_entries = read_chunk_entries
        self._last_sequence: int | None = None
        """The last durable sequence; None after a failed write, until read back."""
        self._position_connection = 0
        """The session's connection count when `_last_sequence` was read."""

    async def open(self) -> None:
        with _failures_as(JournalStorageError, "cannot open the journal"):
            await self._session.open()
        try:
            self._last_sequence = await self._durable_sequence()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        # Ending the session releases the advisory lock.
        await self._session.close()

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        self._session.check_open()
        if self._read_only:
            raise JournalReadOnlyError("the journal was opened read-only")
        if not entries:
            return
        record = encode_record(entries, await self._position())
        # Until this write is known to have happened or not, the position is unknown.
        self._last_sequence = None
        try:
            inserted = await self._session.fetchval(_INSERT_RECORD, *record)
        except asyncpg.UniqueViolationError as error:
            raise JournalSequenceError(f"the database refused: {error}") from error
        except _DRIVER_ERRORS as error:
            raise JournalStorageError(f"append failed: {error}") from error
        if inserted is None:
            raise JournalSequenceError(
                f"the database refused sequences {record.first_sequence}..{record.last_sequence}",
            )
        self._last_sequence = record.last_sequence
        if self._acknowledged is not None:
            self._acknowledged.write(Acknowledged(record.last_sequence, record.checksum))

    def read(self, after_sequence: int = 0) -> AsyncIterator[JournalEntry]:
        self._session.check_open()
        source = _PostgresRecords(self._session)
        return stream_entries(source, after_sequence, self._read_chunk_entries)

    async def last_sequence(self) -> int:
        self._session.check_open()
        if self._read_only:
            # A reader follows the writer.
            return await self._durable_sequence()
        return await self._position()

    async def storage_problems(self) -> list[str]:
        """Nothing: PostgreSQL checks its own pages (data checksums, amcheck) out of band."""
        self._session.check_open()
        return []

    async def discontinuities(self, limit: int) -> list[Discontinuity]:
        rows = await self._fetch(_DISCONTINUITIES, limit)
        return [Discontinuity._make(row) for row in rows]

    async def records_after(self, after_first: int, limit: int) -> list[JournalRecord]:
        rows = await self._fetch(_RECORDS_AFTER, after_first, limit)
        return [JournalRecord._make(row) for row in rows]

    async def record_holding(self, sequence: int) -> JournalRecord | None:
        self._session.check_open()
        return await _PostgresRecords(self._session).record_holding(sequence)

    async def _fetch(self, query: str, *parameters: int) -> list[asyncpg.Record]:
        self._session.check_open()
        with _failures_as(JournalStorageError, "cannot read the journal"):
            return await self._session.fetch(query, *parameters)

    async def _position(self) -> int:
        """The last durable sequence, read again after a failed write or a new connection."""
        if self._last_sequence is None or self._position_connection != self._session.connections:
            self._last_sequence = await self._durable_sequence()
        return self._last_sequence

    async def _durable_sequence(self) -> int:
        with _failures_as(JournalStorageError, "cannot read the journal"):
            last = await self._session.fetchval(_LAST_SEQUENCE)
        self._position_connection = self._session.connections
        return int(last) if isinstance(last, int) else 0


class _PostgresRecords:
    """The journal's range queries, one round trip each, no transaction held between them."""

    def __init__(self, session: _Session) -> None:
        self._session = session

    async def record_holding(self, sequence: int) -> JournalRecord | None:
        records = await self._fetch(_RECORD_AT_OR_BEFORE, sequence)
        if not records or records[0].last_sequence < sequence:
            return None
        return records[0]

    async def records_between(self, after_first: int, up_to_first: int) -> list[JournalRecord]:
        return await self._fetch(_RECORDS_BETWEEN, after_first, up_to_first)

    async def first_sequence_after(self, after_first: int) -> int | None:
        with _failures_as(JournalStorageError, "cannot read the journal"):
            first = await self._session.fetchval(_FIRST_SEQUENCE_AFTER, after_first)
        return first if isinstance(first, int) else None

    async def _fetch(self, query: str, *parameters: int) -> list[JournalRecord]:
        with _failures_as(JournalStorageError, "cannot read the journal"):
            rows = await self._session.fetch(query, *parameters)
        return [JournalRecord._make(row) for row in rows]


_INSERT_SNAPSHOT: Final = """
    INSERT INTO core_snapshots (sequence, state_hash, created_at, payload) VALUES ($1, $2, $3, $4)
    ON CONFLICT (sequence) DO NOTHING RETURNING sequence
"""
_SNAPSHOT_HASH: Final = "SELECT state_hash FROM core_snapshots WHERE sequence = $1"
_LATEST_SNAPSHOT: Final = """
    SELECT sequence, state_hash, created_at, payload FROM core_snapshots WHERE sequence <= $1
    ORDER BY sequence DESC LIMIT 1
"""
# Everything older than the keep-th newest; with fewer snapshots the subquery is
# NULL and nothing matches.
_PRUNE_SNAPSHOTS: Final = """
    DELETE FROM core_snapshots WHERE sequence <
        (SELECT sequence FROM core_snapshots ORDER BY sequence DESC LIMIT 1 OFFSET $1)
"""
_NO_LIMIT: Final = 2**63 - 1


class PostgresSnapshotStore:
    """Snapshots in PostgreSQL, on a connection of their own."""

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self._session = _Session(url, "snapshot store", read_only=read_only, fenced=False)
        self._read_only = read_only

    async def open(self) -> None:
        with _failures_as(SnapshotStoreError, "cannot open the snapshot store"):
            await self._session.open()

    async def close(self) -> None:
        await self._session.close()

    async def save(self, snapshot: Snapshot) -> None:
        self._check_writable()
        if await self._fetch(_INSERT_SNAPSHOT, *snapshot):
            return
        rows = await self._fetch(_SNAPSHOT_HASH, snapshot.sequence)
        if rows and rows[0][0] != snapshot.state_hash:
            raise SnapshotConflictError(f"another state is saved at sequence {snapshot.sequence}")

    async def latest(self, at_or_before: int | None = None) -> Snapshot | None:
        bound = _NO_LIMIT if at_or_before is None else at_or_before
        rows = await self._fetch(_LATEST_SNAPSHOT, bound)
        return Snapshot._make(rows[0]) if rows else None

    async def prune(self, keep: int) -> None:
        self._check_writable()
        if keep < 1:
            raise ValueError("keep at least one snapshot")
        await self._fetch(_PRUNE_SNAPSHOTS, keep - 1)

    def _check_writable(self) -> None:
        self._session.check_open()
        if self._read_only:
            raise SnapshotStoreError("the snapshot store was opened read-only")

    async def _fetch(self, query: str, *parameters: object) -> list[asyncpg.Record]:
        with _failures_as(SnapshotStoreError, "snapshot store failed"):
            return await self._session.fetch(query, *parameters)
