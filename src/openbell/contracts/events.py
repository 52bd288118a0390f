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
from openbell.shared.ids import (
    AccountId,
    Asset,
    ClientOrderId,
    OrderId,
    PaymentReference,
    Symbol,
    TradeId,
)
from openbell.shared.money import Amount, Price, Quantity


class AssetDefined(NamedTuple):
    asset: Asset
    scale: int


class InstrumentListed(NamedTuple):
    symbol: Symbol
    base_asset: Asset
    quote_asset: Asset


class ReferencePriceSet(NamedTuple):
    symbol: Symbol
    price: Price


class MarketHalted(NamedTuple):
    symbol: Symbol | None
    reason: str


class MarketResumed(NamedTuple):
    symbol: Symbol | None


class AccountOpened(NamedTuple):
    account_id: AccountId


class FundsDeposited(NamedTuple):
    account_id: AccountId
    asset: Asset
    amount: Amount
    reference: PaymentReference


class OrderAccepted(NamedTuple):
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


class OrderRejected(NamedTuple):
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
    reason: RejectReason


class TradeExecuted(NamedTuple):
    """One match: the buyer's quote went to the seller, the seller's base to the buyer."""

    trade_id: TradeId
    symbol: Symbol
    price: Price
    quantity: Quantity
    quote_amount: Amount
    """Price times quantity in the quote asset's minor units, before fees."""
    taker_side: Side
    maker_order_id: OrderId
    maker_account_id: AccountId
    maker_fee: Amount
    taker_order_id: OrderId
    taker_account_id: AccountId
    taker_fee: Amount


class OrderCancelled(NamedTuple):
    order_id: OrderId
    account_id: AccountId
    symbol: Symbol
    side: Side
    remaining_quantity: Quantity
    reason: CancelReason


class OrderAmended(NamedTuple):
    order_id: OrderId
    account_id: AccountId
    symbol: Symbol
    side: Side
    price: Price | None
    quantity: Quantity
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
