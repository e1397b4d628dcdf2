"""Manager reports over a date range: load and staffing, working hours, agents; data and CSV.

Three reports, each read day by day (so a long range can show progress and never holds a big
query open), from the interval rollups and agent tables the facts writer keeps:

* ``load``: per 15-minute interval offered / answered / abandoned, SL, ASA, AHT, and Erlang C
  agents needed vs staffed with under/over marks (``callcenter.analytics.staffing``);
* ``hours``: weekday × hour demand heatmap, demand while closed, closed hours worth opening
  (``callcenter.analytics.hours``);
* ``agents``: per agent logged-in time, paused time by reason, available time, calls handled and
  AHT.

Dates are local to the line (Europe/Kyiv); ``--to`` is inclusive. The same report objects feed the
CSV here, the self-contained HTML file and the supervisor page (``callcenter.reports_svg``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from callcenter.analytics.hours import KYIV, Heatmap, HourSuggestion, heatmap
from callcenter.analytics.kpi import DEFAULT_TARGET_S, KpiCounters
from callcenter.analytics.rollup import ALL, INTERVAL, IntervalRollup
from callcenter.analytics.sessions import WRAPUP_REASON
from callcenter.analytics.staffing import StaffingInterval, StaffingStatus, staffing
from callcenter.errors import ValidationError
from callcenter.storage.analytics import AnalyticsStore

__all__ = [
    "DEFAULT_SL_GOAL",
    "DEFAULT_TARGET_S",
    "KINDS",
    "MAX_DAYS",
    "AgentRow",
    "AgentsReport",
    "DatabaseSource",
    "HoursReport",
    "LoadReport",
    "LoadRow",
    "Progress",
    "Report",
    "ReportKind",
    "ReportOptions",
    "ReportRange",
    "ReportSource",
    "build_agents",
    "build_hours",
    "build_load",
    "build_report",
    "parse_range",
    "report_csv",
]

ReportKind = Literal["load", "hours", "agents"]
KINDS: tuple[ReportKind, ...] = ("load", "hours", "agents")
#: The classic 80/20 goal's 80 % (the 20 s is ``DEFAULT_TARGET_S``).
DEFAULT_SL_GOAL = 0.8
#: A little over a year: enough for a year-on-year look, small enough to stay a report.
MAX_DAYS = 400

#: Called after each day is read: (days done, days in all, the day just read).
Progress = Callable[[int, int, date], None]


@dataclass(frozen=True, slots=True)
class ReportRange:
    """Local calendar days ``first``..``last`` (inclusive) as the instants ``[start, end)``."""

    first: date
    last: date
    tz: ZoneInfo = KYIV

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), self.tz)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), self.tz)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def chunks(self) -> list[tuple[date, datetime, datetime]]:
        """One ``(day, start, end)`` per local day (23 or 25 hours long on DST change days)."""
        out = []
        for n in range(self.days):
            day = self.first + timedelta(days=n)
            out.append(
                (
                    day,
                    datetime.combine(day, time(0), self.tz),
                    datetime.combine(day + timedelta(days=1), time(0), self.tz),
                )
            )
        return out

    def label(self) -> str:
        return f"{self.first.isoformat()} – {self.last.isoformat()}"


def _parse_date(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"--{name}: expected a date like 2026-03-01, got {text!r}", field=name
        ) from None


def parse_range(
    date_from: str, date_to: str, *, max_days: int = MAX_DAYS, tz: ZoneInfo = KYIV
) -> ReportRange:
    """The report range from two ISO dates (``to`` inclusive); ValidationError when it makes no sense."""
    first, last = _parse_date(date_from, "from"), _parse_date(date_to, "to")
    if last < first:
        raise ValidationError(f"--to {last} is before --from {first}", field="to")
    days = (last - first).days + 1
    if days > max_days:
        raise ValidationError(f"the range has {days} days; at most {max_days} are allowed", field="to")
    return ReportRange(first, last, tz)


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """Service-level target and goal the staffing verdicts use."""

    target_s: float = DEFAULT_TARGET_S
    sl_goal: float = DEFAULT_SL_GOAL
    max_occupancy: float | None = None


# ---- where the data comes from ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentDay:
    """One agent's activity in one chunk of time (sessions clipped to it, legs that rang in it)."""

    agent: str
    sessions: int = 0
    logged_in_s: float = 0.0
    paused_s: dict[str, float] = field(default_factory=dict)
    handled: int = 0
    handling_s: float = 0.0
    no_answers: int = 0


