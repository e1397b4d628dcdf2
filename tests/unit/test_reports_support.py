"""Helpers for the report tests: an in-memory report source over synthetic days (no tests here)."""

from __future__ import annotations

from datetime import datetime, timedelta

from callcenter.analytics.facts import CompletedCall, build_call
from callcenter.analytics.hours import KYIV
from callcenter.analytics.rollup import ALL, IntervalRollup, RollupPolicy, rollup
from callcenter.analytics.sessions import AgentSession, build_sessions
from callcenter.analytics.synthetic import synthetic_day
from callcenter.reports import AgentDay, ReportSource


def office_hours(queue: str, at: datetime) -> bool:
    """Mon–Fri 08:00–17:00 Kyiv time."""
    local = at.astimezone(KYIV)
    return local.weekday() < 5 and 8 <= local.hour < 17


POLICY = RollupPolicy(is_open=office_hours)


def synthetic_days(
    first: datetime, days: int, calls: int = 300
) -> tuple[list[CompletedCall], list[AgentSession]]:
    """Built calls and sessions of ``days`` seeded synthetic days from local midnight ``first``."""
    all_calls: list[CompletedCall] = []
    all_sessions: list[AgentSession] = []
    for n in range(days):
        day = synthetic_day(first + timedelta(days=n), seed=100 + n, calls=calls, is_open=office_hours)
        all_calls += [c for c in (build_call(e) for e in day.calls.values()) if c is not None]
        sessions = build_sessions(day.agent_events, until=day.end)
        # Synthetic agent names repeat each day; the session ids already carry the login time.
        all_sessions += sessions
    return all_calls, all_sessions


class MemorySource(ReportSource):
    """A ``ReportSource`` over built calls and sessions, rolled up by the pure code."""

    def __init__(self, calls: list[CompletedCall], sessions: list[AgentSession]) -> None:
        self.calls, self.sessions = calls, sessions
        self.rows = rollup(calls, sessions, POLICY)
        self.reads: list[tuple[datetime, datetime]] = []

    async def rollups(self, start: datetime, end: datetime, queue: str) -> list[IntervalRollup]:
        self.reads.append((start, end))
        return [r for r in self.rows if r.queue == queue and start <= r.start < end]

    async def queues(self) -> list[str]:
        return sorted({r.queue for r in self.rows if r.queue != ALL})

    async def agent_activity(self, start: datetime, end: datetime, queue: str | None) -> list[AgentDay]:
        self.reads.append((start, end))
        days: dict[str, AgentDay] = {}

        def overlap(a: datetime, b: datetime) -> float:
            return max(0.0, (min(b, end) - max(a, start)).total_seconds())

        for s in self.sessions:
            if queue is not None and queue not in s.queues:
                continue
            if not (s.login_at < end and s.logout_at > start):
                continue
            day = days.setdefault(s.agent, AgentDay(s.agent))
            paused = dict(day.paused_s)
            for p in s.pauses:
                if overlap(p.start, p.end):
                    paused[p.reason] = paused.get(p.reason, 0.0) + overlap(p.start, p.end)
            days[s.agent] = AgentDay(
                s.agent,
                day.sessions + (start <= s.login_at < end),
                day.logged_in_s + overlap(s.login_at, s.logout_at),
                paused,
                day.handled,
                day.handling_s,
                day.no_answers,
            )
        for call in self.calls:
            for leg in call.legs:
                if not (start <= leg.rang_at < end) or (queue is not None and leg.queue != queue):
                    continue
                day = days.setdefault(leg.agent, AgentDay(leg.agent))
                answered = leg.answered_at is not None
                days[leg.agent] = AgentDay(
                    leg.agent,
                    day.sessions,
                    day.logged_in_s,
                    day.paused_s,
                    day.handled + answered,
                    day.handling_s + (leg.handle_s if answered else 0.0),
                    day.no_answers + (leg.outcome in ("noanswer", "busy", "rejected")),
                )
        return [days[a] for a in sorted(days)]
