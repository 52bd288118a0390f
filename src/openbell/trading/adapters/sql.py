"""The read model in SQL through SQLAlchemy async: SQLite (aiosqlite) and PostgreSQL (asyncpg).

Projection writes to a SQLite file go through `SqliteProjectionWriter` (see there why);
everything else goes through the engine.
"""

from collections.abc import Collection
from typing import Any, Final

from sqlalchemy import Column, ColumnElement, Select, and_, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openbell.platform.db import is_sqlite, sqlite_path
from openbell.shared.errors import ConflictError
from openbell.shared.ids import AccountId, ClientOrderId, OrderId, SequenceNumber
from openbell.trading.adapters.rows import (
    fill_from_row,
    fill_row,
    order_from_row,
    order_rows,
    order_updates,
)
from openbell.trading.adapters.sql_extent import empty_read_model, read_extent, reading
from openbell.trading.adapters.sqlite import SqliteProjectionWriter
from openbell.trading.adapters.tables import orders, projection, trades
from openbell.trading.application.ports import (
    FillQuery,
    OrderQuery,
    ReadModelExtent,
    SequenceQuery,
)
from openbell.trading.domain.orders import OPEN_STATUSES, Fill, Order, ProjectionChanges

PROJECTION_NAME: Final = "trading"
_IN_CHUNK: Final = 500
"""Ids per IN list: well below every driver's limit on bound parameters."""
_OPEN: Final = tuple(sorted(status.value for status in OPEN_STATUSES))


