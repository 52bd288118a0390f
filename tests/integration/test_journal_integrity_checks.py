"""The journal's integrity checks in process: verification, the acknowledged mark, refusals."""

import asyncio
import logging
import sqlite3
import threading
from pathlib import Path

import aiosqlite
import asyncpg
import httpx
import pytest

from openbell.app import start_platform
from openbell.contracts.commands import DefineAsset, OpenAccount
from openbell.core.adapters.acknowledged import AcknowledgedFile
from openbell.core.adapters.codec import checksum, decode_record
from openbell.core.adapters.memory import InMemoryJournal
from openbell.core.application.errors import (
    IntegrityCheckError,
    JournalCorruptedError,
    JournalLockedError,
)
from openbell.core.application.integrity import verify_journal
from openbell.core.application.ports import Acknowledged, JournalEntry
from openbell.core.bootstrap import (
    Core,
    CoreOptions,
    StoreOptions,
    accept_journal,
    acknowledged_path,
    hold_writer_lock,
    start_core,
)
from openbell.migrations import upgrade_database
from openbell.platform.db import asyncpg_dsn, is_sqlite, sqlite_path
from openbell.platform.settings import Settings
from openbell.shared.time import SystemClock


def accounts(first: int, count: int) -> list[JournalEntry]:
    return [
        JournalEntry(sequence, sequence, OpenAccount()) for sequence in range(first, first + count)
    ]


async def started(url: str, mark: Path, **options: float) -> Core:
    return await start_core(
        url,
        SystemClock(),
        options=CoreOptions(**options),
        stores=StoreOptions(acknowledged=mark),
    )


async def run_commands(url: str, mark: Path, count: int) -> int:
    """Start a core, execute `count` commands one batch each, stop; the last sequence."""
    core = await started(url, mark)
    try:
        for _ in range(count):
            await core.sequencer.execute(OpenAccount())
    finally:
        await core.stop()
    return core.sequencer.committed_sequence


async def execute(url: str, query: str, *parameters: object) -> None:
    """Damage the store behind the journal's back, as a restore or a hand edit would."""
    if is_sqlite(url):
        with sqlite3.connect(sqlite_path(url)) as connection:
            connection.execute(query.replace("$1", "?").replace("$2", "?"), parameters)
        return
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(query, *parameters)
    finally:
        await connection.close()


@pytest.fixture
async def url(database_url: str) -> str:
    await upgrade_database(database_url)
    return database_url


def test_the_acknowledged_mark_round_trips_and_a_damaged_one_is_refused(tmp_path: Path):
    mark = AcknowledgedFile(tmp_path / "journal.acknowledged")
    assert mark.read() is None
    mark.write(Acknowledged(1_259, 0xDEADBEEF))
    mark.write(Acknowledged(1_260, 0x0BADF00D))
    assert mark.read() == Acknowledged(1_260, 0x0BADF00D)
    assert mark.path.stat().st_size == 24  # rewritten in place
    mark.close()
    data = bytearray(mark.path.read_bytes())
    data[12] ^= 1
    mark.path.write_bytes(bytes(data))
    with pytest.raises(IntegrityCheckError, match="is damaged"):
        mark.read()
    mark.path.write_bytes(b"")  # created just before a power cut: as good as none
    assert mark.read() is None


async def test_verification_reads_every_record_and_names_each_problem():
    journal = InMemoryJournal()
    await journal.open()
    for first in range(1, 13, 3):
        await journal.append(accounts(first, 3))
    storage = journal._storage
    storage.records[1] = storage.records[1]._replace(checksum=1)
    del storage.records[2]
    report = await verify_journal(journal, decode_record, None)
    assert (report.records, report.entries, report.last_sequence) == (3, 6, 12)
    assert report.problems == [
        "journal corrupted at sequences 4..6: checksum mismatch",
        "records are missing: sequences 7..9",
    ]
    assert not report.ok


async def test_a_journal_ending_before_the_acknowledged_mark_is_refused_naming_the_loss(
    url: str, tmp_path: Path
):
    mark = tmp_path / "journal.acknowledged"
    await run_commands(url, mark, 5)
    await execute(url, "DELETE FROM core_journal WHERE first_sequence > $1", 3)
    await execute(url, "DELETE FROM core_snapshots")  # else the final snapshot is ahead too
    with pytest.raises(IntegrityCheckError) as refused:
        await started(url, mark)
    assert "the journal ends at 3 but 5 commands were acknowledged" in str(refused.value)
    assert "2 acknowledged commands are missing" in str(refused.value)
    await _assert_nothing_left_open(url)


async def test_another_tail_of_the_same_length_is_refused(url: str, tmp_path: Path):
    mark = tmp_path / "journal.acknowledged"
    await run_commands(url, mark, 3)
    other = DefineAsset("XYZ", 2)
    journal = InMemoryJournal()
    await journal.open()
    await journal.append([JournalEntry(1, 1, OpenAccount()), JournalEntry(2, 2, OpenAccount())])
    await journal.append([JournalEntry(3, 3, other)])
    replacement = journal._storage.records[-1]
    await execute(
        url,
        "UPDATE core_journal SET payload = $1, checksum = $2 WHERE first_sequence = 3",
        replacement.payload,
        checksum(replacement.payload),
    )
    with pytest.raises(IntegrityCheckError, match="tail was replaced"):
        await started(url, mark)


