"""Identifiers and quantities have their own types: mypy refuses one where another belongs.

The types are `typing.NewType`s: free at run time, so the proof that they work is mypy's
verdict on code that swaps them. One mypy run checks every program below.
"""

from pathlib import Path

import pytest
from mypy import api

import openbell

SOURCE = Path(openbell.__file__).parent.parent
IMPORTS = """\
from openbell.contracts.commands import CancelOrder, Deposit, PlaceOrder
from openbell.contracts.enums import OrderType, Side, TimeInForce
from openbell.shared.ids import AccountId, Asset, ClientOrderId, OrderId, PaymentReference, Symbol
from openbell.shared.money import Amount, Price, Quantity

account, order = AccountId(7), OrderId(9)
price, quantity = Price(10_000), Quantity(5)
"""
PROGRAMS = {
    "swapped_price": (
        "PlaceOrder(account, ClientOrderId('c1'), Symbol('ACME'), Side.BUY, OrderType.LIMIT,"
        " quantity, price, TimeInForce.GTC)\n"
    ),
    "swapped_ids": (
        "CancelOrder(order, account)\nDeposit(account, Asset('USD'), 100, PaymentReference('r1'))\n"
    ),
    "well_typed": (
        "PlaceOrder(account, ClientOrderId('c1'), Symbol('ACME'), Side.BUY, OrderType.LIMIT,"
        " price, quantity, TimeInForce.GTC)\n"
        "CancelOrder(account, order)\n"
        "Deposit(account, Asset('USD'), Amount(100), PaymentReference('r1'))\n"
    ),
}


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Each program's mypy errors, in line order."""
    directory = tmp_path_factory.mktemp("typed_ids")
    for name, code in PROGRAMS.items():
        (directory / f"{name}.py").write_text(IMPORTS + code)
    config = directory / "mypy.ini"
    config.write_text(f"[mypy]\nstrict = True\nmypy_path = {SOURCE}\n")
    report, _, _ = api.run(
        [
            "--config-file",
            str(config),
            "--cache-dir",
            str(directory / "cache"),
            *(str(directory / f"{name}.py") for name in PROGRAMS),
        ]
    )
    errors: dict[str, list[str]] = {name: [] for name in PROGRAMS}
    for line in report.splitlines():
        if ": error:" in line:
            errors[Path(line.split(":", 1)[0]).stem].append(line)
    return errors


def test_mypy_refuses_a_quantity_where_a_price_belongs(mypy_errors: dict[str, list[str]]) -> None:
    errors = mypy_errors["swapped_price"]
    assert len(errors) == 2, errors
    assert 'has incompatible type "Quantity"; expected "Price | None"' in errors[0]
    assert 'has incompatible type "Price"; expected "Quantity"' in errors[1]


def test_mypy_refuses_swapped_ids_and_bare_numbers(mypy_errors: dict[str, list[str]]) -> None:
    errors = mypy_errors["swapped_ids"]
    assert len(errors) == 3, errors
    assert 'type "OrderId"; expected "AccountId"' in errors[0]
    assert 'type "AccountId"; expected "OrderId"' in errors[1]
    assert 'type "int"; expected "Amount"' in errors[2]


def test_mypy_accepts_each_value_in_its_own_place(mypy_errors: dict[str, list[str]]) -> None:
    assert mypy_errors["well_typed"] == []
