import json
import os
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from openbell.bench import api, http_load
from openbell.bench.api import (
    MAX_LOTS,
    MAX_TICKS_FROM_MID,
    BenchSetupError,
    Cancel,
    Market,
    OrderMix,
    Place,
    read_credentials,
    run_api_bench,
)
from openbell.bench.http_load import (
    MissingDependencyError,
    Phase,
    Tally,
    latency_summary,
    own_cpu_seconds,
    per_second,
    percentile,
    process_cpu_seconds,
)

MID = 15_000


def test_percentile_takes_the_nearest_rank():
    values = [float(value) for value in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 90) == 90
    assert percentile(values, 99) == 99
    assert percentile(values, 99.9) == 100
    assert percentile([7.0], 99.9) == 7.0


def test_percentile_of_nothing_is_an_error():
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_latency_summary_is_in_milliseconds_and_empty_without_samples():
    summary = latency_summary([0.003, 0.001, 0.002, 0.004])
    assert summary == {"p50": 2.0, "p90": 4.0, "p99": 4.0, "p999": 4.0}
    assert latency_summary([]) == {"p50": None, "p90": None, "p99": None, "p999": None}


def test_rates_are_zero_when_no_time_passed():
    assert per_second(10, 0.0) == 0.0
    assert per_second(10, 4.0) == 2.5


def test_tally_counts_statuses_and_names_errors_by_kind():
    tally = Tally()
    tally.record("place", 201, 0.001, None)
    tally.record("place", 201, 0.002, None)
    tally.record("cancel", 422, 0.001, "order_not_open")
    tally.record("place", 503, 0.001, "overloaded")
    tally.transport_error("cancel", "ServerDisconnectedError")
    assert tally.requests == 5
    assert tally.count("place", "201") == 2
    assert tally.status_counts() == {
        "place": {"201": 2, "503": 1},
        "cancel": {"422": 1, "transport": 1},
    }
    assert tally.error_summary() == {
        "total": 3,
        "server_errors_5xx": 1,
        "by_kind": {
            "cancel 422 order_not_open": 1,
            "place 503 overloaded": 1,
            "cancel transport ServerDisconnectedError": 1,
        },
    }
    assert len(tally.latencies["place"]) == 3


def test_a_phase_stops_handing_out_requests_when_its_budget_is_spent():
    phase = Phase(deadline=float("inf"), budget=2)
    assert [phase.go(), phase.go(), phase.go()] == [True, True, False]


def test_a_phase_stops_at_its_deadline():
    assert not Phase(deadline=0.0, budget=10).go()


def test_own_cpu_time_is_readable_and_another_process_through_proc():
    assert own_cpu_seconds() >= 0
    assert process_cpu_seconds(None) is None
    if Path(f"/proc/{os.getpid()}/stat").exists():
        seconds = process_cpu_seconds(os.getpid())
        assert seconds is not None
        assert seconds >= 0
    assert process_cpu_seconds(2**22 + 12345) is None


def actions(seed, resting_counts):
    mix = OrderMix(MID, seed=seed)
    return [mix.next_action(resting) for resting in resting_counts]


def test_the_mix_is_deterministic_for_a_seed():
    counts = [0, 1, 2, 3, 5, 8, 0, 4] * 50
    assert actions(7, counts) == actions(7, counts)
    assert actions(7, counts) != actions(8, counts)


def test_the_mix_cancels_only_what_rests_and_always_at_the_cap():
    mix = OrderMix(MID, seed=3, max_resting=4)
    assert all(isinstance(mix.next_action(0), Place) for _ in range(1_000))
    assert all(isinstance(mix.next_action(4), Cancel) for _ in range(100))
    cancels = sum(isinstance(mix.next_action(2), Cancel) for _ in range(10_000))
    assert 2_200 < cancels < 2_800  # CANCEL_SHARE is a quarter


