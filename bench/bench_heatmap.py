"""Benchmark: a month's heatmap and a year's daily trend over 10 M calls, rollups vs full scan.

Loads a synthetic year of a national line (10 M call facts by default) with COPY into a scratch
schema of ``CALLCENTER_BENCH_DSN`` (default ``postgresql://postgres@127.0.0.1:5432/test``), builds
the 15-minute rollups, then times the report queries the product uses (``AnalyticsStore.heatmap``
and ``daily_trend``, which read only ``interval_rollups``) against the peer: the same answers
computed from ``call_facts`` directly.  Both answers are compared for equality before timing.
The schema is dropped at the end, even on failure.  Not part of the test suite.

The rollups of 10 M calls are built here by one SQL aggregate that applies the same attribution
rules as ``callcenter.analytics.rollup`` to these single-stint synthetic calls; feeding 10 M calls
through the incremental ``record_call`` path would take hours.  That path's own throughput is
measured separately on a few thousand calls (``--write-calls``).

    .venv/bin/python bench/bench_heatmap.py [--calls 10000000] [--write-calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from callcenter.analytics.facts import build_call
from callcenter.analytics.hours import KYIV
from callcenter.analytics.rollup import RollupPolicy
from callcenter.analytics.synthetic import synthetic_day
from callcenter.storage.analytics import AnalyticsStore
from callcenter.storage.db import open_pool
from callcenter.storage.migrate import migrate

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
YEAR = 2025
# Relative volume per local hour and per weekday (Monday first) of a national hotline.
HOURLY = [1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 15, 13, 11, 12, 13, 12, 10, 8, 6, 4, 3, 2, 2, 1]
WEEKDAY = [1.25, 1.15, 1.1, 1.05, 1.0, 0.55, 0.45]
QUEUES = ["general", "pensions", "social", "utilities"]
COLUMNS = [
    "linkedid",
    "arrived_at",
    "ended_at",
    "caller",
    "did",
    "outcome",
    "ivr_s",
    "first_queue",
    "last_queue",
    "wait_s",
    "answered_at",
    "agent",
    "talk_s",
    "hold_s",
    "wrap_s",
    "stints",
    "transferred",
    "callback",
    "after_hours",
    "survival",
    "hungup_by",
]


def office_hours(local: datetime) -> bool:
    """The 'general' queue's schedule: Mon–Fri 08:00–17:00; the other queues are 24/7."""
    return local.weekday() < 5 and 8 <= local.hour < 17


def generate_chunk(rng: random.Random, start_n: int, count: int) -> bytes:
    """``count`` call-fact rows as CSV for COPY."""
    days = [datetime(YEAR, 1, 1, tzinfo=KYIV) + timedelta(days=d) for d in range(365)]
    day_weights = [WEEKDAY[d.weekday()] for d in days]
    picked_days = rng.choices(days, day_weights, k=count)
    picked_hours = rng.choices(range(24), HOURLY, k=count)
    queues = rng.choices(QUEUES, [5, 2, 2, 1], k=count)
    rolls = [rng.random() for _ in range(count)]
    out = io.StringIO()
    write = out.write
    for i in range(count):
        day, hour, queue, roll = picked_days[i], picked_hours[i], queues[i], rolls[i]
        local = day.replace(hour=hour) + timedelta(seconds=rng.random() * 3600)
        arrived = local.astimezone(UTC)
        ivr = 5 + rng.random() * 20
        wait = rng.expovariate(1 / 40)
        answered_at = agent = ""
        talk = hold = wrap = 0.0
        stints = 1
        after = callback = "f"
        if queue == "general" and not office_hours(local):
            outcome, wait, stints, after, end = "after_hours", 0.0, 0, "t", ivr + 10
        elif roll < 0.05:
            outcome, wait, stints, queue, end = "abandoned_ivr", 0.0, 0, "", ivr
        elif roll < 0.22:
            outcome = "short_abandon" if wait < 5 else "abandoned_queue"
            end = ivr + wait
        elif roll < 0.25:
            outcome, callback, end = "callback", "t", ivr + wait
        else:
            outcome = "answered"
            talk = 30 + rng.expovariate(1 / 180)
            hold = 20.0 if roll > 0.9 else 0.0
            wrap = 10 + rng.random() * 40
            answered_at = (arrived + timedelta(seconds=ivr + wait)).isoformat()
            agent = f"agent{rng.randrange(400):03d}"
            end = ivr + wait + talk + hold
        ended = (arrived + timedelta(seconds=end)).isoformat()
        write(
            f"{start_n + i}.{int(arrived.timestamp())},{arrived.isoformat()},{ended},"
            f"+380{rng.randrange(10**8, 10**9)},0800500000,{outcome},{ivr:.3f},{queue},{queue},"
            f"{wait:.3f},{answered_at},{agent},{talk:.3f},{hold:.3f},{wrap:.3f},{stints},"
            f"f,{callback},{after},f,caller\n"
        )
    return out.getvalue().encode()


