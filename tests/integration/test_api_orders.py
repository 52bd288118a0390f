"""Order entry over HTTP: placing, retrying, amending and cancelling, and every refusal."""

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from openbell.contracts.commands import HaltMarket
from openbell.core.application.sequencer import SequencerOverloadedError

PROBLEM = "application/problem+json"


def problem(response, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    document: dict[str, Any] = response.json()
    assert document["reason"] == reason, document
    return document


# --- placing ------------------------------------------------------------------


async def test_a_resting_limit_order_is_created_with_decimal_strings(api):
    response = await api.order(client_order_id="first-1")
    assert response.status_code == 201
    order = response.json()
    assert order["client_order_id"] == "first-1"
    assert order["order_id"] > 0
    assert (order["symbol"], order["side"], order["type"]) == ("ACME", "buy", "limit")
    assert (order["price"], order["quantity"], order["filled_quantity"]) == ("100.00", "10", "0")
    assert (order["status"], order["time_in_force"], order["post_only"]) == ("new", "GTC", False)
    assert order["average_price"] is None
    assert order["fees_paid"] == "0.00"
    assert order["reason"] is None
    assert order["created_at"].endswith("Z")
    assert order["created_at"] == order["updated_at"]


async def test_an_order_without_a_client_order_id_gets_one(api):
    first = (await api.order()).json()
    second = (await api.order()).json()
    assert first["client_order_id"] != second["client_order_id"]
    assert first["order_id"] != second["order_id"]


async def test_a_crossing_order_fills_at_the_resting_price_with_fees(api):
    await api.order(who="bob", side="sell", price="100.50", quantity="4")
    response = await api.order(price="101.00", quantity="4")
    assert response.status_code == 201
    order = response.json()
    assert (order["status"], order["filled_quantity"]) == ("filled", "4")
    assert order["average_price"] == "100.50"
    assert order["fees_paid"] == "0.81"  # 20 bps of $402.00 = 0.804, rounded up


async def test_a_market_order_defaults_to_ioc_and_cancels_what_it_cannot_fill(api):
    await api.order(who="bob", side="sell", price="100.00", quantity="3")
    response = await api.order(type="market", price=None, quantity="5")
    assert response.status_code == 201
    order = response.json()
    assert (order["type"], order["time_in_force"], order["price"]) == ("market", "IOC", None)
    assert (order["status"], order["filled_quantity"]) == ("cancelled", "3")
    assert order["reason"] == "unfilled_ioc"


async def test_quantities_in_fractional_lots_convert_exactly(api):
    response = await api.order(symbol="ETH-USD", price="2000.1", quantity="1.5")
    assert response.status_code == 201
    order = response.json()
    assert (order["price"], order["quantity"]) == ("2000.1", "1.5")


async def test_the_same_client_order_id_again_returns_the_order_and_creates_nothing(api):
    first = await api.order(client_order_id="once")
    again = await api.order(client_order_id="once", price="100.0")  # the same price, spelt anew
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    listed = (await api.get("/v1/orders", params={"status": "all"})).json()["orders"]
    assert [o["order_id"] for o in listed] == [first.json()["order_id"]]


@pytest.mark.parametrize(
    ("fields", "mismatched"),
    [
        ({"symbol": "ETH-USD", "price": "2000.0", "quantity": "1"}, ["symbol", "price"]),
        ({"side": "sell"}, ["side"]),
        ({"type": "market", "price": None}, ["type", "price", "time_in_force"]),
        ({"price": "99.00"}, ["price"]),
        ({"quantity": "5"}, ["quantity"]),
        ({"time_in_force": "IOC"}, ["time_in_force"]),
        ({"post_only": True}, ["post_only"]),
        ({"self_trade_prevention": "cancel_maker"}, ["self_trade_prevention"]),
        ({"price": "99.00", "quantity": "5"}, ["price", "quantity"]),
    ],
)
async def test_a_client_order_id_reused_with_other_parameters_is_a_conflict(
    api, fields, mismatched
):
    first = (await api.order(client_order_id="key-1")).json()
    document = problem(
        await api.order(client_order_id="key-1", **fields), 409, "client_order_id_reused"
    )
    assert document["mismatched"] == mismatched
    assert document["order_id"] == first["order_id"]
    assert "order" not in document
    listed = (await api.get("/v1/orders", params={"status": "all"})).json()["orders"]
    assert [o["order_id"] for o in listed] == [first["order_id"]]


async def test_a_retry_is_compared_with_the_order_as_placed_not_as_amended(api):
    first = (await api.order(client_order_id="amended")).json()
    await api.patch(f"/v1/orders/{first['order_id']}", {"quantity": "6", "price": "99.00"})
    again = await api.order(client_order_id="amended")
    assert again.status_code == 200
    assert (again.json()["quantity"], again.json()["price"]) == ("6", "99.00")
    as_amended = await api.order(client_order_id="amended", quantity="6", price="99.00")
    assert problem(as_amended, 409, "client_order_id_reused")["mismatched"] == [
        "price",
        "quantity",
    ]


async def test_a_reused_client_order_id_of_a_finished_order_is_a_conflict_too(api):
    first = (await api.order(client_order_id="done")).json()
    await api.delete(f"/v1/orders/{first['order_id']}")
    document = problem(
        await api.order(client_order_id="done", side="sell"), 409, "client_order_id_reused"
    )
    assert (document["order_id"], document["mismatched"]) == (first["order_id"], ["side"])


# --- the sequence and the quantities of every answer ------------------------------


async def test_every_command_answers_with_a_larger_sequence_than_the_one_before(api):
    placed = (await api.order(price="99.00")).json()
    amended = (await api.patch(f"/v1/orders/{placed['order_id']}", {"quantity": "5"})).json()
    cancelled = (await api.delete(f"/v1/orders/{placed['order_id']}")).json()
    resting = (await api.order(who="bob", side="sell", price="100.00", quantity="2")).json()
    taking = (await api.order(price="100.00", quantity="2")).json()
    sequences = [o["sequence"] for o in (placed, amended, cancelled, resting, taking)]
    assert sequences == sorted(set(sequences))
    assert sequences[0] > 0
    maker = (await api.get(f"/v1/orders/{resting['order_id']}", who="bob")).json()
    assert maker["sequence"] == taking["sequence"]  # the taker's command filled it
    read = (await api.get(f"/v1/orders/{placed['order_id']}")).json()
    assert read == cancelled
    [trade] = (await api.get("/v1/trades")).json()["trades"]
    assert trade["sequence"] == taking["sequence"]


async def test_commands_answered_from_one_batch_each_have_their_own_sequence(api):
    answers = await asyncio.gather(
        *(api.order(price=f"9{n % 10}.00", quantity="1") for n in range(40))
    )
    sequences = [answer.json()["sequence"] for answer in answers]
    assert len(set(sequences)) == 40
    assert api.sequencer.stats().largest_batch > 1  # some did share a journal write


async def test_a_partly_filled_order_shows_what_remains_and_what_it_cost(api):
    await api.order(who="bob", side="sell", price="100.50", quantity="4")
    placed = (await api.order(price="101.00", quantity="10")).json()
    assert (placed["status"], placed["filled_quantity"]) == ("partially_filled", "4")
    assert (placed["original_quantity"], placed["remaining_quantity"]) == ("10", "6")
    assert (placed["cumulative_quote"], placed["average_price"]) == ("402.00", "100.50")
    amended = (await api.patch(f"/v1/orders/{placed['order_id']}", {"quantity": "8"})).json()
    assert (amended["quantity"], amended["original_quantity"]) == ("8", "10")
    assert (amended["remaining_quantity"], amended["cumulative_quote"]) == ("4", "402.00")
    assert (await api.get(f"/v1/orders/{placed['order_id']}")).json() == amended
    cancelled = (await api.delete(f"/v1/orders/{placed['order_id']}")).json()
    assert (cancelled["remaining_quantity"], cancelled["filled_quantity"]) == ("0", "4")
    [trade] = (await api.get("/v1/trades")).json()["trades"]
    assert (trade["quote_quantity"], trade["fee"]) == ("402.00", "0.81")  # fees round up


async def test_quantities_of_a_fractional_lot_instrument_keep_its_units(api):
    await api.order(who="bob", symbol="ETH-USD", side="sell", price="2000.5", quantity="0.5")
    placed = (await api.order(symbol="ETH-USD", price="2001.0", quantity="1.5")).json()
    assert (placed["original_quantity"], placed["remaining_quantity"]) == ("1.5", "1.0")
    assert placed["cumulative_quote"] == "1000.25"
    [trade] = (await api.get("/v1/trades")).json()["trades"]
    assert trade["quote_quantity"] == "1000.25"


async def test_a_rejected_order_has_nothing_remaining(api):
    document = problem(await api.order(price="150.00"), 422, "price_out_of_band")
    assert document["order"]["remaining_quantity"] == "0"
    assert document["order"]["original_quantity"] == "10"
    assert document["order"]["sequence"] > 0


# --- by client order id -----------------------------------------------------------


async def test_an_order_is_read_by_its_client_order_id(api):
    placed = (await api.order(client_order_id="mine.1")).json()
    response = await api.get("/v1/orders/by-client-id/mine.1")
    assert response.status_code == 200
    assert response.json() == placed
    problem(await api.get("/v1/orders/by-client-id/mine.1", who="bob"), 404, "order_not_found")
    problem(await api.get("/v1/orders/by-client-id/nobody"), 404, "order_not_found")


async def test_reading_by_client_order_id_needs_only_the_read_scope(api):
    await api.order(client_order_id="ro")
    assert (await api.get("/v1/orders/by-client-id/ro", who="alice_reader")).status_code == 200
    response = await api.delete("/v1/orders/by-client-id/ro", who="alice_reader")
    assert response.status_code == 403


async def test_an_order_is_cancelled_by_its_client_order_id(api):
    placed = (await api.order(client_order_id="c:1")).json()
    response = await api.delete("/v1/orders/by-client-id/c:1")
    assert response.status_code == 200
    cancelled = response.json()
    assert (cancelled["order_id"], cancelled["status"]) == (placed["order_id"], "cancelled")
    assert cancelled["sequence"] > placed["sequence"]
    again = await api.delete("/v1/orders/by-client-id/c:1")
    assert problem(again, 422, "order_not_open")["order"] == cancelled
    assert (await api.get("/v1/orders/by-client-id/c:1")).json() == cancelled


async def test_another_accounts_client_order_id_cannot_be_cancelled(api):
    await api.order(client_order_id="alices")
    problem(await api.delete("/v1/orders/by-client-id/alices", who="bob"), 404, "order_not_found")
    problem(await api.delete("/v1/orders/by-client-id/unknown"), 404, "order_not_found")
    assert (await api.get("/v1/orders/by-client-id/alices")).json()["status"] == "new"


async def test_a_client_order_id_only_a_rejected_order_had_names_that_order(api):
    rejected = problem(
        await api.order(client_order_id="nope", price="150.00"), 422, "price_out_of_band"
    )
    found = (await api.get("/v1/orders/by-client-id/nope")).json()
    assert found == rejected["order"]
    cancel = await api.delete("/v1/orders/by-client-id/nope")
    assert problem(cancel, 422, "order_not_open")["order"]["status"] == "rejected"


@pytest.mark.parametrize("client_order_id", ["x" * 65, "a%20b", "caf%C3%A9", "a!", "%00"])
@pytest.mark.parametrize("method", ["get", "delete"])
async def test_a_client_order_id_outside_the_pattern_is_refused(api, method, client_order_id):
    response = await getattr(api, method)(f"/v1/orders/by-client-id/{client_order_id}")
    problem(response, 422, "validation_error")


# --- the server's time --------------------------------------------------------------


async def test_the_time_is_public_in_rfc_3339_with_nanoseconds_and_epoch_ns(api):
    before = time.time_ns()
    response = await api.client.get("/v1/time")
    after = time.time_ns()
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"time", "epoch_ns"}
    assert before <= answer["epoch_ns"] <= after
    seconds, nanoseconds = divmod(answer["epoch_ns"], 10**9)
    whole = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert answer["time"] == f"{whole}.{nanoseconds:09d}Z"


