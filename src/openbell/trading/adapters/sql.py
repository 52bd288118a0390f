"""The read model in SQL through SQLAlchemy async: SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from collections.abc import AsyncIterator, Collection, Iterable
from contextlib import asynccontextmanager
from typing import Any, Final

from sqlalchemy import ColumnElement, Row, and_, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openbell.contracts.enums import (
    Liquidity,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from openbell.shared.errors import ConflictError
from openbell.trading.adapters.tables import orders, projection, trades
from openbell.trading.application.ports import FillQuery, OrderQuery
from openbell.trading.domain.orders import OPEN_STATUSES, Fill, Order, ProjectionChanges

PROJECTION_NAME: Final = "trading"
_IN_CHUNK: Final = 500
"""Ids per IN list: well below every driver's limit on bound parameters."""
_OPEN: Final = tuple(sorted(status.value for status in OPEN_STATUSES))
_MUTABLE_COLUMNS: Final = (
    "price",
    "quantity",
    "status",
    "filled_quantity",
    "filled_amount",
    "fees_paid",
    "reason",
    "updated_at",
)


class SqlReadModel:
    """Orders, fills and the projection checkpoint in SQL tables; queries and projection writes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # --- queries ----------------------------------------------------------------

    async def order(self, account_id: int, order_id: int) -> Order | None:
        statement = select(orders).where(
            orders.c.account_id == account_id, orders.c.order_id == order_id
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(statement)).first()
        return None if row is None else _order(row)

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
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [_order(row) for row in rows]

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
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
        return [_fill(row) for row in rows]

    # --- projection -------------------------------------------------------------

    async def checkpoint(self) -> int:
        statement = select(projection.c.sequence).where(projection.c.name == PROJECTION_NAME)
        async with self._engine.connect() as connection:
            sequence = (await connection.execute(statement)).scalar()
        return int(sequence or 0)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["SqlProjectionTransaction"]:
        async with self._engine.begin() as connection:
            yield SqlProjectionTransaction(connection)


class SqlProjectionTransaction:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def checkpoint(self) -> int:
        # A write comes first: it takes the row lock on PostgreSQL and makes SQLite's
        # driver open the transaction (it would run plain SELECTs outside one), so no
        # other projector can interleave until this transaction ends.
        touch = (
            update(projection)
            .where(projection.c.name == PROJECTION_NAME)
            .values(sequence=projection.c.sequence)
            .returning(projection.c.sequence)
        )
        sequence = (await self._connection.execute(touch)).scalar()
        if sequence is not None:
            return int(sequence)
        await self._connection.execute(insert(projection).values(name=PROJECTION_NAME, sequence=0))
        return 0

    async def orders(self, order_ids: Collection[int]) -> dict[int, Order]:
        found: dict[int, Order] = {}
        ids = sorted(order_ids)
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            statement = select(orders).where(orders.c.order_id.in_(chunk))
            for row in (await self._connection.execute(statement)).all():
                order = _order(row)
                found[order.order_id] = order
        return found

    async def save(self, changes: ProjectionChanges, sequence: int) -> None:
        connection = self._connection
        try:
            if changes.created:
                await connection.execute(insert(orders), _order_rows(changes.created.values()))
            if changes.updated:
                await connection.execute(
                    update(orders).where(orders.c.order_id == bindparam("key")),
                    _order_updates(changes.updated.values()),
                )
            if changes.fills:
                await connection.execute(insert(trades), [_fill_row(f) for f in changes.fills])
        except IntegrityError as error:
            raise ConflictError("the projection conflicts with the read model") from error
        await connection.execute(
            update(projection).where(projection.c.name == PROJECTION_NAME).values(sequence=sequence)
        )


def _order_rows(items: Iterable[Order]) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order.order_id,
            "account_id": order.account_id,
            "client_order_id": order.client_order_id,
            "symbol": order.symbol,
            "side": order.side.value,
            "order_type": order.order_type.value,
            "price": order.price,
            "quantity": order.quantity,
            "time_in_force": order.time_in_force.value,
            "post_only": order.post_only,
            "self_trade_prevention": order.self_trade_prevention.value,
            "status": order.status.value,
            "filled_quantity": order.filled_quantity,
            "filled_amount": order.filled_amount,
            "fees_paid": order.fees_paid,
            "reason": order.reason,
            "created_at": order.created_at,
            "updated_at": order.updated_at,
        }
        for order in items
    ]


def _order_updates(items: Iterable[Order]) -> list[dict[str, Any]]:
    rows = _order_rows(items)
    return [
        {"key": row["order_id"], **{name: row[name] for name in _MUTABLE_COLUMNS}} for row in rows
    ]


def _order(row: Row[Any]) -> Order:
    m = row._mapping
    return Order(
        order_id=m["order_id"],
        account_id=m["account_id"],
        client_order_id=m["client_order_id"],
        symbol=m["symbol"],
        side=Side(m["side"]),
        order_type=OrderType(m["order_type"]),
        price=m["price"],
        quantity=m["quantity"],
        time_in_force=TimeInForce(m["time_in_force"]),
        post_only=bool(m["post_only"]),
        self_trade_prevention=SelfTradePrevention(m["self_trade_prevention"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        status=OrderStatus(m["status"]),
        filled_quantity=m["filled_quantity"],
        filled_amount=m["filled_amount"],
        fees_paid=m["fees_paid"],
        reason=m["reason"],
    )


def _fill_row(fill: Fill) -> dict[str, Any]:
    return {
        "trade_id": fill.trade_id,
        "liquidity": fill.liquidity.value,
        "account_id": fill.account_id,
        "order_id": fill.order_id,
        "symbol": fill.symbol,
        "side": fill.side.value,
        "price": fill.price,
        "quantity": fill.quantity,
        "quote_amount": fill.quote_amount,
        "fee": fill.fee,
        "executed_at": fill.executed_at,
        "sequence": fill.sequence,
    }


def _fill(row: Row[Any]) -> Fill:
    m = row._mapping
    return Fill(
        trade_id=m["trade_id"],
        account_id=m["account_id"],
        order_id=m["order_id"],
        symbol=m["symbol"],
        side=Side(m["side"]),
        price=m["price"],
        quantity=m["quantity"],
        quote_amount=m["quote_amount"],
        fee=m["fee"],
        liquidity=Liquidity(m["liquidity"]),
        executed_at=m["executed_at"],
        sequence=m["sequence"],
    )
