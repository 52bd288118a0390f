"""Order entry over HTTP: placing, retrying, amending and cancelling, and every refusal."""

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
    again = await api.order(client_order_id="once", price="99.00", quantity="1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["order_id"] == first.json()["order_id"]
    assert again.json()["price"] == "100.00"
    listed = (await api.get("/v1/orders", params={"status": "all"})).json()["orders"]
    assert [o["order_id"] for o in listed] == [first.json()["order_id"]]


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
