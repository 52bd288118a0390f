"""An in-process message bus: publishers hand over batches, each subscriber reads them in order.

The bus knows no message type. Publishing is synchronous and never blocks or drops:
every subscriber owns an unbounded queue, so a slow subscriber costs memory (watch
`pending`), never the publisher's latency. Publishers and subscribers see only the two
protocols below, so a networked bus can take its place without changing them.
"""

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
T_contra = TypeVar("T_contra", contravariant=True)


class SubscriptionClosedError(RuntimeError):
    """The subscription was closed; it will deliver nothing more."""


class Subscription(Protocol[T_co]):
    """One subscriber's ordered view of everything published after it subscribed."""

    @property
    def pending(self) -> int:
        """Messages published but not yet received."""
        ...

    async def receive(self, limit: int) -> Sequence[T_co]:
        """Wait for at least one message; return up to `limit` of them, oldest first."""
        ...

    def close(self) -> None: ...


class Bus(Protocol[T]):
    def publish(self, batch: Sequence[T]) -> None:
        """Hand a batch to every subscriber; returns at once."""
        ...

    def subscribe(self, name: str) -> Subscription[T]: ...


class InProcessSubscription(Generic[T]):
    """A subscriber's queue on an `InProcessBus`."""

    def __init__(self, bus: "InProcessBus[T]", name: str) -> None:
        self.name = name
        self._bus = bus
        self._queue: deque[T] = deque()
        self._ready = asyncio.Event()
        self._closed = False

    @property
    def pending(self) -> int:
        return len(self._queue)

    @property
    def closed(self) -> bool:
        return self._closed

    def deliver(self, batch: Sequence[T]) -> None:
        if batch and not self._closed:
            self._queue.extend(batch)
            self._ready.set()

    async def receive(self, limit: int) -> list[T]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        while not self._queue:
            if self._closed:
                raise SubscriptionClosedError(f"subscription {self.name!r} is closed")
            self._ready.clear()
            await self._ready.wait()
        queue = self._queue
        return [queue.popleft() for _ in range(min(limit, len(queue)))]

    def close(self) -> None:
        """Stop delivery; a waiting `receive` raises once the queue is drained."""
        self._closed = True
        self._bus.unsubscribe(self)
        self._ready.set()


class InProcessBus(Generic[T]):
    """Fan-out to subscribers in the same process and event loop."""

    def __init__(self) -> None:
        self._subscriptions: list[InProcessSubscription[T]] = []

    def publish(self, batch: Sequence[T]) -> None:
        for subscription in self._subscriptions:
            subscription.deliver(batch)

    def subscribe(self, name: str) -> InProcessSubscription[T]:
        """Subscribe from now on: earlier messages are not delivered."""
        subscription = InProcessSubscription(self, name)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: InProcessSubscription[T]) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)
