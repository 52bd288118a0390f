"""Ledger rules: double entry, holds as pending transfers, settlement and fees, verification."""

from openbell.contracts.commands import Deposit, OpenAccount
from openbell.contracts.enums import RejectReason
from openbell.contracts.events import FundsDeposited
from openbell.contracts.results import AccountView, BalanceView, Outcome, Rejected
from openbell.core.domain.ledger import CLEARING_ACCOUNT, FEE_ACCOUNT
from openbell.core.domain.verification import verify
from openbell.shared.ids import Asset
from openbell.shared.money import Amount

from builders import Market, listing, trades

PENNY = "PENNY"
"""Listed at $1.50 a share: one share's fee is a fraction of a cent (0.15 maker, 0.30 taker)."""


def penny_market() -> Market:
    market = Market()
    market.run(listing(symbol=PENNY, reference_price=150))
    return market


def fees_of(outcomes: list[Outcome]) -> tuple[int, int]:
    """The maker and taker fees charged by these outcomes' trades."""
    fills = [trade for outcome in outcomes for trade in trades(outcome.events)]
    return sum(t.maker_fee for t in fills), sum(t.taker_fee for t in fills)


def test_a_deposit_is_a_transfer_from_the_clearing_account():
    market = Market()
    account = market.trader(usd=0, shares=0)
    outcome = market.run(Deposit(account, "USD", 12_345, "wire-1"))
    assert outcome.result == BalanceView("USD", 12_345, 0)
    assert outcome.events == [FundsDeposited(account, "USD", 12_345, "wire-1")]
    assert market.balance(CLEARING_ACCOUNT, "USD") == (-12_345, 0)
    assert verify(market.exchange).totals[Asset("USD")] == 0


def test_a_repeated_deposit_reference_moves_money_once():
    market = Market()
    account = market.trader(usd=0, shares=0)
    market.run(Deposit(account, "USD", 500, "wire-2"))
    again = market.run(Deposit(account, "USD", 500, "wire-2"))
    assert again.events == []
    assert market.balance(account, "USD") == (500, 0)


def test_a_deposit_reference_reused_for_different_money_is_refused():
    market = Market()
    account = market.trader(usd=0, shares=0)
    market.run(Deposit(account, "USD", 500, "wire-3"))
    assert market.run(Deposit(account, "USD", 900, "wire-3")).result == Rejected(
        RejectReason.DUPLICATE
    )


def test_deposits_need_a_known_account_a_known_asset_and_a_positive_amount():
    market = Market()
    account = market.trader(usd=0, shares=0)
    assert market.run(Deposit(404, "USD", 1, "a")).result == Rejected(RejectReason.UNKNOWN_ACCOUNT)
    assert market.run(Deposit(FEE_ACCOUNT, "USD", 1, "b")).result == Rejected(
        RejectReason.UNKNOWN_ACCOUNT
    )
    assert market.run(Deposit(account, "EUR", 1, "c")).result == Rejected(
        RejectReason.UNKNOWN_ASSET
    )
    assert market.run(Deposit(account, "USD", 0, "d")).result == Rejected(
        RejectReason.INVALID_AMOUNT
    )
    assert market.run(Deposit(account, "USD", -5, "e")).result == Rejected(
        RejectReason.INVALID_AMOUNT
    )
    assert market.run(Deposit(account, "USD", 5, "")).result == Rejected(
        RejectReason.INVALID_REFERENCE
    )
    assert market.balance(account, "USD") == (0, 0)


def test_accounts_are_numbered_in_order():
    market = Market()
    first, second = market.run(OpenAccount()).result, market.run(OpenAccount()).result
    assert isinstance(first, AccountView)
    assert isinstance(second, AccountView)
    assert second.account_id == first.account_id + 1


def test_a_buy_holds_its_notional_plus_the_larger_fee_rounded_up():
    market = Market()
    buyer = market.trader(usd=1_000_000)
    market.place(buyer, "buy", 10, 10_010)
    # 10 x 100.10 = 1,001.00 USD; the larger fee (taker, 20 bps) 2.002 rounds up to 2.01 USD
    assert market.balance(buyer, "USD") == (1_000_000 - 100_301, 100_301)


def test_a_sell_holds_the_shares_it_offers():
    market = Market()
    seller = market.trader(shares=50)
    market.place(seller, "sell", 20, 10_010)
    assert market.balance(seller, "ACME") == (30, 20)


def test_an_order_whose_hold_does_not_fit_the_available_balance_is_rejected():
    market = Market()
    buyer = market.trader(usd=100_300)
    outcome = market.place(buyer, "buy", 10, 10_010)
    assert isinstance(outcome.result, Rejected)
    assert outcome.result.reason is RejectReason.INSUFFICIENT_FUNDS
    assert market.balance(buyer, "USD") == (100_300, 0)
    seller = market.trader(shares=9)
    refused = market.place(seller, "sell", 10, 10_010).result
    assert isinstance(refused, Rejected)
    assert refused.reason is RejectReason.INSUFFICIENT_FUNDS


