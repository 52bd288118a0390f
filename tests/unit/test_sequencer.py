"""The sequencer: group commit, journal before acknowledgement, failure handling, draining."""

import asyncio
import itertools

import pytest

from openbell.contracts.commands import DefineAsset, Deposit, OpenAccount, PlaceOrder
from openbell.contracts.enums import OrderType, Side, TimeInForce
from openbell.contracts.results import DuplicateOrder, OrderView
from openbell.core.adapters import tables  # noqa: F401  # registers the journal's tables
from openbell.core.adapters.codec import encode_state
from openbell.core.adapters.memory import InMemoryJournal, InMemorySnapshotStore, InMemoryStorage
from openbell.core.adapters.sqlite import SqliteJournal
from openbell.core.application.errors import JournalLockedError
from openbell.core.application.ports import Journal
from openbell.core.application.recovery import recover
from openbell.core.application.sequencer import (
    Sequencer,
    SequencerOverloadedError,
    SequencerUnavailableError,
)
from openbell.core.application.snapshots import Snapshotter
from openbell.core.bootstrap import decode_snapshot
from openbell.core.domain.exchange import Exchange
from openbell.core.domain.state import state_hash
from openbell.platform.db import prepare_database
from openbell.shared.ids import AccountId, ClientOrderId
from openbell.shared.time import FixedClock

from builders import listing


class CountingJournal(InMemoryJournal):
    """The in-memory journal, remembering the size of every append."""

    def __init__(self, storage: InMemoryStorage | None = None) -> None:
        super().__init__(storage)
        self.appends: list[int] = []

    async def append(self, entries):
        self.appends.append(len(entries))
        await super().append(entries)


class FailingJournal(CountingJournal):
    """Fails the next append, either before writing or after writing (a lost COMMIT reply)."""

    def __init__(self, storage: InMemoryStorage, *, written: bool) -> None:
        super().__init__(storage)
        self.written = written
        self.armed = False

    async def append(self, entries):
        if self.armed:
            self.armed = False
            if self.written:
                await super().append(entries)
            raise ConnectionError("connection lost")
        await super().append(entries)


def place(account: int, client_order_id: str, price: int = 10_000) -> PlaceOrder:
    return PlaceOrder(
        account, client_order_id, "ACME", Side.BUY, OrderType.LIMIT, price, 1, TimeInForce.GTC
    )


async def started(journal: Journal, **options) -> Sequencer:
    await journal.open()
    sequencer = Sequencer(Exchange(), journal, FixedClock(), retry_seconds=0.01, **options)
    await sequencer.start()
    for command in (DefineAsset("USD", 2), DefineAsset("ACME", 0), listing(), OpenAccount()):
        await sequencer.execute(command)
    await sequencer.execute(Deposit(1, "USD", 10_000_000, "funding"))
    return sequencer


async def test_commands_submitted_together_share_one_journal_write():
    journal = CountingJournal()
    sequencer = await started(journal)
    journal.appends.clear()
    outcomes = await asyncio.gather(*(sequencer.execute(place(1, f"o{i}")) for i in range(200)))
    assert sum(journal.appends) == 200
    assert len(journal.appends) < 10
    sequences = [outcome.sequence for outcome in outcomes]
    assert sequences == sorted(sequences) == list(range(sequences[0], sequences[0] + 200))
    await sequencer.stop()


async def test_an_outcome_is_seen_only_after_its_batch_is_in_the_journal():
    gate = asyncio.Event()

    class SlowJournal(InMemoryJournal):
        async def append(self, entries):
            await gate.wait()
            await super().append(entries)

    journal = SlowJournal()
    gate.set()
    sequencer = await started(journal)
    gate.clear()
    pending = sequencer.submit(place(1, "slow"))
    await asyncio.sleep(0.05)
    assert not pending.done()
    assert await journal.last_sequence() == sequencer.committed_sequence
    gate.set()
    outcome = await pending
    assert await journal.last_sequence() == outcome.sequence
    await sequencer.stop()


async def test_a_failed_write_that_never_landed_fails_the_batch_and_loses_nothing_else():
    storage = InMemoryStorage()
    journal = FailingJournal(storage, written=False)
    sequencer = await started(journal)
    before = sequencer.committed_sequence
    journal.armed = True
    with pytest.raises(SequencerUnavailableError):
        await sequencer.execute(place(1, "lost"))
    assert sequencer.committed_sequence == before
    retried = await sequencer.execute(place(1, "lost"))
    assert isinstance(retried.result, OrderView)
    assert retried.sequence == before + 1
    await sequencer.stop()


