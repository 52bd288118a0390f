"""A direct route answers and is documented exactly as the FastAPI route it replaces."""

import json
import time
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json
from starlette.types import Receive, Scope, Send

from openbell.platform.auth import (
    STEP_UP_ACR,
    InvalidTokenError,
    Principal,
    require_scope,
    require_step_up,
)
from openbell.platform.settings import Settings
from openbell.platform.web import create_app
from openbell.platform.web.direct import (
    Validator,
    add_direct_route,
    json_body,
    read_body,
    send_json,
    validation_error,
)


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(pattern=r"^[a-z]{1,8}$")
    count: int


class Echo(BaseModel):
    item_id: int
    name: str
    count: int
    client_id: str


class Verifier:
    async def verify(self, token: str) -> Principal:
        scopes = {"writer": {"write"}, "reader": {"read"}}.get(token)
        if scopes is None:
            raise InvalidTokenError
        return Principal("subject", token, 1, frozenset(scopes), "jti", 2**40)


ItemId = Annotated[int, Path(ge=1, le=1000, description="The item.")]
requirement = require_scope("write")
Writer = Annotated[Principal, Depends(requirement)]
ITEM = Validator[Item](Item, ("body",))
ITEM_ID = Validator[int](Annotated[int, Field(ge=1, le=1000)], ("path", "item_id"))
RESPONSES: dict[int | str, dict[str, Any]] = {409: {"description": "Conflict"}}


def echo(item_id: int, item: Item, principal: Principal) -> Echo:
    return Echo(item_id=item_id, name=item.name, count=item.count, client_id=principal.client_id)


async def serve(scope: Scope, receive: Receive, send: Send) -> None:
    body = json_body(scope, await read_body(receive))
    principal = await requirement.authorize(scope)
    errors: list[dict[str, Any]] = []
    item_id = ITEM_ID.validate(scope["path_params"]["item_id"], errors)
    item = ITEM.validate(body, errors)
    if item_id is None or item is None:
        raise validation_error(errors)
    answer = echo(item_id, item, principal).model_dump(mode="json")
    await send_json(send, 200, to_json(answer))


def routers() -> list[APIRouter]:
    regular, direct = APIRouter(prefix="/regular"), APIRouter(prefix="/direct")

    @regular.patch("/{item_id}", responses=RESPONSES)
    async def update_item(item_id: ItemId, item: Item, principal: Writer) -> Echo:
        return echo(item_id, item, principal)

    async def update_item_directly(item_id: ItemId, item: Item, principal: Writer) -> Echo:
        raise AssertionError

    add_direct_route(
        direct, "/{item_id}", update_item_directly, serve, methods=["PATCH"], responses=RESPONSES
    )
    return [regular, direct]


