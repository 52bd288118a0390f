"""Ledger and book invariants, checked on demand (`openbell ledger verify`) and by tests."""

from collections import defaultdict
from typing import NamedTuple

from openbell.contracts.enums import Side
from openbell.core.domain.exchange import Exchange
from openbell.core.domain.instruments import BPS
from openbell.core.domain.ledger import FEE_ACCOUNT, SYSTEM_ACCOUNTS
from openbell.shared.ids import AccountId, Asset, SequenceNumber
from openbell.shared.money import Amount


class LedgerReport(NamedTuple):
    """What was checked and everything found broken; `problems` is empty when all holds."""

    sequence: SequenceNumber
    accounts: int
    open_orders: int
    totals: dict[Asset, int]
    """Per asset, the sum of every account's balance: zero when double entry holds."""
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(exchange: Exchange) -> LedgerReport:
    """Check that money balances, holds match open orders, and books are sound."""
    problems: list[str] = []
    totals = _check_balances(exchange, problems)
    _check_holds(exchange, problems)
    _check_books(exchange, problems)
    accounts = sum(1 for account_id, _ in exchange.ledger.accounts() if account_id > 0)
    return LedgerReport(exchange.sequence, accounts, len(exchange.open_orders), totals, problems)


def _check_balances(exchange: Exchange, problems: list[str]) -> dict[Asset, int]:
    totals: dict[Asset, int] = defaultdict(int)
    for account_id, balances in exchange.ledger.accounts():
        for asset, balance in balances.items():
            totals[asset] += balance.total
            if account_id in SYSTEM_ACCOUNTS and account_id != FEE_ACCOUNT:
                continue
            if balance.available < 0 or balance.held < 0:
                problems.append(
                    f"account {account_id} {asset}: negative balance "
                    f"(available {balance.available}, held {balance.held})"
                )
    for asset, total in sorted(totals.items()):
        if total != 0:
            problems.append(f"asset {asset}: balances sum to {total}, not zero")
    return dict(sorted(totals.items()))


def _check_holds(exchange: Exchange, problems: list[str]) -> None:
    required: dict[tuple[AccountId, Asset], int] = defaultdict(int)
    for order in exchange.open_orders.values():
        instrument = exchange.markets[order.symbol].instrument
        if order.side is Side.BUY:
            need = instrument.buy_cost(order.price, order.remaining, order.fee_credit)
            asset = instrument.quote_asset
        else:
            need = Amount(order.remaining * instrument.base_per_lot)
            asset = instrument.base_asset
        if not 0 <= order.fee_credit < BPS:
            problems.append(f"order {order.order_id}: fee credit {order.fee_credit} out of range")
        if order.held != need:
            problems.append(f"order {order.order_id}: holds {order.held}, needs {need}")
        required[order.account_id, asset] += order.held
    for account_id, balances in exchange.ledger.accounts():
        for asset, balance in balances.items():
            expected = required.pop((account_id, asset), 0)
            if balance.held != expected:
                problems.append(
                    f"account {account_id} {asset}: held {balance.held}, "
                    f"open orders require {expected}"
                )
    for (account_id, asset), amount in required.items():
        problems.append(f"account {account_id} {asset}: orders hold {amount} with no balance")


def _check_books(exchange: Exchange, problems: list[str]) -> None:
    resting = 0
    for symbol, market in exchange.markets.items():
        for side in (market.book.bids, market.book.asks):
            for level in side.levels.values():
                live = list(level.orders())
                resting += len(live)
                if any(order.remaining <= 0 for order in live):
                    problems.append(
                        f"{symbol} level {level.price}: an order rests with nothing left"
                    )
                if sum(order.remaining for order in live) != level.quantity:
                    problems.append(f"{symbol} level {level.price}: quantity out of step")
                problems.extend(
                    f"order {order.order_id} rests but is not open"
                    for order in live
                    if exchange.open_orders.get(order.order_id) is not order
                )
        best_bid, best_ask = market.book.bids.best(), market.book.asks.best()
        if best_bid and best_ask and best_bid.price >= best_ask.price:
            problems.append(f"{symbol}: book crossed ({best_bid.price} >= {best_ask.price})")
    if resting != len(exchange.open_orders):
        problems.append(f"{len(exchange.open_orders)} open orders but {resting} rest in books")
