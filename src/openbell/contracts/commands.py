"""Commands the core accepts. Prices are ticks, quantities lots, amounts minor units.

The sequencer stamps each command with its sequence number and time; the
commands themselves carry only what the caller decided.
"""

from typing import NamedTuple

from openbell.contracts.enums import OrderType, SelfTradePrevention, Side, TimeInForce
from openbell.shared.ids import AccountId, Asset, ClientOrderId, OrderId, PaymentReference, Symbol
from openbell.shared.money import Amount, Price, Quantity


class DefineAsset(NamedTuple):
    """Make an asset known, with the number of decimal places of its minor unit."""

    asset: Asset
    scale: int


class ListInstrument(NamedTuple):
    """List an instrument that trades `base_asset` against `quote_asset`."""

    symbol: Symbol
    base_asset: Asset
    quote_asset: Asset
    tick_size: str
    """Decimal string: the price increment, in quote asset per unit of base asset."""
    lot_size: str
    """Decimal string: the quantity increment, in units of base asset."""
    min_quantity: Quantity
    max_quantity: Quantity
    reference_price: Price
    price_band_bps: int
    """Orders must be priced within this many basis points of the reference price."""
    maker_fee_bps: int
    taker_fee_bps: int


class SetReferencePrice(NamedTuple):
    symbol: Symbol
    price: Price


class HaltMarket(NamedTuple):
    """Halt one symbol, or every symbol when `symbol` is None. Cancels stay allowed."""

    symbol: Symbol | None
    reason: str


class ResumeMarket(NamedTuple):
    symbol: Symbol | None


class OpenAccount(NamedTuple):
    """Open a trading account; the core assigns its id."""


class Deposit(NamedTuple):
    """Credit an account from the external clearing account; `reference` is the idempotency key."""

    account_id: AccountId
    asset: Asset
    amount: Amount
    reference: PaymentReference


class PlaceOrder(NamedTuple):
    account_id: AccountId
    client_order_id: ClientOrderId
    symbol: Symbol
    side: Side
    order_type: OrderType
    price: Price | None
    quantity: Quantity
    time_in_force: TimeInForce
    post_only: bool = False
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.CANCEL_TAKER


class CancelOrder(NamedTuple):
    account_id: AccountId
    order_id: OrderId


class AmendOrder(NamedTuple):
    """Change an open order's total quantity and/or price.

    A lower quantity keeps time priority; a higher quantity or a new price loses it.
    """

    account_id: AccountId
    order_id: OrderId
    quantity: Quantity | None = None
    price: Price | None = None


class CancelAllOrders(NamedTuple):
    """Cancel every open order of an account, of one symbol or, when `symbol` is None, of all.

    One command, so a trader in a surge clears the book of their orders in one step.
    """

    account_id: AccountId
    symbol: Symbol | None = None


Command = (
    DefineAsset
    | ListInstrument
    | SetReferencePrice
    | HaltMarket
    | ResumeMarket
    | OpenAccount
    | Deposit
    | PlaceOrder
    | CancelOrder
    | AmendOrder
    | CancelAllOrders
)
