"""Events the core publishes after a command is journaled and applied.

Events travel inside an `Outcome`, which carries the command's sequence number
and time; the per-symbol book sequence is the sequence of the last command that
changed that book.
"""

from typing import NamedTuple

from openbell.contracts.enums import (
    CancelReason,
    OrderType,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)


class AssetDefined(NamedTuple):
    asset: str
    scale: int


class InstrumentListed(NamedTuple):
    symbol: str
    base_asset: str
    quote_asset: str


class ReferencePriceSet(NamedTuple):
    symbol: str
    price: int


class MarketHalted(NamedTuple):
    symbol: str | None
    reason: str


class MarketResumed(NamedTuple):
    symbol: str | None


class AccountOpened(NamedTuple):
    account_id: int


class FundsDeposited(NamedTuple):
    account_id: int
    asset: str
    amount: int
    reference: str


class OrderAccepted(NamedTuple):
    order_id: int
    account_id: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    price: int | None
    quantity: int
    time_in_force: TimeInForce
    post_only: bool
    self_trade_prevention: SelfTradePrevention


class OrderRejected(NamedTuple):
    order_id: int
    account_id: int
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    price: int | None
    quantity: int
    time_in_force: TimeInForce
    post_only: bool
    self_trade_prevention: SelfTradePrevention
    reason: RejectReason


class TradeExecuted(NamedTuple):
    """One match: the buyer's quote went to the seller, the seller's base to the buyer."""

    trade_id: int
    symbol: str
    price: int
    quantity: int
    quote_amount: int
    """Price times quantity in the quote asset's minor units, before fees."""
    taker_side: Side
    maker_order_id: int
    maker_account_id: int
    maker_fee: int
    taker_order_id: int
    taker_account_id: int
    taker_fee: int


class OrderCancelled(NamedTuple):
    order_id: int
    account_id: int
    symbol: str
    side: Side
    remaining_quantity: int
    reason: CancelReason


class OrderAmended(NamedTuple):
    order_id: int
    account_id: int
    symbol: str
    side: Side
    price: int | None
    quantity: int
    priority_kept: bool


Event = (
    AssetDefined
    | InstrumentListed
    | ReferencePriceSet
    | MarketHalted
    | MarketResumed
    | AccountOpened
    | FundsDeposited
    | OrderAccepted
    | OrderRejected
    | TradeExecuted
    | OrderCancelled
    | OrderAmended
)
