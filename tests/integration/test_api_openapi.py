"""The OpenAPI document describes every trading route and the shapes it sends."""

EXPECTED = {
    ("/v1/instruments", "get"),
    ("/v1/balances", "get"),
    ("/v1/orders", "get"),
    ("/v1/orders", "post"),
    ("/v1/orders/{order_id}", "get"),
    ("/v1/orders/{order_id}", "patch"),
    ("/v1/orders/{order_id}", "delete"),
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
