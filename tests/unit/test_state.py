"""Snapshot state: what an export carries, and that older snapshots still restore."""

from openbell.core.domain.state import export_state, restore_state
from openbell.core.domain.verification import verify

from builders import Market, listing

FIRST_ORDER_ROW_FIELDS = 19


def amended_market() -> tuple[Market, int]:
    market = Market()
    seller = market.trader()
    order_id: int = market.place(seller, "sell", 10, 10_010).result.order_id  # type: ignore[union-attr]
    market.amend(seller, order_id, quantity=6)
    return market, order_id


def test_a_restored_order_keeps_its_original_quantity_through_an_amend():
    market, order_id = amended_market()
    restored = restore_state(export_state(market.exchange))
    view = restored.open_order(order_id)
    assert view is not None
    assert (view.quantity, view.original_quantity) == (6, 10)


def test_an_order_from_a_snapshot_without_original_quantity_takes_its_quantity():
    market, order_id = amended_market()
    state = export_state(market.exchange)
    state["orders"] = [row[:FIRST_ORDER_ROW_FIELDS] for row in state["orders"]]
    view = restore_state(state).open_order(order_id)
    assert view is not None
    assert (view.quantity, view.original_quantity) == (6, 6)


def test_a_resting_buy_from_a_snapshot_of_rounded_down_holds_restores_sound():
    market = Market()
    market.run(listing(symbol="PENNY", reference_price=150))
    buyer, seller = market.trader(), market.trader()
    bid = market.place(buyer, "buy", 7, 150, symbol="PENNY").result
    state = export_state(market.exchange)
    # As the version that rounded fees down wrote it: 1,050 + 2 held (2.1 rounded down).
    [row] = state["orders"]
    assert row[18] == 1_050 + 3
    state["orders"] = [[*row[:18], 1_050 + 2]]
    for account_id, balances in state["accounts"]:
        if account_id == buyer:
            usd = next(balance for balance in balances if balance[0] == "USD")
            usd[1], usd[2] = usd[1] + 1, usd[2] - 1
    restored = restore_state(state)
    assert verify(restored).ok
    market.exchange = restored
    market.place(seller, "sell", 7, 150, symbol="PENNY")
    assert restored.open_order(bid.order_id) is None  # type: ignore[union-attr]
    assert verify(restored).ok
