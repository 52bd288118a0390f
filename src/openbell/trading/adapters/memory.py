"""The read model in memory: for tests and for running without a database.

It keeps the SQL adapter's rules: account-scoped queries, newest first; one client
order id per account among orders that were not rejected; changes and checkpoint
applied together, only from the checkpoint the writer saw, or not at all.
"""

from collections.abc import Collection
from dataclasses import replace

from openbell.contracts.enums import OrderStatus
from openbell.shared.errors import ConflictError
from openbell.shared.ids import AccountId, ClientOrderId, OrderId, SequenceNumber, TradeId
from openbell.trading.application.ports import (
    FillQuery,
    OrderQuery,
    ReadModelExtent,
    SequenceQuery,
)
from openbell.trading.domain.orders import Fill, Order, ProjectionChanges


class InMemoryReadModel:
    def __init__(self) -> None:
        self._orders: dict[OrderId, Order] = {}
        self._fills: dict[tuple[TradeId, str], Fill] = {}
        self._client_order_ids: dict[tuple[AccountId, ClientOrderId], OrderId] = {}
        self._checkpoint = SequenceNumber(0)

    async def order(self, account_id: AccountId, order_id: OrderId) -> Order | None:
        order = self._orders.get(order_id)
        if order is None or order.account_id != account_id:
            return None
        return replace(order)

    async def order_by_client_id(
        self, account_id: AccountId, client_order_id: ClientOrderId
    ) -> Order | None:
        found = [
            order
            for order in self._orders.values()
            if order.account_id == account_id and order.client_order_id == client_order_id
        ]
        return replace(max(found, key=lambda order: order.order_id)) if found else None

    async def orders_after(self, query: SequenceQuery) -> list[Order]:
        found = [
            replace(order)
            for order in self._orders.values()
            if order.account_id == query.account_id
            and _in_range(order.sequence, query)
            and (query.symbol is None or order.symbol == query.symbol)
        ]
        found.sort(key=lambda order: (order.sequence, order.order_id))
        return found[: query.limit]

    async def fills_after(self, query: SequenceQuery) -> list[Fill]:
        found = [
            fill
            for fill in self._fills.values()
            if fill.account_id == query.account_id
            and _in_range(fill.sequence, query)
            and (query.symbol is None or fill.symbol == query.symbol)
            and (query.order_id is None or fill.order_id == query.order_id)
        ]
        found.sort(key=lambda fill: (fill.sequence, fill.trade_id, fill.liquidity.value))
        return found[: query.limit]

    async def orders(self, query: OrderQuery) -> list[Order]:
        found = [
            replace(order)
            for order in self._orders.values()
            if order.account_id == query.account_id
            and (not query.open_only or order.is_open)
            and (query.symbol is None or order.symbol == query.symbol)
            and (query.before_order_id is None or order.order_id < query.before_order_id)
        ]
        found.sort(key=lambda order: order.order_id, reverse=True)
        return found[: query.limit]

    async def fills(self, query: FillQuery) -> list[Fill]:
        found = [
            fill
            for fill in self._fills.values()
            if fill.account_id == query.account_id
            and (query.symbol is None or fill.symbol == query.symbol)
            and (query.order_id is None or fill.order_id == query.order_id)
            and (query.before_trade_id is None or fill.trade_id < query.before_trade_id)
        ]
        found.sort(key=lambda fill: (-fill.trade_id, fill.liquidity.value))
        return found[: query.limit]

    async def checkpoint(self) -> SequenceNumber:
        return self._checkpoint

    async def load_orders(self, order_ids: Collection[OrderId]) -> dict[OrderId, Order]:
        return {i: replace(self._orders[i]) for i in order_ids if i in self._orders}

    async def save(
        self, changes: ProjectionChanges, *, after: SequenceNumber, sequence: SequenceNumber
    ) -> bool:
        if self._checkpoint != after:
            return False
        self._commit(changes, sequence)
        return True

    async def extent(self) -> ReadModelExtent:
        return ReadModelExtent(
            self._checkpoint,
            max(self._orders, default=OrderId(0)),
            max((trade_id for trade_id, _ in self._fills), default=TradeId(0)),
        )

    async def reset(self) -> None:
        self._orders.clear()
        self._fills.clear()
        self._client_order_ids.clear()
        self._checkpoint = SequenceNumber(0)

    async def close(self) -> None:
        """Nothing to release; here so every read model closes alike."""

    def _commit(self, changes: ProjectionChanges, sequence: SequenceNumber) -> None:
        """Apply every change and the checkpoint, or raise ConflictError and apply none."""
        self._check(changes)
        for order in (*changes.created.values(), *changes.updated.values()):
            self._orders[order.order_id] = replace(order)
            if order.status is not OrderStatus.REJECTED:
                self._client_order_ids[order.account_id, order.client_order_id] = order.order_id
        for fill in changes.fills:
            self._fills[fill.trade_id, fill.liquidity.value] = fill
        self._checkpoint = sequence

    def _check(self, changes: ProjectionChanges) -> None:
        """Raise ConflictError where the SQL schema's keys would refuse the changes."""
        if any(order_id in self._orders for order_id in changes.created):
            raise ConflictError("an order with this id exists")
        fill_keys = [(fill.trade_id, fill.liquidity.value) for fill in changes.fills]
        if len(set(fill_keys)) != len(fill_keys) or any(key in self._fills for key in fill_keys):
            raise ConflictError("a fill with this trade id and liquidity exists")
        seen: dict[tuple[AccountId, ClientOrderId], OrderId] = {}
        for order in changes.created.values():
            if order.status is OrderStatus.REJECTED:
                continue
            key = (order.account_id, order.client_order_id)
            if self._client_order_ids.get(key, order.order_id) != order.order_id or key in seen:
                raise ConflictError("a client order id is used twice in one account")
            seen[key] = order.order_id


def _in_range(sequence: SequenceNumber, query: SequenceQuery) -> bool:
    through = query.through_sequence
    return sequence > query.after_sequence and (through is None or sequence <= through)
