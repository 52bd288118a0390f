"""The core's on-disk encoding: exact round trips, a pinned format, clear errors on garbage."""

import itertools
from enum import StrEnum
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

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
from openbell.contracts.enums import OrderType, SelfTradePrevention, Side, TimeInForce
from openbell.core.adapters.codec import (
    COMMAND_TAGS,
    FORMAT_VERSION,
    checksum,
    decode_command,
    decode_entries,
    decode_record,
    decode_state,
    encode_command,
    encode_entries,
    encode_record,
    encode_state,
)
from openbell.core.application.errors import (
    CodecError,
    JournalCorruptedError,
    JournalSequenceError,
)
from openbell.core.application.ports import JournalEntry

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)

SAMPLES: list[Command] = [
    DefineAsset("BTC", 8),
    ListInstrument("BTC-USD", "BTC", "USD", "0.01", "0.00001", 1, 10**9, 5_000_000, 500, 10, 20),
    SetReferencePrice("BTC-USD", 5_100_000),
    HaltMarket("BTC-USD", "circuit breaker ⚡"),
    HaltMarket(None, ""),
    ResumeMarket(None),
    OpenAccount(),
    Deposit(1, "USD", 2**63 - 1, "wire-ü"),
    PlaceOrder(1, "ordre-été-🚀", "BTC-USD", Side.BUY, OrderType.MARKET, None, 5, TimeInForce.IOC),
    CancelOrder(1, 2),
    AmendOrder(1, 2, None, 7),
    CancelAllOrders(1, "BTC-USD"),
    CancelAllOrders(1, None),
]


def place_order(**overrides: Any) -> PlaceOrder:
    order = PlaceOrder(
        42, "c-1", "BTC-USD", Side.SELL, OrderType.LIMIT, 5_000_000, 3, TimeInForce.GTC
    )
    return order._replace(**overrides)


def test_the_command_tags_are_pinned():
    # Tags are on disk: changing one breaks every journal ever written.
    assert {cls.__name__: tag for cls, tag in COMMAND_TAGS.items()} == {
        "DefineAsset": 1,
        "ListInstrument": 2,
        "SetReferencePrice": 3,
        "HaltMarket": 4,
        "ResumeMarket": 5,
        "OpenAccount": 6,
        "Deposit": 7,
        "PlaceOrder": 8,
        "CancelOrder": 9,
        "AmendOrder": 10,
        "CancelAllOrders": 11,
    }
    assert FORMAT_VERSION == 1


def test_the_bytes_of_a_place_order_are_pinned():
    encoded = encode_command(place_order())
    assert encoded == bytes.fromhex(
        "9b082aa3632d31a74254432d555344a473656c6ca56c696d6974ce004c4b4003a3475443c2ac"
        "63616e63656c5f74616b6572"
    )
    assert decode_command(encoded) == place_order()


@pytest.mark.parametrize("command", SAMPLES, ids=lambda command: type(command).__name__)
def test_every_command_round_trips_to_the_same_type_and_values(command: Command):
    decoded = decode_command(encode_command(command))
    assert decoded == command
    assert type(decoded) is type(command)
    assert [type(value) for value in decoded] == [type(value) for value in command]


def test_the_samples_cover_every_command_type():
    assert {type(command) for command in SAMPLES} == set(COMMAND_TAGS)


def test_every_enum_combination_decodes_to_the_members():
    for side, kind, tif, stp in itertools.product(
        Side, OrderType, TimeInForce, SelfTradePrevention
    ):
        order = place_order(
            side=side, order_type=kind, time_in_force=tif, self_trade_prevention=stp
        )
        decoded = decode_command(encode_command(order))
        assert isinstance(decoded, PlaceOrder)
        assert (decoded.side, decoded.order_type) == (side, kind)
        assert decoded.time_in_force is tif
        assert decoded.self_trade_prevention is stp


def test_a_record_written_before_trailing_defaulted_fields_decodes_with_the_defaults():
    old = msgpack.packb([8, 42, "c-1", "BTC-USD", "sell", "limit", 5_000_000, 3, "GTC"])
    assert decode_command(old) == place_order(
        post_only=False, self_trade_prevention=SelfTradePrevention.CANCEL_TAKER
    )


@given(
    st.builds(
        place_order,
        account_id=INT64,
        client_order_id=st.text(max_size=64),
        price=st.none() | INT64,
        quantity=INT64,
        post_only=st.booleans(),
        side=st.sampled_from(Side),
    ),
)
def test_any_place_order_round_trips(order: PlaceOrder):
    assert decode_command(encode_command(order)) == order


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not valid msgpack"),
        (b"\xc1", "not valid msgpack"),
        (msgpack.packb([8, 1]) + b"\x00", "not valid msgpack"),
        (msgpack.packb({"tag": 8}), "non-empty array"),
        (msgpack.packb([]), "non-empty array"),
        (msgpack.packb([99, 1, 2]), "unknown command tag 99"),
        (msgpack.packb(["8", 1, 2]), "unknown command tag '8'"),
        (msgpack.packb([9, 1]), "takes 2 fields, got 1"),
        (msgpack.packb([9, 1, 2, 3]), "takes 2 fields, got 3"),
        (msgpack.packb([8, 1, "c", "S", "buy", "limit", 1, 1]), "takes 10 fields, got 7"),
        (msgpack.packb([8, 1, "c", "S", "up", "limit", 1, 1, "GTC"]), "not an enum value"),
        (msgpack.packb([8, 1, "c", "S", ["buy"], "limit", 1, 1, "GTC"]), "not an enum value"),
    ],
)
def test_garbage_is_refused_with_a_clear_error(data: bytes, message: str):
    with pytest.raises(CodecError, match=message):
        decode_command(data)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ((1, 2), "not a journaled command: tuple"),
        (place_order(side="sideways"), "side='sideways'"),
        (place_order(time_in_force="DAY", side="up"), "side='up', time_in_force='DAY'"),
        (place_order(quantity=2**64), "cannot encode"),
        (place_order(client_order_id="\ud800"), "cannot encode"),
        (place_order(price=object()), "cannot encode"),
    ],
)
def test_a_command_that_would_not_survive_the_disk_is_refused(command: Command, message: str):
    with pytest.raises(CodecError, match=message):
        encode_command(command)
    with pytest.raises(CodecError, match=message):
        encode_entries([JournalEntry(1, 0, command)])


