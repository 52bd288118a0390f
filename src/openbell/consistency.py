"""Start-up refuses a past in which something that follows the journal is ahead of it.

The journal is the record of what happened: the read model, snapshots, the id
counters and identity's references to accounts are all derived from it, so none of
them may be further along. When one is — a restore of mismatched files, a lost
write cache, a hand edit — starting anyway would hand out sequence numbers and ids
a second time, and a client would read another order under its own id. So the
composition root checks every such record against the journal's end after the core
has recovered and before it takes a command, and refuses with every finding at once.

The rule spans contexts, so it lives beside the composition root; each context
answers through a port here (the recovered core through `JournalEnd`).
"""

from collections.abc import Sequence
from typing import NamedTuple, Protocol


class JournalEnd(NamedTuple):
    """Where the recovered journal ends: its last sequence and the last ids it handed out."""

    sequence: int
    last_order_id: int
    last_trade_id: int
    last_account_id: int


class ReadModelExtent(Protocol):
    """How far the trading read model reaches: its checkpoint and the highest ids it holds."""

    @property
    def checkpoint(self) -> int: ...

    @property
    def highest_order_id(self) -> int: ...

    @property
    def highest_trade_id(self) -> int: ...


class TradingRecords(Protocol):
    async def extent(self) -> ReadModelExtent: ...


class IdentityRecords(Protocol):
    async def highest_account_reference(self) -> int:
        """The highest trading account id a user or API client refers to (0 if none)."""
        ...


class Finding(NamedTuple):
    """One record ahead of the journal: what it is, what it holds, and where the journal ends."""

    record: str
    measure: str
    value: int
    journal: int

    @property
    def ahead(self) -> int:
        return self.value - self.journal

    def __str__(self) -> str:
        if self.measure == "sequence":
            told = f"{self.record} is at sequence {self.value} but the journal ends at"
        else:
            told = (
                f"{self.record} holds {self.measure} {self.value} "
                f"but the journal has handed out {self.measure}s up to"
            )
        return f"{told} {self.journal} ({self.ahead} ahead)"


class InconsistentPastError(RuntimeError):
    """Records that follow the journal are ahead of it: the journal lost its tail, or they
    were restored from another time. Refuse to start; see docs/recovery.md."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        super().__init__("; ".join(str(finding) for finding in self.findings))


def snapshot_finding(snapshot_sequence: int, journal_sequence: int) -> Finding:
    return Finding("the newest snapshot", "sequence", snapshot_sequence, journal_sequence)


def checkpoint_finding(checkpoint: int, journal_sequence: int) -> Finding | None:
    if checkpoint <= journal_sequence:
        return None
    return Finding("the trading read model", "sequence", checkpoint, journal_sequence)


def findings(end: JournalEnd, read_model: ReadModelExtent, account_reference: int) -> list[Finding]:
    """Every record that is ahead of the journal's end; empty when the past is consistent."""
    candidates = (
        checkpoint_finding(read_model.checkpoint, end.sequence),
        _ahead("the trading read model", "order id", read_model.highest_order_id, end),
        _ahead("the trading read model", "trade id", read_model.highest_trade_id, end),
        _ahead("identity", "account id", account_reference, end),
    )
    return [finding for finding in candidates if finding is not None]


async def check_past(end: JournalEnd, trading: TradingRecords, identity: IdentityRecords) -> None:
    """Raise InconsistentPastError naming every record ahead of the journal."""
    found = findings(end, await trading.extent(), await identity.highest_account_reference())
    if found:
        raise InconsistentPastError(found)


def _ahead(record: str, measure: str, value: int, end: JournalEnd) -> Finding | None:
    last = {
        "order id": end.last_order_id,
        "trade id": end.last_trade_id,
        "account id": end.last_account_id,
    }[measure]
    return Finding(record, measure, value, last) if value > last else None
