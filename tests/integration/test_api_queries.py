"""Reading over HTTP: instruments, balances, the book, own orders and own trades."""

import asyncio
import time

import pytest

from openbell.contracts.commands import PlaceOrder
from openbell.contracts.enums import OrderType, Side, TimeInForce

# --- reference data, balances and the book ----------------------------------------


async def test_instruments_list_their_rules_as_decimal_strings(api):
    response = await api.get("/v1/instruments")
    assert response.status_code == 200
    instruments = {i["symbol"]: i for i in response.json()}
    assert instruments["ACME"] == {
        "symbol": "ACME",
        "base_asset": "ACME",
        "quote_asset": "USD",
        "tick_size": "0.01",
        "lot_size": "1",
        "min_quantity": "1",
        "max_quantity": "100000",
        "reference_price": "100.00",
        "price_band_bps": 1_000,
        "maker_fee_bps": 10,
        "taker_fee_bps": 20,
        "status": "trading",
    }
    eth = instruments["ETH-USD"]
    assert (eth["min_quantity"], eth["max_quantity"], eth["reference_price"]) == (
        "0.1",
        "1000.0",
        "2000.0",
    )


async def test_balances_are_at_each_assets_scale_and_show_holds(api):
    await api.order(price="100.00", quantity="10")
    response = await api.get("/v1/balances")
    assert response.status_code == 200
    balances = {b["asset"]: b for b in response.json()}
    assert balances["ETH"] == {"asset": "ETH", "available": "100.00000000", "held": "0.00000000"}
    assert balances["ACME"] == {"asset": "ACME", "available": "10000", "held": "0"}
    # $1,000 of notional plus the larger (taker) fee of 20 bps is held.
    assert balances["USD"] == {"asset": "USD", "available": "998998.00", "held": "1002.00"}


async def test_the_book_aggregates_levels_best_first(api):
    await api.order(price="99.00", quantity="2")
    await api.order(who="bob", price="99.00", quantity="3")
    await api.order(price="99.50", quantity="1")
    await api.order(who="bob", side="sell", price="101.00", quantity="7")
    response = await api.get("/v1/book/ACME")
    assert response.status_code == 200
    book = response.json()
    assert book["symbol"] == "ACME"
    assert book["sequence"] > 0
    assert book["bids"] == [["99.50", "1"], ["99.00", "5"]]
    assert book["asks"] == [["101.00", "7"]]
    shallow = (await api.get("/v1/book/ACME", params={"depth": 1})).json()
    assert shallow["bids"] == [["99.50", "1"]]


async def test_the_book_of_an_unknown_symbol_is_not_found(api):
    response = await api.get("/v1/book/NOPE")
    assert response.status_code == 404
    assert response.json()["reason"] == "unknown_symbol"


@pytest.mark.parametrize("depth", [0, 501, "deep"])
async def test_a_book_depth_outside_1_to_500_is_refused(api, depth):
    response = await api.get("/v1/book/ACME", params={"depth": depth})
    assert response.status_code == 422


# --- own orders ---------------------------------------------------------------------


async def test_orders_default_to_open_ones_and_all_includes_finished(api):
    open_order = (await api.order()).json()
    done = (await api.order(price="99.00")).json()
    await api.delete(f"/v1/orders/{done['order_id']}")
    open_only = (await api.get("/v1/orders")).json()
    assert [o["order_id"] for o in open_only["orders"]] == [open_order["order_id"]]
    everything = (await api.get("/v1/orders", params={"status": "all"})).json()
    assert [o["order_id"] for o in everything["orders"]] == [
        done["order_id"],
        open_order["order_id"],
    ]
    assert (await api.get("/v1/orders", params={"status": "closed"})).status_code == 422


async def test_orders_filter_by_symbol(api):
    await api.order()
    eth = (await api.order(symbol="ETH-USD", price="2000.0", quantity="1")).json()
    response = await api.get("/v1/orders", params={"symbol": "ETH-USD"})
    assert [o["order_id"] for o in response.json()["orders"]] == [eth["order_id"]]