def test_passive_orders_rest_on_their_side_and_the_others_cross_the_mid():
    mix = OrderMix(MID, seed=11)
    placements = [place for _ in range(20_000) if isinstance(place := mix.next_action(0), Place)]
    assert len(placements) == 20_000
    kinds = Counter(place.intent for place in placements)
    assert 0.57 < kinds["passive"] / len(placements) < 0.63
    assert 0.17 < kinds["crossing"] / len(placements) < 0.23
    assert 0.17 < kinds["ioc"] / len(placements) < 0.23
    for place in placements:
        above_mid = place.price_ticks > MID
        assert above_mid == ((place.side == "buy") != (place.intent == "passive"))
        assert 1 <= abs(place.price_ticks - MID) <= MAX_TICKS_FROM_MID
        assert 1 <= place.lots <= MAX_LOTS
        assert place.time_in_force == ("IOC" if place.intent == "ioc" else "GTC")


def test_the_market_writes_prices_and_quantities_as_the_api_wants_them():
    market = Market.from_instrument(
        {"symbol": "ACME", "tick_size": "0.01", "lot_size": "1", "reference_price": "150.00"}
    )
    assert market == Market("ACME", Decimal("0.01"), Decimal(1), MID)
    assert market.price(15_001) == "150.01"
    assert market.price(MID) == "150.00"
    assert market.quantity(3) == "3"


def test_credentials_are_read_in_file_order(tmp_path):
    path = tmp_path / "demo-clients.json"
    rows = [
        {"name": "alice", "client_id": "a", "client_secret": "sa"},
        {"name": "bob", "client_id": "b", "client_secret": "sb"},
    ]
    path.write_text(json.dumps(rows))
    assert [trader.name for trader in read_credentials(path)] == ["alice", "bob"]


@pytest.mark.parametrize("text", ["[]", "{", '[{"name": "alice"}]'])
def test_unusable_credentials_are_a_setup_error(tmp_path, text):
    path = tmp_path / "demo-clients.json"
    path.write_text(text)
    with pytest.raises(BenchSetupError):
        read_credentials(path)


def test_a_server_given_by_url_needs_its_credentials():
    pytest.importorskip("aiohttp")
    with pytest.raises(BenchSetupError, match="credentials"):
        run_api_bench(url="http://127.0.0.1:9", clients=1, seconds=1)


def test_without_aiohttp_the_benchmark_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(http_load, "_AIOHTTP_MISSING", ImportError("No module named 'aiohttp'"))
    with pytest.raises(MissingDependencyError, match=r"openbell\[bench\]"):
        run_api_bench(clients=1, seconds=1)


@pytest.mark.parametrize(("clients", "seconds"), [(0, 1.0), (2_000, 1.0), (1, 0.0), (1, 1e6)])
def test_out_of_range_arguments_are_refused(clients, seconds):
    with pytest.raises(ValueError):
        run_api_bench(clients=clients, seconds=seconds)


@pytest.mark.slow
def test_a_short_run_against_a_self_started_server_places_orders_and_keeps_the_ledger():
    pytest.importorskip("aiohttp")
    result = run_api_bench(clients=4, seconds=1.0)
    json.dumps(result)  # the report is JSON-able
    assert result["server"]["self_started"] is True
    assert result["server"]["stop"] == {"exit_code": 0, "killed": False}
    with pytest.raises(ProcessLookupError):
        os.kill(result["server"]["pid"], 0)
    baseline, orders = result["baseline"], result["orders"]
    assert baseline["requests"] > 0
    assert baseline["requests_per_second"] > 0
    assert set(baseline["latency_ms"]) == {"p50", "p90", "p99", "p999"}
    assert orders["placed"] > 0
    assert set(orders["latency_ms"]) == {"place", "cancel"}
    assert orders["status_counts"]["place"]["201"] == orders["placed"]
    assert orders["errors"]["server_errors_5xx"] == 0
    assert baseline["errors"]["server_errors_5xx"] == 0
    assert result["ratio_orders_to_baseline"] is not None
    assert result["environment"]["cpu_count"] == os.cpu_count()
    assert result["ledger"]["passed"] is True
    assert not any("5xx" in warning for warning in result["warnings"])


def test_the_self_started_server_admits_every_worker_from_one_address(monkeypatch):
    # All workers connect from 127.0.0.1; the per-address cap must not refuse the largest run.
    monkeypatch.delenv("OPENBELL_MAX_CONNECTIONS_PER_CLIENT", raising=False)
    environment = api._isolated_environment()
    assert int(environment["OPENBELL_MAX_CONNECTIONS_PER_CLIENT"]) > api.MAX_CLIENTS
