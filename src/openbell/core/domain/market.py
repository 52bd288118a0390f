"""One instrument's market: its book, price-time matching, and settlement of every fill.

Each fill settles inside the command that caused it, as linked transfers: the
buyer's held quote goes to the seller, the seller's held base to the buyer, and
both fees to the fee account. Holds track exactly what each order still needs
(`Instrument.buy_cost` of the remaining quantity for a buy, the remaining base
for a sell); any excess, from price improvement or a lower fee, is released at
once, so an account's held balance always equals what its open orders require.

Fees never get cheaper by splitting an order: after each fill, an order has paid
its fills' exact fee (notional x bps / 10,000, summed) rounded up, in the venue's
favour. Each fill charges the difference from what the order paid before, and the
part paid ahead (`Order.fee_credit`) is carried to its next fill, so any split of
an order into fills of one role pays exactly what a single fill would.
"""

from heapq import heappop
from typing import Any, Final

from openbell.contracts.enums import (
    CancelReason,
    InstrumentStatus,
    OrderStatus,
    RejectReason,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from openbell.contracts.events import Event, OrderAmended, OrderCancelled, TradeExecuted
from openbell.core.domain.book import Book, BookSide, Level, Order
from openbell.core.domain.instruments import BPS, Instrument
from openbell.core.domain.ledger import Balance
from openbell.shared.ids import OrderId, SequenceNumber, TradeId
from openbell.shared.money import Amount, Price, Quantity
from openbell.shared.time import Timestamp

_new: Final[Any] = tuple.__new__
BUY: Final = Side.BUY
FILLED: Final = OrderStatus.FILLED
PARTIALLY_FILLED: Final = OrderStatus.PARTIALLY_FILLED
CANCELLED: Final = OrderStatus.CANCELLED
CANCEL_TAKER: Final = SelfTradePrevention.CANCEL_TAKER
CANCEL_BOTH: Final = SelfTradePrevention.CANCEL_BOTH
GTC: Final = TimeInForce.GTC
HALTED: Final = InstrumentStatus.HALTED
REQUESTED: Final = CancelReason.REQUESTED


class Counter:
    """Ids handed out in command order, shared by every market so trade ids are global.

    The counters are plain ints; the ids taken from them are typed where they are taken.
    """

    __slots__ = ("next_order_id", "next_trade_id")

    def __init__(self) -> None:
        self.next_order_id = 1
        self.next_trade_id = 1


class Market:
    """An instrument with its book; matches and settles orders handed to it by the exchange."""

    __slots__ = ("book", "counter", "fee_balance", "instrument", "open_orders")

    def __init__(
        self,
        instrument: Instrument,
        counter: Counter,
        open_orders: dict[OrderId, Order],
        fee_balance: Balance,
    ) -> None:
        self.instrument = instrument
        self.book = Book(instrument.symbol)
        self.counter = counter
        self.open_orders = open_orders
        self.fee_balance = fee_balance

    def crosses(self, side: Side, price: Price) -> bool:
        """Whether an order at `price` would trade at once against the best opposite level."""
        best = self.book.opposite_of(side).best()
        if best is None:
            return False
        return best.price <= price if side is BUY else best.price >= price

    def fillable(self, order: Order) -> bool:
        """Whether the opposite side can fill all of `order` now (for fill-or-kill)."""
        needed: int = order.remaining
        account_id, is_buy, limit = order.account_id, order.side is BUY, order.price
        stops_at_self = order.self_trade_prevention is not SelfTradePrevention.CANCEL_MAKER
        for level in self.book.opposite_of(order.side).iter_levels():
            if (level.price > limit) if is_buy else (level.price < limit):
                return False
            for maker in level.orders():
                if maker.account_id == account_id:
                    if stops_at_self:
                        return False
                    continue
                needed -= maker.remaining
                if needed <= 0:
                    return True
        return False

    def execute(
        self, taker: Order, events: list[Event], timestamp: Timestamp, sequence: SequenceNumber
    ) -> None:
        """Match a held, accepted order; rest what is left if it may rest, else cancel it."""
        book = self.book
        is_buy = taker.side is BUY
        best = (book.asks if is_buy else book.bids).best()
        stopped = False
        if best is not None and (
            best.price <= taker.price if is_buy else best.price >= taker.price
        ):
            stopped = self.match(taker, events, timestamp)
        if taker.remaining:
            if taker.time_in_force is GTC and not stopped:
                self.open_orders[taker.order_id] = taker
                (book.bids if is_buy else book.asks).add(taker)
            else:
                reason = CancelReason.SELF_TRADE if stopped else CancelReason.UNFILLED_IOC
                self.finish(taker, taker.remaining, reason, events, timestamp)
        book.sequence = sequence

    def cancel(
        self,
        order: Order,
        events: list[Event],
        timestamp: Timestamp,
        sequence: SequenceNumber,
        reason: CancelReason = REQUESTED,
    ) -> None:
        """Take a resting order off the book and void its hold."""
        self.book.side_of(order.side).remove(order)
        del self.open_orders[order.order_id]
        self.finish(order, order.remaining, reason, events, timestamp)
        self.book.sequence = sequence

    def finish(
        self,
        order: Order,
        remaining: Quantity,
        reason: CancelReason,
        events: list[Event],
        timestamp: Timestamp,
    ) -> None:
        """Cancel the `remaining` of an order that is not, or no longer, on the book."""
        release(order, Amount(0))
        order.remaining = Quantity(0)
        order.status = CANCELLED
        order.reason = reason.value
        order.updated_at = timestamp
        events.append(
            _new(
                OrderCancelled,
                (order.order_id, order.account_id, order.symbol, order.side, remaining, reason),
            )
        )

    def amend(  # noqa: PLR0911
        self,
        order: Order,
        quantity: Quantity | None,
        price: Price | None,
        events: list[Event],
        timestamp: Timestamp,
        sequence: SequenceNumber,
    ) -> RejectReason | None:
        """Change a resting order's total quantity and/or price, or say why not.

        A lower quantity at the same price keeps the order's place in its queue; a
        higher quantity or a new price requeues it at the back, and a new price that
        crosses matches at once, as a fresh order would. A quantity at or below the
        filled quantity is refused here; the exchange cancels the remainder instead.
        """
        instrument = self.instrument
        old_quantity, old_price = order.quantity, order.price
        new_quantity = old_quantity if quantity is None else quantity
        new_price = old_price if price is None else price
        reprice = new_price != old_price
        if (new_quantity == old_quantity and not reprice) or new_quantity <= order.filled:
            return RejectReason.INVALID_AMENDMENT
        if instrument.status is HALTED and (reprice or new_quantity > old_quantity):
            return RejectReason.MARKET_HALTED
        if new_quantity > instrument.max_quantity:
            return RejectReason.QUANTITY_OUT_OF_RANGE
        if reprice and not instrument.band_low <= new_price <= instrument.band_high:
            return RejectReason.PRICE_OUT_OF_BAND
        remaining = Quantity(new_quantity - order.filled)
        is_buy = order.side is BUY
        if is_buy:  # instrument.buy_cost, inlined: amends are most of the traffic
            notional = new_price * remaining * instrument.quote_per_tick_lot
            cost = Amount(notional - (order.fee_credit - notional * instrument.hold_fee_bps) // BPS)
        else:
            cost = Amount(remaining * instrument.base_per_lot)
        balance = order.hold_balance
        extra = cost - order.held
        if extra > balance.available:
            return RejectReason.INSUFFICIENT_FUNDS
        if reprice and order.post_only and self.crosses(order.side, new_price):
            return RejectReason.POST_ONLY_WOULD_CROSS
        book = self.book
        side = book.bids if is_buy else book.asks
        if not reprice and new_quantity < old_quantity:
            level = side.levels[old_price]
            level.quantity = Quantity(level.quantity - (order.remaining - remaining))
            order.remaining, order.quantity, order.updated_at = remaining, new_quantity, timestamp
            release(order, cost)
            events.append(
                _new(
                    OrderAmended,
                    (
                        order.order_id,
                        order.account_id,
                        order.symbol,
                        order.side,
                        old_price,
                        new_quantity,
                        True,
                    ),
                )
            )
            book.sequence = sequence
            return None
        side.remove(order)
        order.remaining, order.quantity, order.price, order.updated_at = (
            remaining,
            new_quantity,
            new_price,
            timestamp,
        )
        balance.available = Amount(balance.available - extra)
        balance.held = Amount(balance.held + extra)
        order.held = cost
        events.append(
            _new(
                OrderAmended,
                (
                    order.order_id,
                    order.account_id,
                    order.symbol,
                    order.side,
                    new_price,
                    new_quantity,
                    False,
                ),
            )
        )
        if reprice and self.crosses(order.side, new_price):
            del self.open_orders[order.order_id]
            self.execute(order, events, timestamp, sequence)
        else:
            side.add(order)
            book.sequence = sequence
        return None

    def match(self, taker: Order, events: list[Event], timestamp: Timestamp) -> bool:  # noqa: C901, PLR0912, PLR0915
        """Trade `taker` against the opposite side, best price first, oldest first.

        Returns True when self-trade prevention stopped the taker. This loop is the
        core's hot path: it keeps everything in locals and inlines the transfers.
        """
        instrument = self.instrument
        is_buy = taker.side is BUY
        opposite: BookSide = self.book.asks if is_buy else self.book.bids
        limit, taker_account = taker.price, taker.account_id
        remaining: int = taker.remaining
        quote_per_tick_lot, base_per_lot = instrument.quote_per_tick_lot, instrument.base_per_lot
        maker_bps, taker_bps = instrument.maker_fee_bps, instrument.taker_fee_bps
        hold_bps = instrument.hold_fee_bps
        fee_balance, counter, open_orders = self.fee_balance, self.counter, self.open_orders
        symbol, taker_side, taker_id = instrument.symbol, taker.side, taker.order_id
        taker_hold, taker_receive = taker.hold_balance, taker.receive_balance
        taker_credit: int = taker.fee_credit
        heap, levels, sign = opposite.heap, opposite.levels, opposite.sign
        stopped = False
        while remaining and heap:
            level: Level | None = levels.get(Price(heap[0] * sign))
            if level is None:
                opposite.in_heap.discard(heappop(heap))
                continue
            price = level.price
            if (price > limit) if is_buy else (price < limit):
                break
            while remaining and level.quantity:
                maker: Order = level.head  # type: ignore[assignment]  # non-empty level
                maker_remaining: int = maker.remaining
                if maker.account_id == taker_account:
                    mode = taker.self_trade_prevention
                    if mode is CANCEL_TAKER:
                        stopped = True
                        break
                    level.pop_head(maker)
                    level.quantity = Quantity(level.quantity - maker_remaining)
                    del open_orders[maker.order_id]
                    self.finish(
                        maker, Quantity(maker_remaining), CancelReason.SELF_TRADE, events, timestamp
                    )
                    if mode is CANCEL_BOTH:
                        stopped = True
                        break
                    continue
                fill = min(maker_remaining, remaining)
                notional = price * fill * quote_per_tick_lot
                base_amount = fill * base_per_lot
                # Each fee is what the fill owes less the credit its order carries from
                # earlier fills, rounded up: with `ahead` = credit - owed, the fee is
                # -floor(ahead / BPS), and what it pays ahead becomes the new credit
                # (ahead mod BPS, by a multiplication rather than a second division).
                ahead = maker.fee_credit - notional * maker_bps
                maker_fee = -(ahead // BPS)
                maker.fee_credit = ahead + maker_fee * BPS
                ahead = taker_credit - notional * taker_bps
                taker_fee = -(ahead // BPS)
                taker_credit = ahead + taker_fee * BPS
                maker_hold = maker.hold_balance
                maker_receive = maker.receive_balance
                # Amount(...) and Quantity(...) only tell mypy the unit of a sum: the
                # compiled core drops the call.
                if is_buy:
                    spent = notional + taker_fee
                    taker.held = Amount(taker.held - spent)
                    taker_hold.held = Amount(taker_hold.held - spent)
                    maker_receive.available = Amount(maker_receive.available + notional - maker_fee)
                    maker.held = Amount(maker.held - base_amount)
                    maker_hold.held = Amount(maker_hold.held - base_amount)
                    taker_receive.available = Amount(taker_receive.available + base_amount)
                else:
                    spent = notional + maker_fee
                    maker_hold.held = Amount(maker_hold.held - spent)
                    taker_receive.available = Amount(taker_receive.available + notional - taker_fee)
                    taker.held = Amount(taker.held - base_amount)
                    taker_hold.held = Amount(taker_hold.held - base_amount)
                    maker_receive.available = Amount(maker_receive.available + base_amount)
                    maker_remaining_notional = maker.price * (maker_remaining - fill)
                    maker_remaining_notional *= quote_per_tick_lot
                    excess = (
                        maker.held
                        - spent
                        - maker_remaining_notional
                        + (maker.fee_credit - maker_remaining_notional * hold_bps) // BPS
                    )
                    maker.held = Amount(maker.held - spent - excess)
                    maker_hold.held = Amount(maker_hold.held - excess)
                    maker_hold.available = Amount(maker_hold.available + excess)
                fee_balance.available = Amount(fee_balance.available + maker_fee + taker_fee)
                remaining -= fill
                level.quantity = Quantity(level.quantity - fill)
                maker_remaining -= fill
                maker.remaining = Quantity(maker_remaining)
                maker.filled = Quantity(maker.filled + fill)
                maker.filled_amount = Amount(maker.filled_amount + notional)
                maker.fees_paid = Amount(maker.fees_paid + maker_fee)
                maker.updated_at = timestamp
                taker.filled = Quantity(taker.filled + fill)
                taker.filled_amount = Amount(taker.filled_amount + notional)
                taker.fees_paid = Amount(taker.fees_paid + taker_fee)
                if maker_remaining:
                    maker.status = PARTIALLY_FILLED
                else:
                    maker.status = FILLED
                    level.pop_head(maker)
                    del open_orders[maker.order_id]
                trade_id = TradeId(counter.next_trade_id)
                counter.next_trade_id = trade_id + 1
                events.append(
                    _new(
                        TradeExecuted,
                        (
                            trade_id,
                            symbol,
                            price,
                            fill,
                            notional,
                            taker_side,
                            maker.order_id,
                            maker.account_id,
                            maker_fee,
                            taker_id,
                            taker_account,
                            taker_fee,
                        ),
                    )
                )
            if not level.quantity:
                opposite.drop_best()
            if stopped:
                break
        taker.remaining = Quantity(remaining)
        taker.fee_credit = taker_credit
        if taker.filled:
            taker.updated_at = timestamp
            taker.status = PARTIALLY_FILLED if remaining else FILLED
            if is_buy:
                release(taker, instrument.buy_cost(limit, Quantity(remaining), taker_credit))
        return stopped


def release(order: Order, keep: Amount) -> None:
    """Void the part of an order's hold beyond `keep`, back to available."""
    excess = order.held - keep
    if excess:
        balance = order.hold_balance
        balance.held = Amount(balance.held - excess)
        balance.available = Amount(balance.available + excess)
        order.held = keep
