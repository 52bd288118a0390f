"""The journal contract: the in-memory, SQLite and PostgreSQL journals pass the same tests.

`JournalContract` holds the tests; each subclass supplies a `backend` fixture
that makes journals over one store and can damage that store behind their back.
"""

import asyncio
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest

from openbell.contracts.commands import (
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    Command,
    DefineAsset,
    Deposit,
    HaltMarket,
    ListInstrument,
    OpenAccount,
    PlaceOrder,
    ResumeMarket,
    SetReferencePrice,
)
from openbell.contracts.enums import OrderType, SelfTradePrevention, Side, TimeInForce
from openbell.core.adapters import tables  # noqa: F401  # registers the core tables
from openbell.core.adapters.codec import COMMAND_TAGS, checksum, encode_record
from openbell.core.adapters.memory import InMemoryJournal, InMemoryStorage
from openbell.core.adapters.postgres import PostgresJournal
from openbell.core.adapters.sqlite import SqliteJournal, SqliteWriterLock
from openbell.core.application.errors import (
    JournalCorruptedError,
    JournalLockedError,
    JournalReadOnlyError,
    JournalSequenceError,
    JournalStorageError,
)
from openbell.core.application.ports import Discontinuity, Journal, JournalEntry, JournalRecord
from openbell.core.bootstrap import writer_lock_for
from openbell.platform.db import asyncpg_dsn, is_sqlite, prepare_database, sqlite_path

START_NS = 1_700_000_000_000_000_000

ALL_COMMANDS: list[Command] = [
    DefineAsset("BTC", 8),
    DefineAsset("USD", 2),
    ListInstrument("BTC-USD", "BTC", "USD", "0.01", "0.00001", 1, 10**9, 5_000_000, 500, 10, 20),
    SetReferencePrice("BTC-USD", 5_100_000),
    HaltMarket("BTC-USD", "volatility ⚡ circuit breaker"),
    HaltMarket(None, "market-wide halt"),
    ResumeMarket("BTC-USD"),
    ResumeMarket(None),
    OpenAccount(),
    Deposit(7, "USD", 2**63 - 1, "wire-ü-001"),
    PlaceOrder(
        7,
        "ordre-été-🚀-Ω",
        "BTC-USD",
        Side.BUY,
        OrderType.LIMIT,
        5_000_000,
        3,
        TimeInForce.GTC,
        post_only=False,
        self_trade_prevention=SelfTradePrevention.CANCEL_TAKER,
    ),
    PlaceOrder(
        8,
        "",
        "BTC-USD",
        Side.SELL,
        OrderType.MARKET,
        None,
        1,
        TimeInForce.IOC,
        self_trade_prevention=SelfTradePrevention.CANCEL_BOTH,
    ),
    PlaceOrder(
        8,
        "注文-1",
        "BTC-USD",
        Side.SELL,
        OrderType.LIMIT,
        1,
        2,
        TimeInForce.FOK,
        post_only=True,
        self_trade_prevention=SelfTradePrevention.CANCEL_MAKER,
    ),
    CancelOrder(7, 42),
    AmendOrder(7, 42, quantity=2),
    AmendOrder(7, 42, price=4_900_000),
    AmendOrder(7, 42),
    CancelAllOrders(7, "BTC-USD"),
    CancelAllOrders(7, None),
]


def numbered(first: int, commands: Sequence[Command]) -> list[JournalEntry]:
    return [
        JournalEntry(first + index, START_NS + (first + index) * 1_000, command)
        for index, command in enumerate(commands)
    ]


def orders(first: int, count: int) -> list[JournalEntry]:
    """`count` distinct PlaceOrder entries numbered from `first`."""
    return numbered(
        first,
        [
            PlaceOrder(
                sequence % 97,
                f"client-{sequence}",
                "BTC-USD",
                Side.BUY if sequence % 2 else Side.SELL,
                OrderType.LIMIT,
                5_000_000 + sequence,
                1 + sequence % 10,
                TimeInForce.GTC,
            )
            for sequence in range(first, first + count)
        ],
    )


async def read_all(journal: Journal, after_sequence: int = 0) -> list[JournalEntry]:
    return [entry async for entry in journal.read(after_sequence)]


def test_the_sample_commands_cover_every_command_type():
    assert {type(command) for command in ALL_COMMANDS} == set(COMMAND_TAGS)


