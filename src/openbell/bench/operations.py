"""The command stream as plain tuples, the one format every engine's adapter reads.

The bare reference book here and any other engine timed beside openbell (the
rival engines' adapters in the source tree's `benchmarks/`, outside the wheel)
consume the same operations and report the same `EngineState`, so the harness
can check that they all end where the reference book ends.
"""

from collections.abc import Callable, Sequence
from typing import NamedTuple

from openbell.shared.ids import Symbol

PLACE, CANCEL, REDUCE, MOVE = 0, 1, 2, 3
SYMBOL = Symbol("ACME")
"""The one instrument every benchmark stream trades."""

Operation = tuple[int, int, bool, int, int, int]
"""(code, order id, is buy, price, quantity, time in force); unused fields are 0."""
Call = tuple[Callable[..., object], tuple[object, ...]]
"""One operation bound to an engine's method, built before any timed loop."""


class EngineState(NamedTuple):
    """What an engine reports after a run; engines must agree on it for the same stream."""

    trades: int
    traded_quantity: int
    bid_orders: int
    ask_orders: int
    bid_quantity: int
    ask_quantity: int


def bind_calls(
    operations: Sequence[Operation],
    place: Callable[..., object],
    cancel: Callable[..., object],
    reduce: Callable[..., object],
    move: Callable[..., object],
) -> list[Call]:
    """The stream bound to one engine's four methods, so its timed loop only calls."""
    calls: list[Call] = []
    for code, order_id, is_buy, price, quantity, tif in operations:
        if code == PLACE:
            calls.append((place, (order_id, is_buy, price, quantity, tif)))
        elif code == CANCEL:
            calls.append((cancel, (order_id,)))
        elif code == REDUCE:
            calls.append((reduce, (order_id, quantity)))
        else:
            calls.append((move, (order_id, price)))
    return calls
