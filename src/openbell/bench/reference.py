"""The baseline the engine benchmark measures against: a bare price-time limit order book.

About sixty lines of ordinary Python and nothing else: a heap of prices per side,
a FIFO deque of orders per price, a dict from order id to order. No accounts,
balances, risk checks, fees, events or validation. It is written to be fast,
not to be beaten: integer prices and quantities, `__slots__`, no per-order dicts.
Cancelling removes the order from its level's deque at once (levels stay short);
a level left empty keeps its heap entry until it reaches the top of the heap.

It ships in the wheel, unlike the rival engines' adapters (`benchmarks/` in the
source tree): it is the yardstick of `openbell bench engine` and `bench
instructions`, which a user runs against their own installed openbell, and the
workload generator simulates the book on it. It depends on nothing but the
standard library, so it costs the wheel no dependency.
"""

from collections import deque
from heapq import heappop, heappush

GTC, IOC, FOK = 0, 1, 2


class RestingOrder:
    __slots__ = ("is_buy", "order_id", "price", "quantity")

    def __init__(self, order_id: int, is_buy: bool, price: int, quantity: int) -> None:
        self.order_id, self.is_buy, self.price, self.quantity = order_id, is_buy, price, quantity


class ReferenceBook:
    """Price-time priority; GTC, IOC and FOK limit orders; cancel, reduce, move."""

    __slots__ = (
        "_ask_heap",
        "_asks",
        "_bid_heap",
        "_bids",
        "_orders",
        "last_price",
        "traded_quantity",
        "trades",
    )

    def __init__(self) -> None:
        self._bid_heap: list[int] = []  # negated prices: heapq is a min-heap
        self._ask_heap: list[int] = []
        self._bids: dict[int, deque[RestingOrder]] = {}
        self._asks: dict[int, deque[RestingOrder]] = {}
        self._orders: dict[int, RestingOrder] = {}
        self.trades = self.traded_quantity = self.last_price = 0

    def place(self, order_id: int, is_buy: bool, price: int, quantity: int, tif: int) -> None:
        if tif == FOK and self._available(is_buy, price, quantity) < quantity:
            return
        quantity = self._match(is_buy, price, quantity)
        if quantity and tif == GTC:
            order = self._orders[order_id] = RestingOrder(order_id, is_buy, price, quantity)
            levels = self._bids if is_buy else self._asks
            level = levels.get(price)
            if level is None:
                level = levels[price] = deque()
                heappush(self._bid_heap if is_buy else self._ask_heap, -price if is_buy else price)
            level.append(order)

    def cancel(self, order_id: int) -> None:
        order = self._orders.pop(order_id, None)
        if order is not None:
            (self._bids if order.is_buy else self._asks)[order.price].remove(order)

    def reduce(self, order_id: int, quantity: int) -> None:
        """Reduce by `quantity` lots, keeping time priority; reducing it all away cancels."""
        order = self._orders.get(order_id)
        if order is not None:
            if order.quantity > quantity:
                order.quantity -= quantity
            else:
                self.cancel(order_id)

    def move(self, order_id: int, price: int) -> None:
        """Cancel and re-place the remaining quantity at `price`: time priority is lost."""
        order = self._orders.get(order_id)
        if order is not None and order.price != price:
            self.cancel(order_id)
            self.place(order_id, order.is_buy, price, order.quantity, GTC)

    def _match(self, is_buy: bool, price: int, quantity: int) -> int:
        heap, levels, sign = (
            (self._ask_heap, self._asks, 1) if is_buy else (self._bid_heap, self._bids, -1)
        )
        orders = self._orders
        wanted = quantity
        fills = last = 0
        while quantity and heap:
            best = heap[0] * sign
            if (best > price) if is_buy else (best < price):
                break
            level = levels[best]
            while quantity and level:
                maker = level[0]
                fills += 1
                last = best
                if maker.quantity > quantity:
                    maker.quantity -= quantity
                    quantity = 0
                else:
                    quantity -= maker.quantity
                    level.popleft()
                    del orders[maker.order_id]
            if not level:
                heappop(heap)
                del levels[best]
        if fills:
            self.trades += fills
            self.traded_quantity += wanted - quantity
            self.last_price = last
        return quantity

    def _available(self, is_buy: bool, price: int, wanted: int) -> int:
        total = 0
        for level_price, level in (self._asks if is_buy else self._bids).items():
            if (level_price <= price) if is_buy else (level_price >= price):
                total += sum(order.quantity for order in level)
                if total >= wanted:
                    break
        return total

    # --- inspection, outside any timed loop ---------------------------------------

    def resting(self, order_id: int) -> RestingOrder | None:
        return self._orders.get(order_id)

    def depth(self) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """(price, quantity, orders) per non-empty level, best first: bids, then asks."""
        bids = [
            (p, sum(o.quantity for o in q), len(q))
            for p, q in sorted(self._bids.items(), reverse=True)
            if q
        ]
        asks = [(p, sum(o.quantity for o in q), len(q)) for p, q in sorted(self._asks.items()) if q]
        return bids, asks

    def order_counts(self) -> tuple[int, int]:
        return sum(map(len, self._bids.values())), sum(map(len, self._asks.values()))
