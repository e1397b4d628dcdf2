"""The facts writer end to end: live events on a bus → call facts, sessions and rollups in PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from callcenter.acd.model import AgentState, AgentStateChanged, CallerLeft
from callcenter.analytics.rollup import ALL
from callcenter.bus import EventBus
from callcenter.services.facts_writer import FactsWriter
from callcenter.services.live_events import (
    TOPIC_ACD,
    TOPIC_CALLS,
    CallArrived,
    CallConnected,
    CallFinished,
    CallHoldChanged,
    CallOffered,
    CallQueued,
    CallTransferred,
)
from callcenter.storage.analytics import AnalyticsStore

T0 = datetime(2026, 3, 3, 7, 0, tzinfo=UTC).timestamp()  # 09:00 in Kyiv, a Tuesday
SPAN = (datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC))


def _state(agent: str, state: AgentState, t: float, reason: str | None = None) -> tuple[str, Any]:
    return TOPIC_ACD, AgentStateChanged(agent, state, T0 + t, reason)


def _offer(linkedid: str, agent: str, t: float, waited: float) -> tuple[str, Any]:
    return TOPIC_CALLS, CallOffered(
        linkedid, f"u-{linkedid}", agent, "general", waited, "+380501112233", "uk", None, (), 0, at=T0 + t
    )


def script() -> list[tuple[str, Any]]:
    """Two agents, four calls: answered after a missed ring, abandoned, short abandon, IVR hang-up."""
    c = TOPIC_CALLS
    return [
        _state("a1", AgentState.AVAILABLE, 0),
        _state("a2", AgentState.AVAILABLE, 0),
        (c, CallArrived("L1", "u-L1", "+380501112233", "0800505600", "hotline", T0 + 10)),
        (c, CallQueued("L1", "general", 0, T0 + 20)),
        _offer("L1", "a2", 22, 2),
        _state("a2", AgentState.RINGING, 22),
        _state("a2", AgentState.PAUSED, 25, "no_answer"),
        _offer("L1", "a1", 25, 5),
        _state("a1", AgentState.RINGING, 25),
        (c, CallConnected("L1", "a1", "general", T0 + 30)),
        _state("a1", AgentState.ON_CALL, 30),
        _state("a1", AgentState.WRAP_UP, 150),
        (c, CallFinished("L1", "answered", "general", "a1", T0 + 150, ivr_path=("welcome", "menu"))),
        _state("a1", AgentState.AVAILABLE, 180),
        (c, CallArrived("L2", "u-L2", "+380671234567", "0800505600", "hotline", T0 + 200)),
        (c, CallQueued("L2", "general", 0, T0 + 205)),
        (c, CallFinished("L2", "abandoned_queue", "general", None, T0 + 240)),
        (c, CallArrived("L3", "u-L3", None, "0800505600", "hotline", T0 + 300)),
        (c, CallQueued("L3", "general", 0, T0 + 301)),
        (c, CallFinished("L3", "abandoned_queue", "general", None, T0 + 303)),
        (c, CallArrived("L4", "u-L4", "+380631112233", "0800505600", "hotline", T0 + 400)),
        (c, CallFinished("L4", "abandoned_ivr", None, None, T0 + 410)),
        (c, CallArrived("L5", "u-L5", "+380661112233", "0800505600", "hotline", T0 + 450)),
        (c, CallQueued("L5", "general", 0, T0 + 460)),
        (TOPIC_ACD, CallerLeft("u-L5", "general", "timeout", 60.0)),
        (c, CallFinished("L5", "abandoned_queue", "general", None, T0 + 530)),
        _state("a1", AgentState.PAUSED, 500, "break"),
        _state("a1", AgentState.AVAILABLE, 800),
        _state("a2", AgentState.LOGGED_OUT, 900),
        _state("a1", AgentState.LOGGED_OUT, 1000),
    ]


async def _clear(pool: Any) -> None:
    await pool.execute("TRUNCATE call_facts, queue_stints, agent_legs, agent_sessions, interval_rollups")


async def _snapshot(pool: Any) -> dict[str, list[Any]]:
    """Every analytics row, without the write timestamps."""
    return {
        "facts": [
            dict(r) | {"updated_at": None}
            for r in await pool.fetch("SELECT * FROM call_facts ORDER BY linkedid")
        ],
        "stints": [dict(r) for r in await pool.fetch("SELECT * FROM queue_stints ORDER BY stint_id")],
        "legs": [dict(r) for r in await pool.fetch("SELECT * FROM agent_legs ORDER BY leg_id")],
        "sessions": [dict(r) for r in await pool.fetch("SELECT * FROM agent_sessions ORDER BY session_id")],
        "rollups": [
            dict(r) for r in await pool.fetch("SELECT * FROM interval_rollups ORDER BY queue, interval_start")
        ],
    }


async def _run(pool: Any, events: list[tuple[str, Any]]) -> FactsWriter:
    bus = EventBus()
    writer = FactsWriter(
        bus,
        AnalyticsStore(pool),
        agent_queues=lambda agent: ["general"],
        clock=lambda: T0 + 2000,
    )
    await writer.start()
    for topic, event in events:
        bus.publish(topic, event)
    await writer.drain()
    await writer.stop()
    return writer


async def test_scripted_events_give_hand_computed_facts(db_pool: Any) -> None:
    """The stored facts, sessions and whole-line KPIs equal the values worked out by hand."""
    await _clear(db_pool)
    writer = await _run(db_pool, script())
    assert writer.written_calls == 5
    facts = {r["linkedid"]: r for r in await db_pool.fetch("SELECT * FROM call_facts")}
    assert {k: v["outcome"] for k, v in facts.items()} == {
        "L1": "answered",
        "L2": "abandoned_queue",
        "L3": "short_abandon",
        "L4": "abandoned_ivr",
        "L5": "overflow",
    }
    l1 = facts["L1"]
    assert (l1["wait_s"], l1["talk_s"], l1["wrap_s"], l1["ivr_s"]) == (10.0, 120.0, 30.0, 10.0)
    assert (l1["agent"], list(l1["ivr_path"]), l1["caller"]) == ("a1", ["welcome", "menu"], "+380501112233")
    assert facts["L2"]["wait_s"] == 35.0 and facts["L3"]["wait_s"] == 2.0 and facts["L5"]["wait_s"] == 60.0
    assert facts["L3"]["caller"] == ""
    legs = [
        (r["agent"], r["outcome"], r["ring_s"])
        for r in await db_pool.fetch("SELECT * FROM agent_legs WHERE linkedid = 'L1' ORDER BY leg_id")
    ]
    assert legs == [("a2", "noanswer", 3.0), ("a1", "answered", 5.0)]

    sessions = {r["agent"]: r for r in await db_pool.fetch("SELECT * FROM agent_sessions")}
    a1, a2 = sessions["a1"], sessions["a2"]
    assert (a1["logged_in_s"], a1["paused_s"], a1["staffed_s"], a1["open"]) == (1000.0, 300.0, 700.0, False)
    assert {p["reason"] for p in a1["pauses"]} == {"wrapup", "break"}
    assert (a2["logged_in_s"], a2["paused_s"], a2["staffed_s"]) == (900.0, 875.0, 25.0)
    assert list(a1["queues"]) == ["general"]

    store = AnalyticsStore(db_pool)
    line = await store.kpis(*SPAN, queue=ALL)
    assert (line.calls, line.offered, line.answered, line.answered_in_target) == (5, 4, 1, 1)
    assert (line.abandoned, line.short_abandoned, line.overflowed, line.abandoned_ivr) == (1, 1, 1, 0 + 1)
    assert (line.wait_answered_s, line.talk_s, line.wrap_s) == (10.0, 120.0, 30.0)
    assert line.staffed_s == pytest.approx(725.0)
    assert line.handling_s == pytest.approx(150.0)
    assert line.service_level == pytest.approx(1 / 3)
    queue = await store.kpis(*SPAN, queue="general")
    assert queue.offered == 4
    assert queue.staffed_s == pytest.approx(725.0)


async def test_replaying_the_events_changes_nothing(db_pool: Any) -> None:
    """The same events again, on the running writer and on a restarted one, leave every row as it was."""
    await _clear(db_pool)
    events = script()
    bus = EventBus()
    writer = FactsWriter(
        bus, AnalyticsStore(db_pool), agent_queues=lambda a: ["general"], clock=lambda: T0 + 2000
    )
    await writer.start()
    for topic, event in events:
        bus.publish(topic, event)
    await writer.drain()
    before = await _snapshot(db_pool)
    for topic, event in events:  # a replay after a reconnect, into the same writer
        bus.publish(topic, event)
    await writer.drain()
    await writer.stop()
    assert await _snapshot(db_pool) == before
    await _run(db_pool, events)  # a restarted writer sees the whole day again
    assert await _snapshot(db_pool) == before


async def test_events_out_of_order_across_topics_give_the_same_facts(db_pool: Any) -> None:
    """The agent's wrap-up end arriving before the call's end still gives the measured wrap-up."""
    await _clear(db_pool)
    events = script()
    finished = next(
        i for i, (_, e) in enumerate(events) if isinstance(e, CallFinished) and e.linkedid == "L1"
    )
    available = events.pop(finished + 1)
    events.insert(finished, available)  # AVAILABLE (end of wrap-up) before CallFinished
    await _run(db_pool, events)
    row = await db_pool.fetchrow("SELECT wrap_s, talk_s FROM call_facts WHERE linkedid = 'L1'")
    assert (row["wrap_s"], row["talk_s"]) == (30.0, 120.0)


async def test_agent_without_wrap_up_counts_zero_wrap(db_pool: Any) -> None:
    """An agent going from the call straight to available ends the call's wrap-up at the hang-up."""
    await _clear(db_pool)
    c = TOPIC_CALLS
    events = [
        _state("a1", AgentState.AVAILABLE, 0),
        (c, CallArrived("M1", "u-M1", "+380501112233", "0800", "hotline", T0 + 1)),
        (c, CallQueued("M1", "general", 0, T0 + 2)),
        _offer("M1", "a1", 3, 1),
        _state("a1", AgentState.RINGING, 3),
        (c, CallConnected("M1", "a1", "general", T0 + 4)),
        _state("a1", AgentState.ON_CALL, 4),
        _state("a1", AgentState.AVAILABLE, 63.999),  # the ACD's clock is a hair ahead of the pipeline's
        (c, CallFinished("M1", "answered", "general", "a1", T0 + 64)),
    ]
    writer = await _run(db_pool, events)
    row = await db_pool.fetchrow("SELECT outcome, talk_s, wrap_s FROM call_facts WHERE linkedid = 'M1'")
    assert (row["outcome"], row["talk_s"], row["wrap_s"]) == ("answered", 60.0, 0.0)
    assert writer.written_calls == 1
    session = await db_pool.fetchrow("SELECT open, logout_at FROM agent_sessions WHERE agent = 'a1'")
    assert session["open"] and session["logout_at"] == datetime.fromtimestamp(T0 + 2000, UTC)
    assert session["logout_at"] - datetime.fromtimestamp(T0, UTC) == timedelta(seconds=2000)