async def test_a_retry_after_the_order_finished_returns_it_from_the_read_model(api):
    first = (await api.order(client_order_id="gone")).json()
    await api.delete(f"/v1/orders/{first['order_id']}")
    again = await api.order(client_order_id="gone")
    assert again.status_code == 200
    assert again.json()["order_id"] == first["order_id"]
    assert again.json()["status"] == "cancelled"


async def test_a_rejected_client_order_id_may_be_used_again(api):
    problem(await api.order(client_order_id="try", price="150.00"), 422, "price_out_of_band")
    response = await api.order(client_order_id="try")
    assert response.status_code == 201
    assert response.json()["status"] == "new"


# --- the core's refusals --------------------------------------------------------


async def test_insufficient_funds_is_refused_with_the_rejected_order(api):
    document = problem(await api.order(quantity="20000"), 422, "insufficient_funds")
    assert document["order"]["status"] == "rejected"
    assert document["order"]["reason"] == "insufficient_funds"
    assert document["order"]["quantity"] == "20000"


async def test_a_price_outside_the_band_is_refused(api):
    document = problem(await api.order(price="150.00"), 422, "price_out_of_band")
    assert document["order"]["price"] == "150.00"


async def test_a_quantity_outside_the_limits_is_refused(api):
    problem(await api.order(quantity="100001"), 422, "quantity_out_of_range")


