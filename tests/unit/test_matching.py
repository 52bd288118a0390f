"""Matching rules: price-time priority, order types, time in force, amend, cancel, halts."""

from openbell.contracts.commands import (
    CancelAllOrders,
    DefineAsset,
    Deposit,
    HaltMarket,
    ResumeMarket,
    SetReferencePrice,
)
from openbell.contracts.enums import CancelReason, OrderStatus, RejectReason
from openbell.contracts.events import OrderAccepted, OrderAmended, OrderCancelled, OrderRejected
from openbell.contracts.results import DuplicateOrder, OrdersCancelled, OrderView, Rejected
from openbell.core.domain.verification import verify

from builders import Market, listing, trades


def order_of(outcome) -> OrderView:
    assert isinstance(outcome.result, OrderView), outcome.result
    return outcome.result


def rejection_of(outcome) -> RejectReason:
    assert isinstance(outcome.result, Rejected), outcome.result
    return outcome.result.reason


def test_a_buy_that_crosses_trades_at_the_resting_price():
    market = Market()
    seller, buyer = market.trader(), market.trader()
    market.place(seller, "sell", 10, 10_010)
    outcome = market.place(buyer, "buy", 10, 10_050)
    [trade] = trades(outcome.events)
    assert (trade.price, trade.quantity) == (10_010, 10)
    assert order_of(outcome).status is OrderStatus.FILLED


def test_the_oldest_order_at_the_best_price_fills_first():
    market = Market()
    first, second, buyer = market.trader(), market.trader(), market.trader()
    older = order_of(market.place(first, "sell", 5, 10_010))
    market.place(second, "sell", 5, 10_010)
    [trade] = trades(market.place(buyer, "buy", 5, 10_010).events)
    assert trade.maker_order_id == older.order_id


def test_a_better_price_fills_before_an_older_worse_one():
    market = Market()
    early, late, buyer = market.trader(), market.trader(), market.trader()
    market.place(early, "sell", 5, 10_020)
    better = order_of(market.place(late, "sell", 5, 10_010))
    [trade] = trades(market.place(buyer, "buy", 5, 10_020).events)
    assert (trade.maker_order_id, trade.price) == (better.order_id, 10_010)


def test_a_sweep_walks_levels_best_first_and_rests_the_rest():
    market = Market()
    seller, buyer = market.trader(), market.trader()
    market.place(seller, "sell", 3, 10_010)
    market.place(seller, "sell", 4, 10_020)
    market.place(seller, "sell", 5, 10_030)
    outcome = market.place(buyer, "buy", 10, 10_020)
    assert [(t.price, t.quantity) for t in trades(outcome.events)] == [(10_010, 3), (10_020, 4)]
    order = order_of(outcome)
    assert (order.status, order.filled_quantity) == (OrderStatus.PARTIALLY_FILLED, 7)
    assert market.book() == ([(10_020, 3)], [(10_030, 5)])


def test_a_limit_order_never_trades_beyond_its_price():
    market = Market()
    seller, buyer = market.trader(), market.trader()
    market.place(seller, "sell", 5, 10_030)
    outcome = market.place(buyer, "buy", 5, 10_020)
    assert trades(outcome.events) == []
    assert market.book() == ([(10_020, 5)], [(10_030, 5)])


def test_an_ioc_remainder_is_cancelled_not_rested():
    market = Market()
    seller, buyer = market.trader(), market.trader()
    market.place(seller, "sell", 3, 10_010)
    outcome = market.place(buyer, "buy", 10, 10_010, tif="IOC")
    order = order_of(outcome)
    assert (order.status, order.filled_quantity) == (OrderStatus.CANCELLED, 3)
    assert order.reason == CancelReason.UNFILLED_IOC
    assert market.book() == ([], [])
    assert market.balance(buyer, "USD")[1] == 0


def test_an_unfillable_fok_is_accepted_then_cancelled_whole_and_trades_nothing():
    market = Market()
    seller, buyer = market.trader(), market.trader()
    market.place(seller, "sell", 3, 10_010)
    before = market.balance(buyer, "USD")
    outcome = market.place(buyer, "buy", 4, 10_010, tif="FOK")
    order = order_of(outcome)
    assert (order.status, order.filled_quantity) == (OrderStatus.CANCELLED, 0)
    assert order.reason == CancelReason.UNFILLED_FOK
    assert [type(e) for e in outcome.events] == [OrderAccepted, OrderCancelled]
    assert isinstance(outcome.events[1], OrderCancelled)
    assert outcome.events[1].remaining_quantity == 4
    assert market.book() == ([], [(10_010, 3)])
    assert market.balance(buyer, "USD") == before
    assert verify(market.exchange).ok


