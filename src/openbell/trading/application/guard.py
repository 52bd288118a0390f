"""Reads answer only from a trading context that is still the writer and whose store answers.

A core whose sequencer has stopped — fenced off by another writer taking the journal,
or stopped by a failed journal — holds state that is no longer the exchange's: another
process may be matching already. Serving its balances, books or the read model's orders
would show a trader stale data as current, so every read is refused as unavailable
(503) once the sequencer stops, as every command already is.

When the read model's database fails (a damaged page, a lost connection) the read is
refused as unavailable too, never answered with internals, and the context reports
itself not ready until a later read succeeds.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from openbell.contracts.results import BalanceView, BookView, InstrumentView, OrderView
from openbell.shared.errors import UnavailableError
from openbell.shared.ids import AccountId, Asset, ClientOrderId, OrderId, Symbol
from openbell.trading.application.ports import CoreReader, Sequencer

T = TypeVar("T")


class TradingUnavailableError(UnavailableError):
    """The core no longer sequences commands here, so its state is not the exchange's."""


class ReadModelUnavailableError(UnavailableError):
    """The read model's database failed to answer a query; what it said stays in the log."""


class ReadGuard:
    """Refuses reads once the sequencer has stopped; remembers whether the read model answers."""

    def __init__(self, sequencer: Sequencer) -> None:
        self._sequencer = sequencer
        self.read_model_answers = True
        self._probe: asyncio.Task[None] | None = None

    def check(self) -> None:
        if not self._sequencer.running:
            raise TradingUnavailableError("the core is not sequencing commands here")

    async def read(self, query: Awaitable[T]) -> T:
        """Await a read model query: an unavailable store is remembered until one succeeds."""
        try:
            result = await query
        except UnavailableError:
            self.read_model_answers = False
            raise
        self.read_model_answers = True
        return result

    def recheck(self, query: Callable[[], Awaitable[object]]) -> None:
        """After a failed read, try one in the background: a server taken out of rotation
        for it gets no reads, and must still come back once its store answers."""
        if self.read_model_answers or (self._probe is not None and not self._probe.done()):
            return
        self._probe = asyncio.ensure_future(self._quietly(query))

    async def _quietly(self, query: Callable[[], Awaitable[object]]) -> None:
        with contextlib.suppress(UnavailableError):
            await self.read(query())


class GuardedCoreReader:
    """The core's state, only while the core is still the writer (CoreReader port)."""

    def __init__(self, core: CoreReader, guard: ReadGuard) -> None:
        self._core = core
        self._guard = guard

    def instruments(self) -> list[InstrumentView]:
        self._guard.check()
        return self._core.instruments()

    def instrument(self, symbol: Symbol) -> InstrumentView | None:
        self._guard.check()
        return self._core.instrument(symbol)

    def balances(self, account_id: AccountId) -> list[BalanceView]:
        self._guard.check()
        return self._core.balances(account_id)

    def book(self, symbol: Symbol, depth: int) -> BookView | None:
        self._guard.check()
        return self._core.book(symbol, depth)

    def asset_scales(self) -> dict[Asset, int]:
        self._guard.check()
        return self._core.asset_scales()

    def open_order(self, order_id: OrderId) -> OrderView | None:
        self._guard.check()
        return self._core.open_order(order_id)

    def order_id_for(self, account_id: AccountId, client_order_id: ClientOrderId) -> OrderId | None:
        self._guard.check()
        return self._core.order_id_for(account_id, client_order_id)
