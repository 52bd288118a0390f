"""Command streams for `openbell bench engine`: generated order flow, or a JSON Lines file.

A workload is a list of records on one symbol, prices in integer ticks, quantities
in integer lots, every account pre-funded by the harness:

    {"op":"place","id":1,"account":7,"side":"buy","price":10050,"quantity":3,"tif":"GTC"}
    {"op":"cancel","id":1,"account":7}
    {"op":"reduce","id":1,"account":7,"quantity":2}
    {"op":"move","id":1,"account":7,"price":10040}

`tif` is GTC, IOC or FOK. `reduce` takes that many lots off the order's open
quantity and keeps its time priority; reducing by the whole open quantity or more
cancels it. `move` cancels the order and re-places its open quantity at the new
price: it loses time priority and matches at once if it crosses; a move to the
price the order already has does nothing. An id is placed once; cancel, reduce and
move must name an id placed on an earlier line, by the account that placed it.
Commands on an order that has since filled or been cancelled are valid: every
engine simply has nothing to do.

The generator follows the order generator of exchange-core's throughput tests
(`TestOrdersGenerator`), on a single book. Its rules, exactly:

- State: a simulated book (the reference book in `openbell.bench.reference`), the
  last trade price (starts at the centre price, 10,000 ticks), a price deviation
  of 5% of the centre (500 ticks), a band of centre ± 5 deviations (7,500 to
  12,500) that the last trade price is clamped to, and the list of live GTC
  orders in the order they were placed.
- Target depth: `resting_orders` (default 1,000) resting orders, half per side.
  The generator re-reads the simulated book's order count per side every
  min(512, resting_orders + 1) commands; "lack" is half the target minus the
  count last read for a side.
- Side: buy or sell with equal probability (the "direction" tilt of
  exchange-core: it becomes 3:1 towards buying after a trade at or below the
  band's floor, and towards selling after one at or above its ceiling).
- Command: with a lack on the chosen side the book is "growing"; it is "filling
  fast" until the first time a side has no lack, and whenever the lack exceeds
  min(512, ¾ of the half-target). Draw q uniformly from 0..1 when filling fast,
  0..9 when growing, 0..39 otherwise. q < 2 places an order, q = 2 cancels,
  q = 3 reduces, q ≥ 4 moves. So in steady state (no lack) the mix is 5%
  aggressive orders, 2.5% cancels, 2.5% reduces and 90% moves; while growing,
  20% GTC placements, 10% cancels, 10% reduces, 60% moves.
- Quantity of every new order: 1 + a·b·c lots, with a, b, c uniform in 0..5.
- Placement while growing: a GTC limit order. dev = 1 + ⌊u²·deviation⌋ for u
  uniform in [0, 1); p = ⌊(x₁+x₂+x₃+x₄)/4⌋·2 - dev with each xᵢ uniform in
  0..dev-1; the sign of p is flipped as needed so that a sell is priced at or
  above the last trade price and a buy at or below it; price = last trade + p.
  Such an order may still cross the book and trade.
- Placement otherwise: an aggressive order. Three in four are IOC at the band's
  edge (a buy at the ceiling, a sell at the floor), sweeping what they can; one
  in four is FOK priced k ticks through the last trade price (buy: last + k,
  sell: last - k) with k uniform in 0..deviation/20, so some fill and some die.
- Cancel, reduce, move pick one of the 512 oldest live GTC orders uniformly (an
  order found filled or cancelled is dropped from the list and the draw is
  repeated). Reduce takes off r lots, r uniform in 1..open quantity (so
  sometimes all of it). Move shifts the price 1% of the way towards the last
  trade price, rounded away from the order's price (at least one tick), or
  one tick up or down at random when it already sits at the last trade price.
- Accounts: a pool of `accounts` (default 1,000) ids; buys come from odd ids,
  sells from even ids, uniformly. No order can ever meet an order of its own
  account, so self-trade prevention (which openbell applies and the reference
  book and third-party engines do not) never changes the outcome.
- Every command, including the first ~1,000 that fill the book, is part of the
  stream and of the timed run; the same seed gives the same stream.
"""

import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from math import ceil, floor
from pathlib import Path

from openbell.bench.reference import FOK, GTC, IOC, ReferenceBook

Record = dict[str, int | str]

TIME_IN_FORCE = {"GTC": GTC, "IOC": IOC, "FOK": FOK}
SIDES = {"buy": True, "sell": False}
FIELDS: dict[str, tuple[str, ...]] = {
    "place": ("op", "id", "account", "side", "price", "quantity", "tif"),
    "cancel": ("op", "id", "account"),
    "reduce": ("op", "id", "account", "quantity"),
    "move": ("op", "id", "account", "price"),
}
STATS_EVERY = 512
PICK_AMONG = 512
CENTRAL_MOVE_ALPHA = 0.01


