"""Order entry and order queries: commands go to the core, reads come from the read model.

Reads are read-your-writes: before answering, a query waits (bounded) until the read
model holds every outcome the core had committed when the query began. If the wait
runs out it answers with what the read model holds.

Reads are refused as unavailable once the core no longer sequences commands here, and
while the read model's database fails (`guard.ReadGuard`).

When a command's answer needs an order the core no longer holds (a cancel that lost
the race with a fill, a retry of a finished order), the use case waits for that
command's outcome to be projected, then takes the order from the projector's memory
when it still has it, else from the read model.

A client order id is an idempotency key: sent again with the parameters the order
was placed with, it answers with that order; with any other, ClientOrderIdReusedError
names the differing parameters. Either way nothing new is placed.

Reads from a sequence page by whole commands: a page holds every change of each
command it includes, so a command that changed many orders is never split between
pages (a page is longer than asked only when one command alone changed more).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, NamedTuple, Protocol, TypeVar

from openbell.contracts.commands import AmendOrder, CancelAllOrders, CancelOrder, PlaceOrder
from openbell.contracts.enums import RejectReason
from openbell.contracts.results import (
    BalanceView,
    DuplicateOrder,
    OrdersCancelled,
    OrderView,
    Outcome,
    Rejected,
)
from openbell.shared.ids import AccountId, ClientOrderId, OrderId, SequenceNumber, Symbol
from openbell.trading.application.errors import (
    ClientOrderIdReusedError,
    OrderNotFoundError,
    OrderNotOpenError,
    OrderRejectedError,
    ReadModelBehindError,
)
from openbell.trading.application.guard import ReadGuard
from openbell.trading.application.ports import (
    CoreReader,
    FillQuery,
    OrderQuery,
    OrderReadModel,
    ProjectionProgress,
    SequenceQuery,
    Sequencer,
)
from openbell.trading.domain.orders import Fill, Order, order_from_view, placement_mismatches

DEFAULT_READ_TIMEOUT_SECONDS = 2.0


class Placement(NamedTuple):
    """The order a PlaceOrder led to; `created` is False when it was a retry of an earlier one."""

    order: Order
    created: bool


class Balances(NamedTuple):
    """An account's balances as of the core's committed `sequence`."""

    sequence: SequenceNumber
    balances: list[BalanceView]


class _Sequenced(Protocol):
    @property
    def sequence(self) -> SequenceNumber: ...


S = TypeVar("S", bound=_Sequenced)


@dataclass(frozen=True, slots=True)
class SequencePage(Generic[S]):
    """Orders or fills changed after a sequence, oldest first, whole commands only.

    `next_after_sequence` is where the next page starts; None when nothing more is there.
    """

    items: list[S]
    next_after_sequence: SequenceNumber | None


class OrderService:
    def __init__(
        self,
        sequencer: Sequencer,
        core: CoreReader,
        read_model: OrderReadModel,
        progress: ProjectionProgress,
        *,
        read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
        guard: ReadGuard | None = None,
    ) -> None:
        self._sequencer = sequencer
        self._guard = guard or ReadGuard(sequencer)
        self._core = core
        self._read_model = read_model
        self._progress = progress
        self._read_timeout = read_timeout

    async def place_order(self, command: PlaceOrder) -> Placement:
        """Place an order, or find the earlier one with the same client order id."""
        outcome = await self._sequencer.execute(command)
        result = outcome.result
        if isinstance(result, OrderView):
            return Placement(order_from_view(result, outcome.sequence), created=True)
        if isinstance(result, DuplicateOrder):
            order = await self._finished(command.account_id, result.order_id, outcome)
            mismatched = placement_mismatches(command, order)
            if mismatched:
                raise ClientOrderIdReusedError(order, mismatched)
            return Placement(order, created=False)
        raise _rejection(outcome)

    async def cancel_order(self, command: CancelOrder) -> Order:
        outcome = await self._sequencer.execute(command)
        if isinstance(outcome.result, OrderView):
            return order_from_view(outcome.result, outcome.sequence)
        raise await self._not_open(command.account_id, command.order_id, outcome)

    async def cancel_by_client_id(
        self, account_id: AccountId, client_order_id: ClientOrderId
    ) -> Order:
        """Cancel the order the account placed with this client order id.

        The core knows the id of every order that took its client order id; one that
        never did (only rejected orders had it) is not open, or not found at all.
        """
        order_id = self._core.order_id_for(account_id, client_order_id)
        if order_id is None:
            raise OrderNotOpenError(await self.order_by_client_id(account_id, client_order_id))
        return await self.cancel_order(CancelOrder(account_id, order_id))

    async def cancel_all(self, account_id: AccountId, symbol: Symbol | None) -> list[Order]:
        """Cancel the account's open orders, of `symbol` or of every symbol, in one command.

        The orders as the command left them, by order id; none when nothing was open.
        """
        outcome = await self._sequencer.execute(CancelAllOrders(account_id, symbol))
        if not isinstance(outcome.result, OrdersCancelled):
            raise _rejection(outcome)
        return [order_from_view(view, outcome.sequence) for view in outcome.result.orders]

    async def amend_order(self, command: AmendOrder) -> Order:
        outcome = await self._sequencer.execute(command)
        if isinstance(outcome.result, OrderView):
            return order_from_view(outcome.result, outcome.sequence)
        raise await self._not_open(command.account_id, command.order_id, outcome)

    async def open_order(self, account_id: AccountId, order_id: OrderId) -> Order:
        """The caller's order if it is still open; OrderNotOpenError if it has finished.

        An order resting in the core is open now, with no wait for the read model; the
        read model answers for any other (finished, another account's, unknown).
        """
        view = self._core.open_order(order_id)
        if view is not None and view.account_id == account_id:
            return order_from_view(view, self._sequencer.committed_sequence)
        order = await self.order(account_id, order_id)
        if not order.is_open:
            raise OrderNotOpenError(order)
        return order

    async def order(self, account_id: AccountId, order_id: OrderId) -> Order:
        self._guard.check()
        await self.catch_up()
        order = await self._guard.read(self._read_model.order(account_id, order_id))
        if order is None:
            raise OrderNotFoundError("no such order")
        return order

    async def order_by_client_id(
        self, account_id: AccountId, client_order_id: ClientOrderId
    ) -> Order:
        """The account's newest order with this client order id (a rejected one too)."""
        self._guard.check()
        await self.catch_up()
        order = await self._guard.read(
            self._read_model.order_by_client_id(account_id, client_order_id)
        )
        if order is None:
            raise OrderNotFoundError("no such order")
        return order

    async def orders(self, query: OrderQuery) -> list[Order]:
        self._guard.check()
        await self.catch_up()
        return await self._guard.read(self._read_model.orders(query))

    async def orders_after(self, query: SequenceQuery) -> SequencePage[Order]:
        """The account's orders whose latest change came after `query.after_sequence`."""
        self._guard.check()
        await self.catch_up()
        return await self._guard.read(_whole_commands(query, self._read_model.orders_after))

    async def fills(self, query: FillQuery) -> list[Fill]:
        self._guard.check()
        await self.catch_up()
        return await self._guard.read(self._read_model.fills(query))

    async def fills_after(self, query: SequenceQuery) -> SequencePage[Fill]:
        """The account's fills executed after `query.after_sequence`."""
        self._guard.check()
        await self.catch_up()
        return await self._guard.read(_whole_commands(query, self._read_model.fills_after))

    def balances(self, account_id: AccountId) -> Balances:
        """The account's balances and the sequence they are as of, read together."""
        self._guard.check()
        return Balances(self._sequencer.committed_sequence, self._core.balances(account_id))

    async def catch_up(self, sequence: SequenceNumber | None = None) -> bool:
        """Wait, at most the read timeout, for the read model to reach `sequence`.

        Without `sequence`, the core's committed sequence as of now.
        """
        target = self._sequencer.committed_sequence if sequence is None else sequence
        return await self._progress.wait_for(target, self._read_timeout)

    async def _finished(self, account_id: AccountId, order_id: OrderId, outcome: Outcome) -> Order:
        """An order that no longer rests in the core, from the read model."""
        await self.catch_up(outcome.sequence)
        order = await self._projected(account_id, order_id)
        if order is None:
            raise ReadModelBehindError("the order is not in the read model yet; retry")
        return order

    async def _not_open(
        self, account_id: AccountId, order_id: OrderId, outcome: Outcome
    ) -> OrderRejectedError | OrderNotOpenError | OrderNotFoundError:
        """Why a cancel or amend was refused; never says whether another account's order exists."""
        error = _rejection(outcome)
        if error.order is not None:
            # The order as the refused command left it: unchanged, so as last projected.
            await self.catch_up(outcome.sequence)
            projected = await self._projected(account_id, order_id)
            return OrderRejectedError(error.reason, projected or error.order)
        if error.reason is not RejectReason.UNKNOWN_ORDER:
            return error
        await self.catch_up(outcome.sequence)
        order = await self._projected(account_id, order_id)
        if order is None:
            return OrderNotFoundError("no such order")
        return OrderNotOpenError(order)

    async def _projected(self, account_id: AccountId, order_id: OrderId) -> Order | None:
        """The account's order as projected so far: from the projector's memory, or a query."""
        order = self._progress.recent_order(order_id)
        if order is not None and order.account_id == account_id:
            return order
        return await self._guard.read(self._read_model.order(account_id, order_id))


def _rejection(outcome: Outcome) -> OrderRejectedError:
    result = outcome.result
    if not isinstance(result, Rejected):
        raise TypeError(f"unexpected result {type(result).__name__} for an order command")
    order = None if result.order is None else order_from_view(result.order, outcome.sequence)
    return OrderRejectedError(result.reason, order)


async def _whole_commands(
    query: SequenceQuery, read: Callable[[SequenceQuery], Awaitable[list[S]]]
) -> SequencePage[S]:
    """A page of at most `query.limit` items, cut back to whole commands.

    One more item than the limit is read: if it belongs to the page's last command,
    that command's items are left to the next page; if the page held nothing else,
    it is that whole command however many items it has.
    """
    limit = query.limit or 0
    found = await read(query._replace(limit=limit + 1))
    if len(found) <= limit:
        return SequencePage(found, None)
    cut = found[limit].sequence
    page = [item for item in found[:limit] if item.sequence != cut]
    if not page:
        whole = query._replace(
            after_sequence=SequenceNumber(cut - 1), through_sequence=cut, limit=None
        )
        page = await read(whole)
    # Empty only if those items changed again meanwhile: they now follow `cut`.
    return SequencePage(page, page[-1].sequence if page else cut)
