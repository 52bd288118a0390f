"""Assets and instruments: the rules an order must satisfy before it may rest or trade."""

from decimal import Decimal, InvalidOperation
from typing import Final

from openbell.contracts.enums import InstrumentStatus
from openbell.shared.ids import Asset, Symbol
from openbell.shared.money import Amount, Price, Quantity

BPS: Final = 10_000
MAX_SCALE: Final = 18


class InstrumentError(ValueError):
    """The instrument definition is inconsistent."""


class Instrument:
    """A tradable pair with its tick, lot, quantity limits, price band and fees.

    Prices are integer ticks and quantities integer lots; `quote_per_tick_lot` and
    `base_per_lot` turn them into the assets' minor units, so no arithmetic on the
    hot path ever leaves the integers.
    """

    __slots__ = (
        "band_high",
        "band_low",
        "base_asset",
        "base_per_lot",
        "base_scale",
        "halt_reason",
        "hold_fee_bps",
        "lot_size",
        "maker_fee_bps",
        "max_quantity",
        "min_quantity",
        "price_band_bps",
        "quote_asset",
        "quote_per_tick_lot",
        "quote_scale",
        "reference_price",
        "status",
        "symbol",
        "taker_fee_bps",
        "tick_size",
    )

    def __init__(
        self,
        symbol: Symbol,
        base_asset: Asset,
        quote_asset: Asset,
        scales: tuple[int, int],
        tick_size: str,
        lot_size: str,
        quantity_limits: tuple[Quantity, Quantity],
        price_band: tuple[Price, int],
        fees_bps: tuple[int, int],
    ) -> None:
        self.symbol = symbol
        self.base_asset = base_asset
        self.quote_asset = quote_asset
        self.base_scale, self.quote_scale = scales
        self.tick_size = tick_size
        self.lot_size = lot_size
        self.min_quantity, self.max_quantity = quantity_limits
        self.maker_fee_bps, self.taker_fee_bps = fees_bps
        self.hold_fee_bps = max(fees_bps)
        self.quote_per_tick_lot, self.base_per_lot = _multipliers(
            tick_size, lot_size, self.base_scale, self.quote_scale
        )
        self.status = InstrumentStatus.TRADING
        self.halt_reason = ""
        reference_price, self.price_band_bps = price_band
        self.reference_price = self.band_low = self.band_high = Price(0)
        self.set_reference_price(reference_price)
        self._check()

    def set_reference_price(self, price: Price) -> None:
        if price < 1:
            raise InstrumentError("reference price must be at least one tick")
        self.reference_price = price
        band = self.price_band_bps
        self.band_low = Price(max(1, -(-price * (BPS - band) // BPS)))
        self.band_high = Price(price * (BPS + band) // BPS)

    def buy_cost(self, price: Price, quantity: Quantity, fee_credit: int = 0) -> Amount:
        """What a buy of `quantity` at `price` must hold: notional plus the largest fee it can owe.

        The fee is rounded up, in the venue's favour, after taking off `fee_credit`: what
        the order's earlier fills paid ahead by rounding up (see `market.Market.match`).
        """
        notional = price * quantity * self.quote_per_tick_lot
        return Amount(notional - (fee_credit - notional * self.hold_fee_bps) // BPS)

    def _check(self) -> None:
        if not 1 <= self.min_quantity <= self.max_quantity:
            raise InstrumentError("quantity limits must satisfy 1 <= min <= max")
        if not 0 <= self.price_band_bps < BPS:
            raise InstrumentError("price band must be within [0, 10000) basis points")
        if not (0 <= self.maker_fee_bps < BPS and 0 <= self.taker_fee_bps < BPS):
            raise InstrumentError("fees must be within [0, 10000) basis points")
        if self.base_asset == self.quote_asset:
            raise InstrumentError("base and quote assets must differ")


def _multipliers(
    tick_size: str, lot_size: str, base_scale: int, quote_scale: int
) -> tuple[int, int]:
    """Minor units of quote per tick x lot, and of base per lot; both must be whole."""
    try:
        tick, lot = Decimal(tick_size), Decimal(lot_size)
    except InvalidOperation as error:
        raise InstrumentError("tick and lot sizes must be decimals") from error
    if not (tick.is_finite() and lot.is_finite() and tick > 0 and lot > 0):
        raise InstrumentError("tick and lot sizes must be positive")
    quote_units = tick * lot * Decimal(10) ** quote_scale
    base_units = lot * Decimal(10) ** base_scale
    if (
        quote_units != quote_units.to_integral_value()
        or base_units != base_units.to_integral_value()
    ):
        raise InstrumentError("tick x lot and lot must be whole numbers of minor units")
    return int(quote_units), int(base_units)
