"""`openbell bench api`: order entry over HTTP, against the same server's /livez as the baseline.

How a run goes (one server, one load-generator process, all phases in one run):

1. Server. Without a URL, `openbell up --demo` starts as a subprocess on 127.0.0.1
   and a free port, with a fresh SQLite data directory; the run waits (bounded) for
   /readyz, reads the demo traders' credentials, and at the end stops the server by
   its pid (SIGTERM, then SIGKILL after a timeout) and runs `openbell ledger verify`
   on its data. With a URL, the server and its `demo-clients.json` are the caller's.
2. Set-up. One access token per trader (client credentials), fetched once, and the
   instrument's tick, lot and reference price from GET /v1/instruments.
3. Warm-up: /livez, then order entry, each for a fifth of `seconds` (0.2 to 2 s);
   not counted. It opens the keep-alive connections and fills the book.
4. Baseline: `clients` workers GET /livez back to back for `seconds`.
5. Order entry: `clients` workers for `seconds`; worker i trades as trader i mod 2
   (alice, bob) with that trader's token and follows `OrderMix` (see there).
6. Clean-up (not counted): every worker cancels the orders it left resting.

Each worker has one request in flight at a time (closed loop). Counts: `placed` is
201 answers to POST /v1/orders, `cancelled` is 200 answers to DELETE
/v1/orders/{id}; `orders_per_second` is (placed + cancelled) / the phase's wall
time, and the baseline's `requests_per_second` is 200 answers to /livez / its wall
time. Errors are every non-2xx answer and every transport failure, by kind; a
cancel that loses the race with a fill answers 422 order_not_open and is counted
there too. Any 5xx is also named in `warnings`.

Both processes share the machine's cores, so each phase also reports CPU: the
client's, and the server's when the benchmark started it. `server_cpu_ratio` is the
server's CPU per /livez request over its CPU per order request: the throughput ratio
that a client costing nothing, on an otherwise idle machine, would measure. When the
client spends as much CPU per /livez as the server, the baseline is partly the
client's limit and `warnings` says so.
"""

import asyncio
import json
import os
import platform
import random
import signal
import socket
import subprocess  # nosec B404  # starts the server under test and ledger verify, fixed argv
import sys
import tempfile
import time
from collections import deque
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import httpx

from openbell.bench.http_load import (
    Phase,
    PhaseResult,
    Tally,
    Worker,
    get_worker,
    latency_summary,
    open_session,
    per_second,
    require_aiohttp,
    run_phase,
    timed_request,
)

if TYPE_CHECKING:
    import aiohttp

SYMBOL: Final = "ACME"
TARGET_RATIO: Final = 0.5
"""DESIGN §5: order entry at least half the throughput of the bare endpoint."""

CANCEL_SHARE: Final = 0.25
"""Share of a worker's actions that cancel its oldest resting order, while it has one."""
PASSIVE_SHARE: Final = 0.60
"""Share of placements that are GTC limits on their own side of the mid: they rest."""
CROSSING_SHARE: Final = 0.20
"""Share of placements that are GTC limits across the mid: they trade, then may rest."""
IOC_SHARE: Final = 0.20
"""Share of placements that are IOC limits across the mid: they trade or cancel."""
MAX_TICKS_FROM_MID: Final = 10
MAX_LOTS: Final = 5
MAX_RESTING: Final = 16
"""A worker at this many resting orders cancels before it places again: funds stay bounded."""

MAX_CLIENTS: Final = 1024
LIVEZ_CONNECTIONS: Final = 16
"""Headroom for the probes that wait for the server to answer before the run."""
MAX_SECONDS: Final = 3600.0
MAX_REQUESTS_PER_PHASE: Final = 5_000_000
CLEANUP_SECONDS: Final = 30.0
READY_TIMEOUT_SECONDS: Final = 60.0
STOP_TIMEOUT_SECONDS: Final = 30.0
VERIFY_TIMEOUT_SECONDS: Final = 300.0
SETUP_TIMEOUT_SECONDS: Final = 30.0
TOKEN_MARGIN_SECONDS: Final = 30.0
LOG_TAIL_LINES: Final = 40