async def test_orders_page_newest_first_by_cursor(api):
    ids = [(await api.order(price=f"9{i}.00")).json()["order_id"] for i in range(5)]
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/orders", params=params)).json()
        seen.extend(o["order_id"] for o in page["orders"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"cursor": 0}, {"cursor": "x"}])
async def test_out_of_range_paging_is_refused(api, params):
    assert (await api.get("/v1/orders", params=params)).status_code == 422
    assert (await api.get("/v1/trades", params=params)).status_code == 422


async def test_reads_see_an_order_placed_just_before(api):
    """Read-your-writes: a query waits for the read model to catch up with the core."""
    for n in range(20):
        outcome = await api.run(
            PlaceOrder(
                api.accounts["alice"],
                f"ryw-{n}",
                "ACME",
                Side.BUY,
                OrderType.LIMIT,
                9_000 + n,
                1,
                TimeInForce.GTC,
            )
        )
        response = await api.get(f"/v1/orders/{outcome.result.order_id}")
        assert response.status_code == 200, n


async def test_reads_answer_with_what_is_there_when_the_read_model_lags(api, monkeypatch):
    async def stuck(outcomes):
        await asyncio.Event().wait()

    monkeypatch.setattr(api.trading.projector, "project", stuck)
    placed = await api.order()
    assert placed.status_code == 201
    started = time.monotonic()
    response = await api.get("/v1/orders")
    assert response.status_code == 200
    assert response.json()["orders"] == []
    assert 1.5 < time.monotonic() - started < 10
    await api.trading.projector.stop()


async def test_reads_do_not_wait_for_a_projector_that_is_not_running(api):
    await api.trading.projector.stop()
    await api.order()
    started = time.monotonic()
    response = await api.get("/v1/orders")
    assert response.status_code == 200
    assert response.json()["orders"] == []
    assert time.monotonic() - started < 1


# --- own trades ---------------------------------------------------------------------


async def test_trades_show_own_fills_with_fee_and_liquidity(api):
    resting = (await api.order(who="bob", side="sell", price="100.00", quantity="5")).json()
    taking = (await api.order(price="100.00", quantity="5")).json()
    [mine] = (await api.get("/v1/trades")).json()["trades"]
    assert mine["order_id"] == taking["order_id"]
    assert (mine["side"], mine["price"], mine["quantity"]) == ("buy", "100.00", "5")
    assert (mine["fee"], mine["fee_asset"], mine["liquidity"]) == ("1.00", "USD", "taker")
    assert mine["executed_at"].endswith("Z")
    [theirs] = (await api.get("/v1/trades", who="bob")).json()["trades"]
    assert theirs["order_id"] == resting["order_id"]
    assert theirs["trade_id"] == mine["trade_id"]
    assert (theirs["side"], theirs["fee"], theirs["liquidity"]) == ("sell", "0.50", "maker")


async def test_trades_filter_by_symbol_and_order_and_page_by_cursor(api):
    await api.order(who="bob", side="sell", price="100.00", quantity="10")
    first = (await api.order(price="100.00", quantity="1")).json()
    for _ in range(3):
        await api.order(price="100.00", quantity="1")
    by_order = (await api.get("/v1/trades", params={"order_id": first["order_id"]})).json()
    assert [t["order_id"] for t in by_order["trades"]] == [first["order_id"]]
    assert (await api.get("/v1/trades", params={"symbol": "ETH-USD"})).json()["trades"] == []
    page = (await api.get("/v1/trades", params={"limit": 3})).json()
    assert len(page["trades"]) == 3
    rest = (await api.get("/v1/trades", params={"cursor": page["next_cursor"]})).json()
    assert len(rest["trades"]) == 1
    assert rest["next_cursor"] is None