def test_an_unfillable_fok_uses_up_its_client_order_id_as_an_unfilled_ioc_does():
    market = Market()
    buyer = market.trader()
    for tif in ("FOK", "IOC"):
        first = order_of(market.place(buyer, "buy", 4, 10_010, tif=tif, client_order_id=tif))
        again = market.place(buyer, "buy", 4, 10_010, tif=tif, client_order_id=tif)
        assert isinstance(again.result, DuplicateOrder)
        assert again.result.order_id == first.order_id
        assert again.events == []


def test_a_fillable_fok_fills_completely_across_levels():
    market = Market()
    seller, buyer = market.trader(), market.trader()
    market.place(seller, "sell", 3, 10_010)
    market.place(seller, "sell", 3, 10_020)
    order = order_of(market.place(buyer, "buy", 5, 10_020, tif="FOK"))
    assert (order.status, order.filled_quantity) == (OrderStatus.FILLED, 5)


def test_a_market_buy_never_fills_beyond_the_price_band():
    market = Market()
    seller, buyer = market.trader(), market.trader()
    market.place(seller, "sell", 2, 10_900)
    market.run(SetReferencePrice("ACME", 9_000))
    # the band is now 8,100..9,900: the ask at 10,900 lies outside it
    outcome = market.place(buyer, "buy", 2, tif="IOC")
    assert trades(outcome.events) == []
    assert order_of(outcome).status is OrderStatus.CANCELLED


def test_a_market_buy_holds_what_the_band_edge_would_cost():
    market = Market()
    seller = market.trader()
    buyer = market.trader(usd=1_102_200)
    market.place(seller, "sell", 100, 10_000)
    # 100 x 11,000 ticks (band high) + 0.2% fee = 1,102,200 cents: affordable
    order = order_of(market.place(buyer, "buy", 100, tif="IOC"))
    assert order.filled_quantity == 100
    poor = market.trader(usd=1_102_199)
    market.place(seller, "sell", 100, 10_000)
    assert (
        rejection_of(market.place(poor, "buy", 100, tif="IOC")) is RejectReason.INSUFFICIENT_FUNDS
    )


def test_a_market_order_must_not_be_good_till_cancelled():
    market = Market()
    buyer = market.trader()
    outcome = market.place(buyer, "buy", 1, tif="GTC", order_type="market")
    assert rejection_of(outcome) is RejectReason.INVALID_ORDER


def test_a_market_order_into_an_empty_book_is_cancelled_unfilled():
    market = Market()
    buyer = market.trader()
    order = order_of(market.place(buyer, "buy", 5, tif="IOC"))
    assert (order.status, order.filled_quantity, order.price) == (OrderStatus.CANCELLED, 0, None)
    assert market.balance(buyer, "USD")[1] == 0


def test_a_post_only_order_that_would_cross_is_rejected():
    market = Market()
    seller, buyer = market.trader(), market.trader()
    market.place(seller, "sell", 5, 10_010)
    outcome = market.place(buyer, "buy", 5, 10_010, post_only=True)
    assert rejection_of(outcome) is RejectReason.POST_ONLY_WOULD_CROSS
    assert market.book() == ([], [(10_010, 5)])


def test_a_post_only_order_that_does_not_cross_rests():
    market = Market()
    seller, buyer = market.trader(), market.trader()
    market.place(seller, "sell", 5, 10_010)
    order = order_of(market.place(buyer, "buy", 5, 10_000, post_only=True))
    assert order.status is OrderStatus.NEW
    assert market.book() == ([(10_000, 5)], [(10_010, 5)])


def test_self_trade_cancel_taker_keeps_the_resting_order():
    market = Market()
    trader = market.trader()
    resting = order_of(market.place(trader, "sell", 5, 10_010))
    outcome = market.place(trader, "buy", 5, 10_010, stp="cancel_taker")
    order = order_of(outcome)
    assert trades(outcome.events) == []
    assert (order.status, order.reason) == (OrderStatus.CANCELLED, CancelReason.SELF_TRADE)
    assert market.exchange.open_order(resting.order_id) is not None


