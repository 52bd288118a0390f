"""`openbell bench auth` runs every phase on the real identity code and reports sane numbers."""

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from openbell.bench.auth import run_auth_bench
from openbell.cli import app
from openbell.platform.settings import Settings

FAST: dict[str, Any] = {
    "argon2_time_cost": 1,
    "argon2_memory_cost_kib": 64,
    "argon2_parallelism": 1,
}


def test_a_short_run_reports_every_phase_without_errors():
    report = run_auth_bench(
        seconds=0.2, workers=4, users=2, verify_tokens=50, settings=Settings(**FAST)
    )
    for phase in ("login_surge", "client_credentials", "refresh"):
        assert report[phase]["errors"] == 0, phase
        assert report[phase]["per_second"] > 0, phase
    assert report["argon2"]["hash_ms"] > 0
    verification = report["verification"]
    assert verification["cached_per_second"] > verification["uncached_per_second"] > 0
    assert report["summary"]["verify_us_per_request"] == verification["cached_us"]
    assert report["parameters"]["argon2_memory_cost_kib"] == 64


def test_nonsense_parameters_are_refused():
    with pytest.raises(ValueError):
        run_auth_bench(seconds=0)


def test_the_command_prints_json(monkeypatch):
    for name, value in FAST.items():
        monkeypatch.setenv(f"OPENBELL_{name.upper()}", str(value))
    result = CliRunner().invoke(
        app, ["bench", "auth", "--json", "--seconds", "0.1", "--workers", "2", "--users", "1"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"]["logins_per_second"] > 0
