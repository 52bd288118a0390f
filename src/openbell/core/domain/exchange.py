"""The exchange: the core's whole state and the one function that changes it.

`Exchange.apply` takes a command already stamped with its sequence number and
time and returns its outcome. It reads no clock, draws no random number and does
no I/O, so the same commands always produce the same events and the same state.
"""

from collections.abc import Callable
from typing import Any, Final

from openbell.contracts.commands import (
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    Command,
    DefineAsset,
    Deposit,
    HaltMarket,
    ListInstrument,
    OpenAccount,
    PlaceOrder,
    ResumeMarket,
    SetReferencePrice,
)
from openbell.contracts.enums import (
    CancelReason,
    InstrumentStatus,
    OrderStatus,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)
from openbell.contracts.events import (
    AccountOpened,
    AssetDefined,
    Event,
    FundsDeposited,
    InstrumentListed,
    MarketHalted,
    MarketResumed,
    OrderAccepted,
    OrderRejected,
    ReferencePriceSet,
)
from openbell.contracts.results import (
    AccountView,
    BalanceView,
    BookView,
    Done,
    DuplicateOrder,
    InstrumentView,
    OrdersCancelled,
    OrderView,
    Outcome,
    Rejected,
    Result,
)
from openbell.core.domain.book import Order
from openbell.core.domain.instruments import MAX_SCALE, Instrument, InstrumentError
from openbell.core.domain.ledger import CLEARING_ACCOUNT, FEE_ACCOUNT, Ledger
from openbell.core.domain.market import Counter, Market
from openbell.shared.ids import (
    AccountId,
    Asset,
    ClientOrderId,
    OrderId,
    PaymentReference,
    SequenceNumber,
    Symbol,
)
from openbell.shared.money import Amount, Quantity
from openbell.shared.time import Timestamp

_new: Final[Any] = tuple.__new__
BUY: Final = Side.BUY
LIMIT: Final = OrderType.LIMIT
GTC: Final = TimeInForce.GTC
FOK: Final = TimeInForce.FOK
UNFILLED_FOK: Final = CancelReason.UNFILLED_FOK
AMENDED_BELOW_FILLED: Final = CancelReason.AMENDED_BELOW_FILLED
INVALID_AMENDMENT: Final = RejectReason.INVALID_AMENDMENT
HALTED: Final = InstrumentStatus.HALTED
DONE: Final = Done()

Handler = Callable[[Any, Timestamp, list[Event]], Result]


class SequenceError(Exception):
    """A command arrived out of sequence: the journal or the caller is broken."""


