"""Adapters that drive third-party Python matching engines with the benchmark's command stream.

Each adapter turns the stream's operations (place GTC/IOC/FOK, cancel, reduce by
N lots, move to a new price) into calls of one engine's own API. Where an engine
lacks an operation the adapter emulates it with the engine's own primitives and
says so in `emulated`; the emulation runs inside the timed loop, since a user of
that engine would have to do the same. The engines are untyped, so they are
imported by name (their objects are `Any` here) and stay behind these wrappers.

They live beside `src/`, not in the wheel: they exist only to compare openbell
with other engines, from a source checkout with the engines installed
(`pip install -e '.[bench]'`); an engine that is not installed is reported as
skipped. They import openbell, never the other way round (an import contract).
"""

import datetime as dt
import importlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType
from typing import Any

from openbell.bench.operations import (
    SYMBOL,
    Call,
    EngineState,
    Operation,
    bind_calls,
)
from openbell.bench.reference import FOK, GTC, IOC


class Unavailable(Exception):  # noqa: N818 - a verdict on an engine, not an error in ours
    """The engine cannot be used here; the message says why."""


def _import(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise Unavailable(f"not importable: {error}") from None


@contextmanager
def quiet_logging() -> Iterator[None]:
    """Silence every logger while engines run: none of them should pay for log output."""
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


class Rival:
    """A third-party engine behind the stream's four operations.

    The base class emulates IOC (place, then cancel what rests), FOK (check the
    engine's own depth first, then place as IOC), reduce (lower the resting
    order's quantity in place, or cancel when nothing would be left) and move
    (cancel, then place the open quantity at the new price). Subclasses override
    what their engine does natively.
    """

    distribution = ""
    emulated: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.trades = 0
        self.traded_quantity = 0
        self._orders: dict[int, Any] = {}

    @property
    def version(self) -> str:
        try:
            return version(self.distribution)
        except PackageNotFoundError:
            return "unknown"

    def calls(self, operations: Sequence[Operation]) -> list[Call]:
        """The stream in this engine's terms, built before the timed loop."""
        return bind_calls(operations, self.place, self.cancel, self.reduce, self.move)

    def place(self, order_id: int, is_buy: bool, price: int, quantity: int, tif: int) -> None:
        if tif == FOK and self._available(is_buy, price, quantity) < quantity:
            return
        handle = self._submit(is_buy, price, quantity)
        if handle is not None:
            if tif == GTC:
                self._orders[order_id] = handle
            else:
                self._withdraw(handle)

    def cancel(self, order_id: int) -> None:
        handle = self._orders.pop(order_id, None)
        if handle is not None and self._remaining(handle):
            self._withdraw(handle)

    def reduce(self, order_id: int, quantity: int) -> None:
        handle = self._orders.get(order_id)
        if handle is None:
            return
        remaining = self._remaining(handle)
        if remaining > quantity:
            self._shrink(handle, remaining - quantity)
        else:
            self.cancel(order_id)

    def move(self, order_id: int, price: int) -> None:
        handle = self._orders.get(order_id)
        if handle is None:
            return
        remaining = self._remaining(handle)
        if not remaining:
            del self._orders[order_id]
        elif self._price(handle) != price:
            self.cancel(order_id)
            self.place(order_id, self._is_buy(handle), price, remaining, GTC)

    def close(self) -> None:
        """Stop any thread the engine started."""

    # --- what each engine supplies ------------------------------------------------

    def _submit(self, is_buy: bool, price: int, quantity: int) -> Any:  # noqa: ANN401
        """Send a limit order; count its fills; return its handle if some of it rests."""
        raise NotImplementedError

    def _withdraw(self, handle: Any) -> None:  # noqa: ANN401
        raise NotImplementedError

    def _remaining(self, handle: Any) -> int:  # noqa: ANN401
        raise NotImplementedError

    def _price(self, handle: Any) -> int:  # noqa: ANN401
        raise NotImplementedError

    def _is_buy(self, handle: Any) -> bool:  # noqa: ANN401
        raise NotImplementedError

    def _shrink(self, handle: Any, remaining: int) -> None:  # noqa: ANN401
        raise NotImplementedError

    def _available(self, is_buy: bool, price: int, wanted: int) -> int:
        raise NotImplementedError

    def state(self) -> EngineState:
        raise NotImplementedError


def _crossing_total(
    levels: Iterator[tuple[float, float]], is_buy: bool, price: int, wanted: int
) -> int:
    """Sum (price, quantity) pairs of the opposite side that a limit at `price` reaches."""
    total = 0.0
    for level_price, quantity in levels:
        if (level_price <= price) if is_buy else (level_price >= price):
            total += quantity
            if total >= wanted:
                break
    return int(total)


def _side_state(trades: int, traded: float, bids: list[float], asks: list[float]) -> EngineState:
    return EngineState(trades, int(traded), len(bids), len(asks), int(sum(bids)), int(sum(asks)))


class PyOrderBook(Rival):
    """pyorderbook: heap of price levels, a dict per level, Decimal prices, uuid ids."""

    distribution = "pyorderbook"
    emulated = (
        "IOC: place, then cancel the rest",
        "FOK: depth check, then IOC",
        "reduce: resting quantity lowered in place",
        "move: cancel + place",
    )

    def __init__(self) -> None:
        super().__init__()
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        module = _import("pyorderbook")  # calls logging.basicConfig(INFO) on import: undo that
        root.handlers[:], root.level = handlers, level
        self._order_type = module.Order
        self._bid, self._ask = module.Side.BID, module.Side.ASK
        self._book = module.Book()

    def _submit(self, is_buy: bool, price: int, quantity: int) -> Any:  # noqa: ANN401
        order = self._order_type(self._bid if is_buy else self._ask, SYMBOL, price, quantity)
        blotter = self._book.match(order)
        trades = blotter.trades
        if trades:
            self.trades += len(trades)
            self.traded_quantity += quantity - order.quantity
        return order if order.quantity else None

    def _withdraw(self, handle: Any) -> None:  # noqa: ANN401
        self._book.cancel(handle)

    def _remaining(self, handle: Any) -> int:  # noqa: ANN401
        return int(handle.quantity)

    def _price(self, handle: Any) -> int:  # noqa: ANN401
        return int(handle.price)

    def _is_buy(self, handle: Any) -> bool:  # noqa: ANN401
        return bool(handle.side == self._bid)

    def _shrink(self, handle: Any, remaining: int) -> None:  # noqa: ANN401
        handle.quantity = remaining

    def _available(self, is_buy: bool, price: int, wanted: int) -> int:
        heap = self._book.levels[SYMBOL][self._ask if is_buy else self._bid]
        pairs = ((level.price, sum(o.quantity for o in level.orders.values())) for level in heap)
        return _crossing_total(pairs, is_buy, price, wanted)

    def state(self) -> EngineState:
        orders = list(self._book.order_map.values())
        bids = [o.quantity for o in orders if o.side == self._bid]
        asks = [o.quantity for o in orders if o.side == self._ask]
        return _side_state(self.trades, self.traded_quantity, bids, asks)


class OrderMatching(Rival):
    """order-matching: a list of orders per price, float prices, a timestamp sort per insert."""

    distribution = "order-matching"
    emulated = (
        "IOC: place, then cancel the rest",
        "FOK: depth check, then IOC",
        "reduce: resting size lowered in place",
        "move: cancel + place",
    )

    def __init__(self) -> None:
        super().__init__()
        _import("loguru").logger.disable("order_matching")
        engine = _import("order_matching.matching_engine")
        order = _import("order_matching.order")
        enums = _import("order_matching.enums")
        self._orders_type = _import("order_matching.orders").Orders
        self._limit_order = order.LimitOrder
        self._buy, self._sell = enums.Side.BUY, enums.Side.SELL
        self._engine = engine.MatchingEngine(seed=0)
        # Naive on purpose: the engine compares with its own naive `datetime.max` expirations.
        self._clock = dt.datetime(2024, 1, 1)  # noqa: DTZ001
        self._tick = dt.timedelta(microseconds=1)
        self._next_id = 0

    def _submit(self, is_buy: bool, price: int, quantity: int) -> Any:  # noqa: ANN401
        self._clock += self._tick
        self._next_id += 1
        order = self._limit_order(
            side=self._buy if is_buy else self._sell,
            price=float(price),
            size=float(quantity),
            timestamp=self._clock,
            order_id=str(self._next_id),
            trader_id="t",
        )
        self._engine.place(orders=self._orders_type([order]))
        trades = self._engine.match(timestamp=self._clock).trades
        if trades:
            self.trades += len(trades)
            self.traded_quantity += quantity - int(order.size)
        return order if order.size else None

    def _withdraw(self, handle: Any) -> None:  # noqa: ANN401
        self._engine.cancel_order(handle.order_id)

    def _remaining(self, handle: Any) -> int:  # noqa: ANN401
        return int(handle.size)

    def _price(self, handle: Any) -> int:  # noqa: ANN401
        return int(handle.price)

    def _is_buy(self, handle: Any) -> bool:  # noqa: ANN401
        return bool(handle.side == self._buy)

    def _shrink(self, handle: Any, remaining: int) -> None:  # noqa: ANN401
        handle.size = float(remaining)

    def _available(self, is_buy: bool, price: int, wanted: int) -> int:
        book = self._engine.unprocessed_orders
        levels = book.offers if is_buy else book.bids
        pairs = ((p, sum(o.size for o in orders)) for p, orders in levels.items())
        return _crossing_total(pairs, is_buy, price, wanted)

    def state(self) -> EngineState:
        book = self._engine.unprocessed_orders
        bids = [o.size for orders in book.bids.values() for o in orders if o.size]
        asks = [o.size for orders in book.offers.values() for o in orders if o.size]
        return _side_state(self.trades, self.traded_quantity, bids, asks)


class LightMatchingEngine(Rival):
    """lightmatchingengine: a dict of price -> list per side, best price by min()/max()."""

    distribution = "lightmatchingengine"
    emulated = (
        "IOC: place, then cancel the rest",
        "FOK: depth check, then IOC",
        "reduce: leaves quantity lowered in place",
        "move: cancel + place",
    )

    def __init__(self) -> None:
        super().__init__()
        module = _import("lightmatchingengine.lightmatchingengine")
        self._engine = module.LightMatchingEngine()
        self._buy, self._sell = module.Side.BUY, module.Side.SELL

    def _submit(self, is_buy: bool, price: int, quantity: int) -> Any:  # noqa: ANN401
        order, trades = self._engine.add_order(
            SYMBOL, price, quantity, self._buy if is_buy else self._sell
        )
        if trades:
            # Each match reports the aggressor's fill at that price, then one record per maker.
            own = order.order_id
            self.trades += sum(1 for trade in trades if trade.order_id != own)
            self.traded_quantity += order.cum_qty
        return order if order.leaves_qty else None

    def _withdraw(self, handle: Any) -> None:  # noqa: ANN401
        self._engine.cancel_order(handle.order_id, SYMBOL)

    def _remaining(self, handle: Any) -> int:  # noqa: ANN401
        return int(handle.leaves_qty)

    def _price(self, handle: Any) -> int:  # noqa: ANN401
        return int(handle.price)

    def _is_buy(self, handle: Any) -> bool:  # noqa: ANN401
        return bool(handle.side == self._buy)

    def _shrink(self, handle: Any, remaining: int) -> None:  # noqa: ANN401
        handle.leaves_qty = remaining

    def _available(self, is_buy: bool, price: int, wanted: int) -> int:
        book = self._engine.order_books.get(SYMBOL)
        if book is None:
            return 0
        levels = book.asks if is_buy else book.bids
        pairs = ((p, sum(o.leaves_qty for o in orders)) for p, orders in levels.items())
        return _crossing_total(pairs, is_buy, price, wanted)

    def state(self) -> EngineState:
        book = self._engine.order_books.get(SYMBOL)
        bids = [o.leaves_qty for level in book.bids.values() for o in level] if book else []
        asks = [o.leaves_qty for level in book.asks.values() for o in level] if book else []
        return _side_state(self.trades, self.traded_quantity, bids, asks)


class FastLob(Rival):
    """fastlob: SortedDict of limits, Decimal quantities, locks, a GTD-expiry thread."""

    distribution = "fastlob"
    emulated = (
        "IOC: place, then cancel the rest",
        "FOK: native (a FOK that does not cross at all is cancelled if it rests)",
        "reduce: native update (keeps priority)",
        "move: cancel + place",
    )

    def __init__(self) -> None:
        super().__init__()
        module = _import("fastlob")
        self._params = module.OrderParams
        self._bid, self._ask = module.OrderSide.BID, module.OrderSide.ASK
        self._gtc, self._fok = module.OrderType.GTC, module.OrderType.FOK
        self._in_limit = module.ResultType.in_limit
        self._lob = module.Orderbook("bench", start=True)

    def place(self, order_id: int, is_buy: bool, price: int, quantity: int, tif: int) -> None:
        lob = self._lob
        params = self._params(
            self._bid if is_buy else self._ask,
            price,
            quantity,
            self._fok if tif == FOK else self._gtc,
        )
        result = lob.process(params)
        if not result.success():
            return
        order = lob._orders[result.orderid()]
        # fastlob counts only the makers it fills whole; the traded quantity is exact.
        self.trades += result.n_orders_matched()
        self.traded_quantity += quantity - int(order.quantity())
        if self._in_limit(result.kind()):
            if tif == GTC:
                self._orders[order_id] = order
            else:
                lob.cancel(order.id())

    def _withdraw(self, handle: Any) -> None:  # noqa: ANN401
        self._lob.cancel(handle.id())

    def _remaining(self, handle: Any) -> int:  # noqa: ANN401
        return int(handle.quantity()) if handle.valid() else 0

    def _price(self, handle: Any) -> int:  # noqa: ANN401
        return int(handle.price())

    def _is_buy(self, handle: Any) -> bool:  # noqa: ANN401
        return bool(handle.side() == self._bid)

    def _shrink(self, handle: Any, remaining: int) -> None:  # noqa: ANN401
        self._lob.update(handle.id(), remaining)

    def close(self) -> None:
        if self._lob.is_running():
            self._lob.stop()

    def state(self) -> EngineState:
        # Read the price levels, not the order records: fastlob leaves makers it fills
        # whole marked as pending in its order records.
        lob = self._lob
        bids = [float(lim.volume()) for lim in lob._bidside._price2limits.values()]
        asks = [float(lim.volume()) for lim in lob._askside._price2limits.values()]
        bid_orders = sum(lim.valid_orders() for lim in lob._bidside._price2limits.values())
        ask_orders = sum(lim.valid_orders() for lim in lob._askside._price2limits.values())
        total = _side_state(self.trades, self.traded_quantity, bids, asks)
        return total._replace(bid_orders=bid_orders, ask_orders=ask_orders)


class Akhil4nOrderBook(Rival):
    """akhil4n-orderbook (module `orderbook`): SortedDict of levels, an OrderedDict per level."""

    distribution = "akhil4n-orderbook"
    emulated = (
        "IOC: place, then cancel the rest",
        "FOK: depth check, then IOC",
        "reduce: remaining quantity lowered in place",
        "move: cancel + place",
    )

    def __init__(self) -> None:
        super().__init__()
        module = _import("orderbook")
        if not hasattr(module, "OrderBook") or not hasattr(module, "OrderSide"):
            raise Unavailable("the module `orderbook` is not akhil4n-orderbook's")
        self._order_type = module.Order
        self._bid, self._ask = module.OrderSide.BID, module.OrderSide.ASK
        self._book = module.OrderBook()

    def _submit(self, is_buy: bool, price: int, quantity: int) -> Any:  # noqa: ANN401
        order = self._order_type(self._bid if is_buy else self._ask, price, quantity)
        self._book.add_limit_order(order)
        return order if order.remaining_quantity else None

    def _withdraw(self, handle: Any) -> None:  # noqa: ANN401
        self._book.cancel_order(handle.order_id)

    def _remaining(self, handle: Any) -> int:  # noqa: ANN401
        return int(handle.remaining_quantity) if handle.order_id in self._book.orders else 0

    def _price(self, handle: Any) -> int:  # noqa: ANN401
        return int(handle.price)

    def _is_buy(self, handle: Any) -> bool:  # noqa: ANN401
        return bool(handle.side == self._bid)

    def _shrink(self, handle: Any, remaining: int) -> None:  # noqa: ANN401
        level = self._book.orders[handle.order_id][0]
        level.total_quantity -= handle.remaining_quantity - remaining
        handle.remaining_quantity = remaining

    def _available(self, is_buy: bool, price: int, wanted: int) -> int:
        levels = self._book.asks if is_buy else self._book.bids
        pairs = (
            (p, sum(o.remaining_quantity for o in level.queue.values()))
            for p, level in levels.items()
        )
        return _crossing_total(pairs, is_buy, price, wanted)

    def state(self) -> EngineState:
        log = self._book.trade_log
        orders = [order for _, order in self._book.orders.values()]
        bids = [o.remaining_quantity for o in orders if o.side == self._bid]
        asks = [o.remaining_quantity for o in orders if o.side == self._ask]
        return _side_state(len(log), sum(t.quantity_filled for t in log), bids, asks)


class Manticore(Rival):
    """manticore-orderbook: dicts per order, sorted price lists, events, fees, an expiry thread."""

    distribution = "manticore-orderbook"
    emulated = (
        "IOC, FOK: native",
        "reduce: native modify_order(new_quantity)",
        "move: cancel + place (modify_order with a new price does not match a crossing order)",
    )

    def __init__(self) -> None:
        super().__init__()
        module = _import("manticore_orderbook")
        self._book = module.OrderBook(SYMBOL, enable_logging=False, max_trade_history=1)
        self._manager = self._book.book_manager
        self._next_id = 0
        self._tif = {GTC: "GTC", IOC: "IOC", FOK: "FOK"}

    def place(self, order_id: int, is_buy: bool, price: int, quantity: int, tif: int) -> None:
        self._next_id += 1
        key = str(self._next_id)
        side = "buy" if is_buy else "sell"
        self._book.add_order(
            side, float(price), float(quantity), order_id=key, time_in_force=self._tif[tif]
        )
        if tif == GTC:
            self._orders[order_id] = (key, is_buy, price)

    def _resting(self, handle: tuple[str, bool, int]) -> Any:  # noqa: ANN401
        key, is_buy, price = handle
        level = (self._manager._bids_at_price if is_buy else self._manager._asks_at_price).get(
            float(price)
        )
        return None if level is None else level.get(key)

    def _withdraw(self, handle: Any) -> None:  # noqa: ANN401
        self._book.cancel_order(handle[0])

    def _remaining(self, handle: Any) -> int:  # noqa: ANN401
        resting = self._resting(handle)
        return 0 if resting is None else int(resting["quantity"])

    def _price(self, handle: Any) -> int:  # noqa: ANN401
        return int(handle[2])

    def _is_buy(self, handle: Any) -> bool:  # noqa: ANN401
        return bool(handle[1])

    def _shrink(self, handle: Any, remaining: int) -> None:  # noqa: ANN401
        self._book.modify_order(handle[0], new_quantity=float(remaining))

    def close(self) -> None:
        self._book.expiry_manager.stop()

    def state(self) -> EngineState:
        stats = self._manager.get_statistics()
        bids = [
            o["quantity"] for level in self._manager._bids_at_price.values() for o in level.values()
        ]
        asks = [
            o["quantity"] for level in self._manager._asks_at_price.values() for o in level.values()
        ]
        return _side_state(stats["num_trades"], stats["total_volume"], bids, asks)


class Lobby(Rival):
    """lobby: PyLOB ported to Python 3, a red-black tree of price levels, linked lists of orders."""

    distribution = "lobby"
    emulated = (
        "IOC: place, then cancel the rest",
        "FOK: depth check, then IOC",
        "reduce: native modifyOrder with a lower quantity (keeps priority)",
        "move: cancel + place (modifyOrder with a new price does not match a crossing order)",
    )

    def __init__(self) -> None:
        super().__init__()
        self._book = _import("lobby.orderbook").OrderBook(price_digits=0)

    def _submit(self, is_buy: bool, price: int, quantity: int) -> Any:  # noqa: ANN401
        side = "bid" if is_buy else "ask"
        quote = {"type": "limit", "side": side, "qty": quantity, "price": price, "tid": 0}
        trades, resting = self._book.processOrder(quote, False, False)  # noqa: FBT003
        if trades:
            self.trades += len(trades)
            self.traded_quantity += sum(trade["qty"] for trade in trades)
        return None if resting is None else (side, resting["idNum"])

    def _tree(self, side: str) -> Any:  # noqa: ANN401
        return self._book.bids if side == "bid" else self._book.asks

    def _order(self, handle: tuple[str, int]) -> Any:  # noqa: ANN401
        return self._tree(handle[0]).orderMap.get(handle[1])

    def _withdraw(self, handle: Any) -> None:  # noqa: ANN401
        self._book.cancelOrder(handle[0], handle[1])

    def _remaining(self, handle: Any) -> int:  # noqa: ANN401
        order = self._order(handle)
        return 0 if order is None else int(order.qty)

    def _price(self, handle: Any) -> int:  # noqa: ANN401
        return int(self._order(handle).price)

    def _is_buy(self, handle: Any) -> bool:  # noqa: ANN401
        return bool(handle[0] == "bid")

    def _shrink(self, handle: Any, remaining: int) -> None:  # noqa: ANN401
        order = self._order(handle)
        update = {"side": handle[0], "price": order.price, "qty": remaining}
        self._book.modifyOrder(handle[1], update)

    def _available(self, is_buy: bool, price: int, wanted: int) -> int:
        tree = self._book.asks if is_buy else self._book.bids
        pairs = ((p, level.volume) for p, level in tree.priceMap.items())
        return _crossing_total(pairs, is_buy, price, wanted)

    def state(self) -> EngineState:
        bids = [o.qty for o in self._book.bids.orderMap.values()]
        asks = [o.qty for o in self._book.asks.orderMap.values()]
        return _side_state(self.trades, self.traded_quantity, bids, asks)


RIVALS: dict[str, type[Rival]] = {
    "pyorderbook": PyOrderBook,
    "order-matching": OrderMatching,
    "lightmatchingengine": LightMatchingEngine,
    "fastlob": FastLob,
    "akhil4n-orderbook": Akhil4nOrderBook,
    "manticore-orderbook": Manticore,
    "lobby": Lobby,
}
"""Every installable Python matching engine found on PyPI that really matches orders."""

SKIPPED: dict[str, str] = {
    "orderbook": "0.1.2 (2013) is Python 2 code (cStringIO, relative imports); lobby ports it",
    "pylob": "an aggregated level-2 book for market data: it does not match orders",
    "pyclob": "a binary-contract engine: prices must be 1-99 cents",
    "lob": "Lob's mail API client, not an order book",
    "lobpy": "limit-order-book data analytics (LOBSTER/ITCH), no matching engine",
    "matching-engine": "requires Python >= 3.12",
    "ordrbook": "a PyLOB fork with no cancel operation, on the unmaintained bintrees extension",
    "limit-order-book": "a C++ engine behind a Python binding, not a Python engine",
}
"""Candidates looked at and left out, with the reason."""


def create(name: str) -> Rival:
    """Instantiate one rival by its distribution name; raises Unavailable when it cannot run."""
    return RIVALS[name]()