_OPEN_STATUSES: Final = frozenset({"new", "partially_filled"})
_ISOLATED_SETTINGS: Final = ("OPENBELL_DATABASE_URL", "OPENBELL_ENVIRONMENT")
"""Unset for a self-started server, so it runs on SQLite in its own temporary directory."""


class BenchSetupError(RuntimeError):
    """The benchmark could not start, reach or log in to the server."""


@dataclass(frozen=True)
class Trader:
    name: str
    client_id: str
    client_secret: str


def read_credentials(path: Path) -> list[Trader]:
    """The traders of a `demo-clients.json` file, in file order."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        traders = [Trader(row["name"], row["client_id"], row["client_secret"]) for row in rows]
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise BenchSetupError(f"cannot read trader credentials from {path}: {error}") from error
    if not traders:
        raise BenchSetupError(f"{path} lists no traders")
    return traders


@dataclass(frozen=True)
class Market:
    """The traded instrument's units, and the mid the mix quotes around."""

    symbol: str
    tick: Decimal
    lot: Decimal
    mid_ticks: int

    @classmethod
    def from_instrument(cls, document: dict[str, Any]) -> "Market":
        tick = Decimal(document["tick_size"])
        mid = Decimal(document["reference_price"])
        return cls(document["symbol"], tick, Decimal(document["lot_size"]), int(mid / tick))

    def price(self, ticks: int) -> str:
        return str(self.tick * ticks)

    def quantity(self, lots: int) -> str:
        return str(self.lot * lots)


@dataclass(frozen=True)
class Place:
    side: Literal["buy", "sell"]
    price_ticks: int
    lots: int
    time_in_force: Literal["GTC", "IOC"]
    intent: Literal["passive", "crossing", "ioc"]


@dataclass(frozen=True)
class Cancel:
    """Cancel the worker's oldest resting order."""


class OrderMix:
    """A trader's flow of limit orders around the mid, deterministic for a seed.

    With r resting orders of its own: if r >= `max_resting`, cancel the oldest; else,
    if r > 0, cancel the oldest with probability CANCEL_SHARE; else place. A
    placement is a buy or a sell (even odds) of 1..MAX_LOTS lots, d ticks from the
    mid (d uniform in 1..MAX_TICKS_FROM_MID): PASSIVE_SHARE GTC on its own side (a
    buy below the mid), CROSSING_SHARE GTC across it (a buy above the mid, taking
    asks up to its price), IOC_SHARE IOC across it.
    """

    def __init__(self, mid_ticks: int, seed: int, max_resting: int = MAX_RESTING) -> None:
        self.mid_ticks = mid_ticks
        self.max_resting = max_resting
        # Reproducible test traffic, not security: the seed makes runs comparable.
        self._random = random.Random(seed)  # noqa: S311  # nosec B311

    def next_action(self, resting: int) -> Place | Cancel:
        if resting >= self.max_resting or (resting and self._random.random() < CANCEL_SHARE):
            return Cancel()
        return self._placement()

    def _placement(self) -> Place:
        side: Literal["buy", "sell"] = "buy" if self._random.random() < 0.5 else "sell"
        draw = self._random.random()
        distance = self._random.randint(1, MAX_TICKS_FROM_MID)
        lots = self._random.randint(1, MAX_LOTS)
        intent: Literal["passive", "crossing", "ioc"] = "passive"
        if draw >= PASSIVE_SHARE:
            intent = "crossing" if draw < PASSIVE_SHARE + CROSSING_SHARE else "ioc"
        # A passive order stays on its own side of the mid (a buy below it); the others
        # cross it (a buy above it) and take what rests up to their price.
        towards_other_side = distance if intent != "passive" else -distance
        price = self.mid_ticks + (towards_other_side if side == "buy" else -towards_other_side)
        return Place(side, price, lots, "IOC" if intent == "ioc" else "GTC", intent)


def mix_description() -> dict[str, Any]:
    return {
        "cancel_share_while_resting": CANCEL_SHARE,
        "placements": {
            "passive_gtc": PASSIVE_SHARE,
            "crossing_gtc": CROSSING_SHARE,
            "crossing_ioc": IOC_SHARE,
        },
        "ticks_from_mid": [1, MAX_TICKS_FROM_MID],
        "lots": [1, MAX_LOTS],
        "max_resting_per_worker": MAX_RESTING,
        "cancel_picks": "the worker's oldest resting order",
        "worker_trader": "worker i trades as trader i mod the number of traders",
    }


