"""The migrations build exactly the schema the code's tables describe, on every backend."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from openbell.migrations import metadata, upgrade_database
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