class WorkloadError(ValueError):
    """A workload line that does not fit the schema; names its source and line."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}")
        self.source = source
        self.line = line


@dataclass(frozen=True, slots=True)
class GeneratorSettings:
    resting_orders: int = 1_000
    accounts: int = 1_000
    center_price: int = 10_000


def generate(commands: int, seed: int, settings: GeneratorSettings | None = None) -> list[Record]:
    """Generate `commands` records of exchange-core's order-flow mix; same seed, same stream."""
    if commands < 0:
        raise ValueError("commands must not be negative")
    session = _Session(settings or GeneratorSettings(), seed)
    return [session.next_record() for _ in range(commands)]


def apply_record(book: ReferenceBook, record: Record) -> None:
    """Apply one record to a reference book (outside any timed loop)."""
    op, order_id = record["op"], int(record["id"])
    if op == "place":
        is_buy = SIDES[str(record["side"])]
        tif = TIME_IN_FORCE[str(record["tif"])]
        book.place(order_id, is_buy, int(record["price"]), int(record["quantity"]), tif)
    elif op == "cancel":
        book.cancel(order_id)
    elif op == "reduce":
        book.reduce(order_id, int(record["quantity"]))
    else:
        book.move(order_id, int(record["price"]))


class _Session:
    """The generator's state: exchange-core's TestOrdersGeneratorSession, for one book."""

    def __init__(self, settings: GeneratorSettings, seed: int) -> None:
        if settings.resting_orders < 2 or settings.accounts < 2 or settings.center_price < 100:
            raise ValueError("need at least 2 resting orders, 2 accounts and a centre price of 100")
        self.rand = random.Random(seed)  # noqa: S311  # nosec B311 - a reproducible stream, not a secret
        self.book = ReferenceBook()
        self.half = settings.resting_orders // 2
        self.account_pairs = settings.accounts // 2
        self.deviation = settings.center_price * 5 // 100
        self.min_price = settings.center_price - 5 * self.deviation
        self.max_price = settings.center_price + 5 * self.deviation
        self.last_price = settings.center_price
        self.direction = 0
        self.filled = False
        self.live: dict[int, int] = {}
        """Live GTC orders, oldest first: order id -> account."""
        self.next_id = 1
        self.counts = (0, 0)
        self.emitted = 0
        self.check_every = min(STATS_EVERY, settings.resting_orders + 1)
        self.next_check = self.check_every

    def next_record(self) -> Record:
        record = self._draw()
        while record is None:
            record = self._draw()
        trades_before = self.book.trades
        apply_record(self.book, record)
        if self.book.trades != trades_before:
            self._traded_at(self.book.last_price)
        self.emitted += 1
        if self.emitted >= self.next_check:
            self.next_check += self.check_every
            self.counts = self.book.order_counts()
        return record

    def _traded_at(self, price: int) -> None:
        self.last_price = min(self.max_price, max(self.min_price, price))
        if price <= self.min_price:
            self.direction = 1
        elif price >= self.max_price:
            self.direction = -1

    def _draw(self) -> Record | None:
        rand = self.rand
        is_buy = rand.randrange(4) + self.direction >= 2
        lack = self.half - self.counts[0 if is_buy else 1]
        fast = not self.filled or lack > min(STATS_EVERY, self.half * 3 // 4)
        growing = lack > 0
        if not growing:
            self.filled = True
        q = rand.randrange((2 if fast else 10) if growing else 40)
        if q < 2:
            return self._place(is_buy, growing=growing)
        return self._amend(q)

    def _place(self, is_buy: bool, *, growing: bool) -> Record:
        rand = self.rand
        order_id = self.next_id
        self.next_id += 1
        account = 2 * rand.randrange(self.account_pairs) + (1 if is_buy else 2)
        quantity = 1 + rand.randrange(6) * rand.randrange(6) * rand.randrange(6)
        if growing:
            tif, price = "GTC", self.last_price + self._offset(is_buy)
            self.live[order_id] = account
        elif rand.randrange(4) == 0:
            through = rand.randrange(self.deviation // 20 + 1)
            tif, price = "FOK", self.last_price + (through if is_buy else -through)
        else:
            tif, price = "IOC", self.max_price if is_buy else self.min_price
        side = "buy" if is_buy else "sell"
        return {
            "op": "place",
            "id": order_id,
            "account": account,
            "side": side,
            "price": price,
            "quantity": quantity,
            "tif": tif,
        }

    def _offset(self, is_buy: bool) -> int:
        rand = self.rand
        dev = 1 + int(rand.random() ** 2 * self.deviation)
        offset = sum(rand.randrange(dev) for _ in range(4)) // 4 * 2 - dev
        if (offset > 0) == is_buy:
            offset = -offset
        return offset

    def _amend(self, q: int) -> Record | None:
        live = self.live
        size = min(len(live), PICK_AMONG)
        if size == 0:
            return None
        order_id = next(islice(live, self.rand.randrange(size), None))
        resting = self.book.resting(order_id)
        if resting is None:
            del live[order_id]
            return None
        account = live[order_id]
        if q == 2:
            del live[order_id]
            return {"op": "cancel", "id": order_id, "account": account}
        if q == 3:
            by = self.rand.randrange(resting.quantity) + 1
            return {"op": "reduce", "id": order_id, "account": account, "quantity": by}
        return {
            "op": "move",
            "id": order_id,
            "account": account,
            "price": self._moved(resting.price),
        }

    def _moved(self, price: int) -> int:
        shift = (self.last_price - price) * CENTRAL_MOVE_ALPHA
        if price > self.last_price:
            return price + floor(shift)
        if price < self.last_price:
            return price + ceil(shift)
        return price + self.rand.randrange(2) * 2 - 1


# --- JSON Lines -------------------------------------------------------------------


def read_workload(path: Path) -> list[Record]:
    """Read and validate a JSON Lines workload; raise WorkloadError naming the bad line."""
    with path.open(encoding="utf-8") as lines:
        return parse_workload(lines, source=str(path))


def parse_workload(lines: Iterable[str], source: str = "<workload>") -> list[Record]:
    """Validate workload lines strictly: schema, types, ids and owners; blank lines are skipped."""
    validator = _Validator(source)
    records: list[Record] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            records.append(validator.check(number, line))
    return records


def write_workload(path: Path, records: Iterable[Record]) -> int:
    """Write records as JSON Lines, fields in schema order; return how many were written."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for line in dump_lines(records):
            out.write(line)
            count += 1
    return count


def dump_lines(records: Iterable[Record]) -> Iterator[str]:
    for record in records:
        fields = FIELDS[str(record["op"])]
        ordered = {name: record[name] for name in fields}
        yield json.dumps(ordered, separators=(",", ":")) + "\n"


class _Validator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.owners: dict[int, tuple[int, int]] = {}
        """Order id -> (account, line that placed it)."""

    def fail(self, line: int, message: str) -> WorkloadError:
        return WorkloadError(self.source, line, message)

    def check(self, line: int, text: str) -> Record:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise self.fail(line, f"not valid JSON: {error.msg}") from None
        if not isinstance(value, dict):
            raise self.fail(line, "a line must be a JSON object")
        op = value.get("op")
        if not isinstance(op, str) or op not in FIELDS:
            raise self.fail(line, f"unknown op {op!r}: expected one of {', '.join(FIELDS)}")
        self._check_fields(line, op, value)
        record: Record = dict(value)
        self._check_ownership(line, op, record)
        return record

    def _check_fields(self, line: int, op: str, value: dict[str, object]) -> None:
        expected = FIELDS[op]
        unknown = sorted(set(value) - set(expected))
        if unknown:
            raise self.fail(line, f"unknown field(s) for {op}: {', '.join(unknown)}")
        missing = [name for name in expected if name not in value]
        if missing:
            raise self.fail(line, f"missing field(s) for {op}: {', '.join(missing)}")
        for name in expected[1:]:
            field = value[name]
            if name == "side":
                if field not in SIDES:
                    raise self.fail(line, f"side must be 'buy' or 'sell', not {field!r}")
            elif name == "tif":
                if field not in TIME_IN_FORCE:
                    raise self.fail(line, f"tif must be GTC, IOC or FOK, not {field!r}")
            elif type(field) is not int:
                raise self.fail(line, f"{name} must be an integer, not {field!r}")
            elif field <= 0:
                raise self.fail(line, f"{name} must be positive, not {field}")

    def _check_ownership(self, line: int, op: str, record: Record) -> None:
        order_id, account = int(record["id"]), int(record["account"])
        owner = self.owners.get(order_id)
        if op == "place":
            if owner is not None:
                raise self.fail(line, f"order id {order_id} was already placed on line {owner[1]}")
            self.owners[order_id] = (account, line)
        elif owner is None:
            raise self.fail(line, f"{op} of order id {order_id}, which no earlier line places")
        elif owner[0] != account:
            raise self.fail(
                line,
                f"{op} of order id {order_id} by account {account}: line {owner[1]} "
                f"placed it for account {owner[0]}",
            )