@dataclass
class OrderWorker:
    """One client: places and cancels orders of one trader following its own `OrderMix`."""

    session: "aiohttp.ClientSession"
    orders_url: str
    token: str
    market: Market
    mix: OrderMix
    client_order_prefix: str
    resting: deque[int] = field(default_factory=deque)
    _sent: int = 0

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def __call__(self, phase: Phase) -> None:
        while phase.go():
            action = self.mix.next_action(len(self.resting))
            if isinstance(action, Cancel):
                await self._cancel(phase.tally, self.resting.popleft())
            else:
                await self._place(phase.tally, action)

    async def cancel_resting(self, phase: Phase) -> None:
        while self.resting and phase.go():
            await self._cancel(phase.tally, self.resting.popleft())

    async def _place(self, tally: Tally, action: Place) -> None:
        self._sent += 1
        body = {
            "symbol": self.market.symbol,
            "side": action.side,
            "type": "limit",
            "price": self.market.price(action.price_ticks),
            "quantity": self.market.quantity(action.lots),
            "time_in_force": action.time_in_force,
            "client_order_id": f"{self.client_order_prefix}-{self._sent}",
        }
        headers = {**self._auth, "Content-Type": "application/json"}
        answer = await timed_request(
            self.session,
            tally,
            "place",
            "POST",
            self.orders_url,
            headers=headers,
            body=json.dumps(body).encode(),
        )
        if answer is None or answer[0] != 201:
            return
        order = json.loads(answer[1])
        tally.results[f"{action.intent} {order['status']}"] += 1
        if order["status"] in _OPEN_STATUSES:
            self.resting.append(order["order_id"])

    async def _cancel(self, tally: Tally, order_id: int) -> None:
        url = f"{self.orders_url}/{order_id}"
        await timed_request(self.session, tally, "cancel", "DELETE", url, headers=self._auth)


# --- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _openbell_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "openbell.cli", *arguments]


def _isolated_environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in _ISOLATED_SETTINGS}
    # Every worker connects from 127.0.0.1: the server's per-address cap must let all in.
    environment["OPENBELL_MAX_CONNECTIONS_PER_CLIENT"] = str(MAX_CLIENTS + LIVEZ_CONNECTIONS)
    return environment


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class LocalServer:
    """`openbell up --demo` in a subprocess on a loopback port, owned by this run."""

    process: "subprocess.Popen[bytes]"
    url: str
    data_dir: Path
    log_path: Path

    @classmethod
    def start(cls, directory: Path) -> "LocalServer":
        data_dir, log_path, port = directory / "data", directory / "server.log", free_port()
        arguments = ("up", "--demo", "--host", "127.0.0.1", "--port", str(port))
        command = _openbell_command(*arguments, "--data-dir", str(data_dir))
        with log_path.open("wb") as log:
            # Our own interpreter and a fixed argument list, no shell.
            process = subprocess.Popen(  # noqa: S603  # nosec B603
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_isolated_environment(),
                start_new_session=True,  # a Ctrl-C reaches only us; we stop it in order
            )
        return cls(process, f"http://127.0.0.1:{port}", data_dir, log_path)

    @property
    def credentials(self) -> Path:
        return self.data_dir / "demo-clients.json"

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise self._failure(f"the server exited with code {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise self._failure(f"the server was not ready within {timeout:.0f} s")

    def _failure(self, message: str) -> BenchSetupError:
        return BenchSetupError(f"{message}; its log ends with:\n{_tail(self.log_path)}")

    def stop(self) -> dict[str, Any]:
        """SIGTERM (the server drains and snapshots), SIGKILL if it outlives the timeout."""
        forced = False
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                forced = True
                self.process.kill()
                self.process.wait()
        return {"exit_code": self.process.returncode, "killed": forced}


def verify_ledger(data_dir: Path) -> dict[str, Any]:
    """Run `openbell ledger verify` on a stopped server's data."""
    command = _openbell_command("ledger", "verify", "--data-dir", str(data_dir))
    try:
        done = subprocess.run(  # noqa: S603  # nosec B603  # our interpreter, fixed arguments
            command,
            capture_output=True,
            text=True,
            timeout=VERIFY_TIMEOUT_SECONDS,
            check=False,
            env=_isolated_environment(),
        )
    except subprocess.TimeoutExpired:
        return {"ran": True, "passed": False, "output": "timed out"}
    lines = (done.stdout + done.stderr).strip().splitlines()
    passed = done.returncode == 0
    return {"ran": True, "passed": passed, "output": "\n".join(lines[-1:] if passed else lines)}


# --- set-up over HTTP ---------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """What the load needs from set-up: the market and each trader's token."""

    market: Market
    tokens: list[str]
    token_seconds: int


def _fetch_token(client: httpx.Client, trader: Trader) -> tuple[str, int]:
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(trader.client_id, trader.client_secret),
    )
    if response.status_code != 200:
        raise BenchSetupError(
            f"no token for {trader.name}: {response.status_code} {response.text[:300]}"
        )
    document = response.json()
    return document["access_token"], int(document["expires_in"])


