"""The platform as `openbell up` wires it, on SQLite and on PostgreSQL: trade, stop, restart."""

import json
import stat

import httpx

from openbell.app import Platform, start_platform
from openbell.core.bootstrap import verify_ledger
from openbell.demo import seed_demo
from openbell.platform.settings import Settings


async def started(settings: Settings) -> tuple[Platform, httpx.AsyncClient, dict[str, str]]:
    platform = await start_platform(settings)
    credentials = await seed_demo(platform.core, platform.identity, settings.data_dir)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.app), base_url="http://127.0.0.1:8000"
    )
    tokens = {}
    for entry in json.loads(credentials.read_text()):
        response = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(entry["client_id"], entry["client_secret"]),
        )
        assert response.status_code == 200, response.text
        tokens[entry["name"]] = response.json()["access_token"]
    return platform, client, tokens


async def view(client: httpx.AsyncClient, tokens: dict[str, str]) -> dict[str, object]:
    seen: dict[str, object] = {}
    for name, token in tokens.items():
        headers = {"Authorization": f"Bearer {token}"}
        orders = await client.get("/v1/orders", params={"status": "all"}, headers=headers)
        trades = await client.get("/v1/trades", headers=headers)
        balances = await client.get("/v1/balances", headers=headers)
        # Balances are as of the core's latest command, and seeding the demo again on
        # restart is commands too: what the balances are must not change, only when.
        as_of = [{k: v for k, v in b.items() if k != "sequence"} for b in balances.json()]
        seen[name] = (orders.json(), trades.json(), as_of)
    book = await client.get("/v1/book/ACME", headers=headers)
    seen["book"] = book.json()
    return seen


async def test_the_platform_trades_and_restarts_to_the_same_state(database_url, tmp_path):
    settings = Settings(data_dir=tmp_path / "var", database_url=database_url)
    platform, client, tokens = await started(settings)
    try:
        credentials = settings.data_dir / "demo-clients.json"
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        orders = [
            ("alice", "sell", "150.10", "10"),
            ("alice", "sell", "150.20", "5"),
            ("bob", "buy", "150.20", "12"),
            ("bob", "buy", "149.90", "3"),
        ]
        for index, (who, side, price, quantity) in enumerate(orders):
            response = await client.post(
                "/v1/orders",
                json={
                    "symbol": "ACME",
                    "side": side,
                    "type": "limit",
                    "price": price,
                    "quantity": quantity,
                    "client_order_id": f"restart-{index}",
                },
                headers={"Authorization": f"Bearer {tokens[who]}"},
            )
            assert response.status_code == 201, response.text
        before = await view(client, tokens)
    finally:
        await client.aclose()
        await platform.stop()

    report = await verify_ledger(database_url)
    assert report.ok, report.problems
    assert report.open_orders == 2

    platform, client, tokens = await started(settings)
    try:
        assert platform.core.recovery.snapshot_sequence == report.sequence
        assert await view(client, tokens) == before
    finally:
        await client.aclose()
        await platform.stop()