def test_self_trade_cancel_maker_removes_the_resting_order_and_keeps_matching():
    market = Market()
    trader, other = market.trader(), market.trader()
    own = order_of(market.place(trader, "sell", 5, 10_010))
    market.place(other, "sell", 5, 10_010)
    outcome = market.place(trader, "buy", 5, 10_010, stp="cancel_maker")
    cancelled = [e for e in outcome.events if type(e) is OrderCancelled]
    assert [(e.order_id, e.reason) for e in cancelled] == [(own.order_id, CancelReason.SELF_TRADE)]
    assert [t.maker_account_id for t in trades(outcome.events)] == [other]
    assert order_of(outcome).status is OrderStatus.FILLED


def test_self_trade_cancel_both_cancels_both_sides():
    market = Market()
    trader = market.trader()
    own = order_of(market.place(trader, "sell", 5, 10_010))
    outcome = market.place(trader, "buy", 5, 10_010, stp="cancel_both")
    assert order_of(outcome).status is OrderStatus.CANCELLED
    assert market.exchange.open_order(own.order_id) is None
    assert market.book() == ([], [])
    assert market.balance(trader, "ACME") == (1_000, 0)


def test_cancelling_returns_the_hold_to_available():
    market = Market()
    buyer = market.trader(usd=1_000_000)
    order = order_of(market.place(buyer, "buy", 10, 10_000))
    assert market.balance(buyer, "USD") == (1_000_000 - 100_200, 100_200)
    cancelled = order_of(market.cancel(buyer, order.order_id))
    assert (cancelled.status, cancelled.reason) == (OrderStatus.CANCELLED, CancelReason.REQUESTED)
    assert market.balance(buyer, "USD") == (1_000_000, 0)
    assert market.book() == ([], [])


def test_nobody_can_cancel_or_amend_another_traders_order():
    market = Market()
    owner, intruder = market.trader(), market.trader()
    order = order_of(market.place(owner, "buy", 10, 10_000))
    assert rejection_of(market.cancel(intruder, order.order_id)) is RejectReason.UNKNOWN_ORDER
    assert rejection_of(market.amend(intruder, order.order_id, 5)) is RejectReason.UNKNOWN_ORDER
    assert market.exchange.open_order(order.order_id) is not None


def test_cancelling_a_finished_order_is_refused():
    market = Market()
    seller, buyer = market.trader(), market.trader()
    sold = order_of(market.place(seller, "sell", 5, 10_000))
    market.place(buyer, "buy", 5, 10_000)
    assert rejection_of(market.cancel(seller, sold.order_id)) is RejectReason.UNKNOWN_ORDER


def test_amend_to_lower_quantity_keeps_time_priority():
    market = Market()
    first, second, buyer = market.trader(), market.trader(), market.trader()
    older = order_of(market.place(first, "sell", 10, 10_010))
    market.place(second, "sell", 10, 10_010)
    amended = market.amend(first, older.order_id, quantity=4)
    assert [type(e) for e in amended.events] == [OrderAmended]
    assert isinstance(amended.events[0], OrderAmended)
    assert amended.events[0].priority_kept is True
    [trade] = trades(market.place(buyer, "buy", 4, 10_010).events)
    assert trade.maker_order_id == older.order_id
    assert market.balance(first, "ACME") == (1_000 - 4, 0)


def test_amend_to_higher_quantity_loses_time_priority():
    market = Market()
    first, second, buyer = market.trader(), market.trader(), market.trader()
    older = order_of(market.place(first, "sell", 5, 10_010))
    younger = order_of(market.place(second, "sell", 5, 10_010))
    market.amend(first, older.order_id, quantity=8)
    [trade] = trades(market.place(buyer, "buy", 5, 10_010).events)
    assert trade.maker_order_id == younger.order_id
    assert market.balance(first, "ACME") == (1_000 - 8, 8)


def test_amend_to_a_new_price_loses_time_priority():
    market = Market()
    first, second, buyer = market.trader(), market.trader(), market.trader()
    older = order_of(market.place(first, "sell", 5, 10_020))
    younger = order_of(market.place(second, "sell", 5, 10_010))
    market.amend(first, older.order_id, price=10_010)
    [trade] = trades(market.place(buyer, "buy", 5, 10_010).events)
    assert trade.maker_order_id == younger.order_id


