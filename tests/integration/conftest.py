"""The trading API as the composition root wires it, for integration tests.

The real core (Exchange behind the Sequencer over an in-memory journal), the real
bus and projector with the read model on SQLite, and the real identity service
(in memory) issuing the access tokens. Two funded traders, alice and bob, hold
ACME shares (tick $0.01, lot 1) and ETH (tick $0.1, lot 0.1 ETH) and USD.
"""

import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from openbell.contracts.commands import Command, DefineAsset, Deposit, OpenAccount
from openbell.contracts.results import AccountView, Outcome
from openbell.core.adapters.memory import InMemoryJournal
from openbell.core.application.sequencer import Sequencer
from openbell.core.domain.exchange import Exchange
from openbell.identity.application.tokens import TokenRequest
from openbell.identity.bootstrap import Identity, build_in_memory_identity
from openbell.platform.bus import InProcessBus
from openbell.platform.db import prepare_database
from openbell.platform.settings import Settings
from openbell.platform.web import create_app
from openbell.shared.time import SystemClock
from openbell.trading.bootstrap import Trading, build_trading, open_read_model
from openbell.trading.entrypoints.http import create_router

from builders import listing

ETH = "ETH-USD"
USD_DEPOSIT = 100_000_000  # $1,000,000.00 in cents
ACME_DEPOSIT = 10_000  # shares
ETH_DEPOSIT = 100 * 10**8  # 100 ETH in wei-like minor units (scale 8)


def eth_listing() -> Command:
    return listing(
        symbol=ETH,
        base_asset="ETH",
        tick_size="0.1",
        lot_size="0.1",
        min_quantity=1,
        max_quantity=10_000,
        reference_price=20_000,  # $2,000.0
    )


@dataclass
class Api:
    """The running application and what tests need to drive it."""

    client: httpx.AsyncClient
    exchange: Exchange
    sequencer: Sequencer
    trading: Trading
    accounts: dict[str, int]
    tokens: dict[str, str] = field(default_factory=dict)
    app_with: Callable[[list[APIRouter]], Any] = field(default=lambda _routers: None)
    """Another application on the same settings and identity, serving `routers`."""

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def get(self, path: str, who: str = "alice", **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.auth(who), **kwargs)

    async def post(self, path: str, body: Any, who: str = "alice") -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.auth(who))

    async def patch(self, path: str, body: Any, who: str = "alice") -> httpx.Response:
        return await self.client.patch(path, json=body, headers=self.auth(who))

    async def delete(self, path: str, who: str = "alice") -> httpx.Response:
        return await self.client.delete(path, headers=self.auth(who))

    async def order(self, who: str = "alice", **fields: Any) -> httpx.Response:
        """POST /v1/orders: a GTC limit buy of 10 ACME at $100.00 unless told otherwise."""
        body: dict[str, Any] = {
            "symbol": "ACME",
            "side": "buy",
            "type": "limit",
            "price": "100.00",
            "quantity": "10",
        }
        body.update(fields)
        body = {key: value for key, value in body.items() if value is not None}
        return await self.post("/v1/orders", body, who)

    async def run(self, command: Command) -> Outcome:
        """Send a command straight to the core, as another context would."""
        return await self.sequencer.execute(command)


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        argon2_time_cost=1,
        argon2_memory_cost_kib=64,
        argon2_parallelism=1,
        api_docs_enabled=True,
    )


async def _token(identity: Identity, name: str, scopes: set[str], account_id: int | None) -> str:
    issued = await identity.clients.create_client(name=name, scopes=scopes, account_id=account_id)
    request = TokenRequest("client_credentials", issued.client_id, issued.client_secret)
    return (await identity.tokens.grant(request)).token


async def _seed(sequencer: Sequencer) -> dict[str, int]:
    for command in (
        DefineAsset("USD", 2),
        DefineAsset("ACME", 0),
        DefineAsset("ETH", 8),
        listing(),
        eth_listing(),
    ):
        await sequencer.execute(command)
    accounts: dict[str, int] = {}
    for name in ("alice", "bob"):
        result = (await sequencer.execute(OpenAccount())).result
        assert isinstance(result, AccountView)
        accounts[name] = result.account_id
        for asset, amount in (("USD", USD_DEPOSIT), ("ACME", ACME_DEPOSIT), ("ETH", ETH_DEPOSIT)):
            await sequencer.execute(Deposit(result.account_id, asset, amount, f"{name}-{asset}"))
    return accounts


@pytest.fixture
async def api(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    """The trading API over the real core, bus, projector (SQLite) and identity."""
    settings = settings_for(tmp_path)
    await prepare_database(sqlite_url)
    bus: InProcessBus[Outcome] = InProcessBus()
    read_model = open_read_model(sqlite_url, bus)
    journal = InMemoryJournal()
    await journal.open()
    exchange = Exchange()
    sequencer = Sequencer(exchange, journal, SystemClock(), publish=bus.publish)
    await sequencer.start()
    trading = build_trading(sequencer, exchange, read_model)
    await trading.start()
    identity = build_in_memory_identity(settings, kek=os.urandom(32))
    await identity.start()
    accounts = await _seed(sequencer)
    app = create_app(settings, routers=[create_router(trading)], token_verifier=identity.verifier)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        harness = Api(client, exchange, sequencer, trading, accounts)
        harness.app_with = lambda routers: create_app(
            settings, routers=routers, token_verifier=identity.verifier
        )
        harness.tokens = {
            "alice": await _token(identity, "alice", {"read", "trade"}, accounts["alice"]),
            "bob": await _token(identity, "bob", {"read", "trade"}, accounts["bob"]),
            "alice_reader": await _token(identity, "alice-ro", {"read"}, accounts["alice"]),
            "observer": await _token(identity, "observer", {"read"}, None),
        }
        yield harness
    await sequencer.stop()
    await trading.stop()
    await identity.close()
    await journal.close()
