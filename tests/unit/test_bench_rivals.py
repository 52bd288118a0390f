"""The rival engines' adapters, run from the source tree's benchmarks/ (not the wheel)."""

import pytest

from benchmarks import rivals
from benchmarks.engines import compare_rivals
from openbell.bench.engine import (
    UsageError,
    reference_calls,
    run_engine_bench,
    time_calls,
    to_operations,
)
from openbell.bench.workload import parse_workload

HAND_MADE = [
    '{"op":"place","id":1,"account":1,"side":"buy","price":100,"quantity":5,"tif":"GTC"}',
    '{"op":"place","id":2,"account":3,"side":"buy","price":100,"quantity":5,"tif":"GTC"}',
    '{"op":"place","id":3,"account":2,"side":"sell","price":102,"quantity":4,"tif":"GTC"}',
    '{"op":"reduce","id":1,"account":1,"quantity":2}',
    '{"op":"place","id":4,"account":4,"side":"sell","price":99,"quantity":4,"tif":"IOC"}',
    '{"op":"place","id":5,"account":6,"side":"sell","price":100,"quantity":50,"tif":"FOK"}',
    '{"op":"move","id":3,"account":2,"price":101}',
    '{"op":"place","id":6,"account":5,"side":"buy","price":101,"quantity":1,"tif":"FOK"}',
    '{"op":"cancel","id":2,"account":3}',
    '{"op":"place","id":7,"account":7,"side":"buy","price":99,"quantity":3,"tif":"GTC"}',
]


@pytest.mark.parametrize("name", sorted(rivals.RIVALS))
def test_each_installed_rival_agrees_on_a_small_hand_made_stream(name: str) -> None:
    try:
        rival = rivals.create(name)
    except rivals.Unavailable as unavailable:
        pytest.skip(str(unavailable))
    records = parse_workload(HAND_MADE)
    try:
        with rivals.quiet_logging():
            for function, arguments in rival.calls(to_operations(records)):
                function(*arguments)
        state = rival.state()
    finally:
        rival.close()
    expected = time_calls(reference_calls, to_operations(records), budget_ns=None).state
    assert (state.traded_quantity, state.bid_quantity, state.ask_quantity) == (
        expected.traded_quantity,
        expected.bid_quantity,
        expected.ask_quantity,
    )


def test_rival_comparison_adds_its_section_to_the_engine_report() -> None:
    report = run_engine_bench(
        commands=3_000,
        seed=2,
        memory_orders=0,
        repeat=1,
        compare_with=compare_rivals(["lobby", "lightmatchingengine"]),
    )
    section = report["rivals"]
    assert set(section) == {"lobby", "lightmatchingengine", "not_benchmarked"}
    for name in ("lobby", "lightmatchingengine"):
        assert section[name]["agrees_with_reference"] is True
        assert section[name]["commands"] == 3_000
        assert section[name]["openbell_vs_this"] > 0
    assert report["agreement"] == {"ok": True, "problems": []}


def test_a_rival_out_of_time_is_compared_on_the_prefix_it_ran() -> None:
    report = run_engine_bench(
        commands=3_000,
        seed=2,
        memory_orders=0,
        repeat=1,
        compare_with=compare_rivals(["lobby"], budget_seconds=0),
    )
    lobby = report["rivals"]["lobby"]
    assert lobby["partial"] is True
    assert 0 < lobby["commands"] < 3_000
    assert "agrees_with_reference" not in lobby
    assert lobby["ratio_basis"].startswith("sum of per-command times over the first")


def test_an_unknown_rival_is_refused_before_anything_runs() -> None:
    with pytest.raises(UsageError, match="unknown rivals: nope"):
        compare_rivals(["lobby", "nope"])