def _fetch_market(client: httpx.Client, token: str, symbol: str) -> Market:
    response = client.get("/v1/instruments", headers={"Authorization": f"Bearer {token}"})
    if response.status_code != 200:
        raise BenchSetupError(f"GET /v1/instruments: {response.status_code} {response.text[:300]}")
    for document in response.json():
        if document["symbol"] == symbol:
            return Market.from_instrument(document)
    raise BenchSetupError(f"the server lists no {symbol} instrument (start it with --demo)")


def log_in(url: str, traders: list[Trader], symbol: str = SYMBOL) -> Session:
    with httpx.Client(base_url=url, timeout=SETUP_TIMEOUT_SECONDS) as client:
        try:
            issued = [_fetch_token(client, trader) for trader in traders]
            market = _fetch_market(client, issued[0][0], symbol)
        except httpx.HTTPError as error:
            raise BenchSetupError(f"cannot reach {url}: {error!r}") from error
    return Session(market, [token for token, _ in issued], min(ttl for _, ttl in issued))


# --- the run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    url: str
    clients: int
    seconds: float
    seed: int
    server_pid: int | None

    @property
    def warmup_seconds(self) -> float:
        return min(2.0, max(0.2, self.seconds / 5))

    @property
    def duration(self) -> float:
        """The longest the load can take, for checking that tokens outlive it."""
        return 2 * (self.warmup_seconds + self.seconds) + CLEANUP_SECONDS


def order_workers(
    plan: Plan, session: "aiohttp.ClientSession", login: Session
) -> list[OrderWorker]:
    run_id = os.urandom(4).hex()  # client order ids stay unique on a reused server
    return [
        OrderWorker(
            session=session,
            orders_url=f"{plan.url}/v1/orders",
            token=login.tokens[index % len(login.tokens)],
            market=login.market,
            mix=OrderMix(login.market.mid_ticks, seed=plan.seed * 1_000_003 + index),
            client_order_prefix=f"bench-{run_id}-{index}",
        )
        for index in range(plan.clients)
    ]


@dataclass(frozen=True)
class Measurements:
    warmup: list[PhaseResult]
    baseline: PhaseResult
    orders: PhaseResult
    cleanup: PhaseResult


async def measure(plan: Plan, login: Session) -> Measurements:
    """Warm up, then time /livez, then order entry; then cancel what was left resting."""
    async with open_session(plan.clients) as session:
        livez = [get_worker(session, f"{plan.url}/livez", "livez")] * plan.clients
        traders = order_workers(plan, session, login)

        async def phase(workers: Sequence[Worker], seconds: float) -> PhaseResult:
            return await run_phase(workers, seconds, MAX_REQUESTS_PER_PHASE, plan.server_pid)

        warmup = [
            await phase(livez, plan.warmup_seconds),
            await phase(traders, plan.warmup_seconds),
        ]
        baseline = await phase(livez, plan.seconds)
        orders = await phase(traders, plan.seconds)
        cleanup = await phase([worker.cancel_resting for worker in traders], CLEANUP_SECONDS)
    return Measurements(warmup, baseline, orders, cleanup)