def test_a_trade_settles_quote_to_the_seller_base_to_the_buyer_and_fees_to_the_fee_account():
    market = Market()
    seller = market.trader(usd=0, shares=10)
    buyer = market.trader(usd=100_301, shares=0)
    market.place(seller, "sell", 10, 10_010)
    market.place(buyer, "buy", 10, 10_010)
    # notional 100,100 cents; maker fee 10 bps = 100.1 -> 101; taker fee 20 bps = 200.2 -> 201
    assert market.balance(seller, "USD") == (99_999, 0)
    assert market.balance(seller, "ACME") == (0, 0)
    assert market.balance(buyer, "USD") == (0, 0)
    assert market.balance(buyer, "ACME") == (10, 0)
    assert market.balance(FEE_ACCOUNT, "USD") == (302, 0)
    assert verify(market.exchange).ok


def test_price_improvement_returns_the_unused_hold_at_once():
    market = Market()
    seller, buyer = market.trader(), market.trader(usd=1_000_000)
    market.place(seller, "sell", 10, 10_000)
    market.place(buyer, "buy", 20, 10_100)
    # 10 filled at 100.00 (+0.2% fee); 10 rest at 101.00 holding 101,000 + 202
    paid = 100_000 + 200
    assert market.balance(buyer, "USD") == (1_000_000 - paid - 101_202, 101_202)
    assert verify(market.exchange).ok


def test_a_resting_buy_that_fills_as_maker_releases_the_fee_difference():
    market = Market()
    buyer, seller = market.trader(usd=1_000_000), market.trader()
    market.place(buyer, "buy", 10, 10_000)
    market.place(seller, "sell", 4, 10_000)
    # 4 filled as maker: paid 40,000 + 40 fee; 6 still held: 60,000 + 120 at the larger fee
    assert market.balance(buyer, "USD") == (1_000_000 - 40_040 - 60_120, 60_120)
    assert verify(market.exchange).ok


def test_verify_names_a_balance_that_does_not_sum_to_zero():
    market = Market()
    account = market.trader()
    balance = market.exchange.ledger.balance(account, "USD")
    balance.available = Amount(balance.available + 1)
    report = verify(market.exchange)
    assert not report.ok
    assert "asset USD: balances sum to 1, not zero" in report.problems


def test_verify_names_a_hold_that_open_orders_do_not_explain():
    market = Market()
    buyer = market.trader()
    market.place(buyer, "buy", 1, 10_000)
    balance = market.exchange.ledger.balance(buyer, "USD")
    balance.held = Amount(balance.held + 7)
    balance.available = Amount(balance.available - 7)
    problems = verify(market.exchange).problems
    assert any(f"account {buyer} USD: held" in problem for problem in problems)


def test_verify_names_a_negative_available_balance():
    market = Market()
    account = market.trader(usd=0)
    market.exchange.ledger.transfer(account, CLEARING_ACCOUNT, "USD", 5)
    problems = verify(market.exchange).problems
    assert any(f"account {account} USD: negative balance" in problem for problem in problems)


def test_one_fill_of_ten_shares_rounds_each_fee_up():
    market = penny_market()
    seller, buyer = market.trader(), market.trader()
    market.place(seller, "sell", 10, 150, symbol=PENNY)
    outcome = market.place(buyer, "buy", 10, 150, symbol=PENNY)
    # notional 1,500 cents: maker 10 bps = 1.5 -> 2, taker 20 bps = 3
    assert fees_of([outcome]) == (2, 3)
    assert verify(market.exchange).ok


def test_a_maker_filled_ten_times_pays_what_one_fill_would():
    market = penny_market()
    seller, buyer = market.trader(), market.trader()
    ask = market.place(seller, "sell", 10, 150, symbol=PENNY)
    fills = [market.place(buyer, "buy", 1, 150, symbol=PENNY) for _ in range(10)]
    assert fees_of(fills)[0] == 2
    assert market.exchange.open_order(ask.result.order_id) is None  # type: ignore[union-attr]
    assert market.balance(FEE_ACCOUNT, "USD")[0] == 2 + 10 * 1
    assert verify(market.exchange).ok


def test_a_taker_sweeping_ten_orders_pays_what_one_fill_would():
    market = penny_market()
    seller, buyer = market.trader(), market.trader()
    for _ in range(10):
        market.place(seller, "sell", 1, 150, symbol=PENNY)
    sweep = market.place(buyer, "buy", 10, 150, symbol=PENNY)
    assert fees_of([sweep])[1] == 3
    assert verify(market.exchange).ok


def test_a_resting_buy_filled_in_parts_keeps_exactly_the_hold_its_rest_needs():
    market = penny_market()
    buyer, seller = market.trader(usd=1_000_000), market.trader()
    market.place(buyer, "buy", 10, 150, symbol=PENNY)
    for _ in range(3):
        market.place(seller, "sell", 1, 150, symbol=PENNY)
    # 3 filled as maker: 450 + 1 (0.45 rounded up, 0.55 carried); 7 left need 1,050 + 2
    assert market.balance(buyer, "USD") == (1_000_000 - 451 - 1_052, 1_052)
    assert verify(market.exchange).ok
