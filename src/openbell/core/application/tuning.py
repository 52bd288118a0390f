"""Process tuning for the core: a garbage collector that does not stall the sequencer.

The core allocates a few short-lived tuples per command (events, views, outcomes),
freed at once by reference counting; CPython's default collector would still run
a young-generation pass every 700 allocations and, every hundred of those, walk
every live order. Long-lived state is frozen out of the collector after recovery
and the young generation is collected rarely. Cycles are still collected, later.
"""

import gc

YOUNG_GENERATION_THRESHOLD = 50_000
MIDDLE_GENERATION_THRESHOLD = 20
OLD_GENERATION_THRESHOLD = 100


def tune_garbage_collector() -> None:
    """Freeze what exists now (the recovered state) and collect young objects rarely."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(
        YOUNG_GENERATION_THRESHOLD, MIDDLE_GENERATION_THRESHOLD, OLD_GENERATION_THRESHOLD
    )
