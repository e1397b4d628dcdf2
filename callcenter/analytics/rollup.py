"""15-minute interval rollups per queue and for the whole line, from call facts and sessions (pure).

Each call, and each agent session, *contributes* additive ``KpiCounters`` to some (queue,
interval) keys.  The pure ``rollup`` sums contributions over a batch; the store applies the same
contributions as incremental upserts (new minus old when a call's facts are corrected), so a
report read from the rollup table equals the facts summed directly, and reads never scan facts.

Attribution rules (also in docs/kpi.md):

* the overall row (queue ``ALL``) counts each call once, in the interval it *arrived*, with
  the call-level outcome and the wait summed over its stints;
* a queue row counts each stint in the interval it *entered* the queue; an after-hours call
  meant for a queue counts as that queue's demand (``calls`` and ``after_hours``);
* talk, hold and wrap-up go with the answered call (so AHT is per answered call), while
  ``handling_s`` and ``staffed_s`` are agent-seconds split over the intervals they overlap
  (so occupancy is right per interval even for calls that span two);
* an agent logged in to several queues counts as staffed in each of them, and once overall;
* ``offered_closed`` counts calls that entered a queue while its schedule said closed, and each
  row carries ``is_open(queue, interval start)`` so closed-hour demand stays visible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from callcenter.analytics.facts import AgentLeg, CallOutcome, CompletedCall
from callcenter.analytics.kpi import DEFAULT_TARGET_S, KpiAccumulator, KpiCounters, StintOutcome
from callcenter.analytics.sessions import AgentSession

__all__ = [
    "ALL",
    "INTERVAL",
    "IntervalRollup",
    "RollupKey",
    "RollupPolicy",
    "call_contributions",
    "call_level_outcome",
    "interval_start",
    "rollup",
    "session_contributions",
    "split_by_interval",
]

ALL = "*"  # the queue name of the whole-line rows
INTERVAL = timedelta(minutes=15)

RollupKey = tuple[str, datetime]  # (queue or ALL, interval start in UTC)


def _always_open(queue: str, at: datetime) -> bool:
    return True


def _default_target(queue: str) -> float:
    return DEFAULT_TARGET_S


@dataclass(frozen=True, slots=True)
class RollupPolicy:
    """What rollups need from configuration: schedules and service-level targets.

    ``is_open(queue, at)`` answers for a queue, or for the whole line when queue is ``ALL``.
    """

    is_open: Callable[[str, datetime], bool] = _always_open
    target_s: Callable[[str], float] = _default_target


@dataclass(frozen=True, slots=True)
class IntervalRollup:
    """One row: a queue (or ALL) over one 15-minute interval."""

    queue: str
    start: datetime
    is_open: bool
    counters: KpiCounters = field(default_factory=KpiCounters)


def interval_start(at: datetime) -> datetime:
    """The start (UTC) of the 15-minute interval holding ``at`` (must be timezone-aware)."""
    if at.tzinfo is None:
        raise ValueError("analytics times must be timezone-aware")
    utc = at.astimezone(UTC)
    return utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)


def split_by_interval(start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """Seconds of ``[start, end)`` falling into each 15-minute interval."""
    parts: list[tuple[datetime, float]] = []
    cursor = start
    while cursor < end:
        bucket = interval_start(cursor)
        stop = min(end, bucket + INTERVAL)
        parts.append((bucket, (stop - cursor).total_seconds()))
        cursor = stop
    return parts


class _Contrib:
    """Accumulators keyed by (queue, interval)."""

    def __init__(self) -> None:
        self.by_key: dict[RollupKey, KpiAccumulator] = {}

    def at(self, queue: str, start: datetime) -> KpiAccumulator:
        key = (queue, start)
        acc = self.by_key.get(key)
        if acc is None:
            acc = self.by_key[key] = KpiAccumulator()
        return acc

    def result(self) -> dict[RollupKey, KpiCounters]:
        return {key: acc.snapshot() for key, acc in self.by_key.items()}


_CALL_LEVEL = {
    CallOutcome.ANSWERED: StintOutcome.ANSWERED,
    CallOutcome.ABANDONED_QUEUE: StintOutcome.ABANDONED,
    CallOutcome.SHORT_ABANDON: StintOutcome.SHORT_ABANDON,
    CallOutcome.CALLBACK: StintOutcome.CALLBACK,
    CallOutcome.OVERFLOW: StintOutcome.OVERFLOW,
}
_NO_QUEUE_COUNTER = {
    CallOutcome.ABANDONED_IVR: "abandoned_ivr",
    CallOutcome.IVR_COMPLETED: "ivr_completed",
    CallOutcome.AFTER_HOURS: "after_hours",
    CallOutcome.SURVIVAL: "survival",
    CallOutcome.TRANSFERRED: "transferred",
}


def call_level_outcome(call: CompletedCall) -> StintOutcome | None:
    """The call's queue outcome as the whole-line KPIs count it; None if it never reached a queue."""
    return _CALL_LEVEL.get(call.fact.outcome) if call.stints else None