def test_amend_to_a_crossing_price_trades_at_once():
    market = Market()
    seller, buyer = market.trader(), market.trader()
    market.place(seller, "sell", 5, 10_010)
    bid = order_of(market.place(buyer, "buy", 5, 10_000))
    outcome = market.amend(buyer, bid.order_id, price=10_010)
    [trade] = trades(outcome.events)
    assert (trade.taker_order_id, trade.price) == (bid.order_id, 10_010)
    assert order_of(outcome).status is OrderStatus.FILLED
    assert market.book() == ([], [])


def test_amend_moves_the_hold_with_the_price():
    market = Market()
    buyer = market.trader(usd=1_000_000)
    bid = order_of(market.place(buyer, "buy", 10, 10_000))
    market.amend(buyer, bid.order_id, price=9_000)
    assert market.balance(buyer, "USD")[1] == 90_000 + 180


def test_amend_that_needs_more_than_the_balance_is_refused_and_changes_nothing():
    market = Market()
    buyer = market.trader(usd=100_200)
    bid = order_of(market.place(buyer, "buy", 10, 10_000))
    outcome = market.amend(buyer, bid.order_id, quantity=11)
    assert rejection_of(outcome) is RejectReason.INSUFFICIENT_FUNDS
    assert market.balance(buyer, "USD") == (0, 100_200)
    assert market.book() == ([(10_000, 10)], [])


def test_amend_to_above_the_filled_quantity_keeps_the_fills_and_rests_the_difference():
    market = Market()
    seller, buyer = market.trader(), market.trader()
    ask = order_of(market.place(seller, "sell", 10, 10_000))
    market.place(buyer, "buy", 4, 10_000)
    amended = order_of(market.amend(seller, ask.order_id, 6))
    assert (amended.quantity, amended.filled_quantity) == (6, 4)
    assert market.book() == ([], [(10_000, 2)])


def test_amend_to_the_filled_quantity_cancels_the_remainder_and_keeps_the_fills():
    market = Market()
    seller, buyer = market.trader(shares=10), market.trader()
    ask = order_of(market.place(seller, "sell", 10, 10_000))
    market.place(buyer, "buy", 4, 10_000)
    outcome = market.amend(seller, ask.order_id, 4)
    order = order_of(outcome)
    assert (order.status, order.filled_quantity) == (OrderStatus.CANCELLED, 4)
    assert order.reason == CancelReason.AMENDED_BELOW_FILLED
    [event] = outcome.events
    assert isinstance(event, OrderCancelled)
    assert (event.remaining_quantity, event.reason) == (6, CancelReason.AMENDED_BELOW_FILLED)
    assert market.book() == ([], [])
    assert market.balance(seller, "ACME") == (6, 0)
    assert verify(market.exchange).ok


def test_amend_below_the_filled_quantity_cancels_a_buy_and_releases_its_hold_while_halted():
    market = Market()
    buyer, seller = market.trader(usd=1_000_000), market.trader()
    bid = order_of(market.place(buyer, "buy", 10, 10_000))
    market.place(seller, "sell", 4, 10_000)
    market.run(HaltMarket(None, "maintenance"))
    order = order_of(market.amend(buyer, bid.order_id, 1, 9_000))
    assert (order.status, order.quantity, order.filled_quantity) == (OrderStatus.CANCELLED, 10, 4)
    assert market.balance(buyer, "USD") == (1_000_000 - 40_000 - 40, 0)
    assert rejection_of(market.cancel(buyer, bid.order_id)) is RejectReason.UNKNOWN_ORDER


def test_a_post_only_amend_that_would_cross_is_refused():
    market = Market()
    seller, buyer = market.trader(), market.trader()
    market.place(seller, "sell", 5, 10_010)
    bid = order_of(market.place(buyer, "buy", 5, 10_000, post_only=True))
    outcome = market.amend(buyer, bid.order_id, price=10_010)
    assert rejection_of(outcome) is RejectReason.POST_ONLY_WOULD_CROSS


def test_a_halted_symbol_refuses_new_orders_but_allows_cancels_and_reductions():
    market = Market()
    trader = market.trader()
    resting = order_of(market.place(trader, "buy", 10, 10_000))
    market.run(HaltMarket("ACME", "news pending"))
    assert rejection_of(market.place(trader, "buy", 1, 10_000)) is RejectReason.MARKET_HALTED
    assert (
        rejection_of(market.amend(trader, resting.order_id, price=9_990))
        is RejectReason.MARKET_HALTED
    )
    assert order_of(market.amend(trader, resting.order_id, quantity=5)).quantity == 5
    assert order_of(market.cancel(trader, resting.order_id)).status is OrderStatus.CANCELLED
    market.run(ResumeMarket("ACME"))
    assert order_of(market.place(trader, "buy", 1, 10_000)).status is OrderStatus.NEW


