"""Recovery: latest sound snapshot, then the journal's tail; refuse to start on a lost tail."""

import pytest

from openbell.core.adapters.codec import encode_entries, encode_state
from openbell.core.adapters.memory import InMemoryJournal, InMemorySnapshotStore, InMemoryStorage
from openbell.core.application.ports import JournalEntry, Snapshot
from openbell.core.application.recovery import JournalBehindSnapshotError, recover
from openbell.core.bootstrap import decode_snapshot
from openbell.core.domain.exchange import Exchange
from openbell.core.domain.state import export_state, hash_state, state_hash

from builders import Market


async def journal_of(market: Market, storage: InMemoryStorage, upto: int | None = None) -> None:
    journal = InMemoryJournal(storage)
    await journal.open()
    entries = [JournalEntry(*row) for row in market.log[:upto]]
    await journal.append(entries)
    await journal.close()


def traded_market() -> Market:
    market = Market()
    alice, bob = market.trader(), market.trader()
    for price in (10_000, 10_010, 10_020):
        market.place(alice, "sell", 5, price)
    market.place(bob, "buy", 12, 10_020)
    market.place(bob, "buy", 3, 9_990)
    return market


def snapshot_at(market: Market, sequence: int) -> Snapshot:
    partial = Exchange()
    for row in market.log[:sequence]:
        partial.apply(row[2], row[0], row[1])
    state = export_state(partial)
    return Snapshot(sequence, hash_state(state), 0, encode_state(state))


async def open_pair(storage: InMemoryStorage) -> tuple[InMemoryJournal, InMemorySnapshotStore]:
    journal, snapshots = InMemoryJournal(storage, read_only=True), InMemorySnapshotStore(storage)
    await journal.open()
    await snapshots.open()
    return journal, snapshots


async def test_recovery_from_a_snapshot_and_the_tail_equals_the_live_state():
    market, storage = traded_market(), InMemoryStorage()
    await journal_of(market, storage)
    journal, snapshots = await open_pair(storage)
    await snapshots.save(snapshot_at(market, 9))
    recovered = await recover(journal, snapshots, decode_snapshot)
    assert (recovered.snapshot_sequence, recovered.replayed) == (9, len(market.log) - 9)
    assert state_hash(recovered.exchange) == state_hash(market.exchange)


async def test_a_corrupt_snapshot_is_passed_over_for_an_older_sound_one():
    market, storage = traded_market(), InMemoryStorage()
    await journal_of(market, storage)
    journal, snapshots = await open_pair(storage)
    await snapshots.save(snapshot_at(market, 6))
    good = snapshot_at(market, 10)
    await snapshots.save(good._replace(payload=good.payload[:-3] + b"\x00\x00\x00"))
    recovered = await recover(journal, snapshots, decode_snapshot)
    assert recovered.snapshot_sequence == 6
    assert state_hash(recovered.exchange) == state_hash(market.exchange)


async def test_a_journal_that_ends_before_the_snapshot_refuses_to_start():
    market, storage = traded_market(), InMemoryStorage()
    await journal_of(market, storage, upto=8)
    journal, snapshots = await open_pair(storage)
    await snapshots.save(snapshot_at(market, 10))
    with pytest.raises(JournalBehindSnapshotError):
        await recover(journal, snapshots, decode_snapshot)


async def test_replay_after_a_checkpoint_hands_over_every_later_outcome():
    market, storage = traded_market(), InMemoryStorage()
    await journal_of(market, storage)
    journal, snapshots = await open_pair(storage)
    await snapshots.save(snapshot_at(market, 12))
    seen: list[int] = []
    recovered = await recover(
        journal, snapshots, decode_snapshot, replay_after=9, on_outcome=lambda o: seen.append(o[0])
    )
    assert recovered.snapshot_sequence == 0  # the newest snapshot at or before 9: none
    assert seen == list(range(10, len(market.log) + 1))


def test_encoded_batches_are_compact():
    market = traded_market()
    payload = encode_entries([JournalEntry(*row) for row in market.log])
    assert len(payload) < 80 * len(market.log)