ROLLUP_SQL = """
INSERT INTO interval_rollups (queue, interval_start, is_open, calls, offered, answered,
    answered_in_target, abandoned, short_abandoned, callbacks, abandoned_ivr, after_hours,
    wait_answered_s, wait_abandoned_s, longest_wait_s, talk_s, hold_s, wrap_s)
SELECT q, b,
       -- 'general' keeps office hours; the other queues, and so the line as a whole, are 24/7.
       CASE WHEN q = 'general' THEN extract(isodow FROM b AT TIME ZONE 'Europe/Kyiv') < 6
            AND extract(hour FROM b AT TIME ZONE 'Europe/Kyiv') BETWEEN 8 AND 16 ELSE true END,
       calls, offered, answered, in_target, abandoned, short_ab, callbacks, ivr_ab, after_hours,
       wait_ans, wait_ab, longest, talk, hold, wrap
FROM (
    SELECT CASE WHEN GROUPING(first_queue) = 1 THEN '*' ELSE first_queue END AS q,
           date_bin('15 minutes', arrived_at, TIMESTAMPTZ '2000-01-01 00:00+00') AS b,
           count(*) AS calls,
           count(*) FILTER (WHERE stints > 0) AS offered,
           count(*) FILTER (WHERE outcome = 'answered') AS answered,
           count(*) FILTER (WHERE outcome = 'answered' AND wait_s <= 20) AS in_target,
           count(*) FILTER (WHERE outcome = 'abandoned_queue') AS abandoned,
           count(*) FILTER (WHERE outcome = 'short_abandon') AS short_ab,
           count(*) FILTER (WHERE outcome = 'callback') AS callbacks,
           count(*) FILTER (WHERE outcome = 'abandoned_ivr') AS ivr_ab,
           count(*) FILTER (WHERE outcome = 'after_hours') AS after_hours,
           coalesce(sum(wait_s) FILTER (WHERE outcome = 'answered'), 0) AS wait_ans,
           coalesce(sum(wait_s) FILTER (WHERE outcome = 'abandoned_queue'), 0) AS wait_ab,
           coalesce(max(wait_s) FILTER (WHERE stints > 0), 0) AS longest,
           coalesce(sum(talk_s) FILTER (WHERE outcome = 'answered'), 0) AS talk,
           coalesce(sum(hold_s) FILTER (WHERE outcome = 'answered'), 0) AS hold,
           coalesce(sum(wrap_s) FILTER (WHERE outcome = 'answered'), 0) AS wrap
      FROM call_facts
     GROUP BY GROUPING SETS ((2), (first_queue, 2))
) g
WHERE q IS NOT NULL
"""

SCAN_HEATMAP_SQL = """
SELECT extract(isodow FROM arrived_at AT TIME ZONE 'Europe/Kyiv')::int - 1 AS weekday,
       extract(hour FROM arrived_at AT TIME ZONE 'Europe/Kyiv')::int AS hour,
       count(*) AS calls, count(*) FILTER (WHERE outcome = 'after_hours') AS closed_calls
  FROM call_facts WHERE arrived_at >= $1 AND arrived_at < $2 GROUP BY 1, 2
"""
SCAN_TREND_SQL = """
SELECT (arrived_at AT TIME ZONE 'Europe/Kyiv')::date AS day, count(*) AS calls,
       count(*) FILTER (WHERE outcome = 'answered') AS answered,
       count(*) FILTER (WHERE outcome = 'answered' AND wait_s <= 20) AS in_target,
       count(*) FILTER (WHERE outcome = 'abandoned_queue') AS abandoned
  FROM call_facts WHERE arrived_at >= $1 AND arrived_at < $2 GROUP BY 1 ORDER BY 1
"""