def _add_handling(contrib: _Contrib, leg: AgentLeg) -> None:
    if leg.answered_at is None:
        return
    end = leg.ended_at + timedelta(seconds=leg.wrap_s)
    for start, seconds in split_by_interval(leg.answered_at, end):
        contrib.at(ALL, start).add("handling_s", seconds)
        if leg.queue is not None:
            contrib.at(leg.queue, start).add("handling_s", seconds)


def call_contributions(call: CompletedCall, policy: RollupPolicy) -> dict[RollupKey, KpiCounters]:
    """What one finished call adds to each (queue, interval) rollup row."""
    contrib = _Contrib()
    fact = call.fact
    overall = contrib.at(ALL, interval_start(fact.arrived_at))
    level = call_level_outcome(call)
    overall.add_call(
        level,
        fact.wait_s,
        policy.target_s(fact.last_queue or ALL),
        talk_s=fact.talk_s,
        hold_s=fact.hold_s,
        wrap_s=fact.wrap_s,
    )
    if level is not None:
        if not policy.is_open(ALL, call.stints[0].entered_at):
            overall.add("offered_closed")
    else:
        counter = _NO_QUEUE_COUNTER.get(fact.outcome)
        if counter is not None:
            overall.add(counter)
    if fact.transferred and fact.outcome is not CallOutcome.TRANSFERRED:
        overall.add("transferred")  # agent transfers: counted, outcome stays "answered"

    for stint in call.stints:
        row = contrib.at(stint.queue, interval_start(stint.entered_at))
        row.add("calls")
        row.add_stint(stint.outcome, stint.wait_s, policy.target_s(stint.queue))
        if not policy.is_open(stint.queue, stint.entered_at):
            row.add("offered_closed")
        if stint.outcome is StintOutcome.ANSWERED:
            for leg in call.legs:
                if leg.agent == stint.agent and leg.answered_at == stint.left_at:
                    row.add_handling(leg.talk_s, leg.hold_s, leg.wrap_s)
    if fact.outcome is CallOutcome.AFTER_HOURS and fact.first_queue is not None:
        row = contrib.at(fact.first_queue, interval_start(fact.arrived_at))
        row.add("calls")
        row.add("after_hours")
    for leg in call.legs:
        _add_handling(contrib, leg)
    return contrib.result()


def session_contributions(session: AgentSession) -> dict[RollupKey, KpiCounters]:
    """Staffed agent-seconds a session adds to each (queue, interval) row and to the overall row."""
    contrib = _Contrib()
    for span_start, span_end in session.staffed_spans():
        for start, seconds in split_by_interval(span_start, span_end):
            contrib.at(ALL, start).add("staffed_s", seconds)
            for queue in session.queues:
                contrib.at(queue, start).add("staffed_s", seconds)
    return contrib.result()


def rollup(
    calls: Iterable[CompletedCall],
    sessions: Iterable[AgentSession] = (),
    policy: RollupPolicy | None = None,
) -> list[IntervalRollup]:
    """All interval rows for a batch of calls and sessions, sorted by (queue, start)."""
    policy = policy or RollupPolicy()
    totals: dict[RollupKey, KpiCounters] = {}

    def merge(parts: dict[RollupKey, KpiCounters]) -> None:
        for key, counters in parts.items():
            previous = totals.get(key)
            totals[key] = counters if previous is None else previous + counters

    for call in calls:
        merge(call_contributions(call, policy))
    for session in sessions:
        merge(session_contributions(session))
    return [
        IntervalRollup(queue, start, policy.is_open(queue, start), totals[(queue, start)])
        for queue, start in sorted(totals)
    ]
