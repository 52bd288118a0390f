"""Time is read through a Clock port so the core stays deterministic and tests stay hermetic."""

import time
from typing import NewType, Protocol

Timestamp = NewType("Timestamp", int)
"""Nanoseconds since the Unix epoch, as the sequencer stamps every command."""


class Clock(Protocol):
    """Tells the current wall-clock time in nanoseconds since the Unix epoch."""

    def now_ns(self) -> int: ...


class SystemClock:
    """The real wall clock."""

    def now_ns(self) -> int:
        return time.time_ns()


class FixedClock:
    """A clock that only moves when told to; for tests."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def advance(self, nanoseconds: int) -> None:
        self._now += nanoseconds