class Backend:
    """Makes journals over one store and tracks them so the test can close them all."""

    def __init__(self) -> None:
        self.journals: list[Journal] = []

    def make(self, *, read_only: bool = False, read_chunk_entries: int = 16_384) -> Journal:
        raise NotImplementedError

    def journal(self, *, read_only: bool = False, read_chunk_entries: int = 16_384) -> Journal:
        journal = self.make(read_only=read_only, read_chunk_entries=read_chunk_entries)
        self.journals.append(journal)
        return journal

    async def opened(self, *, read_only: bool = False, read_chunk_entries: int = 16_384) -> Journal:
        journal = self.journal(read_only=read_only, read_chunk_entries=read_chunk_entries)
        await journal.open()
        return journal

    async def close_all(self) -> None:
        for journal in self.journals:
            await journal.close()

    async def set_payload(self, first_sequence: int, payload: bytes, *, fix_checksum: bool) -> None:
        raise NotImplementedError

    async def set_checksum(self, first_sequence: int, value: int) -> None:
        raise NotImplementedError

    async def delete_record(self, first_sequence: int) -> None:
        raise NotImplementedError

    async def insert_record(self, record: JournalRecord) -> None:
        raise NotImplementedError


class MemoryBackend(Backend):
    def __init__(self) -> None:
        super().__init__()
        self.storage = InMemoryStorage()

    def make(self, *, read_only: bool = False, read_chunk_entries: int = 16_384) -> Journal:
        return InMemoryJournal(
            self.storage, read_only=read_only, read_chunk_entries=read_chunk_entries
        )

    def _index(self, first_sequence: int) -> int:
        return [record.first_sequence for record in self.storage.records].index(first_sequence)

    async def set_payload(self, first_sequence: int, payload: bytes, *, fix_checksum: bool) -> None:
        index = self._index(first_sequence)
        record = self.storage.records[index]._replace(payload=payload)
        if fix_checksum:
            record = record._replace(checksum=checksum(payload))
        self.storage.records[index] = record

    async def set_checksum(self, first_sequence: int, value: int) -> None:
        index = self._index(first_sequence)
        self.storage.records[index] = self.storage.records[index]._replace(checksum=value)

    async def delete_record(self, first_sequence: int) -> None:
        del self.storage.records[self._index(first_sequence)]

    async def insert_record(self, record: JournalRecord) -> None:
        self.storage.records.append(record)
        self.storage.records.sort(key=lambda stored: stored.first_sequence)


