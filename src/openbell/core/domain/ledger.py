"""The ledger: per-account, per-asset balances moved only by double-entry transfers.

Every movement debits one account and credits another of the same asset, so for
each asset the balances of all accounts, system accounts included, sum to zero.
A hold (TigerBeetle's pending transfer) moves funds from an account's available
to its held balance; a fill posts part of the hold to the counterparty; a cancel
voids the rest back to available.
"""

from collections.abc import Iterator
from typing import Final

from openbell.shared.ids import AccountId, Asset
from openbell.shared.money import Amount

FEE_ACCOUNT: Final = AccountId(-1)
"""Collects maker and taker fees in the quote asset."""
CLEARING_ACCOUNT: Final = AccountId(-2)
"""The outside world: deposits are credited from it (it goes negative), withdrawals to it."""
SYSTEM_ACCOUNTS: Final = (FEE_ACCOUNT, CLEARING_ACCOUNT)
NO_AMOUNT: Final = Amount(0)


class Balance:
    """One account's position in one asset, in minor units."""

    __slots__ = ("available", "held")

    def __init__(self, available: Amount = NO_AMOUNT, held: Amount = NO_AMOUNT) -> None:
        self.available = available
        self.held = held

    @property
    def total(self) -> Amount:
        return Amount(self.available + self.held)


class Ledger:
    """Accounts and their balances. User accounts are numbered from 1; system accounts are < 0."""

    __slots__ = ("_accounts", "next_account_id")

    def __init__(self) -> None:
        self._accounts: dict[AccountId, dict[Asset, Balance]] = {
            account_id: {} for account_id in SYSTEM_ACCOUNTS
        }
        self.next_account_id = 1

    def open_account(self) -> AccountId:
        account_id = AccountId(self.next_account_id)
        self.next_account_id += 1
        self._accounts[account_id] = {}
        return account_id

    def has_account(self, account_id: AccountId) -> bool:
        return account_id in self._accounts

    def balance(self, account_id: AccountId, asset: Asset) -> Balance:
        """The account's balance in `asset`, created at zero on first use."""
        balances = self._accounts[account_id]
        balance = balances.get(asset)
        if balance is None:
            balance = balances[asset] = Balance()
        return balance

    def balances(self, account_id: AccountId) -> dict[Asset, Balance]:
        return self._accounts.get(account_id, {})

    def transfer(
        self, debit_account: AccountId, credit_account: AccountId, asset: Asset, amount: Amount
    ) -> None:
        """Move `amount` of available `asset` from one account to another."""
        debit = self.balance(debit_account, asset)
        debit.available = Amount(debit.available - amount)
        credit = self.balance(credit_account, asset)
        credit.available = Amount(credit.available + amount)

    def accounts(self) -> Iterator[tuple[AccountId, dict[Asset, Balance]]]:
        return iter(self._accounts.items())

    def restore_account(self, account_id: AccountId, balances: dict[Asset, Balance]) -> None:
        self._accounts[account_id] = balances