async def test_a_post_only_order_that_would_cross_is_refused(api):
    await api.order(who="bob", side="sell", price="100.00", quantity="1")
    problem(await api.order(post_only=True), 422, "post_only_would_cross")


async def test_a_fill_or_kill_order_that_cannot_fill_is_accepted_then_cancelled(api):
    response = await api.order(time_in_force="FOK")
    assert response.status_code == 201
    order = response.json()
    assert (order["status"], order["filled_quantity"]) == ("cancelled", "0")
    assert order["reason"] == "unfilled_fok"


async def test_orders_on_a_halted_market_are_refused(api):
    await api.run(HaltMarket("ACME", "news pending"))
    problem(await api.order(), 422, "market_halted")


async def test_an_unknown_symbol_is_refused(api):
    problem(await api.order(symbol="NOPE"), 422, "unknown_symbol")


@pytest.mark.parametrize(
    "fields",
    [
        {"price": None},  # a limit order needs a price
        {"type": "market"},  # a market order takes no price
        {"type": "market", "price": None, "time_in_force": "GTC"},
        {"post_only": True, "time_in_force": "IOC"},
    ],
)
async def test_fields_that_do_not_fit_together_are_refused_as_invalid_order(api, fields):
    document = problem(await api.order(**fields), 422, "invalid_order")
    assert document["order"]["status"] == "rejected"