async def timed(label: str, runs: int, fn: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """Median wall time of ``runs`` calls after one warm-up; returns (seconds, last result)."""
    result = await fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = await fn()
        samples.append(time.perf_counter() - t0)
    median = statistics.median(samples)
    print(f"  {label:<42} median {median * 1000:9.1f} ms   (min {min(samples) * 1000:.1f}, n={runs})")
    return median, result


async def main(calls: int, write_calls: int, chunk: int, runs: int) -> None:
    dsn = os.environ.get("CALLCENTER_BENCH_DSN", DEFAULT_DSN)
    schema = f"bench_heatmap_{uuid.uuid4().hex[:8]}"
    pool = await open_pool(dsn, schema=schema, min_size=1, max_size=4, statement_timeout_ms=0)
    try:
        await migrate(pool)
        print(f"schema {schema} on {dsn.rsplit('@', 1)[-1]}; loading {calls:,} call facts with COPY")
        await pool.execute("DROP INDEX call_facts_arrived_idx; DROP INDEX call_facts_outcome_arrived_idx")
        rng = random.Random(YEAR)
        gen_s = copy_s = 0.0
        async with pool.acquire() as conn:
            for start in range(0, calls, chunk):
                t0 = time.perf_counter()
                data = generate_chunk(rng, start, min(chunk, calls - start))
                t1 = time.perf_counter()
                await conn.copy_to_table("call_facts", source=io.BytesIO(data), columns=COLUMNS, format="csv")
                copy_s += time.perf_counter() - t1
                gen_s += t1 - t0
        print(f"  generated in {gen_s:.0f} s; COPY {copy_s:.0f} s ({calls / copy_s:,.0f} rows/s)")
        t0 = time.perf_counter()
        await pool.execute(
            "CREATE INDEX call_facts_arrived_idx ON call_facts (arrived_at);"
            "CREATE INDEX call_facts_outcome_arrived_idx ON call_facts (outcome, arrived_at)"
        )
        print(f"  indexes rebuilt in {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        await pool.execute(ROLLUP_SQL)
        await pool.execute("VACUUM ANALYZE call_facts")
        await pool.execute("VACUUM ANALYZE interval_rollups")
        rollup_rows = await pool.fetchval("SELECT count(*) FROM interval_rollups")
        facts_mb = await pool.fetchval("SELECT pg_total_relation_size('call_facts') / 1048576")
        print(
            f"  {rollup_rows:,} rollup rows built in {time.perf_counter() - t0:.0f} s; facts {facts_mb:,} MB"
        )

        store = AnalyticsStore(pool)
        month = (datetime(YEAR, 3, 1, tzinfo=KYIV), datetime(YEAR, 4, 1, tzinfo=KYIV))
        year = (datetime(YEAR, 1, 1, tzinfo=KYIV), datetime(YEAR + 1, 1, 1, tzinfo=KYIV))
        print("month heatmap (March):")
        ours_m, hm = await timed(
            "ours: AnalyticsStore.heatmap (rollups)", runs, lambda: store.heatmap(*month)
        )
        peer_m, scan = await timed(
            "peer: GROUP BY over call_facts", runs, lambda: pool.fetch(SCAN_HEATMAP_SQL, *month)
        )
        scanned = {(r["weekday"], r["hour"]): (r["calls"], r["closed_calls"]) for r in scan}
        assert {k: (c.calls, c.closed_calls) for k, c in hm.cells.items()} == scanned, "heatmaps differ"
        print("year daily trend:")
        ours_y, trend = await timed(
            "ours: AnalyticsStore.daily_trend (rollups)", runs, lambda: store.daily_trend(*year)
        )
        peer_y, scan = await timed(
            "peer: GROUP BY over call_facts", runs, lambda: pool.fetch(SCAN_TREND_SQL, *year)
        )
        by_day = {r["day"]: (r["calls"], r["answered"], r["in_target"], r["abandoned"]) for r in scan}
        assert {d: (k.calls, k.answered, k.answered_in_target, k.abandoned) for d, k in trend} == by_day
        assert sum(k.calls for _, k in trend) == calls
        print(f"  results equal; {len(trend)} days, {hm.total_calls:,} calls in March")

        write_s = 0.0
        if write_calls:
            closed = RollupPolicy(is_open=lambda q, at: office_hours(at.astimezone(KYIV)))
            writer = AnalyticsStore(pool, closed)
            day = synthetic_day(datetime(YEAR + 2, 3, 2, tzinfo=KYIV), seed=1, calls=write_calls)
            built = [c for c in (build_call(e) for e in day.calls.values()) if c is not None]
            t0 = time.perf_counter()
            await writer.record_calls(built)
            write_s = time.perf_counter() - t0
        print()
        print(f"SUMMARY ({calls:,} calls)")
        print(
            f"  month heatmap: peer {peer_m * 1000:.1f} ms, ours {ours_m * 1000:.1f} ms, ratio {peer_m / ours_m:.0f}x"
        )
        print(
            f"  year trend:    peer {peer_y * 1000:.1f} ms, ours {ours_y * 1000:.1f} ms, ratio {peer_y / ours_y:.0f}x"
        )
        if write_calls:
            print(
                f"  incremental record_call: {len(built) / write_s:,.0f} calls/s ({len(built):,} calls, one connection)"
            )
    finally:
        await pool.close()
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
        print(f"schema {schema} dropped")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--write-calls", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=250_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.write_calls, args.chunk, args.runs))
