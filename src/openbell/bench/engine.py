"""`openbell bench engine`: time the core state machine against baselines on one command stream.

How a run goes (all engines in the same process, one after another):

1. The workload (generated, or read from a JSON Lines file) is turned into each
   engine's own format before any timing: openbell `PlaceOrder`/`CancelOrder`/
   `AmendOrder` tuples, and plain operation tuples (`openbell.bench.operations`)
   for the reference book and any other engine. openbell's order ids are learned
   by applying the stream once to a scratch exchange; that pass is also
   openbell's warm-up.
2. Each engine runs the whole stream on a fresh instance after a warm-up on a
   throwaway one, with the garbage collector left on (it is part of the cost) and
   collected before the timed loop. Each command is timed with
   `time.perf_counter_ns` for the latency percentiles; the wall time of the whole
   loop gives commands per second. openbell's loop also reads the events of every
   outcome to count trades, outside the per-command window but inside wall time.
3. After the run, traded quantity and resting quantity per side must equal the
   reference book's; any engine that disagrees is reported, never dropped.
4. Memory per resting order is measured apart, with tracemalloc, by resting
   `memory_orders` non-crossing GTC orders on an empty book.
5. With `journal`, the stream also goes through the Sequencer onto a SQLite or
   PostgreSQL journal with a window of in-flight commands, so the sequencer
   drains batches and group-commits them; its rate is compared with the
   unjournaled rate measured in the same run.

Other engines join a run through `compare_with`: a `Comparison` gets the stream
as plain operations and openbell's and the reference book's timings, times its
engines with `time_calls` and adds its section and any disagreement to the
report. The rival Python engines' adapters use it from the source tree's
`benchmarks/` (`python -m benchmarks.engines`); they are not part of the wheel,
and nothing here imports them.
"""

import asyncio
import gc
import os
import platform
import tempfile
import time
import tracemalloc
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import uvloop

from openbell.bench.operations import (
    CANCEL,
    MOVE,
    PLACE,
    REDUCE,
    SYMBOL,
    Call,
    EngineState,
    Operation,
    bind_calls,
)
from openbell.bench.reference import FOK, GTC, IOC, ReferenceBook
from openbell.bench.workload import (
    SIDES,
    TIME_IN_FORCE,
    Record,
    apply_record,
    generate,
    read_workload,
    write_workload,
)
from openbell.contracts.commands import (
    AmendOrder,
    CancelOrder,
    Command,
    DefineAsset,
    Deposit,
    ListInstrument,
    OpenAccount,
    PlaceOrder,
)
from openbell.contracts.enums import OrderType, Side, TimeInForce
from openbell.contracts.events import TradeExecuted
from openbell.contracts.results import AccountView, OrderView, Outcome, Rejected
from openbell.core.application.tuning import (
    MIDDLE_GENERATION_THRESHOLD,
    OLD_GENERATION_THRESHOLD,
    YOUNG_GENERATION_THRESHOLD,
)
from openbell.core.domain import market as market_module
from openbell.core.domain.exchange import Exchange
from openbell.shared.ids import AccountId, Asset, ClientOrderId, OrderId, PaymentReference
from openbell.shared.money import Amount, Price, Quantity

QUOTE, BASE = Asset("USD"), Asset(SYMBOL)
QUOTE_FUNDS = Amount(10**18)
BASE_FUNDS = Amount(10**15)
WARMUP_COMMANDS = 20_000
CHUNK = 1024
JOURNAL_WINDOW = 8192
"""Commands kept in flight: enough for two full batches, as many concurrent clients would."""
BPS = 10_000
TIME_IN_FORCE_ENUM = {GTC: TimeInForce.GTC, IOC: TimeInForce.IOC, FOK: TimeInForce.FOK}
RIVALS_HINT = (
    "To compare with the rival Python engines, from a source checkout: "
    "pip install -e '.[bench]', then python -m benchmarks.engines with the same options "
    "(docs/benchmarks.md)."
)


@dataclass(slots=True)
class Timing:
    """One engine's timed run over (a prefix of) the stream."""

    commands: int
    nanoseconds: int
    latencies: list[int]
    state: EngineState
    partial: bool = False
    error: str | None = None

    @property
    def commands_per_second(self) -> float:
        return self.commands * 1e9 / self.nanoseconds if self.nanoseconds else 0.0