class Exchange:
    """Accounts, instruments and books, changed only by `apply`."""

    def __init__(self) -> None:
        self.sequence = SequenceNumber(0)
        self.ledger = Ledger()
        self.assets: dict[Asset, int] = {}
        """Each asset's scale: the number of decimal places of its minor unit."""
        self.markets: dict[Symbol, Market] = {}
        self.open_orders: dict[OrderId, Order] = {}
        self.client_order_ids: dict[tuple[AccountId, ClientOrderId], OrderId] = {}
        self.deposits: dict[PaymentReference, tuple[AccountId, Asset, Amount]] = {}
        self.counter = Counter()
        self.halted = False
        self.halt_reason = ""
        # The order commands are dispatched directly in `apply`; this table holds the rest.
        self._handlers: dict[type, Handler] = {
            Deposit: self._deposit,
            OpenAccount: self._open_account,
            DefineAsset: self._define_asset,
            ListInstrument: self._list_instrument,
            SetReferencePrice: self._set_reference_price,
            HaltMarket: self._halt_market,
            ResumeMarket: self._resume_market,
            CancelAllOrders: self._cancel_all_orders,
        }

    def apply(self, command: Command, sequence: SequenceNumber, timestamp: Timestamp) -> Outcome:
        """Apply one sequenced command and return what it did."""
        if sequence != self.sequence + 1:
            raise SequenceError(f"expected sequence {self.sequence + 1}, got {sequence}")
        self.sequence = sequence
        events: list[Event] = []
        # The order commands are nearly all the traffic: direct calls, which the compiled
        # core turns into C calls; the rest go through the handler table.
        if type(command) is PlaceOrder:
            result = self._place_order(command, timestamp, events)
        elif type(command) is AmendOrder:
            result = self._amend_order(command, timestamp, events)
        elif type(command) is CancelOrder:
            result = self._cancel_order(command, timestamp, events)
        else:
            result = self._handlers[type(command)](command, timestamp, events)
        outcome: Outcome = _new(Outcome, (sequence, timestamp, command, result, events))
        return outcome

    # --- orders -----------------------------------------------------------------

    def _place_order(
        self, command: PlaceOrder, timestamp: Timestamp, events: list[Event]
    ) -> Result:
        key = (command.account_id, command.client_order_id)
        existing = self.client_order_ids.get(key)
        if existing is not None:
            resting = self.open_orders.get(existing)
            return DuplicateOrder(existing, order_view(resting) if resting else None)
        counter = self.counter
        order_id = OrderId(counter.next_order_id)
        counter.next_order_id = order_id + 1
        market = self.markets.get(command.symbol)
        reason = self._check_order(command, market)
        if reason is not None or market is None:
            return _reject(
                command, order_id, reason or RejectReason.UNKNOWN_SYMBOL, timestamp, events
            )
        instrument = market.instrument
        is_buy = command.side is BUY
        price = command.price
        if price is None:
            price = instrument.band_high if is_buy else instrument.band_low
        quantity = command.quantity
        ledger = self.ledger
        quote_balance = ledger.balance(command.account_id, instrument.quote_asset)
        base_balance = ledger.balance(command.account_id, instrument.base_asset)
        if is_buy:
            cost = instrument.buy_cost(price, quantity)
            hold, receive = quote_balance, base_balance
        else:
            cost = Amount(quantity * instrument.base_per_lot)
            hold, receive = base_balance, quote_balance
        order = Order(
            order_id,
            command.account_id,
            command.client_order_id,
            command.symbol,
            command.side,
            command.order_type,
            price,
            quantity,
            command.time_in_force,
            command.post_only,
            command.self_trade_prevention,
            timestamp,
            (hold, receive),
        )
        reason = _pre_trade_check(market, order, hold.available, cost)
        if reason is not None:
            return _reject(command, order_id, reason, timestamp, events)
        hold.available = Amount(hold.available - cost)
        hold.held = Amount(hold.held + cost)
        order.held = cost
        self.client_order_ids[key] = order_id
        # Concatenation, not unpacking: the compiled core joins two tuples without a list.
        events.append(_new(OrderAccepted, (order_id,) + command))  # noqa: RUF005
        if order.time_in_force is FOK and not market.fillable(order):
            market.finish(order, quantity, UNFILLED_FOK, events, timestamp)
        else:
            market.execute(order, events, timestamp, self.sequence)
        return order_view(order)

    def _check_order(self, command: PlaceOrder, market: Market | None) -> RejectReason | None:  # noqa: PLR0911
        """The static checks: everything that does not depend on balances or the book."""
        if market is None:
            return RejectReason.UNKNOWN_SYMBOL
        if command.account_id <= 0 or not self.ledger.has_account(command.account_id):
            return RejectReason.UNKNOWN_ACCOUNT
        instrument = market.instrument
        if self.halted or instrument.status is HALTED:
            return RejectReason.MARKET_HALTED
        if command.order_type is LIMIT:
            if command.price is None:
                return RejectReason.INVALID_ORDER
        elif command.price is not None or command.time_in_force is GTC:
            return RejectReason.INVALID_ORDER
        if command.post_only and (
            command.time_in_force is not GTC or command.order_type is not LIMIT
        ):
            return RejectReason.INVALID_ORDER
        if not instrument.min_quantity <= command.quantity <= instrument.max_quantity:
            return RejectReason.QUANTITY_OUT_OF_RANGE
        price = command.price
        if price is not None and not instrument.band_low <= price <= instrument.band_high:
            return RejectReason.PRICE_OUT_OF_BAND
        return None

    def _cancel_order(
        self, command: CancelOrder, timestamp: Timestamp, events: list[Event]
    ) -> Result:
        order = self.open_orders.get(command.order_id)
        if order is None or order.account_id != command.account_id:
            return Rejected(RejectReason.UNKNOWN_ORDER)
        self.markets[order.symbol].cancel(order, events, timestamp, self.sequence)
        return order_view(order)

    def _cancel_all_orders(
        self, command: CancelAllOrders, timestamp: Timestamp, events: list[Event]
    ) -> Result:
        """Cancel the account's open orders (of one symbol, if given) in order id order.

        Allowed while halted, as every cancel is; an unknown symbol or account has no
        open orders, so it cancels nothing rather than being refused.
        """
        account_id, symbol = command.account_id, command.symbol
        order_ids = sorted(
            order_id
            for order_id, order in self.open_orders.items()
            if order.account_id == account_id and (symbol is None or order.symbol == symbol)
        )
        cancelled: list[OrderView] = []
        for order_id in order_ids:
            order = self.open_orders[order_id]
            self.markets[order.symbol].cancel(order, events, timestamp, self.sequence)
            cancelled.append(order_view(order))
        return OrdersCancelled(cancelled)

    def _amend_order(
        self, command: AmendOrder, timestamp: Timestamp, events: list[Event]
    ) -> Result:
        order = self.open_orders.get(command.order_id)
        if order is None or order.account_id != command.account_id:
            return Rejected(RejectReason.UNKNOWN_ORDER)
        if self.halted and _grows_or_moves(command, order):
            return Rejected(RejectReason.MARKET_HALTED, order_view(order))
        reason = self.markets[order.symbol].amend(
            order, command.quantity, command.price, events, timestamp, self.sequence
        )
        if reason is None:
            return order_view(order)
        if reason is INVALID_AMENDMENT and _below_filled(command, order):
            # As Kraken does: nothing is left to rest, so the remainder is cancelled and
            # the filled part kept, even while the market is halted. Checked only once
            # the market refused the amend, so that the common amend pays nothing for it.
            self.markets[order.symbol].cancel(
                order, events, timestamp, self.sequence, AMENDED_BELOW_FILLED
            )
            return order_view(order)
        return Rejected(reason, order_view(order))

    # --- money ------------------------------------------------------------------

    def _open_account(
        self, _command: OpenAccount, _timestamp: Timestamp, events: list[Event]
    ) -> Result:
        account_id = self.ledger.open_account()
        events.append(AccountOpened(account_id))
        return AccountView(account_id)

    def _deposit(self, command: Deposit, _timestamp: Timestamp, events: list[Event]) -> Result:
        account_id, asset, amount, reference = command
        if account_id <= 0 or not self.ledger.has_account(account_id):
            return Rejected(RejectReason.UNKNOWN_ACCOUNT)
        if asset not in self.assets:
            return Rejected(RejectReason.UNKNOWN_ASSET)
        if amount <= 0:
            return Rejected(RejectReason.INVALID_AMOUNT)
        if not reference:
            return Rejected(RejectReason.INVALID_REFERENCE)
        earlier = self.deposits.get(reference)
        if earlier is None:
            self.ledger.transfer(CLEARING_ACCOUNT, account_id, asset, amount)
            self.deposits[reference] = (account_id, asset, amount)
            events.append(FundsDeposited(account_id, asset, amount, reference))
        elif earlier != (account_id, asset, amount):
            return Rejected(RejectReason.DUPLICATE)
        balance = self.ledger.balance(account_id, asset)
        return BalanceView(asset, balance.available, balance.held)

    # --- reference data and market state ------------------------------------------

    def _define_asset(
        self, command: DefineAsset, _timestamp: Timestamp, events: list[Event]
    ) -> Result:
        if not command.asset or not 0 <= command.scale <= MAX_SCALE:
            return Rejected(RejectReason.UNKNOWN_ASSET)
        if command.asset in self.assets:
            return Rejected(RejectReason.DUPLICATE)
        self.assets[command.asset] = command.scale
        events.append(AssetDefined(command.asset, command.scale))
        return DONE

    def _list_instrument(
        self, command: ListInstrument, _timestamp: Timestamp, events: list[Event]
    ) -> Result:
        if command.symbol in self.markets:
            return Rejected(RejectReason.DUPLICATE)
        if command.base_asset not in self.assets or command.quote_asset not in self.assets:
            return Rejected(RejectReason.UNKNOWN_ASSET)
        try:
            instrument = instrument_from(command, self.assets)
        except InstrumentError:
            return Rejected(RejectReason.INVALID_INSTRUMENT)
        self.add_market(instrument)
        events.append(InstrumentListed(command.symbol, command.base_asset, command.quote_asset))
        return DONE

    def add_market(self, instrument: Instrument) -> Market:
        fees = self.ledger.balance(FEE_ACCOUNT, instrument.quote_asset)
        market = Market(instrument, self.counter, self.open_orders, fees)
        self.markets[instrument.symbol] = market
        return market

    def _set_reference_price(
        self, command: SetReferencePrice, _timestamp: Timestamp, events: list[Event]
    ) -> Result:
        market = self.markets.get(command.symbol)
        if market is None:
            return Rejected(RejectReason.UNKNOWN_SYMBOL)
        try:
            market.instrument.set_reference_price(command.price)
        except InstrumentError:
            return Rejected(RejectReason.INVALID_INSTRUMENT)
        events.append(ReferencePriceSet(command.symbol, command.price))
        return DONE

    def _halt_market(
        self, command: HaltMarket, _timestamp: Timestamp, events: list[Event]
    ) -> Result:
        if command.symbol is None:
            self.halted, self.halt_reason = True, command.reason
        else:
            market = self.markets.get(command.symbol)
            if market is None:
                return Rejected(RejectReason.UNKNOWN_SYMBOL)
            market.instrument.status = InstrumentStatus.HALTED
            market.instrument.halt_reason = command.reason
        events.append(MarketHalted(command.symbol, command.reason))
        return DONE

    def _resume_market(
        self, command: ResumeMarket, _timestamp: Timestamp, events: list[Event]
    ) -> Result:
        if command.symbol is None:
            self.halted, self.halt_reason = False, ""
        else:
            market = self.markets.get(command.symbol)
            if market is None:
                return Rejected(RejectReason.UNKNOWN_SYMBOL)
            market.instrument.status = InstrumentStatus.TRADING
            market.instrument.halt_reason = ""
        events.append(MarketResumed(command.symbol))
        return DONE

    # --- queries ------------------------------------------------------------------

    def instruments(self) -> list[InstrumentView]:
        return [self._instrument_view(market) for market in self.markets.values()]

    def instrument(self, symbol: Symbol) -> InstrumentView | None:
        market = self.markets.get(symbol)
        return None if market is None else self._instrument_view(market)

    def _instrument_view(self, market: Market) -> InstrumentView:
        i = market.instrument
        status = InstrumentStatus.HALTED if self.halted else i.status
        return InstrumentView(
            i.symbol,
            i.base_asset,
            i.quote_asset,
            i.base_scale,
            i.quote_scale,
            i.tick_size,
            i.lot_size,
            i.min_quantity,
            i.max_quantity,
            i.reference_price,
            i.price_band_bps,
            i.maker_fee_bps,
            i.taker_fee_bps,
            status,
        )

    def balances(self, account_id: AccountId) -> list[BalanceView]:
        balances = self.ledger.balances(account_id)
        return [
            BalanceView(asset, balances[asset].available, balances[asset].held)
            for asset in sorted(balances)
        ]

    def book(self, symbol: Symbol, depth: int) -> BookView | None:
        market = self.markets.get(symbol)
        if market is None:
            return None
        book = market.book
        return BookView(symbol, book.sequence, book.bids.depth(depth), book.asks.depth(depth))

    def asset_scales(self) -> dict[Asset, int]:
        """Each asset's number of decimal places, for formatting amounts at the edge."""
        return dict(self.assets)

    def open_order(self, order_id: OrderId) -> OrderView | None:
        order = self.open_orders.get(order_id)
        return None if order is None else order_view(order)

    def order_id_for(self, account_id: AccountId, client_order_id: ClientOrderId) -> OrderId | None:
        """The order the account placed with this client order id, open or finished.

        None if it placed none: a rejected order never took its client order id.
        """
        return self.client_order_ids.get((account_id, client_order_id))


