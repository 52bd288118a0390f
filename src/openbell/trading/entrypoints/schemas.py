"""The API's request and response models, and the edge conversions between them and the core.

Prices and quantities travel as decimal strings both ways: a JSON number is refused,
because a float cannot carry every decimal exactly. Inside, they are ticks and lots.
"""

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from openbell.contracts.enums import (
    InstrumentStatus,
    Liquidity,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from openbell.contracts.results import BalanceView, BookView, InstrumentView
from openbell.shared.money import Price, Quantity
from openbell.shared.time import Timestamp
from openbell.trading.domain.orders import Fill, Order
from openbell.trading.domain.units import (
    average_price,
    format_amount,
    format_price,
    format_quantity,
    format_timestamp,
)

DECIMAL_PATTERN = r"^[0-9]{1,30}(\.[0-9]{1,30})?$"
CLIENT_ORDER_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
SYMBOL_PATTERN = r"^[A-Za-z0-9_.:/-]{1,64}$"


def _positive(value: str) -> str:
    if Decimal(value) <= 0:
        raise ValueError("must be greater than zero")
    return value


DecimalString = Annotated[
    str,
    StringConstraints(strict=True, pattern=DECIMAL_PATTERN, max_length=61),
    AfterValidator(_positive),
    Field(description='A positive decimal as a string, e.g. "100.25"; no exponent.'),
]
ClientOrderId = Annotated[str, StringConstraints(strict=True, pattern=CLIENT_ORDER_ID_PATTERN)]
Symbol = Annotated[str, StringConstraints(strict=True, pattern=SYMBOL_PATTERN)]
SideName = Literal["buy", "sell"]
OrderTypeName = Literal["limit", "market"]
TimeInForceName = Literal["GTC", "IOC", "FOK"]
SelfTradePreventionName = Literal["cancel_taker", "cancel_maker", "cancel_both"]


class PlaceOrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    symbol: Symbol
    side: SideName
    type: OrderTypeName
    price: DecimalString | None = Field(default=None, description="Limit orders only.")
    quantity: DecimalString
    time_in_force: TimeInForceName | None = Field(
        default=None, description="GTC for limit orders and IOC for market orders by default."
    )
    post_only: bool = False
    client_order_id: ClientOrderId | None = Field(
        default=None,
        description=(
            "Your idempotency key, unique per account. Sent again with the same parameters "
            "it answers 200 with the original order; with other parameters, 409 "
            "client_order_id_reused. Omitted, one is generated, never reused."
        ),
    )
    self_trade_prevention: SelfTradePreventionName = "cancel_taker"

    @property
    def resolved_time_in_force(self) -> TimeInForceName:
        if self.time_in_force is not None:
            return self.time_in_force
        return "GTC" if self.type == "limit" else "IOC"


class AmendOrderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    quantity: DecimalString | None = Field(
        default=None, description="The new total quantity, filled part included."
    )
    price: DecimalString | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> "AmendOrderRequest":
        if self.quantity is None and self.price is None:
            raise ValueError("give a new quantity, a new price, or both")
        return self


SEQUENCE_DESCRIPTION = (
    "The sequence number of the command that produced this state: every command the "
    "exchange accepts gets the next one, so they order your places, amends, cancels and "
    "fills. Read what changed after it with `after_sequence`."
)
NEXT_AFTER_SEQUENCE = Field(
    description=(
        "With `after_sequence`: pass as `after_sequence` for the next page; null when "
        "nothing more is there yet (poll again from the largest `sequence` you hold)."
    )
)


class OrderResponse(BaseModel):
    order_id: int
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    price: str | None = Field(description="The limit price now; null for a market order.")
    quantity: str = Field(description="The total quantity now, filled part included.")
    original_quantity: str = Field(description="The quantity as placed, before any amendment.")
    filled_quantity: str
    remaining_quantity: str = Field(
        description=(
            "What can still fill: quantity minus filled_quantity while the order is open "
            '(new or partially_filled), "0" once it has finished (filled, cancelled, rejected).'
        )
    )
    average_price: str | None = Field(description="Volume-weighted price of the fills.")
    cumulative_quote: str = Field(
        description="Executed notional: the sum of price x quantity of the fills, in the "
        "quote asset, before fees."
    )
    fees_paid: str = Field(description="In the instrument's quote asset.")
    status: OrderStatus
    time_in_force: TimeInForce
    post_only: bool
    self_trade_prevention: SelfTradePrevention
    created_at: str = Field(description="RFC 3339, UTC, nanoseconds.")
    updated_at: str = Field(description="RFC 3339, UTC, nanoseconds.")
    reason: str | None = Field(description="Why the order was rejected or cancelled.")
    sequence: int = Field(description=SEQUENCE_DESCRIPTION)


class OrderPage(BaseModel):
    orders: list[OrderResponse]
    next_cursor: int | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page, "
        "and with `after_sequence`."
    )
    next_after_sequence: int | None = NEXT_AFTER_SEQUENCE


class CancelledOrders(BaseModel):
    cancelled: list[OrderResponse] = Field(
        description="The orders cancelled, as the cancel left them, by order id; "
        "empty when nothing was open."
    )


