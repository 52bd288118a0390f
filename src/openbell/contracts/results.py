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


class OrderView(NamedTuple):
    """An order as it stands after a command."""

    order_id: int
    account_id: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    price: int | None
    quantity: int
    filled_quantity: int
    filled_amount: int
    """Sum of the quote amounts of its fills, in minor units: average price = this / filled."""
    fees_paid: int
    status: OrderStatus
    time_in_force: TimeInForce
    post_only: bool
    self_trade_prevention: SelfTradePrevention
    created_at: int
    updated_at: int
    reason: str | None
    """Why it was rejected or cancelled, when it was."""


class Rejected(NamedTuple):
    """The command was refused; `order` is the rejected order's record for an order command."""

    reason: RejectReason
    order: OrderView | None = None


class DuplicateOrder(NamedTuple):
    """The client order id was used before: nothing new was created.

    `order` is the original order while it still rests in the core; once it has
    finished, callers read it from the order read model by `order_id`.
    """

    order_id: int
    order: OrderView | None


class BalanceView(NamedTuple):
    asset: str
    available: int
    held: int


class AccountView(NamedTuple):
    account_id: int


class Done(NamedTuple):
    """The command took effect and has nothing more to say than its events."""


Result = OrderView | Rejected | DuplicateOrder | BalanceView | AccountView | Done


class Outcome(NamedTuple):
    """A sequenced command, what it returned, and the events it produced."""

    sequence: int
    timestamp: int
    command: Command
    result: Result
    events: list[Event]


class InstrumentView(NamedTuple):
    symbol: str
    base_asset: str
    quote_asset: str
    base_scale: int
    quote_scale: int
    tick_size: str
    lot_size: str
    min_quantity: int
    max_quantity: int
    reference_price: int
    price_band_bps: int
    maker_fee_bps: int
    taker_fee_bps: int
    status: InstrumentStatus


class BookView(NamedTuple):
    """Aggregated depth: (price, quantity) per level, best first."""

    symbol: str
    sequence: int
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]
