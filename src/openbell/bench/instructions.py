"""The engine comparison counted in machine instructions, which no neighbour can disturb.

`bench engine` times openbell against the bare book in seconds, and on a shared
machine the seconds move by tens of percent from one round to the next. Counted
instructions do not: valgrind's callgrind counts every instruction a process
executes, and the same program on the same input counts the same whatever else
the machine is doing. The count is not the time (cache misses and branch
mispredictions cost cycles, not instructions), so it complements the timed
ratio rather than replacing it.

Three child processes run the same preparation (the generated stream converted
for both engines, the exchange funded, the reference book's calls built); then
one stops, one applies the stream to openbell and one to the bare book, each in
a plain loop with no clock (openbell's loop counts its trades from the events, as
the bare book counts its own). Subtracting the first count from the other two
leaves what each engine spent on the stream alone.
"""

import gc
import re
import shutil
import subprocess  # nosec B404  # runs valgrind on our own interpreter, fixed argv
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from openbell.bench import engine
from openbell.bench.operations import EngineState
from openbell.bench.workload import generate
from openbell.contracts.events import TradeExecuted
from openbell.core.application.tuning import (
    MIDDLE_GENERATION_THRESHOLD,
    OLD_GENERATION_THRESHOLD,
    YOUNG_GENERATION_THRESHOLD,
)
from openbell.core.domain.exchange import Exchange

MODES = ("preparation", "openbell", "reference")
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


class ValgrindMissingError(RuntimeError):
    """valgrind is not installed, so nothing can be counted."""


def run_instruction_bench(commands: int = 50_000, seed: int = 1) -> dict[str, Any]:
    """Count the instructions each engine spends on the same generated stream."""
    if commands <= 0:
        raise ValueError("commands must be positive")
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise ValgrindMissingError("valgrind is not installed (apt-get install valgrind)")
    # The three counts are independent and unaffected by each other's load: run them at once.
    with ThreadPoolExecutor(max_workers=len(MODES)) as pool:
        futures = {mode: pool.submit(_count, valgrind, mode, commands, seed) for mode in MODES}
        counts = {mode: future.result() for mode, future in futures.items()}
    ours = counts["openbell"] - counts["preparation"]
    reference = counts["reference"] - counts["preparation"]
    if ours <= 0 or reference <= 0:
        raise RuntimeError(f"counts do not make sense: {counts}")
    return {
        "benchmark": "engine-instructions",
        "core": "compiled" if engine.core_is_compiled() else "pure Python",
        "python": sys.version.split()[0],
        "commands": commands,
        "seed": seed,
        "instructions": counts,
        "openbell_instructions_per_command": round(ours / commands),
        "reference_instructions_per_command": round(reference / commands),
        "openbell_vs_reference": round(reference / ours, 3),
        "description": (
            "instructions counted by valgrind's callgrind; the same program and input "
            "count the same on a busy or an idle machine"
        ),
    }


def _count(valgrind: str, mode: str, commands: int, seed: int) -> int:
    argv = [
        valgrind,
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "openbell.bench.instructions",
        mode,
        str(commands),
        str(seed),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        tail = done.stderr.strip().splitlines()[-5:]
        raise RuntimeError(f"counting {mode} failed ({done.returncode}): {' | '.join(tail)}")
    return int(found.group(1))


def run_mode(
    mode: str, commands: int, seed: int, *, with_state: bool = False
) -> EngineState | None:
    """Prepare both engines identically, then run only `mode`'s loop, with no clock.

    With `with_state`, returns the engine's final state, for a test to check that the
    loop did the work; the counted run leaves it out, so only the loop is counted.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    gc.set_threshold(
        YOUNG_GENERATION_THRESHOLD, MIDDLE_GENERATION_THRESHOLD, OLD_GENERATION_THRESHOLD
    )
    records = generate(commands, seed)
    market = engine.Market.for_records(records)
    stream = engine.convert_for_openbell(records, market)
    calls, reference_state = engine.reference_calls(engine.to_operations(records))
    exchange = Exchange()
    apply = engine.plain_apply(exchange)
    sequence = 0
    for command in stream.setup:
        sequence += 1
        apply(command, sequence, sequence)
    gc.collect()
    gc.freeze()
    if mode == "openbell":
        trades = traded = 0
        for command in stream.commands:
            sequence += 1
            for event in apply(command, sequence, sequence).events:
                if type(event) is TradeExecuted:
                    trades += 1
                    traded += event.quantity
        return engine.openbell_state(exchange, trades, traded) if with_state else None
    if mode == "reference":
        for function, arguments in calls:
            function(*arguments)
        return reference_state() if with_state else None
    return None


if __name__ == "__main__":
    run_mode(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
