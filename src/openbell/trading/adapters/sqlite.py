"""Projection writes to a SQLite file: one call to a writer thread per transaction.

SQLite lets one writer at a time hold a database, and the core's journal writes to the
same file. Through the async driver each statement of a transaction is a trip to its
thread and back to the event loop, so a busy loop kept the write lock for tens of
milliseconds and the journal's group commits queued behind it. Here the whole
transaction, BEGIN IMMEDIATE to COMMIT, runs in one call on a thread of its own, so
the lock is held only while SQLite works.

Even so, the thread gives up the GIL for every step of a statement and may wait up to
the interpreter's switch interval (5 ms) to get it back while the event loop runs, and
`executemany` steps once per row. So every parameter is prepared before the lock is
taken, and each table gets one statement with many rows: five steps under the lock
however large the chunk.

The connection runs with `synchronous=NORMAL` in WAL mode: a commit is not fsynced by
itself but with the next fsync of the WAL, which the journal's next commit does.
Power loss can then lose the newest projection transactions, never corrupt them, and
their checkpoint goes with them, so the core replays those outcomes on the next start.
"""

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import Any, Final, NamedTuple, TypeVar

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import ClauseElement

from openbell.shared.errors import ConflictError
from openbell.trading.adapters.rows import MUTABLE_COLUMNS
from openbell.trading.adapters.tables import orders, projection, trades
from openbell.trading.domain.orders import ProjectionChanges

T = TypeVar("T")

_DIALECT: Final = sqlite.dialect(paramstyle="named")


def _sql(statement: ClauseElement, column_keys: list[str] | None = None) -> str:
    """The statement as SQLite text with :named parameters, compiled once at import."""
    return str(statement.compile(dialect=_DIALECT, column_keys=column_keys))


_MOVE_CHECKPOINT: Final = _sql(
    update(projection)
    .where(
        projection.c.name == bindparam("projection"),
        projection.c.sequence == bindparam("after"),
    )
    .values(sequence=bindparam("sequence"))
)
_CHECKPOINT_EXISTS: Final = _sql(
    select(projection.c.sequence).where(projection.c.name == bindparam("projection"))
)
_CREATE_CHECKPOINT: Final = _sql(insert(projection))
_ORDER_COLUMNS: Final = tuple(column.name for column in orders.columns)
_FILL_COLUMNS: Final = tuple(column.name for column in trades.columns)
_UPDATE_COLUMNS: Final = ("key", *MUTABLE_COLUMNS)
_ROWS_PER_STATEMENT: Final = 500
"""18 columns x 500 rows stays far below SQLite's 32,766 bound parameters."""


class _Statement(NamedTuple):
    sql: str
    parameters: list[Any]


def _placeholders(columns: int, rows: int) -> str:
    row = "(" + ", ".join("?" * columns) + ")"
    return ", ".join([row] * rows)


@lru_cache(maxsize=256)
def _insert_sql(table: str, columns: tuple[str, ...], rows: int) -> str:
    # Only our tables' own names and "?" are joined here; every value is bound.
    values = _placeholders(len(columns), rows)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"  # noqa: S608  # nosec B608


@lru_cache(maxsize=256)
def _update_orders_sql(rows: int) -> str:
    # As above: names from the table definitions, values bound.
    changed = ", ".join(_UPDATE_COLUMNS)
    assignments = ", ".join(f"{name} = changed.{name}" for name in MUTABLE_COLUMNS)
    return (
        f"WITH changed ({changed}) AS (VALUES {_placeholders(len(_UPDATE_COLUMNS), rows)}) "  # noqa: S608  # nosec B608
        f"UPDATE {orders.name} SET {assignments} FROM changed "
        f"WHERE {orders.name}.order_id = changed.key"
    )


# Read model columns are named as the fields of Order and Fill (the contract tests read
# back every field), and SQLite binds the StrEnum members as their text.
_order_values: Final = attrgetter(*_ORDER_COLUMNS)
_update_values: Final = attrgetter("order_id", *MUTABLE_COLUMNS)
_fill_values: Final = attrgetter(*_FILL_COLUMNS)


def _statements(changes: ProjectionChanges) -> list[_Statement]:
    """The changes as multi-row statements, at most `_ROWS_PER_STATEMENT` rows each."""
    return [
        *_chunks(
            [_order_values(order) for order in changes.created.values()],
            lambda n: _insert_sql(orders.name, _ORDER_COLUMNS, n),
        ),
        *_chunks([_update_values(order) for order in changes.updated.values()], _update_orders_sql),
        *_chunks(
            [_fill_values(fill) for fill in changes.fills],
            lambda n: _insert_sql(trades.name, _FILL_COLUMNS, n),
        ),
    ]


def _chunks(rows: list[tuple[Any, ...]], sql: Callable[[int], str]) -> Iterable[_Statement]:
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        yield _Statement(sql(len(chunk)), list(chain.from_iterable(chunk)))


class SqliteProjectionWriter:
    """Saves projection changes to the SQLite file at `path`, each save one transaction."""

    def __init__(self, path: Path, projection_name: str, *, busy_timeout: float = 30.0) -> None:
        self._path = path
        self._projection = projection_name
        self._busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="openbell-projection-writer")
        self._connection: sqlite3.Connection | None = None
        """Opened, used and closed on the writer thread only."""
        self._closed = False

    async def save(self, changes: ProjectionChanges, *, after: int, sequence: int) -> bool:
        """Write the changes and move the checkpoint from `after` to `sequence`, or nothing."""
        return await self._call(lambda: self._save(changes, after, sequence))

    async def close(self) -> None:
        """Close the connection and end the thread; closing again does nothing."""
        if self._closed:
            return
        self._closed = True
        await self._call(self._close)
        self._executor.shutdown(wait=False)

    async def _call(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    # --- on the writer thread ---------------------------------------------------

    def _save(self, changes: ProjectionChanges, after: int, sequence: int) -> bool:
        statements = _statements(changes)
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            moved = self._move_checkpoint(connection, after, sequence)
            if moved:
                _write(connection, statements)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return moved

    def _move_checkpoint(self, connection: sqlite3.Connection, after: int, sequence: int) -> bool:
        key = {"projection": self._projection}
        moved = connection.execute(_MOVE_CHECKPOINT, {**key, "after": after, "sequence": sequence})
        if moved.rowcount == 1:
            return True
        if after != 0 or connection.execute(_CHECKPOINT_EXISTS, key).fetchone() is not None:
            return False
        # The first write ever: there is no checkpoint row to move yet.
        connection.execute(_CREATE_CHECKPOINT, {"name": self._projection, "sequence": sequence})
        return True

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # Autocommit mode: the transactions are the explicit BEGIN ... COMMIT above.
            connection = sqlite3.connect(
                self._path, timeout=self._busy_timeout, isolation_level=None
            )
            mode = connection.execute("PRAGMA journal_mode").fetchone()
            if mode is not None and str(mode[0]).lower() == "wal":
                connection.execute("PRAGMA synchronous = NORMAL")
            self._connection = connection
        return self._connection

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _write(connection: sqlite3.Connection, statements: list[_Statement]) -> None:
    try:
        for statement in statements:
            connection.execute(statement.sql, statement.parameters)
    except sqlite3.IntegrityError as error:
        raise ConflictError("the projection conflicts with the read model") from error
