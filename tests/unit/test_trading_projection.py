"""The read model's projection: the core's events in, orders and fills out, matching the core."""

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openbell.contracts.commands import AmendOrder, CancelOrder
from openbell.contracts.enums import Liquidity, OrderStatus, Side
from openbell.contracts.results import OrderView, Outcome, Rejected
from openbell.trading.domain.orders import (
    Fill,
    Order,
    ProjectionChanges,
    order_from_view,
    project,
    referenced_order_ids,
)

from builders import MAKER_FEE_BPS, TAKER_FEE_BPS, Market

if TYPE_CHECKING:
    from openbell.shared.ids import OrderId


class Projection:
    """The pure projection driven outcome by outcome, keeping what it produced."""

    def __init__(self) -> None:
        self.orders: dict[int, Order] = {}
        self.fills: list[Fill] = []

    def apply(self, *outcomes: Outcome) -> ProjectionChanges:
        needed = referenced_order_ids(outcomes)
        changes = project(outcomes, {i: self.orders[i] for i in needed if i in self.orders})
        assert not changes.unknown_orders
        self.orders.update(changes.created)
        self.orders.update(changes.updated)
        self.fills.extend(changes.fills)
        return changes


def as_core_reports(order: Order, view: OrderView, sequence: int) -> None:
    """The projected order is the core's view of it, as of `sequence`.

    The core's view knows the current price only; the projection keeps the price
    the order was placed with too.
    """
    assert replace(order, original_price=view.price) == order_from_view(view, sequence)


def view_of(outcome: Outcome) -> OrderView:
    result = outcome.result
    if isinstance(result, Rejected):
        assert result.order is not None
        return result.order
    assert isinstance(result, OrderView), result
    return result


def test_an_accepted_order_that_rests_is_new():
    market, projection = Market(), Projection()
    trader = market.trader()
    outcome = market.place(trader, "buy", 10, 9_990)
    projection.apply(outcome)
    order = projection.orders[view_of(outcome).order_id]
    assert order.status is OrderStatus.NEW
    assert (order.price, order.quantity, order.filled_quantity) == (9_990, 10, 0)
    assert order.created_at == order.updated_at == outcome.timestamp