def test_a_market_wide_halt_stops_every_symbol():
    market = Market()
    trader = market.trader()
    market.run(HaltMarket(None, "exchange halt"))
    assert rejection_of(market.place(trader, "buy", 1, 10_000)) is RejectReason.MARKET_HALTED
    instrument = market.exchange.instrument("ACME")
    assert instrument is not None
    assert instrument.status == "halted"


def test_orders_outside_the_price_band_or_quantity_limits_are_rejected():
    market = Market()
    trader = market.trader()
    assert rejection_of(market.place(trader, "buy", 1, 11_001)) is RejectReason.PRICE_OUT_OF_BAND
    assert rejection_of(market.place(trader, "sell", 1, 8_999)) is RejectReason.PRICE_OUT_OF_BAND
    assert (
        rejection_of(market.place(trader, "buy", 0, 10_000)) is RejectReason.QUANTITY_OUT_OF_RANGE
    )
    too_many = market.place(trader, "buy", 100_001, 10_000)
    assert rejection_of(too_many) is RejectReason.QUANTITY_OUT_OF_RANGE
    assert order_of(market.place(trader, "buy", 1, 9_000)).status is OrderStatus.NEW
    assert order_of(market.place(trader, "sell", 1, 11_000)).status is OrderStatus.NEW


def test_unknown_symbols_and_accounts_are_rejected():
    market = Market()
    trader = market.trader()
    assert (
        rejection_of(market.place(trader, "buy", 1, 10_000, symbol="NOPE"))
        is RejectReason.UNKNOWN_SYMBOL
    )
    assert rejection_of(market.place(999, "buy", 1, 10_000)) is RejectReason.UNKNOWN_ACCOUNT


def test_a_repeated_client_order_id_returns_the_original_and_creates_nothing():
    market = Market()
    trader = market.trader()
    first = order_of(market.place(trader, "buy", 5, 10_000, client_order_id="my-1"))
    again = market.place(trader, "buy", 7, 9_000, client_order_id="my-1")
    assert again.result == DuplicateOrder(first.order_id, first)
    assert again.events == []
    assert market.book() == ([(10_000, 5)], [])


def test_client_order_ids_are_scoped_per_account():
    market = Market()
    alice, bob = market.trader(), market.trader()
    market.place(alice, "buy", 5, 10_000, client_order_id="same")
    order = order_of(market.place(bob, "buy", 5, 10_000, client_order_id="same"))
    assert order.account_id == bob


def test_a_rejected_order_does_not_use_up_its_client_order_id():
    market = Market()
    trader = market.trader(usd=0)
    outcome = market.place(trader, "buy", 5, 10_000, client_order_id="retry-me")
    assert rejection_of(outcome) is RejectReason.INSUFFICIENT_FUNDS
    assert [type(e) for e in outcome.events] == [OrderRejected]
    assert isinstance(outcome.result, Rejected)
    assert outcome.result.order is not None
    assert outcome.result.order.status is OrderStatus.REJECTED
    market.run(Deposit(trader, "USD", 1_000_000, "top-up"))
    retried = market.place(trader, "buy", 5, 10_000, client_order_id="retry-me")
    assert [type(e) for e in retried.events] == [OrderAccepted]


def test_a_client_order_id_names_the_accounts_order_open_or_finished():
    market = Market()
    alice, bob = market.trader(), market.trader(usd=0)
    resting = order_of(market.place(alice, "buy", 5, 10_000, client_order_id="a-1"))
    assert market.exchange.order_id_for(alice, "a-1") == resting.order_id
    market.cancel(alice, resting.order_id)
    assert market.exchange.order_id_for(alice, "a-1") == resting.order_id
    assert market.exchange.order_id_for(bob, "a-1") is None
    rejection_of(market.place(bob, "buy", 5, 10_000, client_order_id="b-1"))
    assert market.exchange.order_id_for(bob, "b-1") is None  # a rejection never took it


