"""Damaged copies of real data dirs: a start refuses promptly, or verification names the damage.

A real `openbell up --demo` takes orders, stops cleanly, takes more and is killed -9,
so the newest commands live only in SQLite's `-wal`. Each test damages a copy of that
data dir as a failing disk, a lost file or a careless restore would, and checks what
the next start, `openbell journal verify` and `openbell ledger verify --deep` say.
Every refusal must end the process with a non-zero status within REFUSAL_BOUND seconds,
a bound generous enough for a loaded machine; the time taken is printed.
"""

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import asyncpg
import httpx
import pytest

from e2e.test_crash_recovery import Server, free_port, place_all, tokens
from openbell.platform.db import asyncpg_dsn

pytestmark = pytest.mark.slow

OPENBELL = [sys.executable, "-m", "openbell.cli"]
REFUSAL_BOUND = 20.0
PAGE = 4096


class Refusal(NamedTuple):
    code: int
    seconds: float
    output: str


def start_expecting_refusal(data_dir: Path, env: dict[str, str] | None = None) -> Refusal:
    """`openbell up` on a damaged data dir: its exit status, how long it took, what it said."""
    started = time.monotonic()
    process = subprocess.Popen(
        # A free port: a start that wrongly succeeds keeps running and fails the bound.
        [*OPENBELL, "up", "--data-dir", str(data_dir), "--port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "1000", **(env or {})},
    )
    try:
        output, _ = process.communicate(timeout=REFUSAL_BOUND)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"still running after {REFUSAL_BOUND} s:\n{output.decode()[-2000:]}")
    seconds = time.monotonic() - started
    print(f"refused with status {process.returncode} in {seconds:.1f} s")  # noqa: T201
    return Refusal(process.returncode, seconds, output.decode(errors="replace"))


def cli(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OPENBELL, *arguments],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "1000", **(env or {})},
    )


def run_and_stop(data_dir: Path, orders: range, *, kill: bool, env: dict[str, str]) -> None:
    os.environ.update(env)  # Server passes the environment on to the child
    try:
        server = Server(data_dir, snapshot_every=37)
    finally:
        for name in env:
            del os.environ[name]
    try:
        server.wait_ready()
        acknowledged = asyncio.run(
            place_all(server.base, asyncio.run(tokens(server.base, data_dir)), orders)
        )
        assert len(acknowledged) == len(orders)
    finally:
        if kill:
            server.kill()
    if not kill:
        assert server.terminate() == 0


