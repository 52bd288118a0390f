"""Builders that read as the test's story: a market, funded traders, orders."""

from dataclasses import dataclass, field
from typing import Any

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
from openbell.contracts.enums import OrderType, SelfTradePrevention, Side, TimeInForce
from openbell.contracts.events import Event, TradeExecuted
from openbell.contracts.results import Outcome
from openbell.core.domain.exchange import Exchange
from openbell.shared.money import Price, Quantity

SYMBOL = "ACME"
REFERENCE_PRICE = 10_000  # $100.00 in cent ticks
MAKER_FEE_BPS = 10
TAKER_FEE_BPS = 20


def listing(**overrides: Any) -> ListInstrument:
    """ACME shares quoted in USD cents: tick $0.01, lot 1 share, band ±10%."""
    fields: dict[str, Any] = {
        "symbol": SYMBOL,
        "base_asset": "ACME",
        "quote_asset": "USD",
        "tick_size": "0.01",
        "lot_size": "1",
        "min_quantity": 1,
        "max_quantity": 100_000,
        "reference_price": REFERENCE_PRICE,
        "price_band_bps": 1_000,
        "maker_fee_bps": MAKER_FEE_BPS,
        "taker_fee_bps": TAKER_FEE_BPS,
    }
    fields.update(overrides)
    return ListInstrument(**fields)


@dataclass
class Market:
    """An exchange with USD and ACME, the ACME instrument, and a log of every command applied."""

    exchange: Exchange = field(default_factory=Exchange)
    log: list[tuple[int, int, Command]] = field(default_factory=list)
    clock: int = 1_700_000_000_000_000_000
    _client_ids: int = 0

    def __post_init__(self) -> None:
        self.run(DefineAsset("USD", 2))
        self.run(DefineAsset("ACME", 0))
        self.run(listing())

    def run(self, command: Command) -> Outcome:
        sequence = self.exchange.sequence + 1
        self.clock += 1_000
        self.log.append((sequence, self.clock, command))
        return self.exchange.apply(command, sequence, self.clock)

    def trader(self, usd: int = 10_000_000, shares: int = 1_000) -> int:
        """Open an account funded with `usd` cents and `shares` ACME."""
        account_id: int = self.run(OpenAccount()).result.account_id  # type: ignore[union-attr]
        if usd:
            self.run(Deposit(account_id, "USD", usd, f"usd-{account_id}"))
        if shares:
            self.run(Deposit(account_id, "ACME", shares, f"acme-{account_id}"))
        return account_id

    def place(
        self,
        account_id: int,
        side: str,
        quantity: int,
        price: int | None = None,
        *,
        tif: str = "GTC",
        order_type: str | None = None,
        post_only: bool = False,
        stp: str = "cancel_taker",
        client_order_id: str | None = None,
        symbol: str = SYMBOL,
    ) -> Outcome:
        if client_order_id is None:
            self._client_ids += 1
            client_order_id = f"c{self._client_ids}"
        kind = order_type or ("limit" if price is not None else "market")
        return self.run(
            PlaceOrder(
                account_id,
                client_order_id,
                symbol,
                Side(side),
                OrderType(kind),
                price,
                quantity,
                TimeInForce(tif),
                post_only,
                SelfTradePrevention(stp),
            )
        )

    def cancel(self, account_id: int, order_id: int) -> Outcome:
        return self.run(CancelOrder(account_id, order_id))

    def amend(
        self, account_id: int, order_id: int, quantity: int | None = None, price: int | None = None
    ) -> Outcome:
        return self.run(AmendOrder(account_id, order_id, quantity, price))

    def balance(self, account_id: int, asset: str) -> tuple[int, int]:
        """(available, held) in minor units."""
        for view in self.exchange.balances(account_id):
            if view.asset == asset:
                return view.available, view.held
        return 0, 0

    def book(
        self, depth: int = 10
    ) -> tuple[list[tuple[Price, Quantity]], list[tuple[Price, Quantity]]]:
        view = self.exchange.book(SYMBOL, depth)
        assert view is not None
        return view.bids, view.asks


def trades(events: list[Event]) -> list[TradeExecuted]:
    return [event for event in events if type(event) is TradeExecuted]
