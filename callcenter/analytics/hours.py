"""Working-hours analysis: weekday × hour demand heatmap, out-of-hours demand, hours worth adding (pure).

Input is interval rollups (the whole-line rows, or one queue's), or cells already aggregated by
SQL; both go through ``Heatmap``, so the report and the tests share the ranking code.  Hours are
local to the line (Europe/Kyiv by default), since "Monday 08:00" means the local clock.

"Closed demand" in a cell is every call that arrived in an interval the schedule marks closed,
plus after-hours calls in intervals marked open (an interval straddling the closing time, or a
holiday the schedule callable knows about but the row flag predates).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from callcenter.analytics.rollup import IntervalRollup

__all__ = ["KYIV", "HeatCell", "Heatmap", "HourSuggestion", "heatmap"]

KYIV = ZoneInfo("Europe/Kyiv")


@dataclass(frozen=True, slots=True)
class HeatCell:
    """Demand in one weekday (0 = Monday) × local hour cell over the period."""

    weekday: int
    hour: int
    calls: int
    closed_calls: int
    intervals: int  # rollup intervals with activity in this cell
    closed_intervals: int

    def __add__(self, other: HeatCell) -> HeatCell:
        if (self.weekday, self.hour) != (other.weekday, other.hour):
            raise ValueError("cells of different weekday/hour cannot be added")
        return HeatCell(
            self.weekday,
            self.hour,
            self.calls + other.calls,
            self.closed_calls + other.closed_calls,
            self.intervals + other.intervals,
            self.closed_intervals + other.closed_intervals,
        )


@dataclass(frozen=True, slots=True)
class HourSuggestion:
    """A closed hour ranked by the callers it would have served."""

    weekday: int
    hour: int
    callers: int
    per_week: float


class Heatmap:
    """Weekday × hour cells with totals and the closed-hours ranking."""

    def __init__(self, cells: Iterable[HeatCell]) -> None:
        self.cells: dict[tuple[int, int], HeatCell] = {}
        for cell in cells:
            key = (cell.weekday, cell.hour)
            previous = self.cells.get(key)
            self.cells[key] = cell if previous is None else previous + cell

    @property
    def total_calls(self) -> int:
        return sum(c.calls for c in self.cells.values())

    @property
    def closed_calls(self) -> int:
        """Calls that arrived while the line was closed: demand it did not serve."""
        return sum(c.closed_calls for c in self.cells.values())

    def grid(self) -> list[list[int]]:
        """Calls as 7 rows (Monday first) of 24 hours."""
        rows = [[0] * 24 for _ in range(7)]
        for (weekday, hour), cell in self.cells.items():
            rows[weekday][hour] = cell.calls
        return rows

    def hours_to_add(
        self, weeks: float, *, min_closed_share: float = 0.5, limit: int | None = None
    ) -> list[HourSuggestion]:
        """Closed hours ranked by the callers they would serve if opened (most first).

        A cell counts as a closed hour when at least ``min_closed_share`` of its active
        intervals were closed; ``weeks`` (the period's length) turns totals into callers per week.
        """
        if weeks <= 0:
            raise ValueError("weeks must be > 0")
        ranked = [
            HourSuggestion(c.weekday, c.hour, c.closed_calls, c.closed_calls / weeks)
            for c in self.cells.values()
            if c.closed_calls > 0 and c.closed_intervals >= min_closed_share * c.intervals
        ]
        ranked.sort(key=lambda s: (-s.callers, s.weekday, s.hour))
        return ranked if limit is None else ranked[:limit]


def heatmap(rows: Iterable[IntervalRollup], tz: ZoneInfo = KYIV) -> Heatmap:
    """The heatmap of the given rollup rows (pass rows of one queue, or the ALL rows)."""
    cells: list[HeatCell] = []
    for row in rows:
        local = row.start.astimezone(tz)
        counters = row.counters
        closed = counters.calls if not row.is_open else counters.after_hours
        cells.append(
            HeatCell(local.weekday(), local.hour, counters.calls, closed, 1, 0 if row.is_open else 1)
        )
    return Heatmap(cells)
