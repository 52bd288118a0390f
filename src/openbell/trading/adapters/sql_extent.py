"""The read model's extent and its reset, for the start-up check and the rebuild from the journal,
and the translation of a failed query into "unavailable".

The extent and the reset run only while no projector writes (before one starts), so
they go through the engine even on a SQLite file.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import delete, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from openbell.shared.ids import OrderId, SequenceNumber, TradeId
from openbell.trading.adapters.tables import orders, projection, trades
from openbell.trading.application.guard import ReadModelUnavailableError
from openbell.trading.application.ports import ReadModelExtent

logger = logging.getLogger(__name__)


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for queries; a database that fails them (a damaged page, a lost server)
    makes ReadModelUnavailableError, and what the driver said goes to the log only."""
    try:
        async with engine.connect() as connection:
            yield connection
    except DBAPIError as error:
        logger.exception("the read model's database failed a query")
        raise ReadModelUnavailableError("the read model cannot be read now") from error


async def read_extent(engine: AsyncEngine, projection_name: str) -> ReadModelExtent:
    """The checkpoint and the highest order and trade ids the tables hold."""
    checkpoint = select(projection.c.sequence).where(projection.c.name == projection_name)
    async with engine.connect() as connection:
        sequence = (await connection.execute(checkpoint)).scalar()
        order_id = (await connection.execute(select(func.max(orders.c.order_id)))).scalar()
        trade_id = (await connection.execute(select(func.max(trades.c.trade_id)))).scalar()
    return ReadModelExtent(
        SequenceNumber(int(sequence or 0)), OrderId(int(order_id or 0)), TradeId(int(trade_id or 0))
    )


async def empty_read_model(engine: AsyncEngine) -> None:
    """Delete every order, fill and checkpoint together."""
    async with engine.begin() as connection:
        for table in (trades, orders, projection):
            await connection.execute(delete(table))