class SqlBackend(Backend):
    """SQLite or PostgreSQL by URL; damage is done with raw SQL through a separate connection."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def make(self, *, read_only: bool = False, read_chunk_entries: int = 16_384) -> Journal:
        kind = SqliteJournal if is_sqlite(self.url) else PostgresJournal
        return kind(self.url, read_only=read_only, read_chunk_entries=read_chunk_entries)

    async def execute(self, sqlite_query: str, postgres_query: str, *parameters: object) -> None:
        if is_sqlite(self.url):
            with sqlite3.connect(sqlite_path(self.url)) as connection:
                connection.execute(sqlite_query, parameters)
            return
        connection = await asyncpg.connect(asyncpg_dsn(self.url))
        try:
            await connection.execute(postgres_query, *parameters)
        finally:
            await connection.close()

    async def set_payload(self, first_sequence: int, payload: bytes, *, fix_checksum: bool) -> None:
        await self.execute(
            "UPDATE core_journal SET payload = ? WHERE first_sequence = ?",
            "UPDATE core_journal SET payload = $1 WHERE first_sequence = $2",
            payload,
            first_sequence,
        )
        if fix_checksum:
            await self.set_checksum(first_sequence, checksum(payload))

    async def set_checksum(self, first_sequence: int, value: int) -> None:
        await self.execute(
            "UPDATE core_journal SET checksum = ? WHERE first_sequence = ?",
            "UPDATE core_journal SET checksum = $1 WHERE first_sequence = $2",
            value,
            first_sequence,
        )

    async def delete_record(self, first_sequence: int) -> None:
        await self.execute(
            "DELETE FROM core_journal WHERE first_sequence = ?",
            "DELETE FROM core_journal WHERE first_sequence = $1",
            first_sequence,
        )

    async def insert_record(self, record: JournalRecord) -> None:
        await self.execute(
            "INSERT INTO core_journal VALUES (?, ?, ?, ?, ?)",
            "INSERT INTO core_journal VALUES ($1, $2, $3, $4, $5)",
            *record,
        )

    async def payload_of(self, first_sequence: int) -> bytes:
        if is_sqlite(self.url):
            with sqlite3.connect(sqlite_path(self.url)) as connection:
                row = connection.execute(
                    "SELECT payload FROM core_journal WHERE first_sequence = ?", (first_sequence,)
                ).fetchone()
            return bytes(row[0])
        connection = await asyncpg.connect(asyncpg_dsn(self.url))
        try:
            payload: bytes = await connection.fetchval(
                "SELECT payload FROM core_journal WHERE first_sequence = $1", first_sequence
            )
        finally:
            await connection.close()
        return payload


class JournalContract:
    """Every journal adapter must pass these."""

    async def test_an_empty_journal_reads_nothing_and_ends_at_zero(self, backend: Backend):
        journal = await backend.opened()
        assert await journal.last_sequence() == 0
        assert await read_all(journal) == []
        assert await read_all(journal, 5) == []

    async def test_every_command_type_reads_back_equal_with_enums_intact(self, backend: Backend):
        journal = await backend.opened()
        batch = numbered(1, ALL_COMMANDS)
        await journal.append(batch)
        read = await read_all(journal)
        assert read == batch
        assert [type(entry.command) for entry in read] == [type(c) for c in ALL_COMMANDS]
        placed = [entry.command for entry in read if isinstance(entry.command, PlaceOrder)]
        assert [order.side for order in placed] == [Side.BUY, Side.SELL, Side.SELL]
        assert all(type(order.side) is Side for order in placed)
        assert placed[0].client_order_id == "ordre-été-🚀-Ω"
        assert placed[1].price is None
        assert placed[2].self_trade_prevention is SelfTradePrevention.CANCEL_MAKER
        assert await journal.last_sequence() == len(ALL_COMMANDS)

    @pytest.mark.parametrize(
        ("after", "expected_first"),
        [(0, 1), (1, 2), (3, 4), (5, 6), (6, 7), (9, 10), (10, 11), (11, 11), (50, 11)],
    )
    async def test_read_after_a_sequence_starts_right_after_it(
        self, backend: Backend, after: int, expected_first: int
    ):
        journal = await backend.opened()
        await journal.append(orders(1, 5))
        await journal.append(orders(6, 1))
        await journal.append(orders(7, 4))
        read = await read_all(journal, after)
        assert [entry.sequence for entry in read] == list(range(expected_first, 11))
        assert read == orders(1, 10)[expected_first - 1 :]

    @pytest.mark.parametrize("chunk_entries", [1, 7, 16_384])
    async def test_many_batches_read_back_in_order_whatever_the_chunk_size(
        self, backend: Backend, chunk_entries: int
    ):
        writer = await backend.opened()
        sizes = [1 + (index * 7) % 23 for index in range(120)]
        first = 1
        for size in sizes:
            await writer.append(orders(first, size))
            first += size
        total = sum(sizes)
        reader = await backend.opened(read_only=True, read_chunk_entries=chunk_entries)
        assert await read_all(reader) == orders(1, total)
        middle = sizes[0] + sizes[1] + 3
        assert [entry.sequence for entry in await read_all(reader, middle)] == list(
            range(middle + 1, total + 1)
        )

    @pytest.mark.parametrize(
        "sequences",
        [
            pytest.param([4, 5], id="starts-after-a-gap"),
            pytest.param([3, 4], id="overlaps-the-last-batch"),
            pytest.param([1], id="restarts-from-one"),
            pytest.param([5, 6, 8], id="gap-inside"),
            pytest.param([5, 5], id="repeats-inside"),
            pytest.param([5, 4], id="decreasing"),
        ],
    )
    async def test_a_batch_that_does_not_continue_the_journal_is_refused_whole(
        self, backend: Backend, sequences: list[int]
    ):
        journal = await backend.opened()
        await journal.append(orders(1, 4))
        bad = [orders(sequence, 1)[0] for sequence in sequences]
        with pytest.raises(JournalSequenceError):
            await journal.append(bad)
        assert await journal.last_sequence() == 4
        assert await read_all(journal) == orders(1, 4)
        await journal.close()
        reopened = await backend.opened()
        assert await reopened.last_sequence() == 4
        assert await read_all(reopened) == orders(1, 4)

    async def test_the_journal_continues_after_a_refused_batch(self, backend: Backend):
        journal = await backend.opened()
        await journal.append(orders(1, 2))
        with pytest.raises(JournalSequenceError):
            await journal.append(orders(4, 2))
        await journal.append(orders(3, 2))
        assert await read_all(journal) == orders(1, 4)

    async def test_the_first_batch_must_start_at_one(self, backend: Backend):
        journal = await backend.opened()
        with pytest.raises(JournalSequenceError):
            await journal.append(orders(2, 3))
        assert await journal.last_sequence() == 0
        assert await read_all(journal) == []

    async def test_an_empty_batch_writes_nothing(self, backend: Backend):
        journal = await backend.opened()
        await journal.append(orders(1, 2))
        await journal.append([])
        assert await journal.last_sequence() == 2
        assert await read_all(journal) == orders(1, 2)

    @pytest.mark.parametrize(("believed_last", "first"), [(0, 1), (2, 3), (9, 10)])
    async def test_the_store_refuses_a_non_continuing_batch_even_when_the_writer_is_wrong(
        self, backend: Backend, believed_last: int, first: int
    ):
        journal = await backend.opened()
        await journal.append(orders(1, 5))
        journal._last_sequence = believed_last  # type: ignore[attr-defined]
        with pytest.raises(JournalSequenceError):
            await journal.append(orders(first, 2))
        assert await read_all(journal) == orders(1, 5)
        assert await journal.last_sequence() == 5
        await journal.append(orders(6, 1))
        assert await read_all(journal, 4) == orders(5, 2)

    async def test_a_reopened_journal_reads_everything_back_and_knows_where_it_ends(
        self, backend: Backend
    ):
        first = await backend.opened()
        await first.append(numbered(1, ALL_COMMANDS))
        await first.append(orders(len(ALL_COMMANDS) + 1, 3))
        await first.close()
        last = len(ALL_COMMANDS) + 3
        reopened = await backend.opened()
        assert await reopened.last_sequence() == last
        assert await read_all(reopened) == numbered(1, ALL_COMMANDS) + orders(
            len(ALL_COMMANDS) + 1, 3
        )
        with pytest.raises(JournalSequenceError):
            await reopened.append(orders(last, 1))
        await reopened.append(orders(last + 1, 1))
        assert await reopened.last_sequence() == last + 1

    async def test_a_flipped_byte_is_detected_naming_the_damaged_range(self, backend: Backend):
        journal = await backend.opened()
        await journal.append(orders(1, 4))
        await journal.append(orders(5, 3))
        await journal.append(orders(8, 2))
        payload = bytearray(await _payload(backend, journal, 5))
        payload[len(payload) // 2] ^= 0x40
        await backend.set_payload(5, bytes(payload), fix_checksum=False)
        reading = journal.read()
        assert [await anext(reading) for _ in range(4)] == orders(1, 4)
        with pytest.raises(JournalCorruptedError, match=r"5\.\.7.*checksum") as raised:
            await anext(reading)
        assert (raised.value.first_sequence, raised.value.last_sequence) == (5, 7)
        assert await read_all(journal, 7) == orders(8, 2)

    async def test_a_wrong_checksum_is_detected(self, backend: Backend):
        journal = await backend.opened()
        await journal.append(orders(1, 3))
        await backend.set_checksum(1, 12345)
        with pytest.raises(JournalCorruptedError, match=r"1\.\.3"):
            await read_all(journal)

    async def test_a_payload_that_does_not_decode_is_corruption_even_with_its_checksum(
        self, backend: Backend
    ):
        journal = await backend.opened()
        await journal.append(orders(1, 3))
        await backend.set_payload(1, b"\x92\x01\x91\x94\x01\x02\x63\x90", fix_checksum=True)
        with pytest.raises(JournalCorruptedError, match=r"1\.\.3.*unknown command tag 99"):
            await read_all(journal)

    @pytest.mark.parametrize(
        ("deleted", "after", "missing"),
        [(5, 0, "5..7"), (1, 0, "1..4"), (5, 5, "6..7"), (8, 7, None)],
    )
    @pytest.mark.parametrize("chunk_entries", [2, 16_384])
    async def test_a_missing_record_is_detected(
        self, backend: Backend, deleted: int, after: int, missing: str | None, chunk_entries: int
    ):
        journal = await backend.opened(read_chunk_entries=chunk_entries)
        await journal.append(orders(1, 4))
        await journal.append(orders(5, 3))
        await journal.append(orders(8, 2))
        await backend.delete_record(deleted)
        if missing is None:  # the last record is gone: nothing after it to show the gap
            assert await read_all(journal, after) == []
            return
        with pytest.raises(JournalCorruptedError, match=rf"{missing}.*missing"):
            await read_all(journal, after)

    async def test_overlapping_records_are_detected(self, backend: Backend):
        journal = await backend.opened()
        await journal.append(orders(1, 4))
        await journal.append(orders(5, 3))
        await backend.insert_record(encode_record(orders(6, 3), 5))
        reading = journal.read()
        assert [await anext(reading) for _ in range(7)] == orders(1, 7)
        with pytest.raises(JournalCorruptedError, match=r"6\.\.8.*overlap"):
            await anext(reading)

    async def test_a_record_lost_in_the_middle_of_a_long_journal_is_detected(
        self, backend: Backend
    ):
        journal = await backend.opened(read_chunk_entries=3)
        for first in range(1, 100, 3):
            await journal.append(orders(first, 3))
        await backend.delete_record(49)
        reading = journal.read()
        assert [(await anext(reading)).sequence for _ in range(48)] == list(range(1, 49))
        with pytest.raises(JournalCorruptedError, match=r"49\.\.51.*missing"):
            await anext(reading)

    async def test_records_are_fetched_as_the_read_goes_not_all_at_once(self, backend: Backend):
        journal = await backend.opened(read_chunk_entries=10)
        for first in range(1, 51, 10):
            await journal.append(orders(first, 10))
        reading = journal.read()
        assert (await anext(reading)).sequence == 1
        await backend.set_checksum(41, 1)
        with pytest.raises(JournalCorruptedError, match=r"41\.\.50"):
            async for _ in reading:
                pass

    async def test_a_second_writer_is_refused_until_the_first_closes(self, backend: Backend):
        first = await backend.opened()
        await first.append(orders(1, 2))
        second = backend.journal()
        with pytest.raises(JournalLockedError):
            await second.open()
        await first.close()
        await second.open()
        await second.append(orders(3, 1))
        assert await second.last_sequence() == 3

    async def test_a_reader_reads_beside_the_writer_and_cannot_append(self, backend: Backend):
        writer = await backend.opened()
        await writer.append(orders(1, 3))
        reader = await backend.opened(read_only=True)
        assert await reader.last_sequence() == 3
        await writer.append(orders(4, 2))
        assert await reader.last_sequence() == 5
        assert await read_all(reader) == orders(1, 5)
        with pytest.raises(JournalReadOnlyError):
            await reader.append(orders(6, 1))
        assert await writer.last_sequence() == 5

    async def test_a_batch_of_ten_thousand_entries_round_trips(self, backend: Backend):
        journal = await backend.opened()
        batch = orders(1, 10_000)
        await journal.append(batch)
        await journal.append(orders(10_001, 1))
        assert await journal.last_sequence() == 10_001
        assert await read_all(journal) == [*batch, *orders(10_001, 1)]
        assert [entry.sequence for entry in await read_all(journal, 9_998)] == [
            9_999,
            10_000,
            10_001,
        ]

    async def test_a_command_that_cannot_be_encoded_is_refused_and_nothing_is_written(
        self, backend: Backend
    ):
        journal = await backend.opened()
        await journal.append(orders(1, 1))
        bad = PlaceOrder(1, "x", "BTC-USD", "sideways", OrderType.LIMIT, 1, 1, TimeInForce.GTC)
        with pytest.raises(ValueError, match="sideways"):
            await journal.append([*orders(2, 1), JournalEntry(3, START_NS, bad)])
        assert await journal.last_sequence() == 1
        await journal.append(orders(2, 1))
        assert await read_all(journal) == orders(1, 2)

    async def test_using_a_journal_that_is_not_open_is_an_error(self, backend: Backend):
        journal = backend.journal()
        with pytest.raises(RuntimeError, match="not open"):
            await journal.append(orders(1, 1))
        with pytest.raises(RuntimeError, match="not open"):
            await journal.last_sequence()
        with pytest.raises(RuntimeError, match="not open"):
            journal.read()

    async def test_an_intact_journal_has_no_discontinuity(self, backend: Backend):
        journal = await backend.opened()
        assert await journal.discontinuities(limit=5) == []  # type: ignore[attr-defined]
        await journal.append(orders(1, 4))
        await journal.append(orders(5, 3))
        assert await journal.discontinuities(limit=5) == []  # type: ignore[attr-defined]
        assert await journal.storage_problems() == []  # type: ignore[attr-defined]

    async def test_a_missing_first_record_a_gap_and_an_overlap_are_discontinuities(
        self, backend: Backend
    ):
        journal = await backend.opened()
        await journal.append(orders(1, 4))
        await journal.append(orders(5, 3))
        await journal.append(orders(8, 2))
        await backend.delete_record(1)
        await backend.delete_record(8)
        await backend.insert_record(encode_record(orders(10, 2), 9))
        await backend.insert_record(encode_record(orders(11, 3), 10))
        found = await journal.discontinuities(limit=5)  # type: ignore[attr-defined]
        assert found == [
            Discontinuity(previous_last=0, first_sequence=5, last_sequence=7),
            Discontinuity(previous_last=7, first_sequence=10, last_sequence=11),
            Discontinuity(previous_last=11, first_sequence=11, last_sequence=13),
        ]
        assert len(await journal.discontinuities(limit=2)) == 2  # type: ignore[attr-defined]

    async def test_stored_records_are_listed_in_pages_as_stored_even_when_damaged(
        self, backend: Backend
    ):
        journal = await backend.opened()
        for first in range(1, 10, 3):
            await journal.append(orders(first, 3))
        await backend.set_checksum(4, 7)
        listed = await journal.records_after(0, 2)  # type: ignore[attr-defined]
        assert [record.first_sequence for record in listed] == [1, 4]
        assert listed[1].checksum == 7
        rest = await journal.records_after(4, 10)  # type: ignore[attr-defined]
        assert [(record.first_sequence, record.last_sequence) for record in rest] == [(7, 9)]
        holding = await journal.record_holding(8)  # type: ignore[attr-defined]
        assert holding is not None
        assert holding.first_sequence == 7
        assert await journal.record_holding(10) is None  # type: ignore[attr-defined]


async def _payload(backend: Backend, journal: Journal, first_sequence: int) -> bytes:
    if isinstance(backend, SqlBackend):
        return await backend.payload_of(first_sequence)
    assert isinstance(backend, MemoryBackend)
    return backend.storage.records[backend._index(first_sequence)].payload


class TestInMemoryJournal(JournalContract):
    @pytest.fixture
    async def backend(self) -> AsyncIterator[Backend]:
        backend = MemoryBackend()
        yield backend
        await backend.close_all()


class TestSqlJournal(JournalContract):
    @pytest.fixture
    async def backend(self, database_url: str) -> AsyncIterator[Backend]:
        await prepare_database(database_url)
        backend = SqlBackend(database_url)
        yield backend
        await backend.close_all()

    async def test_commits_wait_for_the_disk(self, backend: Backend):
        journal = await backend.opened()
        if isinstance(journal, SqliteJournal):
            connection = journal._connection
            assert connection is not None
            assert list(await connection.execute_fetchall("PRAGMA journal_mode")) == [("wal",)]
            assert list(await connection.execute_fetchall("PRAGMA synchronous")) == [(2,)]  # FULL
        else:
            assert isinstance(journal, PostgresJournal)
            assert await journal._session.fetchval("SHOW synchronous_commit") != "off"

    async def test_a_writer_in_another_process_holds_the_lock_until_it_dies(self, backend: Backend):
        assert isinstance(backend, SqlBackend)
        child = await _start_writer_process(backend.url)
        try:
            with pytest.raises(JournalLockedError):
                await backend.journal().open()
        finally:
            child.send_signal(signal.SIGKILL)
            child.communicate(timeout=10)
        journal = await _open_when_released(backend)
        assert await journal.last_sequence() == 1


_WRITER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from openbell.core.adapters.postgres import PostgresJournal
    from openbell.core.adapters.sqlite import SqliteJournal, SqliteWriterLock
    from openbell.core.application.ports import JournalEntry
    from openbell.contracts.commands import OpenAccount

    async def main(url):
        kind = SqliteJournal if url.startswith("sqlite") else PostgresJournal
        journal = kind(url)
        await journal.open()
        await journal.append([JournalEntry(1, 1, OpenAccount())])
        sys.stdout.write("ready\\n")
        sys.stdout.flush()
        await asyncio.sleep(3600)

    asyncio.run(main(sys.argv[1]))
    """
)


