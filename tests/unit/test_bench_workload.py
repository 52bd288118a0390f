import json

import pytest

from openbell.bench.reference import ReferenceBook
from openbell.bench.workload import (
    GeneratorSettings,
    Record,
    WorkloadError,
    apply_record,
    generate,
    parse_workload,
    read_workload,
    write_workload,
)

PLACE = '{"op":"place","id":1,"account":7,"side":"buy","price":10050,"quantity":3,"tif":"GTC"}'


def test_same_seed_gives_the_same_stream_and_another_seed_another():
    assert generate(3_000, seed=5) == generate(3_000, seed=5)
    assert generate(3_000, seed=5) != generate(3_000, seed=6)


def test_generator_reaches_roughly_the_target_resting_depth():
    book = ReferenceBook()
    for record in generate(30_000, seed=2, settings=GeneratorSettings(resting_orders=1_000)):
        apply_record(book, record)
    bids, asks = book.order_counts()
    assert 700 <= bids + asks <= 1_300
    assert bids > 300
    assert asks > 300


def test_generator_mix_has_every_operation_and_no_self_trade_pairs():
    records = generate(20_000, seed=3)
    kinds = {(r["op"], r.get("tif")) for r in records}
    assert kinds == {
        ("place", "GTC"),
        ("place", "IOC"),
        ("place", "FOK"),
        ("cancel", None),
        ("reduce", None),
        ("move", None),
    }
    for record in records:
        if record["op"] == "place":
            assert (record["account"] % 2 == 1) == (record["side"] == "buy")
    moves = sum(1 for r in records if r["op"] == "move")
    assert moves > len(records) / 2


def test_generated_stream_passes_the_strict_reader(tmp_path):
    records = generate(2_000, seed=4)
    path = tmp_path / "stream.jsonl"
    assert write_workload(path, records) == 2_000
    assert read_workload(path) == records


def test_reader_accepts_each_op_and_skips_blank_lines():
    lines = [
        PLACE,
        "",
        '{"op":"reduce","id":1,"account":7,"quantity":2}',
        '{"op":"move","id":1,"account":7,"price":10040}',
        '{"op":"cancel","id":1,"account":7}',
    ]
    records = parse_workload(lines)
    assert [r["op"] for r in records] == ["place", "reduce", "move", "cancel"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"op":"amend","id":1,"account":7}', "unknown op 'amend'"),
        ('{"op":"cancel","id":1,"account":7,"why":"x"}', "unknown field(s) for cancel: why"),
        ('{"op":"reduce","id":1,"account":7}', "missing field(s) for reduce: quantity"),
        ('{"op":"reduce","id":1,"account":7,"quantity":0}', "quantity must be positive"),
        ('{"op":"reduce","id":1,"account":7,"quantity":-2}', "quantity must be positive"),
        ('{"op":"reduce","id":1,"account":7,"quantity":1.5}', "quantity must be an integer"),
        ('{"op":"reduce","id":1,"account":7,"quantity":true}', "quantity must be an integer"),
        ('{"op":"move","id":1,"account":7,"price":"10"}', "price must be an integer"),
        ('{"op":"cancel","id":2,"account":7}', "no earlier line places"),
        ('{"op":"cancel","id":1,"account":8}', "placed it for account 7"),
        (PLACE, "already placed on line 1"),
    ],
)
def test_reader_rejects_a_bad_line_with_its_number(line, message):
    with pytest.raises(WorkloadError) as caught:
        parse_workload([PLACE, line], source="flow.jsonl")
    assert caught.value.line == 2
    assert str(caught.value).startswith("flow.jsonl:2: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("side", "bid", "side must be 'buy' or 'sell'"),
        ("tif", "GTD", "tif must be GTC, IOC or FOK"),
        ("price", 0, "price must be positive"),
        ("quantity", None, "quantity must be an integer"),
    ],
)
def test_reader_checks_place_fields(field, value, message):
    record = json.loads(PLACE)
    record[field] = value
    with pytest.raises(WorkloadError, match=message):
        parse_workload([json.dumps(record)])


def test_written_lines_keep_schema_field_order(tmp_path):
    path = tmp_path / "one.jsonl"
    shuffled: Record = {"tif": "GTC", "quantity": 3, "price": 10050, "side": "buy", "account": 7}
    write_workload(path, [{**shuffled, "id": 1, "op": "place"}])
    assert path.read_text() == PLACE + "\n"
