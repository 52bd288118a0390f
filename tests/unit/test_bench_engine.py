import os

import pytest

from openbell.bench.engine import (
    Market,
    UsageError,
    convert_for_openbell,
    openbell_bytes_per_order,
    reference_bytes_per_order,
    reference_calls,
    resolve_journal,
    run_engine_bench,
    time_calls,
    time_openbell,
    to_operations,
)
from openbell.bench.workload import generate, parse_workload, write_workload
from openbell.contracts.commands import AmendOrder


def reference_run(records):
    return time_calls(reference_calls, to_operations(records), budget_ns=None)


def test_openbell_and_the_reference_book_agree_on_a_generated_stream():
    records = generate(8_000, seed=11)
    ours = time_openbell(convert_for_openbell(records, Market.for_records(records)))
    theirs = reference_run(records)
    assert ours.state == theirs.state
    assert ours.state.traded_quantity > 0
    assert ours.state.bid_orders > 100
    assert ours.state.ask_orders > 100


def test_reduce_that_takes_everything_becomes_a_cancel_for_openbell():
    records = parse_workload(
        [
            '{"op":"place","id":1,"account":1,"side":"buy","price":100,"quantity":5,"tif":"GTC"}',
            '{"op":"place","id":2,"account":2,"side":"sell","price":100,"quantity":2,"tif":"IOC"}',
            '{"op":"reduce","id":1,"account":1,"quantity":1}',
            '{"op":"reduce","id":1,"account":1,"quantity":2}',
            '{"op":"place","id":3,"account":2,"side":"sell","price":101,"quantity":4,"tif":"GTC"}',
            '{"op":"move","id":3,"account":2,"price":100}',
        ]
    )
    stream = convert_for_openbell(records, Market.for_records(records))
    assert [type(command).__name__ for command in stream.commands] == [
        "PlaceOrder",
        "PlaceOrder",
        "AmendOrder",
        "CancelOrder",
        "PlaceOrder",
        "AmendOrder",
    ]
    amend = stream.commands[2]
    assert isinstance(amend, AmendOrder)
    assert amend.quantity == 4
    ours = time_openbell(stream)
    assert ours.state == reference_run(records).state
    assert ours.state.ask_quantity == 4


def test_report_has_the_promised_fields_and_agrees(tmp_path):
    saved = tmp_path / "flow.jsonl"
    report = run_engine_bench(commands=3_000, seed=2, save=saved, memory_orders=500)
    for key in (
        "commands",
        "seconds",
        "commands_per_second",
        "trades",
        "traded_quantity",
        "bytes_per_resting_order",
    ):
        assert key in report
    assert set(report["resting_orders"]) == {"bids", "asks"}
    assert set(report["resting_quantity"]) == {"bids", "asks"}
    assert set(report["latency_us"]) >= {"p50", "p99", "p999"}
    assert report["commands"] == 3_000
    assert report["agreement"] == {"ok": True, "problems": []}
    assert "openbell_vs_reference" in report["ratios"]
    replay = run_engine_bench(workload=saved, memory_orders=0)
    assert replay["traded_quantity"] == report["traded_quantity"]
    assert replay["resting_quantity"] == report["resting_quantity"]


def test_memory_passes_measure_something_positive():
    assert openbell_bytes_per_order(2_000) > 0
    assert reference_bytes_per_order(2_000) > 0


def test_journal_kind_is_checked():
    with pytest.raises(ValueError, match="journal"):
        run_engine_bench(commands=10, journal="mysql")


def test_saved_stream_round_trips(tmp_path):
    records = generate(500, seed=9)
    path = tmp_path / "s.jsonl"
    write_workload(path, records)
    assert run_engine_bench(workload=path, memory_orders=0)["commands"] == 500


def test_journaled_run_on_sqlite_reaches_the_same_state():
    report = run_engine_bench(commands=2_000, seed=4, memory_orders=0, journal="sqlite")
    journaled = report["journal"]
    assert journaled["journal"] == "sqlite"
    assert journaled["commands"] == 2_000
    assert journaled["agrees_with_unjournaled"] is True
    assert journaled["largest_batch"] > 1
    assert journaled["event_loop"] == "uvloop"
    assert len(journaled["journaled_vs_unjournaled_per_round"]) == report["repeat"]
    assert journaled["journaled_vs_unjournaled"] == max(
        journaled["journaled_vs_unjournaled_per_round"]
    )
    assert report["agreement"]["ok"] is True


@pytest.mark.postgres
def test_journaled_run_on_postgres_reaches_the_same_state():
    url = os.environ.get(
        "OPENBELL_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    try:
        report = run_engine_bench(
            commands=2_000,
            seed=4,
            memory_orders=0,
            journal="postgres",
            database_url=url,
        )
    except OSError as error:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {error}")
        pytest.skip(f"no PostgreSQL server: {error}")
    assert report["journal"]["agrees_with_unjournaled"] is True
    assert report["journal"]["journal"] == "postgres"


def test_a_postgres_journal_without_a_url_falls_back_to_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENBELL_DATABASE_URL", "postgresql+asyncpg://bench@127.0.0.1/test")
    assert resolve_journal("postgres", None) == "postgresql+asyncpg://bench@127.0.0.1/test"
    assert resolve_journal("postgres", "postgresql+asyncpg://given/db") == (
        "postgresql+asyncpg://given/db"
    )
    monkeypatch.delenv("OPENBELL_DATABASE_URL")
    with pytest.raises(UsageError, match="needs --database-url"):
        resolve_journal("postgres", None)
    with pytest.raises(UsageError, match="sqlite or postgres"):
        resolve_journal("mysql", None)