class ReportSource:
    """What the reports read; ``DatabaseSource`` reads PostgreSQL, tests may pass anything alike."""

    async def rollups(self, start: datetime, end: datetime, queue: str) -> list[IntervalRollup]:
        raise NotImplementedError

    async def agent_activity(self, start: datetime, end: datetime, queue: str | None) -> list[AgentDay]:
        raise NotImplementedError

    async def queues(self) -> list[str]:
        raise NotImplementedError


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


class DatabaseSource(ReportSource):
    """Reads the rollups through ``AnalyticsStore`` and the agent tables directly."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.store = AnalyticsStore(pool)

    async def rollups(self, start: datetime, end: datetime, queue: str) -> list[IntervalRollup]:
        return await self.store.rollups(start, end, queue)

    async def queues(self) -> list[str]:
        rows = await self.pool.fetch("SELECT DISTINCT queue FROM interval_rollups WHERE queue <> $1", ALL)
        return sorted(r["queue"] for r in rows)

    async def agent_activity(self, start: datetime, end: datetime, queue: str | None) -> list[AgentDay]:
        sessions = await self.pool.fetch(
            "SELECT agent, login_at, logout_at, pauses FROM agent_sessions"
            " WHERE login_at < $2 AND logout_at > $1 AND ($3::text IS NULL OR $3 = ANY(queues))",
            start,
            end,
            queue,
        )
        legs = await self.pool.fetch(
            """SELECT agent,
                      count(*) FILTER (WHERE answered_at IS NOT NULL) AS handled,
                      coalesce(sum(talk_s + hold_s + wrap_s) FILTER (WHERE answered_at IS NOT NULL), 0)
                          AS handling_s,
                      count(*) FILTER (WHERE outcome IN ('noanswer', 'rejected', 'busy')) AS no_answers
                 FROM agent_legs
                WHERE rang_at >= $1 AND rang_at < $2 AND ($3::text IS NULL OR queue = $3)
                GROUP BY agent""",
            start,
            end,
            queue,
        )
        days: dict[str, dict[str, Any]] = {}

        def entry(agent: str) -> dict[str, Any]:
            return days.setdefault(
                agent,
                {
                    "sessions": 0,
                    "logged_in_s": 0.0,
                    "paused_s": {},
                    "handled": 0,
                    "handling_s": 0.0,
                    "no_answers": 0,
                },
            )

        for row in sessions:
            e = entry(row["agent"])
            e["sessions"] += start <= row["login_at"] < end  # counted on the day it began
            e["logged_in_s"] += _overlap(row["login_at"], row["logout_at"], start, end)
            pauses = row["pauses"]
            if isinstance(pauses, str):  # jsonb arrives as text without a codec
                pauses = json.loads(pauses)
            for pause in pauses:
                seconds = _overlap(
                    datetime.fromisoformat(pause["start"]), datetime.fromisoformat(pause["end"]), start, end
                )
                if seconds:
                    e["paused_s"][pause["reason"]] = e["paused_s"].get(pause["reason"], 0.0) + seconds
        for row in legs:
            e = entry(row["agent"])
            e["handled"] += row["handled"]
            e["handling_s"] += float(row["handling_s"])
            e["no_answers"] += row["no_answers"]
        return [AgentDay(agent, **values) for agent, values in sorted(days.items())]


async def _each_day(
    rng: ReportRange, progress: Progress | None, read: Callable[[datetime, datetime], Any]
) -> None:
    total = rng.days
    for n, (day, start, end) in enumerate(rng.chunks(), start=1):
        await read(start, end)
        if progress is not None:
            progress(n, total, day)


# ---- load --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadRow:
    """One 15-minute interval of the load report."""

    rollup: IntervalRollup
    staffing: StaffingInterval


@dataclass(frozen=True, slots=True)
class LoadReport:
    """Per-interval load and staffing for one queue (or the whole line)."""

    range: ReportRange
    queue: str
    options: ReportOptions
    rows: tuple[LoadRow, ...]
    totals: KpiCounters

    kind: ReportKind = "load"

    def count(self, status: StaffingStatus) -> int:
        """Intervals with this staffing verdict."""
        return sum(1 for r in self.rows if r.staffing.status is status)


async def build_load(
    source: ReportSource,
    rng: ReportRange,
    queue: str = ALL,
    options: ReportOptions | None = None,
    progress: Progress | None = None,
) -> LoadReport:
    """The load report: every interval of the range, empty ones included, with its staffing verdict."""
    options = options or ReportOptions()
    found: dict[datetime, IntervalRollup] = {}

    async def read(start: datetime, end: datetime) -> None:
        for row in await source.rollups(start, end, queue):
            found[row.start] = row

    await _each_day(rng, progress, read)
    rows: list[IntervalRollup] = []
    # Aware datetimes compare and hash by instant, so UTC keys match the stored starts.
    cursor, end = rng.start.astimezone(UTC), rng.end
    while cursor < end:
        rows.append(found.get(cursor) or IntervalRollup(queue, cursor, True, KpiCounters()))
        cursor += INTERVAL
    verdicts = staffing(
        rows, target_s=options.target_s, sl_goal=options.sl_goal, max_occupancy=options.max_occupancy
    )
    totals = sum((r.counters for r in rows), KpiCounters())
    return LoadReport(
        rng,
        queue,
        options,
        tuple(LoadRow(r, v) for r, v in zip(rows, verdicts, strict=True)),
        totals,
    )


# ---- hours -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HoursReport:
    """Weekday × hour demand, demand while closed, and the closed hours worth opening."""

    range: ReportRange
    queue: str
    heatmap: Heatmap
    suggestions: tuple[HourSuggestion, ...]
    weeks: float

    kind: ReportKind = "hours"


async def build_hours(
    source: ReportSource,
    rng: ReportRange,
    queue: str = ALL,
    progress: Progress | None = None,
    *,
    limit: int = 10,
) -> HoursReport:
    """The working-hours report (the heatmap is built from the same rollups as the load report)."""
    rows: list[IntervalRollup] = []

    async def read(start: datetime, end: datetime) -> None:
        rows.extend(await source.rollups(start, end, queue))

    await _each_day(rng, progress, read)
    cells = heatmap(rows, rng.tz)
    weeks = rng.days / 7
    return HoursReport(rng, queue, cells, tuple(cells.hours_to_add(weeks, limit=limit)), weeks)


# ---- agents ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentRow:
    """One agent over the range."""

    agent: str
    sessions: int
    logged_in_s: float
    paused_s: dict[str, float]  # breaks by reason (wrap-up is handling, not a break)
    handled: int
    handling_s: float
    no_answers: int

    @property
    def break_s(self) -> float:
        return sum(self.paused_s.values())

    @property
    def available_s(self) -> float:
        """Logged in, not on a break and not handling a call (ringing included)."""
        return max(0.0, self.logged_in_s - self.break_s - self.handling_s)

    @property
    def aht_s(self) -> float | None:
        return self.handling_s / self.handled if self.handled else None


@dataclass(frozen=True, slots=True)
class AgentsReport:
    """Per-agent sessions and handling over the range."""

    range: ReportRange
    queue: str
    rows: tuple[AgentRow, ...]
    reasons: tuple[str, ...]

    kind: ReportKind = "agents"


async def build_agents(
    source: ReportSource, rng: ReportRange, queue: str = ALL, progress: Progress | None = None
) -> AgentsReport:
    """The agents report, summed over per-day reads (sessions are clipped to each day)."""
    totals: dict[str, dict[str, Any]] = {}

    async def read(start: datetime, end: datetime) -> None:
        for day in await source.agent_activity(start, end, None if queue == ALL else queue):
            t = totals.setdefault(
                day.agent,
                {
                    "sessions": 0,
                    "logged_in_s": 0.0,
                    "paused_s": {},
                    "handled": 0,
                    "handling_s": 0.0,
                    "no_answers": 0,
                },
            )
            t["sessions"] += day.sessions
            t["logged_in_s"] += day.logged_in_s
            for reason, seconds in day.paused_s.items():
                if reason != WRAPUP_REASON:  # wrap-up is in handling time already
                    t["paused_s"][reason] = t["paused_s"].get(reason, 0.0) + seconds
            t["handled"] += day.handled
            t["handling_s"] += day.handling_s
            t["no_answers"] += day.no_answers

    await _each_day(rng, progress, read)
    rows = tuple(
        AgentRow(
            agent,
            t["sessions"],
            t["logged_in_s"],
            dict(sorted(t["paused_s"].items())),
            t["handled"],
            t["handling_s"],
            t["no_answers"],
        )
        for agent, t in sorted(totals.items())
    )
    reasons = tuple(sorted({reason for row in rows for reason in row.paused_s}))
    return AgentsReport(rng, queue, rows, reasons)


Report = LoadReport | HoursReport | AgentsReport


async def build_report(
    kind: ReportKind,
    source: ReportSource,
    rng: ReportRange,
    queue: str = ALL,
    options: ReportOptions | None = None,
    progress: Progress | None = None,
) -> Report:
    """Any of the three reports by name."""
    if kind == "load":
        return await build_load(source, rng, queue, options, progress)
    if kind == "hours":
        return await build_hours(source, rng, queue, progress)
    if kind == "agents":
        return await build_agents(source, rng, queue, progress)
    raise ValidationError(f"unknown report {kind!r}; choose one of {', '.join(KINDS)}", field="report")


# ---- CSV ---------------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _rows_csv(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def report_csv(report: Report) -> str:
    """The report's table as CSV (one row per interval, cell or agent; times local to the line)."""
    if isinstance(report, LoadReport):
        tz = report.range.tz
        return _rows_csv(
            (
                "interval_start", "queue", "open", "calls", "offered", "answered", "answered_in_target",
                "abandoned", "short_abandoned", "overflowed", "callbacks", "sl_pct", "asa_s", "aht_s",
                "erlangs", "agents_needed", "agents_staffed", "staffing",
            ),
            (
                (
                    r.rollup.start.astimezone(tz).isoformat(timespec="minutes"),
                    report.queue,
                    int(r.rollup.is_open),
                    c.calls, c.offered, c.answered, c.answered_in_target, c.abandoned,
                    c.short_abandoned, c.overflowed, c.callbacks,
                    _pct(c.service_level), _num(c.asa_s), _num(c.aht_s),
                    _num(r.staffing.traffic_erlangs, 2), r.staffing.needed, _num(r.staffing.staffed, 2),
                    r.staffing.status.value if r.staffing.calls or r.staffing.staffed else "",
                )
                for r in report.rows
                for c in (r.rollup.counters,)
            ),
        )  # fmt: skip
    if isinstance(report, HoursReport):
        rank = {(s.weekday, s.hour): n for n, s in enumerate(report.suggestions, start=1)}
        return _rows_csv(
            ("weekday", "hour", "calls", "closed_calls", "intervals", "closed_intervals", "calls_per_week",
             "add_hour_rank"),
            (
                (
                    WEEKDAYS[weekday], hour, cell.calls if cell else 0, cell.closed_calls if cell else 0,
                    cell.intervals if cell else 0, cell.closed_intervals if cell else 0,
                    _num((cell.calls if cell else 0) / report.weeks, 2), rank.get((weekday, hour), ""),
                )
                for weekday in range(7)
                for hour in range(24)
                for cell in (report.heatmap.cells.get((weekday, hour)),)
            ),
        )  # fmt: skip
    reasons = report.reasons
    return _rows_csv(
        ("agent", "sessions", "logged_in_s", *(f"paused_{r}_s" for r in reasons), "paused_total_s",
         "available_s", "handled", "handling_s", "aht_s", "ring_no_answer"),
        (
            (
                row.agent, row.sessions, _num(row.logged_in_s), *(_num(row.paused_s.get(r, 0.0)) for r in reasons),
                _num(row.break_s), _num(row.available_s), row.handled, _num(row.handling_s), _num(row.aht_s),
                row.no_answers,
            )
            for row in report.rows
        ),
    )  # fmt: skip
