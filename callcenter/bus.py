"""In-process publish/subscribe for live call events.

The adapters publish what happened (a caller joined a queue, an agent changed state, an appeal was
registered); the wallboard, the agent desk's screen-pop, the metrics and the call-fact writer
subscribe. Each subscriber has its own bounded queue, so a slow consumer (a wallboard on a bad
Wi-Fi) can never hold up a call: when its queue is full the oldest events are dropped for that
subscriber only and it is told how many it missed, so it can re-read a snapshot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

__all__ = ["EventBus", "Missed", "Subscription"]


@dataclass(frozen=True, slots=True)
class Missed:
    """Delivered in place of events a slow subscriber lost; it should resynchronise."""

    count: int


class Subscription:
    """One subscriber's queue; iterate it with ``async for``, close it when done."""

    def __init__(self, bus: EventBus, topics: frozenset[str] | None, maxsize: int) -> None:
        self._bus = bus
        self.topics = topics
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize)
        self._missed = 0
        self.closed = False

    def _offer(self, topic: str, event: Any) -> None:
        if self.topics is not None and topic not in self.topics:
            return
        if self._queue.full():
            self._queue.get_nowait()
            self._missed += 1
        self._queue.put_nowait((topic, event))

    async def get(self) -> tuple[str, Any]:
        """The next ``(topic, event)``; a ``("missed", Missed(n))`` first if events were dropped."""
        if self._missed:
            missed, self._missed = self._missed, 0
            return "missed", Missed(missed)
        return await self._queue.get()

    def get_nowait(self) -> tuple[str, Any] | None:
        if self._missed:
            missed, self._missed = self._missed, 0
            return "missed", Missed(missed)
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def close(self) -> None:
        self.closed = True
        self._bus._subscriptions.discard(self)

    async def __aiter__(self) -> AsyncIterator[tuple[str, Any]]:
        while not self.closed:
            yield await self.get()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Fan-out of ``(topic, event)`` pairs to every subscription whose topics match."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def publish(self, topic: str, event: Any) -> None:
        """Deliver to every subscriber now; never blocks, never raises for a subscriber's sake."""
        for subscription in tuple(self._subscriptions):
            subscription._offer(topic, event)

    def subscribe(
        self, topics: frozenset[str] | set[str] | None = None, *, maxsize: int = 1000
    ) -> Subscription:
        """A new subscription to ``topics`` (None: everything)."""
        subscription = Subscription(self, frozenset(topics) if topics is not None else None, maxsize)
        self._subscriptions.add(subscription)
        return subscription

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)
