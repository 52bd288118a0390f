"""Alembic's entry point: run migrations on the connection `upgrade_database` hands over."""

from alembic import context
from sqlalchemy import create_engine

from openbell.migrations import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(bound: object) -> None:
    context.configure(
        connection=bound,  # type: ignore[arg-type]
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # the alembic command line, for generating revisions against a sync URL
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url to a synchronous database URL")
    with create_engine(url).connect() as sync_connection:
        _run(sync_connection)
        sync_connection.commit()
