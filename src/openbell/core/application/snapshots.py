"""Periodic snapshots of the exchange, so a restart replays only the journal's tail."""

import asyncio
import logging
import time
from collections.abc import Callable

from openbell.core.application.ports import Snapshot, SnapshotStore
from openbell.core.domain.exchange import Exchange
from openbell.core.domain.state import State, export_state, hash_state
from openbell.shared.time import Clock

logger = logging.getLogger(__name__)

StateEncoder = Callable[[State], bytes]


class Snapshotter:
    """Takes a snapshot every N commands or T seconds, saving it in the background.

    The state is exported synchronously, between batches, so it is consistent;
    only the write happens concurrently with new commands.
    """

    def __init__(
        self,
        store: SnapshotStore,
        encode: StateEncoder,
        clock: Clock,
        *,
        every_commands: int,
        interval_seconds: float,
        keep: int,
    ) -> None:
        self._store = store
        self._encode = encode
        self._clock = clock
        self._every_commands = every_commands
        self._interval = interval_seconds
        self._keep = keep
        self._since_last = 0
        self._last_taken = time.monotonic()
        self._saving: asyncio.Task[None] | None = None
        self.last_sequence = 0

    def maybe_take(self, exchange: Exchange, applied: int) -> None:
        """Count applied commands and start a snapshot when one is due and none is in flight."""
        self._since_last += applied
        due = self._since_last >= self._every_commands or (
            self._since_last and time.monotonic() - self._last_taken >= self._interval
        )
        if due and (self._saving is None or self._saving.done()):
            self._start(exchange)

    async def take(self, exchange: Exchange, *, wait: bool = False) -> None:
        """Snapshot now (after any save in flight), optionally waiting until it is durable."""
        await self.drain()
        if exchange.sequence == self.last_sequence:
            return
        self._start(exchange)
        if wait:
            await self.drain()

    async def drain(self) -> None:
        if self._saving is not None:
            await asyncio.shield(self._saving)

    def _start(self, exchange: Exchange) -> None:
        state = export_state(exchange)
        snapshot = Snapshot(
            exchange.sequence, hash_state(state), self._clock.now_ns(), self._encode(state)
        )
        self._since_last = 0
        self._last_taken = time.monotonic()
        self._saving = asyncio.get_running_loop().create_task(self._save(snapshot))

    async def _save(self, snapshot: Snapshot) -> None:
        try:
            await self._store.save(snapshot)
            await self._store.prune(self._keep)
        except Exception:
            logger.exception("snapshot at sequence %d was not saved", snapshot.sequence)
            return
        self.last_sequence = snapshot.sequence
        logger.info("snapshot saved at sequence %d", snapshot.sequence)
