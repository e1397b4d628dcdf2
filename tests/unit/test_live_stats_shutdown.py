"""Stopping the live stats while events keep arriving always ends (a Ctrl-C once hung the demo)."""

from __future__ import annotations

import asyncio

from callcenter.bus import EventBus
from callcenter.services.live_events import TOPIC_CALLS, CallArrived
from callcenter.services.live_stats import LiveStats, LiveStatsSettings


async def test_stop_ends_even_when_an_event_is_ready_at_the_same_moment() -> None:
    """Many start/stop cycles under a stream of events: every stop returns within its bound.

    On Python 3.11 ``asyncio.wait_for`` returns a result that raced with a cancel and swallows the
    cancel, so a consuming loop built on it can outlive ``stop()`` forever."""
    bus = EventBus()
    running = True

    async def publish() -> None:
        n = 0
        while running:
            n += 1
            bus.publish(TOPIC_CALLS, CallArrived(f"1.{n}", f"1.{n}", None, None, "hotline", float(n)))
            await asyncio.sleep(0)

    publisher = asyncio.create_task(publish())
    try:
        for _ in range(60):
            live = LiveStats(bus, settings=LiveStatsSettings(refresh_s=0.001, min_interval_s=0.0))
            await live.start()
            await asyncio.sleep(0.002)
            await asyncio.wait_for(live.stop(), 2.0)
    finally:
        running = False
        await publisher