@dataclass(frozen=True, slots=True)
class Market:
    """The instrument the stream trades, sized to cover its prices and quantities."""

    reference_price: int
    band_bps: int
    max_quantity: int
    accounts: tuple[int, ...]

    @staticmethod
    def for_records(records: Sequence[Record]) -> "Market":
        prices = [int(r["price"]) for r in records if "price" in r] or [10_000]
        quantities = [int(r["quantity"]) for r in records if r["op"] == "place"] or [1]
        low, high = min(prices), max(prices)
        reference = (low + high) // 2
        reach = max(high - reference, reference - low) + 1
        band = min(BPS - 1, max(5_000, -(-reach * BPS // reference)))
        accounts = tuple(sorted({int(r["account"]) for r in records}))
        return Market(reference, band, max(1_000_000, *quantities), accounts)


@dataclass(slots=True)
class OpenbellStream:
    """The stream as openbell commands, and the exchange set-up they assume."""

    setup: list[Command]
    commands: list[Command]
    scratch: Exchange
    """The exchange the stream was converted on: the state every run must reach."""


@dataclass(slots=True)
class Report:
    """The JSON-able output of a run, and the disagreements found on the way."""

    output: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Comparison(Protocol):
    """More engines timed on the run's stream, after openbell and the reference book.

    It adds its own section to `report.output` and a line to `report.notes` for
    every engine that disagrees with the reference book or fails.
    """

    def __call__(
        self, operations: Sequence[Operation], *, ours: Timing, reference: Timing, report: Report
    ) -> None: ...


class UsageError(ValueError):
    """The options of a run do not fit together; the message says which and why."""


def resolve_journal(journal: str | None, database_url: str | None) -> str | None:
    """The journal's database URL; `--journal postgres` falls back to OPENBELL_DATABASE_URL."""
    if journal not in (None, "sqlite", "postgres"):
        raise UsageError("--journal must be sqlite or postgres")
    if journal == "postgres" and not database_url:
        database_url = os.environ.get("OPENBELL_DATABASE_URL")
        if not database_url:
            raise UsageError("--journal postgres needs --database-url or OPENBELL_DATABASE_URL")
    return database_url


def run_engine_bench(
    commands: int = 200_000,
    seed: int = 1,
    workload: Path | None = None,
    journal: str | None = None,
    database_url: str | None = None,
    *,
    compare_with: Comparison | None = None,
    save: Path | None = None,
    memory_orders: int = 100_000,
    repeat: int = 3,
) -> dict[str, Any]:
    """Run the engine benchmark and return a JSON-able report (see the module docstring).

    Every engine runs under the garbage-collector thresholds the core's process uses
    in production (openbell.core.application.tuning), so none pays for a default the
    platform does not run with.
    """
    if journal not in (None, "sqlite", "postgres"):
        raise ValueError("journal must be 'sqlite' or 'postgres'")
    previous = gc.get_threshold()
    gc.set_threshold(
        YOUNG_GENERATION_THRESHOLD, MIDDLE_GENERATION_THRESHOLD, OLD_GENERATION_THRESHOLD
    )
    try:
        output = _run(
            commands,
            seed,
            workload,
            journal,
            database_url,
            compare_with,
            save,
            memory_orders,
            max(1, repeat),
        )
    finally:
        gc.set_threshold(*previous)
    output["gc_thresholds"] = [
        YOUNG_GENERATION_THRESHOLD,
        MIDDLE_GENERATION_THRESHOLD,
        OLD_GENERATION_THRESHOLD,
    ]
    return output


def _best_of(
    repeat: int, stream: "OpenbellStream", operations: Sequence[Operation]
) -> tuple[Timing, Timing, list[float]]:
    """Time openbell and the reference book in alternating rounds; keep each one's fastest.

    On a shared machine the speed available changes from second to second; alternating
    the two and keeping the best round of each (as timeit does) compares like with like,
    and the per-round ratios show how much the machine moved.
    """
    best_ours: Timing | None = None
    best_reference: Timing | None = None
    pairs: list[float] = []
    for round_number in range(repeat):
        first, second = (True, False) if round_number % 2 == 0 else (False, True)
        timings: dict[bool, Timing] = {}
        for is_ours in (first, second):
            timings[is_ours] = (
                time_openbell(stream)
                if is_ours
                else time_calls(reference_calls, operations, budget_ns=None)
            )
        pairs.append(ratio(timings[True], timings[False]))
        if best_ours is None or timings[True].nanoseconds < best_ours.nanoseconds:
            best_ours = timings[True]
        if best_reference is None or timings[False].nanoseconds < best_reference.nanoseconds:
            best_reference = timings[False]
    if best_ours is None or best_reference is None:
        raise ValueError("repeat must be at least 1")
    return best_ours, best_reference, pairs


def _run(
    commands: int,
    seed: int,
    workload: Path | None,
    journal: str | None,
    database_url: str | None,
    compare_with: Comparison | None,
    save: Path | None,
    memory_orders: int,
    repeat: int,
) -> dict[str, Any]:
    records = read_workload(workload) if workload is not None else generate(commands, seed)
    if save is not None:
        write_workload(save, records)
    operations = to_operations(records)
    market = Market.for_records(records)
    stream = convert_for_openbell(records, market)
    report = Report()
    ours, reference, pairs = _best_of(repeat, stream, operations)
    report.output.update(_header(records, workload, seed, market))
    report.output.update(engine_summary(ours))
    report.output["bytes_per_resting_order"] = round(openbell_bytes_per_order(memory_orders), 1)
    _check_openbell(ours, reference, stream, report)
    report.output["reference"] = {
        **engine_summary(reference),
        "bytes_per_resting_order": round(reference_bytes_per_order(memory_orders), 1),
        "description": "bare heap+deque book: no accounts, risk, fees or events",
    }
    report.output["ratios"] = {
        "openbell_vs_reference": ratio(ours, reference),
        "openbell_vs_reference_per_round": pairs,
    }
    report.output["repeat"] = repeat
    if compare_with is not None:
        compare_with(operations, ours=ours, reference=reference, report=report)
    if journal is not None:
        report.output["journal"] = _best_journaled(
            repeat, journal, database_url, stream, ours, report
        )
    report.output["agreement"] = {"ok": not report.notes, "problems": report.notes}
    return report.output


# --- the stream in each engine's format ----------------------------------------------


def to_operations(records: Sequence[Record]) -> list[Operation]:
    """The stream as plain tuples for the reference book and any other engine's adapter."""
    operations: list[Operation] = []
    for record in records:
        op, order_id = record["op"], int(record["id"])
        if op == "place":
            is_buy = SIDES[str(record["side"])]
            tif = TIME_IN_FORCE[str(record["tif"])]
            price, quantity = int(record["price"]), int(record["quantity"])
            operations.append((PLACE, order_id, is_buy, price, quantity, tif))
        elif op == "cancel":
            operations.append((CANCEL, order_id, False, 0, 0, 0))
        elif op == "reduce":
            operations.append((REDUCE, order_id, False, 0, int(record["quantity"]), 0))
        else:
            operations.append((MOVE, order_id, False, int(record["price"]), 0, 0))
    return operations


def setup_commands(market: Market) -> list[Command]:
    """Assets, the instrument, one funded openbell account per workload account, in order."""
    setup: list[Command] = [
        DefineAsset(QUOTE, 2),
        DefineAsset(BASE, 0),
        ListInstrument(
            symbol=SYMBOL,
            base_asset=BASE,
            quote_asset=QUOTE,
            tick_size="0.01",
            lot_size="1",
            min_quantity=Quantity(1),
            max_quantity=Quantity(market.max_quantity),
            reference_price=Price(market.reference_price),
            price_band_bps=market.band_bps,
            maker_fee_bps=1,
            taker_fee_bps=2,
        ),
    ]
    setup.extend(OpenAccount() for _ in market.accounts)
    return setup


def plain_apply(exchange: Exchange) -> Callable[[Command, int, int], Outcome]:
    """`exchange.apply` fed plain ints: loops that count sequence numbers themselves (and
    use them as timestamps) would otherwise pay a call per command to type them."""
    return cast("Callable[[Command, int, int], Outcome]", exchange.apply)


def _new_exchange(market: Market) -> tuple[Exchange, dict[int, AccountId]]:
    """A funded exchange and the map from workload account to openbell account id."""
    exchange = Exchange()
    apply = plain_apply(exchange)
    accounts: dict[int, AccountId] = {}
    sequence = 0
    for command in setup_commands(market):
        sequence += 1
        result = apply(command, sequence, sequence).result
        if isinstance(result, AccountView):
            accounts[market.accounts[len(accounts)]] = result.account_id
    for command in funding_commands(accounts):
        sequence += 1
        apply(command, sequence, sequence)
    return exchange, accounts


def funding_commands(accounts: dict[int, AccountId]) -> list[Command]:
    funding: list[Command] = []
    for account_id in accounts.values():
        for asset, funds in ((QUOTE, QUOTE_FUNDS), (BASE, BASE_FUNDS)):
            reference = PaymentReference(f"bench-{asset}-{account_id}")
            funding.append(Deposit(account_id, asset, funds, reference))
    return funding


def convert_for_openbell(records: Sequence[Record], market: Market) -> OpenbellStream:
    """Build openbell commands, learning order ids by applying them to a scratch exchange.

    A reduce by N becomes AmendOrder(quantity = current total - N), or CancelOrder
    when N is the whole open quantity or more (the reference book decides which);
    a move becomes AmendOrder(price=...). Commands on unknown or finished orders
    are still sent and are refused by the core, as every other engine ignores them.
    """
    scratch, accounts = _new_exchange(market)
    simulation = ReferenceBook()
    order_ids: dict[int, OrderId] = {}
    totals: dict[int, int] = {}
    commands: list[Command] = []
    apply, sequence = plain_apply(scratch), int(scratch.sequence)
    for record in records:
        command = _openbell_command(record, accounts, order_ids, totals, simulation)
        sequence += 1
        result = apply(command, sequence, sequence).result
        if record["op"] == "place":
            order = result.order if isinstance(result, Rejected) else result
            if isinstance(order, OrderView):
                order_ids[int(record["id"])] = order.order_id
                totals[int(record["id"])] = order.quantity
        apply_record(simulation, record)
        commands.append(command)
    setup = [*setup_commands(market), *funding_commands(accounts)]
    return OpenbellStream(setup, commands, scratch)


def _openbell_command(
    record: Record,
    accounts: dict[int, AccountId],
    order_ids: dict[int, OrderId],
    totals: dict[int, int],
    simulation: ReferenceBook,
) -> Command:
    op, key = record["op"], int(record["id"])
    account = accounts[int(record["account"])]
    if op == "place":
        side = Side.BUY if record["side"] == "buy" else Side.SELL
        tif = TIME_IN_FORCE_ENUM[TIME_IN_FORCE[str(record["tif"])]]
        price, quantity = Price(int(record["price"])), Quantity(int(record["quantity"]))
        client_order_id = ClientOrderId(str(key))
        return PlaceOrder(
            account, client_order_id, SYMBOL, side, OrderType.LIMIT, price, quantity, tif
        )
    order_id = order_ids.get(key, OrderId(0))
    if op == "move":
        return AmendOrder(account, order_id, price=Price(int(record["price"])))
    resting = simulation.resting(key)
    by = int(record["quantity"]) if op == "reduce" else 0
    if op == "reduce" and resting is not None and resting.quantity > by and key in totals:
        totals[key] -= by
        return AmendOrder(account, order_id, quantity=Quantity(totals[key]))
    return CancelOrder(account, order_id)


# --- timed loops ---------------------------------------------------------------------


def time_openbell(stream: OpenbellStream) -> Timing:
    """Apply the stream to a fresh exchange, timing each command."""
    exchange = Exchange()
    apply = plain_apply(exchange)
    sequence = 0
    for command in stream.setup:
        sequence += 1
        apply(command, sequence, sequence)
    clock = time.perf_counter_ns
    latencies: list[int] = []
    record = latencies.append
    trades = traded = 0
    trade_type = TradeExecuted
    gc.collect()
    gc.freeze()  # the harness's own objects are no engine's garbage-collection cost
    start = clock()
    for command in stream.commands:
        sequence += 1
        began = clock()
        outcome = apply(command, sequence, sequence)
        record(clock() - began)
        for event in outcome.events:
            if type(event) is trade_type:
                trades += 1
                traded += event.quantity
    elapsed = clock() - start
    gc.unfreeze()
    state = openbell_state(exchange, trades, traded)
    if state != openbell_state(stream.scratch, trades, traded):
        raise RuntimeError("the timed exchange ended in another state than the conversion pass")
    return Timing(len(stream.commands), elapsed, latencies, state)


def openbell_state(exchange: Exchange, trades: int, traded: int) -> EngineState:
    view = exchange.book(SYMBOL, 1_000_000_000)
    bids = view.bids if view else []
    asks = view.asks if view else []
    orders = list(exchange.open_orders.values())
    bid_orders = sum(1 for order in orders if order.side is Side.BUY)
    return EngineState(
        trades,
        traded,
        bid_orders,
        len(orders) - bid_orders,
        sum(quantity for _, quantity in bids),
        sum(quantity for _, quantity in asks),
    )


def reference_calls(
    operations: Sequence[Operation],
) -> tuple[list[Call], Callable[[], EngineState]]:
    book = ReferenceBook()
    calls = bind_calls(operations, book.place, book.cancel, book.reduce, book.move)
    return calls, lambda: reference_state(book)


def reference_state(book: ReferenceBook) -> EngineState:
    bids, asks = book.depth()
    return EngineState(
        book.trades,
        book.traded_quantity,
        sum(orders for _, _, orders in bids),
        sum(orders for _, _, orders in asks),
        sum(quantity for _, quantity, _ in bids),
        sum(quantity for _, quantity, _ in asks),
    )


Prepare = Callable[[Sequence[Operation]], tuple[list[Call], Callable[[], EngineState]]]


def time_calls(prepare: Prepare, operations: Sequence[Operation], budget_ns: int | None) -> Timing:
    """Warm up on a throwaway instance, then time the stream on a fresh one.

    With `budget_ns`, an engine still running after that long is stopped between
    chunks and its timing is marked partial.
    """
    warm, _ = prepare(operations[:WARMUP_COMMANDS])
    _loop(warm, budget_ns)
    calls, state = prepare(operations)
    timing = _loop(calls, budget_ns)
    if timing.error is None:
        timing.state = state()
    return timing


def _loop(calls: list[Call], budget_ns: int | None) -> Timing:
    chunks = [calls[index : index + CHUNK] for index in range(0, len(calls), CHUNK)]
    clock = time.perf_counter_ns
    latencies: list[int] = []
    record = latencies.append
    partial, error = False, None
    gc.collect()
    gc.freeze()  # the harness's own objects are no engine's garbage-collection cost
    start = clock()
    deadline = start + budget_ns if budget_ns is not None else None
    try:
        for chunk in chunks:
            for function, arguments in chunk:
                began = clock()
                function(*arguments)
                record(clock() - began)
            if deadline is not None and clock() > deadline:
                partial = len(latencies) < len(calls)
                break
    except Exception as failure:  # noqa: BLE001 - an engine's crash is a result to report
        error = f"{type(failure).__name__}: {failure}"
    elapsed = clock() - start
    gc.unfreeze()
    empty = EngineState(0, 0, 0, 0, 0, 0)
    return Timing(len(latencies), elapsed, latencies, empty, partial, error)


# --- checks and summaries ------------------------------------------------------------


def disagreements(state: EngineState, expected: EngineState, *, with_counts: bool) -> list[str]:
    """Where `state` differs from `expected`; trade and order counts only `with_counts`.

    Engines count trades and resting orders their own ways (one record per fill or
    per maker); quantities are what every correct engine must agree on.
    """
    fields = ["traded_quantity", "bid_quantity", "ask_quantity"]
    if with_counts:
        fields += ["trades", "bid_orders", "ask_orders"]
    return [
        f"{name} {getattr(state, name)} != reference {getattr(expected, name)}"
        for name in fields
        if getattr(state, name) != getattr(expected, name)
    ]


def _check_openbell(
    ours: Timing, reference: Timing, stream: OpenbellStream, report: Report
) -> None:
    problems = disagreements(ours.state, reference.state, with_counts=True)
    report.output["agrees_with_reference"] = not problems
    if problems:
        report.output["disagreements"] = problems
        report.notes.append(f"openbell disagrees with the reference book: {'; '.join(problems)}")
    report.output["setup_commands"] = len(stream.setup)


def _percentile(ordered: list[int], fraction: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, int(fraction * len(ordered)))
    return round(ordered[index] / 1_000, 2)


def engine_summary(timing: Timing) -> dict[str, Any]:
    """The fields every engine's section of the report carries."""
    ordered = sorted(timing.latencies)
    state = timing.state
    return {
        "commands": timing.commands,
        "seconds": round(timing.nanoseconds / 1e9, 4),
        "commands_per_second": round(timing.commands_per_second),
        "trades": state.trades,
        "traded_quantity": state.traded_quantity,
        "resting_orders": {"bids": state.bid_orders, "asks": state.ask_orders},
        "resting_quantity": {"bids": state.bid_quantity, "asks": state.ask_quantity},
        "latency_us": {
            "p50": _percentile(ordered, 0.50),
            "p99": _percentile(ordered, 0.99),
            "p999": _percentile(ordered, 0.999),
            "max": round(ordered[-1] / 1_000, 2) if ordered else 0.0,
        },
    }


def ratio(ours: Timing, other: Timing) -> float:
    """openbell's commands per second over the other engine's (above 1: openbell is faster)."""
    theirs = other.commands_per_second
    return round(ours.commands_per_second / theirs, 3) if theirs else 0.0


def prefix_ratio(ours: Timing, other: Timing, prefix: int) -> float:
    """The other engine's time over openbell's on the first `prefix` commands of the stream."""
    mine = sum(ours.latencies[:prefix])
    return round(sum(other.latencies[:prefix]) / mine, 3) if mine else 0.0


def core_is_compiled() -> bool:
    """Whether the core's state machine runs as mypyc extension modules (a wheel install)."""
    return not str(getattr(market_module, "__file__", "")).endswith(".py")


def _header(
    records: Sequence[Record], workload: Path | None, seed: int, market: Market
) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for record in records:
        key = f"{record['op']}_{record['tif']}" if record["op"] == "place" else str(record["op"])
        counts[key] = counts.get(key, 0) + 1
    source = (
        {"workload": str(workload)}
        if workload is not None
        else {"generator": "exchange-core", "seed": seed}
    )
    return {
        "benchmark": "engine",
        "engine": "openbell",
        "core_compiled": core_is_compiled(),
        **source,
        "mix": {
            key: round(value / max(1, len(records)), 4) for key, value in sorted(counts.items())
        },
        "accounts": len(market.accounts),
        "instrument": {
            "reference_price": market.reference_price,
            "price_band_bps": market.band_bps,
            "max_quantity": market.max_quantity,
        },
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
    }


# --- memory per resting order ----------------------------------------------------------


def _memory_orders(count: int) -> list[tuple[int, bool, int, int]]:
    """`count` non-crossing GTC orders: bids 9,000-9,899, asks 10,100-10,999 ticks."""
    return [
        (i + 1, i % 2 == 0, (9_000 if i % 2 == 0 else 10_100) + (i // 2) % 900, 1 + i % 5)
        for i in range(count)
    ]


def openbell_bytes_per_order(count: int) -> float:
    """Traced memory growth of an exchange per resting order, order commands built inside."""
    if count <= 0:
        return 0.0
    market = Market(10_000, 5_000, 1_000_000, tuple(range(1, 101)))
    exchange, accounts = _new_exchange(market)
    account_ids = list(accounts.values())
    orders = _memory_orders(count)
    apply, sequence = plain_apply(exchange), int(exchange.sequence)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for order_id, is_buy, price, quantity in orders:
        sequence += 1
        side = Side.BUY if is_buy else Side.SELL
        account = account_ids[order_id % len(account_ids)]
        command = PlaceOrder(
            account,
            ClientOrderId(str(order_id)),
            SYMBOL,
            side,
            OrderType.LIMIT,
            Price(price),
            Quantity(quantity),
            TimeInForce.GTC,
        )
        apply(command, sequence, sequence)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    resting = len(exchange.open_orders)
    if resting != count:
        raise RuntimeError(f"memory pass: {resting} of {count} orders rest")
    return grown / count


def reference_bytes_per_order(count: int) -> float:
    if count <= 0:
        return 0.0
    book = ReferenceBook()
    orders = _memory_orders(count)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for order_id, is_buy, price, quantity in orders:
        book.place(order_id, is_buy, price, quantity, GTC)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return grown / count


# --- journaled ------------------------------------------------------------------------


def _best_journaled(
    repeat: int,
    kind: str,
    database_url: str | None,
    stream: OpenbellStream,
    ours: Timing,
    report: Report,
) -> dict[str, Any]:
    """The journaled run, `repeat` times on a fresh journal each, keeping the fastest.

    The unjournaled figure it is compared with is the best of as many rounds, so both
    sides get the same chance at a quiet moment of a shared machine. Each round runs
    on uvloop, the event loop the server runs on.
    """
    rounds: list[dict[str, Any]] = []
    for _ in range(repeat):
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            rounds.append(runner.run(_journaled(kind, database_url, stream, ours, report)))
    best = max(rounds, key=lambda result: float(result["commands_per_second"]))
    best["journaled_vs_unjournaled_per_round"] = [
        result["journaled_vs_unjournaled"] for result in rounds
    ]
    best["event_loop"] = "uvloop"
    return best


async def _journaled(
    kind: str, database_url: str | None, stream: OpenbellStream, ours: Timing, report: Report
) -> dict[str, Any]:
    """Submit the stream through the Sequencer with a window of in-flight commands.

    The window keeps JOURNAL_WINDOW commands queued, in stream order, so the
    sequencer drains them in batches and writes each batch in one group commit.
    """
    from openbell.core.adapters.acknowledged import AcknowledgedFile  # noqa: PLC0415
    from openbell.core.application.sequencer import Sequencer  # noqa: PLC0415
    from openbell.core.bootstrap import journal_for  # noqa: PLC0415
    from openbell.shared.time import SystemClock  # noqa: PLC0415

    async with _journal_database(kind, database_url) as url:
        # As the server runs: the acknowledged mark is rewritten after every append.
        folder = tempfile.TemporaryDirectory(prefix="openbell-bench-")
        mark = AcknowledgedFile(Path(folder.name) / "journal.acknowledged")
        journal = journal_for(url, acknowledged=mark)
        await journal.open()
        try:
            exchange = Exchange()
            sequencer = Sequencer(exchange, journal, SystemClock())
            await sequencer.start()
            for command in stream.setup:
                await sequencer.execute(command)
            before = sequencer.stats()
            elapsed, trades, traded = await _submit_windowed(sequencer, stream.commands)
            after = sequencer.stats()
            await sequencer.stop()
        finally:
            await journal.close()
            mark.close()
            folder.cleanup()
    state = openbell_state(exchange, trades, traded)
    problems = disagreements(state, ours.state, with_counts=True)
    if problems:
        report.notes.append(f"journaled run ({kind}) ended elsewhere: {'; '.join(problems)}")
    timing = Timing(len(stream.commands), elapsed, [], state)
    batches = after.batches - before.batches
    return {
        "journal": kind,
        "commands": timing.commands,
        "seconds": round(elapsed / 1e9, 4),
        "commands_per_second": round(timing.commands_per_second),
        "window": JOURNAL_WINDOW,
        "batches": batches,
        "largest_batch": after.largest_batch,
        "mean_batch": round(timing.commands / batches, 1) if batches else 0,
        "journaled_vs_unjournaled": ratio(timing, ours),
        "agrees_with_unjournaled": not problems,
    }


@asynccontextmanager
async def _journal_database(kind: str, database_url: str | None) -> AsyncIterator[str]:
    """A fresh, empty journal database: a file in a temporary folder for SQLite, a
    throwaway database on the server of `database_url` for PostgreSQL."""
    import openbell.core.adapters.tables  # noqa: F401, PLC0415 - registers the journal table
    from openbell.platform.db import asyncpg_dsn, prepare_database  # noqa: PLC0415

    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="openbell-bench-") as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'journal.db'}"
            await prepare_database(url)
            yield url
        return
    if database_url is None:
        raise ValueError("--journal postgres needs a database URL")
    import asyncpg  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    name = f"openbell_bench_{os.getpid()}_{time.time_ns()}"
    admin = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
        try:
            await prepare_database(url)
            yield url
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _submit_windowed(sequencer: Any, commands: Sequence[Command]) -> tuple[int, int, int]:  # noqa: ANN401
    submit = sequencer.submit
    in_flight: deque[Any] = deque()
    trades = traded = 0
    gc.collect()
    gc.freeze()
    start = time.perf_counter_ns()
    for command in commands:
        if len(in_flight) >= JOURNAL_WINDOW:
            outcome = await in_flight.popleft()
            for event in outcome.events:
                if type(event) is TradeExecuted:
                    trades += 1
                    traded += event.quantity
        in_flight.append(submit(command))
    while in_flight:
        outcome = await in_flight.popleft()
        for event in outcome.events:
            if type(event) is TradeExecuted:
                trades += 1
                traded += event.quantity
    elapsed = time.perf_counter_ns() - start
    gc.unfreeze()
    return elapsed, trades, traded
