"""orders remember their latest sequence and how they were placed

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 11:00:00.000000

Every order answer carries the sequence number of the command that last changed the
order, and a retry of a client order id is checked against the order as placed, so
the read model stores both. Rows written before get what can be known of them:
  - `original_quantity` and `original_price` are the current quantity and price (an
    amendment made before the upgrade is not recorded anywhere but the journal);
  - `sequence` is that of the order's last fill, or 0 for an order never filled: a
    client has never seen a sequence number before this revision, so an order
    reads as changed before anything it could ask to read after.
New indexes serve reads from a sequence and lookups by client order id, rejected
orders included (the unique index leaves them out).

The columns are added NOT NULL with a default of 0, which PostgreSQL then drops;
SQLite cannot drop a default without copying the table, and every insert names the
columns, so there it stays unused.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BACKFILL = (
    "UPDATE trading_orders SET original_quantity = quantity, original_price = price, "
    "sequence = COALESCE((SELECT MAX(t.sequence) FROM trading_trades AS t "
    "WHERE t.order_id = trading_orders.order_id "
    "AND t.account_id = trading_orders.account_id), 0)"
)


def upgrade() -> None:
    for name in ("sequence", "original_quantity"):
        op.add_column(
            "trading_orders",
            sa.Column(name, sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        )
    op.add_column("trading_orders", sa.Column("original_price", sa.BigInteger(), nullable=True))
    op.execute(sa.text(_BACKFILL))
    if op.get_bind().dialect.name == "postgresql":
        for name in ("sequence", "original_quantity"):
            op.alter_column("trading_orders", name, server_default=None)
    op.create_index(
        "ix_trading_orders_account_sequence",
        "trading_orders",
        ["account_id", "sequence", "order_id"],
    )
    op.create_index(
        "ix_trading_orders_account_client_order",
        "trading_orders",
        ["account_id", "client_order_id", "order_id"],
    )
    op.create_index(
        "ix_trading_trades_account_sequence",
        "trading_trades",
        ["account_id", "sequence", "trade_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_trading_trades_account_sequence", table_name="trading_trades")
    op.drop_index("ix_trading_orders_account_client_order", table_name="trading_orders")
    op.drop_index("ix_trading_orders_account_sequence", table_name="trading_orders")
    with op.batch_alter_table("trading_orders", schema=None) as batch_op:
        for name in ("original_price", "original_quantity", "sequence"):
            batch_op.drop_column(name)
