"""Every refused start of a real `openbell up` ends at once, non-zero, on both backends,
and SIGTERM ends a start that is waiting.

Each test prints how long the process took; the bound is generous for a loaded machine
(a refusal takes about a second), what matters is that it ends at all.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text

from openbell.app import prepare, start_platform
from openbell.contracts.commands import PlaceOrder
from openbell.contracts.enums import OrderType, Side, TimeInForce
from openbell.demo import seed_demo
from openbell.platform.db import asyncpg_dsn, create_engine
from openbell.platform.settings import Settings
from openbell.shared.ids import AccountId, ClientOrderId, Symbol
from openbell.shared.money import Price, Quantity

pytestmark = pytest.mark.slow

OPENBELL = [sys.executable, "-m", "openbell.cli", "up"]
BOUND_SECONDS = 20.0
KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # 32 bytes, base64


def up(
    data_dir: Path, *, port: int = 1, log: Path | None = None, **env: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*OPENBELL, "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if log is None else log.open("wb"),
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
    )


def ended(process: subprocess.Popen[bytes], since: float, what: str) -> tuple[int, str]:
    """Wait (well past the bound) for the process; print and return its status and stderr."""
    try:
        _, stderr = process.communicate(timeout=3 * BOUND_SECONDS)
        stderr = stderr or b""
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"{what}: still running after {3 * BOUND_SECONDS} s")
    elapsed = time.monotonic() - since
    print(f"{what}: exit {process.returncode} after {elapsed:.1f} s")  # noqa: T201
    assert elapsed < BOUND_SECONDS
    return process.returncode, stderr.decode(errors="replace")


def refused(data_dir: Path, what: str, **env: str) -> tuple[int, str]:
    return ended(up(data_dir, **env), time.monotonic(), what)


async def a_journal_that_lost_its_tail(settings: Settings) -> None:
    """Trade on the demo market, stop, then lose the journal rows and snapshots of the trade."""
    platform = await start_platform(settings)
    try:
        await seed_demo(platform.core, platform.identity, settings.data_dir)
        kept = platform.core.sequencer.committed_sequence
        for account, side in ((1, Side.SELL), (2, Side.BUY)):
            command = PlaceOrder(
                AccountId(account),
                ClientOrderId(f"{side.value}-1"),
                Symbol("ACME"),
                side,
                OrderType.LIMIT,
                Price(15_000),
                Quantity(5),
                TimeInForce.GTC,
            )
            await platform.core.sequencer.execute(command)
    finally:
        await platform.stop()
    engine = create_engine(settings.resolved_database_url)
    try:
        async with engine.begin() as connection:
            for table, column in (
                ("core_journal", "first_sequence"),
                ("core_snapshots", "sequence"),
            ):
                await connection.execute(text(f"DELETE FROM {table} WHERE {column} > {kept}"))  # noqa: S608
    finally:
        await engine.dispose()


def test_a_read_model_ahead_of_the_journal_exits_3_on_sqlite(tmp_path):
    data_dir = tmp_path / "var"
    asyncio.run(a_journal_that_lost_its_tail(Settings(data_dir=data_dir)))

    code, stderr = refused(data_dir, "inconsistent past, SQLite")

    assert code == 3
    assert "the trading read model is at sequence" in stderr
    assert "(2 ahead)" in stderr


def recover(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OPENBELL[:-1], "recover", "--rebuild-read-model", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_after_rebuilding_the_read_model_from_the_journal_the_server_starts(
    tmp_path, unused_tcp_port_factory
):
    data_dir = tmp_path / "var"
    asyncio.run(a_journal_that_lost_its_tail(Settings(data_dir=data_dir)))

    rebuilt = recover(data_dir)

    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt from the journal" in rebuilt.stdout
    port = unused_tcp_port_factory()
    server = up(data_dir, port=port)
    try:
        wait_ready(server, port)
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    assert server.returncode == 0


def test_a_read_model_ahead_of_the_journal_exits_3_on_postgres(postgres_url, tmp_path):
    data_dir = tmp_path / "var"
    asyncio.run(
        a_journal_that_lost_its_tail(Settings(data_dir=data_dir, database_url=postgres_url))
    )

    code, stderr = refused(
        data_dir, "inconsistent past, PostgreSQL", OPENBELL_DATABASE_URL=postgres_url
    )

    assert code == 3
    assert "the trading read model is at sequence" in stderr


def test_a_data_dir_production_refuses_exits_2(postgres_url, tmp_path):
    data_dir = tmp_path / "shared"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)

    code, stderr = refused(
        data_dir,
        "open data dir in production",
        OPENBELL_ENVIRONMENT="production",
        OPENBELL_KEY_ENCRYPTION_KEY=KEY,
        OPENBELL_DATABASE_URL=postgres_url,
    )

    assert code == 2
    assert "Refusing to start (the data directory is refused): " in stderr


def test_an_unreachable_database_exits_1(tmp_path):
    code, stderr = refused(
        tmp_path / "var",
        "unreachable PostgreSQL",
        OPENBELL_DATABASE_URL="postgresql+asyncpg://nobody@127.0.0.1:1/none",
    )

    assert code == 1
    assert "cannot be reached" in stderr


def test_a_second_server_on_a_live_data_dir_exits_4(tmp_path, unused_tcp_port_factory):
    data_dir = tmp_path / "var"
    first_port = unused_tcp_port_factory()
    first = up(data_dir, port=first_port)
    try:
        wait_ready(first, first_port)

        code, stderr = ended(
            up(data_dir, port=unused_tcp_port_factory()), time.monotonic(), "second server"
        )

        assert code == 4
        assert "another server holds the journal" in stderr
        rebuilding = recover(data_dir)
        assert rebuilding.returncode == 4
        assert "A server holds the journal" in rebuilding.stderr
        assert httpx.get(f"http://127.0.0.1:{first_port}/readyz").status_code == 200
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)


def wait_ready(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail("the first server did not become ready")


def migrating(process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the start has reached the migrations (where it will wait), however slow."""
    deadline = time.monotonic() + 60
    while "Context impl" not in log.read_text(errors="replace"):
        assert process.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, "the start never reached the migrations"
        time.sleep(0.1)
    time.sleep(1)
    assert process.poll() is None, "the start was meant to wait"


