"""Decimal strings at the edge to ticks and lots inside, and back, without rounding."""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openbell.contracts.enums import InstrumentStatus, RejectReason
from openbell.contracts.results import InstrumentView
from openbell.shared.money import format_units, minor_unit
from openbell.trading.domain.units import (
    MAX_UNITS,
    UnitError,
    average_price,
    format_amount,
    format_price,
    format_quantity,
    format_timestamp,
    to_lots,
    to_ticks,
)


def instrument(tick: str = "0.01", lot: str = "0.001", quote_scale: int = 2) -> InstrumentView:
    return InstrumentView(
        "BTC-USD",
        "BTC",
        "USD",
        8,
        quote_scale,
        tick,
        lot,
        1,
        1_000_000,
        3_000_000,
        1_000,
        10,
        20,
        InstrumentStatus.TRADING,
    )


def test_a_price_on_the_tick_becomes_a_whole_number_of_ticks():
    assert to_ticks(Decimal("30000.25"), instrument()) == 3_000_025
    assert to_ticks(Decimal("30000.2500"), instrument()) == 3_000_025


def test_a_price_between_ticks_is_refused_as_invalid_tick():
    with pytest.raises(UnitError) as caught:
        to_ticks(Decimal("30000.255"), instrument())
    assert caught.value.reason is RejectReason.INVALID_TICK


def test_a_quantity_between_lots_is_refused_as_invalid_lot():
    assert to_lots(Decimal("1.5"), instrument()) == 1_500
    with pytest.raises(UnitError) as caught:
        to_lots(Decimal("0.0005"), instrument())
    assert caught.value.reason is RejectReason.INVALID_LOT


def test_values_larger_than_the_read_model_can_store_are_out_of_range():
    with pytest.raises(UnitError) as caught:
        to_ticks(Decimal(MAX_UNITS + 1) / 100, instrument())
    assert caught.value.reason is RejectReason.PRICE_OUT_OF_BAND
    with pytest.raises(UnitError) as caught:
        to_lots(Decimal(MAX_UNITS + 1), instrument(lot="1"))
    assert caught.value.reason is RejectReason.QUANTITY_OUT_OF_RANGE


@pytest.mark.parametrize("value", ["0", "-1", "0.000"])
def test_non_positive_values_are_refused(value):
    with pytest.raises(UnitError):
        to_lots(Decimal(value), instrument())


def test_values_format_at_the_unit_exponent_without_an_exponent():
    assert format_price(3_000_025, instrument()) == "30000.25"
    assert format_quantity(1, instrument()) == "0.001"
    assert format_quantity(2_000, instrument(lot="1")) == "2000"
    assert format_amount(5, 8) == "0.00000005"
    assert format_amount(-150, 2) == "-1.50"


def test_the_average_price_weighs_fills_by_quantity():
    # 1 lot at 100.00 and 2 lots at 100.03 (lot 1, quote in cents): 30_006 cents / 3 units.
    market = instrument(lot="1")
    assert average_price(10_000 + 2 * 10_003, 3, market) == "100.02"


def test_an_average_between_ticks_keeps_extra_digits_and_drops_trailing_zeros():
    market = instrument(lot="1")
    assert average_price(10_000 + 10_001, 2, market) == "100.005"
    assert (
        average_price(10_000 + 10_000 + 10_001, 3, market) == "100.0033333333"
    )  # eight digits past the tick


def test_an_order_without_fills_has_no_average_price():
    assert average_price(0, 0, instrument()) is None


def test_timestamps_are_rfc_3339_utc_with_nanoseconds():
    assert format_timestamp(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert format_timestamp(0) == "1970-01-01T00:00:00.000000000Z"


def test_the_longest_values_the_api_admits_convert_without_a_decimal_error():
    longest = Decimal("9" * 30 + "." + "9" * 30)
    with pytest.raises(UnitError) as caught:
        to_lots(longest, instrument())
    assert caught.value.reason is RejectReason.INVALID_LOT
    with pytest.raises(UnitError) as caught:
        to_lots(Decimal("9" * 30), instrument())
    assert caught.value.reason is RejectReason.QUANTITY_OUT_OF_RANGE


units = st.integers(min_value=-(2**64), max_value=2**64)
unit_texts = st.sampled_from(
    ["0.01", "0.05", "0.10", "0.25", "1", "5", "10", "25", "1E+1", "2.5E+2", "0.001", "1E-12"]
)


@given(units, unit_texts)
def test_prices_and_quantities_format_as_the_decimal_reference_does(count, unit):
    market = instrument(tick=unit, lot=unit)
    expected = format_units(count, Decimal(unit))
    assert format_price(count, market) == expected
    assert format_quantity(count, market) == expected


@given(units, st.integers(min_value=-4, max_value=18))
def test_amounts_format_as_the_decimal_reference_does(count, scale):
    assert format_amount(count, scale) == format_units(count, minor_unit(scale))


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_timestamps_format_as_datetime_does(nanoseconds):
    seconds, rest = divmod(nanoseconds, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    assert format_timestamp(nanoseconds) == moment.strftime(f"%Y-%m-%dT%H:%M:%S.{rest:09d}Z")


api_decimals = st.from_regex(r"\A[0-9]{1,30}(\.[0-9]{1,30})?\Z")


def conversion(convert: Callable[..., int], value, market) -> int | tuple[RejectReason, str]:
    try:
        return convert(value, market)
    except UnitError as error:
        return error.reason, str(error)


@given(api_decimals, unit_texts)
def test_decimal_strings_convert_as_their_decimals_do(text, unit):
    market = instrument(tick=unit, lot=unit)
    for convert in (to_ticks, to_lots):
        assert conversion(convert, text, market) == conversion(convert, Decimal(text), market)


@pytest.mark.parametrize("text", ["", "1.", ".5", "-1", "+1", " 1", "1_0", "1e3", "١٢"])
def test_strings_that_are_not_plain_decimals_are_refused(text):
    with pytest.raises(ValueError, match="not a plain decimal"):
        to_ticks(text, instrument())


def test_the_average_of_the_largest_fills_is_exact():
    market = instrument(tick="0.1", lot="0.001")
    assert average_price(10**18, 1, market) == "10000000000000000000.0"
    assert (
        average_price(2**63 - 1, 3, instrument(tick="0.01", lot="1"))
        == "30744573456182586.0233333333"
    )
