"""The order read model's contract: the in-memory adapter, SQLite and PostgreSQL pass it alike."""

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from openbell.contracts.enums import (
    Liquidity,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from openbell.platform.db import create_engine, prepare_database
from openbell.shared.errors import ConflictError
from openbell.trading.adapters import tables  # noqa: F401  # registers the tables
from openbell.trading.adapters.memory import InMemoryReadModel
from openbell.trading.adapters.sql import SqlReadModel
from openbell.trading.application.ports import FillQuery, OrderQuery, SequenceQuery
from openbell.trading.domain.orders import Fill, Order, ProjectionChanges

ALICE, BOB = 1, 2
MAX_INT64 = 2**63 - 1


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend_url(request: pytest.FixtureRequest) -> str | None:
    """None for the in-memory adapter, else a fresh database of each backend in turn."""
    if request.param == "memory":
        return None
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
async def read_model(backend_url: str | None) -> AsyncIterator[object]:
    if backend_url is None:
        yield InMemoryReadModel()
        return
    url = backend_url
    await prepare_database(url)
    engine = create_engine(url)
    model = SqlReadModel(engine)
    try:
        yield model
    finally:
        await model.close()
        await engine.dispose()


def order(order_id: int, account_id: int = ALICE, **fields) -> Order:
    values: dict[str, Any] = {
        "order_id": order_id,
        "account_id": account_id,
        "client_order_id": f"c{order_id}",
        "symbol": "ACME",
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "price": 10_000,
        "quantity": 10,
        "time_in_force": TimeInForce.GTC,
        "post_only": False,
        "self_trade_prevention": SelfTradePrevention.CANCEL_TAKER,
        "created_at": 1_700_000_000_000_000_000 + order_id,
        "updated_at": 1_700_000_000_000_000_000 + order_id,
        "sequence": order_id,
        "original_price": 10_000,
        "original_quantity": 10,
    }
    values.update(fields)
    return Order(**values)


def fill(trade_id: int, order_id: int, account_id: int = ALICE, **fields) -> Fill:
    values: dict[str, Any] = {
        "trade_id": trade_id,
        "account_id": account_id,
        "order_id": order_id,
        "symbol": "ACME",
        "side": Side.BUY,
        "price": 10_000,
        "quantity": 1,
        "quote_amount": 10_000,
        "fee": 20,
        "liquidity": Liquidity.TAKER,
        "executed_at": 1_700_000_000_000_000_000 + trade_id,
        "sequence": trade_id,
    }
    values.update(fields)
    return Fill(**values)


def changes_of(*, created=(), updated=(), fills=()) -> ProjectionChanges:
    return ProjectionChanges(
        created={o.order_id: o for o in created},
        updated={o.order_id: o for o in updated},
        fills=list(fills),
    )


async def save(read_model, sequence: int, *, created=(), updated=(), fills=()) -> None:
    """Save as the projector does: from the checkpoint the store is at."""
    changes = changes_of(created=created, updated=updated, fills=fills)
    after = await read_model.checkpoint()
    assert await read_model.save(changes, after=after, sequence=sequence)


async def test_an_empty_read_model_is_at_checkpoint_zero_and_holds_nothing(read_model):
    assert await read_model.checkpoint() == 0
    assert await read_model.order(ALICE, 1) is None
    assert await read_model.orders(OrderQuery(ALICE)) == []
    assert await read_model.fills(FillQuery(ALICE)) == []
    assert await read_model.load_orders([1, 2]) == {}


async def test_saved_changes_and_the_checkpoint_are_read_back(read_model):
    placed = order(1, status=OrderStatus.PARTIALLY_FILLED, filled_quantity=4, reason=None)
    await save(read_model, 7, created=[placed], fills=[fill(1, 1)])
    assert await read_model.checkpoint() == 7
    assert await read_model.order(ALICE, 1) == placed
    assert await read_model.fills(FillQuery(ALICE)) == [fill(1, 1)]
    assert await read_model.load_orders([1, 99]) == {1: placed}


async def test_updates_replace_what_changes_on_an_order(read_model):
    await save(read_model, 1, created=[order(1)])
    changed = order(
        1,
        price=10_010,
        quantity=8,
        status=OrderStatus.CANCELLED,
        filled_quantity=3,
        filled_amount=30_000,
        fees_paid=60,
        reason="requested",
        updated_at=1_800_000_000_000_000_000,
        sequence=2,
    )
    await save(read_model, 2, updated=[changed])
    assert await read_model.order(ALICE, 1) == changed
    # What the order was placed with stays as it was stored.
    stored = await read_model.order(ALICE, 1)
    assert (stored.original_price, stored.original_quantity) == (10_000, 10)


async def test_an_order_is_visible_only_to_its_account(read_model):
    await save(read_model, 1, created=[order(1, BOB)], fills=[fill(1, 1, BOB)])
    assert await read_model.order(ALICE, 1) is None
    assert await read_model.orders(OrderQuery(ALICE)) == []
    assert await read_model.fills(FillQuery(ALICE)) == []
    assert await read_model.fills(FillQuery(ALICE, order_id=1)) == []
    assert (await read_model.order(BOB, 1)) is not None


async def test_orders_list_newest_first_in_pages_before_a_cursor(read_model):
    await save(read_model, 1, created=[order(i) for i in range(1, 8)])
    first = await read_model.orders(OrderQuery(ALICE, limit=3))
    assert [o.order_id for o in first] == [7, 6, 5]
    second = await read_model.orders(OrderQuery(ALICE, before_order_id=5, limit=3))
    assert [o.order_id for o in second] == [4, 3, 2]
    last = await read_model.orders(OrderQuery(ALICE, before_order_id=2, limit=3))
    assert [o.order_id for o in last] == [1]


async def test_orders_filter_by_symbol_and_by_open_status(read_model):
    await save(
        read_model,
        1,
        created=[
            order(1, status=OrderStatus.NEW),
            order(2, status=OrderStatus.PARTIALLY_FILLED, symbol="ETH-USD"),
            order(3, status=OrderStatus.FILLED),
            order(4, status=OrderStatus.CANCELLED),
            order(5, status=OrderStatus.REJECTED, reason="insufficient_funds"),
        ],
    )
    open_orders = await read_model.orders(OrderQuery(ALICE, open_only=True))
    assert [o.order_id for o in open_orders] == [2, 1]
    acme = await read_model.orders(OrderQuery(ALICE, symbol="ACME"))
    assert [o.order_id for o in acme] == [5, 4, 3, 1]
    both = await read_model.orders(OrderQuery(ALICE, open_only=True, symbol="ETH-USD"))
    assert [o.order_id for o in both] == [2]


async def test_fills_list_newest_first_and_filter_by_symbol_order_and_cursor(read_model):
    await save(
        read_model,
        1,
        created=[order(1), order(2, symbol="ETH-USD")],
        fills=[
            fill(1, 1),
            fill(2, 2, symbol="ETH-USD", liquidity=Liquidity.MAKER, side=Side.SELL),
            fill(3, 1),
            fill(3, 9, BOB, liquidity=Liquidity.MAKER, side=Side.SELL),
        ],
    )
    assert [f.trade_id for f in await read_model.fills(FillQuery(ALICE))] == [3, 2, 1]
    assert [f.trade_id for f in await read_model.fills(FillQuery(ALICE, order_id=1))] == [3, 1]
    eth = await read_model.fills(FillQuery(ALICE, symbol="ETH-USD"))
    assert eth == [fill(2, 2, symbol="ETH-USD", liquidity=Liquidity.MAKER, side=Side.SELL)]
    page = await read_model.fills(FillQuery(ALICE, before_trade_id=3, limit=1))
    assert [f.trade_id for f in page] == [2]
    [bobs] = await read_model.fills(FillQuery(BOB))
    assert (bobs.trade_id, bobs.liquidity) == (3, Liquidity.MAKER)


async def test_a_client_order_id_cannot_name_two_live_orders_of_one_account(read_model):
    await save(read_model, 1, created=[order(1, client_order_id="same")])
    with pytest.raises(ConflictError):
        await save(read_model, 2, created=[order(2, client_order_id="same")])
    assert await read_model.checkpoint() == 1
    assert await read_model.order(ALICE, 2) is None


async def test_a_rejected_order_leaves_its_client_order_id_free_for_reuse(read_model):
    rejected = order(1, client_order_id="again", status=OrderStatus.REJECTED, reason="x")
    await save(read_model, 1, created=[rejected])
    await save(read_model, 2, created=[order(2, client_order_id="again")])
    await save(
        read_model,
        3,
        created=[order(3, client_order_id="again", status=OrderStatus.REJECTED, reason="y")],
    )
    assert {o.order_id for o in await read_model.orders(OrderQuery(ALICE))} == {1, 2, 3}


async def test_the_same_client_order_id_in_two_accounts_is_two_orders(read_model):
    await save(
        read_model,
        1,
        created=[order(1, ALICE, client_order_id="k"), order(2, BOB, client_order_id="k")],
    )
    assert (await read_model.order(BOB, 2)) is not None


async def test_a_transaction_that_fails_leaves_nothing_behind(read_model):
    await save(read_model, 1, created=[order(1)])
    with pytest.raises(ConflictError):
        await save(read_model, 2, created=[order(2)], fills=[fill(1, 2)] * 2)
    assert await read_model.checkpoint() == 1
    assert await read_model.order(ALICE, 2) is None
    assert await read_model.fills(FillQuery(ALICE)) == []


async def test_a_save_from_a_checkpoint_that_has_moved_writes_nothing(read_model):
    await save(read_model, 3, created=[order(1)])
    stale = changes_of(created=[order(2)], updated=[order(1, status=OrderStatus.CANCELLED)])
    assert not await read_model.save(stale, after=1, sequence=5)
    assert await read_model.checkpoint() == 3
    assert await read_model.order(ALICE, 2) is None
    assert (await read_model.order(ALICE, 1)) == order(1)


async def test_the_first_save_starts_from_checkpoint_zero(read_model):
    assert not await read_model.save(changes_of(created=[order(1)]), after=4, sequence=5)
    assert await read_model.checkpoint() == 0
    assert await read_model.order(ALICE, 1) is None
    assert await read_model.save(changes_of(created=[order(1)]), after=0, sequence=5)
    assert await read_model.checkpoint() == 5


async def test_of_two_writers_from_one_checkpoint_only_the_first_writes(read_model):
    await save(read_model, 1, created=[order(1)])
    first = changes_of(updated=[order(1, status=OrderStatus.FILLED, filled_quantity=10)])
    second = changes_of(updated=[order(1, status=OrderStatus.CANCELLED, reason="requested")])
    assert await read_model.save(first, after=1, sequence=2)
    assert not await read_model.save(second, after=1, sequence=2)
    assert (await read_model.order(ALICE, 1)).status is OrderStatus.FILLED
    assert await read_model.checkpoint() == 2


async def test_many_orders_load_in_one_call(read_model):
    orders = [order(i, client_order_id=f"k{i}") for i in range(1, 1_201)]
    await save(read_model, 1, created=orders)
    loaded = await read_model.load_orders(range(1, 1_301))
    assert sorted(loaded) == list(range(1, 1_201))


async def test_the_largest_64_bit_values_round_trip(read_model):
    huge = order(
        MAX_INT64,
        price=MAX_INT64,
        quantity=MAX_INT64,
        status=OrderStatus.REJECTED,
        reason="r",
        created_at=MAX_INT64,
        updated_at=MAX_INT64,
        sequence=MAX_INT64,
        original_price=MAX_INT64,
        original_quantity=MAX_INT64,
    )
    await save(read_model, MAX_INT64, created=[huge])
    assert await read_model.order(ALICE, MAX_INT64) == huge
    assert await read_model.checkpoint() == MAX_INT64


async def test_a_market_order_has_no_price(read_model):
    market = order(
        1,
        order_type=OrderType.MARKET,
        price=None,
        original_price=None,
        time_in_force=TimeInForce.IOC,
    )
    await save(read_model, 1, created=[market])
    assert (await read_model.order(ALICE, 1)) == market


async def test_returned_orders_are_copies_the_caller_cannot_corrupt(read_model):
    await save(read_model, 1, created=[order(1)])
    first = await read_model.order(ALICE, 1)
    assert first is not None
    first.status = OrderStatus.FILLED
    assert (await read_model.order(ALICE, 1)) == replace(first, status=OrderStatus.NEW)


async def test_closing_twice_is_harmless(read_model):
    await save(read_model, 1, created=[order(1)])
    await read_model.close()
    await read_model.close()


async def test_a_save_larger_than_one_statement_is_written_whole(read_model):
    placed = [order(i, client_order_id=f"k{i}") for i in range(1, 1_202)]
    await save(read_model, 1, created=placed)
    filled = [replace(o, status=OrderStatus.FILLED, filled_quantity=10) for o in placed]
    await save(read_model, 2, updated=filled, fills=[fill(o.order_id, o.order_id) for o in placed])
    assert await read_model.load_orders(range(1, 1_202)) == {o.order_id: o for o in filled}
    assert len(await read_model.fills(FillQuery(ALICE, limit=2_000))) == 1_201


async def test_orders_after_a_sequence_come_by_sequence_then_id(read_model):
    await save(
        read_model,
        9,
        created=[
            order(1, sequence=5),
            order(2, sequence=3),
            order(3, sequence=5),
            order(4, sequence=7, symbol="ETH-USD"),
            order(5, BOB, sequence=6),
            order(6, sequence=2),
        ],
    )
    after_two = await read_model.orders_after(SequenceQuery(ALICE, 2))
    assert [(o.sequence, o.order_id) for o in after_two] == [(3, 2), (5, 1), (5, 3), (7, 4)]
    limited = await read_model.orders_after(SequenceQuery(ALICE, 2, limit=2))
    assert [o.order_id for o in limited] == [2, 1]
    through = await read_model.orders_after(SequenceQuery(ALICE, 3, through_sequence=5))
    assert [o.order_id for o in through] == [1, 3]
    unlimited = await read_model.orders_after(SequenceQuery(ALICE, 0, limit=None))
    assert [o.order_id for o in unlimited] == [6, 2, 1, 3, 4]
    eth = await read_model.orders_after(SequenceQuery(ALICE, 0, symbol="ETH-USD"))
    assert [o.order_id for o in eth] == [4]
    assert await read_model.orders_after(SequenceQuery(ALICE, 7)) == []
    [bobs] = await read_model.orders_after(SequenceQuery(BOB, 0))
    assert bobs == order(5, BOB, sequence=6)


async def test_an_updated_order_moves_to_its_latest_sequence(read_model):
    await save(read_model, 2, created=[order(1, sequence=1), order(2, sequence=2)])
    await save(read_model, 3, updated=[order(1, sequence=3, status=OrderStatus.CANCELLED)])
    after = await read_model.orders_after(SequenceQuery(ALICE, 1))
    assert [(o.order_id, o.sequence) for o in after] == [(2, 2), (1, 3)]


async def test_fills_after_a_sequence_come_by_sequence_then_trade(read_model):
    await save(
        read_model,
        9,
        created=[order(1), order(2, symbol="ETH-USD")],
        fills=[
            fill(3, 1, sequence=4),
            fill(1, 1, sequence=4, liquidity=Liquidity.MAKER),
            fill(2, 2, sequence=6, symbol="ETH-USD"),
            fill(4, 1, sequence=2),
            fill(5, 9, BOB, sequence=5),
        ],
    )
    after = await read_model.fills_after(SequenceQuery(ALICE, 2))
    assert [(f.sequence, f.trade_id) for f in after] == [(4, 1), (4, 3), (6, 2)]
    by_order = await read_model.fills_after(SequenceQuery(ALICE, 0, order_id=1, limit=None))
    assert [f.trade_id for f in by_order] == [4, 1, 3]
    through = await read_model.fills_after(SequenceQuery(ALICE, 2, through_sequence=4, limit=1))
    assert [f.trade_id for f in through] == [1]
    eth = await read_model.fills_after(SequenceQuery(ALICE, 0, symbol="ETH-USD"))
    assert [f.trade_id for f in eth] == [2]
    assert [f.trade_id for f in await read_model.fills_after(SequenceQuery(BOB, 0))] == [5]


async def test_an_order_is_found_by_client_order_id_newest_first_rejected_ones_too(read_model):
    rejected = {"status": OrderStatus.REJECTED, "reason": "insufficient_funds"}
    await save(read_model, 1, created=[order(1, client_order_id="k", **rejected)])
    first = await read_model.order_by_client_id(ALICE, "k")
    assert first is not None
    assert first.order_id == 1
    await save(read_model, 2, created=[order(2, client_order_id="k"), order(3, BOB)])
    found = await read_model.order_by_client_id(ALICE, "k")
    assert found == order(2, client_order_id="k")
    assert await read_model.order_by_client_id(BOB, "k") is None
    assert await read_model.order_by_client_id(ALICE, "c3") is None
    assert await read_model.order_by_client_id(ALICE, "K") is None
