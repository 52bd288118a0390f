"""Trading answers reads only while the core still sequences here and its read model answers."""

import asyncio

import pytest

from openbell.core.adapters.memory import InMemoryJournal
from openbell.core.application.sequencer import Sequencer
from openbell.core.domain.exchange import Exchange
from openbell.shared.errors import UnavailableError
from openbell.shared.time import FixedClock
from openbell.trading.application.guard import (
    GuardedCoreReader,
    ReadGuard,
    ReadModelUnavailableError,
    TradingUnavailableError,
)


async def a_sequencer() -> Sequencer:
    journal = InMemoryJournal()
    await journal.open()
    sequencer = Sequencer(Exchange(), journal, FixedClock())
    await sequencer.start()
    return sequencer


async def test_every_read_of_the_core_is_refused_once_the_sequencer_stops():
    sequencer = await a_sequencer()
    core = GuardedCoreReader(sequencer.exchange, ReadGuard(sequencer))
    reads = (
        core.instruments,
        lambda: core.instrument("ACME"),
        lambda: core.balances(1),
        lambda: core.book("ACME", 10),
        core.asset_scales,
        lambda: core.open_order(1),
        lambda: core.order_id_for(1, "c1"),
    )
    for read in reads:
        read()  # answers while the core runs

    await sequencer.stop()

    for read in reads:
        with pytest.raises(TradingUnavailableError):
            read()


async def test_a_failed_read_model_query_is_remembered_until_one_succeeds():
    guard = ReadGuard(await a_sequencer())

    async def failing() -> None:
        raise ReadModelUnavailableError("the read model cannot be read now")

    async def answering() -> int:
        return 7

    with pytest.raises(UnavailableError):
        await guard.read(failing())
    assert not guard.read_model_answers
    assert await guard.read(answering()) == 7
    assert guard.read_model_answers


async def test_after_a_failed_read_a_recheck_reads_in_the_background_until_one_answers():
    guard = ReadGuard(await a_sequencer())
    answers = [False, True]

    async def query() -> None:
        if not answers.pop(0):
            raise ReadModelUnavailableError("the read model cannot be read now")

    guard.recheck(query)  # nothing failed yet: no read
    assert answers == [False, True]
    guard.read_model_answers = False
    guard.recheck(query)
    await asyncio.sleep(0)
    assert not guard.read_model_answers
    guard.recheck(query)
    await asyncio.sleep(0)
    assert guard.read_model_answers
