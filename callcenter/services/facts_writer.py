"""The call-facts writer: live bus events → analytics events → call facts and agent sessions in the store.

``FactsWriter`` subscribes to the ``"calls"`` and ``"acd"`` topics of the in-process bus. For each
live event ``LiveEventMapper`` produces the analytics vocabulary (``callcenter.analytics.events``),
which feeds ``CallFactBuilder`` (calls) and ``build_sessions`` (agents). Finished calls and
(growing, then closed) agent sessions are handed to a separate writer task through a small
"latest version wins" map, so the bus consumer never waits for the database: a write that fails
is retried with exponential backoff while newer versions of the same call simply replace it.

Idempotence: the mapping depends only on the events' own fields (times come from the events,
never from when they were received), fact building depends only on the *set* of events, and the
store upserts by linkedid / session id, so events replayed after a reconnect change nothing.
Completed calls are kept for ``retention_s`` so that replayed events land on the same call; after
that only the call's linkedid is kept (a tombstone, for ``tombstone_s``), so a stray late event
cannot start a one-event "call" whose forced-out fact would overwrite the real one. (With a
15-minute retention the 1,000-call soak's backend grew by ~12 KB per call until the first
written calls were forgotten; a tombstone is a linkedid and a float.)

Losses: when the bus drops events for us (``Missed``) the log says so and which calls were in
progress, since their facts may then be incomplete. A call whose ``CallFinished`` never comes is
forced out after ``call_timeout_s`` (hung up by "system" at its last known event); a hung-up call
whose wrap-up end never comes is written after ``wrapup_timeout_s`` with zero wrap-up.

Mapping notes (the publishers' side):

* ACD decisions name calls by ``call_id`` (the caller's uniqueid); ``CallArrived`` and
  ``CallOffered`` give the uniqueid → linkedid link.
* ``CallerLeft`` has no time; it is ``CallQueued.at + waited_s`` (the ACD counts the wait from
  the caller's arrival in the queue).
* Ring no-answer and wrap-up end are read from agent state changes (RINGING → not ON_CALL; leaving
  WRAP_UP, or leaving ON_CALL straight to another state, which is a zero wrap-up).
* ``CallbackRequested``/``CallerMoved`` decisions carry no time; the callback is taken from
  ``CallFinished(outcome="callback")`` and a move must be published as a new ``CallQueued``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import asyncpg

from callcenter.acd.model import AgentState, AgentStateChanged, CallerLeft
from callcenter.analytics import events as A
from callcenter.analytics.facts import CallFactBuilder, CompletedCall
from callcenter.analytics.sessions import WRAPUP_REASON, AgentSession, build_sessions
from callcenter.bus import EventBus, Missed, Subscription
from callcenter.logs import get_logger
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

__all__ = [
    "FactsStore",
    "FactsWriter",
    "FactsWriterConfig",
    "LiveEventMapper",
    "forget_older_than",
    "to_datetime",
]

log = get_logger(__name__)

#: CallFinished outcomes (the pipeline's names and docs/kpi.md's) where the system ended the call.
_SYSTEM_ENDED = frozenset({"ivr_completed", "after_hours", "transferred", "survival", "survival_path"})
_KNOWN_OUTCOMES = _SYSTEM_ENDED | {
    "answered",
    "abandoned_queue",
    "abandoned_ivr",
    "short_abandon",
    "callback",
    "overflow",
}
_LEFT_REASON: dict[str, Literal["timeout", "full", "empty", "key"]] = {
    "timeout": "timeout",
    "full": "full",
    "key": "key",
}
#: Errors that mean "the database is not reachable right now": retried without a limit.
_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def forget_older_than(stamps: dict[str, float], now: float, keep_s: float) -> None:
    """Drop the entries of ``stamps`` (id → when added, added in time order) older than ``keep_s``.

    Insertion order is time order, so only the expired head is visited: O(1) per call, amortised.
    """
    while stamps:
        oldest = next(iter(stamps))
        if now - stamps[oldest] < keep_s:
            return
        del stamps[oldest]


def to_datetime(at: float) -> datetime:
    """A live event's POSIX time as the timezone-aware datetime analytics works with."""
    return datetime.fromtimestamp(at, UTC)


