"""The instruction-count benchmark under the real valgrind."""

import shutil

import pytest

from openbell.bench.instructions import run_instruction_bench

# Under valgrind Python runs some fifty times slower: on a loaded 2-core machine the three
# counts took 277 s, too close to the suite's 300 s per-test timeout.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_valgrind_counts_each_engine_on_the_same_stream():
    if shutil.which("valgrind") is None:
        pytest.fail("valgrind is part of the machine's toolset; install it with apt-get")
    report = run_instruction_bench(commands=3_000, seed=2)
    counts = report["instructions"]
    assert counts["openbell"] > counts["preparation"]
    assert counts["reference"] > counts["preparation"]
    assert report["openbell_instructions_per_command"] > 0
    assert report["reference_instructions_per_command"] > 0
    assert 0 < report["openbell_vs_reference"] < 5
