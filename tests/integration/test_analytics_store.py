"""The analytics store in PostgreSQL: idempotent upserts, rollups equal to facts, report reads."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest

from callcenter.analytics.facts import CallOutcome, CompletedCall, build_call
from callcenter.analytics.hours import KYIV, heatmap
from callcenter.analytics.kpi import KpiCounters
from callcenter.analytics.rollup import ALL, IntervalRollup, RollupPolicy, rollup
from callcenter.analytics.sessions import AgentSession, build_sessions
from callcenter.analytics.synthetic import synthetic_day
from callcenter.storage.analytics import AnalyticsStore

DAY = datetime(2026, 3, 3, 0, 0, tzinfo=KYIV)  # a Tuesday
SPAN = (DAY - timedelta(days=1), DAY + timedelta(days=2))


def office_hours(queue: str, at: datetime) -> bool:
    """Mon–Fri 08:00–17:00 Kyiv time."""
    local = at.astimezone(KYIV)
    return local.weekday() < 5 and 8 <= local.hour < 17


POLICY = RollupPolicy(is_open=office_hours)


def _day(seed: int, calls: int) -> tuple[list[CompletedCall], list[AgentSession]]:
    synthetic = synthetic_day(DAY, seed=seed, calls=calls, is_open=office_hours)
    built = [c for c in (build_call(e) for e in synthetic.calls.values()) if c is not None]
    return built, build_sessions(synthetic.agent_events, until=synthetic.end)


def _assert_same_rows(stored: list[IntervalRollup], expected: list[IntervalRollup]) -> None:
    assert [(r.queue, r.start, r.is_open) for r in stored] == [
        (r.queue, r.start, r.is_open) for r in expected
    ]
    for got, want in zip(stored, expected, strict=True):
        for name in KpiCounters.column_names():
            assert getattr(got.counters, name) == pytest.approx(getattr(want.counters, name), abs=1e-6), (
                got.queue,
                got.start,
                name,
            )


async def _clear(pool: Any) -> None:
    await pool.execute("TRUNCATE call_facts, queue_stints, agent_legs, agent_sessions, interval_rollups")


async def test_stored_rollups_equal_pure_rollup_of_the_day(db_pool: Any) -> None:
    """After recording a simulated day, every stored rollup row equals the pure rollup of the facts."""
    await _clear(db_pool)
    calls, sessions = _day(seed=5, calls=600)
    store = AnalyticsStore(db_pool, POLICY)
    assert await store.record_calls(calls) == len(calls)
    for session in sessions:
        assert await store.record_session(session)
    _assert_same_rows(await store.rollups(*SPAN), rollup(calls, sessions, POLICY))
    assert await db_pool.fetchval("SELECT count(*) FROM call_facts") == len(calls)
    assert await db_pool.fetchval("SELECT count(*) FROM queue_stints") == sum(len(c.stints) for c in calls)
    assert await db_pool.fetchval("SELECT count(*) FROM agent_legs") == sum(len(c.legs) for c in calls)


async def test_replay_changes_nothing_and_correction_moves_counts(db_pool: Any) -> None:
    """Recording the same calls again is a no-op; a corrected call replaces its old contribution."""
    await _clear(db_pool)
    calls, sessions = _day(seed=6, calls=200)
    store = AnalyticsStore(db_pool, POLICY)
    await store.record_calls(calls)
    assert await store.record_calls(calls) == 0
    assert all([await store.record_session(s) for s in sessions])
    assert not any([await store.record_session(s) for s in sessions])
    answered = next(c for c in calls if c.fact.outcome is CallOutcome.ANSWERED)
    later = answered.fact.arrived_at + timedelta(hours=3)  # moves the call to another interval
    corrected = dataclasses.replace(
        answered, fact=dataclasses.replace(answered.fact, arrived_at=later, wrap_s=answered.fact.wrap_s + 42)
    )
    assert await store.record_call(corrected)
    expected_calls = [corrected if c.fact.linkedid == answered.fact.linkedid else c for c in calls]
    _assert_same_rows(await store.rollups(*SPAN), rollup(expected_calls, sessions, POLICY))


async def test_concurrent_duplicate_writes_count_once(db_pool: Any) -> None:
    """Five concurrent writes of one call (a replay racing the live stream) count it once."""
    await _clear(db_pool)
    calls, _ = _day(seed=7, calls=20)
    call = next(c for c in calls if c.stints)
    store = AnalyticsStore(db_pool, POLICY)
    results = await asyncio.gather(*(store.record_call(call) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    total = await store.kpis(*SPAN)
    assert (total.calls, total.offered) == (1, 1)


async def test_open_session_grows_without_double_counting(db_pool: Any) -> None:
    """An open session recorded as it grows, then closed, leaves only its final staffed time."""
    await _clear(db_pool)
    synthetic = synthetic_day(DAY, seed=8, calls=1)
    store = AnalyticsStore(db_pool, POLICY)
    agent_events = [e for e in synthetic.agent_events if e.agent == "agent01"]
    for hours in (9, 11, 24):
        (session,) = build_sessions(agent_events, until=DAY + timedelta(hours=hours))
        await store.record_session(session)
    total = await store.kpis(*SPAN)
    assert total.staffed_s == pytest.approx(session.staffed_s)
    assert not session.open


async def test_reports_read_from_rollups(db_pool: Any) -> None:
    """Heatmap, daily trend, KPIs and the abandoned-call list agree with the facts."""
    await _clear(db_pool)
    calls, sessions = _day(seed=9, calls=800)
    store = AnalyticsStore(db_pool, POLICY)
    await store.record_calls(calls)
    for session in sessions:
        await store.record_session(session)
    pure_rows = [r for r in rollup(calls, sessions, POLICY) if r.queue == ALL]
    stored_map = await store.heatmap(*SPAN)
    assert stored_map.cells == heatmap(pure_rows).cells
    assert stored_map.total_calls == len(calls)
    assert stored_map.hours_to_add(weeks=1) == heatmap(pure_rows).hours_to_add(weeks=1)
    trend = await store.daily_trend(*SPAN)
    assert sum(k.calls for _, k in trend) == len(calls)
    assert {d for d, _ in trend} <= {(DAY + timedelta(days=n)).date() for n in range(2)}
    total = await store.kpis(*SPAN)
    assert total.answered == sum(c.fact.outcome is CallOutcome.ANSWERED for c in calls)
    assert total.service_level is not None and 0 < total.service_level < 1
    abandoned = await store.abandoned_calls(*SPAN, limit=10_000)
    assert {f.linkedid for f in abandoned} == {
        c.fact.linkedid for c in calls if c.fact.outcome is CallOutcome.ABANDONED_QUEUE
    }
    assert abandoned == sorted(abandoned, key=lambda f: f.arrived_at, reverse=True)
