"""Start-up refuses a past in which a record that follows the journal is ahead of it.

Each test trades on the platform as `openbell up` wires it, stops, then damages the
stores the way a restore of mismatched files or a lost write cache would: the
journal's newest rows are gone while the read model (or a snapshot, or identity)
still holds what they produced. SQLite and PostgreSQL alike.
"""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from openbell.app import Platform, start_platform
from openbell.cli import app
from openbell.consistency import InconsistentPastError
from openbell.contracts.commands import PlaceOrder
from openbell.contracts.enums import OrderType, Side, TimeInForce
from openbell.contracts.results import OrderView
from openbell.demo import seed_demo
from openbell.platform.db import create_engine
from openbell.platform.settings import Settings
from openbell.rebuild import rebuild_read_model
from openbell.shared.ids import AccountId, ClientOrderId, OrderId, Symbol
from openbell.shared.money import Price, Quantity

ALICE, BOB = AccountId(1), AccountId(2)
ORDER_IDS_AHEAD = (
    "the trading read model holds order id 2 but the journal has handed out order ids "
    "up to 0 (2 ahead)"
)
TRADE_IDS_AHEAD = (
    "the trading read model holds trade id 1 but the journal has handed out trade ids "
    "up to 0 (1 ahead)"
)


def checkpoint_ahead(journal_end: int) -> str:
    return (
        f"the trading read model is at sequence {journal_end + 2} "
        f"but the journal ends at {journal_end} (2 ahead)"
    )


def order(account: AccountId, side: Side, client_order_id: str, quantity: int) -> PlaceOrder:
    return PlaceOrder(
        account,
        ClientOrderId(client_order_id),
        Symbol("ACME"),
        side,
        OrderType.LIMIT,
        Price(15_000),
        Quantity(quantity),
        TimeInForce.GTC,
    )


async def trade(platform: Platform) -> None:
    """Alice rests a sell of 10; Bob buys 4 of it: two orders, one trade."""
    for command in (order(ALICE, Side.SELL, "a-1", 10), order(BOB, Side.BUY, "b-1", 4)):
        outcome = await platform.core.sequencer.execute(command)
        assert isinstance(outcome.result, OrderView)


async def a_past_with_trades(settings: Settings) -> int:
    """Seed the demo market, trade, stop; return the journal's end before the trades."""
    platform = await start_platform(settings)
    try:
        await seed_demo(platform.core, platform.identity, settings.data_dir)
        before_trades = platform.core.sequencer.committed_sequence
        await trade(platform)
    finally:
        await platform.stop()
    return before_trades


async def execute(url: str, *statements: str, **values: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement), values)
    finally:
        await engine.dispose()


async def lose_the_journal_after(url: str, sequence: int, *, snapshots_too: bool = True) -> None:
    """The journal's rows after `sequence` are gone (and, by default, the snapshots after it)."""
    statements = ["DELETE FROM core_journal WHERE first_sequence > :sequence"]
    if snapshots_too:
        statements.append("DELETE FROM core_snapshots WHERE sequence > :sequence")
    await execute(url, *statements, sequence=sequence)


async def journal_and_snapshots(url: str) -> tuple[object, ...]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            journal = await connection.execute(text("SELECT max(last_sequence) FROM core_journal"))
            snapshots = await connection.execute(text("SELECT count(*) FROM core_snapshots"))
            return journal.scalar(), snapshots.scalar()
    finally:
        await engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=database_url)


async def refusal(settings: Settings) -> list[str]:
    with pytest.raises(InconsistentPastError) as refused:
        await start_platform(settings)
    return [str(finding) for finding in refused.value.findings]


async def test_a_read_model_ahead_of_a_journal_that_lost_its_tail_is_refused(settings):
    kept = await a_past_with_trades(settings)
    await lose_the_journal_after(settings.resolved_database_url, kept)

    assert await refusal(settings) == [checkpoint_ahead(kept), ORDER_IDS_AHEAD, TRADE_IDS_AHEAD]


async def test_read_model_ids_ahead_of_the_journal_are_refused_whatever_the_checkpoint(settings):
    kept = await a_past_with_trades(settings)
    url = settings.resolved_database_url
    await lose_the_journal_after(url, kept)
    await execute(url, "UPDATE trading_projection SET sequence = :sequence", sequence=kept)

    assert await refusal(settings) == [ORDER_IDS_AHEAD, TRADE_IDS_AHEAD]


async def test_a_snapshot_ahead_of_the_journal_is_refused_with_the_read_model(settings):
    kept = await a_past_with_trades(settings)
    await lose_the_journal_after(settings.resolved_database_url, kept, snapshots_too=False)

    snapshot_ahead = (
        f"the newest snapshot is at sequence {kept + 2} but the journal ends at {kept} (2 ahead)"
    )
    assert await refusal(settings) == [snapshot_ahead, checkpoint_ahead(kept)]


async def test_identity_referring_to_an_account_the_journal_never_opened_is_refused(settings):
    await a_past_with_trades(settings)
    platform = await start_platform(settings)
    try:
        await platform.identity.clients.create_client(
            name="desk", scopes=["read", "trade"], account_id=7
        )
    finally:
        await platform.stop()

    assert await refusal(settings) == [
        "identity holds account id 7 but the journal has handed out account ids up to 2 (5 ahead)"
    ]


async def test_a_refused_start_writes_nothing_and_refuses_again(settings):
    kept = await a_past_with_trades(settings)
    url = settings.resolved_database_url
    await lose_the_journal_after(url, kept)
    damaged = await journal_and_snapshots(url)

    first = await refusal(settings)

    assert await journal_and_snapshots(url) == damaged
    assert await refusal(settings) == first


async def test_the_rebuilt_read_model_follows_the_journal_and_ids_are_never_shared(settings):
    kept = await a_past_with_trades(settings)
    await lose_the_journal_after(settings.resolved_database_url, kept)

    rebuilt = await rebuild_read_model(settings)

    assert (rebuilt.before.checkpoint, rebuilt.before.highest_order_id) == (kept + 2, 2)
    assert (rebuilt.after.checkpoint, rebuilt.after.highest_order_id) == (kept, 0)
    assert rebuilt.journal_end == kept
    platform = await start_platform(settings)
    try:
        placed = await platform.trading.orders.place_order(order(ALICE, Side.BUY, "a-2", 3))
        read_back = await platform.trading.orders.order(ALICE, OrderId(1))
    finally:
        await platform.stop()
    assert placed.order.order_id == read_back.order_id == 1
    assert (read_back.side, read_back.quantity, read_back.filled_quantity) == (Side.BUY, 3, 0)


def test_the_recover_command_says_what_it_rebuilt(tmp_path):
    settings = Settings(data_dir=tmp_path / "var")
    kept = asyncio.run(a_past_with_trades(settings))
    asyncio.run(lose_the_journal_after(settings.resolved_database_url, kept))

    result = CliRunner().invoke(
        app, ["recover", "--rebuild-read-model", "--data-dir", str(settings.data_dir)]
    )

    assert result.exit_code == 0, result.output
    assert f"was at sequence {kept + 2} (order ids up to 2, trade ids up to 1)" in result.output
    assert f"it is at sequence {kept} (order ids up to 0, trade ids up to 0)" in result.output


def test_the_recover_command_needs_to_be_told_what_to_recover(tmp_path):
    result = CliRunner().invoke(app, ["recover", "--data-dir", str(tmp_path)])

    assert result.exit_code == 2
