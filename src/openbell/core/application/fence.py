"""The fence watch: a writer that lost its lock stops at once, not at its next write.

The writer lock is what makes this process the exchange's only writer. On PostgreSQL
it is a session's advisory lock, so it is gone the moment that session ends (a
network partition, an operator terminating the backend) and another process may take
over. A writer that only noticed on its next append would meanwhile keep answering
reads from a memory that is no longer the exchange's. So a small task asks the lock
every `interval` seconds whether it is still held, and on the first "no" fences the
sequencer: it refuses commands, and everything that consults it (readiness, reads)
refuses too.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable

from openbell.core.application.errors import JournalLockedError
from openbell.core.application.ports import WriterLock

logger = logging.getLogger(__name__)


class FenceWatch:
    """Checks the writer lock periodically; calls `on_lost` once when it is gone."""

    def __init__(
        self,
        lock: WriterLock,
        on_lost: Callable[[JournalLockedError], None],
        interval_seconds: float,
    ) -> None:
        self._lock = lock
        self._on_lost = on_lost
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="openbell-fence-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if not await self._lock.still_held():
                error = JournalLockedError(
                    f"this process lost {self._lock.name}: another may now write the journal"
                )
                logger.critical("fenced off: %s", error)
                self._on_lost(error)
                return
