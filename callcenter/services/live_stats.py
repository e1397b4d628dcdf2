"""Today's live figures for the supervisors' wallboard, counted with the reports' own definitions.

``LiveStats`` subscribes to the bus (topics ``"calls"`` and ``"acd"``) and turns what it hears
into the wallboard's state:

* **KPIs per queue, today** (offered / answered / abandoned, service level, ASA, AHT, abandon
  rate). Issue 7 asks for one module of definitions, so nothing is counted here by hand: the
  live events go through the call-fact writer's ``LiveEventMapper`` and the analytics
  ``CallFactBuilder`` into ``CompletedCall`` facts, and each finished call adds exactly what
  ``analytics.rollup.call_contributions`` says it adds to the report's 15-minute rows. A row
  counts for today when its interval starts on or after today's midnight in Kyiv, which is the
  report's rule too, so the wallboard at 23:59 and the day's report agree to the call. A call
  counts once it has hung up (a waiting caller shows in "waiting", not yet in "offered"); its
  wrap-up joins the AHT when the agent ends it (the facts are rebuilt and the call's old share
  is taken back before the new one is added).
* **Live state**: calls waiting, the oldest waiting caller, callbacks pending and agents' states
  from the ACD runtime when it runs in this process (what ``AcdService.snapshot(now)`` holds,
  read from its router with exact times); without it (tests, a wallboard fed by another node's
  events) from the events themselves.
* **Alerts**: service level below the queue's goal (``QueueConfig.sl_goal``), or the longest
  wait over ``LiveStatsSettings.longest_wait_alert_s``.

Clients (``callcenter.web.wallboard``) get the full state on connect and then *updates* holding
only the queues and agents that changed. Bursts are coalesced: an update goes out at most every
``min_interval_s`` (0.2 s: ~5 per second) and never later than that after the event, and a
periodic ``refresh_s`` pass catches what changes with time alone (an alert for a wait that grew
past the threshold). Values that change every second by themselves (a wait, time in a state)
travel as the instant they started (``oldest_since``, ``since``) and the page counts them up,
so they do not turn every update into a full state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from callcenter.acd.model import AgentState, AgentStateChanged
from callcenter.analytics import events as A
from callcenter.analytics.facts import CallFactBuilder, CompletedCall
from callcenter.analytics.kpi import DEFAULT_TARGET_S, KpiAccumulator, KpiCounters
from callcenter.analytics.rollup import ALL, RollupKey, RollupPolicy, call_contributions
from callcenter.bus import EventBus, Missed, Subscription
from callcenter.logs import get_logger
from callcenter.services.acd import AcdService
from callcenter.services.facts_writer import LiveEventMapper, forget_older_than
from callcenter.services.live_events import (
    TOPIC_ACD,
    TOPIC_CALLS,
    CallConnected,
    CallFinished,
    CallQueued,
)

__all__ = [
    "KYIV",
    "CallObserver",
    "LiveStats",
    "LiveStatsSettings",
    "WallboardClient",
    "day_start",
    "state_diff",
]

log = get_logger(__name__)

KYIV = ZoneInfo("Europe/Kyiv")
#: how long a call counted complete keeps its id, so a stray late event is not a new call
FINAL_KEEP_S = 3600.0


@dataclass(frozen=True)
class LiveStatsSettings:
    """Alert thresholds and the update rhythm."""

    #: a queue whose oldest caller has waited longer than this raises an alert
    longest_wait_alert_s: float = 60.0
    #: per-queue overrides of ``longest_wait_alert_s``
    longest_wait_alert_by_queue: Mapping[str, float] = field(default_factory=dict)
    #: at most one update per this many seconds (~5/s), and never later than this after an event;
    #: under steady traffic an event waits ~half of it (bench: 0.2 → p99 ~220 ms, 0.05 → ~75 ms)
    min_interval_s: float = 0.2
    #: a pass this often catches changes that come with time alone (a wait passing its threshold)
    refresh_s: float = 1.0
    #: messages a slow client may have queued before it is sent a full state instead
    client_queue: int = 32
    #: events held for us on the bus before it drops some (then we rebuild from the snapshot)
    bus_queue: int = 10_000


class CallObserver(Protocol):
    """Where finished calls' waits and handle times go (``web.metrics.CallMetrics`` fits)."""

    def observe_wait(self, queue: str, seconds: float) -> None: ...

    def observe_handle(self, queue: str, seconds: float) -> None: ...