async def _start_writer_process(url: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER_SCRIPT, url],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), timeout=30)
    assert line == "ready\n"
    return child


async def _open_when_released(backend: Backend) -> Journal:
    # The server notices the dead session a moment after the kill.
    for _ in range(100):
        journal = backend.journal()
        try:
            await journal.open()
        except JournalLockedError:
            await asyncio.sleep(0.05)
        else:
            return journal
    pytest.fail("the lock was not released after the writer died")


async def test_the_postgres_writer_reconnects_and_takes_its_lock_again(postgres_url: str):
    await prepare_database(postgres_url)
    journal = PostgresJournal(postgres_url)
    await journal.open()
    try:
        await journal.append(orders(1, 2))
        await _terminate_journal_sessions(postgres_url)
        try:
            await journal.append(orders(3, 1))
        except JournalStorageError:
            # The append met the dead connection; the new session says what is durable.
            assert await journal.last_sequence() == 2
            await journal.append(orders(3, 1))
        assert await journal.last_sequence() == 3
        assert await read_all(journal) == orders(1, 3)
        assert await _writer_lock_holders(postgres_url) == 1
    finally:
        await journal.close()


async def test_a_postgres_writer_that_lost_its_lock_to_another_cannot_write(postgres_url: str):
    await prepare_database(postgres_url)
    first = PostgresJournal(postgres_url)
    await first.open()
    second = PostgresJournal(postgres_url)
    try:
        await first.append(orders(1, 1))
        await _terminate_journal_sessions(postgres_url)
        await second.open()
        with pytest.raises((JournalStorageError, JournalLockedError)):
            await first.append(orders(2, 1))
        with pytest.raises(JournalLockedError):
            await first.append(orders(2, 1))
        await second.append(orders(2, 1))
        assert await second.last_sequence() == 2
    finally:
        await first.close()
        await second.close()


