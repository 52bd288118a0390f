"""Database migrations (Alembic): the schema of every context, versioned.

`upgrade_database(url)` brings a database to the newest revision; `openbell up`
runs it at start. New revisions are generated from the tables the contexts
register on `openbell.platform.db.metadata`:

    alembic -c src/openbell/migrations/alembic.ini revision --autogenerate -m "..."
"""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from openbell.core.adapters import tables as _core_tables  # noqa: F401  # registers tables
from openbell.identity.adapters import tables as _identity_tables  # noqa: F401
from openbell.platform.db import create_engine, metadata
from openbell.trading.adapters import tables as _trading_tables  # noqa: F401

__all__ = ["alembic_config", "metadata", "upgrade_database"]

HERE = Path(__file__).parent


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    return config


async def upgrade_database(url: str) -> None:
    """Apply every migration the database has not had yet, in one transaction where possible."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")
