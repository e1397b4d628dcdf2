"""Storing call facts and agent sessions, keeping the interval rollups current, and reading reports.

Writes are idempotent upserts keyed by linkedid (calls) and session id (sessions).  Each write
runs in one transaction, under an advisory lock on its key, and applies to ``interval_rollups``
the *difference* between the new row's contributions and those of the row it replaces (computed
by the same pure ``callcenter.analytics.rollup`` code the tests use).  So a replayed call changes
nothing, a corrected call moves its counts, and the rollups always equal the facts summed,
which is what lets reports read only the rollups (see docs/kpi.md).

One limit: ``longest_wait_s`` is a maximum and cannot be un-added; a correction that *shortens*
a call's wait leaves that interval's longest wait as it was until the interval is rebuilt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from datetime import date, datetime
from typing import Any

from callcenter.analytics.facts import AgentLeg, CallFact, CallOutcome, CompletedCall, QueueStint
from callcenter.analytics.hours import HeatCell, Heatmap
from callcenter.analytics.kpi import KpiCounters, StintOutcome
from callcenter.analytics.rollup import (
    ALL,
    IntervalRollup,
    RollupKey,
    RollupPolicy,
    call_contributions,
    session_contributions,
)
from callcenter.analytics.sessions import AgentSession, Pause
from callcenter.errors import StorageError

__all__ = ["AnalyticsStore"]

_COUNTERS = KpiCounters.column_names()
_FACT_COLUMNS = tuple(f.name for f in fields(CallFact))
_STINT_COLUMNS = tuple(f.name for f in fields(QueueStint))
_LEG_COLUMNS = tuple(f.name for f in fields(AgentLeg))
# Distinct from the migration lock's namespace; hashtext() spreads keys over int4.
_LOCK_CALL, _LOCK_SESSION = 0x0A1A, 0x0A1B


def _insert_sql(table: str, columns: tuple[str, ...], key: str) -> str:
    names = ", ".join(columns)
    params = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != key)
    return f"INSERT INTO {table} ({names}) VALUES ({params}) ON CONFLICT ({key}) DO UPDATE SET {updates}"


_UPSERT_FACT = _insert_sql("call_facts", _FACT_COLUMNS, "linkedid").replace(
    "DO UPDATE SET ", "DO UPDATE SET updated_at = now(), "
)
_INSERT_STINT = _insert_sql("queue_stints", _STINT_COLUMNS, "stint_id")
_INSERT_LEG = _insert_sql("agent_legs", _LEG_COLUMNS, "leg_id")
_UPSERT_ROLLUP = (
    f"INSERT INTO interval_rollups (queue, interval_start, is_open, {', '.join(_COUNTERS)}) "
    f"VALUES ($1, $2, $3, {', '.join(f'${n}' for n in range(4, 4 + len(_COUNTERS)))}) "
    "ON CONFLICT (queue, interval_start) DO UPDATE SET "
    + ", ".join(
        f"{c} = GREATEST(interval_rollups.{c}, EXCLUDED.{c})"
        if c == "longest_wait_s"
        else f"{c} = interval_rollups.{c} + EXCLUDED.{c}"
        for c in _COUNTERS
    )
)
_SUMS = ", ".join(f"max({c}) AS {c}" if c == "longest_wait_s" else f"sum({c}) AS {c}" for c in _COUNTERS)


def _delta(
    old: dict[RollupKey, KpiCounters], new: dict[RollupKey, KpiCounters]
) -> dict[RollupKey, list[Any]]:
    """Per key, the values to add: new − old for sums, the new value for the maximum."""
    result: dict[RollupKey, list[Any]] = {}
    empty = KpiCounters()
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key, empty), new.get(key, empty)
        values = [
            getattr(after, c) if c == "longest_wait_s" else getattr(after, c) - getattr(before, c)
            for c in _COUNTERS
        ]
        if any(values):
            result[key] = values
    return result


def _fact_from_row(row: Any) -> CallFact:
    values = dict(row)
    values["outcome"] = CallOutcome(values["outcome"])
    values["ivr_path"] = tuple(values["ivr_path"])
    return CallFact(**{c: values[c] for c in _FACT_COLUMNS})


def _session_row(session: AgentSession) -> tuple[Any, ...]:
    pauses = [
        {"reason": p.reason, "start": p.start.isoformat(), "end": p.end.isoformat()} for p in session.pauses
    ]
    return (
        session.session_id,
        session.agent,
        list(session.queues),
        session.login_at,
        session.logout_at,
        session.open,
        pauses,
        session.logged_in_s,
        session.paused_s,
        session.staffed_s,
    )


def _session_from_row(row: Any) -> AgentSession:
    pauses = tuple(
        Pause(p["reason"], datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"]))
        for p in row["pauses"]
    )
    return AgentSession(
        row["session_id"],
        row["agent"],
        tuple(row["queues"]),
        row["login_at"],
        row["logout_at"],
        row["open"],
        pauses,
    )


class AnalyticsStore:
    """Call facts, sessions and rollups in PostgreSQL (``pool`` is an ``asyncpg.Pool``)."""

    def __init__(self, pool: Any, policy: RollupPolicy | None = None) -> None:
        self._pool = pool
        self._policy = policy or RollupPolicy()

    # --- writes -------------------------------------------------------------------------------

    async def record_call(self, call: CompletedCall) -> bool:
        """Upsert a finished call and move its rollup contributions; False when nothing changed."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_CALL, call.fact.linkedid
            )
            old = await self._load_call(conn, call.fact.linkedid)
            if old == call:
                return False
            fact = call.fact
            await conn.execute(_UPSERT_FACT, *(_db_value(getattr(fact, c)) for c in _FACT_COLUMNS))
            await conn.execute("DELETE FROM queue_stints WHERE linkedid = $1", fact.linkedid)
            await conn.execute("DELETE FROM agent_legs WHERE linkedid = $1", fact.linkedid)
            if call.stints:
                await conn.executemany(
                    _INSERT_STINT,
                    [tuple(_db_value(getattr(s, c)) for c in _STINT_COLUMNS) for s in call.stints],
                )
            if call.legs:
                await conn.executemany(
                    _INSERT_LEG,
                    [tuple(_db_value(getattr(leg, c)) for c in _LEG_COLUMNS) for leg in call.legs],
                )
            before = call_contributions(old, self._policy) if old is not None else {}
            await self._apply(conn, _delta(before, call_contributions(call, self._policy)))
            return True

    async def record_calls(self, calls: Iterable[CompletedCall]) -> int:
        """Record several calls; returns how many changed anything."""
        changed = 0
        for call in calls:
            changed += await self.record_call(call)
        return changed

    async def record_session(self, session: AgentSession) -> bool:
        """Upsert an agent session (open sessions are re-recorded as they grow); False if unchanged."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_SESSION, session.session_id
            )
            row = await conn.fetchrow(
                "SELECT * FROM agent_sessions WHERE session_id = $1", session.session_id
            )
            old = _session_from_row(row) if row is not None else None
            if old == session:
                return False
            await conn.execute(
                _insert_sql(
                    "agent_sessions",
                    (
                        "session_id",
                        "agent",
                        "queues",
                        "login_at",
                        "logout_at",
                        "open",
                        "pauses",
                        "logged_in_s",
                        "paused_s",
                        "staffed_s",
                    ),
                    "session_id",
                ),
                *_session_row(session),
            )
            before = session_contributions(old) if old is not None else {}
            await self._apply(conn, _delta(before, session_contributions(session)))
            return True

    async def _load_call(self, conn: Any, linkedid: str) -> CompletedCall | None:
        row = await conn.fetchrow("SELECT * FROM call_facts WHERE linkedid = $1", linkedid)
        if row is None:
            return None
        stints = await conn.fetch("SELECT * FROM queue_stints WHERE linkedid = $1 ORDER BY seq", linkedid)
        legs = await conn.fetch("SELECT * FROM agent_legs WHERE linkedid = $1", linkedid)
        return CompletedCall(
            _fact_from_row(row),
            tuple(
                QueueStint(**{**{c: s[c] for c in _STINT_COLUMNS}, "outcome": StintOutcome(s["outcome"])})
                for s in stints
            ),
            tuple(
                sorted(
                    (AgentLeg(**{c: leg[c] for c in _LEG_COLUMNS}) for leg in legs),
                    key=lambda leg: int(leg.leg_id.rsplit("/", 1)[1]),
                )
            ),
        )

    async def _apply(self, conn: Any, delta: dict[RollupKey, list[Any]]) -> None:
        if not delta:
            return
        await conn.executemany(
            _UPSERT_ROLLUP,
            [
                (queue, start, self._policy.is_open(queue, start), *values)
                for (queue, start), values in delta.items()
            ],
        )

    # --- reads (rollups only) -------------------------------------------------------------------

    async def rollups(self, start: datetime, end: datetime, queue: str | None = None) -> list[IntervalRollup]:
        """Rollup rows with ``start <= interval_start < end``, for one queue or all of them."""
        rows = await self._pool.fetch(
            "SELECT * FROM interval_rollups WHERE interval_start >= $1 AND interval_start < $2"
            " AND ($3::text IS NULL OR queue = $3) ORDER BY queue, interval_start",
            start,
            end,
            queue,
        )
        return [
            IntervalRollup(r["queue"], r["interval_start"], r["is_open"], KpiCounters.from_mapping(dict(r)))
            for r in rows
        ]

    async def kpis(self, start: datetime, end: datetime, queue: str = ALL) -> KpiCounters:
        """The counters (with every KPI as a property) for one queue, or the line, over a period."""
        row = await self._pool.fetchrow(
            f"SELECT {_SUMS} FROM interval_rollups WHERE queue = $1 AND interval_start >= $2 AND interval_start < $3",
            queue,
            start,
            end,
        )
        return KpiCounters.from_mapping(dict(row))

    async def heatmap(
        self, start: datetime, end: datetime, queue: str = ALL, tz: str = "Europe/Kyiv"
    ) -> Heatmap:
        """Weekday × local-hour demand over ``[start, end)``, aggregated from the rollups."""
        rows = await self._pool.fetch(
            """SELECT extract(isodow FROM interval_start AT TIME ZONE $4)::int - 1 AS weekday,
                      extract(hour FROM interval_start AT TIME ZONE $4)::int AS hour,
                      sum(calls) AS calls,
                      sum(CASE WHEN is_open THEN after_hours ELSE calls END) AS closed_calls,
                      count(*) AS intervals,
                      count(*) FILTER (WHERE NOT is_open) AS closed_intervals
                 FROM interval_rollups
                WHERE queue = $1 AND interval_start >= $2 AND interval_start < $3
                GROUP BY 1, 2""",
            queue,
            start,
            end,
            tz,
        )
        return Heatmap(
            HeatCell(
                r["weekday"], r["hour"], r["calls"], r["closed_calls"], r["intervals"], r["closed_intervals"]
            )
            for r in rows
        )

    async def daily_trend(
        self, start: datetime, end: datetime, queue: str = ALL, tz: str = "Europe/Kyiv"
    ) -> list[tuple[date, KpiCounters]]:
        """Counters per local calendar day over ``[start, end)``, from the rollups."""
        rows = await self._pool.fetch(
            f"""SELECT (interval_start AT TIME ZONE $4)::date AS day, {_SUMS}
                  FROM interval_rollups
                 WHERE queue = $1 AND interval_start >= $2 AND interval_start < $3
                 GROUP BY 1 ORDER BY 1""",
            queue,
            start,
            end,
            tz,
        )
        return [(r["day"], KpiCounters.from_mapping(dict(r))) for r in rows]

    async def abandoned_calls(self, start: datetime, end: datetime, limit: int = 500) -> list[CallFact]:
        """Calls abandoned in the queue over a period, newest first: the list to call back."""
        if limit <= 0:
            raise StorageError("limit must be positive")
        rows = await self._pool.fetch(
            "SELECT * FROM call_facts WHERE outcome = 'abandoned_queue' AND arrived_at >= $1 AND arrived_at < $2"
            " ORDER BY arrived_at DESC LIMIT $3",
            start,
            end,
            limit,
        )
        return [_fact_from_row(r) for r in rows]


def _db_value(value: Any) -> Any:
    """Enums are stored by value and tuples as arrays."""
    if isinstance(value, CallOutcome | StintOutcome):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value
