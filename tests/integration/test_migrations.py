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
