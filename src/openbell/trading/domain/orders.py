"""Orders and fills as the read model holds them, and how the core's events change them.

The projection is a pure function of the events: the order's status, filled quantity,
average price and fees are derived from OrderAccepted/OrderRejected, TradeExecuted,
OrderAmended and OrderCancelled alone, so replaying the same outcomes always yields
the same rows. Prices are ticks, quantities lots, amounts minor units of the quote asset.

Each order remembers the sequence number of the command that last changed it, so a
client can place its own amends and cancels against its fills and resync after a gap,
and the parameters it was placed with, so a retry of its client order id can be
checked against the order as placed rather than as amended.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final, NamedTuple

from openbell.contracts.commands import PlaceOrder
from openbell.contracts.enums import (
    Liquidity,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from openbell.contracts.events import (
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    TradeExecuted,
)
from openbell.contracts.results import OrderView, Outcome
from openbell.shared.ids import AccountId, ClientOrderId, OrderId, SequenceNumber, Symbol, TradeId
from openbell.shared.money import Amount, Price, Quantity
from openbell.shared.time import Timestamp

OPEN_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
NO_QUANTITY = Quantity(0)
NO_AMOUNT = Amount(0)


@dataclass(slots=True)
class Order:
    """An order's latest state; `filled_amount` and `fees_paid` are in the quote asset.

    `sequence` is the sequence number of the command that produced this state;
    `original_price` and `original_quantity` are the order's as placed, before amends.
    """

    order_id: OrderId
    account_id: AccountId
    client_order_id: ClientOrderId
    symbol: Symbol
    side: Side
    order_type: OrderType
    price: Price | None
    quantity: Quantity
    time_in_force: TimeInForce
    post_only: bool
    self_trade_prevention: SelfTradePrevention
    created_at: Timestamp
    updated_at: Timestamp
    sequence: SequenceNumber
    original_price: Price | None
    original_quantity: Quantity
    status: OrderStatus = OrderStatus.NEW
    filled_quantity: Quantity = NO_QUANTITY
    filled_amount: Amount = NO_AMOUNT
    fees_paid: Amount = NO_AMOUNT
    reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining_quantity(self) -> Quantity:
        """What can still fill: the unfilled quantity while open, nothing once finished."""
        if not self.is_open:
            return NO_QUANTITY
        return Quantity(max(self.quantity - self.filled_quantity, 0))

    def record_fill(self, quantity: Quantity, amount: Amount, fee: Amount, at: "Change") -> None:
        self.filled_quantity = Quantity(self.filled_quantity + quantity)
        self.filled_amount = Amount(self.filled_amount + amount)
        self.fees_paid = Amount(self.fees_paid + fee)
        full = self.filled_quantity >= self.quantity
        self.status = OrderStatus.FILLED if full else OrderStatus.PARTIALLY_FILLED
        self._changed(at)

    def record_amendment(self, price: Price | None, quantity: Quantity, at: "Change") -> None:
        if self.order_type is OrderType.LIMIT:
            self.price = price
        self.quantity = quantity
        self._changed(at)

    def record_cancellation(self, reason: str, at: "Change") -> None:
        self.status = OrderStatus.CANCELLED
        self.reason = reason
        self._changed(at)

    def _changed(self, at: "Change") -> None:
        self.updated_at, self.sequence = at


class Change(NamedTuple):
    """When a command changed an order: its timestamp and its sequence number."""

    timestamp: Timestamp
    sequence: SequenceNumber


PLACEMENT_FIELDS: Final = (
    "symbol",
    "side",
    "type",
    "price",
    "quantity",
    "time_in_force",
    "post_only",
    "self_trade_prevention",
)
"""The parameters of a placement, by their API names, in the order they are reported."""


def placement_mismatches(command: PlaceOrder, order: Order) -> list[str]:
    """The placement parameters in which `command` differs from `order` as it was placed.

    Compared with the order as placed, not as amended since: a retry of the original
    request is the same request however the order has changed.
    """
    placed = (
        order.symbol,
        order.side,
        order.order_type,
        order.original_price,
        order.original_quantity,
        order.time_in_force,
        order.post_only,
        order.self_trade_prevention,
    )
    requested = (
        command.symbol,
        command.side,
        command.order_type,
        command.price,
        command.quantity,
        command.time_in_force,
        command.post_only,
        command.self_trade_prevention,
    )
    return [
        name
        for name, was, now in zip(PLACEMENT_FIELDS, placed, requested, strict=True)
        if was != now
    ]


@dataclass(frozen=True, slots=True)
class Fill:
    """One side of a trade: what one order bought or sold, at what price and fee."""

    trade_id: TradeId
    account_id: AccountId
    order_id: OrderId
    symbol: Symbol
    side: Side
    price: Price
    quantity: Quantity
    quote_amount: Amount
    fee: Amount
    liquidity: Liquidity
    executed_at: Timestamp
    sequence: SequenceNumber


@dataclass(slots=True)
class ProjectionChanges:
    """What a run of outcomes changed: orders to insert, orders to update, fills to add."""

    created: dict[OrderId, Order] = field(default_factory=dict)
    updated: dict[OrderId, Order] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    unknown_orders: set[OrderId] = field(default_factory=set)
    """Orders an event named that neither the batch nor the store knew: a gap upstream."""

    @property
    def empty(self) -> bool:
        return not (self.created or self.updated or self.fills)


def referenced_order_ids(outcomes: Iterable[Outcome]) -> set[OrderId]:
    """Ids of orders the outcomes change but do not create: the ones to load first."""
    created: set[OrderId] = set()
    touched: set[OrderId] = set()
    for outcome in outcomes:
        for event in outcome.events:
            match event:
                case OrderAccepted() | OrderRejected():
                    created.add(event.order_id)
                case OrderAmended() | OrderCancelled():
                    touched.add(event.order_id)
                case TradeExecuted():
                    touched.update((event.maker_order_id, event.taker_order_id))
                case _:
                    pass
    return touched - created


def project(outcomes: Iterable[Outcome], known: Mapping[OrderId, Order]) -> ProjectionChanges:
    """Apply the order events of `outcomes`, in order, to copies of the `known` orders."""
    projection = _Projection(known)
    for outcome in outcomes:
        for event in outcome.events:
            projection.apply(event, outcome)
    return projection.changes


class _Projection:
    def __init__(self, known: Mapping[OrderId, Order]) -> None:
        self._known = known
        self.changes = ProjectionChanges()

    def apply(self, event: Event, outcome: Outcome) -> None:
        at = Change(outcome.timestamp, outcome.sequence)
        match event:
            case OrderAccepted():
                self._created(_accepted(event, at))
            case OrderRejected():
                self._created(_rejected(event, at))
            case TradeExecuted():
                self._trade(event, outcome)
            case OrderCancelled():
                order = self._order(event.order_id)
                if order is not None:
                    order.record_cancellation(event.reason.value, at)
            case OrderAmended():
                order = self._order(event.order_id)
                if order is not None:
                    order.record_amendment(event.price, event.quantity, at)
            case _:
                pass

    def _created(self, order: Order) -> None:
        self.changes.created[order.order_id] = order

    def _order(self, order_id: OrderId) -> Order | None:
        changes = self.changes
        order = changes.created.get(order_id) or changes.updated.get(order_id)
        if order is not None:
            return order
        stored = self._known.get(order_id)
        if stored is None:
            changes.unknown_orders.add(order_id)
            return None
        order = replace(stored)
        changes.updated[order_id] = order
        return order

    def _trade(self, trade: TradeExecuted, outcome: Outcome) -> None:
        timestamp = outcome.timestamp
        at = Change(timestamp, outcome.sequence)
        maker_side = Side.SELL if trade.taker_side is Side.BUY else Side.BUY
        sides = (
            (trade.maker_order_id, trade.maker_account_id, maker_side, trade.maker_fee),
            (trade.taker_order_id, trade.taker_account_id, trade.taker_side, trade.taker_fee),
        )
        for (order_id, account_id, side, fee), liquidity in zip(
            sides, (Liquidity.MAKER, Liquidity.TAKER), strict=True
        ):
            order = self._order(order_id)
            if order is not None:
                order.record_fill(trade.quantity, trade.quote_amount, fee, at)
            self.changes.fills.append(
                Fill(
                    trade.trade_id,
                    account_id,
                    order_id,
                    trade.symbol,
                    side,
                    trade.price,
                    trade.quantity,
                    trade.quote_amount,
                    fee,
                    liquidity,
                    timestamp,
                    outcome.sequence,
                )
            )


def _accepted(event: OrderAccepted | OrderRejected, at: Change) -> Order:
    timestamp, sequence = at
    return Order(
        event.order_id,
        event.account_id,
        event.client_order_id,
        event.symbol,
        event.side,
        event.order_type,
        event.price,
        event.quantity,
        event.time_in_force,
        event.post_only,
        event.self_trade_prevention,
        timestamp,
        timestamp,
        sequence,
        event.price,
        event.quantity,
    )


def _rejected(event: OrderRejected, at: Change) -> Order:
    order = _accepted(event, at)
    order.status = OrderStatus.REJECTED
    order.reason = event.reason.value
    return order


def order_from_view(view: OrderView, sequence: SequenceNumber) -> Order:
    """The core's answer about an order, in the read model's shape, as of `sequence`.

    The core's view holds the order's current price only, so `original_price` is it:
    right for an order just placed, and never read from an order built here (the
    client order id rule reads orders as projected, from OrderAccepted).
    """
    return Order(
        view.order_id,
        view.account_id,
        view.client_order_id,
        view.symbol,
        view.side,
        view.order_type,
        view.price,
        view.quantity,
        view.time_in_force,
        view.post_only,
        view.self_trade_prevention,
        view.created_at,
        view.updated_at,
        sequence,
        view.price,
        view.original_quantity,
        view.status,
        view.filled_quantity,
        view.filled_amount,
        view.fees_paid,
        view.reason,
    )