class SqlReadModel:
    """Orders, fills and the projection checkpoint in SQL tables; queries and projection writes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = _sqlite_writer(engine)

    # --- queries ----------------------------------------------------------------

    async def order(self, account_id: AccountId, order_id: OrderId) -> Order | None:
        statement = select(orders).where(
            orders.c.account_id == account_id, orders.c.order_id == order_id
        )
        async with reading(self._engine) as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else order_from_row(row._mapping)

    async def order_by_client_id(
        self, account_id: AccountId, client_order_id: ClientOrderId
    ) -> Order | None:
        statement = (
            select(orders)
            .where(orders.c.account_id == account_id, orders.c.client_order_id == client_order_id)
            .order_by(orders.c.order_id.desc())
            .limit(1)
        )
        async with reading(self._engine) as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else order_from_row(row._mapping)

    async def orders_after(self, query: SequenceQuery) -> list[Order]:
        conditions = _after(orders.c.account_id, orders.c.sequence, query)
        if query.symbol is not None:
            conditions.append(orders.c.symbol == query.symbol)
        statement = _limited(
            select(orders).where(and_(*conditions)).order_by(orders.c.sequence, orders.c.order_id),
            query,
        )
        async with reading(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [order_from_row(row._mapping) for row in rows]

    async def fills_after(self, query: SequenceQuery) -> list[Fill]:
        conditions = _after(trades.c.account_id, trades.c.sequence, query)
        if query.symbol is not None:
            conditions.append(trades.c.symbol == query.symbol)
        if query.order_id is not None:
            conditions.append(trades.c.order_id == query.order_id)
        order = (trades.c.sequence, trades.c.trade_id, trades.c.liquidity)
        statement = _limited(select(trades).where(and_(*conditions)).order_by(*order), query)
        async with reading(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [fill_from_row(row._mapping) for row in rows]

    async def orders(self, query: OrderQuery) -> list[Order]:
        conditions: list[ColumnElement[bool]] = [orders.c.account_id == query.account_id]
        if query.open_only:
            conditions.append(orders.c.status.in_(_OPEN))
        if query.symbol is not None:
            conditions.append(orders.c.symbol == query.symbol)
        if query.before_order_id is not None:
            conditions.append(orders.c.order_id < query.before_order_id)
        statement = (
            select(orders).where(and_(*conditions)).order_by(orders.c.order_id.desc())
        ).limit(query.limit)
        async with reading(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [order_from_row(row._mapping) for row in rows]

    async def fills(self, query: FillQuery) -> list[Fill]:
        conditions: list[ColumnElement[bool]] = [trades.c.account_id == query.account_id]
        if query.symbol is not None:
            conditions.append(trades.c.symbol == query.symbol)
        if query.order_id is not None:
            conditions.append(trades.c.order_id == query.order_id)
        if query.before_trade_id is not None:
            conditions.append(trades.c.trade_id < query.before_trade_id)
        statement = (
            select(trades)
            .where(and_(*conditions))
            .order_by(trades.c.trade_id.desc(), trades.c.liquidity)
            .limit(query.limit)
        )
        async with reading(self._engine) as connection:
            rows = (await connection.execute(statement)).all()
        return [fill_from_row(row._mapping) for row in rows]

    # --- projection -------------------------------------------------------------

    async def checkpoint(self) -> SequenceNumber:
        statement = select(projection.c.sequence).where(projection.c.name == PROJECTION_NAME)
        async with self._engine.connect() as connection:
            sequence = (await connection.execute(statement)).scalar()
        return SequenceNumber(int(sequence or 0))

    async def load_orders(self, order_ids: Collection[OrderId]) -> dict[OrderId, Order]:
        found: dict[OrderId, Order] = {}
        ids = sorted(order_ids)
        async with self._engine.connect() as connection:
            for start in range(0, len(ids), _IN_CHUNK):
                statement = select(orders).where(
                    orders.c.order_id.in_(ids[start : start + _IN_CHUNK])
                )
                for row in (await connection.execute(statement)).all():
                    order = order_from_row(row._mapping)
                    found[order.order_id] = order
        return found

    async def save(
        self, changes: ProjectionChanges, *, after: SequenceNumber, sequence: SequenceNumber
    ) -> bool:
        """Write the changes and move the checkpoint from `after` to `sequence`, or nothing."""
        if self._writer is not None:
            return await self._writer.save(changes, after=after, sequence=sequence)
        try:
            async with self._engine.begin() as connection:
                if not await _move_checkpoint(connection, after, sequence):
                    return False
                await _write(connection, changes)
        except IntegrityError as error:
            raise ConflictError("the projection conflicts with the read model") from error
        return True

    async def extent(self) -> ReadModelExtent:
        return await read_extent(self._engine, PROJECTION_NAME)

    async def reset(self) -> None:
        await empty_read_model(self._engine)

    async def close(self) -> None:
        """Stop the SQLite writer's thread, if there is one; the engine is the caller's."""
        if self._writer is not None:
            await self._writer.close()


def _after(
    account: Column[int], sequence: Column[int], query: SequenceQuery
) -> list[ColumnElement[bool]]:
    conditions = [account == query.account_id, sequence > query.after_sequence]
    if query.through_sequence is not None:
        conditions.append(sequence <= query.through_sequence)
    return conditions


def _limited(statement: Select[Any], query: SequenceQuery) -> Select[Any]:
    return statement if query.limit is None else statement.limit(query.limit)


async def _move_checkpoint(connection: AsyncConnection, after: int, sequence: int) -> bool:
    """Move the checkpoint from `after`; False if it is elsewhere. Takes the row's lock."""
    moved = await connection.execute(
        update(projection)
        .where(projection.c.name == PROJECTION_NAME, projection.c.sequence == after)
        .values(sequence=sequence)
    )
    if moved.rowcount == 1:
        return True
    exists = select(projection.c.sequence).where(projection.c.name == PROJECTION_NAME)
    if after != 0 or (await connection.execute(exists)).first() is not None:
        return False
    # The first write ever: there is no checkpoint row to move yet.
    await connection.execute(insert(projection).values(name=PROJECTION_NAME, sequence=sequence))
    return True


async def _write(connection: AsyncConnection, changes: ProjectionChanges) -> None:
    if changes.created:
        await connection.execute(insert(orders), order_rows(changes.created.values()))
    if changes.updated:
        await connection.execute(
            update(orders).where(orders.c.order_id == bindparam("key")),
            order_updates(changes.updated.values()),
        )
    if changes.fills:
        await connection.execute(insert(trades), [fill_row(fill) for fill in changes.fills])


def _sqlite_writer(engine: AsyncEngine) -> SqliteProjectionWriter | None:
    """A writer thread for a SQLite file; None for PostgreSQL and in-memory SQLite."""
    url = engine.url.render_as_string(hide_password=False)
    if not is_sqlite(url):
        return None
    try:
        path = sqlite_path(url)
    except ValueError:  # in memory: one connection, nothing for a second one to open
        return None
    return SqliteProjectionWriter(path, PROJECTION_NAME)