async def test_rejected_orders_are_listed_with_their_reason(api):
    rejected = problem(await api.order(price="150.00"), 422, "price_out_of_band")["order"]
    fetched = (await api.get(f"/v1/orders/{rejected['order_id']}")).json()
    assert (fetched["status"], fetched["reason"]) == ("rejected", "price_out_of_band")


# --- the edge's refusals ----------------------------------------------------------


async def test_a_price_between_ticks_is_invalid_tick(api):
    problem(await api.order(price="100.001"), 422, "invalid_tick")


async def test_a_quantity_between_lots_is_invalid_lot(api):
    problem(await api.order(symbol="ETH-USD", price="2000.0", quantity="0.15"), 422, "invalid_lot")


@pytest.mark.parametrize(
    "fields",
    [
        {"price": 100.0},
        {"quantity": 10},
        {"price": "-100.00"},
        {"quantity": "0"},
        {"quantity": "0.000"},
        {"price": "NaN"},
        {"price": "Infinity"},
        {"price": "-Infinity"},
        {"quantity": "1e3"},
        {"quantity": "1E+2"},
        {"quantity": " 10"},
        {"quantity": "1_000"},
        {"quantity": "0x10"},
        {"quantity": "+10"},
        {"quantity": "10."},
        {"quantity": "1" * 31},
        {"price": "1." + "0" * 31},
        {"quantity": ""},
        {"side": "BUY"},
        {"type": "stop"},
        {"time_in_force": "GTD"},
        {"post_only": "true"},
        {"client_order_id": "has space"},
        {"client_order_id": "x" * 65},
        {"client_order_id": ""},
        {"self_trade_prevention": "allow"},
        {"symbol": "ACME; DROP TABLE"},
        {"leverage": "100"},
    ],
)
async def test_malformed_orders_are_refused_by_the_schema(api, fields):
    document = problem(await api.order(**fields), 422, "validation_error")
    assert document["errors"]
    listed = (await api.get("/v1/orders", params={"status": "all"})).json()["orders"]
    assert listed == []


async def test_a_huge_but_well_formed_quantity_is_out_of_range(api):
    problem(await api.order(quantity="9" * 30), 422, "quantity_out_of_range")


async def test_a_huge_but_well_formed_price_is_out_of_band(api):
    problem(await api.order(price="9" * 30), 422, "price_out_of_band")


async def test_a_body_that_is_not_an_object_is_refused(api):
    response = await api.client.post(
        "/v1/orders",
        content=b"[1, 2]",
        headers={**api.auth("alice"), "content-type": "application/json"},
    )
    problem(response, 422, "validation_error")


# --- amending -------------------------------------------------------------------


async def test_amending_lowers_the_total_quantity(api):
    order = (await api.order()).json()
    response = await api.patch(f"/v1/orders/{order['order_id']}", {"quantity": "6"})
    assert response.status_code == 200
    assert (response.json()["quantity"], response.json()["status"]) == ("6", "new")
    fetched = (await api.get(f"/v1/orders/{order['order_id']}")).json()
    assert fetched["quantity"] == "6"


