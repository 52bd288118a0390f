"""`openbell ledger verify`: 0 and a summary when the books balance, else a fault named."""

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

from openbell.core.adapters.codec import encode_state
from openbell.core.adapters.sqlite import SqliteJournal, SqliteSnapshotStore
from openbell.core.application.ports import JournalEntry, Snapshot
from openbell.core.application.recovery import recover
from openbell.core.bootstrap import decode_snapshot
from openbell.core.domain.state import export_state, hash_state
from openbell.migrations import upgrade_database

from builders import Market

VERIFY = [sys.executable, "-m", "openbell.cli", "ledger", "verify"]


def journaled_market(data_dir: Path) -> str:
    """A traded market's commands in a fresh SQLite journal under `data_dir`."""
    market = Market()
    alice, bob = market.trader(), market.trader()
    market.place(alice, "sell", 10, 10_010)
    market.place(bob, "buy", 4, 10_010)
    market.place(bob, "buy", 2, 9_990)
    url = f"sqlite+aiosqlite:///{data_dir / 'openbell.db'}"

    async def write() -> None:
        data_dir.mkdir(parents=True)
        await upgrade_database(url)
        journal = SqliteJournal(url)
        await journal.open()
        await journal.append([JournalEntry(*row) for row in market.log])
        await journal.close()

    asyncio.run(write())
    return url


def verify(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VERIFY, "--data-dir", str(data_dir)], capture_output=True, text=True, check=False
    )


def test_a_balanced_ledger_verifies_with_a_summary(tmp_path):
    journaled_market(tmp_path / "var")
    result = verify(tmp_path / "var")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout
    assert "2 accounts, 2 open orders" in result.stdout


def test_a_tampered_snapshot_is_named_and_fails(tmp_path):
    url = journaled_market(tmp_path / "var")

    async def tamper() -> None:
        # A snapshot whose hash matches its (altered) contents: only verification can tell.
        store = SqliteSnapshotStore(url)
        await store.open()
        journal = SqliteJournal(url, read_only=True)
        await journal.open()
        recovered = await recover(journal, None, decode_snapshot)
        state = export_state(recovered.exchange)
        state["accounts"][-1][1][0][1] += 1  # a trader's first asset gains one minor unit
        await store.save(Snapshot(state["sequence"], hash_state(state), 0, encode_state(state)))
        await store.close()
        await journal.close()

    asyncio.run(tamper())
    result = verify(tmp_path / "var")
    assert result.returncode == 1
    assert "balances sum to 1, not zero" in result.stderr + result.stdout


def test_a_directory_without_a_database_is_a_usage_error(tmp_path):
    result = verify(tmp_path / "empty")
    assert result.returncode == 2


def test_a_snapshot_that_fails_its_hash_is_passed_over(tmp_path):
    journaled_market(tmp_path / "var")
    database = sqlite3.connect(tmp_path / "var" / "openbell.db")
    database.execute(
        "INSERT INTO core_snapshots (sequence, state_hash, created_at, payload)"
        " VALUES (?, ?, ?, ?)",
        (3, "0" * 64, 0, b"\x80"),
    )
    database.commit()
    database.close()
    result = verify(tmp_path / "var")
    assert result.returncode == 0, result.stdout + result.stderr
