"""kill -9 the real server mid-flight, restart it, and find every acknowledged order and cent."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from openbell.core.adapters.codec import decode_state
from openbell.core.adapters.sqlite import SqliteJournal, SqliteSnapshotStore
from openbell.core.application.recovery import recover
from openbell.core.domain.state import state_hash

pytestmark = pytest.mark.slow

OPENBELL = [sys.executable, "-m", "openbell.cli"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """`openbell up --demo` in a child process on a free port."""

    def __init__(self, data_dir: Path, *, snapshot_every: int) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = (data_dir / f"server-{self.port}.log").open("wb")
        env = {
            **os.environ,
            "OPENBELL_SNAPSHOT_EVERY_COMMANDS": str(snapshot_every),
            "PYTHONUNBUFFERED": "1",
        }
        self.process = subprocess.Popen(
            [*OPENBELL, "up", "--demo", "--data-dir", str(data_dir), "--port", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.log.flush()
        log = Path(self.log.name).read_text(errors="replace")[-3000:]
        self.kill()
        pytest.fail(f"server did not become ready:\n{log}")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.log.close()

    def terminate(self) -> int:
        os.kill(self.process.pid, signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.log.close()
        return code


async def tokens(base: str, data_dir: Path) -> dict[str, str]:
    credentials = json.loads((data_dir / "demo-clients.json").read_text())
    result = {}
    async with httpx.AsyncClient(base_url=base) as client:
        for entry in credentials:
            response = await client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(entry["client_id"], entry["client_secret"]),
            )
            response.raise_for_status()
            result[entry["name"]] = response.json()["access_token"]
    return result


def order_request(index: int) -> tuple[str, dict[str, object]]:
    """Alternating traders; prices straddle 150.00 so about half the orders trade."""
    trader = "alice" if index % 2 else "bob"
    side = "buy" if (index // 2) % 2 else "sell"
    offset = (index * 7) % 11 - 5
    body: dict[str, object] = {
        "symbol": "ACME",
        "side": side,
        "type": "limit",
        "price": f"{150 + offset / 100:.2f}",
        "quantity": str(1 + index % 5),
        "client_order_id": f"crash-{index}",
    }
    return trader, body


async def snapshot_of(base: str, token: dict[str, str]) -> dict[str, object]:
    """Everything a trader can see: all orders, all trades, balances; plus the book."""
    state: dict[str, object] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for name, bearer in token.items():
            headers = {"Authorization": f"Bearer {bearer}"}
            orders, cursor = [], None
            while True:
                params: dict[str, str | int] = {
                    "status": "all",
                    "limit": 1000,
                    **({"cursor": cursor} if cursor else {}),
                }
                page = (await client.get("/v1/orders", params=params, headers=headers)).json()
                orders += page["orders"]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            trades = (
                await client.get("/v1/trades", params={"limit": 1000}, headers=headers)
            ).json()
            balances = (await client.get("/v1/balances", headers=headers)).json()
            # A restart's own commands move the sequence balances are as of, not the balances.
            amounts = [{k: v for k, v in b.items() if k != "sequence"} for b in balances]
            state[name] = {"orders": orders, "trades": trades["trades"], "balances": amounts}
        book = (await client.get("/v1/book/ACME", headers=headers)).json()
        state["book"] = {"bids": book["bids"], "asks": book["asks"]}
    return state


async def place_all(
    base: str,
    token: dict[str, str],
    indices: range,
    acknowledged: dict[int, dict[str, Any]] | None = None,
) -> dict[int, dict[str, Any]]:
    """Place orders concurrently; fill `acknowledged` with the answered ones as they come."""
    acknowledged = {} if acknowledged is None else acknowledged
    # Bounded concurrency of our own, so no request waits for a pooled connection long
    # enough to time out on a loaded machine: every failure here is the server's.
    gate = asyncio.Semaphore(32)
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:

        async def one(index: int) -> None:
            trader, body = order_request(index)
            headers = {"Authorization": f"Bearer {token[trader]}"}
            try:
                async with gate:
                    response = await client.post("/v1/orders", json=body, headers=headers)
            except httpx.HTTPError:
                return  # no answer: not acknowledged
            if response.status_code in (200, 201):
                acknowledged[index] = response.json()

        await asyncio.gather(*(one(index) for index in indices))
    return acknowledged


def test_everything_acknowledged_survives_kill_9_and_replay_matches(tmp_path):
    data_dir = tmp_path / "var"
    server = Server(data_dir, snapshot_every=37)
    try:
        server.wait_ready()
        discovery = httpx.get(f"{server.base}/.well-known/openid-configuration").json()
        assert discovery["issuer"] == server.base  # the issuer follows --port
        token = asyncio.run(tokens(server.base, data_dir))
        acknowledged = asyncio.run(place_all(server.base, token, range(300)))
        assert len(acknowledged) == 300
        before = asyncio.run(snapshot_of(server.base, token))
    finally:
        server.kill()

    restarted = Server(data_dir, snapshot_every=37)
    try:
        restarted.wait_ready()
        token = asyncio.run(tokens(restarted.base, data_dir))
        after = asyncio.run(snapshot_of(restarted.base, token))
    finally:
        assert restarted.terminate() == 0
    assert after == before

    # The state the server recovered (snapshot + tail) equals a replay of the whole journal.
    url = f"sqlite+aiosqlite:///{data_dir / 'openbell.db'}"

    async def hashes() -> tuple[str, str, int]:
        journal, snapshots = SqliteJournal(url, read_only=True), SqliteSnapshotStore(url)
        await journal.open()
        await snapshots.open()
        try:
            with_snapshot = await recover(journal, snapshots, decode_state)
            from_empty = await recover(journal, None, decode_state)
        finally:
            await snapshots.close()
            await journal.close()
        assert with_snapshot.snapshot_sequence > 0
        return (
            state_hash(with_snapshot.exchange),
            state_hash(from_empty.exchange),
            from_empty.replayed,
        )

    recovered, replayed, count = asyncio.run(hashes())
    assert recovered == replayed
    assert count > 300


def test_orders_in_flight_at_kill_9_are_either_all_there_or_safely_retried(tmp_path):
    data_dir = tmp_path / "var"
    server = Server(data_dir, snapshot_every=50)
    try:
        server.wait_ready()
        token = asyncio.run(tokens(server.base, data_dir))

        async def storm_then_kill() -> tuple[dict[int, dict[str, Any]], bool]:
            acknowledged: dict[int, dict[str, Any]] = {}
            placing = asyncio.create_task(place_all(server.base, token, range(600), acknowledged))
            while len(acknowledged) < 60 and not placing.done():
                await asyncio.sleep(0.005)
            in_flight = not placing.done()
            os.kill(server.process.pid, signal.SIGKILL)
            await placing
            return acknowledged, in_flight

        acknowledged, in_flight = asyncio.run(storm_then_kill())

    finally:
        server.kill()
    assert in_flight, "the kill must land while orders are in flight"
    assert 60 <= len(acknowledged) < 600

    restarted = Server(data_dir, snapshot_every=50)
    try:
        restarted.wait_ready()
        token = asyncio.run(tokens(restarted.base, data_dir))
        after = asyncio.run(snapshot_of(restarted.base, token))
        by_client_id = {
            order["client_order_id"]: order
            for name in ("alice", "bob")
            for order in after[name]["orders"]  # type: ignore[index]
        }
        for index, ack in acknowledged.items():
            survived = by_client_id[f"crash-{index}"]
            assert survived["order_id"] == ack["order_id"]
            assert int(survived["filled_quantity"]) >= int(ack["filled_quantity"])
        # Retrying every request with its client order id never creates a second order.
        retried = asyncio.run(place_all(restarted.base, token, range(600)))
        assert len(retried) == 600
        for index, ack in acknowledged.items():
            assert retried[index]["order_id"] == ack["order_id"]
        final = asyncio.run(snapshot_of(restarted.base, token))
        client_ids = [
            order["client_order_id"]
            for name in ("alice", "bob")
            for order in final[name]["orders"]  # type: ignore[index]
            if order["status"] != "rejected"
        ]
        assert len(client_ids) == len(set(client_ids)) == 600
    finally:
        assert restarted.terminate() == 0
    verify = subprocess.run(
        [*OPENBELL, "ledger", "verify", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
