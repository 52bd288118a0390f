"""Identifier types: each identifier has its own type, so passing one for another is a type error.

They are `typing.NewType`s: mypy tells them apart, while at run time (and in the
compiled core, where mypyc erases them) they are the plain ints and strs they wrap,
so they cost nothing on the hot path. Money and time have theirs in `money` and `time`.
"""

from typing import NewType

AccountId = NewType("AccountId", int)
"""A trading account; user accounts count from 1, the core's own accounts are negative."""
OrderId = NewType("OrderId", int)
"""An order, numbered by the core in command order."""
TradeId = NewType("TradeId", int)
"""A trade, numbered by the core across every symbol."""
ClientOrderId = NewType("ClientOrderId", str)
"""The caller's own name for an order: its idempotency key within one account."""
PaymentReference = NewType("PaymentReference", str)
"""A deposit's or withdrawal's reference: its idempotency key."""
Symbol = NewType("Symbol", str)
"""An instrument, e.g. "ACME"."""
Asset = NewType("Asset", str)
"""An asset that balances are held in, e.g. "USD"."""
SequenceNumber = NewType("SequenceNumber", int)
"""A command's position in the journal; events and read models carry it as their version."""
