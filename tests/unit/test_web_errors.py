"""Every error the web platform sends is RFC 9457 problem+json, and none leaks internals."""

import logging
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict

from openbell.platform.problems import ProblemError
from openbell.platform.settings import Settings
from openbell.platform.web import create_app

SECRET = "hunter2-do-not-echo"
LEAK = "SELECT * FROM secrets WHERE password = 'hunter2-do-not-echo'"


class Order(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: str
    quantity: int
    password: str


router = APIRouter()


@router.post("/orders")
async def place(order: Order) -> dict[str, str]:
    return {"symbol": order.symbol}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError(LEAK)


@router.get("/problem")
async def problem() -> None:
    raise ProblemError(409, "Conflict", reason="duplicate_order", detail="Already placed.")


@router.get("/teapot")
async def teapot() -> None:
    raise HTTPException(418, detail="short and stout", headers={"X-Kettle": "on"})


@router.post("/echo-size")
async def echo_size(body: dict[str, str]) -> dict[str, int]:
    return {"size": len(body)}


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path, max_body_bytes=2048)


@pytest.fixture
async def client(settings):
    app = create_app(settings, routers=[router])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    document: dict[str, Any] = response.json()
    assert document["status"] == status
    assert isinstance(document["title"], str)
    assert document["title"]
    assert document["type"].startswith("https://")
    assert document["request_id"] == response.headers["x-request-id"]
    return document


async def test_unknown_route_is_a_404_problem(client):
    assert_problem(await client.get("/nowhere"), 404)


async def test_wrong_method_is_a_405_problem_that_keeps_the_allow_header(client):
    response = await client.delete("/orders")
    assert_problem(response, 405)
    assert "POST" in response.headers["allow"]


async def test_validation_error_is_a_422_problem_without_the_submitted_values(client):
    response = await client.post(
        "/orders", json={"symbol": "BTC-USD", "quantity": SECRET, "password": 3, "extra": SECRET}
    )
    document = assert_problem(response, 422)
    assert document["reason"] == "validation_error"
    locations = {tuple(error["location"]) for error in document["errors"]}
    assert ("body", "quantity") in locations
    assert ("body", "extra") in locations
    for error in document["errors"]:
        assert set(error) == {"location", "message", "type"}
    assert SECRET not in response.text


async def test_malformed_json_is_a_422_problem_without_the_body(client):
    response = await client.post(
        "/orders",
        content=b'{"password": "' + SECRET.encode(),
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 422)
    assert SECRET not in response.text


async def test_unhandled_exception_is_a_bare_500_problem(client, caplog):
    with caplog.at_level(logging.ERROR, logger="openbell.web"):
        response = await client.get("/boom")
    document = assert_problem(response, 500)
    assert set(document) == {"type", "title", "status", "reason", "request_id"}
    assert SECRET not in response.text
    assert "SELECT" not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text
    # Operators find the cause in the server log, by request id.
    assert any(document["request_id"] in record.getMessage() for record in caplog.records)


async def test_500_answer_still_carries_security_headers(client):
    response = await client.get("/boom")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


async def test_problem_error_keeps_its_reason_and_detail(client):
    document = assert_problem(await client.get("/problem"), 409)
    assert document["reason"] == "duplicate_order"
    assert document["detail"] == "Already placed."
    assert document["type"] == "https://openbell.dev/problems/duplicate_order"


async def test_http_exception_becomes_a_problem_with_its_headers(client):
    response = await client.get("/teapot")
    document = assert_problem(response, 418)
    assert document["detail"] == "short and stout"
    assert response.headers["x-kettle"] == "on"


async def test_declared_body_over_the_limit_is_a_413_problem(client):
    response = await client.post(
        "/echo-size", content=b"x" * 4096, headers={"content-type": "application/json"}
    )
    document = assert_problem(response, 413)
    assert document["reason"] == "content_too_large"


async def test_streamed_body_over_the_limit_is_a_413_problem(client):
    async def chunks():
        for _ in range(8):
            yield b"x" * 512

    response = await client.post(
        "/echo-size", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


async def test_streamed_body_under_the_limit_is_served(client):
    async def chunks():
        yield b'{"a": '
        yield b'"b"}'

    response = await client.post(
        "/echo-size", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {"size": 1}


async def test_openapi_documents_validation_errors_as_problems(client):
    document = (await client.get("/openapi.json")).json()
    response = document["paths"]["/orders"]["post"]["responses"]["422"]
    assert list(response["content"]) == ["application/problem+json"]
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert {"Problem", "ValidationProblem"} <= set(schemas)
