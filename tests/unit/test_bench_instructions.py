import shutil

import pytest

from openbell.bench.instructions import ValgrindMissingError, run_instruction_bench, run_mode


def test_both_counted_loops_do_the_same_work():
    ours = run_mode("openbell", 6_000, 3, with_state=True)
    theirs = run_mode("reference", 6_000, 3, with_state=True)
    assert ours == theirs
    assert ours is not None
    assert ours.trades > 0
    assert ours.bid_orders > 0
    assert ours.ask_orders > 0


def test_the_preparation_run_applies_nothing():
    assert run_mode("preparation", 2_000, 3, with_state=True) is None


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be one of"):
        run_mode("everything", 10, 1)


def test_without_valgrind_it_says_so(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(ValgrindMissingError, match="apt-get install valgrind"):
        run_instruction_bench(commands=100)


@pytest.mark.parametrize("commands", [0, -5])
def test_a_non_positive_stream_is_refused(commands):
    with pytest.raises(ValueError, match="positive"):
        run_instruction_bench(commands=commands)