async def test_hold_transfer_and_callback_events_reach_the_facts(db_pool: Any) -> None:
    """Hold periods, an agent transfer and a callback request from the live events are in the facts."""
    await _clear(db_pool)
    c = TOPIC_CALLS
    events = [
        _state("a1", AgentState.AVAILABLE, 0),
        (c, CallArrived("H1", "u-H1", "+380501112233", "0800", "hotline", T0 + 1)),
        (c, CallQueued("H1", "general", 0, T0 + 2)),
        _offer("H1", "a1", 3, 1),
        _state("a1", AgentState.RINGING, 3),
        (c, CallConnected("H1", "a1", "general", T0 + 5)),
        _state("a1", AgentState.ON_CALL, 5),
        (c, CallHoldChanged("H1", "a1", True, T0 + 20)),
        (c, CallHoldChanged("H1", "a1", False, T0 + 50)),
        (c, CallTransferred("H1", "legal-dept", "a1", T0 + 65)),
        _state("a1", AgentState.WRAP_UP, 65),
        _state("a1", AgentState.AVAILABLE, 75),
        (c, CallFinished("H1", "answered", "general", "a1", T0 + 125)),
        (c, CallArrived("B1", "u-B1", "+380501112244", "0800", "hotline", T0 + 200)),
        (c, CallQueued("B1", "general", 0, T0 + 201)),
        (c, CallFinished("B1", "callback", "general", None, T0 + 260)),
        # The callback rings an agent long after the caller's call ended: not part of its facts.
        (c, _callback_offer("B1", "a1", T0 + 900)),
        (c, CallConnected("B1", "a1", "general", T0 + 905)),
    ]
    await _run(db_pool, events)
    facts = {r["linkedid"]: r for r in await db_pool.fetch("SELECT * FROM call_facts")}
    h1 = facts["H1"]
    # Talk runs to the transfer (60 s) minus 30 s on hold; wrap-up from the transfer to AVAILABLE.
    assert (h1["talk_s"], h1["hold_s"], h1["wrap_s"], h1["transferred"]) == (30.0, 30.0, 10.0, True)
    leg = await db_pool.fetchrow("SELECT transferred_to FROM agent_legs WHERE linkedid = 'H1'")
    assert leg["transferred_to"] == "legal-dept"
    b1 = facts["B1"]
    assert (b1["outcome"], b1["callback"], b1["wait_s"], b1["agent"]) == ("callback", True, 59.0, None)
    assert await db_pool.fetchval("SELECT count(*) FROM agent_legs WHERE linkedid = 'B1'") == 0


def _callback_offer(linkedid: str, agent: str, at: float) -> CallOffered:
    return CallOffered(
        linkedid, f"u-{linkedid}", agent, "general", 699.0, "+380501112244", None, None, (), 0,
        is_callback=True, at=at,
    )  # fmt: skip
