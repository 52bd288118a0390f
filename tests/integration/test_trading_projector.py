"""The projector on a real database: the core's outcomes through the bus into SQL rows."""

import asyncio
from collections.abc import AsyncIterator, Collection
from typing import Any

import pytest
from sqlalchemy import select

from openbell.contracts.commands import AmendOrder, Deposit
from openbell.contracts.enums import OrderStatus
from openbell.contracts.results import OrderView, Outcome, Rejected
from openbell.core.domain.exchange import Exchange
from openbell.platform.bus import InProcessBus
from openbell.platform.db import create_engine, prepare_database
from openbell.shared.ids import OrderId
from openbell.trading.adapters.sql import SqlReadModel
from openbell.trading.adapters.tables import orders, projection, trades
from openbell.trading.application.ports import FillQuery, OrderQuery
from openbell.trading.application.projector import Projector
from openbell.trading.domain.orders import Order, ProjectionChanges

from builders import Market


def replayed(market: Market) -> list[Outcome]:
    """Every outcome of the market's history, its setup included, as the sequencer publishes."""
    exchange = Exchange()
    return [exchange.apply(command, sequence, time) for sequence, time, command in market.log]


def order_id_of(outcome: Outcome) -> int:
    result = outcome.result
    if isinstance(result, Rejected):
        assert result.order is not None
        return result.order.order_id
    assert isinstance(result, OrderView), result
    return result.order_id


class Harness:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self.read_model = SqlReadModel(self.engine)
        self.bus: InProcessBus[Outcome] = InProcessBus()
        self.projector = Projector(self.bus.subscribe("test"), self.read_model)

    async def publish(self, outcomes: list[Outcome]) -> None:
        """Publish as the sequencer does and wait until the read model has it all."""
        self.bus.publish(outcomes)
        assert await self.projector.wait_for(outcomes[-1].sequence, 5)

    async def rows(self, table: Any, *order_by: Any) -> list[dict[str, Any]]:
        async with self.engine.connect() as connection:
            result = await connection.execute(select(table).order_by(*order_by))
            return [dict(row._mapping) for row in result]

    async def order_row(self, order_id: int) -> dict[str, Any]:
        [row] = [r for r in await self.rows(orders, orders.c.order_id) if r["order_id"] == order_id]
        return row


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    await prepare_database(database_url)
    harness = Harness(database_url)
    await harness.projector.start()
    yield harness
    await harness.projector.stop()
    await harness.read_model.close()
    await harness.engine.dispose()


