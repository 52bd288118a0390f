"""Reads answer 503 rather than stale or internal: a fenced-off writer, a failing read model.

A writer that another took the journal from (PostgreSQL advisory lock) stops taking
commands; its memory and read model are no longer the exchange's, so reads are refused
too and /readyz says not ready. A read model whose database fails answers 503, never a
500 with the driver's text, and the server is not ready until a read succeeds again.
"""

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from openbell.app import Platform, start_platform
from openbell.core.adapters.postgres import WRITER_LOCK_KEY
from openbell.demo import seed_demo
from openbell.platform.db import asyncpg_dsn, sqlite_path
from openbell.platform.settings import Settings

READS = (
    "/v1/orders?status=all",
    "/v1/orders?after_sequence=0",
    "/v1/trades",
    "/v1/trades?after_sequence=0",
    "/v1/balances",
    "/v1/book/ACME",
    "/v1/instruments",
)


class Running:
    """A started platform, a client on its application, and alice's token."""

    def __init__(self, platform: Platform, client: httpx.AsyncClient, token: str) -> None:
        self.platform = platform
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path, headers=self.headers)

    async def order(self, index: int) -> httpx.Response:
        body = {
            "symbol": "ACME",
            "side": "buy",
            "type": "limit",
            "price": "149.00",
            "quantity": "2",
            "client_order_id": f"read-{index}",
        }
        return await self.client.post("/v1/orders", json=body, headers=self.headers)


async def running(settings: Settings) -> AsyncIterator[Running]:
    platform = await start_platform(settings)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.app), base_url="http://127.0.0.1:8000"
    )
    try:
        credentials = await seed_demo(platform.core, platform.identity, settings.data_dir)
        alice = json.loads(credentials.read_text())[0]
        response = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(alice["client_id"], alice["client_secret"]),
        )
        yield Running(platform, client, response.json()["access_token"])
    finally:
        await client.aclose()
        await platform.stop()


@pytest.fixture
async def on_postgres(postgres_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    async for server in running(Settings(data_dir=tmp_path / "var", database_url=postgres_url)):
        yield server


@pytest.fixture
async def on_sqlite(tmp_path: Path) -> AsyncIterator[Running]:
    async for server in running(Settings(data_dir=tmp_path / "var")):
        yield server


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, (response.request.url, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == "unavailable"
    assert "malformed" not in response.text
    assert "sqlite" not in response.text.lower()


async def take_the_writer_lock(url: str) -> asyncpg.Connection:
    """End the server's journal session and hold the writer lock from another."""
    holder = await asyncpg.connect(asyncpg_dsn(url))
    # The server's advisory locks, the only ones in this fresh database: the journal's
    # session and the process's writer lock (each on a session of its own).
    ended = await holder.fetch(
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    assert ended
    assert all(row[0] for row in ended)
    for _ in range(50):
        if await holder.fetchval("SELECT pg_try_advisory_lock($1)", WRITER_LOCK_KEY):
            return holder
        await asyncio.sleep(0.1)
    pytest.fail("the writer lock was not released")


async def test_a_fenced_writer_refuses_reads_and_is_not_ready(on_postgres, postgres_url):
    server = on_postgres
    assert (await server.order(1)).status_code == 201
    for path in READS:
        assert (await server.get(path)).status_code == 200
    holder = await take_the_writer_lock(postgres_url)
    try:
        assert_unavailable(await server.order(2))  # the next write finds the lock gone

        for path in (*READS, "/v1/orders/1", "/v1/orders/by-client-id/any"):
            assert_unavailable(await server.get(path))
        assert (await server.client.get("/readyz")).status_code == 503
    finally:
        await holder.close()


async def test_a_fenced_writer_stops_serving_reads_without_waiting_for_a_write(
    on_postgres, postgres_url
):
    server = on_postgres
    for path in READS:
        assert (await server.get(path)).status_code == 200
    holder = await take_the_writer_lock(postgres_url)
    try:
        # No command follows: the fence watch alone notices the lock's session ended.
        for _ in range(100):
            if not server.platform.core.sequencer.running:
                break
            await asyncio.sleep(0.1)
        for path in READS:
            assert_unavailable(await server.get(path))
        assert (await server.client.get("/readyz")).status_code == 503
    finally:
        await holder.close()


def damage_the_read_model(database: Path) -> bytes:
    """Checkpoint the WAL, then zero the trading tables' pages; return the file as it was."""
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        roots = "SELECT rootpage FROM sqlite_master WHERE tbl_name LIKE 'trading_%' AND rootpage"
        pages = [row[0] for row in connection.execute(roots)]
    original = database.read_bytes()
    damaged = bytearray(original)
    for page in pages:
        damaged[(page - 1) * page_size : page * page_size] = bytes(page_size)
    database.write_bytes(bytes(damaged))
    return original


async def test_a_damaged_read_model_answers_503_and_is_not_ready_until_a_read_succeeds(on_sqlite):
    server = on_sqlite
    assert (await server.order(1)).status_code == 201
    assert (await server.get("/v1/orders")).status_code == 200  # projected: nothing more to write
    database = sqlite_path(server.platform.settings.resolved_database_url)
    original = damage_the_read_model(database)
    await server.platform.engine.dispose()  # new connections read the damaged pages

    assert_unavailable(await server.get("/v1/orders?status=all"))
    assert_unavailable(await server.get("/v1/trades"))
    assert_unavailable(await server.get("/v1/orders?after_sequence=0"))
    assert_unavailable(await server.get("/v1/trades?after_sequence=0"))
    assert_unavailable(await server.get("/v1/orders/by-client-id/any"))
    assert (await server.client.get("/readyz")).status_code == 503

    database.write_bytes(original)
    await server.platform.engine.dispose()
    assert await ready_within(server, seconds=10)  # without a /v1 read: readiness reads itself
    assert (await server.get("/v1/orders?status=all")).status_code == 200


async def ready_within(server: Running, *, seconds: float) -> bool:
    for _ in range(int(seconds * 10)):
        if (await server.client.get("/readyz")).status_code == 200:
            return True
        await asyncio.sleep(0.1)
    return False
