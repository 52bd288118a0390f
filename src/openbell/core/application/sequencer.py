"""The sequencer: the one task that owns the exchange and orders every change to it.

Callers `submit` a command and await its outcome. The sequencer drains its inbox
in batches; each batch is stamped, appended to the journal in one durable write
(group commit), applied in order once that write is durable, published, and only
then are the callers' futures completed. So an outcome a caller has seen, and any
state a reader can observe, is always in the journal. The next batch's write is
started before a batch is applied, so disk and CPU work overlap.

Every command gets its own timestamp, strictly greater than the one before it, in
its batch, in earlier batches and before a restart (the sequencer starts from the
journal's last timestamp): the clock's reading, or one nanosecond after the last
stamp when the clock has not moved past it. So a client can order its answers by
time as well as by sequence, and a clock stepped back never stamps the past.
"""

import asyncio
import contextlib
import heapq
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

from openbell.contracts.commands import Command, PlaceOrder
from openbell.contracts.enums import OrderType, SelfTradePrevention, Side, TimeInForce
from openbell.contracts.results import Outcome
from openbell.core.application.errors import JournalCorruptedError, JournalLockedError
from openbell.core.application.ports import Journal, JournalEntry
from openbell.core.application.snapshots import Snapshotter
from openbell.core.domain.exchange import Exchange
from openbell.shared.errors import OverloadedError, UnavailableError
from openbell.shared.ids import SequenceNumber
from openbell.shared.time import Clock, Timestamp

logger = logging.getLogger(__name__)
_new_tuple: Final[Any] = tuple.__new__  # builds a NamedTuple without its Python __new__

Publisher = Callable[[Sequence[Outcome]], None]


class SequencerUnavailableError(UnavailableError):
    """The sequencer is not taking commands now (stopping, stopped, or its journal failed).

    A command refused this way was not journaled unless said otherwise; retrying it with
    the same idempotency key (client order id, payment reference) is always safe.
    """


class SequencerOverloadedError(SequencerUnavailableError, OverloadedError):
    """The inbox is full; the caller should back off and retry."""


class _Batch(NamedTuple):
    entries: list[JournalEntry]
    callers: list[tuple[Command, "asyncio.Future[Outcome]"]]
    write: "asyncio.Future[None]"


class SequencerStats(NamedTuple):
    committed_sequence: SequenceNumber
    inbox: int
    batches: int
    commands: int
    largest_batch: int


