"""Invariants that hold after any sequence of commands, whatever hypothesis throws at them."""

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openbell.contracts.commands import CancelAllOrders, CancelOrder
from openbell.contracts.enums import OrderStatus
from openbell.contracts.results import DuplicateOrder, OrdersCancelled, OrderView, Rejected
from openbell.core.domain.exchange import Exchange
from openbell.core.domain.state import export_state, restore_state, state_hash
from openbell.core.domain.verification import verify

from builders import Market

TRADERS = 4

place = st.tuples(
    st.just("place"),
    st.integers(0, TRADERS - 1),
    st.sampled_from(["buy", "sell"]),
    st.integers(1, 40),
    st.one_of(st.none(), st.integers(-60, 60)),
    st.sampled_from(["GTC", "GTC", "IOC", "FOK"]),
    st.booleans(),
    st.sampled_from(["cancel_taker", "cancel_maker", "cancel_both"]),
    st.integers(0, 6),
)
cancel = st.tuples(st.just("cancel"), st.integers(0, 10_000))
amend = st.tuples(
    st.just("amend"),
    st.integers(0, 10_000),
    st.one_of(st.none(), st.integers(1, 40)),
    st.one_of(st.none(), st.integers(-60, 60)),
)
cancel_all = st.tuples(st.just("cancel_all"), st.integers(0, TRADERS - 1), st.booleans())
steps = st.lists(st.one_of(place, place, cancel, amend, cancel_all), min_size=1, max_size=80)


def run(market: Market, traders: list[int], step: tuple[Any, ...]) -> object:
    kind = step[0]
    orders = sorted(market.exchange.open_orders)
    if kind == "place":
        _, who, side, quantity, offset, tif, post_only, stp, client_id = step
        price = None if offset is None else 10_000 + offset * 5
        if price is None and tif == "GTC":
            tif = "IOC"
        return market.place(
            traders[who],
            side,
            quantity,
            price,
            tif=tif,
            post_only=post_only and price is not None and tif == "GTC",
            stp=stp,
            client_order_id=f"k{client_id}",
        ).result
    if kind == "cancel_all":
        _, who, of_symbol = step
        return market.run(CancelAllOrders(traders[who], "ACME" if of_symbol else None)).result
    if not orders:
        return None
    order = market.exchange.open_orders[orders[step[1] % len(orders)]]
    if kind == "cancel":
        return market.run(CancelOrder(order.account_id, order.order_id)).result
    _, _, quantity, offset = step
    price = None if offset is None else 10_000 + offset * 5
    return market.amend(order.account_id, order.order_id, quantity, price).result


def check_invariants(market: Market, result: object) -> None:
    report = verify(market.exchange)
    assert report.ok, report.problems
    assert all(total == 0 for total in report.totals.values())
    for order in market.exchange.open_orders.values():
        assert order.remaining > 0
        assert order.filled + order.remaining == order.quantity
    if isinstance(result, OrdersCancelled):
        assert all(market.exchange.open_order(order.order_id) is None for order in result.orders)
    if isinstance(result, OrderView):
        assert 0 <= result.filled_quantity <= result.quantity
    if isinstance(result, DuplicateOrder) and result.order is not None:
        assert result.order.order_id == result.order_id
    if isinstance(result, Rejected) and result.order is not None:
        if result.order.status is OrderStatus.REJECTED:
            assert result.order.filled_quantity == 0
        else:  # a refused amendment reports the order unchanged
            assert market.exchange.open_order(result.order.order_id) == result.order


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_books_never_cross_money_always_balances_and_fills_never_exceed_orders(program):
    market = Market()
    traders = [market.trader(usd=5_000_000, shares=300) for _ in range(TRADERS)]
    for step in program:
        check_invariants(market, run(market, traders, step))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.integers(0, 100))
def test_replaying_the_log_reproduces_the_state_hash_even_from_a_snapshot(program, cut):
    market = Market()
    traders = [market.trader(usd=5_000_000, shares=300) for _ in range(TRADERS)]
    for step in program:
        run(market, traders, step)
    expected = state_hash(market.exchange)

    replayed = Exchange()
    for sequence, timestamp, command in market.log:
        replayed.apply(command, sequence, timestamp)
    assert state_hash(replayed) == expected

    cut = min(cut, len(market.log))
    partial = Exchange()
    for sequence, timestamp, command in market.log[:cut]:
        partial.apply(command, sequence, timestamp)
    resumed = restore_state(export_state(partial))
    for sequence, timestamp, command in market.log[cut:]:
        resumed.apply(command, sequence, timestamp)
    assert state_hash(resumed) == expected
    assert verify(resumed).ok
