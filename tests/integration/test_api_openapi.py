"""The OpenAPI document describes every trading route and the shapes it sends."""

import pytest

EXPECTED = {
    ("/v1/instruments", "get"),
    ("/v1/balances", "get"),
    ("/v1/orders", "get"),
    ("/v1/orders", "post"),
    ("/v1/orders/{order_id}", "get"),
    ("/v1/orders/{order_id}", "patch"),
    ("/v1/orders/{order_id}", "delete"),
    ("/v1/orders/by-client-id/{client_order_id}", "get"),
    ("/v1/orders/by-client-id/{client_order_id}", "delete"),
    ("/v1/time", "get"),
    ("/v1/trades", "get"),
    ("/v1/book/{symbol}", "get"),
}


async def test_every_trading_route_is_documented(api):
    document = (await api.client.get("/openapi.json")).json()
    documented = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    assert documented >= EXPECTED


async def test_placing_documents_201_and_the_200_of_a_retry_with_the_order(api):
    document = (await api.client.get("/openapi.json")).json()
    responses = document["paths"]["/v1/orders"]["post"]["responses"]
    for status in ("200", "201"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/OrderResponse"}
    assert {"401", "403", "422", "503"} <= set(responses)


async def test_decimal_fields_are_documented_as_strings(api):
    schemas = (await api.client.get("/openapi.json")).json()["components"]["schemas"]
    request = schemas["PlaceOrderRequest"]
    assert request["additionalProperties"] is False
    quantity = request["properties"]["quantity"]
    assert quantity["type"] == "string"
    assert "pattern" in quantity


async def test_a_reused_client_order_id_is_documented_as_409(api):
    document = (await api.client.get("/openapi.json")).json()
    responses = document["paths"]["/v1/orders"]["post"]["responses"]
    assert responses["409"]["content"]["application/problem+json"]
    assert "client_order_id_reused" in responses["409"]["description"]


@pytest.mark.parametrize(
    ("schema", "fields"),
    [
        (
            "OrderResponse",
            ["sequence", "original_quantity", "remaining_quantity", "cumulative_quote"],
        ),
        ("TradeResponse", ["sequence", "quote_quantity"]),
        ("BalanceResponse", ["sequence"]),
        ("OrderPage", ["next_after_sequence"]),
        ("TradePage", ["next_after_sequence"]),
        ("TimeResponse", ["time", "epoch_ns"]),
    ],
)
async def test_every_new_field_is_documented_with_a_description(api, schema, fields):
    schemas = (await api.client.get("/openapi.json")).json()["components"]["schemas"]
    properties = schemas[schema]["properties"]
    for name in fields:
        assert properties[name]["description"], name
        assert name in schemas[schema]["required"]


async def test_reading_from_a_sequence_is_documented_on_both_lists(api):
    paths = (await api.client.get("/openapi.json")).json()["paths"]
    for path in ("/v1/orders", "/v1/trades"):
        parameters = {p["name"]: p for p in paths[path]["get"]["parameters"]}
        assert "after_sequence" in parameters
        assert "next_after_sequence" in parameters["after_sequence"]["description"]