class Sequencer:
    """Owns an `Exchange`; serialises, journals and applies every command sent to it."""

    def __init__(
        self,
        exchange: Exchange,
        journal: Journal,
        clock: Clock,
        *,
        publish: Publisher | None = None,
        snapshotter: Snapshotter | None = None,
        max_batch: int = 4096,
        max_inbox: int = 100_000,
        retry_seconds: float = 0.5,
    ) -> None:
        self.exchange = exchange
        self._journal = journal
        self._clock = clock
        self._publish = publish
        self._snapshotter = snapshotter
        self._max_batch = max_batch
        self._max_inbox = max_inbox
        self._retry_seconds = retry_seconds
        self._inbox: deque[tuple[Command, asyncio.Future[Outcome]]] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._accepting = False
        self._failure: BaseException | None = None
        self._last_timestamp = Timestamp(0)
        self._next_sequence = exchange.sequence + 1
        self._batches = self._commands = self._largest_batch = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []

    @property
    def committed_sequence(self) -> SequenceNumber:
        """The sequence number of the last command journaled and applied."""
        return self.exchange.sequence

    @property
    def running(self) -> bool:
        return self._accepting and self._failure is None

    def stats(self) -> SequencerStats:
        return SequencerStats(
            self.committed_sequence,
            len(self._inbox),
            self._batches,
            self._commands,
            self._largest_batch,
        )

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("sequencer already started")
        self._last_timestamp = await _journal_end_timestamp(self._journal, self.exchange.sequence)
        self._accepting = True
        self._task = asyncio.create_task(self._run(), name="openbell-sequencer")

    def submit(self, command: Command) -> "asyncio.Future[Outcome]":
        """Queue a command; the returned future completes once it is journaled and applied."""
        if not self._accepting or self._failure is not None:
            raise SequencerUnavailableError("the core is not accepting commands")
        if len(self._inbox) >= self._max_inbox:
            raise SequencerOverloadedError("the core's inbox is full")
        if type(command) is PlaceOrder:
            _check_enums(command)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._inbox.append((command, future))
        self._wakeup.set()
        return future

    async def execute(self, command: Command) -> Outcome:
        """Submit a command and wait for its outcome."""
        return await self.submit(command)

    async def stop(self) -> None:
        """Refuse new commands, finish every queued one, and write a final snapshot."""
        self._accepting = False
        self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._failure is None and self._snapshotter is not None:
            await self._snapshotter.take(self.exchange, wait=True)
            await self._snapshotter.drain()

    def fence(self, error: BaseException) -> None:
        """Stop taking commands for good: this process is no longer the journal's writer.

        A write already in flight still completes and is applied (it is durable);
        everything queued or submitted later is refused, and `running` turns False.
        """
        if self._failure is None:
            self._fail(error)
            self._wakeup.set()

    async def wait_for(self, sequence: int) -> None:
        """Wait until the command with this sequence number has been applied."""
        if self.committed_sequence >= sequence:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (sequence, id(future), future))
        await future

    async def _run(self) -> None:
        pipeline: deque[_Batch] = deque()
        try:
            while self._inbox or self._accepting or pipeline:
                self._top_up(pipeline)
                if not pipeline:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                await self._finish_oldest(pipeline)
        except Exception as error:  # noqa: BLE001  # fail-stop: record, refuse, report
            for batch in pipeline:
                _fail_all(batch.callers, SequencerUnavailableError("the core stopped"))
            self._fail(error)

    def _top_up(self, pipeline: "deque[_Batch]") -> None:
        """Start the journal write of the next batch, unless a write is already in flight.

        One batch is written while the one before it is applied, so the fsync of one
        overlaps the matching of the other; nothing is applied before it is durable.
        Writes never overlap each other: each one continues the journal the one before
        it has finished extending.
        """
        if not self._inbox or any(not batch.write.done() for batch in pipeline):
            return
        callers = self._take_batch()
        first_timestamp = max(self._clock.now_ns(), self._last_timestamp + 1)
        self._last_timestamp = Timestamp(first_timestamp + len(callers) - 1)
        first = self._next_sequence
        self._next_sequence = first + len(callers)
        entries: list[JournalEntry] = [
            _new_tuple(JournalEntry, (first + offset, first_timestamp + offset, command))
            for offset, (command, _) in enumerate(callers)
        ]
        write = asyncio.ensure_future(self._journal.append(entries))
        pipeline.append(_Batch(entries, callers, write))

    def _take_batch(self) -> list[tuple[Command, "asyncio.Future[Outcome]"]]:
        inbox = self._inbox
        size = min(len(inbox), self._max_batch)
        return [inbox.popleft() for _ in range(size)]

    async def _finish_oldest(self, pipeline: "deque[_Batch]") -> None:
        batch = pipeline[0]
        try:
            await batch.write
        except Exception:
            logger.exception("journal append failed; reconciling before taking more commands")
            await self._reconcile(pipeline)
            return
        pipeline.popleft()
        self._top_up(pipeline)
        if pipeline:
            await asyncio.sleep(0)  # let the next write reach its thread or socket first
        try:
            self._apply(batch.entries, batch.callers)
        except Exception:
            _fail_all(batch.callers, SequencerUnavailableError("the core stopped"))
            raise

    def _apply(
        self,
        entries: list[JournalEntry],
        batch: list[tuple[Command, "asyncio.Future[Outcome]"]] | None,
    ) -> list[Outcome]:
        apply = self.exchange.apply
        outcomes = [apply(command, sequence, timestamp) for sequence, timestamp, command in entries]
        self._batches += 1
        self._commands += len(outcomes)
        self._largest_batch = max(self._largest_batch, len(outcomes))
        if self._publish is not None:
            self._publish(outcomes)
        if batch is not None:
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
        self._notify_committed()
        if self._snapshotter is not None:
            self._snapshotter.maybe_take(self.exchange, len(outcomes))
        return outcomes

    def _notify_committed(self) -> None:
        waiters, committed = self._waiters, self.committed_sequence
        while waiters and waiters[0][0] <= committed:
            future = heapq.heappop(waiters)[2]
            if not future.done():
                future.set_result(None)

    async def _reconcile(self, pipeline: "deque[_Batch]") -> None:
        """After a failed append, learn from the journal what became durable.

        A write can fail after it committed (a connection lost during COMMIT), and a
        later write queued behind it may have landed too; the journal, not the error,
        says what happened. Whatever it holds beyond our state is applied and answered;
        every other command in flight fails with SequencerUnavailableError.
        """
        waiting: dict[int, asyncio.Future[Outcome] | None] = {}
        for batch in pipeline:
            with contextlib.suppress(Exception):
                await batch.write
            for entry, (_, caller) in zip(batch.entries, batch.callers, strict=True):
                waiting[entry.sequence] = caller
        pipeline.clear()
        try:
            durable = await self._read_durable()
            for outcome in self._apply(durable, None) if durable else []:
                answered = waiting.pop(outcome.sequence, None)
                if answered is not None and not answered.done():
                    answered.set_result(outcome)
        finally:
            error = SequencerUnavailableError("the journal write failed; retry")
            for pending in waiting.values():
                if pending is not None and not pending.done():
                    pending.set_exception(error)
            self._next_sequence = self.exchange.sequence + 1

    async def _read_durable(self) -> list[JournalEntry]:
        while True:
            try:
                return [
                    entry
                    async for entry in self._journal.read(after_sequence=self.exchange.sequence)
                ]
            except (JournalLockedError, JournalCorruptedError):
                raise  # another writer took over, or the log is damaged: stop, never guess
            except Exception:  # noqa: BLE001  # any other failure means: still unreachable, wait
                logger.warning("journal still unavailable; retrying")
                await asyncio.sleep(self._retry_seconds)

    def _fail(self, error: BaseException) -> None:
        self._failure = error
        self._accepting = False
        logger.critical("the sequencer stopped and refuses commands", exc_info=error)
        pending = list(self._inbox)
        self._inbox.clear()
        _fail_all(pending, SequencerUnavailableError("the core stopped"))
        for _, _, future in self._waiters:
            if not future.done():
                future.set_exception(SequencerUnavailableError("the core stopped"))
        self._waiters.clear()


async def _journal_end_timestamp(journal: Journal, sequence: int) -> Timestamp:
    """The timestamp of the journal's entry `sequence` (its last, after recovery); 0 if none."""
    timestamp = Timestamp(0)
    if sequence > 0:
        async for entry in journal.read(after_sequence=sequence - 1):
            timestamp = max(timestamp, entry.timestamp)
    return timestamp


def _check_enums(command: PlaceOrder) -> None:
    """Refuse plain strings where enums belong: the journal would replay them as enums.

    The core compares enum members by identity, so "buy" and Side.BUY would take
    different paths live and in replay; the two must never be able to differ.
    """
    if not (
        type(command.side) is Side
        and type(command.order_type) is OrderType
        and type(command.time_in_force) is TimeInForce
        and type(command.self_trade_prevention) is SelfTradePrevention
    ):
        raise TypeError("order commands carry enum members, not plain values")


def _fail_all(
    batch: list[tuple[Command, "asyncio.Future[Outcome]"]], error: SequencerUnavailableError
) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