class FactsStore(Protocol):
    """What the writer needs from ``callcenter.storage.analytics.AnalyticsStore``."""

    async def record_call(self, call: CompletedCall) -> bool: ...

    async def record_session(self, session: AgentSession) -> bool: ...


@dataclass(frozen=True, slots=True)
class FactsWriterConfig:
    """Timeouts and retry policy of the writer (defaults suit a hotline's day)."""

    #: a call with no event for this long and no CallFinished is forced out
    call_timeout_s: float = 4 * 3600.0
    #: a hung-up call whose agent never ends wrap-up is written with zero wrap-up after this
    wrapup_timeout_s: float = 1800.0
    #: a written call's events are kept this long to absorb replays (an AMI stall or
    #: reconnect delivers late events within seconds to a minute)
    retention_s: float = 300.0
    #: after retention, a written call's linkedid is kept this long to ignore later strays
    tombstone_s: float = 3600.0
    sweep_interval_s: float = 30.0
    #: open agent sessions are re-recorded this often, so staffed time reaches the rollups
    session_refresh_s: float = 60.0
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    #: a write failing with a non-connection error is dropped after this many attempts
    max_attempts: int = 6
    #: bus events held for us before the bus starts dropping (and we log ``Missed``)
    queue_size: int = 20_000
    #: how long ``stop`` waits for pending writes
    flush_timeout_s: float = 10.0


@dataclass(slots=True)
class _CallTrack:
    uniqueid: str | None = None
    arrived_at: datetime | None = None
    queued_at: float | None = None
    finished_at: datetime | None = None
    pending_wrap: dict[str, datetime] = field(default_factory=dict)
    transferred_by: dict[str, datetime] = field(default_factory=dict)  # agent → when they left the call
    callback_agents: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _AgentTrack:
    state: AgentState = AgentState.LOGGED_OUT
    call: str | None = None  # linkedid of the call the agent answered last
    offered: str | None = None  # linkedid of the call ringing the agent


