"""The read model's tables, registered on the shared metadata.

Import this module before `openbell.platform.db.prepare_database` (or the migrations)
so the tables exist. Prices are ticks, quantities lots, amounts minor units; times are
nanoseconds since the epoch, as the core stamps them. Strings are unbounded because a
projection must never fail on data the core accepted.
"""

from sqlalchemy import BigInteger, Boolean, Column, Index, String, Table

from openbell.platform.db import metadata

REJECTED = "rejected"

orders = Table(
    "trading_orders",
    metadata,
    Column("order_id", BigInteger, primary_key=True, autoincrement=False),
    Column("account_id", BigInteger, nullable=False),
    Column("client_order_id", String, nullable=False),
    Column("symbol", String, nullable=False),
    Column("side", String, nullable=False),
    Column("order_type", String, nullable=False),
    Column("price", BigInteger, nullable=True),
    Column("quantity", BigInteger, nullable=False),
    Column("time_in_force", String, nullable=False),
    Column("post_only", Boolean, nullable=False),
    Column("self_trade_prevention", String, nullable=False),
    Column("status", String, nullable=False),
    Column("filled_quantity", BigInteger, nullable=False),
    Column("filled_amount", BigInteger, nullable=False),
    Column("fees_paid", BigInteger, nullable=False),
    Column("reason", String, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("original_price", BigInteger, nullable=True),
    Column("original_quantity", BigInteger, nullable=False),
)
"""`sequence` is the command that last changed the order; `original_*` are as placed."""

Index("ix_trading_orders_account_order", orders.c.account_id, orders.c.order_id)
Index(
    "ix_trading_orders_account_symbol_order",
    orders.c.account_id,
    orders.c.symbol,
    orders.c.order_id,
)
Index(
    "ix_trading_orders_open",
    orders.c.account_id,
    orders.c.order_id,
    sqlite_where=orders.c.status.in_(("new", "partially_filled")),
    postgresql_where=orders.c.status.in_(("new", "partially_filled")),
)
# Reads from a sequence: an account's orders by the command that last changed them.
Index(
    "ix_trading_orders_account_sequence", orders.c.account_id, orders.c.sequence, orders.c.order_id
)
# By client order id, rejected orders included (the unique index below leaves them out).
Index(
    "ix_trading_orders_account_client_order",
    orders.c.account_id,
    orders.c.client_order_id,
    orders.c.order_id,
)
# A client order id names one live-or-finished order per account; a rejected order
# never existed for the core, so its id may be used again.
Index(
    "uq_trading_orders_account_client_order_id",
    orders.c.account_id,
    orders.c.client_order_id,
    unique=True,
    sqlite_where=orders.c.status != REJECTED,
    postgresql_where=orders.c.status != REJECTED,
)

trades = Table(
    "trading_trades",
    metadata,
    Column("trade_id", BigInteger, primary_key=True, autoincrement=False),
    Column("liquidity", String, primary_key=True),
    Column("account_id", BigInteger, nullable=False),
    Column("order_id", BigInteger, nullable=False),
    Column("symbol", String, nullable=False),
    Column("side", String, nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("quote_amount", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("executed_at", BigInteger, nullable=False),
    Column("sequence", BigInteger, nullable=False),
)
"""One row per side of a trade: the maker's and the taker's."""

Index("ix_trading_trades_account_trade", trades.c.account_id, trades.c.trade_id)
Index("ix_trading_trades_account_order", trades.c.account_id, trades.c.order_id)
Index(
    "ix_trading_trades_account_sequence",
    trades.c.account_id,
    trades.c.sequence,
    trades.c.trade_id,
)

projection = Table(
    "trading_projection",
    metadata,
    Column("name", String, primary_key=True),
    Column("sequence", BigInteger, nullable=False),
)
"""The checkpoint: the sequence of the last outcome applied, moved in each write's transaction."""
