"""Trading's composition root, in two steps because the read model must listen before the core.

1. Before the core recovers: `open_read_model(database, bus)` subscribes to the bus
   and `await read_model.checkpoint()` says which sequence the read model has reached.
   Start the core with `replay_after=checkpoint` and `publish=bus.publish`, so the
   outcomes the read model missed are published again into the subscription.
2. Once the core runs: `build_trading(sequencer, core_reader, read_model)`; mount
   `openbell.trading.entrypoints.http.create_router(trading)`; in the lifespan
   `await trading.start()` and, after the core has stopped, `await trading.stop()`.

The SQL tables must exist: import `openbell.trading.adapters.tables` before
`openbell.platform.db.prepare_database` (or run the migrations).
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from openbell.contracts.results import Outcome
from openbell.platform.bus import Bus, Subscription
from openbell.platform.db import create_engine
from openbell.shared.ids import AccountId
from openbell.shared.time import Clock, SystemClock
from openbell.trading.adapters import tables as _tables  # noqa: F401  # registers the tables
from openbell.trading.adapters.memory import InMemoryReadModel
from openbell.trading.adapters.sql import SqlReadModel
from openbell.trading.application.guard import GuardedCoreReader, ReadGuard
from openbell.trading.application.orders import DEFAULT_READ_TIMEOUT_SECONDS, OrderService
from openbell.trading.application.ports import (
    CoreReader,
    OrderQuery,
    ReadModelExtent,
    Sequencer,
)
from openbell.trading.application.projector import Projector

__all__ = ["ReadModel", "Trading", "build_trading", "open_read_model"]

SUBSCRIPTION_NAME = "trading-read-model"


@dataclass(frozen=True, slots=True)
class ReadModel:
    """The order and trade read model with its projector, subscribed to the core's outcomes."""

    store: SqlReadModel | InMemoryReadModel
    projector: Projector
    subscription: Subscription[Outcome]
    engine: AsyncEngine | None
    owns_engine: bool

    async def checkpoint(self) -> int:
        """The sequence of the last outcome the read model holds: replay the core after it."""
        return await self.store.checkpoint()

    async def extent(self) -> ReadModelExtent:
        """The checkpoint and the highest ids held: none may be ahead of the journal."""
        return await self.store.extent()

    async def empty(self) -> None:
        """Forget every order, fill and the checkpoint, so a replay from sequence 1 rebuilds them.

        Only before the projector starts: it would otherwise write on from what it remembers.
        """
        if self.projector.running:
            raise RuntimeError("empty the read model before its projector starts")
        await self.store.reset()

    async def close(self) -> None:
        self.subscription.close()
        await self.store.close()
        if self.engine is not None and self.owns_engine:
            await self.engine.dispose()


def open_read_model(
    database: str | AsyncEngine | None, bus: Bus[Outcome], *, max_batch: int = 5_000
) -> ReadModel:
    """Subscribe the projector to `bus` from now on; a URL's engine is owned and disposed.

    `database=None` keeps the read model in memory (nothing survives a restart, so the
    core must then replay from the beginning: the checkpoint is 0).
    """
    subscription = bus.subscribe(SUBSCRIPTION_NAME)
    engine: AsyncEngine | None
    store: SqlReadModel | InMemoryReadModel
    if database is None:
        engine, owns, store = None, False, InMemoryReadModel()
    else:
        owns = not isinstance(database, AsyncEngine)
        engine = create_engine(database) if isinstance(database, str) else database
        store = SqlReadModel(engine)
    projector = Projector(subscription, store, max_batch=max_batch)
    return ReadModel(store, projector, subscription, engine, owns)


@dataclass(frozen=True, slots=True)
class Trading:
    """The trading context, wired: use cases for the HTTP layer, the projector to run."""

    orders: OrderService
    core: CoreReader
    """The core's state for the routes: refused once the core no longer sequences here."""
    sequencer: Sequencer
    read_model: ReadModel
    guard: ReadGuard
    clock: Clock
    """The platform's clock, for telling clients the server's time."""

    @property
    def projector(self) -> Projector:
        return self.read_model.projector

    async def checkpoint(self) -> int:
        return await self.read_model.checkpoint()

    async def start(self) -> None:
        """Start projecting; call before serving requests."""
        await self.projector.start()

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Project what the core committed (up to `grace_seconds`), then stop and close.

        Stop the core first, so nothing new is committed meanwhile. Anything left
        unprojected is replayed into the read model on the next start.
        """
        if self.projector.running:
            await self.projector.wait_for(self.sequencer.committed_sequence, grace_seconds)
        await self.projector.stop()
        await self.read_model.close()

    def ready(self) -> bool:
        """Ready while the projector runs (reads would otherwise go stale) and the read model's
        database answered the last read (after a failed one, asking starts a read to check)."""
        self.guard.recheck(lambda: self.read_model.store.orders(OrderQuery(AccountId(0), limit=1)))
        return self.projector.running and self.guard.read_model_answers


def build_trading(
    sequencer: Sequencer,
    core_reader: CoreReader,
    read_model: ReadModel,
    *,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
    clock: Clock | None = None,
) -> Trading:
    """Wire trading to a running core: its sequencer and the reader of its state."""
    guard = ReadGuard(sequencer)
    orders = OrderService(
        sequencer,
        core_reader,
        read_model.store,
        read_model.projector,
        read_timeout=read_timeout,
        guard=guard,
    )
    return Trading(
        orders,
        GuardedCoreReader(core_reader, guard),
        sequencer,
        read_model,
        guard,
        clock or SystemClock(),
    )