def day_start(at: float, tz: ZoneInfo = KYIV) -> datetime:
    """Midnight (as a UTC datetime) of the local day holding the epoch second ``at``."""
    local = datetime.fromtimestamp(at, tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _instant(at: float) -> float:
    """An epoch instant to the millisecond: recomputed as ``now - elapsed`` it stays the same."""
    return round(at, 3)


def _ratio(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def state_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """What changed from ``old`` to ``new`` (two full states), as an ``update`` message body.

    Queues and agents that changed are sent whole; removed agents are listed; alerts are small
    and always sent whole. An empty dict means nothing changed.
    """
    out: dict[str, Any] = {}
    for section in ("queues", "agents"):
        before, after = old.get(section, {}), new.get(section, {})
        changed = {key: value for key, value in after.items() if before.get(key) != value}
        removed = sorted(key for key in before if key not in after)
        if changed:
            out[section] = changed
        if removed:
            out[f"removed_{section}"] = removed
    if old.get("alerts") != new.get("alerts"):
        out["alerts"] = new.get("alerts", [])
    if out or old.get("day") != new.get("day"):
        out["day"] = new.get("day")
    return out


class WallboardClient:
    """One wallboard socket's outbox: JSON texts, the full state first."""

    def __init__(self, owner: LiveStats, first: str, maxsize: int) -> None:
        self._owner = owner
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize)
        self._queue.put_nowait(first)
        self.resyncs = 0

    def offer(self, text: str) -> None:
        if self._queue.full():
            # Too slow for the updates: throw them away and send one full state instead.
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(self._owner.full_message())
            self.resyncs += 1
            return
        self._queue.put_nowait(text)

    async def get(self) -> str:
        """The next message to send (waits for one)."""
        return await self._queue.get()

    def close(self) -> None:
        self._owner._clients.discard(self)

    def __enter__(self) -> WallboardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(slots=True)
class _AgentLive:
    state: str = AgentState.LOGGED_OUT.value
    reason: str | None = None
    since: float = 0.0


class LiveStats:
    """Today's KPIs, live state and alerts, fanned out to wallboard clients."""

    def __init__(
        self,
        bus: EventBus,
        acd: AcdService | None = None,
        *,
        settings: LiveStatsSettings | None = None,
        policy: RollupPolicy | None = None,
        clock: Callable[[], float] = time.time,
        tz: ZoneInfo = KYIV,
        observer: CallObserver | None = None,
    ) -> None:
        self.bus = bus
        #: fed each queue stint's wait once, and each answered leg's handle time once its
        #: wrap-up is known (the Prometheus histograms)
        self.observer = observer
        self.acd = acd
        self.settings = settings or LiveStatsSettings()
        self.clock = clock
        self.tz = tz
        self.policy = policy or RollupPolicy(target_s=self.target_s)
        self._clients: set[WallboardClient] = set()
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._flush_handle: asyncio.TimerHandle | None = None
        #: wall time the oldest event not yet sent to clients was taken in (for lag figures)
        self._pending_since: float | None = None
        #: wall time the latest batch of bus events was taken in (REST pollers' lag figures)
        self.last_event_at: float | None = None
        self._last_flush = 0.0
        self._sent: dict[str, Any] = {}
        self._seq = 0
        #: queues heard of, kept across days so a quiet queue stays on the board
        self._known_queues: set[str] = set()
        #: what we push, for the benchmark and the tests: updates sent since start
        self.updates_sent = 0
        self._reset(self.clock())

    # ---- the day --------------------------------------------------------------------------

    def _reset(self, now: float) -> None:
        self._day_start = day_start(now, self.tz)
        self._day_end = (
            (self._day_start.astimezone(self.tz) + timedelta(days=1))
            .replace(hour=0, minute=0, second=0, microsecond=0)
            .astimezone(UTC)
        )
        self._mapper = LiveEventMapper()
        self._facts = CallFactBuilder()
        self._totals: dict[str, KpiAccumulator] = {}
        self._counted: dict[str, dict[RollupKey, KpiCounters]] = {}
        #: calls counted complete → when (their shares need no correction: only their id stays,
        #: so a stray late event is not counted as a new call; kept ``FINAL_KEEP_S``)
        self._final: dict[str, float] = {}
        self._calls_today: dict[str, int] = {}
        self._waiting: dict[str, tuple[str, float]] = {}
        self._agents: dict[str, _AgentLive] = {}

    def _roll_day(self, now: float) -> None:
        if datetime.fromtimestamp(now, UTC) < self._day_end:
            return
        # Keep what is live (waiting callers, agent states, calls in progress); drop the counts.
        mapper, facts, waiting, agents = self._mapper, self._facts, self._waiting, self._agents
        for linkedid in self._counted:
            # Counted yesterday with the wrap-up still running: a correction would land in
            # yesterday's rows, which today's board does not show, so its events can go.
            facts.forget(linkedid)
            mapper.forget_call(linkedid)
        self._reset(now)
        self._mapper, self._facts, self._waiting, self._agents = mapper, facts, waiting, agents
        log.info("live_stats_new_day", day=self.day)

    @property
    def day(self) -> str:
        """Today's date in the local time zone (ISO)."""
        return self._day_start.astimezone(self.tz).date().isoformat()

    def target_s(self, queue: str) -> float:
        """The queue's service-level answer target (the ACD's configuration, else 20 s)."""
        if self.acd is not None:
            q = self.acd.state.config.queues.get(queue)
            if q is not None:
                return q.sl_target_s
        return DEFAULT_TARGET_S

    def _sl_goal(self, queue: str) -> float | None:
        if self.acd is not None:
            q = self.acd.state.config.queues.get(queue)
            if q is not None:
                return q.sl_goal
        return None

    # ---- events ---------------------------------------------------------------------------

    def handle(self, topic: str, event: Any) -> None:
        """Take in one bus event (synchronous: the tests drive this directly)."""
        now = self.clock()
        self._roll_day(now)
        if isinstance(event, Missed):
            log.warning("live_stats_missed_events", count=event.count)
            return
        self._track_live(event)
        done: dict[str, CompletedCall] = {}
        for mapped in self._mapper.map(topic, event):
            if isinstance(mapped, A.AgentEvent):
                continue
            if mapped.linkedid in self._final:
                self._mapper.forget_call(mapped.linkedid)
                continue  # a stray event of a call counted complete
            completed = self._facts.add(mapped)
            if completed is not None:
                done[mapped.linkedid] = completed
        for linkedid, call in done.items():
            self._count(call, final=True)
            # Complete (wrap-up included): nothing more will change it, so let go of its events
            # and of its shares (kept all day, they were ~1 KB a call).
            self._facts.forget(linkedid)
            self._mapper.forget_call(linkedid)
            self._counted.pop(linkedid, None)
            self._final[linkedid] = now
        forget_older_than(self._final, now, FINAL_KEEP_S)
        if isinstance(event, CallFinished) and event.linkedid not in done:
            # Hung up, wrap-up still running: count it now with the wrap-up so far (none);
            # the wrap-up's end rebuilds the facts and corrects the share.
            forced = self._facts.finish(event.linkedid)
            if forced is not None:
                self._count(forced, final=False)

    def _track_live(self, event: Any) -> None:
        if isinstance(event, CallQueued):
            self._waiting[event.linkedid] = (event.queue, event.at)
            self._known_queues.add(event.queue)
        elif isinstance(event, CallConnected):
            self._waiting.pop(event.linkedid, None)
            if datetime.fromtimestamp(event.at, UTC) >= self._day_start:
                self._calls_today[event.agent_id] = self._calls_today.get(event.agent_id, 0) + 1
        elif isinstance(event, CallFinished):
            self._waiting.pop(event.linkedid, None)
        elif isinstance(event, AgentStateChanged):
            agent = self._agents.setdefault(event.agent_id, _AgentLive())
            agent.state, agent.reason, agent.since = event.state.value, event.reason, event.at

    def _count(self, call: CompletedCall, *, final: bool) -> None:
        """Add one call's share of today's rows, taking back what an earlier version added.

        ``final``: the call is complete, wrap-up included (else it is counted early, at hang-up).
        """
        linkedid = call.fact.linkedid
        if self.observer is not None:
            self._observe(call, first=linkedid not in self._counted, final=final)
        today = {
            key: counters
            for key, counters in call_contributions(call, self.policy).items()
            if self._day_start <= key[1] < self._day_end
        }
        old = self._counted.get(linkedid, {})
        for (queue, _), counters in old.items():
            self._apply(queue, counters, -1)
        for (queue, _), counters in today.items():
            self._apply(queue, counters, 1)
        self._counted[linkedid] = today

    def _observe(self, call: CompletedCall, *, first: bool, final: bool) -> None:
        assert self.observer is not None
        if first:
            for stint in call.stints:
                self.observer.observe_wait(stint.queue, stint.wait_s)
        if final:
            for leg in call.legs:
                if leg.answered_at is not None:
                    self.observer.observe_handle(leg.queue or "", leg.handle_s)

    def _apply(self, queue: str, counters: KpiCounters, sign: int) -> None:
        acc = self._totals.setdefault(queue, KpiAccumulator())
        for name in KpiCounters.column_names():
            value = getattr(counters, name)
            if name == "longest_wait_s":
                if sign > 0:
                    acc.add(name, value)  # a maximum: a corrected call's wait does not shrink
            elif value:
                acc.add(name, sign * value)

    def counters(self, queue: str) -> KpiCounters:
        """Today's KPI counters of ``queue`` (``rollup.ALL`` for the whole line)."""
        acc = self._totals.get(queue)
        return acc.snapshot() if acc is not None else KpiCounters()

    def calls_today(self, agent_id: str) -> int:
        """Calls ``agent_id`` answered today."""
        return self._calls_today.get(agent_id, 0)

    # ---- the state ------------------------------------------------------------------------

    def _queue_names(self, live: Mapping[str, Any]) -> list[str]:
        names = set(live) | self._known_queues | set(self._totals)
        names.discard(ALL)
        return sorted(names)

    def _queue_json(self, name: str, live: Any, now: float) -> dict[str, Any]:
        counters = self.counters(name)
        if live is not None:
            waiting, longest = live.waiting, live.longest_wait_s
            callbacks, staffed, available = live.callbacks_pending, live.agents_staffed, live.agents_available
        else:
            entered = [at for q, at in self._waiting.values() if q == name]
            waiting, longest = len(entered), (now - min(entered)) if entered else 0.0
            callbacks, staffed, available = 0, None, None
        title = ""
        callers: list[dict[str, Any]] = []
        pending: list[dict[str, Any]] = []
        if self.acd is not None and name in self.acd.state.config.queues:
            title = self.acd.state.config.queues[name].title
            # Who waits, for the move / priority controls (ids only: no numbers on a wall).
            callers = [
                {
                    "call_id": c.call_id,
                    "since": _instant(now - c.waited_s),
                    "priority": c.priority,
                    "position": c.position,
                }
                for c in self.acd.state.waiting(name, now)
            ]
            pending = [
                {
                    "call_id": c.call_id,
                    "since": _instant(now - c.waited_s),
                    "status": c.status,
                    "attempts": c.attempts,
                    "position": c.position,
                }
                for c in self.acd.state.callbacks(now)
                if c.queue == name
            ]
        return {
            "name": name,
            "title": title or name,
            "waiting": waiting,
            # Sent as an instant so the number can be counted up by the page, not re-sent.
            "oldest_since": _instant(now - longest) if waiting else None,
            "callbacks_pending": callbacks,
            "callers": callers,
            "callbacks": pending,
            "agents_staffed": staffed,
            "agents_available": available,
            "offered": counters.offered,
            "answered": counters.answered,
            "abandoned": counters.abandoned,
            "short_abandoned": counters.short_abandoned,
            "answered_in_target": counters.answered_in_target,
            "service_level": _ratio(counters.service_level, 4),
            "sl_target_s": self.target_s(name),
            "sl_goal": self._sl_goal(name),
            "asa_s": _ratio(counters.asa_s),
            "aht_s": _ratio(counters.aht_s),
            "abandon_rate": _ratio(counters.abandon_rate, 4),
        }

    def _agents_json(self, now: float) -> dict[str, Any]:
        agents: dict[str, Any] = {}
        if self.acd is not None:
            names = self.acd.state.config.agents
            for view in self.acd.state.agents(now):
                agent_id = view.agent_id
                config = names.get(agent_id)
                agents[agent_id] = {
                    "agent_id": agent_id,
                    "name": (config.name if config is not None else "") or agent_id,
                    "state": view.state.value,
                    "reason": view.reason,
                    # The instant the state began (milliseconds, so it is the same every pass);
                    # none for an agent never logged in since the router started.
                    "since": None
                    if view.state is AgentState.LOGGED_OUT
                    else _instant(now - view.time_in_state_s),
                    "calls_today": self.calls_today(agent_id),
                }
            return agents
        for agent_id, live in sorted(self._agents.items()):
            agents[agent_id] = {
                "agent_id": agent_id,
                "name": agent_id,
                "state": live.state,
                "reason": live.reason,
                "since": _instant(live.since),
                "calls_today": self.calls_today(agent_id),
            }
        return agents

    def _alerts(self, queues: Mapping[str, Mapping[str, Any]], now: float) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = []
        for name, q in queues.items():
            goal, sl = q["sl_goal"], q["service_level"]
            if goal is not None and sl is not None and sl < goal:
                alerts.append({"queue": name, "kind": "service_level", "value": sl, "threshold": goal})
            limit = self.settings.longest_wait_alert_by_queue.get(name, self.settings.longest_wait_alert_s)
            if q["oldest_since"] is not None and now - q["oldest_since"] > limit:
                alerts.append(
                    {"queue": name, "kind": "longest_wait", "since": q["oldest_since"], "threshold": limit}
                )
        return alerts

    def state(self, now: float | None = None) -> dict[str, Any]:
        """The full wallboard state (what a client gets on connect and what REST returns)."""
        at = self.clock() if now is None else now
        self._roll_day(at)
        live: dict[str, Any] = {}
        if self.acd is not None:
            # The parts of ``AcdService.snapshot`` the board needs, with exact (unrounded) times.
            live = {name: self.acd.state.queue_stats(name, at) for name in self.acd.state.config.queues}
        queues = {name: self._queue_json(name, live.get(name), at) for name in self._queue_names(live)}
        line = self.counters(ALL)
        return {
            "day": self.day,
            "queues": queues,
            "agents": self._agents_json(at),
            "alerts": self._alerts(queues, at),
            "line": {
                "offered": line.offered,
                "answered": line.answered,
                "abandoned": line.abandoned,
                "service_level": _ratio(line.service_level, 4),
                "asa_s": _ratio(line.asa_s),
                "aht_s": _ratio(line.aht_s),
            },
        }

    # ---- fan-out --------------------------------------------------------------------------

    def full_message(self) -> str:
        """The current full state as a ``state`` message (JSON text)."""
        at = self.clock()
        return json.dumps({"type": "state", "seq": self._seq, "at": at, **self.state(at)})

    def connect(self) -> WallboardClient:
        """A new client's outbox, holding the full state as its first message."""
        client = WallboardClient(self, self.full_message(), self.settings.client_queue)
        self._clients.add(client)
        return client

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def flush(self) -> dict[str, Any] | None:
        """Send what changed since the last update to every client; returns the update (or None)."""
        self._flush_handle = None
        at = self.clock()
        self._last_flush = time.monotonic()
        pending_since, self._pending_since = self._pending_since, None
        state = self.state(at)
        changes = state_diff(self._sent, state)
        self._sent = state
        if not changes:
            return None
        self._seq += 1
        message = {
            "type": "update",
            "seq": self._seq,
            "at": at,
            # When the oldest and the newest event this update reports were taken in.
            "event_at": pending_since,
            "latest_event_at": self.last_event_at if pending_since is not None else None,
            **changes,
        }
        text = json.dumps(message)
        for client in tuple(self._clients):
            client.offer(text)
        self.updates_sent += 1
        return message

    def _schedule_flush(self) -> None:
        if self._flush_handle is not None:
            return
        delay = max(0.0, self._last_flush + self.settings.min_interval_s - time.monotonic())
        self._flush_handle = asyncio.get_running_loop().call_later(delay, self.flush)

    # ---- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the bus and start the consuming task."""
        if self._task is not None:
            return
        self._subscription = self.bus.subscribe({TOPIC_CALLS, TOPIC_ACD}, maxsize=self.settings.bus_queue)
        self._sent = self.state()
        self._task = asyncio.get_running_loop().create_task(self._run(self._subscription), name="live-stats")

    async def stop(self) -> None:
        """Stop consuming and unsubscribe (clients' sockets are closed by the web layer)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    async def __aenter__(self) -> LiveStats:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _handle_all(self, items: Iterable[tuple[str, Any]]) -> None:
        for topic, event in items:
            try:
                self.handle(topic, event)
            except Exception:  # one odd event must not stop the wallboard
                log.exception("live_stats_event_failed", topic=topic, kind=type(event).__name__)

    async def _run(self, subscription: Subscription) -> None:
        while True:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that races
                # with a ready item, and this loop would then never stop (seen at shutdown).
                async with asyncio.timeout(self.settings.refresh_s):
                    first = await subscription.get()
            except TimeoutError:
                self._schedule_flush()
                continue
            self.last_event_at = time.time()
            if self._pending_since is None:
                self._pending_since = self.last_event_at
            batch = [first]
            while (item := subscription.get_nowait()) is not None:
                batch.append(item)
            self._handle_all(batch)
            self._schedule_flush()
