"""Closed-loop HTTP load on aiohttp, and the statistics of a timed phase.

A phase runs N workers on one keep-alive connection pool until its time or its
request budget runs out. Each worker has at most one request in flight, so N is
the number of concurrent clients. Every response is tallied by operation and
status; a non-2xx answer or a transport failure is an error, kept by kind. Latency
is measured per request, from sending it to having read the whole response body;
throughput is completed requests over the phase's wall time, from starting the
workers until the last one has finished its last request.

The CPU time of this process and (when its pid is known) of the server is taken
around each phase: on a machine where both share the cores, the client's CPU
tells whether the load generator, rather than the server, was the limit.
"""

import asyncio
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

try:
    import aiohttp
except ImportError as error:  # aiohttp ships in the `bench` extra, not in the base install
    _AIOHTTP_MISSING: ImportError | None = error
else:
    _AIOHTTP_MISSING = None

PERCENTILES: Final = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9))
REQUEST_TIMEOUT_SECONDS: Final = 30.0
_CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class MissingDependencyError(RuntimeError):
    """A benchmark needs a package of the `bench` extra that is not installed."""


def require_aiohttp() -> None:
    """Fail with an installable hint when aiohttp, the load generator's client, is missing."""
    if _AIOHTTP_MISSING is not None:
        raise MissingDependencyError(
            "the HTTP benchmark drives load with aiohttp, which is not installed: "
            "pip install 'openbell[bench]' (or pip install 'aiohttp>=3.9')"
        ) from _AIOHTTP_MISSING


def percentile(ordered: Sequence[float], quantile: float) -> float:
    """The nearest-rank percentile (0 < quantile <= 100) of an ascending, non-empty sequence."""
    if not ordered:
        raise ValueError("no values")
    rank = max(1, math.ceil(quantile / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, float | None]:
    """p50/p90/p99/p999 of latencies given in seconds, in milliseconds; None without samples."""
    ordered = sorted(seconds)
    return {
        name: round(percentile(ordered, quantile) * 1000, 3) if ordered else None
        for name, quantile in PERCENTILES
    }


def per_second(count: int, elapsed: float) -> float:
    return round(count / elapsed, 1) if elapsed > 0 else 0.0


@dataclass
class Tally:
    """What one phase's requests came back with, per operation."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, Counter[str]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    results: Counter[str] = field(default_factory=Counter)
    """What successful requests led to, as the workers name it (e.g. an order's status)."""
    server_errors: int = 0

    @property
    def requests(self) -> int:
        return sum(sum(counts.values()) for counts in self.statuses.values())

    def count(self, operation: str, status: str) -> int:
        return self.statuses.get(operation, Counter())[status]

    def record(self, operation: str, status: int, seconds: float, reason: str | None) -> None:
        self.statuses.setdefault(operation, Counter())[str(status)] += 1
        self.latencies.setdefault(operation, []).append(seconds)
        if not 200 <= status < 300:
            self.errors[" ".join(filter(None, (operation, str(status), reason)))] += 1
        if status >= 500:
            self.server_errors += 1

    def transport_error(self, operation: str, kind: str) -> None:
        self.statuses.setdefault(operation, Counter())["transport"] += 1
        self.errors[f"{operation} transport {kind}"] += 1

    def status_counts(self) -> dict[str, dict[str, int]]:
        return {
            operation: dict(sorted(counts.items())) for operation, counts in self.statuses.items()
        }

    def error_summary(self) -> dict[str, Any]:
        return {
            "total": sum(self.errors.values()),
            "server_errors_5xx": self.server_errors,
            "by_kind": dict(self.errors.most_common()),
        }


@dataclass
class Phase:
    """The shared state of one timed phase: its deadline, request budget and tally."""

    deadline: float
    budget: int
    tally: Tally = field(default_factory=Tally)

    def go(self) -> bool:
        """Whether a worker may send another request (time left and budget left); takes one."""
        if self.budget <= 0 or time.perf_counter() >= self.deadline:
            return False
        self.budget -= 1
        return True


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process, all its threads."""
    return time.process_time()


def process_cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of another process (Linux /proc); None when unknown."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@dataclass(frozen=True)
class CpuUsage:
    """CPU seconds spent by the load generator and the server during a phase."""

    client_seconds: float
    server_seconds: float | None

    def summary(self, elapsed: float, requests: int) -> dict[str, float | None]:
        """CPU use in % of one core, per request, and the rate one full core would allow."""

        def percent(seconds: float | None) -> float | None:
            return None if seconds is None or elapsed <= 0 else round(100 * seconds / elapsed, 1)

        def micros(seconds: float | None) -> float | None:
            return None if seconds is None or requests == 0 else round(1e6 * seconds / requests, 1)

        def ceiling(seconds: float | None) -> float | None:
            return None if not seconds or requests == 0 else round(requests / seconds, 1)

        return {
            "client_percent": percent(self.client_seconds),
            "server_percent": percent(self.server_seconds),
            "client_us_per_request": micros(self.client_seconds),
            "server_us_per_request": micros(self.server_seconds),
            "client_ceiling_per_second": ceiling(self.client_seconds),
            "server_ceiling_per_second": ceiling(self.server_seconds),
        }


@dataclass(frozen=True)
class PhaseResult:
    tally: Tally
    elapsed: float
    cpu: CpuUsage


Worker = Callable[[Phase], Coroutine[Any, Any, None]]


async def run_phase(
    workers: Sequence[Worker], seconds: float, max_requests: int, server_pid: int | None
) -> PhaseResult:
    """Run every worker concurrently until `seconds` pass or `max_requests` are sent."""
    client_before = own_cpu_seconds()
    server_before = process_cpu_seconds(server_pid)
    started = time.perf_counter()
    phase = Phase(deadline=started + seconds, budget=max_requests)
    async with asyncio.TaskGroup() as group:
        for worker in workers:
            group.create_task(worker(phase))
    elapsed = time.perf_counter() - started
    client_after = own_cpu_seconds()
    server_after = process_cpu_seconds(server_pid)
    server_seconds = (
        None if server_before is None or server_after is None else server_after - server_before
    )
    return PhaseResult(phase.tally, elapsed, CpuUsage(client_after - client_before, server_seconds))


def open_session(clients: int) -> "aiohttp.ClientSession":
    """A session whose pool keeps one keep-alive connection per concurrent client."""
    require_aiohttp()
    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS),
        cookie_jar=aiohttp.DummyCookieJar(),  # the API sets no cookies; skip the jar's work
        auto_decompress=False,
    )


def _problem_reason(body: bytes) -> str | None:
    """The `reason` of an RFC 9457 problem document, if the body is one."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    reason = document.get("reason") if isinstance(document, dict) else None
    return reason if isinstance(reason, str) else None


async def timed_request(
    session: "aiohttp.ClientSession",
    tally: Tally,
    operation: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, bytes] | None:
    """Send one request and tally it; the status and body, or None after a transport error."""
    started = time.perf_counter()
    try:
        async with session.request(method, url, headers=headers, data=body) as response:
            payload = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as error:
        tally.transport_error(operation, type(error).__name__)
        return None
    reason = None if 200 <= status < 300 else _problem_reason(payload)
    tally.record(operation, status, time.perf_counter() - started, reason)
    return status, payload


def get_worker(session: "aiohttp.ClientSession", url: str, operation: str) -> Worker:
    """A worker that GETs `url` back to back for the whole phase."""

    async def work(phase: Phase) -> None:
        while phase.go():
            await timed_request(session, phase.tally, operation, "GET", url)

    return work
