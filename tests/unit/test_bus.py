"""The in-process event bus: topic filtering, fan-out, and slow subscribers that never block."""

from __future__ import annotations

from callcenter.bus import EventBus, Missed


async def test_each_subscriber_gets_its_topics_in_order() -> None:
    """Events reach every matching subscriber, in publication order."""
    bus = EventBus()
    everything = bus.subscribe()
    queues_only = bus.subscribe({"queue"})
    bus.publish("queue", 1)
    bus.publish("agent", 2)
    bus.publish("queue", 3)
    assert [await everything.get() for _ in range(3)] == [("queue", 1), ("agent", 2), ("queue", 3)]
    assert [await queues_only.get() for _ in range(2)] == [("queue", 1), ("queue", 3)]
    assert queues_only.get_nowait() is None


def test_a_full_subscriber_loses_its_oldest_events_and_is_told() -> None:
    """Publishing never blocks: a full queue drops its oldest events and reports how many."""
    bus = EventBus()
    slow = bus.subscribe(maxsize=2)
    fast = bus.subscribe(maxsize=10)
    for n in range(5):
        bus.publish("t", n)
    assert slow.get_nowait() == ("missed", Missed(3))
    assert slow.get_nowait() == ("t", 3)
    assert slow.get_nowait() == ("t", 4)
    assert [fast.get_nowait() for _ in range(5)] == [("t", n) for n in range(5)]


def test_closed_subscriptions_receive_nothing() -> None:
    """Closing a subscription removes it from the fan-out."""
    bus = EventBus()
    with bus.subscribe() as sub:
        assert bus.subscriber_count == 1
    bus.publish("t", 1)
    assert bus.subscriber_count == 0 and sub.get_nowait() is None