@pytest.fixture
async def client(tmp_path):
    app = create_app(
        Settings(data_dir=tmp_path, max_body_bytes=1024),
        routers=routers(),
        token_verifier=Verifier(),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


GOOD = json.dumps({"name": "bolt", "count": 3}).encode()
JSON = "application/json"


@pytest.mark.parametrize(
    ("method", "item_id", "body", "content_type", "token"),
    [
        ("PATCH", "7", GOOD, JSON, "writer"),
        ("PATCH", "7", GOOD, JSON, "reader"),
        ("PATCH", "7", GOOD, JSON, "nobody"),
        ("PATCH", "7", GOOD, JSON, None),
        ("PATCH", "7", b"{not json", JSON, None),
        ("PATCH", "7", b"{not json", JSON, "writer"),
        ("PATCH", "7", b"", JSON, "writer"),
        ("PATCH", "7", GOOD, None, "writer"),
        ("PATCH", "7", GOOD, "text/plain", "writer"),
        ("PATCH", "7", GOOD, "application/merge-patch+json", "writer"),
        ("PATCH", "7", GOOD, "application/json; charset=utf-8", "writer"),
        ("PATCH", "7", b'{"name": "\xff"}', JSON, "writer"),
        ("PATCH", "7", b"[" * 5_000, JSON, "writer"),
        ("PATCH", "7", b"x" * 2_000, JSON, "writer"),
        ("PATCH", "7", b"null", JSON, "writer"),
        ("PATCH", "7", b'{"name": "bolt", "count": "3"}', JSON, "writer"),
        ("PATCH", "7", b'{"name": "Bolt!", "count": 3, "extra": 1}', JSON, "writer"),
        ("PATCH", "7", b'{"name": "bolt", "count": 3, "count": 4}', JSON, "writer"),
        ("PATCH", "7", b'{"name": "bolt", "count": 3, "count": 4}', JSON, None),
        ("PATCH", "7", b'{"name": "bolt", "x": [{"a": 1, "a": 1}], "count": 3}', JSON, "writer"),
        ("PATCH", "7", b'{"name": "bolt", "count": 3, "count": 4}', "text/plain", "writer"),
        ("PATCH", "7", b'{"name": "bolt", "count": 3, "count": 4', JSON, "writer"),
        ("PATCH", "0", b'{"count": 3}', JSON, "writer"),
        ("PATCH", "abc", GOOD, JSON, "writer"),
        ("PATCH", "1" + "0" * 30, GOOD, JSON, "writer"),
        ("PUT", "7", GOOD, JSON, "writer"),
        ("GET", "7", None, None, "writer"),
        ("DELETE", "7", None, None, None),
    ],
)
async def test_a_direct_route_answers_as_the_fastapi_route_it_replaces(
    client, method, item_id, body, content_type, token
):
    headers = {}
    if content_type:
        headers["content-type"] = content_type
    if token:
        headers["authorization"] = f"Bearer {token}"
    answers = [
        await client.request(method, f"/{kind}/{item_id}", content=body, headers=headers)
        for kind in ("regular", "direct")
    ]
    regular, direct = (
        (
            answer.status_code,
            {k: v for k, v in answer.headers.items() if k != "x-request-id"},
            answer.content.replace(answer.headers["x-request-id"].encode(), b"<id>"),
        )
        for answer in answers
    )
    assert direct == regular


async def test_a_direct_route_is_documented_as_the_fastapi_route_it_replaces(client):
    paths = (await client.get("/openapi.json")).json()["paths"]
    regular = paths["/regular/{item_id}"]["patch"]
    direct = paths["/direct/{item_id}"]["patch"]
    for operation in (regular, direct):
        del operation["operationId"], operation["summary"]
    assert direct == regular
    assert set(direct["responses"]) == {"200", "409", "422"}


async def test_a_json_body_repeating_a_member_is_refused_by_both_kinds_of_route(client):
    body = b'{"name": "bolt", "name": "nut", "count": 3}'
    headers = {"content-type": JSON, "authorization": "Bearer writer"}
    for kind in ("regular", "direct"):
        response = await client.patch(f"/{kind}/7", content=body, headers=headers)
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["reason"] == "duplicate_key"


async def test_a_direct_route_is_found_below_the_root_path_as_a_fastapi_route_is(tmp_path):
    app = create_app(Settings(data_dir=tmp_path), routers=routers(), token_verifier=Verifier())
    transport = httpx.ASGITransport(app=app, root_path="/api")
    headers = {"content-type": JSON, "authorization": "Bearer writer"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for kind in ("regular", "direct"):
            served = await client.patch(f"/api/{kind}/7", content=GOOD, headers=headers)
            assert served.status_code == 200
            assert served.json()["name"] == "bolt"
            outside = await client.patch(f"/apiary/{kind}/7", content=GOOD, headers=headers)
            assert outside.status_code == 404


def test_a_direct_route_refuses_dependencies_it_would_never_run():
    router = APIRouter(dependencies=[Depends(requirement)])

    async def endpoint() -> None:
        pass

    with pytest.raises(ValueError, match="dependencies"):
        add_direct_route(router, "/x", endpoint, serve, methods=["GET"])


async def test_a_step_up_requirement_checks_the_second_factor_for_a_direct_route_too(tmp_path):
    now = int(time.time())

    def user(acr: str, signed_in: int) -> Principal:
        scopes = frozenset({"write"})
        return Principal("user", "console", 1, scopes, "jti", now + 60, acr, auth_time=signed_in)

    principals = {
        "fresh": user(STEP_UP_ACR, now - 10),
        "stale": user(STEP_UP_ACR, now - 900),
        "password": user("pwd", now - 10),
    }

    class UserVerifier:
        async def verify(self, token: str) -> Principal:
            if token not in principals:
                raise InvalidTokenError
            return principals[token]

    sensitive = require_step_up("write", max_age_seconds=300)

    async def withdraw(scope: Scope, receive: Receive, send: Send) -> None:
        principal = await sensitive.authorize(scope)
        await send_json(send, 200, to_json({"subject": principal.subject}))

    async def documented() -> None:
        raise AssertionError

    router = APIRouter()
    add_direct_route(router, "/withdraw", documented, withdraw, methods=["POST"])
    app = create_app(Settings(data_dir=tmp_path), routers=[router], token_verifier=UserVerifier())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        statuses = {
            token: (await client.post("/withdraw", headers={"authorization": f"Bearer {token}"}))
            for token in principals
        }
    assert statuses["fresh"].status_code == 200
    for token in ("stale", "password"):
        assert statuses[token].status_code == 401
        assert statuses[token].json()["reason"] == "step_up_required"