@pytest.fixture(scope="module")
def live_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose last 60 orders are only in the -wal: stopped cleanly once, then killed."""
    data_dir = tmp_path_factory.mktemp("live") / "var"
    run_and_stop(data_dir, range(100), kill=False, env={})
    run_and_stop(data_dir, range(100, 160), kill=True, env={})
    assert (data_dir / "openbell.db-wal").stat().st_size > 0
    return data_dir


@pytest.fixture
def copy(live_data_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(live_data_dir, target)
    return target


def checkpoint(data_dir: Path) -> None:
    """Move everything from the -wal into the database file, as a clean stop does."""
    with sqlite3.connect(data_dir / "openbell.db") as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def assert_refused(refusal: Refusal, *needles: str) -> None:
    assert refusal.code != 0, refusal.output[-2000:]
    assert refusal.seconds < REFUSAL_BOUND
    for needle in needles:
        assert needle in refusal.output, refusal.output[-2000:]


def test_a_lost_wal_is_refused_naming_the_missing_acknowledged_commands(copy: Path):
    (copy / "openbell.db-wal").unlink()
    (copy / "openbell.db-shm").unlink(missing_ok=True)
    refusal = start_expecting_refusal(copy)
    assert_refused(refusal, "commands were acknowledged", "acknowledged commands are missing")
    assert cli("journal", "verify", "--data-dir", str(copy)).returncode == 1


def test_a_truncated_wal_is_refused(copy: Path):
    wal = copy / "openbell.db-wal"
    os.truncate(wal, wal.stat().st_size // 2)
    assert_refused(start_expecting_refusal(copy), "acknowledged commands are missing")


def test_zeroed_pages_in_the_database_file_are_refused(copy: Path):
    checkpoint(copy)
    database = copy / "openbell.db"
    middle = database.stat().st_size // PAGE // 2
    with database.open("r+b") as file:
        file.seek(middle * PAGE)
        file.write(bytes(4 * PAGE))
    assert_refused(start_expecting_refusal(copy), "the database reports")
    verified = cli("journal", "verify", "--data-dir", str(copy))
    assert verified.returncode == 1
    assert "the database reports" in verified.stderr


def flip_a_byte_of_the_first_record(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        payload = bytearray(
            connection.execute(
                "SELECT payload FROM core_journal WHERE first_sequence = 1"
            ).fetchone()[0]
        )
        payload[len(payload) // 2] ^= 0x20
        connection.execute(
            "UPDATE core_journal SET payload = ? WHERE first_sequence = 1", (bytes(payload),)
        )
        newest: int = connection.execute("SELECT max(sequence) FROM core_snapshots").fetchone()[0]
    return newest


def test_a_corrupt_record_older_than_every_snapshot_fails_journal_and_deep_ledger_verify(
    copy: Path,
):
    assert flip_a_byte_of_the_first_record(copy / "openbell.db") > 1
    verified = cli("journal", "verify", "--data-dir", str(copy))
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert "journal corrupted at sequences 1.." in verified.stderr
    assert "checksum mismatch" in verified.stderr
    as_json = cli("journal", "verify", "--data-dir", str(copy), "--json")
    assert as_json.returncode == 1
    assert '"ok": false' in as_json.stdout
    # The ledger rebuilt from the newest snapshot balances; only --deep looks further back.
    assert cli("ledger", "verify", "--data-dir", str(copy)).returncode == 0
    deep = cli("ledger", "verify", "--deep", "--data-dir", str(copy))
    assert deep.returncode == 1
    assert "checksum mismatch" in deep.stderr


def test_a_sound_data_dir_verifies(copy: Path):
    verified = cli("journal", "verify", "--data-dir", str(copy), "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert '"ok": true' in verified.stdout
    assert cli("ledger", "verify", "--deep", "--data-dir", str(copy)).returncode == 0
    assert cli("journal", "verify", "--data-dir", str(copy / "nothing")).returncode == 2


def corrupt_snapshots(database: Path, *, every: bool) -> None:
    with sqlite3.connect(database) as connection:
        sequences = [
            row[0]
            for row in connection.execute(
                "SELECT sequence FROM core_snapshots ORDER BY sequence DESC"
            )
        ]
        for sequence in sequences if every else sequences[:1]:
            connection.execute(
                "UPDATE core_snapshots SET payload = ? WHERE sequence = ?",
                (b"\xc1garbage", sequence),
            )


@pytest.mark.parametrize("every", [False, True], ids=["newest", "every"])
def test_corrupt_snapshots_are_passed_over_and_the_journal_replayed(copy: Path, every: bool):
    checkpoint(copy)
    corrupt_snapshots(copy / "openbell.db", every=every)
    server = Server(copy, snapshot_every=10_000)
    try:
        server.wait_ready()
        token = asyncio.run(tokens(server.base, copy))
        listed = httpx.get(
            f"{server.base}/v1/orders",
            params={"status": "all", "limit": 1000},
            headers={"Authorization": f"Bearer {token['alice']}"},
        ).json()["orders"]
        assert len([o for o in listed if o["client_order_id"].startswith("crash-")]) == 80
    finally:
        assert server.terminate() == 0
    log = next(copy.glob("server-*.log"), None)
    assert log is not None
    assert "is corrupt; trying an older one" in "".join(
        path.read_text(errors="replace") for path in copy.glob("server-*.log")
    )


def test_a_second_server_on_a_live_sqlite_dir_refuses_before_migrating(copy: Path):
    first = Server(copy, snapshot_every=10_000)
    try:
        first.wait_ready()
        with sqlite3.connect(copy / "openbell.db") as connection:
            connection.execute("UPDATE alembic_version SET version_num = 'feedfacecafe'")
        refusal = start_expecting_refusal(copy)
        assert_refused(refusal, "another openbell process is the writer", "openbell.db.lock")
        assert "alembic" not in refusal.output.lower()  # no migration was even tried
        with sqlite3.connect(copy / "openbell.db") as connection:
            version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        assert version == ("feedfacecafe",)
    finally:
        first.kill()


# PostgreSQL: the journal is in the server's database, the acknowledged mark in the data dir.


@pytest.fixture
async def postgres_data_dir(postgres_url: str, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    data_dir = tmp_path / "var"
    env = {"OPENBELL_DATABASE_URL": postgres_url}
    await asyncio.to_thread(run_and_stop, data_dir, range(60), kill=False, env=env)
    return data_dir, env


async def postgres(url: str, query: str) -> object:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


async def test_an_older_postgres_database_restored_under_a_newer_data_dir_is_refused(
    postgres_data_dir: tuple[Path, dict[str, str]],
):
    """A point-in-time restore: the whole database, consistent with itself, from before the
    last 20 orders. Nothing in it is ahead of its journal; only the data dir's mark knows."""
    data_dir, env = postgres_data_dir
    url = env["OPENBELL_DATABASE_URL"]
    server, _, name = url.rpartition("/")
    admin = await asyncpg.connect(asyncpg_dsn(f"{server}/postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}_older" TEMPLATE "{name}"')
        await asyncio.to_thread(run_and_stop, data_dir, range(60, 80), kill=False, env=env)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.execute(f'ALTER DATABASE "{name}_older" RENAME TO "{name}"')
        refusal = await asyncio.to_thread(start_expecting_refusal, data_dir, env)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}_older" WITH (FORCE)')
        await admin.close()
    assert_refused(refusal, "commands were acknowledged", "acknowledged commands are missing")


async def test_postgres_corrupt_old_record_fails_journal_verify(
    postgres_data_dir: tuple[Path, dict[str, str]],
):
    data_dir, env = postgres_data_dir
    url = env["OPENBELL_DATABASE_URL"]
    await postgres(
        url,
        "UPDATE core_journal SET payload = overlay(payload placing '\\x00'::bytea from 5) "
        "WHERE first_sequence = 1",
    )
    verified = await asyncio.to_thread(
        cli, "journal", "verify", "--data-dir", str(data_dir), env=env
    )
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert "journal corrupted at sequences 1.." in verified.stderr
    deep = await asyncio.to_thread(
        cli, "ledger", "verify", "--deep", "--data-dir", str(data_dir), env=env
    )
    assert deep.returncode == 1


async def test_a_second_server_on_a_live_postgres_database_refuses_before_migrating(
    postgres_data_dir: tuple[Path, dict[str, str]], tmp_path: Path
):
    data_dir, env = postgres_data_dir
    url = env["OPENBELL_DATABASE_URL"]
    os.environ.update(env)
    try:
        first = Server(data_dir, snapshot_every=10_000)
    finally:
        del os.environ["OPENBELL_DATABASE_URL"]
    try:
        await asyncio.to_thread(first.wait_ready)
        await postgres(url, "UPDATE alembic_version SET version_num = 'feedfacecafe'")
        tables = await postgres(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        refusal = await asyncio.to_thread(start_expecting_refusal, tmp_path / "other", env)
        assert_refused(refusal, "another openbell process is the writer", "advisory lock")
        assert "alembic" not in refusal.output.lower()
        assert await postgres(url, "SELECT version_num FROM alembic_version") == "feedfacecafe"
        assert (
            await postgres(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            == tables
        )
    finally:
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=30)
        first.log.close()
