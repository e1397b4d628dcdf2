"""The wallboard's figures equal the reports' figures for the same calls (one set of KPI definitions).

The scripted day of ``tests/unit/test_live_stats.py`` is published on one bus that both the
call-fact writer (facts and rollups in PostgreSQL, what reports read) and ``LiveStats`` (the
wallboard) subscribe to; the report for today read back from the store must give the same
counters and the same SL, ASA, AHT and abandon rate as the board.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import fields
from datetime import timedelta
from typing import Any

import pytest

from callcenter.analytics.kpi import KpiCounters
from callcenter.analytics.rollup import ALL
from callcenter.bus import EventBus
from callcenter.services.facts_writer import FactsWriter
from callcenter.services.live_stats import LiveStats, day_start
from callcenter.storage.analytics import AnalyticsStore
from tests.unit.test_live_stats import Script

#: Agent-seconds staffed come from agent sessions, which the board does not show.
NOT_ON_THE_BOARD = {"staffed_s"}


async def test_board_and_report_agree(db_pool: Any) -> None:
    """Every call counter and KPI of 'general' and of the whole line is the same on both sides."""
    bus = EventBus()
    store = AnalyticsStore(db_pool)
    facts = FactsWriter(bus, store)
    live = LiveStats(bus)
    await facts.start()
    await live.start()
    try:
        now = time.time()
        today = day_start(now)
        # Ten minutes ago, unless that is yesterday: then just after midnight.
        script = Script(max(now - 600, today.timestamp() + 1), sink=bus.publish)
        script.scenario()
        script.arrive("c5", 200)
        script.queue("c5", 201)
        script.finish("c5", "abandoned_queue", 290)
        await facts.drain()
        for _ in range(100):
            if live.counters(ALL).offered == 5:
                break
            await asyncio.sleep(0.02)
        for queue in ("general", ALL):
            report = await store.kpis(today, today + timedelta(days=1), queue)
            board = live.counters(queue)
            for f in fields(KpiCounters):
                if f.name not in NOT_ON_THE_BOARD:
                    assert getattr(board, f.name) == pytest.approx(getattr(report, f.name)), (queue, f.name)
            assert (board.offered, board.answered, board.abandoned) == (5, 2, 2)
            for kpi in ("service_level", "asa_s", "aht_s", "abandon_rate"):
                assert getattr(board, kpi) == pytest.approx(getattr(report, kpi)), (queue, kpi)
        state = live.state()["queues"]["general"]
        assert state["service_level"] == pytest.approx(0.25)  # 1 in target / (2 answered + 2 abandoned)
    finally:
        await live.stop()
        await facts.stop()
