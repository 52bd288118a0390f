"""Reading over HTTP: instruments, balances, the book, own orders and own trades."""

import asyncio
import time
from typing import Any

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
    at = api.sequencer.committed_sequence
    assert balances["ETH"] == {
        "asset": "ETH",
        "available": "100.00000000",
        "held": "0.00000000",
        "sequence": at,
    }
    assert balances["ACME"] == {"asset": "ACME", "available": "10000", "held": "0", "sequence": at}
    # $1,000 of notional plus the larger (taker) fee of 20 bps is held.
    assert balances["USD"] == {
        "asset": "USD",
        "available": "998998.00",
        "held": "1002.00",
        "sequence": at,
    }


async def test_balances_carry_the_sequence_they_are_as_of(api):
    placed = (await api.order()).json()
    [first, *_] = (await api.get("/v1/balances")).json()
    assert first["sequence"] == placed["sequence"]
    cancelled = (await api.delete(f"/v1/orders/{placed['order_id']}")).json()
    assert {b["sequence"] for b in (await api.get("/v1/balances")).json()} == {
        cancelled["sequence"]
    }


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


# --- reading from a sequence --------------------------------------------------------


async def sweep(api) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Three resting sells of alice's, then one buy of bob's that fills all three at once."""
    sells = [
        (await api.order(side="sell", price=f"100.{n}0", quantity="1")).json() for n in range(3)
    ]
    buy = (await api.order(who="bob", price="101.00", quantity="3")).json()
    assert buy["status"] == "filled"
    return sells, buy


async def pages(api, path: str, key: str, **params) -> list[list[dict[str, Any]]]:
    """Every page of `path` read from `after_sequence`, following `next_after_sequence`."""
    found: list[list[dict[str, Any]]] = []
    after = params.pop("after_sequence")
    while after is not None:
        response = await api.get(path, params={"after_sequence": after, **params})
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["next_cursor"] is None
        found.append(page[key])
        after = page["next_after_sequence"]
    return found


async def test_orders_read_from_a_sequence_come_oldest_change_first(api):
    before = (await api.order(price="90.00")).json()
    sells, buy = await sweep(api)
    later = (await api.order(price="91.00")).json()
    response = await api.get("/v1/orders", params={"after_sequence": before["sequence"]})
    page = response.json()
    assert [o["order_id"] for o in page["orders"]] == [
        *(sell["order_id"] for sell in sells),
        later["order_id"],
    ]
    assert [o["sequence"] for o in page["orders"]] == [buy["sequence"]] * 3 + [later["sequence"]]
    assert [o["status"] for o in page["orders"]] == ["filled"] * 3 + ["new"]
    assert page["next_after_sequence"] is None
    everything = await api.get("/v1/orders", params={"after_sequence": 0})
    assert before["order_id"] in [o["order_id"] for o in everything.json()["orders"]]


@pytest.mark.parametrize("limit", [1, 2, 3])
async def test_a_page_from_a_sequence_never_splits_a_command(api, limit):
    start = api.sequencer.committed_sequence
    sells, buy = await sweep(api)
    later = (await api.order(price="91.00")).json()
    found = await pages(api, "/v1/orders", "orders", after_sequence=start, limit=limit)
    sequences = [[o["sequence"] for o in page] for page in found]
    swept = [buy["sequence"]] * 3
    assert sequences == [swept, [later["sequence"]]]  # whole commands, even past the limit
    assert [o["order_id"] for page in found for o in page] == [
        *(sell["order_id"] for sell in sells),
        later["order_id"],
    ]


async def test_pages_from_a_sequence_skip_nothing_and_end(api):
    start = api.sequencer.committed_sequence
    placed = [(await api.order(price=f"9{n}.00", quantity="1")).json() for n in range(5)]
    found = await pages(api, "/v1/orders", "orders", after_sequence=start, limit=2)
    assert [len(page) for page in found] == [2, 2, 1]
    assert [o["order_id"] for page in found for o in page] == [o["order_id"] for o in placed]


async def test_an_order_changed_again_is_read_at_its_latest_change(api):
    start = api.sequencer.committed_sequence
    first = (await api.order(price="90.00")).json()
    second = (await api.order(price="91.00")).json()
    cancelled = (await api.delete(f"/v1/orders/{first['order_id']}")).json()
    page = (await api.get("/v1/orders", params={"after_sequence": start})).json()
    assert [(o["order_id"], o["sequence"]) for o in page["orders"]] == [
        (second["order_id"], second["sequence"]),
        (first["order_id"], cancelled["sequence"]),
    ]
    after_second = {"after_sequence": second["sequence"]}
    page = (await api.get("/v1/orders", params=after_second)).json()
    assert [o["status"] for o in page["orders"]] == ["cancelled"]


async def test_orders_from_a_sequence_filter_by_symbol_and_account(api):
    start = api.sequencer.committed_sequence
    await api.order()
    eth = (await api.order(symbol="ETH-USD", price="2000.0", quantity="1")).json()
    await api.order(who="bob", symbol="ETH-USD", price="1990.0", quantity="1")
    params = {"after_sequence": start, "symbol": "ETH-USD"}
    page = (await api.get("/v1/orders", params=params)).json()
    assert [o["order_id"] for o in page["orders"]] == [eth["order_id"]]


async def test_trades_read_from_a_sequence_come_oldest_first_in_whole_commands(api):
    start = api.sequencer.committed_sequence
    sells, buy = await sweep(api)
    await api.order(who="bob", side="sell", price="99.00", quantity="1")
    taking = (await api.order(price="99.00", quantity="1")).json()
    found = await pages(api, "/v1/trades", "trades", after_sequence=start, limit=2)
    assert [[t["sequence"] for t in page] for page in found] == [
        [buy["sequence"]] * 3,
        [taking["sequence"]],
    ]
    assert [t["order_id"] for t in found[0]] == [sell["order_id"] for sell in sells]
    trade_ids = [t["trade_id"] for page in found for t in page]
    assert trade_ids == sorted(trade_ids)
    one_order = {"after_sequence": start, "order_id": sells[1]["order_id"]}
    page = (await api.get("/v1/trades", params=one_order)).json()
    assert [t["order_id"] for t in page["trades"]] == [sells[1]["order_id"]]


@pytest.mark.parametrize(
    "params",
    [
        {"after_sequence": 1, "cursor": 5},
        {"after_sequence": -1},
        {"after_sequence": "x"},
        {"after_sequence": 1, "status": "open"},
    ],
)
async def test_reading_from_a_sequence_refuses_what_cannot_combine(api, params):
    response = await api.get("/v1/orders", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if "status" not in params:
        assert (await api.get("/v1/trades", params=params)).status_code == 422


async def test_all_status_may_be_said_when_reading_from_a_sequence(api):
    placed = (await api.order()).json()
    params = {"after_sequence": 0, "status": "all"}
    page = (await api.get("/v1/orders", params=params)).json()
    assert [o["order_id"] for o in page["orders"]] == [placed["order_id"]]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/orders?after_seqence=5",
        "/v1/orders?status=all&page=2",
        "/v1/trades?since=5",
        "/v1/balances?asset=USD",
        "/v1/orders/1?verbose=1",
        "/v1/book/ACME?levels=5",
        "/v1/time?zone=UTC",
    ],
)
async def test_an_unknown_query_parameter_is_refused_not_ignored(api, path):
    response = await api.get(path)
    assert response.status_code == 422, response.text
    assert response.json()["reason"] == "validation_error"


async def test_the_token_is_checked_before_the_query_parameters(api):
    response = await api.client.get("/v1/orders", params={"after_seqence": 5})
    assert response.status_code == 401
    response = await api.get("/v1/orders", who="observer", params={"after_seqence": 5})
    assert (response.status_code, response.json()["reason"]) == (403, "no_trading_account")
