"""The ACD router's event handling: owns queues, agents and callers, turns events into decisions.

``callcenter.acd.router.AcdState`` adds the agent events, run-time reconfiguration and views.

Every public method takes the current time ``now`` (POSIX seconds) and returns a list of
decisions (``callcenter.acd.model``) for the adapter to carry out; nothing here does I/O or reads
a clock. Timers (end of wrap-up, overflow, maximum wait, callback retries) live in one heap and
fire from ``tick(now)`` or from any later event, so the adapter only has to call ``tick`` about
once a second.

Invariant kept after every method: no bucket has both a waiting caller and an available agent
(callers wait only when no eligible agent is free). Hence a caller arriving looks only at its
own bucket's agent heap, and an agent becoming free looks only at the heads of the caller heaps
of the buckets it is eligible for. Costs, with ``n`` waiting callers and ``a`` agents:

* ``caller_arrives``: O(log n + log a) amortised (plus O(a) once when a new skill combination
  creates a bucket);
* an agent becoming free (``call_ended`` without wrap-up, ``wrap_up_done``, ``agent_available``):
  O(b · log n) with ``b`` the buckets the agent is eligible for, usually a handful;
* ``tick``: O(k log t) for k due timers out of t;
* views (positions, EWT, snapshots): O(n) per queue, for announcements and wallboards only.

See ``callcenter.acd.index`` for why priority aging never needs re-keying, and
``callcenter.acd.ewt`` for the wait estimate.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from callcenter.acd.ewt import ewma
from callcenter.acd.hours import ScheduleOracle
from callcenter.acd.index import (
    AgentRec,
    Bucket,
    CallerRec,
    CallerStatus,
    Requirement,
    agent_key,
    eligible,
)
from callcenter.acd.model import (
    AcdConfig,
    AgentState,
    AgentStateChanged,
    Assignment,
    CallbackGaveUp,
    CallbackRequested,
    CallbackScheduled,
    CallerLeft,
    CallerMoved,
    CancelRing,
    Decision,
    QueueConfig,
    SkillsWidened,
)
from callcenter.errors import ValidationError

__all__ = ["KYIV", "STAFFED", "QueueCounters", "RouterCore"]

KYIV = ZoneInfo("Europe/Kyiv")

STAFFED = frozenset({AgentState.AVAILABLE, AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP})
_CALLER_TIMER, _WRAP_TIMER, _RETRY_TIMER = 0, 1, 2


@dataclass(slots=True)
class QueueCounters:
    """Running totals of one queue (reset daily)."""

    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    timed_out: int = 0
    callbacks_requested: int = 0
    callbacks_answered: int = 0


class RouterCore:
    """Queues, agents and waiting callers and the events that move them (see module docstring)."""

    def __init__(
        self, config: AcdConfig, *, schedules: ScheduleOracle | None = None, tz: tzinfo = KYIV
    ) -> None:
        self._config = config
        self._queues: dict[str, QueueConfig] = dict(config.queues)
        self._schedules = schedules
        self._tz = tz
        self._seq = itertools.count()
        self._agents: dict[str, AgentRec] = {
            a.id: AgentRec(config=a, order=next(self._seq)) for a in config.agents.values()
        }
        self._callers: dict[str, CallerRec] = {}
        self._buckets: dict[tuple[str, Requirement], Bucket] = {}
        self._queue_buckets: dict[str, list[Bucket]] = {}
        # (due, seq, kind, id, epoch); stale entries are skipped when they fire
        self._timers: list[tuple[float, int, int, str, int]] = []
        self._aht: dict[str, float] = {q.name: q.default_aht_s for q in self._queues.values()}
        self._counters: dict[str, QueueCounters] = {name: QueueCounters() for name in self._queues}
        # Bumped whenever an agent's state or the agents' bucket membership changes, so views
        # derived from them (``AcdState.logged_in``) can be cached between changes: each waiting
        # caller asks for the logged-in count every second, and recounting 500 agents for each
        # of 1,000 callers was half of the backend's CPU in the soak.
        self._agents_revision = 0
        self._logged_in_cache: dict[str, tuple[int, int]] = {}

    @property
    def config(self) -> AcdConfig:
        """The configuration in force."""
        return self._config

    # ---- callers ------------------------------------------------------------------------------

    def caller_arrives(
        self,
        call_id: str,
        queue: str,
        now: float,
        *,
        priority: int = 0,
        skills: Mapping[str, int] | None = None,
        contact: str | None = None,
    ) -> list[Decision]:
        """A caller joins ``queue``; returns an assignment at once if an eligible agent is free.

        ``skills`` adds requirements to the queue's own (skill → minimum level); ``contact`` is
        the number to call back, kept only for the adapter.
        """
        out = self._run_timers(now)
        if call_id in self._callers:
            raise ValidationError(f"call {call_id} is already queued", field="call_id")
        q = self._queue(queue)
        if not self.is_open(queue, now):
            out.append(CallerLeft(call_id, queue, "closed", 0.0))
            return out
        rec = CallerRec(
            call_id=call_id,
            queue=queue,
            priority=priority,
            extra=tuple(sorted((skills or {}).items())),
            arrival=now,
            seq=next(self._seq),
            queue_entered=now,
            contact=contact,
        )
        self._callers[call_id] = rec
        self._count(queue).offered += 1
        self._enqueue(rec, q, now, out)
        self._schedule_caller(rec, q)
        return out

    def caller_abandons(self, call_id: str, now: float) -> list[Decision]:
        """The caller hung up while waiting or ringing (or a supervisor cancelled a callback)."""
        out = self._run_timers(now)
        rec = self._callers.get(call_id)
        if rec is None:
            return out
        if rec.status is CallerStatus.CONNECTED:
            return out + self.call_ended(call_id, now)
        del self._callers[call_id]
        rec.epoch += 1
        if rec.status is CallerStatus.WAITING:
            self._unqueue(rec)
        elif rec.status is CallerStatus.RINGING and rec.agent_id is not None:
            agent = self._agents[rec.agent_id]
            out.append(CancelRing(call_id, agent.config.id, "caller_left"))
            agent.call_id = None
            self._release(agent, now, out)
        if not rec.callback:
            self._count(rec.queue).abandoned += 1
        out.append(CallerLeft(call_id, rec.queue, "abandoned", now - rec.arrival))
        return out

    def request_callback(self, call_id: str, now: float, contact: str | None = None) -> list[Decision]:
        """A waiting caller asks to be called back: the entry keeps its place, off the phone."""
        out = self._run_timers(now)
        rec = self._waiting(call_id)
        rec.callback = True
        if contact is not None:
            rec.contact = contact
        self._count(rec.queue).callbacks_requested += 1
        rec.epoch += 1  # the maximum wait no longer applies: re-arm for overflow steps only
        self._schedule_caller(rec, self._queue(rec.queue))
        out.append(CallbackRequested(call_id, rec.queue, self._position(rec) or 0))
        return out

    def callback_failed(self, call_id: str, now: float) -> list[Decision]:
        """The agent took the callback but the citizen did not answer: retry later or give up."""
        out = self._run_timers(now)
        rec = self._callers.get(call_id)
        if rec is None or not rec.callback or rec.status is not CallerStatus.RINGING or rec.agent_id is None:
            return out
        agent = self._agents[rec.agent_id]
        agent.call_id = None
        rec.agent_id = None
        rec.attempts += 1
        q = self._queue_or_default(rec.queue)
        if rec.attempts >= q.callback_max_attempts:
            del self._callers[call_id]
            rec.epoch += 1
            out.append(CallbackGaveUp(call_id, rec.queue, rec.attempts))
        else:
            rec.status = CallerStatus.DELAYED
            due = now + q.callback_retry_s
            heapq.heappush(self._timers, (due, next(self._seq), _RETRY_TIMER, call_id, rec.epoch))
            out.append(CallbackScheduled(call_id, rec.queue, rec.attempts, due))
        agent.idle_since = now
        self._release(agent, now, out)
        return out

    def move_caller(self, call_id: str, queue: str, now: float) -> list[Decision]:
        """A supervisor moves a waiting caller (or pending callback) to another queue."""
        out = self._run_timers(now)
        rec = self._callers.get(call_id)
        if rec is None or rec.status not in (CallerStatus.WAITING, CallerStatus.DELAYED):
            raise ValidationError(f"call {call_id} is not waiting", field="call_id")
        self._queue(queue)
        self._move(rec, queue, now, "admin", out)
        return out

    def set_priority(self, call_id: str, priority: int, now: float) -> list[Decision]:
        """Change a caller's base priority (e.g. the agent of a previous leg marks a veteran)."""
        out = self._run_timers(now)
        rec = self._callers.get(call_id)
        if rec is None:
            raise ValidationError(f"unknown call {call_id}", field="call_id")
        rec.priority = priority
        if rec.status is CallerStatus.WAITING:
            self._unqueue(rec)
            self._enqueue(rec, self._queue(rec.queue), now, out)
        return out

    # ---- the ring and the call ----------------------------------------------------------------

    def ring_no_answer(self, call_id: str, now: float) -> list[Decision]:
        """The agent did not answer: the caller goes back to its place; maybe auto-pause."""
        out = self._run_timers(now)
        rec = self._callers.get(call_id)
        if rec is None or rec.status is not CallerStatus.RINGING or rec.agent_id is None:
            return out
        agent = self._agents[rec.agent_id]
        agent.call_id = None
        agent.missed_rings += 1
        rec.agent_id = None
        q = self._queue_or_default(rec.queue)
        # The caller first, so another free agent gets it before the one who missed it.
        self._requeue(rec, now, out)
        if q.auto_pause_after and agent.missed_rings >= q.auto_pause_after and not agent.pending:
            agent.pending, agent.pending_reason = AgentState.PAUSED, "no_answer"
        agent.idle_since = now
        self._release(agent, now, out)
        return out

    def call_answered(self, call_id: str, now: float) -> list[Decision]:
        """The agent (and, for a callback, the citizen) answered: both are on the call."""
        out = self._run_timers(now)
        rec = self._callers.get(call_id)
        if rec is None or rec.status is not CallerStatus.RINGING or rec.agent_id is None:
            return out
        agent = self._agents[rec.agent_id]
        rec.status = CallerStatus.CONNECTED
        rec.answered_at = now
        rec.epoch += 1
        agent.missed_rings = 0
        agent.calls_taken += 1
        self._set_state(agent, AgentState.ON_CALL, now, None, out)
        counters = self._count(rec.queue)
        if rec.callback:
            counters.callbacks_answered += 1
        else:
            counters.answered += 1
            q = self._queue_or_default(rec.queue)
            if now - rec.queue_entered <= q.sl_target_s:
                counters.answered_in_sl += 1
        return out

    def call_ended(self, call_id: str, now: float) -> list[Decision]:
        """The call is over: the agent goes to wrap-up for the queue's wrap-up time."""
        out = self._run_timers(now)
        rec = self._callers.get(call_id)
        if rec is None:
            return out
        if rec.status is not CallerStatus.CONNECTED:
            return out + self.caller_abandons(call_id, now)
        del self._callers[call_id]
        if rec.agent_id is None:
            return out
        agent = self._agents[rec.agent_id]
        q = self._queue_or_default(rec.queue)
        agent.call_id = None
        agent.wrap_queue = rec.queue
        answered_at = rec.answered_at if rec.answered_at is not None else now
        if q.wrap_up_s > 0:
            self._set_state(agent, AgentState.WRAP_UP, now, None, out)
            agent.token += 1
            due = now + q.wrap_up_s
            agent.idle_since = answered_at  # remembered until wrap-up ends, for the handle time
            heapq.heappush(self._timers, (due, next(self._seq), _WRAP_TIMER, agent.config.id, agent.token))
        else:
            self._record_handle(rec.queue, now - answered_at)
            agent.idle_since = now
            self._release(agent, now, out)
        return out

    def tick(self, now: float) -> list[Decision]:
        """Fire due timers (wrap-up ends, overflow, maximum waits, callback retries) and send
        holding callers away from queues that have closed with ``close_waiting`` set."""
        out = self._run_timers(now)
        for q in self._queues.values():
            if q.close_waiting and q.schedule is not None and not self.is_open(q.name, now):
                for bucket in self._queue_buckets.get(q.name, []):
                    for entry in bucket.live_caller_entries():
                        rec = entry[3]
                        if not rec.callback:  # a callback waits for the next opening
                            self._unqueue(rec)
                            del self._callers[rec.call_id]
                            rec.epoch += 1
                            out.append(CallerLeft(rec.call_id, q.name, "closed", now - rec.arrival))
        return out

    def next_due(self) -> float | None:
        """When the earliest pending timer falls due (the adapter may sleep until then)."""
        timers = self._timers
        while timers and not self._timer_live(timers[0]):
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    def _timer_live(self, timer: tuple[float, int, int, str, int]) -> bool:
        _, _, kind, ref, epoch = timer
        if kind == _WRAP_TIMER:
            agent = self._agents.get(ref)
            return agent is not None and agent.state is AgentState.WRAP_UP and agent.token == epoch
        rec = self._callers.get(ref)
        return rec is not None and rec.epoch == epoch

    # ---- schedule -----------------------------------------------------------------------------

    def is_open(self, queue: str, now: float) -> bool:
        """True if the queue's schedule is open at ``now`` (always, without a schedule)."""
        name = self._queue(queue).schedule
        if name is None or self._schedules is None:
            return True
        return self._schedules.is_open(name, datetime.fromtimestamp(now, self._tz))

    # ---- internals: callers -------------------------------------------------------------------

    def _queue(self, name: str) -> QueueConfig:
        q = self._queues.get(name)
        if q is None:
            raise ValidationError(f"unknown queue {name!r}", field="queue")
        return q

    def _queue_or_default(self, name: str) -> QueueConfig:
        # A queue removed by reconfiguration while its call was in progress keeps plain defaults.
        return self._queues.get(name) or QueueConfig(name=name)

    def _count(self, queue: str) -> QueueCounters:
        return self._counters.setdefault(queue, QueueCounters())

    def _waiting(self, call_id: str) -> CallerRec:
        rec = self._callers.get(call_id)
        if rec is None or rec.status is not CallerStatus.WAITING:
            raise ValidationError(f"call {call_id} is not waiting", field="call_id")
        return rec

    def _requirement(self, rec: CallerRec, q: QueueConfig) -> Requirement:
        if rec.widened:
            return tuple(sorted((skill, 1) for skill in q.skills))
        req = dict(q.skills)
        for skill, level in rec.extra:
            req[skill] = max(req.get(skill, 0), level)
        return tuple(sorted(req.items()))

    def _bucket(self, queue: str, req: Requirement) -> Bucket:
        bucket = self._buckets.get((queue, req))
        if bucket is None:
            bucket = Bucket(queue, req)
            self._buckets[queue, req] = bucket
            self._queue_buckets.setdefault(queue, []).append(bucket)
            q = self._queues[queue]
            for agent in self._agents.values():
                if not agent.removed and eligible(agent.config, req):
                    bucket.members.append(agent)
                    agent.buckets.append(bucket)
                    if agent.indexed:
                        bucket.push_agent(agent, agent_key(agent, q, req))
        return bucket

    def _enqueue(self, rec: CallerRec, q: QueueConfig, now: float, out: list[Decision]) -> None:
        """Put a caller in its bucket and ring the strategy's agent if one is free."""
        rec.status = CallerStatus.WAITING
        bucket = self._bucket(q.name, self._requirement(rec, q))
        agent = bucket.head_agent()
        if agent is not None:
            self._ring(rec, agent, now, out)
        else:
            rec.token += 1
            bucket.push_caller(rec, rec.key(q))

    def _unqueue(self, rec: CallerRec) -> None:
        if rec.bucket is not None:
            rec.token += 1
            rec.bucket.caller_gone(rec)

    def _requeue(self, rec: CallerRec, now: float, out: list[Decision]) -> None:
        """Back to its place after a failed ring, applying any overflow step that fell due."""
        if rec.queue not in self._queues:
            self._relocate(rec, now, out)
            if rec.call_id not in self._callers:
                return
        if self._apply_due(rec, now, out):
            self._enqueue(rec, self._queues[rec.queue], now, out)

    def _move(self, rec: CallerRec, queue: str, now: float, reason: str, out: list[Decision]) -> None:
        old = rec.queue
        if rec.status is CallerStatus.WAITING:
            self._unqueue(rec)
        rec.queue, rec.queue_entered, rec.stage, rec.widened = queue, now, 0, False
        rec.epoch += 1
        out.append(CallerMoved(rec.call_id, old, queue, reason))
        q = self._queues[queue]
        self._schedule_caller(rec, q)
        if rec.status is CallerStatus.WAITING:
            self._enqueue(rec, q, now, out)

    def _schedule_caller(self, rec: CallerRec, q: QueueConfig) -> None:
        """Arm the timer for the caller's next overflow step or maximum wait in this queue."""
        dues = [q.overflow[rec.stage].after_s] if rec.stage < len(q.overflow) else []
        if q.max_wait_s is not None and not rec.callback:
            dues.append(q.max_wait_s)
        if dues:
            due = rec.queue_entered + min(dues)
            heapq.heappush(self._timers, (due, next(self._seq), _CALLER_TIMER, rec.call_id, rec.epoch))

    def _apply_due(self, rec: CallerRec, now: float, out: list[Decision]) -> bool:
        """Apply overflow steps and the maximum wait that are due; False if the caller left."""
        q = self._queues[rec.queue]
        start_stage, changed = rec.stage, False
        while rec.stage < len(q.overflow) and q.overflow[rec.stage].after_s <= now - rec.queue_entered:
            step = q.overflow[rec.stage]
            rec.stage += 1
            if step.to_queue is not None and step.to_queue in self._queues:
                old = rec.queue
                rec.queue, rec.queue_entered, rec.stage, rec.widened = step.to_queue, now, 0, False
                out.append(CallerMoved(rec.call_id, old, step.to_queue, "overflow"))
                q = self._queues[rec.queue]
                changed = True
            elif step.widen_skills and not rec.widened:
                rec.widened = True
                out.append(SkillsWidened(rec.call_id, rec.queue))
                changed = True
        if q.max_wait_s is not None and not rec.callback and now - rec.queue_entered >= q.max_wait_s:
            del self._callers[rec.call_id]
            rec.epoch += 1
            self._count(rec.queue).timed_out += 1
            out.append(CallerLeft(rec.call_id, rec.queue, "timeout", now - rec.arrival))
            return False
        if changed or rec.stage != start_stage:
            rec.epoch += 1
            self._schedule_caller(rec, q)
        return True

    def _caller_timer(self, rec: CallerRec, now: float, out: list[Decision]) -> None:
        if rec.status is not CallerStatus.WAITING:
            return  # ringing: re-checked when the ring fails; delayed: re-checked on re-entry
        self._unqueue(rec)
        if self._apply_due(rec, now, out):
            self._enqueue(rec, self._queues[rec.queue], now, out)

    def _relocate(self, rec: CallerRec, now: float, out: list[Decision]) -> None:
        """Send a caller of a removed queue to a queue that still exists, or let it go."""
        target = self._config.default_queue
        if target is None or target not in self._queues:
            del self._callers[rec.call_id]
            rec.epoch += 1
            out.append(CallerLeft(rec.call_id, rec.queue, "no_queue", now - rec.arrival))
            return
        old, rec.queue, rec.queue_entered, rec.stage, rec.widened = rec.queue, target, now, 0, False
        rec.epoch += 1
        out.append(CallerMoved(rec.call_id, old, target, "reconfigure"))
        self._schedule_caller(rec, self._queues[target])

    def _position(self, rec: CallerRec) -> int | None:
        """1-based place among the queue's waiting callers (callbacks included), O(n)."""
        if rec.status is not CallerStatus.WAITING or rec.bucket is None:
            return None
        mine = (rec.key(self._queues[rec.queue]), rec.seq)
        ahead = 0
        for bucket in self._queue_buckets.get(rec.queue, []):
            ahead += sum(1 for e in bucket.live_caller_entries() if (e[0], e[1]) < mine)
        return ahead + 1

    # ---- internals: agents --------------------------------------------------------------------

    def _agent(self, agent_id: str) -> AgentRec:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise ValidationError(f"unknown agent {agent_id!r}", field="agent_id")
        return agent

    def _set_state(
        self, agent: AgentRec, state: AgentState, now: float, reason: str | None, out: list[Decision]
    ) -> None:
        if agent.state is AgentState.AVAILABLE and agent.indexed:
            agent.token += 1
            agent.indexed = False
            for bucket in agent.buckets:
                bucket.agent_gone()
        agent.state, agent.reason, agent.state_since = state, reason, now
        self._agents_revision += 1
        out.append(AgentStateChanged(agent.config.id, state, now, reason))

    def _make_available(self, agent: AgentRec, now: float, out: list[Decision]) -> None:
        """The agent is free: take the best waiting caller of its buckets, or wait in their heaps."""
        self._set_state(agent, AgentState.AVAILABLE, now, None, out)
        self._take_or_wait(agent, now, out)

    def _take_or_wait(self, agent: AgentRec, now: float, out: list[Decision]) -> None:
        best: tuple[float, int] | None = None
        best_rec: CallerRec | None = None
        for bucket in agent.buckets:
            head = bucket.head_caller()
            if head is not None and (best is None or (head[0], head[1]) < best):
                best, best_rec = (head[0], head[1]), head[3]
        if best_rec is not None:
            self._unqueue(best_rec)
            self._ring(best_rec, agent, now, out)
            return
        agent.token += 1
        agent.indexed = True
        for bucket in agent.buckets:
            bucket.push_agent(agent, agent_key(agent, self._queues[bucket.queue], bucket.req))

    def _ring(self, rec: CallerRec, agent: AgentRec, now: float, out: list[Decision]) -> None:
        self._set_state(agent, AgentState.RINGING, now, None, out)
        agent.call_id = rec.call_id
        agent.last_assigned[rec.queue] = next(self._seq)
        rec.status = CallerStatus.RINGING
        rec.agent_id = agent.config.id
        q = self._queues[rec.queue]
        out.append(
            Assignment(
                call_id=rec.call_id,
                agent_id=agent.config.id,
                queue=rec.queue,
                waited_s=now - rec.arrival,
                ring_timeout_s=q.ring_timeout_s,
                is_callback=rec.callback,
                attempt=rec.attempts + 1 if rec.callback else 0,
                contact=rec.contact if rec.callback else None,
            )
        )

    def _release(self, agent: AgentRec, now: float, out: list[Decision]) -> None:
        """The agent's work is over: apply a pending pause or logout, else make it available."""
        if agent.removed or agent.pending is AgentState.LOGGED_OUT:
            self._set_state(agent, AgentState.LOGGED_OUT, now, None, out)
            agent.pending = agent.pending_reason = None
            if agent.removed:
                self._drop_agent(agent)
        elif agent.pending is AgentState.PAUSED:
            reason, agent.pending, agent.pending_reason = agent.pending_reason, None, None
            self._set_state(agent, AgentState.PAUSED, now, reason, out)
        else:
            self._make_available(agent, now, out)

    def _end_wrap(self, agent: AgentRec, now: float, out: list[Decision]) -> None:
        if agent.wrap_queue is not None:
            self._record_handle(agent.wrap_queue, now - agent.idle_since)
        agent.wrap_queue = None
        agent.token += 1
        agent.idle_since = now
        self._release(agent, now, out)

    def _record_handle(self, queue: str, handle_s: float) -> None:
        if queue in self._aht:
            self._aht[queue] = ewma(self._aht[queue], handle_s, self._config.aht_alpha)

    def _drop_agent(self, agent: AgentRec) -> None:
        self._agents_revision += 1
        for bucket in agent.buckets:
            bucket.members.remove(agent)
        agent.buckets = []
        self._agents.pop(agent.config.id, None)

    # ---- internals: timers --------------------------------------------------------------------

    def _run_timers(self, now: float) -> list[Decision]:
        out: list[Decision] = []
        timers = self._timers
        while timers and timers[0][0] <= now:
            due, _, kind, ref, epoch = heapq.heappop(timers)
            if kind == _WRAP_TIMER:
                agent = self._agents.get(ref)
                if agent is not None and agent.state is AgentState.WRAP_UP and agent.token == epoch:
                    self._end_wrap(agent, due, out)
                continue
            rec = self._callers.get(ref)
            if rec is None or rec.epoch != epoch:
                continue
            if kind == _RETRY_TIMER:
                if rec.status is CallerStatus.DELAYED:
                    self._requeue(rec, due, out)
            else:
                self._caller_timer(rec, due, out)
        return out
