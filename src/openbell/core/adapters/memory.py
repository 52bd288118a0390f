"""In-memory journal and snapshot store, for tests and for running without a database.

They keep the rules of the real adapters: the journal encodes every batch with
the codec and verifies it on read, refuses a batch that does not continue it,
and admits one writer at a time. An `InMemoryStorage` plays the database: hand
the same one to a new adapter object to model reopening after a restart.
"""

from bisect import bisect_right
from collections.abc import AsyncIterator, Sequence
from operator import attrgetter
from typing import Final

from openbell.core.adapters.codec import (
    encode_record,
    stream_entries,
)
from openbell.core.application.errors import (
    JournalLockedError,
    JournalReadOnlyError,
    JournalSequenceError,
    SnapshotConflictError,
    SnapshotStoreError,
)
from openbell.core.application.ports import Discontinuity, JournalEntry, JournalRecord, Snapshot

_first_sequence: Final = attrgetter("first_sequence")


class InMemoryStorage:
    """What a database would hold: journal records, snapshots and the writer lock."""

    def __init__(self) -> None:
        self.records: list[JournalRecord] = []
        self.snapshots: dict[int, Snapshot] = {}
        self.writer_held = False

    @property
    def last_sequence(self) -> int:
        return self.records[-1].last_sequence if self.records else 0

    def insert(self, record: JournalRecord) -> None:
        """Store a record only if it continues the journal, as the SQL insert does."""
        if record.first_sequence != self.last_sequence + 1:
            raise JournalSequenceError(
                f"the storage refused sequences {record.first_sequence}..{record.last_sequence}",
            )
        self.records.append(record)

    def index_after(self, first_sequence: int) -> int:
        """Index of the first record whose first sequence is above `first_sequence`."""
        return bisect_right(self.records, first_sequence, key=_first_sequence)


class _StorageRecords:
    """The journal's range queries, answered from the record list."""

    def __init__(self, storage: InMemoryStorage) -> None:
        self._storage = storage

    async def record_holding(self, sequence: int) -> JournalRecord | None:
        index = self._storage.index_after(sequence) - 1
        if index < 0 or self._storage.records[index].last_sequence < sequence:
            return None
        return self._storage.records[index]

    async def records_between(self, after_first: int, up_to_first: int) -> list[JournalRecord]:
        start, stop = self._storage.index_after(after_first), self._storage.index_after(up_to_first)
        return self._storage.records[start:stop]

    async def first_sequence_after(self, after_first: int) -> int | None:
        index = self._storage.index_after(after_first)
        records = self._storage.records
        return records[index].first_sequence if index < len(records) else None


class InMemoryJournal:
    """A journal in a list; `read_only=True` opens it without taking the writer lock."""

    def __init__(
        self,
        storage: InMemoryStorage | None = None,
        *,
        read_only: bool = False,
        read_chunk_entries: int = 16_384,
    ) -> None:
        self._storage = storage if storage is not None else InMemoryStorage()
        self._read_only = read_only
        self._read_chunk_entries = read_chunk_entries
        self._is_open = False
        self._last_sequence = 0

    async def open(self) -> None:
        if self._is_open:
            raise RuntimeError("the journal is already open")
        if not self._read_only:
            if self._storage.writer_held:
                raise JournalLockedError("another writer holds the in-memory journal")
            self._storage.writer_held = True
        self._last_sequence = self._storage.last_sequence
        self._is_open = True

    async def close(self) -> None:
        if self._is_open and not self._read_only:
            self._storage.writer_held = False
        self._is_open = False

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        self._check_open()
        if self._read_only:
            raise JournalReadOnlyError("the journal was opened read-only")
        if not entries:
            return
        record = encode_record(entries, self._last_sequence)
        try:
            self._storage.insert(record)
        finally:
            # After a refusal the storage, not this writer, knows where the journal ends.
            self._last_sequence = self._storage.last_sequence

    def read(self, after_sequence: int = 0) -> AsyncIterator[JournalEntry]:
        self._check_open()
        source = _StorageRecords(self._storage)
        return stream_entries(source, after_sequence, self._read_chunk_entries)

    async def last_sequence(self) -> int:
        self._check_open()
        # A reader sees what the writer appended since; the writer knows its own position.
        return self._storage.last_sequence if self._read_only else self._last_sequence

    async def storage_problems(self) -> list[str]:
        self._check_open()
        return []

    async def discontinuities(self, limit: int) -> list[Discontinuity]:
        self._check_open()
        found, previous_last = [], 0
        for record in self._storage.records:
            if record.first_sequence != previous_last + 1:
                found.append(Discontinuity(previous_last, *record[:2]))
            previous_last = record.last_sequence
        return found[:limit]

    async def records_after(self, after_first: int, limit: int) -> list[JournalRecord]:
        self._check_open()
        start = self._storage.index_after(after_first)
        return self._storage.records[start : start + limit]

    async def record_holding(self, sequence: int) -> JournalRecord | None:
        self._check_open()
        return await _StorageRecords(self._storage).record_holding(sequence)

    def _check_open(self) -> None:
        if not self._is_open:
            raise RuntimeError("the journal is not open")


class InMemorySnapshotStore:
    """Snapshots in a dict keyed by sequence."""

    def __init__(self, storage: InMemoryStorage | None = None, *, read_only: bool = False) -> None:
        self._storage = storage if storage is not None else InMemoryStorage()
        self._read_only = read_only

    async def open(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to release."""

    async def save(self, snapshot: Snapshot) -> None:
        self._check_writable()
        existing = self._storage.snapshots.get(snapshot.sequence)
        if existing is None:
            self._storage.snapshots[snapshot.sequence] = snapshot
        elif existing.state_hash != snapshot.state_hash:
            raise SnapshotConflictError(f"another state is saved at sequence {snapshot.sequence}")

    async def latest(self, at_or_before: int | None = None) -> Snapshot | None:
        sequences = [
            sequence
            for sequence in self._storage.snapshots
            if at_or_before is None or sequence <= at_or_before
        ]
        return self._storage.snapshots[max(sequences)] if sequences else None

    async def prune(self, keep: int) -> None:
        self._check_writable()
        if keep < 1:
            raise ValueError("keep at least one snapshot")
        for sequence in sorted(self._storage.snapshots, reverse=True)[keep:]:
            del self._storage.snapshots[sequence]

    def _check_writable(self) -> None:
        if self._read_only:
            raise SnapshotStoreError("the snapshot store was opened read-only")
