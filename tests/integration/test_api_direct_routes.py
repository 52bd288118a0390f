"""Cancelling by client order id answers as a FastAPI route would: it is a direct route.

The same use case behind an ordinary FastAPI route, on an application with the same
settings and identity, is the reference every answer of the direct route must equal.
"""

from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from openbell.shared.ids import ClientOrderId
from openbell.trading.entrypoints.http import (
    _ORDER_RESPONSES,
    ClientOrderIdPath,
    TradeAccount,
    _Presenter,
    _problems,
    create_router,
)
from openbell.trading.entrypoints.schemas import OrderResponse

PATH = "/orders/by-client-id/{client_order_id}"


def regular_router(api) -> APIRouter:
    router = APIRouter(prefix="/regular")
    presenter = _Presenter(api.trading.core)

    @router.delete(PATH, responses=_ORDER_RESPONSES)
    async def cancel_order_by_client_id(
        client_order_id: ClientOrderIdPath, account_id: TradeAccount
    ) -> OrderResponse:
        with _problems(presenter):
            cancelled = await api.trading.orders.cancel_by_client_id(
                account_id, ClientOrderId(client_order_id)
            )
        return presenter.order(cancelled)

    return router


@pytest.fixture
async def both(api):
    app = api.app_with([create_router(api.trading), regular_router(api)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def answer(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    request_id = response.headers["x-request-id"]
    headers = {k: v for k, v in response.headers.items() if k != "x-request-id"}
    return response.status_code, headers, response.content.replace(request_id.encode(), b"<id>")


async def served_both_ways(client, api, path: str, who: str | None, method: str = "DELETE"):
    headers = {} if who is None else api.auth(who)
    return [
        answer(await client.request(method, f"{prefix}{path}", headers=headers))
        for prefix in ("/regular", "/v1")
    ]


@pytest.mark.parametrize(
    ("client_order_id", "who"),
    [
        ("unknown", "alice"),
        ("placed", "bob"),
        ("placed", "alice_reader"),
        ("placed", "observer"),
        ("placed", None),
        ("x" * 65, "alice"),
        ("a%20b", "alice"),
        ("caf%C3%A9", "alice"),
        ("a!", "alice"),
    ],
)
async def test_refusals_are_the_same_both_ways(both, api, client_order_id, who):
    await api.order(client_order_id="placed")
    path = f"/orders/by-client-id/{client_order_id}"
    regular, direct = await served_both_ways(both, api, path, who)
    assert direct == regular


async def test_a_cancel_and_its_repeat_answer_the_same_both_ways(both, api):
    answers: dict[str, list[Any]] = {}
    for prefix in ("/regular", "/v1"):
        key = f"k{prefix.strip('/')}"
        placed = (await api.order(client_order_id=key)).json()
        path = f"{prefix}/orders/by-client-id/{key}"
        cancelled = await both.delete(path, headers=api.auth("alice"))
        repeated = await both.delete(path, headers=api.auth("alice"))
        answers[prefix] = [
            (response.status_code, response.headers["content-type"], normal(response, placed))
            for response in (cancelled, repeated)
        ]
    assert answers["/v1"] == answers["/regular"]
    assert [status for status, _, _ in answers["/v1"]] == [200, 422]


def normal(response: httpx.Response, placed: dict[str, Any]) -> dict[str, Any]:
    """The answer without what differs between two orders (ids, times, sequences)."""
    document: dict[str, Any] = response.json()
    order = document.get("order", document)
    assert order["order_id"] == placed["order_id"]
    varying = {"order_id", "client_order_id", "created_at", "updated_at", "sequence"}
    for key in (*varying, "request_id"):
        order.pop(key, None)
        document.pop(key, None)
    return document


async def test_the_direct_route_is_documented_as_the_fastapi_route(both):
    paths = (await both.get("/openapi.json")).json()["paths"]
    regular = paths[f"/regular{PATH}"]["delete"]
    direct = paths[f"/v1{PATH}"]["delete"]
    for operation in (regular, direct):
        for key in ("operationId", "summary", "description", "tags"):
            operation.pop(key, None)
    assert direct == regular