def instrument_from(command: ListInstrument, assets: dict[Asset, int]) -> Instrument:
    return Instrument(
        command.symbol,
        command.base_asset,
        command.quote_asset,
        (assets[command.base_asset], assets[command.quote_asset]),
        command.tick_size,
        command.lot_size,
        (command.min_quantity, command.max_quantity),
        (command.reference_price, command.price_band_bps),
        (command.maker_fee_bps, command.taker_fee_bps),
    )


def _below_filled(command: AmendOrder, order: Order) -> bool:
    """Whether an amend asks for a quantity at or below what has filled, which cancels the rest."""
    return 0 < (command.quantity or 0) <= order.filled


def _grows_or_moves(command: AmendOrder, order: Order) -> bool:
    """Whether an amend adds to or moves an order: what a halt forbids (cancelling does not)."""
    if _below_filled(command, order):
        return False
    return command.price is not None or (command.quantity or 0) > order.quantity


def _pre_trade_check(
    market: Market, order: Order, available: Amount, cost: Amount
) -> RejectReason | None:
    """The checks that depend on balances and the book: funds and post-only.

    Whether a fill-or-kill order can fill is not one of them: it is accepted, and so
    uses its client order id, like every order that passes these checks.
    """
    if available < cost:
        return RejectReason.INSUFFICIENT_FUNDS
    if order.post_only and market.crosses(order.side, order.price):
        return RejectReason.POST_ONLY_WOULD_CROSS
    return None


