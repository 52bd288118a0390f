"""The ports trading needs: the core's sequencer and state, the outcome feed, the read model.

They are Protocols, so the core's own classes satisfy the core ports structurally and
trading never imports the core.
"""

from collections.abc import Collection, Sequence
from typing import NamedTuple, Protocol

from openbell.contracts.commands import Command
from openbell.contracts.results import BalanceView, BookView, InstrumentView, OrderView, Outcome
from openbell.shared.ids import (
    AccountId,
    Asset,
    ClientOrderId,
    OrderId,
    SequenceNumber,
    Symbol,
    TradeId,
)
from openbell.trading.domain.orders import Fill, Order, ProjectionChanges


class Sequencer(Protocol):
    """Orders and applies commands; raises UnavailableError/OverloadedError when it cannot."""

    @property
    def committed_sequence(self) -> SequenceNumber:
        """The sequence number of the last command journaled and applied."""
        ...

    @property
    def running(self) -> bool:
        """False once it has stopped: shut down, fenced off by another writer, or failed."""
        ...

    async def execute(self, command: Command) -> Outcome: ...


class CoreReader(Protocol):
    """Queries on the core's current state (reference data, balances, books)."""

    def instruments(self) -> list[InstrumentView]: ...

    def instrument(self, symbol: Symbol) -> InstrumentView | None: ...

    def balances(self, account_id: AccountId) -> list[BalanceView]: ...

    def book(self, symbol: Symbol, depth: int) -> BookView | None: ...

    def asset_scales(self) -> dict[Asset, int]: ...

    def open_order(self, order_id: OrderId) -> OrderView | None:
        """The order as it rests in a book now; None once it has finished (or never was)."""
        ...

    def order_id_for(self, account_id: AccountId, client_order_id: ClientOrderId) -> OrderId | None:
        """The order the account placed with this client order id; None if it placed none.

        Rejected orders never took their client order id, so they are not found here.
        """
        ...


class OutcomeFeed(Protocol):
    """The core's outcomes, in sequence order, as published after each committed batch."""

    async def receive(self, limit: int) -> Sequence[Outcome]:
        """Wait for at least one outcome; return up to `limit`, oldest first."""
        ...


class ProjectionProgress(Protocol):
    """How far the read model has got, and a bounded wait for it to get further."""

    @property
    def projected_sequence(self) -> SequenceNumber: ...

    async def wait_for(self, sequence: SequenceNumber, timeout: float) -> bool:  # noqa: ASYNC109  # a bounded wait is the point
        """True once everything up to `sequence` is projected; False after `timeout` seconds."""
        ...

    def recent_order(self, order_id: OrderId) -> Order | None:
        """The order as projected, if the projector still remembers it (open or just finished).

        It is what the read model holds for the order, and at least as new as every
        outcome `wait_for` has waited for; None says only "read the read model".
        """
        ...


class OrderQuery(NamedTuple):
    """One page of an account's orders, newest first."""

    account_id: AccountId
    open_only: bool = False
    symbol: Symbol | None = None
    before_order_id: OrderId | None = None
    limit: int = 100


class FillQuery(NamedTuple):
    """One page of an account's fills, newest first."""

    account_id: AccountId
    symbol: Symbol | None = None
    order_id: OrderId | None = None
    before_trade_id: TradeId | None = None
    limit: int = 100


class SequenceQuery(NamedTuple):
    """An account's orders (by their latest change) or fills changed after a sequence.

    Oldest first, by sequence then id; `through_sequence` bounds the sequences from
    above, and `limit=None` reads every match.
    """

    account_id: AccountId
    after_sequence: SequenceNumber
    symbol: Symbol | None = None
    order_id: OrderId | None = None
    """Fills only: those of one order."""
    limit: int | None = 100
    through_sequence: SequenceNumber | None = None


class OrderReadModel(Protocol):
    """Orders and fills as projected. Every query is scoped to one account."""

    async def order(self, account_id: AccountId, order_id: OrderId) -> Order | None: ...

    async def order_by_client_id(
        self, account_id: AccountId, client_order_id: ClientOrderId
    ) -> Order | None:
        """The newest of the account's orders with this client order id, rejected ones too."""
        ...

    async def orders(self, query: OrderQuery) -> list[Order]: ...

    async def orders_after(self, query: SequenceQuery) -> list[Order]: ...

    async def fills(self, query: FillQuery) -> list[Fill]: ...

    async def fills_after(self, query: SequenceQuery) -> list[Fill]: ...


class ReadModelExtent(NamedTuple):
    """How far the read model reaches: none of it may be ahead of the core's journal."""

    checkpoint: SequenceNumber
    highest_order_id: OrderId
    highest_trade_id: TradeId


class ProjectionStore(Protocol):
    """Where the projection keeps orders, fills and its checkpoint.

    A write is one transaction that moves the checkpoint with the changes, and only
    from the checkpoint the writer last saw: whatever another writer did in between
    makes it refuse, so every outcome takes effect exactly once.
    """

    async def checkpoint(self) -> SequenceNumber:
        """The sequence of the last outcome applied (0 before the first)."""
        ...

    async def load_orders(self, order_ids: Collection[OrderId]) -> dict[OrderId, Order]:
        """The stored orders among `order_ids`, whichever their account."""
        ...

    async def save(
        self, changes: ProjectionChanges, *, after: SequenceNumber, sequence: SequenceNumber
    ) -> bool:
        """Write the changes and move the checkpoint from `after` to `sequence`, together.

        False, and nothing written, when the checkpoint is no longer `after`; a
        ConflictError, and nothing written, when the changes break the store's keys.
        """
        ...


class ResettableReadModel(Protocol):
    """A read model that can say how far it reaches and be emptied to be rebuilt."""

    async def extent(self) -> ReadModelExtent:
        """The checkpoint and the highest order and trade ids held (0 for none)."""
        ...

    async def reset(self) -> None:
        """Delete every order, fill and the checkpoint, in one transaction."""
        ...
