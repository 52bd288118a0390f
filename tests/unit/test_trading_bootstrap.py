"""Wiring trading to a core: the read model subscribes first, then serves reads and writes."""

from openbell.contracts.commands import (
    DefineAsset,
    Deposit,
    OpenAccount,
    PlaceOrder,
)
from openbell.contracts.enums import OrderStatus, OrderType, Side, TimeInForce
from openbell.contracts.results import Outcome
from openbell.core.adapters.memory import InMemoryJournal
from openbell.core.application.sequencer import Sequencer
from openbell.core.domain.exchange import Exchange
from openbell.platform.bus import InProcessBus
from openbell.shared.time import FixedClock
from openbell.trading.application.ports import OrderQuery
from openbell.trading.bootstrap import build_trading, open_read_model

from builders import listing


async def start_core(bus: InProcessBus[Outcome]) -> Sequencer:
    journal = InMemoryJournal()
    await journal.open()
    sequencer = Sequencer(Exchange(), journal, FixedClock(), publish=bus.publish)
    await sequencer.start()
    for command in (DefineAsset("USD", 2), DefineAsset("ACME", 0), listing(), OpenAccount()):
        await sequencer.execute(command)
    await sequencer.execute(Deposit(1, "USD", 1_000_000, "usd-1"))
    return sequencer


def buy(client_order_id: str) -> PlaceOrder:
    return PlaceOrder(
        1, client_order_id, "ACME", Side.BUY, OrderType.LIMIT, 9_900, 1, TimeInForce.GTC
    )


async def test_the_read_model_hears_outcomes_published_before_trading_is_built():
    bus: InProcessBus[Outcome] = InProcessBus()
    read_model = open_read_model(None, bus)
    assert await read_model.checkpoint() == 0
    sequencer = await start_core(bus)  # the core publishes (or replays) from here on
    await sequencer.execute(buy("early"))
    trading = build_trading(sequencer, sequencer.exchange, read_model)
    await trading.start()
    try:
        [order] = await trading.orders.orders(OrderQuery(1))
        assert (order.client_order_id, order.status) == ("early", OrderStatus.NEW)
        assert trading.ready()
    finally:
        await sequencer.stop()
        await trading.stop()
    assert not trading.ready()
    assert await trading.checkpoint() == sequencer.committed_sequence


async def test_stopping_projects_what_the_core_committed_first():
    bus: InProcessBus[Outcome] = InProcessBus()
    read_model = open_read_model(None, bus)
    sequencer = await start_core(bus)
    trading = build_trading(sequencer, sequencer.exchange, read_model)
    await trading.start()
    for n in range(50):
        await sequencer.execute(buy(f"o{n}"))
    await sequencer.stop()
    await trading.stop()
    assert await read_model.checkpoint() == sequencer.committed_sequence
    assert len(await read_model.store.orders(OrderQuery(1, limit=100))) == 50
