"""Splitting an order into many fills never makes its fees cheaper, whatever the instrument.

An order's fees after each fill are its fills' exact fee total rounded up, with what
one fill paid ahead carried to the next; so fills of one role, however split, pay
exactly what one fill of the whole quantity pays (`ceil(notional x bps / 10,000)`).
"""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from openbell.contracts.commands import DefineAsset, Deposit, OpenAccount
from openbell.contracts.results import OrderView, Outcome
from openbell.core.domain.verification import verify
from openbell.shared.ids import Symbol

from builders import Market, listing, trades

SYMBOL = "XQ"
BPS = 10_000

# (base scale, lot size, quote scale, tick size): tick x lot and lot are whole minor units.
units = st.sampled_from(
    [
        (0, "1", 2, "0.01"),
        (0, "1", 2, "0.05"),
        (3, "0.1", 2, "0.5"),
        (8, "0.0001", 6, "0.01"),
        (8, "0.001", 2, "10"),
    ]
)
instruments = st.fixed_dictionaries(
    {
        "units": units,
        "price": st.integers(1, 200_000),
        "maker_fee_bps": st.integers(0, 9_999),
        "taker_fee_bps": st.integers(0, 9_999),
    }
)
splits = st.lists(st.integers(1, 60), min_size=1, max_size=12)


def market_for(instrument: dict[str, Any]) -> tuple[Market, int]:
    """A market listing XQ with a zero-width band, and its quote minor units per tick x lot."""
    base_scale, lot, quote_scale, tick = instrument["units"]
    market = Market()
    market.run(DefineAsset("XB", base_scale))
    market.run(DefineAsset("XU", quote_scale))
    market.run(
        listing(
            symbol=SYMBOL,
            base_asset="XB",
            quote_asset="XU",
            tick_size=tick,
            lot_size=lot,
            max_quantity=1_000,
            reference_price=instrument["price"],
            price_band_bps=0,
            maker_fee_bps=instrument["maker_fee_bps"],
            taker_fee_bps=instrument["taker_fee_bps"],
        )
    )
    quote_per_tick_lot = market.exchange.markets[Symbol(SYMBOL)].instrument.quote_per_tick_lot
    return market, quote_per_tick_lot


def funded(market: Market, quantity: int) -> int:
    """An account that can buy or sell twice `quantity` at any price with any fee."""
    instrument = market.exchange.markets[Symbol(SYMBOL)].instrument
    account: int = market.run(OpenAccount()).result.account_id  # type: ignore[union-attr]
    quote = 2 * instrument.buy_cost(instrument.band_high, quantity)
    base = 2 * quantity * instrument.base_per_lot
    market.run(Deposit(account, "XU", quote, f"XU-{account}"))
    market.run(Deposit(account, "XB", base, f"XB-{account}"))
    return account


def placed(market: Market, account: int, side: str, quantity: int, price: int) -> Outcome:
    outcome = market.place(account, side, quantity, price, symbol=SYMBOL)
    assert isinstance(outcome.result, OrderView), outcome.result
    return outcome


def fees(outcomes: list[Outcome]) -> tuple[int, int]:
    fills = [trade for outcome in outcomes for trade in trades(outcome.events)]
    return sum(t.maker_fee for t in fills), sum(t.taker_fee for t in fills)


def one_fill(instrument: dict[str, Any], quantity: int) -> tuple[int, int]:
    """The maker and taker fees of a single fill of `quantity`."""
    market, _ = market_for(instrument)
    seller, buyer = funded(market, quantity), funded(market, quantity)
    placed(market, seller, "sell", quantity, instrument["price"])
    return fees([placed(market, buyer, "buy", quantity, instrument["price"])])


def ceil_fee(notional: int, bps: int) -> int:
    return -(-notional * bps // BPS)


@settings(max_examples=200, deadline=None)
@given(instruments, splits, st.booleans())
def test_a_maker_filled_in_parts_pays_what_one_fill_would(instrument, parts, maker_buys):
    market, per_tick_lot = market_for(instrument)
    price, total = instrument["price"], sum(parts)
    maker, taker = funded(market, total), funded(market, total)
    maker_side, taker_side = ("buy", "sell") if maker_buys else ("sell", "buy")
    placed(market, maker, maker_side, total, price)
    fills = [placed(market, taker, taker_side, part, price) for part in parts]
    assert verify(market.exchange).ok
    whole = one_fill(instrument, total)[0]
    assert (
        fees(fills)[0]
        == whole
        == ceil_fee(price * total * per_tick_lot, instrument["maker_fee_bps"])
    )


@settings(max_examples=200, deadline=None)
@given(instruments, splits, st.booleans())
def test_a_taker_sweeping_many_orders_pays_what_one_fill_would(instrument, parts, taker_buys):
    market, per_tick_lot = market_for(instrument)
    price, total = instrument["price"], sum(parts)
    maker, taker = funded(market, total), funded(market, total)
    maker_side, taker_side = ("sell", "buy") if taker_buys else ("buy", "sell")
    for part in parts:
        placed(market, maker, maker_side, part, price)
    sweep = placed(market, taker, taker_side, total, price)
    assert verify(market.exchange).ok
    whole = one_fill(instrument, total)[1]
    assert (
        fees([sweep])[1]
        == whole
        == ceil_fee(price * total * per_tick_lot, instrument["taker_fee_bps"])
    )
