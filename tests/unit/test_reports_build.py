"""Report building: date ranges, day-by-day reads, and figures equal to the analytics core's."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, datetime, timedelta

import pytest

from callcenter.analytics.hours import KYIV, heatmap
from callcenter.analytics.kpi import KpiCounters
from callcenter.analytics.rollup import ALL
from callcenter.analytics.staffing import staffing
from callcenter.errors import ValidationError
from callcenter.reports import (
    AgentsReport,
    HoursReport,
    LoadReport,
    ReportOptions,
    build_agents,
    build_hours,
    build_load,
    parse_range,
    report_csv,
)
from tests.unit.test_reports_support import MemorySource, synthetic_days

MONDAY = datetime(2026, 3, 2, tzinfo=KYIV)


@pytest.fixture(scope="module")
def source() -> MemorySource:
    """Three synthetic days, Monday to Wednesday."""
    return MemorySource(*synthetic_days(MONDAY, 3, calls=250))


def test_range_is_inclusive_and_local() -> None:
    """``--to`` is included and the instants are Kyiv midnights."""
    rng = parse_range("2026-03-02", "2026-03-04")
    assert rng.days == 3
    assert rng.start == datetime(2026, 3, 2, tzinfo=KYIV)
    assert rng.end == datetime(2026, 3, 5, tzinfo=KYIV)
    assert [c[0] for c in rng.chunks()] == [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]


@pytest.mark.parametrize(
    ("date_from", "date_to", "message"),
    [
        ("2026-03-05", "2026-03-01", "before"),
        ("2026-02-30", "2026-03-01", "expected a date"),
        ("yesterday", "2026-03-01", "expected a date"),
        ("2024-01-01", "2026-03-01", "at most 400"),
    ],
)
def test_bad_ranges_are_refused_with_a_clear_message(date_from: str, date_to: str, message: str) -> None:
    """Reversed, malformed, impossible and over-long ranges raise ValidationError naming the problem."""
    with pytest.raises(ValidationError, match=message):
        parse_range(date_from, date_to)


def test_daylight_saving_days_have_23_and_25_hours() -> None:
    """The chunks of the DST change days are 23 h (March) and 25 h (October) long."""
    (march,) = parse_range("2026-03-29", "2026-03-29").chunks()
    (october,) = parse_range("2026-10-25", "2026-10-25").chunks()
    # Subtracting datetimes of one zone gives wall-clock time in Python; compare instants.
    assert march[2].timestamp() - march[1].timestamp() == timedelta(hours=23).total_seconds()
    assert october[2].timestamp() - october[1].timestamp() == timedelta(hours=25).total_seconds()


def test_load_report_over_a_dst_day_has_one_row_per_real_quarter_hour() -> None:
    """A spring-forward day has 92 intervals, an autumn one 100."""
    empty = MemorySource([], [])
    spring = asyncio.run(build_load(empty, parse_range("2026-03-29", "2026-03-29")))
    autumn = asyncio.run(build_load(empty, parse_range("2026-10-25", "2026-10-25")))
    assert (len(spring.rows), len(autumn.rows)) == (92, 100)


def test_load_report_equals_the_rollups_and_the_staffing_core(source: MemorySource) -> None:
    """Totals are the rollups' sums; each interval's verdict is ``analytics.staffing``'s."""
    rng = parse_range("2026-03-03", "2026-03-04")
    seen: list[tuple[int, int, date]] = []
    report = asyncio.run(build_load(source, rng, progress=lambda n, total, day: seen.append((n, total, day))))
    assert seen == [(1, 2, date(2026, 3, 3)), (2, 2, date(2026, 3, 4))]
    assert len(report.rows) == 2 * 96
    rows = [r for r in source.rows if r.queue == ALL and rng.start <= r.start < rng.end]
    expected = sum((r.counters for r in rows), KpiCounters())
    assert report.totals == expected
    assert report.totals.offered > 100
    verdicts = {v.start: v for v in staffing(rows)}
    for row in report.rows:
        if row.rollup.start in verdicts:
            assert row.staffing == verdicts[row.rollup.start]
        else:
            assert row.rollup.counters == KpiCounters() and row.staffing.needed == 0


def test_load_report_for_one_queue_reads_only_that_queue(source: MemorySource) -> None:
    """``--queue`` restricts the figures to that queue's rollup rows."""
    rng = parse_range("2026-03-02", "2026-03-02")
    report = asyncio.run(build_load(source, rng, "pensions", ReportOptions(target_s=30, sl_goal=0.9)))
    rows = [r for r in source.rows if r.queue == "pensions" and rng.start <= r.start < rng.end]
    assert report.totals == sum((r.counters for r in rows), KpiCounters())
    assert report.queue == "pensions" and report.options.sl_goal == 0.9


def test_hours_report_is_the_core_heatmap(source: MemorySource) -> None:
    """The hours report's cells and suggestions are those of ``analytics.hours`` on the same rows."""
    rng = parse_range("2026-03-02", "2026-03-04")
    report = asyncio.run(build_hours(source, rng))
    rows = [r for r in source.rows if r.queue == ALL and rng.start <= r.start < rng.end]
    expected = heatmap(rows)
    assert report.heatmap.cells == expected.cells
    assert list(report.suggestions) == expected.hours_to_add(3 / 7, limit=10)
    assert report.heatmap.closed_calls > 0


def test_agents_report_sums_sessions_and_legs(source: MemorySource) -> None:
    """Logged-in time, breaks (not wrap-up), handled calls and available time add up per agent."""
    rng = parse_range("2026-03-02", "2026-03-04")
    report = asyncio.run(build_agents(source, rng))
    assert isinstance(report, AgentsReport)
    by_agent = {r.agent: r for r in report.rows}
    sessions = [s for s in source.sessions if s.agent == "agent01"]
    row = by_agent["agent01"]
    assert row.sessions == len(sessions) == 3
    assert row.logged_in_s == pytest.approx(sum(s.logged_in_s for s in sessions))
    assert row.break_s == pytest.approx(sum(s.paused_s for s in sessions))
    answered = [
        leg for c in source.calls for leg in c.legs if leg.agent == "agent01" and leg.answered_at is not None
    ]
    assert row.handled == len(answered)
    assert row.handling_s == pytest.approx(sum(leg.handle_s for leg in answered))
    assert row.available_s == pytest.approx(row.logged_in_s - row.break_s - row.handling_s)
    assert "wrapup" not in report.reasons


def test_csv_has_a_row_per_interval_cell_and_agent(source: MemorySource) -> None:
    """The CSV of each report has its header and one row per interval, weekday×hour cell or agent."""
    rng = parse_range("2026-03-03", "2026-03-03")
    load = asyncio.run(build_load(source, rng))
    hours = asyncio.run(build_hours(source, rng))
    agents = asyncio.run(build_agents(source, rng))
    assert isinstance(load, LoadReport) and isinstance(hours, HoursReport)
    load_rows = list(csv.DictReader(io.StringIO(report_csv(load))))
    assert len(load_rows) == 96
    assert sum(int(r["offered"]) for r in load_rows) == load.totals.offered
    assert load_rows[0]["interval_start"] == "2026-03-03T00:00+02:00"
    hour_rows = list(csv.DictReader(io.StringIO(report_csv(hours))))
    assert len(hour_rows) == 168
    assert sum(int(r["calls"]) for r in hour_rows) == hours.heatmap.total_calls
    agent_rows = list(csv.DictReader(io.StringIO(report_csv(agents))))
    assert [r["agent"] for r in agent_rows] == [r.agent for r in agents.rows]
    assert "paused_lunch_s" in agent_rows[0]
