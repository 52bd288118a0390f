"""The field order that positional construction of messages relies on, pinned.

For speed the core builds several messages with `tuple.__new__` and by tuple
concatenation (`OrderAccepted` is the order id followed by the `PlaceOrder`), and
the journal stores a command's fields by position. Nothing checks those positions
at run time or under mypy (`tuple.__new__` takes anything), so a field moved in a
NamedTuple would silently put a quantity where a price belongs. These tests make
such a move fail loudly: whoever reorders a message must come here and see why.
"""

from openbell.contracts.commands import (
    AmendOrder,
    CancelOrder,
    DefineAsset,
    Deposit,
    HaltMarket,
    ListInstrument,
    OpenAccount,
    PlaceOrder,
    ResumeMarket,
    SetReferencePrice,
)
from openbell.contracts.events import (
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRejected,
    TradeExecuted,
)
from openbell.contracts.results import OrderView, Outcome
from openbell.core.application.ports import JournalEntry

PLACE_ORDER_FIELDS = (
    "account_id",
    "client_order_id",
    "symbol",
    "side",
    "order_type",
    "price",
    "quantity",
    "time_in_force",
    "post_only",
    "self_trade_prevention",
)


def test_order_accepted_is_the_order_id_followed_by_the_place_order_fields() -> None:
    # Built in exchange._place_order by prefixing the PlaceOrder with the order id.
    assert PlaceOrder._fields == PLACE_ORDER_FIELDS
    assert OrderAccepted._fields == ("order_id", *PLACE_ORDER_FIELDS)


def test_order_rejected_is_order_accepted_followed_by_the_reason() -> None:
    # Built in exchange._reject: the order id, the PlaceOrder, then the reason.
    assert OrderRejected._fields == ("order_id", *PLACE_ORDER_FIELDS, "reason")


def test_trade_executed_fields_keep_the_order_the_matching_loop_builds_them_in() -> None:
    # market.Market.match
    assert TradeExecuted._fields == (
        "trade_id",
        "symbol",
        "price",
        "quantity",
        "quote_amount",
        "taker_side",
        "maker_order_id",
        "maker_account_id",
        "maker_fee",
        "taker_order_id",
        "taker_account_id",
        "taker_fee",
    )


def test_order_cancelled_and_amended_fields_keep_their_positional_order() -> None:
    # market.Market.finish and market.Market.amend
    assert OrderCancelled._fields == (
        "order_id",
        "account_id",
        "symbol",
        "side",
        "remaining_quantity",
        "reason",
    )
    assert OrderAmended._fields == (
        "order_id",
        "account_id",
        "symbol",
        "side",
        "price",
        "quantity",
        "priority_kept",
    )


def test_order_view_fields_keep_the_order_order_view_builds_them_in() -> None:
    # exchange.order_view
    assert OrderView._fields == (
        "order_id",
        "account_id",
        "client_order_id",
        "symbol",
        "side",
        "order_type",
        "price",
        "quantity",
        "filled_quantity",
        "filled_amount",
        "fees_paid",
        "status",
        "time_in_force",
        "post_only",
        "self_trade_prevention",
        "created_at",
        "updated_at",
        "reason",
        "original_quantity",
    )


def test_outcome_and_journal_entry_fields_keep_their_positional_order() -> None:
    # exchange.Exchange.apply, sequencer.Sequencer._top_up and codec.decode_entries
    assert Outcome._fields == ("sequence", "timestamp", "command", "result", "events")
    assert JournalEntry._fields == ("sequence", "timestamp", "command")


def test_command_fields_keep_the_order_the_journal_stores_them_in() -> None:
    # codec: a command is [tag, field, ...]; fields may only be appended, with a default.
    # Deposit is also unpacked by position in exchange._deposit.
    assert {command._fields for command in (OpenAccount,)} == {()}
    assert DefineAsset._fields == ("asset", "scale")
    assert ListInstrument._fields == (
        "symbol",
        "base_asset",
        "quote_asset",
        "tick_size",
        "lot_size",
        "min_quantity",
        "max_quantity",
        "reference_price",
        "price_band_bps",
        "maker_fee_bps",
        "taker_fee_bps",
    )
    assert SetReferencePrice._fields == ("symbol", "price")
    assert HaltMarket._fields == ("symbol", "reason")
    assert ResumeMarket._fields == ("symbol",)
    assert Deposit._fields == ("account_id", "asset", "amount", "reference")
    assert CancelOrder._fields == ("account_id", "order_id")
    assert AmendOrder._fields == ("account_id", "order_id", "quantity", "price")
