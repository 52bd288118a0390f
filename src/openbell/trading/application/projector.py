"""The projector: the core's outcomes in, the order and trade read model out.

It takes outcomes from the feed in chunks and applies each chunk in one transaction
that also moves the checkpoint, so every outcome takes effect exactly once: outcomes
at or below the checkpoint (a replay after a restart) are skipped. A failed write is
retried with the same outcomes, never dropped.

A chunk costs the store one write and, usually, no read: the projector remembers the
checkpoint it last wrote and the open orders as it wrote them, which is what the store
holds as long as nobody else writes. The store refuses a write whose checkpoint has
moved, and then the projector forgets what it remembered and reads the store again.
It also remembers the orders that finished last, so the use cases can answer about
an order that just filled or cancelled without a query.
"""

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace

from openbell.contracts.results import Outcome
from openbell.platform.bus import SubscriptionClosedError
from openbell.shared.ids import OrderId, SequenceNumber
from openbell.trading.application.ports import OutcomeFeed, ProjectionStore
from openbell.trading.domain.orders import Order, ProjectionChanges, referenced_order_ids
from openbell.trading.domain.orders import project as project_outcomes

logger = logging.getLogger(__name__)


class Projector:
    """Keeps the read model up with the core; tells readers how far it has got."""

    def __init__(
        self,
        feed: OutcomeFeed,
        store: ProjectionStore,
        *,
        max_batch: int = 5_000,
        retry_seconds: float = 0.5,
        remember_finished: int = 10_000,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._feed = feed
        self._store = store
        self._max_batch = max_batch
        self._retry_seconds = retry_seconds
        self._projected = SequenceNumber(0)
        self._checkpoint = SequenceNumber(0)
        """The checkpoint this projector last read or wrote: what the next write starts from."""
        self._open: dict[OrderId, Order] = {}
        """Open orders as written at `_checkpoint`: the store holds the same while it is there."""
        self._finished: OrderedDict[OrderId, Order] = OrderedDict()
        """The last `remember_finished` orders that finished, as written, oldest first."""
        self._remember_finished = remember_finished
        self._advanced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.failures = 0
        """Failed attempts to write a chunk since start; each was retried."""
        self.gaps = 0
        """Times an outcome arrived that did not follow the checkpoint: outcomes were missed."""

    @property
    def projected_sequence(self) -> SequenceNumber:
        """The sequence of the last outcome the read model holds."""
        return self._projected

    def recent_order(self, order_id: OrderId) -> Order | None:
        """A copy of the order as this projector last wrote it, if it remembers it."""
        order = self._open.get(order_id) or self._finished.get(order_id)
        return None if order is None else replace(order)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Read the checkpoint and start consuming the feed."""
        if self._task is not None:
            raise RuntimeError("projector already started")
        await self._reload()
        self._task = asyncio.create_task(self._run(), name="openbell-trading-projector")

    async def stop(self) -> None:
        """Stop consuming; what is not yet projected stays in the feed or is replayed later."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        # asyncio.wait neither raises the task's cancellation nor swallows our own.
        await asyncio.wait([task])
        if not task.cancelled() and task.exception() is not None:
            logger.error("the trading projector had stopped: %r", task.exception())

    async def wait_for(self, sequence: SequenceNumber, timeout: float) -> bool:  # noqa: ASYNC109  # a bounded wait is the point
        """Wait until the outcome with `sequence` is projected; False if `timeout` passes first.

        A projector that is not running answers at once: waiting for it would only
        make every reader slow while it is down.
        """
        if self._projected >= sequence or not self.running:
            return self._projected >= sequence
        try:
            async with asyncio.timeout(timeout):
                while self._projected < sequence:
                    await self._advanced.wait()
        except TimeoutError:
            return False
        return True

    async def project(self, outcomes: Sequence[Outcome]) -> SequenceNumber:
        """Apply outcomes in one transaction; return the checkpoint after it."""
        if not outcomes:
            return self._projected
        while True:
            checkpoint = self._checkpoint
            fresh = _after(outcomes, checkpoint)
            if not fresh:
                return checkpoint
            changes = project_outcomes(fresh, await self._known(referenced_order_ids(fresh)))
            sequence = fresh[-1].sequence
            if await self._store.save(changes, after=checkpoint, sequence=sequence):
                self._saved(changes, checkpoint, fresh)
                return sequence
            # Another writer moved the checkpoint: what we remember may be stale.
            await self._reload()

    async def _known(self, order_ids: set[OrderId]) -> dict[OrderId, Order]:
        """The orders the outcomes change, from memory where it has them, else from the store."""
        remembered = self._open
        known = {i: remembered[i] for i in order_ids if i in remembered}
        if len(known) < len(order_ids):
            known.update(await self._store.load_orders(order_ids - known.keys()))
        return known

    def _saved(
        self, changes: ProjectionChanges, checkpoint: SequenceNumber, fresh: list[Outcome]
    ) -> None:
        if fresh[0].sequence != checkpoint + 1:
            self.gaps += 1
            logger.error(
                "outcomes %d..%d never reached the trading read model",
                checkpoint + 1,
                fresh[0].sequence - 1,
            )
        if changes.unknown_orders:
            logger.error(
                "events for %d orders the read model never saw", len(changes.unknown_orders)
            )
        remembered, finished = self._open, self._finished
        for order in (*changes.created.values(), *changes.updated.values()):
            if order.is_open:
                remembered[order.order_id] = order
            else:
                remembered.pop(order.order_id, None)
                finished[order.order_id] = order
        while len(finished) > self._remember_finished:
            finished.popitem(last=False)
        self._checkpoint = fresh[-1].sequence
        self._advance(self._checkpoint)

    async def _reload(self) -> None:
        self._open.clear()
        self._finished.clear()
        self._checkpoint = await self._store.checkpoint()
        self._advance(self._checkpoint)

    async def _run(self) -> None:
        while True:
            try:
                outcomes = await self._feed.receive(self._max_batch)
            except SubscriptionClosedError:
                logger.info("the outcome feed closed; the trading projector stops")
                return
            await self._project_until_done(outcomes)

    async def _project_until_done(self, outcomes: Sequence[Outcome]) -> None:
        while True:
            try:
                await self.project(outcomes)
            except Exception:
                self.failures += 1
                logger.exception("projecting outcomes failed; retrying")
                await asyncio.sleep(self._retry_seconds)
            else:
                return

    def _advance(self, checkpoint: SequenceNumber) -> None:
        self._projected = max(self._projected, checkpoint)
        # Wake every waiter to recheck; later waiters wait on a fresh event.
        advanced, self._advanced = self._advanced, asyncio.Event()
        advanced.set()


def _after(outcomes: Sequence[Outcome], checkpoint: SequenceNumber) -> list[Outcome]:
    """The outcomes beyond `checkpoint`, each sequence once, in order."""
    fresh: list[Outcome] = []
    last = checkpoint
    for outcome in outcomes:
        if outcome.sequence > last:
            fresh.append(outcome)
            last = outcome.sequence
    return fresh