class LiveEventMapper:
    """Turns live bus events into analytics events (stateful: it links ids and agent states).

    ``agent_queues(agent_id)`` names the queues an agent serves, recorded with each login so
    per-queue staffed time is right; without it agents count for the whole line only.
    """

    def __init__(self, agent_queues: Callable[[str], Iterable[str]] | None = None) -> None:
        self._agent_queues = agent_queues or (lambda agent: ())
        self.calls: dict[str, _CallTrack] = {}
        self.agents: dict[str, _AgentTrack] = {}
        self._by_uniqueid: dict[str, str] = {}

    def forget_call(self, linkedid: str) -> None:
        track = self.calls.pop(linkedid, None)
        if track is not None and track.uniqueid is not None:
            self._by_uniqueid.pop(track.uniqueid, None)

    def _call(self, linkedid: str) -> _CallTrack:
        track = self.calls.get(linkedid)
        if track is None:
            track = self.calls[linkedid] = _CallTrack()
        return track

    def _link(self, uniqueid: str, linkedid: str) -> None:
        self._by_uniqueid[uniqueid] = linkedid
        self._call(linkedid).uniqueid = uniqueid

    def map(self, topic: str, event: Any) -> list[A.CallEvent | A.AgentEvent]:
        """The analytics events for one live event (often none)."""
        if topic == TOPIC_CALLS:
            return list(self._map_call(event))
        if topic == TOPIC_ACD:
            if isinstance(event, AgentStateChanged):
                return self._agent_state(event)
            if isinstance(event, CallerLeft):
                return list(self._caller_left(event))
        return []

    def _map_call(self, event: Any) -> Iterable[A.CallEvent]:
        match event:
            case CallArrived(linkedid=linkedid, uniqueid=uniqueid, at=at):
                self._link(uniqueid, linkedid)
                arrived = to_datetime(at)
                self._call(linkedid).arrived_at = arrived
                yield A.CallArrived(linkedid, arrived, event.caller or "", event.dnid or "")
            case CallQueued(linkedid=linkedid, queue=queue, at=at):
                track = self._call(linkedid)
                if track.queued_at is None:
                    track.queued_at = at
                yield A.QueueEntered(linkedid, to_datetime(at), queue)
            case CallOffered(linkedid=linkedid, agent_id=agent):
                self._link(event.uniqueid, linkedid)
                if event.is_callback:
                    # A callback rings after the caller's call is over: not part of its facts.
                    self._call(linkedid).callback_agents.add(agent)
                    return
                at = event.at
                if at == 0.0:  # an older publisher left the time out: the wait tells it
                    at = (self._call(linkedid).queued_at or 0.0) + event.waited_s
                self.agents.setdefault(agent, _AgentTrack()).offered = linkedid
                yield A.AgentRang(linkedid, to_datetime(at), agent)
            case CallConnected(linkedid=linkedid, agent_id=agent, at=at):
                if agent in self._call(linkedid).callback_agents:
                    return
                agent_track = self.agents.setdefault(agent, _AgentTrack())
                agent_track.call, agent_track.offered = linkedid, None
                yield A.Answered(linkedid, to_datetime(at), agent)
            case CallHoldChanged(linkedid=linkedid, agent_id=agent, held=held, at=at):
                yield (A.HoldStarted if held else A.HoldEnded)(linkedid, to_datetime(at), agent)
            case CallTransferred(linkedid=linkedid, target=target, agent_id=agent, at=at):
                if agent is not None:
                    self._call(linkedid).transferred_by[agent] = to_datetime(at)
                yield A.Transferred(linkedid, to_datetime(at), target, agent)
            case CallFinished():
                yield from self._finished(event)

    def _finished(self, event: CallFinished) -> Iterable[A.CallEvent]:
        linkedid, at = event.linkedid, to_datetime(event.at)
        track = self._call(linkedid)
        track.finished_at = at
        outcome = event.outcome
        if outcome not in _KNOWN_OUTCOMES:
            log.warning("facts_unknown_outcome", linkedid=linkedid, outcome=outcome)
        # IVR nodes get distinct microsecond offsets so their order survives the sort by time.
        base = track.arrived_at or at - timedelta(microseconds=len(event.ivr_path) + 1)
        for n, node in enumerate(event.ivr_path, start=1):
            yield A.IvrStep(linkedid, base + timedelta(microseconds=n), node)
        if outcome in ("survival", "survival_path"):
            yield A.SurvivalPath(linkedid, at)
        elif outcome == "after_hours":
            yield A.AfterHours(linkedid, at, event.queue)
        elif outcome == "callback" and event.queue is not None:
            yield A.CallbackRequested(linkedid, at, event.queue)
        elif outcome == "transferred" and event.agent_id is None:
            yield A.Transferred(linkedid, at, "external", None)
        yield A.Hungup(linkedid, at, "system" if outcome in _SYSTEM_ENDED else "caller")
        for agent, wrap_at in sorted(track.pending_wrap.items()):
            yield A.WrapUpEnded(linkedid, max(wrap_at, at), agent)
        track.pending_wrap.clear()

    def _caller_left(self, event: CallerLeft) -> Iterable[A.CallEvent]:
        linkedid = self._by_uniqueid.get(event.call_id, event.call_id)
        track = self.calls.get(linkedid)
        if track is None or track.queued_at is None:
            log.warning("facts_caller_left_unknown", call_id=event.call_id, reason=event.reason)
            return
        reason = _LEFT_REASON.get(event.reason, "empty")
        yield A.QueueLeft(linkedid, to_datetime(track.queued_at + event.waited_s), event.queue, reason)

    def _agent_state(self, event: AgentStateChanged) -> list[A.CallEvent | A.AgentEvent]:
        agent, at, new = event.agent_id, to_datetime(event.at), event.state
        track = self.agents.setdefault(agent, _AgentTrack())
        old = track.state
        track.state = new
        out: list[A.CallEvent | A.AgentEvent] = []
        if old is AgentState.RINGING and new is not AgentState.RINGING and new is not AgentState.ON_CALL:
            if track.offered is not None:
                out.append(A.RingEnded(track.offered, at, agent, "noanswer"))
                track.offered = None
        if (old is AgentState.WRAP_UP and new is not AgentState.WRAP_UP) or (
            old is AgentState.ON_CALL and new not in (AgentState.ON_CALL, AgentState.WRAP_UP)
        ):
            out.extend(self._wrap_ended(track, agent, at))
        if new is AgentState.LOGGED_OUT:
            if old is not AgentState.LOGGED_OUT:
                out.append(A.AgentLoggedOut(agent, at))
            return out
        if old is AgentState.LOGGED_OUT:
            out.append(A.AgentLoggedIn(agent, at, tuple(sorted(self._agent_queues(agent)))))
        if new is AgentState.PAUSED:
            reason = event.reason or "paused"
            out.append(A.AgentPaused(agent, at, WRAPUP_REASON if reason == "wrap_up" else reason))
        elif new is AgentState.WRAP_UP:
            out.append(A.AgentPaused(agent, at, WRAPUP_REASON))
        elif old in (AgentState.PAUSED, AgentState.WRAP_UP):
            out.append(A.AgentUnpaused(agent, at))
        return out

    def _wrap_ended(self, track: _AgentTrack, agent: str, at: datetime) -> list[A.CallEvent]:
        linkedid, track.call = track.call, None
        if linkedid is None:
            return []
        call = self.calls.get(linkedid)
        if call is None:
            return []
        # The agent's part ended at their transfer, else at the hang-up. Clocks of different
        # publishers differ by milliseconds, so wrap-up is never put before that end.
        left = call.transferred_by.get(agent, call.finished_at)
        if left is None:  # the hang-up is not known yet: end wrap-up with it
            call.pending_wrap[agent] = at
            return []
        return [A.WrapUpEnded(linkedid, max(at, left), agent)]