class TradeResponse(BaseModel):
    trade_id: int
    order_id: int
    symbol: str
    side: Side
    price: str
    quantity: str
    quote_quantity: str = Field(
        description="price x quantity in the quote asset, before fees: what changed hands."
    )
    fee: str
    fee_asset: str
    liquidity: Liquidity
    executed_at: str = Field(description="RFC 3339, UTC, nanoseconds.")
    sequence: int = Field(description="The sequence number of the command that executed it.")


class TradePage(BaseModel):
    trades: list[TradeResponse]
    next_cursor: int | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page, "
        "and with `after_sequence`."
    )
    next_after_sequence: int | None = NEXT_AFTER_SEQUENCE


class InstrumentResponse(BaseModel):
    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: str
    lot_size: str
    min_quantity: str
    max_quantity: str
    reference_price: str
    price_band_bps: int = Field(description="Orders must be priced within this of the reference.")
    maker_fee_bps: int
    taker_fee_bps: int
    status: InstrumentStatus


class BalanceResponse(BaseModel):
    asset: str
    available: str
    held: str
    sequence: int = Field(
        description="State as of this sequence: the last command the exchange had applied "
        "when the balances were read."
    )


class TimeResponse(BaseModel):
    time: str = Field(description="The server's clock: RFC 3339, UTC, nanoseconds.")
    epoch_ns: int = Field(description="The same instant in nanoseconds since the Unix epoch.")


class BookResponse(BaseModel):
    symbol: str
    sequence: int
    bids: list[tuple[str, str]] = Field(description="[price, quantity] per level, best first.")
    asks: list[tuple[str, str]]


def order_document(order: Order, instrument: InstrumentView) -> dict[str, Any]:
    """An order as OrderResponse serialises it to JSON: the same keys, order and values."""
    price, created_at, updated_at = order.price, order.created_at, order.updated_at
    created = format_timestamp(created_at)
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.order_type.value,
        "price": None if price is None else format_price(price, instrument),
        "quantity": format_quantity(order.quantity, instrument),
        "original_quantity": format_quantity(order.original_quantity, instrument),
        "filled_quantity": format_quantity(order.filled_quantity, instrument),
        "remaining_quantity": format_quantity(order.remaining_quantity, instrument),
        "average_price": average_price(order.filled_amount, order.filled_quantity, instrument),
        "cumulative_quote": format_amount(order.filled_amount, instrument.quote_scale),
        "fees_paid": format_amount(order.fees_paid, instrument.quote_scale),
        "status": order.status.value,
        "time_in_force": order.time_in_force.value,
        "post_only": order.post_only,
        "self_trade_prevention": order.self_trade_prevention.value,
        "created_at": created,
        "updated_at": created if updated_at == created_at else format_timestamp(updated_at),
        "reason": order.reason,
        "sequence": order.sequence,
    }


def order_response(order: Order, instrument: InstrumentView) -> OrderResponse:
    return OrderResponse.model_validate(order_document(order, instrument))


def trade_response(fill: Fill, instrument: InstrumentView) -> TradeResponse:
    # The core charges both sides' fees in the quote asset.
    return TradeResponse(
        trade_id=fill.trade_id,
        order_id=fill.order_id,
        symbol=fill.symbol,
        side=fill.side,
        price=format_price(fill.price, instrument),
        quantity=format_quantity(fill.quantity, instrument),
        quote_quantity=format_amount(fill.quote_amount, instrument.quote_scale),
        fee=format_amount(fill.fee, instrument.quote_scale),
        fee_asset=instrument.quote_asset,
        liquidity=fill.liquidity,
        executed_at=format_timestamp(fill.executed_at),
        sequence=fill.sequence,
    )


def instrument_response(instrument: InstrumentView) -> InstrumentResponse:
    return InstrumentResponse(
        symbol=instrument.symbol,
        base_asset=instrument.base_asset,
        quote_asset=instrument.quote_asset,
        tick_size=instrument.tick_size,
        lot_size=instrument.lot_size,
        min_quantity=format_quantity(instrument.min_quantity, instrument),
        max_quantity=format_quantity(instrument.max_quantity, instrument),
        reference_price=format_price(instrument.reference_price, instrument),
        price_band_bps=instrument.price_band_bps,
        maker_fee_bps=instrument.maker_fee_bps,
        taker_fee_bps=instrument.taker_fee_bps,
        status=instrument.status,
    )


def balance_response(balance: BalanceView, scale: int, sequence: int) -> BalanceResponse:
    return BalanceResponse(
        asset=balance.asset,
        available=format_amount(balance.available, scale),
        held=format_amount(balance.held, scale),
        sequence=sequence,
    )


def time_response(nanoseconds: Timestamp) -> TimeResponse:
    return TimeResponse(time=format_timestamp(nanoseconds), epoch_ns=nanoseconds)


def book_response(book: BookView, instrument: InstrumentView) -> BookResponse:
    def levels(side: list[tuple[Price, Quantity]]) -> list[tuple[str, str]]:
        return [
            (format_price(price, instrument), format_quantity(quantity, instrument))
            for price, quantity in side
        ]

    return BookResponse(
        symbol=book.symbol, sequence=book.sequence, bids=levels(book.bids), asks=levels(book.asks)
    )
