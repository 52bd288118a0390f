"""Object-level authorization (OWASP API1, API5) on every /v1 trading route, with two users.

Alice and Bob each hold a token for their own trading account. Whatever Bob sends, he
never reads or changes Alice's orders, fills or balances: her objects answer exactly as
objects that do not exist, and a body naming her account is refused.
"""

import pytest


async def alices_resting_order(api):
    response = await api.order(who="alice", price="99.00", quantity="7")
    assert response.status_code == 201, response.text
    return response.json()


async def test_bob_cannot_read_alices_order(api):
    order = await alices_resting_order(api)
    mine = await api.get(f"/v1/orders/{order['order_id']}", who="alice")
    assert mine.status_code == 200
    theirs = await api.get(f"/v1/orders/{order['order_id']}", who="bob")
    missing = await api.get("/v1/orders/987654", who="bob")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["reason"] == missing.json()["reason"] == "order_not_found"


async def test_bob_cannot_amend_alices_order(api):
    order = await alices_resting_order(api)
    response = await api.patch(f"/v1/orders/{order['order_id']}", {"quantity": "1"}, who="bob")
    assert response.status_code == 404
    after = (await api.get(f"/v1/orders/{order['order_id']}", who="alice")).json()
    assert after["quantity"] == order["quantity"]


async def test_bob_cannot_cancel_alices_order(api):
    order = await alices_resting_order(api)
    response = await api.delete(f"/v1/orders/{order['order_id']}", who="bob")
    assert response.status_code == 404
    after = (await api.get(f"/v1/orders/{order['order_id']}", who="alice")).json()
    assert after["status"] == order["status"]


async def test_listing_orders_shows_only_the_callers_own(api):
    order = await alices_resting_order(api)
    await api.order(who="bob", price="98.00", quantity="2")
    for status in ("open", "all"):
        bobs = (await api.get("/v1/orders", who="bob", params={"status": status})).json()
        assert order["order_id"] not in {item["order_id"] for item in bobs["orders"]}
        assert len(bobs["orders"]) == 1
    alices = (await api.get("/v1/orders", who="alice", params={"status": "all"})).json()
    assert [item["order_id"] for item in alices["orders"]] == [order["order_id"]]


async def test_a_cursor_cannot_page_into_another_users_orders(api):
    order = await alices_resting_order(api)
    response = await api.get("/v1/orders", who="bob", params={"cursor": order["order_id"] + 1})
    assert response.json()["orders"] == []


async def test_trades_show_only_the_callers_own_fills(api):
    await api.order(who="alice", side="buy", price="100.00", quantity="3")
    await api.order(who="bob", side="sell", price="100.00", quantity="3")
    await api.order(who="alice", side="sell", price="101.00", quantity="1")
    alices = (await api.get("/v1/trades", who="alice")).json()["trades"]
    bobs = (await api.get("/v1/trades", who="bob")).json()["trades"]
    assert len(alices) == len(bobs) == 1
    assert alices[0]["side"] == "buy"
    assert bobs[0]["side"] == "sell"
    alice_order = alices[0]["order_id"]
    filtered = (await api.get("/v1/trades", who="bob", params={"order_id": alice_order})).json()
    assert filtered["trades"] == []


async def test_balances_are_the_callers_own(api):
    await api.order(who="alice", price="100.00", quantity="10")  # holds $1,000 of Alice's
    alice = {b["asset"]: b for b in (await api.get("/v1/balances", who="alice")).json()}
    bob = {b["asset"]: b for b in (await api.get("/v1/balances", who="bob")).json()}
    assert alice["USD"]["held"] != "0.00"
    assert bob["USD"]["held"] == "0.00"


@pytest.mark.parametrize("field", ["account_id", "account", "acct", "owner"])
async def test_an_order_cannot_name_another_account(api, field):
    response = await api.order(who="bob", **{field: api.accounts["alice"]})
    assert response.status_code == 422
    alices = (await api.get("/v1/orders", who="alice", params={"status": "all"})).json()
    assert alices["orders"] == []


async def test_an_order_placed_by_bob_is_bobs(api):
    placed = (await api.order(who="bob", price="97.00", quantity="1")).json()
    assert (await api.get(f"/v1/orders/{placed['order_id']}", who="alice")).status_code == 404
    assert (await api.get(f"/v1/orders/{placed['order_id']}", who="bob")).status_code == 200


async def test_client_order_ids_are_per_account(api):
    # Bob reusing Alice's client_order_id creates his own order; it neither reveals nor
    # returns hers.
    first = await api.order(who="alice", client_order_id="shared-1", price="96.00")
    second = await api.order(who="bob", client_order_id="shared-1", price="95.00")
    assert first.status_code == second.status_code == 201
    assert first.json()["order_id"] != second.json()["order_id"]
    assert second.json()["price"] == "95.00"


async def test_market_data_routes_show_no_ones_identity(api):
    await alices_resting_order(api)
    book = (await api.get("/v1/book/ACME", who="bob")).json()
    text = str(book)
    assert "account" not in text
    assert "order_id" not in text
    instruments = (await api.get("/v1/instruments", who="bob")).json()
    assert "account" not in str(instruments)