def _run_loop(coroutine: Coroutine[Any, Any, Measurements]) -> Measurements:
    """Run on uvloop when it is installed (uvicorn[standard] brings it): a faster client."""
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


# --- the report ---------------------------------------------------------------------------


def baseline_summary(result: PhaseResult) -> dict[str, Any]:
    tally = result.tally
    return {
        "requests": tally.requests,
        "requests_per_second": per_second(tally.count("livez", "200"), result.elapsed),
        "elapsed_seconds": round(result.elapsed, 3),
        "latency_ms": latency_summary(tally.latencies.get("livez", [])),
        "status_counts": tally.status_counts(),
        "errors": tally.error_summary(),
        "cpu": result.cpu.summary(result.elapsed, tally.requests),
    }


def orders_summary(result: PhaseResult, cleanup: PhaseResult) -> dict[str, Any]:
    tally = result.tally
    placed, cancelled = tally.count("place", "201"), tally.count("cancel", "200")
    return {
        "placed": placed,
        "cancelled": cancelled,
        "requests": tally.requests,
        "orders_per_second": per_second(placed + cancelled, result.elapsed),
        "requests_per_second": per_second(tally.requests, result.elapsed),
        "elapsed_seconds": round(result.elapsed, 3),
        "latency_ms": {
            "place": latency_summary(tally.latencies.get("place", [])),
            "cancel": latency_summary(tally.latencies.get("cancel", [])),
        },
        "status_counts": tally.status_counts(),
        "placement_results": dict(sorted(tally.results.items())),
        "errors": tally.error_summary(),
        "cpu": result.cpu.summary(result.elapsed, tally.requests),
        "left_resting_then_cancelled": cleanup.tally.count("cancel", "200"),
    }


def warmup_summary(results: list[PhaseResult]) -> dict[str, Any]:
    return {
        "seconds": round(sum(result.elapsed for result in results), 3),
        "requests": sum(result.tally.requests for result in results),
        "errors": sum(sum(result.tally.errors.values()) for result in results),
    }


def ratio(orders: dict[str, Any], baseline: dict[str, Any]) -> float | None:
    rate = baseline["requests_per_second"]
    return round(orders["orders_per_second"] / rate, 3) if rate else None


def server_cost_ratio(orders: dict[str, Any], baseline: dict[str, Any]) -> float | None:
    """Server CPU per /livez request over per order request: the ratio with a free client."""
    per_order = orders["cpu"]["server_us_per_request"]
    per_livez = baseline["cpu"]["server_us_per_request"]
    return round(per_livez / per_order, 3) if per_order and per_livez else None


def warnings_for(report: dict[str, Any], measured: Measurements) -> list[str]:
    notes = []
    phases = {
        "warm-up /livez": measured.warmup[0],
        "warm-up orders": measured.warmup[1],
        "baseline": measured.baseline,
        "order entry": measured.orders,
        "clean-up": measured.cleanup,
    }
    for name, result in phases.items():
        if result.tally.server_errors:
            notes.append(f"{result.tally.server_errors} 5xx answers during {name}")
        transport = sum(n for kind, n in result.tally.errors.items() if " transport " in kind)
        if transport:
            notes.append(f"{transport} transport errors during {name}")
    notes.extend(_client_limits(report["baseline"]["cpu"]))
    ledger = report.get("ledger", {})
    if ledger.get("ran") and not ledger.get("passed"):
        notes.append("ledger verify FAILED after the run")
    if report["server"].get("stop", {}).get("killed"):
        notes.append("the server did not stop on SIGTERM and was killed")
    return notes


def _client_limits(cpu: dict[str, float | None]) -> list[str]:
    """Signs that the load generator, not the server, limited the baseline."""
    notes = []
    client_percent, client_cost = cpu["client_percent"], cpu["client_us_per_request"]
    server_cost = cpu["server_us_per_request"]
    if client_percent is not None and client_percent >= 90:
        notes.append(f"the load generator used {client_percent}% of a core during the baseline")
    if client_cost and server_cost and client_cost >= server_cost:
        notes.append(
            f"the load generator spent {client_cost} us of CPU per /livez request, the server "
            f"{server_cost} us: on shared cores the baseline is partly limited by the client, "
            "which flatters ratio_orders_to_baseline (see server_cpu_ratio)"
        )
    return notes