async def test_amending_the_price_into_the_book_trades(api):
    await api.order(who="bob", side="sell", price="100.50", quantity="10")
    order = (await api.order(price="100.00")).json()
    response = await api.patch(f"/v1/orders/{order['order_id']}", {"price": "100.50"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["filled_quantity"]) == ("filled", "10")


async def test_an_amendment_that_changes_nothing_is_refused_with_the_order(api):
    order = (await api.order()).json()
    response = await api.patch(f"/v1/orders/{order['order_id']}", {"quantity": "10"})
    document = problem(response, 422, "invalid_amendment")
    assert document["order"]["status"] == "new"


async def test_an_amendment_off_the_tick_is_invalid_tick(api):
    order = (await api.order()).json()
    problem(
        await api.patch(f"/v1/orders/{order['order_id']}", {"price": "99.999"}), 422, "invalid_tick"
    )


@pytest.mark.parametrize("body", [{}, {"quantity": 5}, {"price": "1e2"}, {"size": "5"}])
async def test_malformed_amendments_are_refused_by_the_schema(api, body):
    order = (await api.order()).json()
    problem(await api.patch(f"/v1/orders/{order['order_id']}", body), 422, "validation_error")


async def test_amending_a_resting_order_does_not_wait_for_the_read_model(api):
    await api.trading.projector.stop()
    order = (await api.order()).json()
    response = await api.patch(f"/v1/orders/{order['order_id']}", {"quantity": "6"})
    assert response.status_code == 200
    assert (response.json()["quantity"], response.json()["status"]) == ("6", "new")


async def test_another_accounts_resting_order_cannot_be_amended(api):
    order = (await api.order()).json()
    response = await api.patch(f"/v1/orders/{order['order_id']}", {"quantity": "5"}, who="bob")
    problem(response, 404, "order_not_found")


async def test_a_finished_order_cannot_be_amended(api):
    order = (await api.order()).json()
    await api.delete(f"/v1/orders/{order['order_id']}")
    response = await api.patch(f"/v1/orders/{order['order_id']}", {"quantity": "5"})
    assert problem(response, 422, "order_not_open")["order"]["status"] == "cancelled"


# --- cancelling -----------------------------------------------------------------


async def test_cancelling_returns_the_cancelled_order(api):
    order = (await api.order()).json()
    response = await api.delete(f"/v1/orders/{order['order_id']}")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["reason"]) == ("cancelled", "requested")
    balances = {b["asset"]: b for b in (await api.get("/v1/balances")).json()}
    assert balances["USD"]["held"] == "0.00"


async def test_cancelling_twice_says_the_order_is_no_longer_open(api):
    order = (await api.order()).json()
    await api.delete(f"/v1/orders/{order['order_id']}")
    response = await api.delete(f"/v1/orders/{order['order_id']}")
    assert problem(response, 422, "order_not_open")["order"]["order_id"] == order["order_id"]


async def test_cancelling_an_order_that_has_filled_answers_with_the_filled_order(api):
    resting = (await api.order(who="bob", side="sell", price="100.50", quantity="4")).json()
    await api.order(price="100.50", quantity="4")
    response = await api.delete(f"/v1/orders/{resting['order_id']}", who="bob")
    order = problem(response, 422, "order_not_open")["order"]
    assert (order["status"], order["filled_quantity"]) == ("filled", "4")
    assert order == (await api.get(f"/v1/orders/{resting['order_id']}", who="bob")).json()


async def test_cancelling_another_accounts_finished_order_is_not_found(api):
    order = (await api.order()).json()
    await api.delete(f"/v1/orders/{order['order_id']}")
    problem(await api.delete(f"/v1/orders/{order['order_id']}", who="bob"), 404, "order_not_found")


@pytest.mark.parametrize("method", ["get", "delete"])
async def test_an_order_that_does_not_exist_is_not_found(api, method):
    problem(await getattr(api, method)("/v1/orders/424242"), 404, "order_not_found")


async def test_amending_an_order_that_does_not_exist_is_not_found(api):
    problem(await api.patch("/v1/orders/424242", {"quantity": "1"}), 404, "order_not_found")


