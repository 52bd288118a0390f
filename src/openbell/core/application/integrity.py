"""Integrity of the stored journal: checked at start, in the background, and on demand.

Recovery verifies every record it replays, but only those after the newest snapshot,
and it trusts the journal's end. These checks cover the rest:

- the database's own check of its file (SQLite `quick_check`), which finds damaged
  pages before a query stumbles on them;
- the journal's continuity, in one query: every record starts right after the one
  before, from sequence 1;
- the acknowledged mark kept outside the database: a journal that ends before it, or
  holds another record where it ends, was rolled back or replaced, and acknowledged
  commands are missing;
- on demand (`openbell journal verify`), every record's checksum and decoding, from
  sequence 1, including records older than the newest snapshot, which no start reads.
"""

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass, field
from typing import Final

from openbell.core.application.errors import (
    IntegrityCheckError,
    JournalCorruptedError,
    JournalError,
    JournalStorageError,
)
from openbell.core.application.ports import (
    Acknowledged,
    AcknowledgedMark,
    AuditedJournal,
    Discontinuity,
    JournalAudit,
    JournalEntry,
    JournalRecord,
)

RecordDecoder = Callable[[JournalRecord], list[JournalEntry]]
"""Verify a stored record's checksum and decode it, raising JournalCorruptedError."""

MAX_PROBLEMS: Final = 100
"""Problems listed by one check; a journal damaged worse is damaged enough to say so."""
RECORDS_PER_READ: Final = 256

logger = logging.getLogger(__name__)


@dataclass
class JournalReport:
    """What `verify_journal` found: the journal's extent and every problem, in order."""

    records: int = 0
    entries: int = 0
    last_sequence: int = 0
    acknowledged: Acknowledged | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


def describe(discontinuity: Discontinuity) -> str:
    previous, first, last = discontinuity
    if first > previous + 1:
        return f"records are missing: sequences {previous + 1}..{first - 1}"
    return f"the record of sequences {first}..{last} overlaps the one before, ending at {previous}"


async def verify_journal(
    journal: AuditedJournal, decode: RecordDecoder, mark: AcknowledgedMark | None
) -> JournalReport:
    """Read every record from sequence 1 and report each problem; change nothing."""
    report = JournalReport()
    for problem in await journal.storage_problems():
        report.add(f"the database reports: {problem}")
    try:
        await _verify_records(journal, decode, report)
    except JournalStorageError as error:
        report.add(f"the journal cannot be read after sequence {report.last_sequence}: {error}")
    if mark is not None:
        try:
            report.acknowledged = mark.read()
            for problem in await acknowledged_problems(journal, report.acknowledged):
                report.add(problem)
        except IntegrityCheckError as error:
            report.add(str(error))
    return report


async def _verify_records(
    audit: JournalAudit, decode: RecordDecoder, report: JournalReport
) -> None:
    after_first = 0
    while records := await audit.records_after(after_first, RECORDS_PER_READ):
        for record in records:
            _verify_record(record, decode, report)
        after_first = records[-1].first_sequence


def _verify_record(record: JournalRecord, decode: RecordDecoder, report: JournalReport) -> None:
    previous = report.last_sequence
    if record.first_sequence != previous + 1:
        report.add(describe(Discontinuity(previous, record.first_sequence, record.last_sequence)))
    try:
        report.entries += len(decode(record))
    except JournalCorruptedError as error:
        report.add(str(error))
    report.records += 1
    report.last_sequence = max(previous, record.last_sequence)


async def acknowledged_problems(
    journal: AuditedJournal, acknowledged: Acknowledged | None
) -> list[str]:
    """Whether the journal still holds, unchanged, the last record acknowledged to clients."""
    if acknowledged is None:
        return []
    sequence, end = acknowledged.sequence, await journal.last_sequence()
    if end < sequence:
        missing = (
            f"the journal ends at {end} but {sequence} commands were acknowledged: "
            f"{sequence - end} acknowledged commands are missing"
        )
        return [missing]
    record = await journal.record_holding(sequence)
    if record is None or record.last_sequence != sequence:
        found = "no record ends there"
    elif record.checksum != acknowledged.checksum:
        found = f"its checksum is {record.checksum:08x}, not {acknowledged.checksum:08x}"
    else:
        return []
    replaced = (
        f"the journal's tail was replaced: the record acknowledged at sequence {sequence} "
        f"is not the one stored ({found})"
    )
    return [replaced]


async def damage_problems(journal: AuditedJournal) -> list[str]:
    """What the database reports about its file, then gaps and overlaps in the journal."""
    problems = [f"the database reports: {line}" for line in await journal.storage_problems()]
    if problems:
        return problems  # on a damaged file, further queries only add noise
    return [describe(found) for found in await journal.discontinuities(limit=5)]


async def running_problems(journal: AuditedJournal, mark: AcknowledgedMark | None) -> list[str]:
    """The checks cheap enough to run at every start and in the background."""
    problems = await damage_problems(journal)
    if not problems and mark is not None:
        problems += await acknowledged_problems(journal, mark.read())
    return problems


def _refuse(problems: list[str]) -> None:
    if problems:
        raise IntegrityCheckError(
            "; ".join(problems)
            + ". No command was journaled or replayed; restore the database from a "
            "backup, and run `openbell journal verify` to list every damaged record."
        )


async def check_at_start(journal: AuditedJournal) -> None:
    """Refuse a damaged database file or a journal with gaps, before recovery reads it."""
    _refuse(await damage_problems(journal))


async def check_acknowledged(journal: AuditedJournal, mark: AcknowledgedMark | None) -> None:
    """Refuse a journal that lost or replaced acknowledged commands; start a missing mark."""
    if mark is None:
        return
    acknowledged = mark.read()
    if acknowledged is None:
        await _start_mark(journal, mark)
        return
    _refuse(await acknowledged_problems(journal, acknowledged))


async def accept_journal_end(journal: AuditedJournal, mark: AcknowledgedMark) -> None:
    """Make the journal's end the acknowledged mark: the operator trusts the journal as it is."""
    end = await journal.last_sequence()
    record = await journal.record_holding(end) if end else None
    mark.write(Acknowledged(end, record.checksum if record is not None else 0))


async def _start_mark(journal: AuditedJournal, mark: AcknowledgedMark) -> None:
    end = await journal.last_sequence()
    if end == 0:
        return
    # First start with a mark (after an upgrade, or on a copied database without it):
    # what was lost before now cannot be told; from now on it can.
    logger.warning(
        "no record of the last acknowledged sequence: taking the journal's end, %d, as it", end
    )
    await accept_journal_end(journal, mark)


JournalOpener = Callable[[], AbstractAsyncContextManager[AuditedJournal]]


class IntegrityMonitor:
    """The running checks again every `interval` seconds, for readiness to report.

    Each check opens the journal read-only on a connection of its own, so a slow
    `quick_check` of a large file never holds up the writer's appends.
    """

    def __init__(
        self, open_journal: JournalOpener, mark: AcknowledgedMark | None, interval: float
    ) -> None:
        self._open_journal = open_journal
        self._mark = mark
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.problems: list[str] = []

    @property
    def ok(self) -> bool:
        return not self.problems

    async def check(self) -> list[str]:
        try:
            async with self._open_journal() as journal:
                problems = await running_problems(journal, self._mark)
        except (JournalError, IntegrityCheckError) as error:
            problems = [str(error)]
        if problems and problems != self.problems:
            logger.error("the journal failed its integrity check: %s", "; ".join(problems))
        self.problems = problems
        return problems

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="journal integrity checks")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.check()
