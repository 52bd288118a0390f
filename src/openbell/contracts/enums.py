"""The trading vocabulary shared by the core and the contexts around it."""

from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class SelfTradePrevention(StrEnum):
    """What happens when an order would trade against an order of the same account."""

    CANCEL_TAKER = "cancel_taker"
    """Cancel the rest of the incoming order; resting orders stay."""
    CANCEL_MAKER = "cancel_maker"
    """Cancel the resting order and keep matching the incoming one."""
    CANCEL_BOTH = "cancel_both"
    """Cancel the resting order and the rest of the incoming one."""


class OrderStatus(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class CancelReason(StrEnum):
    """Why an order stopped resting or never rested."""

    REQUESTED = "requested"
    UNFILLED_IOC = "unfilled_ioc"
    """An IOC or market order's remainder after matching what it could."""
    UNFILLED_FOK = "unfilled_fok"
    """A fill-or-kill order the book could not fill completely: accepted, then cancelled
    whole before matching, as an IOC that fills nothing is; its client order id is used."""
    SELF_TRADE = "self_trade"
    AMENDED_BELOW_FILLED = "amended_below_filled"
    """An amend asked for a quantity at or below what had filled: the remainder is cancelled."""


class InstrumentStatus(StrEnum):
    TRADING = "trading"
    HALTED = "halted"


class RejectReason(StrEnum):
    """Machine-readable reasons the core refuses a command."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    PRICE_OUT_OF_BAND = "price_out_of_band"
    INVALID_TICK = "invalid_tick"
    INVALID_LOT = "invalid_lot"
    QUANTITY_OUT_OF_RANGE = "quantity_out_of_range"
    POST_ONLY_WOULD_CROSS = "post_only_would_cross"
    FOK_UNFILLABLE = "fok_unfillable"
    """No longer produced: an unfillable FOK is accepted and cancelled (`unfilled_fok`).
    Kept so that older journals' outcomes and clients that know it still parse."""
    MARKET_HALTED = "market_halted"
    UNKNOWN_SYMBOL = "unknown_symbol"
    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_ASSET = "unknown_asset"
    UNKNOWN_ORDER = "unknown_order"
    ORDER_NOT_OPEN = "order_not_open"
    INVALID_ORDER = "invalid_order"
    """Fields that do not fit together (a limit order without a price, a GTC market order...)."""
    INVALID_AMENDMENT = "invalid_amendment"
    DUPLICATE = "duplicate"
    """An asset, instrument or reference that already exists."""
    INVALID_INSTRUMENT = "invalid_instrument"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_REFERENCE = "invalid_reference"
