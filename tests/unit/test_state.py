"""Snapshot state: what an export carries, and that older snapshots still restore."""

from openbell.core.domain.state import export_state, restore_state

from builders import Market

ORDER_ROW_FIELDS_BEFORE_ORIGINAL_QUANTITY = 19


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
    state["orders"] = [row[:ORDER_ROW_FIELDS_BEFORE_ORIGINAL_QUANTITY] for row in state["orders"]]
    view = restore_state(state).open_order(order_id)
    assert view is not None
    assert (view.quantity, view.original_quantity) == (6, 6)