async def test_a_partial_fill_then_a_fill_move_the_maker_row_to_filled(harness):
    market = Market()
    seller, buyer = market.trader(), market.trader()
    resting = market.place(seller, "sell", 10, 10_010)
    market.place(buyer, "buy", 4, 10_010)
    await harness.publish(replayed(market))
    row = await harness.order_row(order_id_of(resting))
    assert (row["status"], row["filled_quantity"]) == ("partially_filled", 4)
    market.place(buyer, "buy", 6, 10_010)
    await harness.publish(replayed(market)[-1:])
    row = await harness.order_row(order_id_of(resting))
    assert (row["status"], row["filled_quantity"], row["filled_amount"]) == (
        "filled",
        10,
        100_100,
    )
    assert row["fees_paid"] == -(-100_100 * 10 // 10_000)  # rounded up


async def test_each_trade_is_stored_once_per_side(harness):
    market = Market()
    seller, buyer = market.trader(), market.trader()
    resting = market.place(seller, "sell", 5, 10_000)
    taking = market.place(buyer, "buy", 5, 10_000)
    await harness.publish(replayed(market))
    rows = await harness.rows(trades, trades.c.liquidity)
    assert [(r["liquidity"], r["side"], r["account_id"], r["order_id"]) for r in rows] == [
        ("maker", "sell", seller, order_id_of(resting)),
        ("taker", "buy", buyer, order_id_of(taking)),
    ]
    assert {r["trade_id"] for r in rows} == {1}
    assert [r["fee"] for r in rows] == [50, 100]


async def test_cancel_amend_ioc_remainder_and_rejection_reach_their_rows(harness):
    market = Market()
    seller, buyer, broke = market.trader(), market.trader(), market.trader(usd=0, shares=0)
    cancelled = market.place(buyer, "buy", 5, 9_900)
    market.cancel(buyer, order_id_of(cancelled))
    amended = market.place(seller, "sell", 10, 10_100)
    market.run(AmendOrder(seller, order_id_of(amended), 7, 10_090))
    market.place(seller, "sell", 2, 10_000)
    ioc = market.place(buyer, "buy", 5, 10_000, tif="IOC")
    rejected = market.place(broke, "buy", 1, 10_000)
    await harness.publish(replayed(market))
    row = await harness.order_row(order_id_of(cancelled))
    assert (row["status"], row["reason"]) == ("cancelled", "requested")
    row = await harness.order_row(order_id_of(amended))
    assert (row["status"], row["price"], row["quantity"]) == ("new", 10_090, 7)
    row = await harness.order_row(order_id_of(ioc))
    assert (row["status"], row["reason"], row["filled_quantity"]) == (
        "cancelled",
        "unfilled_ioc",
        2,
    )
    row = await harness.order_row(order_id_of(rejected))
    assert (row["status"], row["reason"]) == ("rejected", "insufficient_funds")


async def test_a_rejected_client_order_id_can_be_used_again(harness):
    market = Market()
    trader = market.trader(usd=0)
    first = market.place(trader, "buy", 1, 10_000, client_order_id="retry-me")
    market.run(Deposit(trader, "USD", 1_000_000, "top-up"))
    second = market.place(trader, "buy", 1, 10_000, client_order_id="retry-me")
    await harness.publish(replayed(market))
    statuses = {
        r["order_id"]: r["status"]
        for r in await harness.rows(orders, orders.c.order_id)
        if r["client_order_id"] == "retry-me"
    }
    assert statuses == {order_id_of(first): "rejected", order_id_of(second): "new"}


async def test_the_checkpoint_is_the_last_applied_sequence(harness):
    market = Market()
    market.place(market.trader(), "buy", 1, 10_000)
    outcomes = replayed(market)
    await harness.publish(outcomes)
    [row] = await harness.rows(projection, projection.c.name)
    assert row["sequence"] == outcomes[-1].sequence
    assert await harness.read_model.checkpoint() == outcomes[-1].sequence
    assert harness.projector.projected_sequence == outcomes[-1].sequence


async def test_applying_the_same_outcomes_again_changes_nothing(harness):
    market = Market()
    seller, buyer = market.trader(), market.trader()
    market.place(seller, "sell", 5, 10_000)
    market.place(buyer, "buy", 3, 10_000)
    outcomes = replayed(market)
    await harness.publish(outcomes)
    before = (await harness.rows(orders, orders.c.order_id), await harness.rows(trades))
    assert await harness.projector.project(outcomes) == outcomes[-1].sequence
    assert await harness.projector.project(outcomes[2:5]) == outcomes[-1].sequence
    after = (await harness.rows(orders, orders.c.order_id), await harness.rows(trades))
    assert after == before


async def test_a_restarted_projector_skips_what_it_applied_and_continues(harness, database_url):
    market = Market()
    seller, buyer = market.trader(), market.trader()
    resting = market.place(seller, "sell", 5, 10_000)
    await harness.publish(replayed(market))
    await harness.projector.stop()
    market.place(buyer, "buy", 2, 10_000)
    restarted = Harness(database_url)
    try:
        await restarted.projector.start()
        assert restarted.projector.projected_sequence == len(replayed(market)) - 1
        await restarted.publish(replayed(market))  # the root replays from the start
        row = await restarted.order_row(order_id_of(resting))
        assert (row["status"], row["filled_quantity"]) == ("partially_filled", 2)
        assert len(await restarted.rows(trades)) == 2
    finally:
        await restarted.projector.stop()
        await restarted.read_model.close()
        await restarted.engine.dispose()


async def test_outcomes_published_together_are_applied_in_one_transaction(database_url):
    await prepare_database(database_url)
    engine = create_engine(database_url)
    store = CountingStore(SqlReadModel(engine))
    bus: InProcessBus[Outcome] = InProcessBus()
    projector = Projector(bus.subscribe("test"), store)
    market = Market()
    for _ in range(20):
        market.trader()
    outcomes = replayed(market)
    bus.publish(outcomes)  # queued before the projector runs: one chunk
    await projector.start()
    try:
        assert await projector.wait_for(outcomes[-1].sequence, 5)
        assert store.transactions == 1
    finally:
        await projector.stop()
        await store.inner.close()
        await engine.dispose()


async def test_a_failed_write_is_retried_not_dropped(database_url):
    await prepare_database(database_url)
    engine = create_engine(database_url)
    store = CountingStore(SqlReadModel(engine), failures=2)
    bus: InProcessBus[Outcome] = InProcessBus()
    projector = Projector(bus.subscribe("test"), store, retry_seconds=0.01)
    market = Market()
    trader = market.trader()
    placed = market.place(trader, "buy", 1, 10_000)
    await projector.start()
    try:
        bus.publish(replayed(market))
        assert await projector.wait_for(placed.sequence, 5)
        assert projector.failures == 2
        assert await store.inner.order(trader, order_id_of(placed))
    finally:
        await projector.stop()
        await store.inner.close()
        await engine.dispose()


async def test_reads_wait_for_the_projection_but_not_forever(harness):
    assert not await harness.projector.wait_for(1, 0.05)
    market = Market()
    outcomes = replayed(market)
    waiting = asyncio.create_task(harness.projector.wait_for(outcomes[-1].sequence, 5))
    await asyncio.sleep(0)
    harness.bus.publish(outcomes)
    assert await waiting


async def test_a_gap_in_the_outcomes_is_counted_and_the_rest_applied(harness):
    market = Market()
    trader = market.trader()
    placed = market.place(trader, "buy", 1, 10_000)
    outcomes = replayed(market)
    await harness.publish(outcomes[3:])
    assert harness.projector.gaps == 1
    found = await harness.read_model.orders(OrderQuery(trader))
    assert [o.order_id for o in found] == [order_id_of(placed)]
    assert await harness.read_model.fills(FillQuery(trader)) == []


async def test_orders_it_wrote_are_not_read_back_from_the_store(database_url):
    await prepare_database(database_url)
    engine = create_engine(database_url)
    store = CountingStore(SqlReadModel(engine))
    projector = Projector(InProcessBus[Outcome]().subscribe("test"), store)
    market = Market()
    seller, buyer = market.trader(), market.trader()
    resting = market.place(seller, "sell", 10, 10_010)
    try:
        await projector.project(replayed(market))
        market.place(buyer, "buy", 4, 10_010)
        market.cancel(seller, order_id_of(resting))
        await projector.project(replayed(market)[-2:])
        assert store.loads == 0
        order = await store.inner.order(seller, order_id_of(resting))
        assert order is not None
        assert (order.status.value, order.filled_quantity) == ("cancelled", 4)
    finally:
        await store.inner.close()
        await engine.dispose()


async def test_a_projector_whose_checkpoint_moved_rereads_the_store_and_applies_only_the_rest(
    database_url,
):
    await prepare_database(database_url)
    engine = create_engine(database_url)
    store = SqlReadModel(engine)
    first = Projector(InProcessBus[Outcome]().subscribe("a"), store)
    second = Projector(InProcessBus[Outcome]().subscribe("b"), store)
    market = Market()
    seller, buyer = market.trader(), market.trader()
    resting = market.place(seller, "sell", 10, 10_010)
    try:
        await second.project(replayed(market))
        market.place(buyer, "buy", 4, 10_010)
        await first.project(replayed(market))  # refused from 0, so it reads, then applies the fill
        market.place(buyer, "buy", 6, 10_010)
        assert await second.project(replayed(market)) == len(market.log)
        async with engine.connect() as connection:
            fills = (await connection.execute(select(trades))).all()
        assert len(fills) == 4  # two trades, one row per side, none twice
        order = await store.order(seller, order_id_of(resting))
        assert order is not None
        assert (order.status.value, order.filled_quantity) == ("filled", 10)
        assert second.projected_sequence == await store.checkpoint() == len(market.log)
    finally:
        await store.close()
        await engine.dispose()


async def test_it_remembers_open_and_recently_finished_orders_as_written(database_url):
    await prepare_database(database_url)
    engine = create_engine(database_url)
    store = SqlReadModel(engine)
    projector = Projector(InProcessBus[Outcome]().subscribe("test"), store, remember_finished=2)
    market = Market()
    trader = market.trader()
    placed = [market.place(trader, "buy", 1, 9_990 + n) for n in range(4)]
    for outcome in placed[:3]:
        market.cancel(trader, order_id_of(outcome))
    try:
        await projector.project(replayed(market))
        ids = [order_id_of(outcome) for outcome in placed]
        for order_id in ids[1:]:
            assert projector.recent_order(order_id) == await store.order(trader, order_id)
        assert projector.recent_order(ids[0]) is None  # finished before the last two
        remembered = projector.recent_order(ids[3])
        assert remembered is not None
        remembered.status = OrderStatus.FILLED  # a copy: the projector's stays as written
        assert projector.recent_order(ids[3]) == await store.order(trader, ids[3])
    finally:
        await store.close()
        await engine.dispose()


class CountingStore:
    """A projection store that counts writes and can fail the first few."""

    def __init__(self, inner: SqlReadModel, failures: int = 0) -> None:
        self.inner = inner
        self.transactions = 0
        self.loads = 0
        self._failures = failures

    async def checkpoint(self) -> int:
        return await self.inner.checkpoint()

    async def load_orders(self, order_ids: Collection[OrderId]) -> dict[OrderId, Order]:
        self.loads += 1
        return await self.inner.load_orders(order_ids)

    async def save(self, changes: ProjectionChanges, *, after: int, sequence: int) -> bool:
        self.transactions += 1
        if self._failures:
            self._failures -= 1
            raise ConnectionError("database unreachable")
        return await self.inner.save(changes, after=after, sequence=sequence)


async def test_a_stopped_projector_does_not_make_readers_wait(harness):
    await harness.projector.stop()
    started = asyncio.get_running_loop().time()
    assert not await harness.projector.wait_for(1, 5)
    assert asyncio.get_running_loop().time() - started < 1
