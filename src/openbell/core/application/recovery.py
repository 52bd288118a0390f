"""Recovery: the latest snapshot, then the journal after it, into a fresh exchange."""

import logging
from collections.abc import Callable
from typing import NamedTuple

from openbell.contracts.results import Outcome
from openbell.core.application.ports import Journal, SnapshotStore
from openbell.core.domain.exchange import Exchange
from openbell.core.domain.state import State, hash_state, restore_state

StateDecoder = Callable[[bytes], State]

logger = logging.getLogger(__name__)


class JournalBehindSnapshotError(RuntimeError):
    """The journal ends before the snapshot: its tail was lost, so acknowledged commands are.

    Starting anyway would accept new commands under sequence numbers that were
    already acknowledged once; an operator must restore the journal first.
    """

    def __init__(self, snapshot_sequence: int, journal_end: int) -> None:
        super().__init__(
            f"the newest snapshot is at sequence {snapshot_sequence} but the journal ends at "
            f"{journal_end} ({snapshot_sequence - journal_end} ahead)"
        )
        self.snapshot_sequence = snapshot_sequence
        self.journal_end = journal_end


class Recovery(NamedTuple):
    exchange: Exchange
    snapshot_sequence: int
    replayed: int


async def recover(
    journal: Journal,
    snapshots: SnapshotStore | None,
    decode: StateDecoder,
    *,
    replay_after: int | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Recovery:
    """Rebuild the exchange as of the journal's last entry.

    `replay_after` asks for a snapshot no newer than that sequence, so that every
    command after it is replayed and its outcome handed to `on_outcome`: this is how
    projections that fell behind the core catch up after a restart.
    """
    exchange, snapshot_sequence = Exchange(), 0
    if snapshots is not None:
        restored = await _restore_latest_sound(snapshots, decode, replay_after)
        if restored is not None:
            exchange, snapshot_sequence = restored, restored.sequence
    journal_end = await journal.last_sequence()
    if journal_end < snapshot_sequence:
        raise JournalBehindSnapshotError(snapshot_sequence, journal_end)
    replayed = 0
    async for entry in journal.read(after_sequence=exchange.sequence):
        outcome = exchange.apply(entry.command, entry.sequence, entry.timestamp)
        replayed += 1
        if on_outcome is not None and (replay_after is None or entry.sequence > replay_after):
            on_outcome(outcome)
    return Recovery(exchange, snapshot_sequence, replayed)


async def _restore_latest_sound(
    snapshots: SnapshotStore, decode: StateDecoder, at_or_before: int | None
) -> Exchange | None:
    """The newest snapshot whose contents match its hash; older ones stand in for a bad one."""
    while True:
        snapshot = await snapshots.latest(at_or_before=at_or_before)
        if snapshot is None:
            return None
        try:
            state = decode(snapshot.payload)
            if hash_state(state) == snapshot.state_hash:
                return restore_state(state)
        except (ValueError, TypeError, KeyError):
            pass
        logger.error("snapshot %d is corrupt; trying an older one", snapshot.sequence)
        at_or_before = snapshot.sequence - 1