async def _terminate_journal_sessions(url: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()


async def _writer_lock_holders(url: str) -> int:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND d.datname = current_database() AND l.granted"
        )
    finally:
        await connection.close()
    return count


async def test_a_held_writer_lock_refuses_a_second_holder_naming_itself(database_url: str):
    url = database_url
    first, second = writer_lock_for(url), writer_lock_for(url)
    await first.acquire()
    try:
        with pytest.raises(JournalLockedError, match=re.escape(second.name)):
            await second.acquire()
    finally:
        await first.release()
    await second.acquire()
    await second.release()


async def test_a_sqlite_journal_writes_under_the_lock_it_is_given(sqlite_url: str):
    await prepare_database(sqlite_url)
    lock = SqliteWriterLock(sqlite_url)
    with pytest.raises(RuntimeError, match="lock is not held"):
        await SqliteJournal(sqlite_url, lock=lock).open()
    await lock.acquire()
    journal = SqliteJournal(sqlite_url, lock=lock)
    await journal.open()
    await journal.append(orders(1, 1))
    await journal.close()
    assert lock.held  # the journal leaves the lock to whoever took it
    with pytest.raises(JournalLockedError):
        await SqliteJournal(sqlite_url).open()
    await lock.release()


async def test_a_writer_lock_says_it_is_held_until_released(database_url: str):
    lock = writer_lock_for(database_url)
    assert not await lock.still_held()
    await lock.acquire()
    assert await lock.still_held()
    await lock.release()
    assert not await lock.still_held()


async def test_a_postgres_writer_lock_whose_session_ended_is_no_longer_held(postgres_url: str):
    lock = writer_lock_for(postgres_url)
    await lock.acquire()
    try:
        connection = await asyncpg.connect(asyncpg_dsn(postgres_url))
        try:
            await connection.execute(
                "SELECT pg_terminate_backend(l.pid) FROM pg_locks l "
                "JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND d.datname = current_database() AND l.granted"
            )
        finally:
            await connection.close()
        assert not await lock.still_held()
    finally:
        await lock.release()
