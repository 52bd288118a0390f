"""Demo data for `openbell up --demo`: two equities quoted in USD and two funded traders.

Seeding is idempotent: assets and instruments are defined only when missing,
deposits carry fixed references (the core applies a reference once), and the
traders' credentials are reused while the file that holds them still works.
"""

import json
import os
from pathlib import Path

from openbell.contracts.commands import Command, DefineAsset, Deposit, ListInstrument, OpenAccount
from openbell.contracts.results import AccountView, Outcome, Rejected
from openbell.core.bootstrap import Core
from openbell.identity.bootstrap import Identity
from openbell.identity.domain.errors import InvalidClientError
from openbell.shared.ids import AccountId, Asset, PaymentReference, Symbol
from openbell.shared.money import Amount, Price, Quantity

CREDENTIALS_FILE = "demo-clients.json"
DEMO_SCOPES = ("read", "trade")

USD, ACME, BOLT = Asset("USD"), Asset("ACME"), Asset("BOLT")
ASSETS = (DefineAsset(USD, 2), DefineAsset(ACME, 0), DefineAsset(BOLT, 0))
INSTRUMENTS = tuple(
    ListInstrument(
        Symbol(base),
        base,
        USD,
        "0.01",
        "1",
        Quantity(1),
        Quantity(100_000),
        Price(price),
        1_000,
        5,
        10,
    )
    for base, price in ((ACME, 15_000), (BOLT, 4_250))
)
TRADERS = {
    "alice": {USD: Amount(100_000_000), ACME: Amount(5_000), BOLT: Amount(5_000)},  # $1,000,000
    "bob": {USD: Amount(100_000_000), ACME: Amount(5_000), BOLT: Amount(5_000)},
}


class DemoSeedError(RuntimeError):
    """The core refused part of the demo data."""


async def seed_demo(core: Core, identity: Identity, data_dir: Path) -> Path:
    """Define the demo market and traders; return the file holding the traders' credentials."""
    for definition in ASSETS:
        if definition.asset not in core.exchange.assets:
            await _run(core, definition)
    for listing in INSTRUMENTS:
        if core.exchange.instrument(listing.symbol) is None:
            await _run(core, listing)
    path = data_dir / CREDENTIALS_FILE
    saved = _load(path)
    credentials = []
    for name, deposits in TRADERS.items():
        client_id, secret, account_id = await _trader(core, identity, name, saved.get(name))
        for asset, amount in deposits.items():
            reference = PaymentReference(f"demo-{name}-{asset}")
            await _run(core, Deposit(account_id, asset, amount, reference))
        credentials.append({"name": name, "client_id": client_id, "client_secret": secret})
    _write_private(path, json.dumps(credentials, indent=2) + "\n")
    return path


async def _trader(
    core: Core, identity: Identity, name: str, saved: dict[str, str] | None
) -> tuple[str, str, AccountId]:
    """The trader's working credentials: the saved ones if they still work, else new ones."""
    existing = [c for c in await identity.clients.list_clients() if c.name == f"demo:{name}"]
    active = [c for c in existing if c.revoked_at is None]
    if saved is not None:
        try:
            client = await identity.clients.authenticate(saved["client_id"], saved["client_secret"])
        except InvalidClientError:
            pass
        else:
            if client.account_id is not None:
                return saved["client_id"], saved["client_secret"], AccountId(client.account_id)
    account_id = next((AccountId(c.account_id) for c in existing if c.account_id is not None), None)
    if account_id is None:
        opened = await _run(core, OpenAccount())
        if not isinstance(opened.result, AccountView):
            raise DemoSeedError("the core did not open an account")
        account_id = opened.result.account_id
    for client in active:
        await identity.clients.revoke_client(client.client_id)
    issued = await identity.clients.create_client(
        name=f"demo:{name}", scopes=DEMO_SCOPES, account_id=account_id
    )
    return issued.client.client_id, issued.client_secret, account_id


async def _run(core: Core, command: Command) -> Outcome:
    outcome = await core.sequencer.execute(command)
    if isinstance(outcome.result, Rejected):
        raise DemoSeedError(f"{type(command).__name__} refused: {outcome.result.reason.value}")
    return outcome


def _load(path: Path) -> dict[str, dict[str, str]]:
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(rows, list):
        return {}
    return {
        row["name"]: row
        for row in rows
        if isinstance(row, dict) and {"name", "client_id", "client_secret"} <= row.keys()
    }


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, never exposing it with wider permissions."""
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
