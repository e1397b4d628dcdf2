"""The facts writer under faults: failing and slow stores, lost bus events, calls that never finish."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from structlog.testing import capture_logs

from callcenter.analytics.facts import CallOutcome, CompletedCall
from callcenter.analytics.sessions import AgentSession
from callcenter.bus import EventBus
from callcenter.services.facts_writer import FactsWriter, FactsWriterConfig
from callcenter.services.live_events import TOPIC_CALLS, CallArrived, CallFinished, CallQueued

T0 = 1_772_521_200.0  # 2026-03-03 07:00 UTC

FAST = FactsWriterConfig(retry_initial_s=0.01, retry_max_s=0.02, sweep_interval_s=3600, max_attempts=3)


@dataclass
class MemoryStore:
    """An in-memory stand-in for AnalyticsStore that can fail or stall on demand."""

    calls: dict[str, CompletedCall] = field(default_factory=dict)
    sessions: dict[str, AgentSession] = field(default_factory=dict)
    failures: list[BaseException] = field(default_factory=list)
    attempts: int = 0
    gate: asyncio.Event | None = None

    async def record_call(self, call: CompletedCall) -> bool:
        self.attempts += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        changed = self.calls.get(call.fact.linkedid) != call
        self.calls[call.fact.linkedid] = call
        return changed

    async def record_session(self, session: AgentSession) -> bool:
        self.sessions[session.session_id] = session
        return True


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _call(linkedid: str, start: float, outcome: str = "abandoned_ivr") -> list[object]:
    return [
        CallArrived(linkedid, f"u-{linkedid}", "+380501112233", "0800", "hotline", start),
        CallFinished(linkedid, outcome, None, None, start + 30),
    ]


async def test_failed_writes_are_retried_until_they_succeed() -> None:
    """Connection errors are retried with backoff and the call is written once the database is back."""
    store = MemoryStore(failures=[OSError("connection refused")] * 5)
    bus = EventBus()
    writer = FactsWriter(bus, store, config=FAST)
    await writer.start()
    for event in _call("L1", T0):
        bus.publish(TOPIC_CALLS, event)
    with capture_logs() as logs:
        await asyncio.wait_for(writer.drain(), 5)
    await writer.stop()
    assert store.attempts == 6 and "L1" in store.calls
    assert [e["event"] for e in logs].count("facts_write_failed") == 5
    assert writer.dropped_writes == 0


async def test_a_write_failing_on_bad_data_is_dropped_after_the_limit() -> None:
    """A non-connection error is retried ``max_attempts`` times, then dropped and logged; later calls go on."""
    store = MemoryStore(failures=[ValueError("bad row")] * 3)
    bus = EventBus()
    writer = FactsWriter(bus, store, config=FAST)
    await writer.start()
    with capture_logs() as logs:
        for event in [*_call("L1", T0), *_call("L2", T0 + 100)]:
            bus.publish(TOPIC_CALLS, event)
        await asyncio.wait_for(writer.drain(), 5)
    await writer.stop()
    assert writer.dropped_writes == 1 and list(store.calls) == ["L2"]
    assert any(e["event"] == "facts_write_dropped" and e["key"] == "L1" for e in logs)


async def test_a_stalled_store_never_holds_up_the_bus() -> None:
    """While a write hangs, publishing and mapping go on, and newer versions replace the pending one."""
    gate = asyncio.Event()
    store = MemoryStore(gate=gate)
    bus = EventBus()
    writer = FactsWriter(bus, store, config=FAST)
    await writer.start()
    for n in range(200):
        for event in _call(f"L{n}", T0 + n):
            bus.publish(TOPIC_CALLS, event)  # returns at once whatever the store does
    await asyncio.sleep(0.05)
    assert len(writer.builder.in_progress()) == 200  # every call was mapped and built meanwhile
    assert store.calls == {}
    gate.set()
    await asyncio.wait_for(writer.drain(), 5)
    await writer.stop()
    assert len(store.calls) == 200


async def test_missed_events_are_logged_with_the_calls_at_risk() -> None:
    """When the bus drops events for the writer, the log names the count and the calls in progress."""
    store = MemoryStore()
    bus = EventBus()
    writer = FactsWriter(bus, store, config=FactsWriterConfig(queue_size=4, sweep_interval_s=3600))
    await writer.start()
    bus.publish(TOPIC_CALLS, CallArrived("K1", "u-K1", None, "0800", "hotline", T0))
    await asyncio.sleep(0.01)  # K1 is in progress
    with capture_logs() as logs:
        for n in range(10):  # without yielding: the writer's queue of 4 overflows
            bus.publish(TOPIC_CALLS, CallArrived(f"X{n}", f"u-X{n}", None, "0800", "hotline", T0 + n))
        await asyncio.sleep(0.01)
    await writer.stop()
    missed = [e for e in logs if e["event"] == "facts_events_missed"]
    assert len(missed) == 1 and missed[0]["count"] == 6
    assert "K1" in missed[0]["linkedids"] and "incomplete" in missed[0]["note"]
    assert writer.missed == 6


async def test_a_call_without_call_finished_is_forced_out_after_the_timeout() -> None:
    """A call whose end never arrives is written after ``call_timeout_s``, hung up by the system."""
    clock = Clock()
    store = MemoryStore()
    bus = EventBus()
    config = FactsWriterConfig(call_timeout_s=600, sweep_interval_s=3600, retention_s=60)
    writer = FactsWriter(bus, store, config=config, monotonic=clock)
    await writer.start()
    bus.publish(TOPIC_CALLS, CallArrived("L9", "u-L9", "+380501112233", "0800", "hotline", T0))
    bus.publish(TOPIC_CALLS, CallQueued("L9", "general", 0, T0 + 12))
    await writer.drain()
    clock.now = 599
    writer.sweep()
    await writer.drain()
    assert store.calls == {}
    clock.now = 601
    with capture_logs() as logs:
        writer.sweep()
    await writer.drain()
    fact = store.calls["L9"].fact
    assert (fact.hungup_by, fact.outcome, fact.ivr_s) == ("system", CallOutcome.SHORT_ABANDON, 12.0)
    assert any(e["event"] == "facts_call_forced" and e["reason"] == "no_call_finished" for e in logs)
    clock.now = 700
    writer.sweep()  # past retention: forgotten
    assert writer.builder.in_progress() == []
    await writer.stop()


async def test_a_late_event_after_retention_is_ignored_and_does_not_overwrite_the_fact() -> None:
    """Past retention only a tombstone is left: a stray event for the call starts no new call
    (which would be forced out later as a one-event fact overwriting the real one); the tombstone
    itself goes after ``tombstone_s``."""
    clock = Clock()
    store = MemoryStore()
    bus = EventBus()
    config = FactsWriterConfig(call_timeout_s=600, sweep_interval_s=3600, retention_s=60, tombstone_s=600)
    writer = FactsWriter(bus, store, config=config, monotonic=clock)
    await writer.start()
    bus.publish(TOPIC_CALLS, CallArrived("L7", "u-L7", "+380501112233", "0800", "hotline", T0))
    bus.publish(TOPIC_CALLS, CallFinished("L7", "abandoned_ivr", None, None, T0 + 20))
    await writer.drain()
    written = store.calls["L7"]
    clock.now = 61
    writer.sweep()  # past retention: forgotten, tombstoned
    assert writer.builder.in_progress() == []
    bus.publish(TOPIC_CALLS, CallQueued("L7", "general", 0, T0 + 900))  # a stray, much later
    await writer.drain()
    assert writer.late_events == 1 and writer.builder.in_progress() == []
    clock.now = 61 + 700
    writer.sweep()  # nothing forced out, and the fact is the one written
    await writer.drain()
    assert store.calls["L7"] is written
    # Past tombstone_s the linkedid is forgotten too: memory stays bounded.
    bus.publish(TOPIC_CALLS, CallQueued("L7", "general", 0, T0 + 2000))
    await writer.drain()
    assert writer.late_events == 1 and writer.builder.in_progress() == ["L7"]
    await writer.stop()


async def test_stop_writes_calls_waiting_for_wrap_up() -> None:
    """On stop, a hung-up call still waiting for its agent's wrap-up end is written with zero wrap-up."""
    from callcenter.services.live_events import CallConnected

    store = MemoryStore()
    bus = EventBus()
    writer = FactsWriter(bus, store, config=FAST)
    await writer.start()
    for event in (
        CallArrived("W1", "u-W1", None, "0800", "hotline", T0),
        CallQueued("W1", "general", 0, T0 + 5),
        CallConnected("W1", "a1", "general", T0 + 8),
        CallFinished("W1", "answered", "general", "a1", T0 + 68),
    ):
        bus.publish(TOPIC_CALLS, event)
    await writer.drain()
    assert store.calls == {}  # complete only once the wrap-up ends
    await writer.stop()
    fact = store.calls["W1"].fact
    assert (fact.outcome, fact.talk_s, fact.wrap_s) == (CallOutcome.ANSWERED, 60.0, 0.0)
