"""What the core answers: the outcome of a command, and views of its state for queries."""

from typing import NamedTuple

from openbell.contracts.commands import Command
from openbell.contracts.enums import (
    InstrumentStatus,
    OrderStatus,
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from openbell.contracts.events import Event
from openbell.shared.ids import AccountId, Asset, ClientOrderId, OrderId, SequenceNumber, Symbol
from openbell.shared.money import Amount, Price, Quantity
from openbell.shared.time import Timestamp


class OrderView(NamedTuple):
    """An order as it stands after a command."""

    order_id: OrderId
    account_id: AccountId
    client_order_id: ClientOrderId
    symbol: Symbol
    side: Side
    order_type: OrderType
    price: Price | None
    quantity: Quantity
    filled_quantity: Quantity
    filled_amount: Amount
    """Sum of the quote amounts of its fills, in minor units: average price = this / filled."""
    fees_paid: Amount
    status: OrderStatus
    time_in_force: TimeInForce
    post_only: bool
    self_trade_prevention: SelfTradePrevention
    created_at: Timestamp
    updated_at: Timestamp
    reason: str | None
    """Why it was rejected or cancelled, when it was."""
    original_quantity: Quantity
    """The quantity the order was placed with; `quantity` is its total after amends.

    Last, so the positional builders of the fields before it stay aligned."""


class Rejected(NamedTuple):
    """The command was refused; `order` is the rejected order's record for an order command."""

    reason: RejectReason
    order: OrderView | None = None


class DuplicateOrder(NamedTuple):
    """The client order id was used before: nothing new was created.

    `order` is the original order while it still rests in the core; once it has
    finished, callers read it from the order read model by `order_id`.
    """

    order_id: OrderId
    order: OrderView | None


class BalanceView(NamedTuple):
    asset: Asset
    available: Amount
    held: Amount


class AccountView(NamedTuple):
    account_id: AccountId


class Done(NamedTuple):
    """The command took effect and has nothing more to say than its events."""


class OrdersCancelled(NamedTuple):
    """The orders a CancelAllOrders cancelled, as it left them, by order id."""

    orders: list[OrderView]


Result = OrderView | Rejected | DuplicateOrder | BalanceView | AccountView | Done | OrdersCancelled


class Outcome(NamedTuple):
    """A sequenced command, what it returned, and the events it produced."""

    sequence: SequenceNumber
    timestamp: Timestamp
    command: Command
    result: Result
    events: list[Event]


class InstrumentView(NamedTuple):
    symbol: Symbol
    base_asset: Asset
    quote_asset: Asset
    base_scale: int
    quote_scale: int
    tick_size: str
    lot_size: str
    min_quantity: Quantity
    max_quantity: Quantity
    reference_price: Price
    price_band_bps: int
    maker_fee_bps: int
    taker_fee_bps: int
    status: InstrumentStatus


class BookView(NamedTuple):
    """Aggregated depth: (price, quantity) per level, best first."""

    symbol: Symbol
    sequence: SequenceNumber
    bids: list[tuple[Price, Quantity]]
    asks: list[tuple[Price, Quantity]]
