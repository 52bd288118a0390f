"""Money is integers: prices in ticks, quantities in lots, amounts in minor units.

Decimal strings exist only at the edges; these helpers convert between the two
without ever passing through a float.
"""

from decimal import Context, Decimal, InvalidOperation, localcontext
from typing import NewType

Price = NewType("Price", int)
"""A price in ticks of the instrument's tick size."""
Quantity = NewType("Quantity", int)
"""A quantity in lots of the instrument's lot size."""
Amount = NewType("Amount", int)
"""An amount of an asset in its minor units (cents, shares, satoshis)."""


class NotAMultipleError(ValueError):
    """The decimal value is not a whole number of units."""


def parse_decimal(text: str) -> Decimal:
    """Parse a finite decimal string; reject NaN, infinities and exponents beyond reason."""
    try:
        value = Decimal(text)
    except InvalidOperation as error:
        raise ValueError("not a decimal number") from error
    if not value.is_finite():
        raise ValueError("not a finite decimal number")
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or abs(exponent) > 36 or value.adjusted() > 36:
        raise ValueError("decimal out of range")
    return value


EXACT = Context(prec=120, Emax=999, Emin=-999)
"""Wide enough for any value `parse_decimal` accepts, so division never rounds."""


def to_units(value: Decimal, unit: Decimal) -> int:
    """Return how many `unit`s make `value`; raise NotAMultipleError if not a whole number."""
    with localcontext(EXACT):
        units, remainder = divmod(value, unit)
    if remainder != 0:
        raise NotAMultipleError(f"{value} is not a multiple of {unit}")
    return int(units)


def from_units(units: int, unit: Decimal) -> Decimal:
    """Return the decimal value of `units` times `unit`, normalised to the unit's exponent."""
    exponent = unit.as_tuple().exponent
    if not isinstance(exponent, int):
        raise TypeError("the unit must be a finite decimal")
    with localcontext(EXACT):
        return (units * unit).quantize(Decimal(1).scaleb(min(exponent, 0)))


def format_units(units: int, unit: Decimal) -> str:
    """Format `units` of `unit` as a plain decimal string (no exponent)."""
    return f"{from_units(units, unit):f}"


def minor_unit(scale: int) -> Decimal:
    """The minor unit of an asset with `scale` decimal places (2 -> 0.01)."""
    return Decimal(1).scaleb(-scale)