def test_sigterm_ends_a_start_waiting_on_a_locked_sqlite_database(tmp_path):
    import sqlite3  # noqa: PLC0415

    data_dir = tmp_path / "var"
    asyncio.run(prepare(Settings(data_dir=data_dir)))
    holder = sqlite3.connect(data_dir / "openbell.db", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")  # keeps every other connection out
    holder.execute("BEGIN EXCLUSIVE")
    try:
        log = tmp_path / "up.log"
        process = up(data_dir, log=log)
        migrating(process, log)

        process.send_signal(signal.SIGTERM)
        code, _ = ended(process, time.monotonic(), "SIGTERM, SQLite start waiting")
    finally:
        holder.close()

    assert code == 128 + signal.SIGTERM
    assert "SIGTERM during start-up" in log.read_text()


async def lock_the_schema(url: str) -> asyncpg.Connection:
    """A session holding the migrations' table: a starting server waits on it."""
    await prepare(Settings(database_url=url))
    holder = await asyncpg.connect(asyncpg_dsn(url))
    await holder.execute("BEGIN; LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
    return holder


def test_sigterm_ends_a_start_waiting_on_a_locked_postgres_schema(postgres_url, tmp_path):
    loop = asyncio.new_event_loop()
    holder = loop.run_until_complete(lock_the_schema(postgres_url))
    try:
        log = tmp_path / "up.log"
        process = up(tmp_path / "var", log=log, OPENBELL_DATABASE_URL=postgres_url)
        migrating(process, log)

        process.send_signal(signal.SIGTERM)
        code, _ = ended(process, time.monotonic(), "SIGTERM, PostgreSQL start waiting")
    finally:
        loop.run_until_complete(holder.close())
        loop.close()

    assert code == 128 + signal.SIGTERM
