"""The read model's extent and its reset, for the start-up check and the rebuild from the journal.

Apart from the projection's own writes: these run only while no projector writes
(before one starts), so they go through the engine even on a SQLite file.
"""

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from openbell.shared.ids import OrderId, SequenceNumber, TradeId
from openbell.trading.adapters.tables import orders, projection, trades
from openbell.trading.application.ports import ReadModelExtent


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
