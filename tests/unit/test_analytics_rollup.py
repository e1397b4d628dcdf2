"""Interval rollups, heatmap and staffing over a seeded synthetic day, checked against the facts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.analytics.facts import CallOutcome, CompletedCall, build_call
from callcenter.analytics.hours import KYIV, HeatCell, Heatmap, heatmap
from callcenter.analytics.kpi import KpiCounters, StintOutcome, answered_within_target
from callcenter.analytics.rollup import (
    ALL,
    IntervalRollup,
    RollupPolicy,
    interval_start,
    rollup,
    split_by_interval,
)
from callcenter.analytics.sessions import AgentSession, build_sessions
from callcenter.analytics.staffing import StaffingStatus, staffing
from callcenter.analytics.synthetic import synthetic_day

DAY = datetime(2026, 3, 2, 0, 0, tzinfo=KYIV)  # a Monday


def office_hours(queue: str, at: datetime) -> bool:
    """Mon–Fri 08:00–17:00 Kyiv time."""
    local = at.astimezone(KYIV)
    return local.weekday() < 5 and 8 <= local.hour < 17


POLICY = RollupPolicy(is_open=office_hours, target_s=lambda q: 30.0 if q == "pensions" else 20.0)


@pytest.fixture(scope="module")
def day() -> tuple[list[CompletedCall], list[AgentSession]]:
    """A synthetic day of 3,000 calls and 12 agents (seed 2026)."""
    synthetic = synthetic_day(DAY, seed=2026, calls=3000, is_open=office_hours)
    calls = [c for c in (build_call(e) for e in synthetic.calls.values()) if c is not None]
    assert len(calls) == 3000
    return calls, build_sessions(synthetic.agent_events, until=synthetic.end)


def _sum(rows: list[IntervalRollup], queue: str) -> KpiCounters:
    return sum((r.counters for r in rows if r.queue == queue), KpiCounters())


def test_overall_rollup_equals_facts_summed(day: tuple[list[CompletedCall], list[AgentSession]]) -> None:
    """The ALL rows summed give the same counts, waits and handle times as the call facts directly."""
    calls, sessions = day
    total = _sum(rollup(calls, sessions, POLICY), ALL)
    outcomes = Counter(c.fact.outcome for c in calls)
    queued = [c.fact for c in calls if c.stints]
    answered = [f for f in queued if f.outcome is CallOutcome.ANSWERED]
    assert total.calls == len(calls)
    assert total.offered == len([f for f in queued if f.outcome not in (CallOutcome.TRANSFERRED,)])
    assert total.answered == outcomes[CallOutcome.ANSWERED]
    assert total.abandoned == outcomes[CallOutcome.ABANDONED_QUEUE]
    assert total.short_abandoned == outcomes[CallOutcome.SHORT_ABANDON]
    assert total.callbacks == outcomes[CallOutcome.CALLBACK]
    assert total.overflowed == outcomes[CallOutcome.OVERFLOW]
    assert total.after_hours == outcomes[CallOutcome.AFTER_HOURS] > 0
    assert total.abandoned_ivr == outcomes[CallOutcome.ABANDONED_IVR]
    assert total.survival == outcomes[CallOutcome.SURVIVAL]
    assert total.answered_in_target == sum(
        answered_within_target(f.wait_s, POLICY.target_s(f.last_queue or ALL)) for f in answered
    )
    assert total.wait_answered_s == pytest.approx(sum(f.wait_s for f in answered))
    assert total.talk_s + total.hold_s + total.wrap_s == pytest.approx(
        sum(f.talk_s + f.hold_s + f.wrap_s for f in answered)
    )
    assert total.longest_wait_s == max(f.wait_s for f in queued)
    assert total.handling_s == pytest.approx(sum(leg.handle_s for c in calls for leg in c.legs))
    assert total.staffed_s == pytest.approx(sum(s.staffed_s for s in sessions))


def test_queue_rollups_equal_stints_summed(day: tuple[list[CompletedCall], list[AgentSession]]) -> None:
    """Each queue's rows summed give its stints' counts and waits, and its agents' staffed time."""
    calls, sessions = day
    rows = rollup(calls, sessions, POLICY)
    for queue in ("general", "pensions"):
        total = _sum(rows, queue)
        stints = [s for c in calls for s in c.stints if s.queue == queue]
        by_outcome = Counter(s.outcome for s in stints)
        assert total.offered == len(stints)
        assert total.answered == by_outcome[StintOutcome.ANSWERED]
        assert total.moved == by_outcome[StintOutcome.MOVED] > 0
        assert total.short_abandoned == by_outcome[StintOutcome.SHORT_ABANDON]
        assert total.wait_answered_s == pytest.approx(
            sum(s.wait_s for s in stints if s.outcome is StintOutcome.ANSWERED)
        )
        after = sum(
            1 for c in calls if c.fact.outcome is CallOutcome.AFTER_HOURS and c.fact.first_queue == queue
        )
        assert total.calls == len(stints) + after
        assert total.staffed_s == pytest.approx(sum(s.staffed_s for s in sessions if queue in s.queues))


