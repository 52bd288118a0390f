"""Database plumbing: the shared schema metadata, engines, and URL conversions for raw drivers."""

from pathlib import Path

from sqlalchemy import MetaData
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    },
)
"""Every context registers its tables here; migrations are generated from it."""


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def sqlite_path(url: str) -> Path:
    """The file of a `sqlite+aiosqlite:///path` URL."""
    if not is_sqlite(url):
        raise ValueError("not a SQLite URL")
    database = make_url(url).database
    if not database or database == ":memory:":
        raise ValueError("SQLite needs a file path")
    return Path(database)


def asyncpg_dsn(url: str) -> str:
    """The `postgresql+asyncpg://...` URL as a DSN asyncpg accepts."""
    if not is_postgres(url):
        raise ValueError("not a PostgreSQL URL")
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str) -> AsyncEngine:
    """An async SQLAlchemy engine with settings fit for each backend.

    Bound parameters never appear in errors or logs: they can be secret hashes.
    """
    if is_sqlite(url):
        sqlite_path(url).parent.mkdir(parents=True, exist_ok=True)
        return create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True
    )


async def prepare_database(url: str) -> None:
    """Bring the database schema up to date.

    Every table registered on `metadata` must be imported before this runs; the
    composition root imports each context's table module.
    """
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
    finally:
        await engine.dispose()