def test_fills_move_both_orders_through_partially_filled_to_filled():
    market, projection = Market(), Projection()
    seller, buyer = market.trader(), market.trader()
    resting = market.place(seller, "sell", 10, 10_010)
    first = market.place(buyer, "buy", 4, 10_010)
    projection.apply(resting, first)
    maker = projection.orders[view_of(resting).order_id]
    assert maker.status is OrderStatus.PARTIALLY_FILLED
    assert maker.filled_quantity == 4
    assert projection.orders[view_of(first).order_id].status is OrderStatus.FILLED
    second = market.place(buyer, "buy", 6, 10_050)
    projection.apply(second)
    maker = projection.orders[view_of(resting).order_id]
    assert maker.status is OrderStatus.FILLED
    assert maker.filled_quantity == 10
    assert maker.filled_amount == 10 * 10_010
    assert maker.fees_paid == -(-10 * 10_010 * MAKER_FEE_BPS // 10_000)  # rounded up
    assert maker.updated_at == second.timestamp


def test_a_trade_yields_one_fill_per_side_with_its_own_fee_and_liquidity():
    market, projection = Market(), Projection()
    seller, buyer = market.trader(), market.trader()
    resting = market.place(seller, "sell", 5, 10_000)
    taking = market.place(buyer, "buy", 5, 10_000)
    changes = projection.apply(resting, taking)
    maker, taker = sorted(changes.fills, key=lambda fill: fill.liquidity.value)
    assert (maker.liquidity, maker.side, maker.account_id) == (Liquidity.MAKER, Side.SELL, seller)
    assert (taker.liquidity, taker.side, taker.account_id) == (Liquidity.TAKER, Side.BUY, buyer)
    assert maker.trade_id == taker.trade_id
    assert (maker.order_id, taker.order_id) == (view_of(resting).order_id, view_of(taking).order_id)
    assert maker.fee == 5 * 10_000 * MAKER_FEE_BPS // 10_000
    assert taker.fee == 5 * 10_000 * TAKER_FEE_BPS // 10_000
    assert maker.executed_at == taker.executed_at == taking.timestamp
    assert maker.sequence == taking.sequence


def test_an_ioc_remainder_is_cancelled_with_its_fills_kept():
    market, projection = Market(), Projection()
    seller, buyer = market.trader(), market.trader()
    resting = market.place(seller, "sell", 3, 10_000)
    ioc = market.place(buyer, "buy", 10, 10_000, tif="IOC")
    projection.apply(resting, ioc)
    order = projection.orders[view_of(ioc).order_id]
    assert order.status is OrderStatus.CANCELLED
    assert order.reason == "unfilled_ioc"
    assert order.filled_quantity == 3


def test_a_cancelled_order_is_cancelled_with_the_reason():
    market, projection = Market(), Projection()
    trader = market.trader()
    placed = market.place(trader, "buy", 10, 9_990)
    cancelled = market.cancel(trader, view_of(placed).order_id)
    projection.apply(placed)
    projection.apply(cancelled)
    order = projection.orders[view_of(placed).order_id]
    assert order.status is OrderStatus.CANCELLED
    assert order.reason == "requested"
    assert order.updated_at == cancelled.timestamp


def test_an_amendment_changes_price_and_total_quantity_but_not_the_fills():
    market, projection = Market(), Projection()
    seller, buyer = market.trader(), market.trader()
    resting = market.place(seller, "sell", 10, 10_010)
    partial = market.place(buyer, "buy", 4, 10_010)
    amended = market.run(AmendOrder(seller, view_of(resting).order_id, 8, 10_020))
    projection.apply(resting, partial, amended)
    order = projection.orders[view_of(resting).order_id]
    assert (order.price, order.quantity, order.filled_quantity) == (10_020, 8, 4)
    assert order.status is OrderStatus.PARTIALLY_FILLED
    as_core_reports(order, view_of(amended), amended.sequence)
    assert (order.original_price, order.original_quantity) == (10_010, 10)
    assert order.sequence == amended.sequence


def test_a_rejected_order_is_stored_rejected_with_its_reason():
    market, projection = Market(), Projection()
    trader = market.trader(usd=0)
    outcome = market.place(trader, "buy", 10, 10_000)
    projection.apply(outcome)
    order = projection.orders[view_of(outcome).order_id]
    assert order.status is OrderStatus.REJECTED
    assert order.reason == "insufficient_funds"
    as_core_reports(order, view_of(outcome), outcome.sequence)


def test_orders_made_and_changed_in_one_batch_are_created_not_updated():
    market, projection = Market(), Projection()
    trader = market.trader()
    placed = market.place(trader, "buy", 10, 9_990)
    cancelled = market.run(CancelOrder(trader, view_of(placed).order_id))
    changes = projection.apply(placed, cancelled)
    assert list(changes.created) == [view_of(placed).order_id]
    assert not changes.updated
    assert changes.created[view_of(placed).order_id].status is OrderStatus.CANCELLED


def test_orders_the_store_does_not_hold_are_reported_not_invented():
    market = Market()
    trader = market.trader()
    placed = market.place(trader, "buy", 10, 9_990)
    cancelled = market.cancel(trader, view_of(placed).order_id)
    changes = project([cancelled], {})
    assert changes.unknown_orders == {view_of(placed).order_id}
    assert changes.empty


def test_loading_is_asked_only_for_orders_the_batch_did_not_create():
    market = Market()
    seller, buyer = market.trader(), market.trader()
    resting = market.place(seller, "sell", 10, 10_000)
    taking = market.place(buyer, "buy", 10, 10_000)
    assert referenced_order_ids([taking]) == {view_of(resting).order_id}
    assert referenced_order_ids([resting, taking]) == set()


# --- the projection agrees with the core whatever the command stream --------------

TRADERS = 3
place = st.tuples(
    st.just("place"),
    st.integers(0, TRADERS - 1),
    st.sampled_from(["buy", "sell"]),
    st.integers(1, 30),
    st.one_of(st.none(), st.integers(-40, 40)),
    st.sampled_from(["GTC", "GTC", "IOC", "FOK"]),
    st.booleans(),
    st.sampled_from(["cancel_taker", "cancel_maker", "cancel_both"]),
)
cancel = st.tuples(st.just("cancel"), st.integers(0, 1_000))
amend = st.tuples(
    st.just("amend"),
    st.integers(0, 1_000),
    st.one_of(st.none(), st.integers(1, 30)),
    st.one_of(st.none(), st.integers(-40, 40)),
)
streams = st.lists(st.one_of(place, place, cancel, amend), min_size=1, max_size=60)


def step(market: Market, traders: list[int], action: tuple[Any, ...]) -> Outcome | None:
    if action[0] == "place":
        _, who, side, quantity, offset, tif, post_only, stp = action
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
        )
    open_ids = sorted(market.exchange.open_orders)
    if not open_ids:
        return None
    order = market.exchange.open_orders[open_ids[action[1] % len(open_ids)]]
    if action[0] == "cancel":
        return market.cancel(order.account_id, order.order_id)
    _, _, quantity, offset = action
    price = None if offset is None else 10_000 + offset * 5
    return market.amend(order.account_id, order.order_id, quantity, price)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.integers(2, 6))
def test_the_projection_matches_every_order_the_core_reports(actions, chunk):
    market = Market()
    traders = [market.trader() for _ in range(TRADERS)]
    stepwise, chunked = Projection(), Projection()
    outcomes: list[Outcome] = []
    for action in actions:
        outcome = step(market, traders, action)
        if outcome is None:
            continue
        outcomes.append(outcome)
        stepwise.apply(outcome)
        view = outcome.result
        if isinstance(view, OrderView):
            as_core_reports(stepwise.orders[view.order_id], view, outcome.sequence)
    for start in range(0, len(outcomes), chunk):
        chunked.apply(*outcomes[start : start + chunk])
    assert chunked.orders == stepwise.orders
    assert chunked.fills == stepwise.fills
    for order_id in market.exchange.open_orders:
        open_view = market.exchange.open_order(order_id)
        assert open_view is not None
        projected = stepwise.orders[order_id]
        as_core_reports(projected, open_view, projected.sequence)
    for order in stepwise.orders.values():
        assert 0 <= order.filled_quantity <= order.quantity
        assert (order.status is OrderStatus.FILLED) == (order.filled_quantity == order.quantity)
        assert order.is_open == (order.order_id in market.exchange.open_orders)
    filled_per_order: dict[OrderId, int] = {}
    for fill in stepwise.fills:
        filled_per_order[fill.order_id] = filled_per_order.get(fill.order_id, 0) + fill.quantity
    for order_id, filled in filled_per_order.items():
        assert stepwise.orders[order_id].filled_quantity == filled
