"""Load and staffing per interval: Erlang C agents needed vs agents actually staffed (pure).

For each rollup interval the offered load is the calls that counted (offered minus short
abandons and calls moved on to another queue) times the interval's observed AHT; when an
interval has no answered call to measure AHT from, the period's AHT is used.  Erlang C then gives
the fewest agents meeting the service-level goal; staffed agents are the interval's staffed
agent-seconds divided by its length.  Intervals short of that are ``under``; those with at least
``over_tolerance`` more (and at least one whole agent more) are ``over``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from callcenter.analytics.erlang import agents_needed, traffic_erlangs
from callcenter.analytics.kpi import DEFAULT_TARGET_S, KpiCounters
from callcenter.analytics.rollup import INTERVAL, IntervalRollup

__all__ = ["StaffingInterval", "StaffingStatus", "staffing"]


class StaffingStatus(enum.StrEnum):
    UNDER = "under"
    OK = "ok"
    OVER = "over"


@dataclass(frozen=True, slots=True)
class StaffingInterval:
    """Erlang C's verdict on one interval of one queue."""

    queue: str
    start: datetime
    calls: int
    aht_s: float | None
    traffic_erlangs: float
    needed: int
    staffed: float  # average agents staffed over the interval
    status: StaffingStatus


def _load(counters: KpiCounters) -> int:
    return max(0, counters.offered - counters.short_abandoned - counters.moved)


def staffing(
    rows: Iterable[IntervalRollup],
    *,
    target_s: float = DEFAULT_TARGET_S,
    sl_goal: float = 0.8,
    max_occupancy: float | None = None,
    over_tolerance: float = 0.2,
) -> list[StaffingInterval]:
    """Agents needed vs staffed for each row (rows of one queue, or the ALL rows)."""
    rows = list(rows)
    total = sum((r.counters for r in rows), KpiCounters())
    period_aht = total.aht_s
    interval_s = INTERVAL.total_seconds()
    result: list[StaffingInterval] = []
    for row in rows:
        calls = _load(row.counters)
        aht = row.counters.aht_s or period_aht
        if calls == 0 or aht is None or aht == 0:
            traffic, needed = 0.0, 0
        else:
            traffic = traffic_erlangs(calls, interval_s, aht)
            needed = agents_needed(calls, interval_s, aht, target_s, sl_goal, max_occupancy)
        staffed = row.counters.staffed_s / interval_s
        # A hair under (float sums of seconds) is not understaffing.
        if staffed + 1e-6 < needed:
            status = StaffingStatus.UNDER
        elif staffed - needed >= max(1.0, math.ceil(over_tolerance * needed)):
            status = StaffingStatus.OVER
        else:
            status = StaffingStatus.OK
        result.append(StaffingInterval(row.queue, row.start, calls, aht, traffic, needed, staffed, status))
    return result
