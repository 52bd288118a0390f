"""Identifier types: each identifier has its own type so they cannot be mixed up."""

from typing import NewType

AccountId = NewType("AccountId", int)
OrderId = NewType("OrderId", int)
TradeId = NewType("TradeId", int)
ClientOrderId = NewType("ClientOrderId", str)
Symbol = NewType("Symbol", str)
Asset = NewType("Asset", str)
SequenceNumber = NewType("SequenceNumber", int)
