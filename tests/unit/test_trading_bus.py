"""The in-process bus the core publishes outcome batches to and the projector reads from."""

import asyncio

import pytest

from openbell.platform.bus import InProcessBus, SubscriptionClosedError


async def test_each_subscriber_receives_every_batch_in_order():
    bus: InProcessBus[int] = InProcessBus()
    first, second = bus.subscribe("first"), bus.subscribe("second")
    bus.publish([1, 2])
    bus.publish([3])
    assert await first.receive(10) == [1, 2, 3]
    assert await second.receive(10) == [1, 2, 3]


async def test_receive_returns_at_most_the_limit_and_keeps_the_rest():
    bus: InProcessBus[int] = InProcessBus()
    subscription = bus.subscribe("s")
    bus.publish(list(range(5)))
    assert await subscription.receive(2) == [0, 1]
    assert subscription.pending == 3
    assert await subscription.receive(10) == [2, 3, 4]


async def test_publish_never_blocks_or_drops_for_a_slow_subscriber():
    bus: InProcessBus[int] = InProcessBus()
    subscription = bus.subscribe("slow")
    for start in range(0, 100_000, 1_000):
        bus.publish(list(range(start, start + 1_000)))
    assert subscription.pending == 100_000
    assert await subscription.receive(100_000) == list(range(100_000))


async def test_a_waiting_receiver_wakes_when_a_batch_is_published():
    bus: InProcessBus[str] = InProcessBus()
    subscription = bus.subscribe("s")
    waiting = asyncio.create_task(subscription.receive(10))
    await asyncio.sleep(0)
    assert not waiting.done()
    bus.publish(["hello"])
    assert await asyncio.wait_for(waiting, 1) == ["hello"]


async def test_a_late_subscriber_gets_only_what_is_published_after_it():
    bus: InProcessBus[int] = InProcessBus()
    bus.publish([1])
    subscription = bus.subscribe("late")
    bus.publish([2])
    assert await subscription.receive(10) == [2]


async def test_a_closed_subscription_drains_then_refuses_and_stops_receiving():
    bus: InProcessBus[int] = InProcessBus()
    subscription = bus.subscribe("s")
    bus.publish([1])
    subscription.close()
    bus.publish([2])
    assert bus.subscribers == 0
    assert await subscription.receive(10) == [1]
    with pytest.raises(SubscriptionClosedError):
        await subscription.receive(10)


async def test_closing_wakes_a_waiting_receiver():
    bus: InProcessBus[int] = InProcessBus()
    subscription = bus.subscribe("s")
    waiting = asyncio.create_task(subscription.receive(10))
    await asyncio.sleep(0)
    subscription.close()
    with pytest.raises(SubscriptionClosedError):
        await asyncio.wait_for(waiting, 1)