def test_a_plain_string_with_a_member_value_is_accepted_and_decodes_to_the_member():
    decoded = decode_command(encode_command(place_order(side="buy")))
    assert isinstance(decoded, PlaceOrder)
    assert decoded.side is Side.BUY


def entries(first: int, count: int) -> list[JournalEntry]:
    return [
        JournalEntry(sequence, 1_700_000_000_000_000_000 + sequence, place_order(quantity=sequence))
        for sequence in range(first, first + count)
    ]


def test_a_batch_of_entries_round_trips():
    batch = entries(1, 4096) + [
        JournalEntry(4097 + i, i, command) for i, command in enumerate(SAMPLES)
    ]
    assert decode_entries(encode_entries(batch)) == batch


def test_a_batch_is_compact():
    # Sequence, timestamp, tag and fields, with no field names: about 60 bytes an order.
    assert len(encode_entries(entries(1, 1000))) < 65 * 1000


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1], "a journal record is"),
        ({"version": 1}, "a journal record is"),
        ([2, []], "unknown journal format version 2"),
        ([1, "x"], "entries are not an array"),
        ([1, [[1, 2, 9]]], "entry 0 is not"),
        ([1, [[1, 2, 9, [1, 2]], 7]], "entry 1 is not"),
        ([1, [[1, 2, 9, 5]]], "command fields are not an array"),
        ([1, [[1, 2, 77, []]]], "unknown command tag 77"),
        ([1, [[1, 2, 9, [1]]]], "takes 2 fields"),
    ],
)
def test_undecodable_entries_are_refused_with_a_clear_error(value: object, message: str):
    with pytest.raises(CodecError, match=message):
        decode_entries(msgpack.packb(value))


def test_a_record_carries_its_range_and_checksum():
    record = encode_record(entries(5, 3), last_sequence=4)
    assert (record.first_sequence, record.last_sequence, record.entry_count) == (5, 7, 3)
    assert record.checksum == checksum(record.payload)
    assert decode_record(record) == entries(5, 3)


@pytest.mark.parametrize(
    ("last_sequence", "first", "message"),
    [(4, 6, "starts at sequence 6; the journal expects 5"), (0, 2, "expects 1")],
)
def test_a_record_must_continue_the_journal(last_sequence: int, first: int, message: str):
    with pytest.raises(JournalSequenceError, match=message):
        encode_record(entries(first, 2), last_sequence)


def test_a_record_whose_range_disagrees_with_its_entries_is_corrupt():
    record = encode_record(entries(5, 3), last_sequence=4)
    moved = record._replace(first_sequence=6, last_sequence=8)
    with pytest.raises(JournalCorruptedError, match=r"6\.\.8: entries do not match"):
        decode_record(moved)
    with pytest.raises(JournalCorruptedError, match=r"5\.\.7: entries do not match"):
        decode_record(record._replace(entry_count=2))


STATE_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text()
    | st.binary(),
    lambda children: (
        st.lists(children)
        | st.dictionaries(st.text() | st.integers(min_value=-(2**63), max_value=2**63), children)
    ),
    max_leaves=30,
)


@given(STATE_VALUES)
def test_any_plain_state_round_trips_exactly(state: object):
    decoded = decode_state(encode_state(state))
    assert decoded == state
    assert repr(decoded) == repr(state)  # same types too: True stays True, not 1


def test_state_keeps_int_keys_big_ints_and_key_order():
    state = {
        "z": {2**63: "big key", 1: [True, False, None], -5: -(2**63)},
        "a": [2**63 - 1, 2**63, 2**64 - 1, "東京", b"\x00\xff"],
        3: {},
    }
    decoded = decode_state(encode_state(state))
    assert decoded == state
    assert isinstance(decoded, dict)
    assert list(decoded) == ["z", "a", 3]
    assert list(decoded["z"]) == [2**63, 1, -5]
    assert decoded["z"][1][0] is True


class Colour(StrEnum):
    RED = "red"


@pytest.mark.parametrize(
    "state",
    [
        {"levels": (1, 2)},
        {"colour": Colour.RED},
        {"set": {1, 2}},
        {"too big": 2**64},
        {"float": float("nan"), "tuple": ()},
    ],
    ids=["tuple", "enum", "set", "overflow", "tuple-after-float"],
)
def test_state_that_would_not_come_back_as_itself_is_refused(state: object):
    with pytest.raises(CodecError, match="state cannot be encoded"):
        encode_state(state)


@pytest.mark.parametrize("data", [b"", b"\xc1", b"\x92\x01"])
def test_undecodable_state_is_refused(data: bytes):
    with pytest.raises(CodecError, match="state does not decode"):
        decode_state(data)