def _reject(
    command: PlaceOrder,
    order_id: OrderId,
    reason: RejectReason,
    timestamp: Timestamp,
    events: list[Event],
) -> Rejected:
    events.append(_new(OrderRejected, (order_id,) + command + (reason,)))  # noqa: RUF005
    view = OrderView(
        order_id,
        command.account_id,
        command.client_order_id,
        command.symbol,
        command.side,
        command.order_type,
        command.price,
        command.quantity,
        Quantity(0),
        Amount(0),
        Amount(0),
        OrderStatus.REJECTED,
        command.time_in_force,
        command.post_only,
        command.self_trade_prevention,
        timestamp,
        timestamp,
        reason.value,
        command.quantity,
    )
    return Rejected(reason, view)


def order_view(order: Order) -> OrderView:
    """The order as callers see it; a market order shows no price."""
    view: OrderView = _new(
        OrderView,
        (
            order.order_id,
            order.account_id,
            order.client_order_id,
            order.symbol,
            order.side,
            order.order_type,
            order.price if order.order_type is LIMIT else None,
            order.quantity,
            order.filled,
            order.filled_amount,
            order.fees_paid,
            order.status,
            order.time_in_force,
            order.post_only,
            order.self_trade_prevention,
            order.created_at,
            order.updated_at,
            order.reason,
            order.original_quantity,
        ),
    )
    return view
