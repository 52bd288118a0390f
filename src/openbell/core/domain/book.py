"""Orders and the order book: price levels in heaps, each level a FIFO queue.

Best-price access is O(1) and adding a new price level O(log levels). Each level
is a doubly linked list threaded through its orders, so joining the back of a
queue, leaving it from anywhere (cancel, amend) and taking the front (a fill)
are all O(1), and an order keeps its identity however often it is amended.
"""

import heapq
from collections.abc import Iterator
from typing import Final

from openbell.contracts.enums import (
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from openbell.core.domain.ledger import NO_AMOUNT, Balance
from openbell.shared.ids import AccountId, ClientOrderId, OrderId, SequenceNumber, Symbol
from openbell.shared.money import Price, Quantity
from openbell.shared.time import Timestamp

# Enum members as module constants: the compiled core reads these as C statics.
BUY: Final = Side.BUY
NEW: Final = OrderStatus.NEW
NO_QUANTITY: Final = Quantity(0)


class Order:
    """An order while the core holds it: quantities in lots, prices in ticks."""

    __slots__ = (
        "account_id",
        "client_order_id",
        "created_at",
        "fee_credit",
        "fees_paid",
        "filled",
        "filled_amount",
        "held",
        "hold_balance",
        "next_order",
        "order_id",
        "order_type",
        "original_quantity",
        "post_only",
        "previous_order",
        "price",
        "quantity",
        "reason",
        "receive_balance",
        "remaining",
        "self_trade_prevention",
        "side",
        "status",
        "symbol",
        "time_in_force",
        "updated_at",
    )

    def __init__(
        self,
        order_id: OrderId,
        account_id: AccountId,
        client_order_id: ClientOrderId,
        symbol: Symbol,
        side: Side,
        order_type: OrderType,
        price: Price,
        quantity: Quantity,
        time_in_force: TimeInForce,
        post_only: bool,
        self_trade_prevention: SelfTradePrevention,
        timestamp: Timestamp,
        balances: tuple[Balance, Balance],
    ) -> None:
        self.order_id = order_id
        self.account_id = account_id
        self.client_order_id = client_order_id
        self.symbol = symbol
        self.side = side
        self.order_type = order_type
        self.price = price
        """The limit price; for a market order, the band edge it may not trade beyond."""
        self.quantity = quantity
        """The order's total quantity, filled part included, after any amends."""
        self.original_quantity = quantity
        """The quantity it was placed with, which amends leave alone."""
        self.remaining = quantity
        """Quantity still resting or still to match; zero once the order is done."""
        self.filled = NO_QUANTITY
        self.filled_amount = NO_AMOUNT
        self.fees_paid = NO_AMOUNT
        self.fee_credit = 0
        """Fees paid ahead of what the fills owe, in 1/10,000 of a minor unit: each fill's
        fee is rounded up and the excess carried to the next, so that `fees_paid` is
        always the fills' exact fee total rounded up. Always below 10,000."""
        self.time_in_force = time_in_force
        self.post_only = post_only
        self.self_trade_prevention = self_trade_prevention
        self.created_at = timestamp
        self.updated_at = timestamp
        self.status = NEW
        self.reason: str | None = None
        self.held = NO_AMOUNT
        """What this order still holds, in the hold asset's minor units."""
        self.hold_balance, self.receive_balance = balances
        """The balances its hold sits in (quote for a buy, base for a sell) and its fills
        credit (base for a buy, quote for a sell)."""
        self.previous_order: Order | None = None
        self.next_order: Order | None = None


class Level:
    """The orders resting at one price, oldest first, and their total remaining quantity."""

    __slots__ = ("head", "price", "quantity", "tail")

    def __init__(self, price: Price) -> None:
        self.price = price
        self.head: Order | None = None
        self.tail: Order | None = None
        self.quantity = NO_QUANTITY

    def orders(self) -> Iterator[Order]:
        order = self.head
        while order is not None:
            yield order
            order = order.next_order

    def pop_head(self, head: Order) -> None:
        """Unlink `head`, which must be the first order of this level."""
        following = head.next_order
        self.head = following
        if following is None:
            self.tail = None
        else:
            following.previous_order = None
        head.next_order = None


class BookSide:
    """One side of a book. Heap keys are prices for asks and negated prices for bids."""

    __slots__ = ("heap", "in_heap", "levels", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.levels: dict[Price, Level] = {}
        self.heap: list[int] = []
        self.in_heap: set[int] = set()

    def add(self, order: Order) -> None:
        price = order.price
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = Level(price)
            key = price * self.sign
            if key not in self.in_heap:
                self.in_heap.add(key)
                heapq.heappush(self.heap, key)
        tail = level.tail
        order.previous_order = tail
        order.next_order = None
        if tail is None:
            level.head = order
        else:
            tail.next_order = order
        level.tail = order
        level.quantity = Quantity(level.quantity + order.remaining)

    def remove(self, order: Order) -> None:
        """Take a resting order out of its queue; its fields are left as they are."""
        level = self.levels[order.price]
        previous, following = order.previous_order, order.next_order
        if previous is None:
            level.head = following
        else:
            previous.next_order = following
        if following is None:
            level.tail = previous
        else:
            following.previous_order = previous
        order.previous_order = order.next_order = None
        level.quantity = Quantity(level.quantity - order.remaining)
        if level.head is None:
            del self.levels[order.price]

    def best(self) -> Level | None:
        """The best live level, dropping stale heap entries on the way."""
        heap, levels = self.heap, self.levels
        while heap:
            level = levels.get(Price(heap[0] * self.sign))
            if level is not None:
                return level
            self.in_heap.discard(heapq.heappop(heap))
        return None

    def drop_best(self) -> None:
        """Forget the best level after it has been emptied by matching."""
        key = heapq.heappop(self.heap)
        self.in_heap.discard(key)
        del self.levels[Price(key * self.sign)]

    def iter_levels(self) -> Iterator[Level]:
        """Live levels best first, without disturbing the heap: O(k log k) for the first k."""
        heap, levels, sign = self.heap, self.levels, self.sign
        if not heap:
            return
        frontier = [(heap[0], 0)]
        size = len(heap)
        while frontier:
            key, index = heapq.heappop(frontier)
            level = levels.get(Price(key * sign))
            if level is not None:
                yield level
            for child in (2 * index + 1, 2 * index + 2):
                if child < size:
                    heapq.heappush(frontier, (heap[child], child))

    def depth(self, limit: int) -> list[tuple[Price, Quantity]]:
        result: list[tuple[Price, Quantity]] = []
        for level in self.iter_levels():
            if len(result) >= limit:
                break
            result.append((level.price, level.quantity))
        return result

    def resting(self) -> Iterator[Order]:
        """Every live order, levels best first and each level oldest first."""
        for level in self.iter_levels():
            yield from level.orders()


class Book:
    """Both sides of one instrument's book, and the sequence of the last command that changed it."""

    __slots__ = ("asks", "bids", "sequence", "symbol")

    def __init__(self, symbol: Symbol) -> None:
        self.symbol = symbol
        self.bids = BookSide(-1)
        self.asks = BookSide(1)
        self.sequence = SequenceNumber(0)

    def side_of(self, side: Side) -> BookSide:
        return self.bids if side is BUY else self.asks

    def opposite_of(self, side: Side) -> BookSide:
        return self.asks if side is BUY else self.bids