def test_rows_flagged_by_schedule(day: tuple[list[CompletedCall], list[AgentSession]]) -> None:
    """Rows carry is_open from the schedule, and only closed rows hold after-hours calls."""
    rows = rollup(day[0], day[1], POLICY)
    for row in rows:
        assert row.is_open == office_hours(row.queue, row.start)
        assert row.start == interval_start(row.start)
        if row.is_open:
            assert row.counters.after_hours == 0


def test_heatmap_totals_equal_calls(day: tuple[list[CompletedCall], list[AgentSession]]) -> None:
    """The heatmap's cells add up to every call, and closed demand to the after-hours calls."""
    calls, sessions = day
    rows = [r for r in rollup(calls, sessions, POLICY) if r.queue == ALL]
    hm = heatmap(rows)
    assert hm.total_calls == len(calls)
    assert sum(map(sum, hm.grid())) == len(calls)
    assert hm.closed_calls == sum(1 for c in calls if c.fact.outcome is CallOutcome.AFTER_HOURS)
    by_hour = Counter(c.fact.arrived_at.astimezone(KYIV).hour for c in calls)
    assert hm.grid()[0] == [by_hour[h] for h in range(24)]


def test_hours_to_add_ranks_closed_hours_by_demand(
    day: tuple[list[CompletedCall], list[AgentSession]],
) -> None:
    """Suggested hours are closed ones, ordered by callers they would have served, busiest first."""
    calls, sessions = day
    rows = [r for r in rollup(calls, sessions, POLICY) if r.queue == ALL]
    suggestions = heatmap(rows).hours_to_add(weeks=1)
    assert suggestions and all(not 8 <= s.hour < 17 for s in suggestions)
    assert [s.callers for s in suggestions] == sorted((s.callers for s in suggestions), reverse=True)
    closed_by_hour = Counter(
        c.fact.arrived_at.astimezone(KYIV).hour for c in calls if c.fact.outcome is CallOutcome.AFTER_HOURS
    )
    busiest, count = closed_by_hour.most_common(1)[0]
    assert (suggestions[0].hour, suggestions[0].callers) == (busiest, count)
    assert sum(s.callers for s in suggestions) == heatmap(rows).closed_calls


def test_heatmap_from_cells_merges_duplicates() -> None:
    """Cells for the same weekday and hour (e.g. from two SQL partitions) are added together."""
    hm = Heatmap([HeatCell(0, 8, 10, 0, 4, 0), HeatCell(0, 8, 5, 5, 1, 1), HeatCell(6, 23, 7, 7, 2, 2)])
    assert hm.cells[(0, 8)] == HeatCell(0, 8, 15, 5, 5, 1)
    assert [(s.weekday, s.hour, s.callers, s.per_week) for s in hm.hours_to_add(weeks=2)] == [(6, 23, 7, 3.5)]


def test_split_by_interval_covers_the_span() -> None:
    """A span from 09:10 to 09:40 is 300 s, 900 s and 600 s in three intervals."""
    start = datetime(2026, 3, 2, 9, 10, tzinfo=UTC)
    parts = split_by_interval(start, start + timedelta(minutes=30))
    assert [(p[0].minute, p[1]) for p in parts] == [(0, 300.0), (15, 900.0), (30, 600.0)]


def test_staffing_marks_under_and_over() -> None:
    """48 Erlangs need 54 agents for 80/20: 40 staffed is under, 54 ok, 70 over; no calls need none."""
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def row(offered: int, agents: float, minute: int) -> IntervalRollup:
        # 180 calls in 15 min at 240 s AHT = 48 Erlangs, as the classic 360 calls per 30 min.
        counters = KpiCounters(
            offered=offered, answered=offered, talk_s=240.0 * offered, staffed_s=agents * 900
        )
        return IntervalRollup("general", start + timedelta(minutes=minute), True, counters)

    result = staffing([row(180, 40, 0), row(180, 54, 15), row(180, 70, 30), row(0, 3, 45)], target_s=20)
    assert [(r.needed, r.status) for r in result] == [
        (54, StaffingStatus.UNDER),
        (54, StaffingStatus.OK),
        (54, StaffingStatus.OVER),
        (0, StaffingStatus.OVER),
    ]
    assert result[0].traffic_erlangs == pytest.approx(48.0)


def test_staffing_uses_period_aht_when_interval_has_none() -> None:
    """An interval with only abandons borrows the period's AHT to size its load."""
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    busy = KpiCounters(offered=10, answered=10, talk_s=1800.0, staffed_s=900 * 5)
    quiet = KpiCounters(offered=5, abandoned=5, staffed_s=900 * 5)
    result = staffing(
        [
            IntervalRollup("q", start, True, busy),
            IntervalRollup("q", start + timedelta(minutes=15), True, quiet),
        ]
    )
    assert result[1].aht_s == 180.0 and result[1].traffic_erlangs == pytest.approx(1.0)
