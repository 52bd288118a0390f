"""Who may do what: tokens, scopes, trading accounts, and one user never seeing another's."""

import pytest

ROUTES = [
    ("get", "/v1/instruments", None),
    ("get", "/v1/balances", None),
    ("get", "/v1/orders", None),
    ("get", "/v1/orders/1", None),
    ("get", "/v1/trades", None),
    ("get", "/v1/book/ACME", None),
    ("post", "/v1/orders", {"symbol": "ACME", "side": "buy", "type": "limit", "quantity": "1"}),
    ("patch", "/v1/orders/1", {"quantity": "1"}),
    ("delete", "/v1/orders/1", None),
]
WRITES = [route for route in ROUTES if route[0] != "get"]
ACCOUNT_READS = [("get", "/v1/balances"), ("get", "/v1/orders"), ("get", "/v1/trades")]


async def call(api, method: str, path: str, body, headers: dict[str, str]):
    if body is None:
        return await api.client.request(method, path, headers=headers)
    return await api.client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic YWxpY2U6c2VjcmV0"}],
)
async def test_every_route_needs_a_valid_bearer_token(api, method, path, body, headers):
    response = await call(api, method, path, body, headers)
    assert response.status_code == 401
    assert response.json()["reason"] == "invalid_token"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
async def test_a_read_only_token_cannot_change_orders(api, method, path, body):
    response = await call(api, method, path, body, api.auth("alice_reader"))
    assert response.status_code == 403
    assert response.json()["reason"] == "insufficient_scope"


async def test_a_read_only_token_reads_its_account(api):
    await api.order()
    orders = (await api.get("/v1/orders", who="alice_reader")).json()["orders"]
    assert len(orders) == 1


@pytest.mark.parametrize(("method", "path"), ACCOUNT_READS)
async def test_a_token_without_a_trading_account_cannot_read_account_data(api, method, path):
    response = await call(api, method, path, None, api.auth("observer"))
    assert response.status_code == 403
    assert response.json()["reason"] == "no_trading_account"


async def test_a_token_without_a_trading_account_reads_market_data(api):
    assert (await api.get("/v1/instruments", who="observer")).status_code == 200
    assert (await api.get("/v1/book/ACME", who="observer")).status_code == 200


async def test_nobody_can_see_amend_or_cancel_another_users_order(api):
    order = (await api.order()).json()
    path = f"/v1/orders/{order['order_id']}"
    for response in (
        await api.get(path, who="bob"),
        await api.patch(path, {"quantity": "5"}, who="bob"),
        await api.delete(path, who="bob"),
    ):
        assert response.status_code == 404
        assert response.json()["reason"] == "order_not_found"
        assert "order" not in response.json()
    still = (await api.get(path)).json()
    assert (still["status"], still["quantity"]) == ("new", "10")


async def test_another_users_finished_order_is_not_found_either(api):
    order = (await api.order()).json()
    path = f"/v1/orders/{order['order_id']}"
    await api.delete(path)
    for response in (
        await api.get(path, who="bob"),
        await api.patch(path, {"quantity": "5"}, who="bob"),
        await api.delete(path, who="bob"),
    ):
        assert response.status_code == 404
        assert "order" not in response.json()


async def test_lists_show_only_the_callers_orders_trades_and_balances(api):
    await api.order(who="bob", side="sell", price="100.00", quantity="3")
    await api.order(price="100.00", quantity="3")
    bobs_open = (await api.order(who="bob", price="90.00", quantity="1")).json()
    alice_orders = (await api.get("/v1/orders", params={"status": "all"})).json()["orders"]
    assert bobs_open["order_id"] not in {o["order_id"] for o in alice_orders}
    assert len(alice_orders) == 1
    bob_orders = (await api.get("/v1/orders", params={"status": "all"}, who="bob")).json()
    assert len(bob_orders["orders"]) == 2
    alice_trades = (await api.get("/v1/trades")).json()["trades"]
    assert [t["side"] for t in alice_trades] == ["buy"]
    bob_balances = {b["asset"]: b for b in (await api.get("/v1/balances", who="bob")).json()}
    alice_balances = {b["asset"]: b for b in (await api.get("/v1/balances")).json()}
    assert bob_balances["ACME"]["available"] == "9997"
    assert alice_balances["ACME"]["available"] == "10003"


async def test_the_same_client_order_id_in_two_accounts_makes_two_orders(api):
    mine = await api.order(client_order_id="shared")
    theirs = await api.order(who="bob", client_order_id="shared")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["order_id"] != theirs.json()["order_id"]