def environment() -> dict[str, Any]:
    loop = "uvloop"
    try:
        import uvloop  # noqa: F401, PLC0415
    except ImportError:  # pragma: no cover
        loop = "asyncio"
    import aiohttp  # noqa: PLC0415

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "system": platform.system(),
        "cpu_count": os.cpu_count(),
        "client": f"aiohttp {aiohttp.__version__} on {loop}, one process",
    }


def report(
    plan: Plan, login: Session, measured: Measurements, server: dict[str, Any]
) -> dict[str, Any]:
    baseline = baseline_summary(measured.baseline)
    orders = orders_summary(measured.orders, measured.cleanup)
    achieved = ratio(orders, baseline)
    return {
        "server": server,
        "clients": plan.clients,
        "seconds": plan.seconds,
        "workload": {
            "symbol": login.market.symbol,
            "mid": login.market.price(login.market.mid_ticks),
            "traders": len(login.tokens),
            "seed": plan.seed,
            "mix": mix_description(),
        },
        "warmup": warmup_summary(measured.warmup),
        "baseline": baseline,
        "orders": orders,
        "ratio_orders_to_baseline": achieved,
        "server_cpu_ratio": server_cost_ratio(orders, baseline),
        "target": {"ratio": TARGET_RATIO, "met": achieved is not None and achieved >= TARGET_RATIO},
        "environment": environment(),
    }


# --- entry point --------------------------------------------------------------------------


def _check(clients: int, seconds: float) -> None:
    if not 1 <= clients <= MAX_CLIENTS:
        raise ValueError(f"clients must be between 1 and {MAX_CLIENTS}")
    if not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"seconds must be above 0 and at most {MAX_SECONDS:.0f}")


def _load(url: str, traders: list[Trader], plan: Plan) -> tuple[Session, Measurements]:
    login = log_in(url, traders)
    if login.token_seconds < plan.duration + TOKEN_MARGIN_SECONDS:
        raise BenchSetupError(
            f"access tokens last {login.token_seconds} s, shorter than this run "
            f"(about {plan.duration:.0f} s): use fewer seconds"
        )
    return login, _run_loop(measure(plan, login))


def run_api_bench(
    url: str | None = None,
    clients: int = 64,
    seconds: float = 10.0,
    credentials: Path | None = None,
    *,
    seed: int = 1,
) -> dict[str, Any]:
    """Time order entry over HTTP against /livez on the same server; a JSON-able report."""
    _check(clients, seconds)
    require_aiohttp()
    if url is None:
        result, measured = _run_self_started(clients, seconds, seed)
    else:
        if credentials is None:
            raise BenchSetupError(
                "a server given by URL needs --credentials (its demo-clients.json)"
            )
        result, measured = _run_given(url.rstrip("/"), credentials, clients, seconds, seed)
    result["warnings"] = warnings_for(result, measured)
    return result


def _run_given(
    url: str, credentials: Path, clients: int, seconds: float, seed: int
) -> tuple[dict[str, Any], Measurements]:
    plan = Plan(url, clients, seconds, seed, server_pid=None)
    login, measured = _load(url, read_credentials(credentials), plan)
    result = report(plan, login, measured, {"url": url, "self_started": False})
    result["ledger"] = {"ran": False, "passed": None, "output": "not run: not our server"}
    return result, measured


def _run_self_started(
    clients: int, seconds: float, seed: int
) -> tuple[dict[str, Any], Measurements]:
    with tempfile.TemporaryDirectory(prefix="openbell-bench-") as directory:
        server = LocalServer.start(Path(directory))
        try:
            server.wait_ready()
            plan = Plan(server.url, clients, seconds, seed, server_pid=server.process.pid)
            login, measured = _load(server.url, read_credentials(server.credentials), plan)
        finally:
            stopped = server.stop()
        info = {"url": server.url, "self_started": True, "pid": server.process.pid}
        result = report(plan, login, measured, {**info, "stop": stopped})
        result["ledger"] = verify_ledger(server.data_dir)
    return result, measured
