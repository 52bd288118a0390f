"""The migrations build exactly the schema the code's tables describe, on every backend."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from openbell.migrations import alembic_config, metadata, upgrade_database
from openbell.platform.db import create_engine


async def test_migrating_an_empty_database_yields_the_declared_schema(database_url):
    await upgrade_database(database_url)
    await upgrade_database(database_url)  # a second run is a no-op
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    assert differences == []
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables


async def test_revocations_stored_in_seconds_are_carried_into_nanoseconds(database_url):
    # A revocation made just before the upgrade must still refuse its tokens after it.
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0003"))
            await connection.execute(
                text(
                    "INSERT INTO identity_revocations (key, revoked_at, expires_at) "
                    "VALUES ('sub:u1', 1800000000, 1800000610)"
                )
            )
        await upgrade_database(database_url)
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT revoked_at, expires_at FROM identity_revocations")
                )
            ).one()
    finally:
        await engine.dispose()
    assert tuple(row) == (1_800_000_000 * 10**9, 1_800_000_610 * 10**9)


_ORDER_BEFORE_0005 = (
    "INSERT INTO trading_orders (order_id, account_id, client_order_id, symbol, side, "
    "order_type, price, quantity, time_in_force, post_only, self_trade_prevention, status, "
    "filled_quantity, filled_amount, fees_paid, reason, created_at, updated_at) VALUES "
    "(:order_id, 1, :client, 'ACME', 'buy', 'limit', :price, :quantity, 'GTC', false, "
    "'cancel_taker', :status, :filled, 0, 0, NULL, 1, 1)"
)
_TRADE_BEFORE_0005 = (
    "INSERT INTO trading_trades (trade_id, liquidity, account_id, order_id, symbol, side, "
    "price, quantity, quote_amount, fee, executed_at, sequence) VALUES "
    "(:trade_id, 'taker', 1, :order_id, 'ACME', 'buy', 10000, 1, 10000, 2, 1, :sequence)"
)


async def test_orders_stored_before_sequences_get_their_placement_and_last_fill(database_url):
    # Orders projected before 0005 read as placed as they stand, and as changed last by
    # their last fill's command, or before any sequence a client can have seen.
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0004"))
            for order_id, price, quantity, status, filled in (
                (1, 10_000, 10, "partially_filled", 2),
                (2, None, 5, "new", 0),
            ):
                await connection.execute(
                    text(_ORDER_BEFORE_0005),
                    {
                        "order_id": order_id,
                        "client": f"c{order_id}",
                        "price": price,
                        "quantity": quantity,
                        "status": status,
                        "filled": filled,
                    },
                )
            for trade_id, sequence in ((1, 41), (2, 57)):
                await connection.execute(
                    text(_TRADE_BEFORE_0005),
                    {"trade_id": trade_id, "order_id": 1, "sequence": sequence},
                )
        await upgrade_database(database_url)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT order_id, sequence, original_price, original_quantity "
                        "FROM trading_orders ORDER BY order_id"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in rows] == [(1, 57, 10_000, 10), (2, 0, None, 5)]