async def test_a_gap_in_the_journal_is_refused_before_recovery(url: str, tmp_path: Path):
    mark = tmp_path / "journal.acknowledged"
    await run_commands(url, mark, 4)
    await execute(url, "DELETE FROM core_journal WHERE first_sequence = $1", 2)
    with pytest.raises(IntegrityCheckError, match=r"records are missing: sequences 2\.\.2"):
        await started(url, mark)
    await _assert_nothing_left_open(url)


async def test_a_first_start_without_a_mark_warns_and_makes_one(
    url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    await run_commands(url, tmp_path / "elsewhere.acknowledged", 4)
    mark = tmp_path / "journal.acknowledged"
    with caplog.at_level(logging.WARNING):
        core = await started(url, mark)
    await core.stop()
    assert "no record of the last acknowledged sequence" in caplog.text
    assert AcknowledgedFile(mark).read() is not None
    assert AcknowledgedFile(mark).read().sequence == 4  # type: ignore[union-attr]


async def test_rebuilding_from_the_journal_accepts_its_end_as_acknowledged(
    url: str, tmp_path: Path
):
    mark = tmp_path / "journal.acknowledged"
    await run_commands(url, mark, 5)
    await execute(url, "DELETE FROM core_journal WHERE first_sequence > $1", 3)
    await execute(url, "DELETE FROM core_snapshots")
    assert await accept_journal(url, mark) == 3
    core = await started(url, mark)
    await core.stop()
    assert core.sequencer.committed_sequence == 3


async def test_a_refused_start_closes_every_store_it_opened(url: str, tmp_path: Path):
    mark = tmp_path / "journal.acknowledged"
    await run_commands(url, mark, 6)
    # A corrupt record past every snapshot: continuity holds, replay finds the damage.
    await execute(url, "DELETE FROM core_snapshots")
    await execute(url, "UPDATE core_journal SET checksum = 1 WHERE first_sequence = $1", 5)
    with pytest.raises(JournalCorruptedError):
        await started(url, mark)
    await _assert_nothing_left_open(url)


async def _assert_nothing_left_open(url: str) -> None:
    """No SQLite connection thread keeps the process alive; the writer lock is free again."""
    await asyncio.sleep(0)
    assert not [
        thread for thread in threading.enumerate() if isinstance(thread, aiosqlite.Connection)
    ]
    async with hold_writer_lock(url):
        pass


async def test_a_held_writer_lock_refuses_a_core_before_it_opens_anything(url: str, tmp_path: Path):
    async with hold_writer_lock(url):
        with pytest.raises(JournalLockedError, match="another openbell process"):
            await started(url, tmp_path / "journal.acknowledged")


async def test_the_background_check_turns_integrity_off_when_the_journal_breaks(
    url: str, tmp_path: Path
):
    mark = tmp_path / "journal.acknowledged"
    core = await started(url, mark, integrity_check_interval_seconds=0.05)
    try:
        for _ in range(4):
            await core.sequencer.execute(OpenAccount())
        assert await core.integrity.check() == []
        assert healthy(core)
        await execute(url, "DELETE FROM core_journal WHERE first_sequence = $1", 2)
        for _ in range(400):  # the background task notices within a few intervals
            if not healthy(core):
                break
            await asyncio.sleep(0.05)
        assert not healthy(core)
        assert core.integrity.problems == ["records are missing: sequences 2..2"]
    finally:
        await core.stop()


def healthy(core: Core) -> bool:
    return core.integrity_ok


def test_each_database_has_its_own_acknowledged_file(tmp_path: Path):
    default = f"sqlite+aiosqlite:///{tmp_path / 'openbell.db'}"
    assert acknowledged_path(tmp_path, default) == tmp_path / "journal.acknowledged"
    first = acknowledged_path(tmp_path, "postgresql+asyncpg://u:secret@db:5432/one")
    second = acknowledged_path(tmp_path, "postgresql+asyncpg://u:other@db:5432/two")
    assert first != second
    assert first == acknowledged_path(tmp_path, "postgresql+asyncpg://u:rotated@db:5432/one")
    assert "secret" not in first.name


async def test_readiness_fails_while_the_journal_fails_its_check(database_url: str, tmp_path: Path):
    settings = Settings(data_dir=tmp_path / "var", database_url=database_url)
    platform = await start_platform(settings)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.app), base_url="http://127.0.0.1:8000"
    )
    try:
        for _ in range(3):
            await platform.core.sequencer.execute(OpenAccount())
        assert (await client.get("/readyz")).status_code == 200
        await execute(database_url, "DELETE FROM core_journal WHERE first_sequence = $1", 2)
        assert await platform.core.integrity.check() != []
        assert (await client.get("/readyz")).status_code == 503
        assert not await platform.ready()
    finally:
        await client.aclose()
        await platform.stop()


async def test_a_second_platform_on_a_live_database_refuses_before_migrating(
    database_url: str, tmp_path: Path
):
    settings = Settings(data_dir=tmp_path / "var", database_url=database_url)
    platform = await start_platform(settings)
    try:
        # A revision no migration knows: trying to migrate would fail on it, not on the lock.
        await execute(database_url, "UPDATE alembic_version SET version_num = 'feedfacecafe'")
        with pytest.raises(JournalLockedError, match="another openbell process"):
            await start_platform(settings.model_copy(update={"data_dir": tmp_path / "other"}))
    finally:
        await platform.stop()
