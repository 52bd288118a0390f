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
