"""Orders and fills as the read model holds them, and how the core's events change them.

The projection is a pure function of the events: the order's status, filled quantity,
average price and fees are derived from OrderAccepted/OrderRejected, TradeExecuted,
OrderAmended and OrderCancelled alone, so replaying the same outcomes always yields
the same rows. Prices are ticks, quantities lots, amounts minor units of the quote asset.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

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
    """An order's latest state; `filled_amount` and `fees_paid` are in the quote asset."""

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
    status: OrderStatus = OrderStatus.NEW
    filled_quantity: Quantity = NO_QUANTITY
    filled_amount: Amount = NO_AMOUNT
    fees_paid: Amount = NO_AMOUNT
    reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def record_fill(
        self, quantity: Quantity, amount: Amount, fee: Amount, timestamp: Timestamp
    ) -> None:
        self.filled_quantity = Quantity(self.filled_quantity + quantity)
        self.filled_amount = Amount(self.filled_amount + amount)
        self.fees_paid = Amount(self.fees_paid + fee)
        full = self.filled_quantity >= self.quantity
        self.status = OrderStatus.FILLED if full else OrderStatus.PARTIALLY_FILLED
        self.updated_at = timestamp

    def record_amendment(
        self, price: Price | None, quantity: Quantity, timestamp: Timestamp
    ) -> None:
        if self.order_type is OrderType.LIMIT:
            self.price = price
        self.quantity = quantity
        self.updated_at = timestamp

    def record_cancellation(self, reason: str, timestamp: Timestamp) -> None:
        self.status = OrderStatus.CANCELLED
        self.reason = reason
        self.updated_at = timestamp


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
        timestamp = outcome.timestamp
        match event:
            case OrderAccepted():
                self._created(_accepted(event, timestamp))
            case OrderRejected():
                self._created(_rejected(event, timestamp))
            case TradeExecuted():
                self._trade(event, outcome)
            case OrderCancelled():
                order = self._order(event.order_id)
                if order is not None:
                    order.record_cancellation(event.reason.value, timestamp)
            case OrderAmended():
                order = self._order(event.order_id)
                if order is not None:
                    order.record_amendment(event.price, event.quantity, timestamp)
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
                order.record_fill(trade.quantity, trade.quote_amount, fee, timestamp)
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


def _accepted(event: OrderAccepted, timestamp: Timestamp) -> Order:
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
    )


def _rejected(event: OrderRejected, timestamp: Timestamp) -> Order:
    order = Order(
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
    )
    order.status = OrderStatus.REJECTED
    order.reason = event.reason.value
    return order


def order_from_view(view: OrderView) -> Order:
    """The core's answer about an order, in the read model's shape."""
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
        view.status,
        view.filled_quantity,
        view.filled_amount,
        view.fees_paid,
        view.reason,
    )
