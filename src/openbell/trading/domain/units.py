"""Decimal prices and quantities at the edge, integer ticks and lots inside.

A price must be a whole number of the instrument's tick size and a quantity a whole
number of its lot size; the conversion never rounds and never passes through a float.
"""

from datetime import UTC, datetime
from decimal import Context, Decimal, localcontext
from functools import lru_cache
from typing import Final

from openbell.contracts.enums import RejectReason
from openbell.contracts.results import InstrumentView
from openbell.shared.money import EXACT, Amount, NotAMultipleError, Price, Quantity, to_units
from openbell.shared.time import Timestamp

MAX_UNITS: Final = 2**63 - 1
"""The largest tick or lot count the read model can store (a signed 64-bit integer)."""
AVERAGE_PRICE_EXTRA_DIGITS: Final = 8
"""Digits beyond the tick size an average price keeps (an average need not be on a tick)."""
_DIVISION: Final = Context(prec=80)


class UnitError(ValueError):
    """A decimal value the instrument cannot represent; `reason` says why."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@lru_cache(maxsize=1024)
def _decimal(text: str) -> Decimal:
    return Decimal(text)


def to_ticks(price: Decimal | str, instrument: InstrumentView) -> Price:
    """A positive price as ticks; UnitError(invalid_tick) when it is not on a tick.

    A string is a decimal as the API admits it: digits, then optionally a point and
    more digits (see `DecimalString`).
    """
    return Price(
        _convert(
            price,
            instrument.tick_size,
            "price",
            RejectReason.INVALID_TICK,
            RejectReason.PRICE_OUT_OF_BAND,
        )
    )


def to_lots(quantity: Decimal | str, instrument: InstrumentView) -> Quantity:
    """A positive quantity as lots; UnitError(invalid_lot) when it is not whole lots."""
    return Quantity(
        _convert(
            quantity,
            instrument.lot_size,
            "quantity",
            RejectReason.INVALID_LOT,
            RejectReason.QUANTITY_OUT_OF_RANGE,
        )
    )


def _convert(
    value: Decimal | str, unit: str, name: str, off_unit: RejectReason, too_large: RejectReason
) -> int:
    if isinstance(value, str):
        return _text_to_units(value, unit, name, off_unit, too_large)
    return _to_units(value, _decimal(unit), name, off_unit, too_large)


def _text_to_units(
    text: str, unit: str, name: str, off_unit: RejectReason, too_large: RejectReason
) -> int:
    """`_to_units` for a plain decimal string, in integers: every order converts two."""
    whole, point, fraction = text.partition(".")
    if not (text.isascii() and whole.isdigit() and (fraction.isdigit() or not point)):
        raise ValueError(f"not a plain decimal: {text!r}")
    scaled = int(whole + fraction)  # the value times 10**len(fraction)
    if scaled <= 0:
        raise UnitError(RejectReason.INVALID_ORDER, f"the {name} must be positive")
    coefficient, decimals = _unit_digits(unit)
    # value / unit = (scaled / 10**len(fraction)) / (coefficient / 10**decimals)
    numerator: int = scaled * 10**decimals
    denominator: int = coefficient * 10 ** len(fraction)
    units, remainder = divmod(numerator, denominator)
    if remainder:
        raise UnitError(off_unit, f"the {name} must be a multiple of {_decimal(unit)}")
    if units > MAX_UNITS:
        raise UnitError(too_large, f"the {name} is too large")
    return units


def _to_units(
    value: Decimal, unit: Decimal, name: str, off_unit: RejectReason, too_large: RejectReason
) -> int:
    if value <= 0:
        raise UnitError(RejectReason.INVALID_ORDER, f"the {name} must be positive")
    try:
        # The default context's 28 digits cannot divide every value the API admits.
        with localcontext(_DIVISION):
            units = to_units(value, unit)
    except NotAMultipleError:
        raise UnitError(off_unit, f"the {name} must be a multiple of {unit}") from None
    if units > MAX_UNITS:
        raise UnitError(too_large, f"the {name} is too large")
    return units


def format_price(ticks: Price, instrument: InstrumentView) -> str:
    return _format(ticks, *_unit_digits(instrument.tick_size))


def format_quantity(lots: Quantity, instrument: InstrumentView) -> str:
    return _format(lots, *_unit_digits(instrument.lot_size))


def format_amount(units: Amount, scale: int) -> str:
    """An amount in minor units of an asset with `scale` decimal places."""
    if scale >= 0:
        return _format(units, 1, scale)
    return _format(units, 10**-scale, 0)


@lru_cache(maxsize=1024)
def _unit_digits(unit: str) -> tuple[int, int]:
    """A unit as (coefficient, decimals): unit = coefficient / 10**decimals, decimals >= 0."""
    _sign, digits, exponent = _decimal(unit).as_tuple()
    if not isinstance(exponent, int):
        raise TypeError("the unit must be a finite decimal")
    coefficient = int("".join(map(str, digits)))
    if exponent >= 0:
        return coefficient * 10**exponent, 0
    return coefficient, -exponent


def _format(units: int, coefficient: int, decimals: int) -> str:
    """`units` of coefficient / 10**decimals as a plain decimal with exactly `decimals` places.

    The same text as shared.money.format_units, in integers: formatting runs for every
    price and quantity of every order the API returns.
    """
    value = units * coefficient
    if not decimals:
        return str(value)
    whole, fraction = divmod(-value if value < 0 else value, 10**decimals)
    return f"{'-' if value < 0 else ''}{whole}.{fraction:0{decimals}d}"


def average_price(
    filled_amount: Amount, filled_lots: Quantity, instrument: InstrumentView
) -> str | None:
    """The volume-weighted price of the fills, or None before the first fill.

    `filled_amount` is in minor units of the quote asset; the answer is in quote per
    unit of base, like a price, with up to AVERAGE_PRICE_EXTRA_DIGITS more decimals
    than the tick size and no trailing zeros beyond it.
    """
    if filled_lots <= 0:
        return None
    tick_exponent = min(_exponent(_decimal(instrument.tick_size)), 0)
    # Wide enough for every step: the default context's 28 digits rounded large fills
    # and could not quantize a large average to the tick's extra digits at all.
    with localcontext(EXACT):
        amount = Decimal(filled_amount).scaleb(-instrument.quote_scale)
        base = Decimal(filled_lots) * _decimal(instrument.lot_size)
        rounded = (amount / base).quantize(
            Decimal(1).scaleb(tick_exponent - AVERAGE_PRICE_EXTRA_DIGITS)
        )
        trimmed = rounded.normalize()
        if _exponent(trimmed) > tick_exponent:
            trimmed = trimmed.quantize(Decimal(1).scaleb(tick_exponent))
    return f"{trimmed:f}"


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):  # only NaN and infinities have a letter for an exponent
        raise TypeError("not a finite decimal")
    return exponent


def format_timestamp(nanoseconds: Timestamp) -> str:
    """RFC 3339 in UTC with nanoseconds, e.g. 2024-01-02T03:04:05.678901234Z.

    Nanoseconds, as the core stamps commands: two commands a microsecond apart, or
    less, still read in their order.
    """
    seconds, rest = divmod(nanoseconds, 1_000_000_000)
    return f"{_second(seconds)}.{rest:09d}Z"


@lru_cache(maxsize=256)
def _second(seconds: int) -> str:
    # A burst of commands shares its seconds.
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
