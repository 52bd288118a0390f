"""The composition root: the one place that wires the contexts into a running platform.

Start order matters. The read model subscribes to the bus and reports how far it
got; the core then recovers, publishing again every outcome after that point, so
the read model catches up before the first new command. Stop order is the
reverse: the core drains its inbox and snapshots, then the projector writes what
the core committed, then identity and the database pool close.
"""

from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from openbell import core as _core
from openbell.contracts.commands import OpenAccount
from openbell.contracts.results import AccountView
from openbell.core.bootstrap import Core, CoreOptions, start_core
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
        return self.core.sequencer.running and self.trading.ready() and await self.identity.ready()


async def prepare(settings: Settings) -> None:
    """Secure the data directory, then migrate the database to the newest schema.

    This sets the process umask (see `platform.data_dir`), so call it before anything
    opens a file; it raises DataDirError for a data directory production refuses.
    """
    secure_data_dir(settings.data_dir, production=settings.environment == "production")
    await upgrade_database(settings.resolved_database_url)


def core_options(settings: Settings) -> CoreOptions:
    return CoreOptions(
        max_batch=settings.max_batch,
        snapshot_every_commands=settings.snapshot_every_commands,
        snapshot_interval_seconds=settings.snapshot_interval_seconds,
        snapshots_kept=settings.snapshots_kept,
    )


async def start_platform(settings: Settings, *, clock: Clock | None = None) -> Platform:
    """Prepare the database and start identity, the read model, the core and trading."""
    await prepare(settings)
    clock = clock or SystemClock()
    url = settings.resolved_database_url
    async with AsyncExitStack() as stack:
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
        core = await start_core(
            url,
            clock,
            publish=bus.publish,
            replay_after=checkpoint,
            options=core_options(settings),
        )
        accounts.core = core
        trading = build_trading(core.sequencer, core.exchange, read_model)
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