@pytest.mark.parametrize(
    "path", ["/v1/orders/0", "/v1/orders/-3", "/v1/orders/abc", "/v1/orders/1" + "0" * 30]
)
async def test_an_order_id_that_is_not_a_positive_64_bit_int_is_refused(api, path):
    response = await api.get(path)
    assert response.status_code in {404, 422}
    assert response.headers["content-type"] == PROBLEM


# --- when the core cannot serve -------------------------------------------------


async def test_a_stopped_core_answers_503_with_retry_after(api):
    await api.sequencer.stop()
    response = await api.order()
    problem(response, 503, "unavailable")
    assert response.headers["retry-after"] == "1"


async def test_an_overloaded_core_answers_503_overloaded(api, monkeypatch):
    async def overloaded(command):
        raise SequencerOverloadedError("the core's inbox is full")

    monkeypatch.setattr(api.sequencer, "execute", overloaded)
    for response in (
        await api.order(),
        await api.delete("/v1/orders/1"),
        await api.patch("/v1/orders/1", {"quantity": "1"}),
    ):
        assert response.status_code in {503, 404}
    response = await api.order()
    problem(response, 503, "overloaded")
    assert response.headers["retry-after"] == "1"


async def test_a_retry_of_a_finished_order_the_read_model_lacks_answers_503(api):
    await api.trading.projector.stop()
    placed = (await api.order(client_order_id="lagging")).json()
    await api.delete(f"/v1/orders/{placed['order_id']}")
    response = await api.order(client_order_id="lagging")
    problem(response, 503, "unavailable")
    assert response.headers["retry-after"] == "1"


# --- cancelling all -------------------------------------------------------------


async def test_cancel_all_cancels_every_open_order_of_the_caller_in_one_command(api):
    first = (await api.order(client_order_id="all-1")).json()
    second = (await api.order(symbol="ETH-USD", price="2000.0", quantity="1")).json()
    bobs = (await api.order(who="bob")).json()
    response = await api.delete("/v1/orders")
    assert response.status_code == 200, response.text
    cancelled = response.json()["cancelled"]
    assert [order["order_id"] for order in cancelled] == [first["order_id"], second["order_id"]]
    assert {(order["status"], order["reason"]) for order in cancelled} == {
        ("cancelled", "requested")
    }
    assert len({order["sequence"] for order in cancelled}) == 1
    assert cancelled[0]["sequence"] > second["sequence"]
    assert (await api.get("/v1/orders/by-client-id/all-1")).json() == cancelled[0]
    assert (await api.get("/v1/orders")).json()["orders"] == []
    assert (await api.get(f"/v1/orders/{bobs['order_id']}", who="bob")).json()["status"] == "new"
    balances = {row["asset"]: row for row in (await api.get("/v1/balances")).json()}
    assert balances["USD"]["held"] == "0.00"


async def test_cancel_all_of_one_symbol_leaves_the_others_open(api):
    acme = (await api.order()).json()
    eth = (await api.order(symbol="ETH-USD", price="2000.0", quantity="1")).json()
    response = await api.delete("/v1/orders?symbol=ETH-USD")
    assert [order["order_id"] for order in response.json()["cancelled"]] == [eth["order_id"]]
    [still_open] = (await api.get("/v1/orders")).json()["orders"]
    assert still_open["order_id"] == acme["order_id"]


async def test_cancel_all_with_nothing_open_or_an_unknown_symbol_answers_an_empty_list(api):
    await api.order()
    assert (await api.delete("/v1/orders?symbol=NOPE")).json() == {"cancelled": []}
    assert (await api.delete("/v1/orders", who="bob")).json() == {"cancelled": []}
    assert len((await api.get("/v1/orders")).json()["orders"]) == 1


async def test_cancel_all_works_while_the_market_is_halted(api):
    placed = (await api.order()).json()
    await api.run(HaltMarket(None, "exchange halt"))
    [cancelled] = (await api.delete("/v1/orders")).json()["cancelled"]
    assert (cancelled["order_id"], cancelled["status"]) == (placed["order_id"], "cancelled")


async def test_cancel_all_needs_the_trade_scope(api):
    await api.order()
    response = await api.delete("/v1/orders", who="alice_reader")
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert len((await api.get("/v1/orders")).json()["orders"]) == 1


@pytest.mark.parametrize("query", ["symbol=not%20a%20symbol", "symbl=ACME", "status=open"])
async def test_cancel_all_refuses_a_bad_symbol_or_an_unknown_parameter(api, query):
    await api.order()
    response = await api.delete(f"/v1/orders?{query}")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert len((await api.get("/v1/orders")).json()["orders"]) == 1