async def test_a_write_that_landed_before_failing_is_applied_and_answered():
    storage = InMemoryStorage()
    journal = FailingJournal(storage, written=True)
    sequencer = await started(journal)
    journal.armed = True
    answered = await sequencer.execute(place(1, "landed"))
    assert isinstance(answered.result, OrderView)
    landed = sequencer.exchange.client_order_ids[(AccountId(1), ClientOrderId("landed"))]
    assert answered.result.order_id == landed
    retried = await sequencer.execute(place(1, "landed"))
    assert isinstance(retried.result, DuplicateOrder)
    assert retried.result.order_id == landed
    await sequencer.stop()
    reader = InMemoryJournal(storage, read_only=True)
    await reader.open()
    replayed = await recover(reader, None, decode_snapshot)
    assert state_hash(replayed.exchange) == state_hash(sequencer.exchange)


async def test_stop_finishes_queued_commands_then_refuses_new_ones():
    journal = CountingJournal()
    sequencer = await started(journal)
    queued = [sequencer.submit(place(1, f"q{i}")) for i in range(50)]
    await sequencer.stop()
    assert all(future.done() and not future.exception() for future in queued)
    with pytest.raises(SequencerUnavailableError):
        sequencer.submit(place(1, "late"))


async def test_a_full_inbox_refuses_at_once():
    journal = CountingJournal()
    sequencer = await started(journal, max_inbox=3)
    accepted = [sequencer.submit(place(1, f"f{i}")) for i in range(3)]
    with pytest.raises(SequencerOverloadedError):
        sequencer.submit(place(1, "one-too-many"))
    await asyncio.gather(*accepted)
    await sequencer.stop()


async def test_batches_never_exceed_the_maximum():
    journal = CountingJournal()
    sequencer = await started(journal, max_batch=16)
    journal.appends.clear()
    await asyncio.gather(*(sequencer.execute(place(1, f"m{i}")) for i in range(100)))
    assert max(journal.appends) <= 16
    await sequencer.stop()


async def test_wait_for_returns_once_the_sequence_is_applied():
    journal = CountingJournal()
    sequencer = await started(journal)
    target = sequencer.committed_sequence + 1
    waiter = asyncio.create_task(sequencer.wait_for(target))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await sequencer.execute(place(1, "w"))
    await asyncio.wait_for(waiter, 1)
    await sequencer.stop()


async def test_stop_writes_a_snapshot_that_recovery_starts_from():
    storage = InMemoryStorage()
    journal, snapshots = CountingJournal(storage), InMemorySnapshotStore(storage)
    await snapshots.open()
    snapshotter = Snapshotter(
        snapshots, encode_state, FixedClock(), every_commands=10**9, interval_seconds=3600, keep=2
    )
    sequencer = await started(journal, snapshotter=snapshotter)
    await asyncio.gather(*(sequencer.execute(place(1, f"s{i}")) for i in range(20)))
    await sequencer.stop()
    await journal.close()
    latest = await snapshots.latest()
    assert latest is not None
    assert latest.sequence == sequencer.committed_sequence
    reader = InMemoryJournal(storage)
    await reader.open()
    recovered = await recover(reader, snapshots, decode_snapshot)
    assert recovered.snapshot_sequence == latest.sequence
    assert recovered.replayed == 0
    assert state_hash(recovered.exchange) == state_hash(sequencer.exchange)


async def test_snapshots_are_taken_every_n_commands():
    storage = InMemoryStorage()
    journal, snapshots = CountingJournal(storage), InMemorySnapshotStore(storage)
    await snapshots.open()
    snapshotter = Snapshotter(
        snapshots, encode_state, FixedClock(), every_commands=10, interval_seconds=3600, keep=10
    )
    sequencer = await started(journal, snapshotter=snapshotter)
    for index in range(40):
        await sequencer.execute(place(1, f"n{index}"))
    await snapshotter.drain()
    assert len(storage.snapshots) >= 3
    await sequencer.stop()


async def test_plain_strings_in_place_of_enums_are_refused_before_the_journal():
    journal = CountingJournal()
    sequencer = await started(journal)
    before = sum(journal.appends)
    command = place(1, "stringly")._replace(side="buy")
    with pytest.raises(TypeError):
        sequencer.submit(command)
    assert sum(journal.appends) == before
    await sequencer.stop()


async def test_another_writer_taking_over_stops_the_sequencer():
    class TakenOver(CountingJournal):
        armed = False

        async def append(self, entries):
            if self.armed:
                raise ConnectionError("lost")
            await super().append(entries)

        def read(self, after_sequence=0):
            if self.armed:
                raise JournalLockedError("another writer holds the journal")
            return super().read(after_sequence)

    journal = TakenOver()
    sequencer = await started(journal)
    journal.armed = True
    with pytest.raises(SequencerUnavailableError):
        await sequencer.execute(place(1, "x"))
    await asyncio.sleep(0.05)
    assert not sequencer.running
    with pytest.raises(SequencerUnavailableError):
        sequencer.submit(place(1, "y"))
    await sequencer.stop()


