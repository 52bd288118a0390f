"""`openbell recover --rebuild-read-model`: the trading read model rebuilt from the journal.

When start-up refuses because the read model is ahead of the journal, and the journal
is the record to trust, the read model is emptied and every outcome is projected
again from sequence 1. The core is opened as the journal's one writer, so a running
server makes this refuse (JournalLockedError) rather than pull the read model from
under it. Identity's references to accounts are not derived from the journal and are
not rebuilt: docs/recovery.md says what an operator does about them.
"""

import asyncio
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy.ext.asyncio import AsyncEngine

from openbell.app import core_options, secure
from openbell.core.bootstrap import (
    StoreOptions,
    accept_journal,
    acknowledged_path,
    hold_writer_lock,
    start_core,
)
from openbell.core.domain.exchange import Exchange
from openbell.migrations import upgrade_database
from openbell.platform.bus import InProcessBus
from openbell.platform.db import create_engine
from openbell.platform.settings import Settings
from openbell.shared.ids import SequenceNumber
from openbell.shared.time import SystemClock
from openbell.trading.application.ports import ReadModelExtent
from openbell.trading.bootstrap import ReadModel, open_read_model

if TYPE_CHECKING:
    from openbell.contracts.results import Outcome

PROGRESS_SECONDS = 5.0


class Rebuilt(NamedTuple):
    """What the read model reached before and after the rebuild."""

    before: ReadModelExtent
    after: ReadModelExtent
    journal_end: SequenceNumber


async def rebuild_read_model(settings: Settings) -> Rebuilt:
    """Empty the trading read model and project the whole journal into it again.

    The writer lock comes first, as for `openbell up`: beside a running server this
    refuses (JournalLockedError) before it migrates or changes anything.
    """
    secure(settings)
    url = settings.resolved_database_url
    async with hold_writer_lock(url) as lock:
        await upgrade_database(url)
        engine = create_engine(url)
        try:
            return await _rebuild(settings, engine, StoreOptions(writer_lock=lock))
        finally:
            await engine.dispose()


async def _rebuild(settings: Settings, engine: AsyncEngine, stores: StoreOptions) -> Rebuilt:
    bus: InProcessBus[Outcome] = InProcessBus()
    read_model = open_read_model(engine, bus)
    try:
        before = await read_model.extent()

        async def empty(_exchange: Exchange) -> None:
            await read_model.empty()  # under the writer lock, before the projector starts

        core = await start_core(
            settings.resolved_database_url,
            SystemClock(),
            publish=bus.publish,
            replay_after=0,
            options=core_options(settings),
            stores=stores,
            before_start=empty,
        )
        end = core.sequencer.committed_sequence
        try:
            await _project_to(read_model, end)
            # Trusting the journal includes its end: the acknowledged mark follows it.
            url = settings.resolved_database_url
            await accept_journal(url, acknowledged_path(settings.data_dir, url))
        finally:
            await core.stop()
            await read_model.projector.stop()
        return Rebuilt(before, await read_model.extent(), end)
    finally:
        await read_model.close()


async def _project_to(read_model: ReadModel, sequence: SequenceNumber) -> None:
    """Run the projector until it has written everything up to `sequence`."""
    projector = read_model.projector
    await projector.start()
    while not await projector.wait_for(sequence, PROGRESS_SECONDS):
        if not projector.running:
            raise RuntimeError("the projector stopped before the read model was rebuilt")
        await asyncio.sleep(0)
