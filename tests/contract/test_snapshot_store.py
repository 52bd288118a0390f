"""The snapshot store contract: the in-memory, SQLite and PostgreSQL stores pass the same tests."""

import os
from collections.abc import AsyncIterator, Callable

import pytest

from openbell.core.adapters import tables  # noqa: F401  # registers the core tables
from openbell.core.adapters.codec import decode_state, encode_state
from openbell.core.adapters.memory import InMemorySnapshotStore, InMemoryStorage
from openbell.core.adapters.postgres import PostgresSnapshotStore
from openbell.core.adapters.sqlite import SqliteSnapshotStore
from openbell.core.application.errors import SnapshotConflictError, SnapshotStoreError
from openbell.core.application.ports import Snapshot, SnapshotStore
from openbell.platform.db import is_sqlite, prepare_database

CREATED_NS = 1_700_000_000_000_000_000


def snapshot(
    sequence: int, payload: bytes | None = None, state_hash: str | None = None
) -> Snapshot:
    return Snapshot(
        sequence=sequence,
        state_hash=state_hash or f"{sequence:064x}",
        created_at=CREATED_NS + sequence,
        payload=payload if payload is not None else f"state at {sequence}".encode(),
    )


StoreFactory = Callable[..., SnapshotStore]
"""Makes a store over the test's database; `read_only=True` for a reader."""


class SnapshotStoreContract:
    """Every snapshot store adapter must pass these."""

    @pytest.fixture
    async def store(self, new_store: StoreFactory) -> AsyncIterator[SnapshotStore]:
        store = new_store()
        await store.open()
        yield store
        await store.close()

    async def test_an_empty_store_has_no_snapshot(self, store: SnapshotStore):
        assert await store.latest() is None
        assert await store.latest(at_or_before=100) is None

    async def test_latest_is_the_highest_sequence_whatever_the_save_order(
        self, store: SnapshotStore
    ):
        for sequence in (20, 30, 10):
            await store.save(snapshot(sequence))
        assert await store.latest() == snapshot(30)

    @pytest.mark.parametrize(
        ("at_or_before", "expected"),
        [(9, None), (10, 10), (19, 10), (20, 20), (29, 20), (30, 30), (10**12, 30)],
    )
    async def test_latest_at_or_before_a_sequence(
        self, store: SnapshotStore, at_or_before: int, expected: int | None
    ):
        for sequence in (10, 20, 30):
            await store.save(snapshot(sequence))
        found = await store.latest(at_or_before=at_or_before)
        assert found == (None if expected is None else snapshot(expected))

    async def test_prune_keeps_the_newest(self, store: SnapshotStore):
        for sequence in (10, 20, 30, 40):
            await store.save(snapshot(sequence))
        await store.prune(2)
        assert await store.latest() == snapshot(40)
        assert await store.latest(at_or_before=39) == snapshot(30)
        assert await store.latest(at_or_before=29) is None
        await store.prune(5)
        assert await store.latest(at_or_before=39) == snapshot(30)
        await store.prune(1)
        assert await store.latest(at_or_before=39) is None
        assert await store.latest() == snapshot(40)

    async def test_prune_refuses_to_delete_every_snapshot(self, store: SnapshotStore):
        await store.save(snapshot(10))
        with pytest.raises(ValueError, match="at least one"):
            await store.prune(0)
        assert await store.latest() == snapshot(10)

    async def test_snapshots_survive_reopening(self, store: SnapshotStore, new_store: StoreFactory):
        await store.save(snapshot(10))
        await store.save(snapshot(20))
        await store.close()
        reopened = new_store()
        await reopened.open()
        try:
            assert await reopened.latest() == snapshot(20)
            assert await reopened.latest(at_or_before=15) == snapshot(10)
        finally:
            await reopened.close()

    async def test_saving_the_same_state_again_changes_nothing(self, store: SnapshotStore):
        await store.save(snapshot(10))
        await store.save(snapshot(10)._replace(created_at=CREATED_NS + 999))
        assert await store.latest() == snapshot(10)

    async def test_a_different_state_at_a_saved_sequence_is_refused(self, store: SnapshotStore):
        await store.save(snapshot(10))
        with pytest.raises(SnapshotConflictError, match="10"):
            await store.save(snapshot(10, state_hash="f" * 64))
        assert await store.latest() == snapshot(10)

    async def test_large_binary_payloads_come_back_byte_for_byte(self, store: SnapshotStore):
        payload = os.urandom(4 * 1024 * 1024) + b"\x00" * 7
        await store.save(snapshot(2**62, payload))
        found = await store.latest()
        assert found is not None
        assert found.sequence == 2**62
        assert found.payload == payload

    async def test_a_read_only_store_reads_beside_the_writer_and_changes_nothing(
        self, store: SnapshotStore, new_store: StoreFactory
    ):
        await store.save(snapshot(10))
        reader = new_store(read_only=True)
        await reader.open()
        try:
            await store.save(snapshot(20))
            assert await reader.latest() == snapshot(20)
            with pytest.raises(SnapshotStoreError, match="read-only"):
                await reader.save(snapshot(30))
            with pytest.raises(SnapshotStoreError, match="read-only"):
                await reader.prune(1)
        finally:
            await reader.close()
        assert await store.latest(at_or_before=15) == snapshot(10)
        assert await store.latest() == snapshot(20)

    async def test_an_encoded_state_round_trips_through_the_store(self, store: SnapshotStore):
        state = {
            "sequence": 12,
            "accounts": {1: [["USD", 2**63 - 1, 0]], 2: []},
            "halted": False,
            "reason": None,
            "name": "Zürich 東京",
        }
        await store.save(snapshot(12, encode_state(state)))
        found = await store.latest()
        assert found is not None
        assert decode_state(found.payload) == state


class TestInMemorySnapshotStore(SnapshotStoreContract):
    @pytest.fixture
    def new_store(self) -> StoreFactory:
        storage = InMemoryStorage()
        return lambda read_only=False: InMemorySnapshotStore(storage, read_only=read_only)


class TestSqlSnapshotStore(SnapshotStoreContract):
    @pytest.fixture
    async def new_store(self, database_url: str) -> StoreFactory:
        await prepare_database(database_url)
        kind = SqliteSnapshotStore if is_sqlite(database_url) else PostgresSnapshotStore
        return lambda read_only=False: kind(database_url, read_only=read_only)