async def test_a_failed_write_with_another_queued_behind_it_answers_exactly_what_is_durable():
    storage = InMemoryStorage()
    journal = FailingJournal(storage, written=True)
    sequencer = await started(journal, max_batch=8)
    journal.armed = True
    futures = [sequencer.submit(place(1, f"p{i}")) for i in range(40)]
    results = await asyncio.gather(*futures, return_exceptions=True)
    answered = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(error, SequencerUnavailableError) for error in refused)
    reader = InMemoryJournal(storage, read_only=True)
    await reader.open()
    durable = {
        entry.command.client_order_id
        async for entry in reader.read()
        if isinstance(entry.command, PlaceOrder)
    }
    placed = {o.command.client_order_id for o in answered if isinstance(o.command, PlaceOrder)}
    assert len(placed) == len(answered)
    assert placed <= durable
    replayed = await recover(reader, None, decode_snapshot)
    assert state_hash(replayed.exchange) == state_hash(sequencer.exchange)
    retried = await asyncio.gather(*(sequencer.execute(place(1, f"p{i}")) for i in range(40)))
    ids = {o.result.order_id for o in retried if isinstance(o.result, OrderView | DuplicateOrder)}
    assert len(ids) == 40
    await sequencer.stop()


async def test_back_to_back_batches_on_a_real_journal_never_overlap_their_writes(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}"
    await prepare_database(url)
    journal = SqliteJournal(url)
    sequencer = await started(journal, max_batch=25)
    outcomes = await asyncio.gather(*(sequencer.execute(place(1, f"r{i}")) for i in range(800)))
    assert [isinstance(outcome.result, OrderView) for outcome in outcomes] == [True] * 800
    assert sequencer.stats().batches > 30
    await sequencer.stop()
    await journal.close()


async def test_a_caller_that_stops_waiting_does_not_undo_its_command_or_stop_the_core():
    # A client that disconnects mid-request cancels its wait, not its command: the order
    # is journaled and applied, a retry with the same client order id finds it, and the
    # sequencer goes on serving everyone else.
    journal = CountingJournal()
    sequencer = await started(journal)
    abandoned = sequencer.submit(place(1, "gone"))
    kept = sequencer.submit(place(1, "kept"))
    abandoned.cancel()
    outcome = await kept
    assert isinstance(outcome.result, OrderView)
    retry = await sequencer.execute(place(1, "gone"))
    assert isinstance(retry.result, DuplicateOrder)
    assert retry.result.order is not None
    assert retry.result.order.client_order_id == "gone"
    after = await sequencer.execute(place(1, "after"))
    assert isinstance(after.result, OrderView)
    assert sequencer.running
    await sequencer.stop()


def strictly_increasing(values: list[int]) -> bool:
    return all(earlier < later for earlier, later in itertools.pairwise(values))


async def test_every_command_gets_its_own_increasing_timestamp_across_batches_and_a_restart():
    storage = InMemoryStorage()
    journal = CountingJournal(storage)
    sequencer = await started(journal, max_batch=8)
    journal.appends.clear()
    before = await asyncio.gather(*(sequencer.execute(place(1, f"t{i}")) for i in range(40)))
    assert len(journal.appends) > 1
    await sequencer.stop()
    await journal.close()
    reader = InMemoryJournal(storage)
    await reader.open()
    recovered = await recover(reader, None, decode_snapshot)
    # The clock has not moved, or was even stepped back, since the first run.
    clock = FixedClock(start_ns=FixedClock().now_ns() - 1_000)
    restarted = Sequencer(recovered.exchange, reader, clock, max_batch=8)
    await restarted.start()
    after = await asyncio.gather(*(restarted.execute(place(1, f"u{i}")) for i in range(40)))
    await restarted.stop()
    outcomes = [*before, *after]
    assert strictly_increasing([outcome.sequence for outcome in outcomes])
    assert strictly_increasing([outcome.timestamp for outcome in outcomes])
    journaled = [entry.timestamp async for entry in reader.read()]
    assert strictly_increasing(journaled)


async def test_a_fenced_sequencer_refuses_commands_and_waiters_but_keeps_what_was_applied():
    sequencer = await started(InMemoryJournal(InMemoryStorage()))
    placed = await sequencer.execute(place(1, "before"))
    waiting = asyncio.ensure_future(sequencer.wait_for(placed.sequence + 1))
    await asyncio.sleep(0)
    sequencer.fence(JournalLockedError("lost the writer lock"))
    assert not sequencer.running
    with pytest.raises(SequencerUnavailableError):
        sequencer.submit(place(1, "after"))
    with pytest.raises(SequencerUnavailableError):
        await waiting
    assert sequencer.committed_sequence == placed.sequence
    await sequencer.stop()
