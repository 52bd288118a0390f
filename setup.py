"""Build script: compiles the core's state machine with mypyc when building a wheel.

`pip install .` (and every wheel) gets the compiled core when a C compiler is
present; an editable install (`pip install -e .`, what `make` uses) stays pure
Python so a changed source file is never shadowed by a stale extension module.
OPENBELL_COMPILE=1 forces compilation, OPENBELL_COMPILE=0 forbids it.
"""

import os
import sys

from setuptools import setup

COMPILED_MODULES = [
    "src/openbell/core/domain/book.py",
    "src/openbell/core/domain/exchange.py",
    "src/openbell/core/domain/instruments.py",
    "src/openbell/core/domain/ledger.py",
    "src/openbell/core/domain/market.py",
]


def _wants_compiled() -> bool:
    choice = os.environ.get("OPENBELL_COMPILE", "auto")
    if choice in ("0", "1"):
        return choice == "1"
    return "editable_wheel" not in sys.argv


def _extensions() -> list[object]:
    if not _wants_compiled():
        return []
    from mypyc.build import mypycify  # noqa: PLC0415  # only needed when compiling

    return list(mypycify(COMPILED_MODULES, opt_level="3"))


setup(ext_modules=_extensions())