@dataclass(slots=True)
class _Pending:
    item: CompletedCall | AgentSession
    attempts: int = 0


@dataclass(slots=True)
class _CallState:
    last_seen: float  # monotonic
    last_at: datetime
    hungup_seen: float | None = None
    written_at: float | None = None


class FactsWriter:
    """Subscribes to the bus and keeps call facts and agent sessions in the store (see module doc).

    ``await start()`` subscribes and starts the tasks; ``await stop()`` stops consuming, writes what
    can be written (hung-up calls, open sessions cut now) and waits up to ``flush_timeout_s``.
    """

    def __init__(
        self,
        bus: EventBus,
        store: FactsStore,
        *,
        config: FactsWriterConfig | None = None,
        agent_queues: Callable[[str], Iterable[str]] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.store = store
        self.config = config or FactsWriterConfig()
        self.clock = clock
        self.monotonic = monotonic
        self.mapper = LiveEventMapper(agent_queues)
        self.builder = CallFactBuilder()
        self._calls: dict[str, _CallState] = {}
        #: linkedid → when its written call was forgotten (insertion order is time order)
        self._tombstones: dict[str, float] = {}
        #: events that arrived for a call already written and forgotten (ignored)
        self.late_events = 0
        self._agent_events: dict[str, set[A.AgentEvent]] = {}
        self._agent_watermark: dict[str, datetime] = {}  # last logout written, per agent
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.missed = 0
        self.written_calls = 0
        self.written_sessions = 0
        self.dropped_writes = 0

    @property
    def backlog(self) -> int:
        """Writes waiting (or being retried): a health check can flag a database that lags."""
        return len(self._pending)

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the bus and start consuming, writing and sweeping."""
        if self._subscription is not None:
            raise RuntimeError("facts writer already started")
        self._subscription = self.bus.subscribe({TOPIC_CALLS, TOPIC_ACD}, maxsize=self.config.queue_size)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._consume(), name="facts-consume"),
            loop.create_task(self._write_loop(), name="facts-write"),
            loop.create_task(self._sweep_loop(), name="facts-sweep"),
        ]
        log.info("facts_writer_started")

    async def stop(self) -> None:
        """Stop consuming; write hung-up calls and open sessions; wait for the writes (bounded)."""
        subscription, self._subscription = self._subscription, None
        if subscription is None:
            return
        consume, write, sweep = self._tasks
        for task in (consume, sweep):
            task.cancel()
        for task in (consume, sweep):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while (item := subscription.get_nowait()) is not None:  # what was published before stop
            self.handle(*item)
        subscription.close()
        left = [lid for lid, state in self._calls.items() if state.written_at is None]
        for linkedid in left:
            if self._calls[linkedid].hungup_seen is not None:
                self._force(linkedid, "stopping")
        unfinished = [lid for lid in left if self._calls[lid].written_at is None]
        if unfinished:
            log.warning("facts_calls_unfinished_at_stop", calls=len(unfinished), linkedids=unfinished[:20])
        self._refresh_sessions()
        try:
            await asyncio.wait_for(self.drain_writes(), self.config.flush_timeout_s)
        except TimeoutError:
            log.error("facts_writes_lost_at_stop", pending=len(self._pending))
        write.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await write
        self._tasks = []
        log.info("facts_writer_stopped", calls=self.written_calls, sessions=self.written_sessions)

    async def drain(self) -> None:
        """Wait until every event published so far is handled and its writes are done (tests)."""
        subscription = self._subscription
        if subscription is not None:
            # Handle what is queued right here: same thread, no await in between, so the
            # consumer task cannot interleave and the order is kept.
            while (item := subscription.get_nowait()) is not None:
                self.handle(*item)
        await self.drain_writes()

    async def drain_writes(self) -> None:
        """Wait until no write is pending."""
        while self._pending:
            self._idle.clear()
            await self._idle.wait()

    # ---- consuming ---------------------------------------------------------------------------

    async def _consume(self) -> None:
        assert self._subscription is not None
        subscription = self._subscription
        while True:
            topic, event = await subscription.get()
            try:
                self.handle(topic, event)
            except Exception:  # one bad event must not stop the facts of every later call
                log.exception("facts_event_failed", event_type=type(event).__name__)

    def handle(self, topic: str, event: Any) -> None:
        """Apply one bus event (public so tests and a replay tool can feed events directly)."""
        if isinstance(event, Missed):
            self.missed += event.count
            in_progress = [lid for lid, s in self._calls.items() if s.written_at is None]
            log.warning(
                "facts_events_missed",
                count=event.count,
                note="facts of the calls in progress may be incomplete",
                calls_in_progress=len(in_progress),
                linkedids=in_progress[:20],
            )
            return
        for analytic in self.mapper.map(topic, event):
            if isinstance(analytic, A.AgentLoggedIn | A.AgentPaused | A.AgentUnpaused | A.AgentLoggedOut):
                self._agent_event(analytic)
            else:
                self._call_event(analytic)

    def _call_event(self, event: A.CallEvent) -> None:
        now = self.monotonic()
        state = self._calls.get(event.linkedid)
        if state is None:
            if event.linkedid in self._tombstones:
                self.late_events += 1
                log.info("facts_late_event_ignored", linkedid=event.linkedid, event_type=type(event).__name__)
                self.mapper.forget_call(event.linkedid)  # what mapping it just linked, if anything
                return
            state = self._calls[event.linkedid] = _CallState(now, event.at)
        state.last_seen, state.last_at = now, max(state.last_at, event.at)
        if isinstance(event, A.Hungup) and state.hungup_seen is None:
            state.hungup_seen = now
        completed = self.builder.add(event)
        if completed is not None:
            self._queue_call(completed, state)

    def _queue_call(self, call: CompletedCall, state: _CallState) -> None:
        state.written_at = self.monotonic()
        self._enqueue(("call", call.fact.linkedid), call)

    def _agent_event(self, event: A.AgentEvent) -> None:
        watermark = self._agent_watermark.get(event.agent)
        if watermark is not None and event.at <= watermark:
            return  # a replay of a session already written closed
        events = self._agent_events.setdefault(event.agent, set())
        if event in events:  # a set: a shift holds hundreds of events, and this runs per event
            return
        events.add(event)
        self._write_agent_sessions(event.agent)

    def _write_agent_sessions(self, agent: str) -> None:
        events = self._agent_events.get(agent, set())
        if not events:
            return
        until = max(to_datetime(self.clock()), max(e.at for e in events))
        sessions = build_sessions(events, until=until)
        for session in sessions:
            self._enqueue(("session", session.session_id), session)
        closed = [s for s in sessions if not s.open]
        if closed and all(not s.open for s in sessions):
            # Every session of the agent is closed: keep nothing but a replay watermark.
            self._agent_watermark[agent] = max(s.logout_at for s in closed)
            self._agent_events.pop(agent, None)

    def _refresh_sessions(self) -> None:
        for agent in list(self._agent_events):
            self._write_agent_sessions(agent)

    # ---- timeouts ----------------------------------------------------------------------------

    async def _sweep_loop(self) -> None:
        last_refresh = self.monotonic()
        while True:
            await asyncio.sleep(self.config.sweep_interval_s)
            try:
                self.sweep()
                if self.monotonic() - last_refresh >= self.config.session_refresh_s:
                    last_refresh = self.monotonic()
                    self._refresh_sessions()
            except Exception:
                log.exception("facts_sweep_failed")

    def sweep(self) -> None:
        """Force out overdue calls and forget written ones past retention (run periodically)."""
        now, cfg = self.monotonic(), self.config
        for linkedid, state in list(self._calls.items()):
            if state.written_at is not None:
                if now - state.written_at >= cfg.retention_s:
                    self.builder.forget(linkedid)
                    self.mapper.forget_call(linkedid)
                    del self._calls[linkedid]
                    self._tombstones[linkedid] = now
            elif state.hungup_seen is not None:
                if now - state.hungup_seen >= cfg.wrapup_timeout_s:
                    self._force(linkedid, "wrapup_timeout")
            elif now - state.last_seen >= cfg.call_timeout_s:
                self.builder.add(A.Hungup(linkedid, state.last_at, "system"))
                state.hungup_seen = now
                self._force(linkedid, "no_call_finished")
        forget_older_than(self._tombstones, now, cfg.tombstone_s)

    def _force(self, linkedid: str, why: str) -> None:
        state = self._calls[linkedid]
        call = self.builder.finish(linkedid)
        if call is None:  # never arrived (events of a call we joined late): nothing to write
            log.warning("facts_call_dropped", linkedid=linkedid, reason=why)
            state.written_at = self.monotonic()
            return
        log.warning("facts_call_forced", linkedid=linkedid, reason=why, note="facts may be incomplete")
        self._queue_call(call, state)

    # ---- writing -----------------------------------------------------------------------------

    def _enqueue(self, key: tuple[str, str], item: CompletedCall | AgentSession) -> None:
        # A newer version of the same call or session replaces one not yet written.
        self._pending.pop(key, None)
        self._pending[key] = _Pending(item)
        self._wake.set()

    async def _write_loop(self) -> None:
        delay = self.config.retry_initial_s
        while True:
            if not self._pending:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            key, pending = next(iter(self._pending.items()))
            try:
                if isinstance(pending.item, AgentSession):
                    await self.store.record_session(pending.item)
                    self.written_sessions += 1
                else:
                    await self.store.record_call(pending.item)
                    self.written_calls += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                pending.attempts += 1
                transient = isinstance(exc, _TRANSIENT)
                if not transient and pending.attempts >= self.config.max_attempts:
                    self.dropped_writes += 1
                    if self._pending.get(key) is pending:
                        del self._pending[key]
                    log.exception("facts_write_dropped", kind=key[0], key=key[1], attempts=pending.attempts)
                    continue
                log.warning(
                    "facts_write_failed",
                    kind=key[0],
                    key=key[1],
                    attempt=pending.attempts,
                    retry_in_s=delay,
                    error=f"{type(exc).__name__}: {exc}",
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.retry_max_s)
                continue
            delay = self.config.retry_initial_s
            if self._pending.get(key) is pending:  # not replaced by a newer version meanwhile
                del self._pending[key]
