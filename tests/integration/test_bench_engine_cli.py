"""`openbell bench engine` as an installed user runs it, and the rival comparison beside it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPENBELL = Path(sys.executable).parent / "openbell"

REPORT_KEYS = {
    "benchmark",
    "engine",
    "core_compiled",
    "generator",
    "seed",
    "mix",
    "accounts",
    "instrument",
    "python",
    "implementation",
    "machine",
    "commands",
    "seconds",
    "commands_per_second",
    "trades",
    "traded_quantity",
    "resting_orders",
    "resting_quantity",
    "latency_us",
    "bytes_per_resting_order",
    "agrees_with_reference",
    "setup_commands",
    "reference",
    "ratios",
    "repeat",
    "agreement",
    "gc_thresholds",
}
"""What the report held before the rival engines left the wheel, but for `rivals`."""


@pytest.fixture
def outside_the_source_tree(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder and an environment from which only the installed openbell is importable."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    probe = subprocess.run(
        [sys.executable, "-c", "import benchmarks"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        check=False,
    )
    assert probe.returncode != 0, "benchmarks/ must not be importable here"
    return tmp_path, env


def test_bench_engine_runs_without_the_benchmarks_tree_and_says_how_to_compare_rivals(
    outside_the_source_tree: tuple[Path, dict[str, str]],
) -> None:
    folder, env = outside_the_source_tree
    done = subprocess.run(
        [
            str(OPENBELL),
            *("bench", "engine", "--commands", "3000", "--repeat", "1", "--json"),
            "--no-compare",  # what scripts passed when the rivals ran here by default
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == REPORT_KEYS
    assert report["agreement"] == {"ok": True, "problems": []}
    assert "python -m benchmarks.engines" in done.stderr


def test_bench_engine_asked_for_the_rivals_says_where_they_went() -> None:
    done = subprocess.run(
        [str(OPENBELL), "bench", "engine", "--compare"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert "python -m benchmarks.engines" in done.stderr


def test_the_rival_comparison_runs_from_the_source_tree() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.engines",
            *("--commands", "3000", "--repeat", "1", "--rivals", "lobby", "--json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == REPORT_KEYS | {"rivals"}
    assert report["rivals"]["lobby"]["agrees_with_reference"] is True
    assert report["agreement"] == {"ok": True, "problems": []}


def test_the_rival_comparison_refuses_an_unknown_engine_with_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.engines", "--rivals", "nope", "--commands", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert "unknown rivals: nope" in done.stderr
