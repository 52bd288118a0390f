"""The composition root: the one place that wires the contexts into a running platform.

Start order matters. The read model subscribes to the bus and reports how far it
got; the core then recovers, publishing again every outcome after that point, so
the read model catches up before the first new command. Before the core takes a
command, every record that follows the journal is checked against the journal's
end (`openbell.consistency`): a past in which one is ahead is refused. Stop order is the
reverse: the core drains its inbox and snapshots, then the projector writes what
the core committed, then identity and the database pool close.
"""

from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from openbell import core as _core
from openbell.consistency import (
    IdentityRecords,
    InconsistentPastError,
    JournalEnd,
    TradingRecords,
    check_past,
    checkpoint_finding,
    snapshot_finding,
)
from openbell.contracts.commands import OpenAccount
from openbell.contracts.results import AccountView
from openbell.core.application.recovery import JournalBehindSnapshotError
from openbell.core.bootstrap import (
    Core,
    CoreOptions,
    StoreOptions,
    acknowledged_path,
    hold_writer_lock,
    start_core,
)
from openbell.core.domain.exchange import Exchange
from openbell.identity.adapters import tables as _identity_tables  # noqa: F401  # registers tables
from openbell.identity.bootstrap import Identity, build_identity
from openbell.identity.entrypoints.routes import create_routers as identity_routers
from openbell.migrations import upgrade_database
from openbell.platform.bus import InProcessBus
from openbell.platform.data_dir import secure_data_dir
from openbell.platform.db import create_engine
from openbell.platform.settings import Settings
from openbell.platform.web import create_app
from openbell.shared.time import Clock, SystemClock
from openbell.trading.bootstrap import Trading, build_trading, open_read_model
from openbell.trading.entrypoints.http import create_router as trading_router

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from openbell.contracts.results import Outcome

del _core  # imported for the side effect of registering the core's tables via bootstrap

DESCRIPTION = (
    "Order entry over an LMAX-style core: one writer over the order books and a "
    "double-entry ledger, journaled with group commit. Get a token at POST /oauth/token "
    "(client credentials for programs; authorization code + PKCE at /oauth/authorize for "
    "people), then call /v1 with `Authorization: Bearer <token>`. Prices, "
    "quantities and amounts are decimal strings; errors are RFC 9457 problem+json."
)


class CoreAccounts:
    """Identity's AccountOpener port, answered by the core: a verified trader's account."""

    def __init__(self) -> None:
        self.core: Core | None = None

    async def __call__(self) -> int:
        if self.core is None:
            raise RuntimeError("the core is not running")
        outcome = await self.core.sequencer.execute(OpenAccount())
        if not isinstance(outcome.result, AccountView):
            raise TypeError("the core did not open an account")
        return outcome.result.account_id


@dataclass
class Platform:
    """Every context of openbell, running in this process."""

    settings: Settings
    app: FastAPI
    core: Core
    identity: Identity
    trading: Trading
    engine: AsyncEngine
    _stack: AsyncExitStack

    async def stop(self) -> None:
        await self._stack.aclose()

    async def ready(self) -> bool:
        return (
            self.core.sequencer.running
            and self.core.integrity_ok
            and self.trading.ready()
            and await self.identity.ready()
        )


def secure(settings: Settings) -> None:
    """Secure the data directory and the process umask (see `platform.data_dir`).

    Call it before anything opens a file; it raises DataDirError for a data directory
    production refuses.
    """
    secure_data_dir(settings.data_dir, production=settings.environment == "production")


async def prepare(settings: Settings) -> None:
    """Secure the data directory, then migrate the database to the newest schema."""
    secure(settings)
    await upgrade_database(settings.resolved_database_url)


def core_options(settings: Settings) -> CoreOptions:
    return CoreOptions(
        max_batch=settings.max_batch,
        snapshot_every_commands=settings.snapshot_every_commands,
        snapshot_interval_seconds=settings.snapshot_interval_seconds,
        snapshots_kept=settings.snapshots_kept,
        integrity_check_interval_seconds=settings.integrity_check_interval_seconds,
    )


def journal_end(exchange: Exchange) -> JournalEnd:
    """Where the recovered journal ends: its sequence and the last ids it handed out."""
    return JournalEnd(
        exchange.sequence,
        exchange.counter.next_order_id - 1,
        exchange.counter.next_trade_id - 1,
        exchange.ledger.next_account_id - 1,
    )


async def refuse_a_past_ahead(
    trading: TradingRecords, identity: IdentityRecords, exchange: Exchange
) -> None:
    """Raise InconsistentPastError if the read model or identity is ahead of the journal."""
    await check_past(journal_end(exchange), trading, identity)


async def recover_core(
    settings: Settings,
    clock: Clock,
    bus: "InProcessBus[Outcome]",
    checkpoint: int,
    before_start: "Callable[[Exchange], Awaitable[None]]",
    stores: StoreOptions | None = None,
) -> Core:
    """Recover the core, replaying to the read model after its checkpoint, and start it.

    A snapshot ahead of the journal is one more record ahead of it: refused alike.
    """
    try:
        return await start_core(
            settings.resolved_database_url,
            clock,
            publish=bus.publish,
            replay_after=checkpoint,
            options=core_options(settings),
            stores=stores,
            before_start=before_start,
        )
    except JournalBehindSnapshotError as error:
        found = [snapshot_finding(error.snapshot_sequence, error.journal_end)]
        behind = checkpoint_finding(checkpoint, error.journal_end)
        raise InconsistentPastError([*found, *([behind] if behind else [])]) from error


async def start_platform(settings: Settings, *, clock: Clock | None = None) -> Platform:
    """Take the writer lock, migrate, and start identity, the read model, the core and trading.

    The lock comes before the migration: a second server on a live database refuses
    (JournalLockedError) before it changes anything.
    """
    secure(settings)
    clock = clock or SystemClock()
    url = settings.resolved_database_url
    async with AsyncExitStack() as stack:
        writer_lock = await stack.enter_async_context(hold_writer_lock(url))
        await upgrade_database(url)
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        accounts = CoreAccounts()
        identity = build_identity(settings, engine, clock=clock, accounts=accounts)
        stack.push_async_callback(identity.close)
        await identity.start()
        bus: InProcessBus[Outcome] = InProcessBus()
        read_model = open_read_model(engine, bus)
        stack.push_async_callback(read_model.close)
        checkpoint = await read_model.checkpoint()
        core = await recover_core(
            settings,
            clock,
            bus,
            checkpoint,
            partial(refuse_a_past_ahead, read_model, identity),
            StoreOptions(writer_lock, acknowledged_path(settings.data_dir, url)),
        )
        accounts.core = core
        trading = build_trading(core.sequencer, core.exchange, read_model, clock=clock)
        # Unwound in reverse: the core stops (drains, snapshots), then trading projects
        # what it committed and stops, then identity and the engine close.
        stack.push_async_callback(trading.stop)
        stack.push_async_callback(core.stop)
        await trading.start()
        platform = Platform(settings, FastAPI(), core, identity, trading, engine, stack.pop_all())
    platform.app = create_app(
        settings,
        routers=[*identity_routers(identity), trading_router(trading)],
        readiness=platform.ready,
        token_verifier=identity.verifier,
        description=DESCRIPTION,
    )
    return platform