def test_a_finished_order_repeated_reports_its_id_for_the_read_model():
    market = Market()
    seller, buyer = market.trader(), market.trader()
    market.place(seller, "sell", 5, 10_000)
    filled = order_of(market.place(buyer, "buy", 5, 10_000, client_order_id="x"))
    again = market.place(buyer, "buy", 5, 10_000, client_order_id="x")
    assert again.result == DuplicateOrder(filled.order_id, None)


def test_an_amend_changes_the_quantity_but_not_the_original_quantity():
    market = Market()
    seller = market.trader()
    ask = order_of(market.place(seller, "sell", 10, 10_010))
    assert ask.original_quantity == 10
    amended = order_of(market.amend(seller, ask.order_id, quantity=4))
    assert (amended.quantity, amended.original_quantity) == (4, 10)
    raised = order_of(market.amend(seller, ask.order_id, quantity=12))
    assert (raised.quantity, raised.original_quantity) == (12, 10)


def test_a_rejected_order_shows_the_quantity_it_was_placed_with_as_original():
    market = Market()
    buyer = market.trader(usd=0)
    outcome = market.place(buyer, "buy", 7, 10_000)
    assert isinstance(outcome.result, Rejected)
    assert outcome.result.order is not None
    assert outcome.result.order.original_quantity == 7


def cancelled_by(outcome) -> list[OrderView]:
    assert isinstance(outcome.result, OrdersCancelled), outcome.result
    return outcome.result.orders


def with_second_symbol(market: Market) -> Market:
    market.run(DefineAsset("BETA", 0))
    market.run(listing(symbol="BETA", base_asset="BETA"))
    return market


def test_cancel_all_cancels_every_open_order_of_the_caller_by_order_id_and_frees_holds():
    market = with_second_symbol(Market())
    trader, other = market.trader(), market.trader()
    mine = [
        order_of(market.place(trader, "buy", 10, 9_990)),
        order_of(market.place(trader, "sell", 5, 10_010)),
        order_of(market.place(trader, "buy", 3, 9_980, symbol="BETA")),
    ]
    theirs = order_of(market.place(other, "buy", 7, 9_990))
    outcome = market.run(CancelAllOrders(trader, None))
    cancelled = cancelled_by(outcome)
    assert [order.order_id for order in cancelled] == [order.order_id for order in mine]
    assert {(order.status, order.reason) for order in cancelled} == {
        (OrderStatus.CANCELLED, CancelReason.REQUESTED)
    }
    events = [event for event in outcome.events if isinstance(event, OrderCancelled)]
    assert [event.order_id for event in events] == [order.order_id for order in mine]
    assert market.balance(trader, "USD") == (10_000_000, 0)
    assert market.balance(trader, "ACME") == (1_000, 0)
    assert market.exchange.open_order(theirs.order_id) is not None
    assert market.book() == ([(9_990, 7)], [])
    assert verify(market.exchange).ok


def test_cancel_all_of_one_symbol_leaves_the_callers_other_symbols_resting():
    market = with_second_symbol(Market())
    trader = market.trader()
    acme = order_of(market.place(trader, "buy", 10, 9_990))
    beta = order_of(market.place(trader, "buy", 3, 9_980, symbol="BETA"))
    cancelled = cancelled_by(market.run(CancelAllOrders(trader, "BETA")))
    assert [order.order_id for order in cancelled] == [beta.order_id]
    assert market.exchange.open_order(acme.order_id) is not None
    assert market.exchange.open_order(beta.order_id) is None
    assert verify(market.exchange).ok


def test_cancel_all_with_nothing_open_or_an_unknown_symbol_cancels_nothing():
    market = Market()
    trader = market.trader()
    resting = order_of(market.place(trader, "buy", 10, 9_990))
    assert cancelled_by(market.run(CancelAllOrders(market.trader(), None))) == []
    outcome = market.run(CancelAllOrders(trader, "NOPE"))
    assert (cancelled_by(outcome), outcome.events) == ([], [])
    assert market.exchange.open_order(resting.order_id) is not None


def test_cancel_all_works_while_the_whole_market_is_halted():
    market = Market()
    trader = market.trader()
    resting = order_of(market.place(trader, "buy", 10, 9_990))
    market.run(HaltMarket(None, "exchange halt"))
    [cancelled] = cancelled_by(market.run(CancelAllOrders(trader, "ACME")))
    assert (cancelled.order_id, cancelled.status) == (resting.order_id, OrderStatus.CANCELLED)
    assert market.balance(trader, "USD") == (10_000_000, 0)
