"""The ACD router ``AcdState``: caller and call events (``callcenter.acd.core``), agent events,
run-time reconfiguration and read-only views.

Adapters call the event methods (``caller_arrives``, ``call_answered``, ``agent_pause`` …) and
carry out the decisions they return; supervisors' screens and the caller's announcements read
the views, which cost O(n) per queue and stay off the routing path. The module docstring of
``callcenter.acd.core`` gives the contract and the complexity of every operation.
"""

from __future__ import annotations

from callcenter.acd.core import KYIV, STAFFED, QueueCounters, RouterCore
from callcenter.acd.ewt import estimated_wait
from callcenter.acd.hours import ScheduleOracle
from callcenter.acd.index import AgentRec, CallerRec, CallerStatus
from callcenter.acd.model import (
    AcdConfig,
    AgentState,
    AgentView,
    CallerMoved,
    CallerView,
    CancelRing,
    Decision,
    QueueConfig,
    QueueStats,
)
from callcenter.errors import ValidationError

__all__ = ["KYIV", "AcdState"]


class AcdState(RouterCore):
    """The router the adapters drive: every method takes ``now`` and returns decisions."""

    # ---- agents -------------------------------------------------------------------------------

    def agent_login(self, agent_id: str, now: float, *, paused_reason: str | None = None) -> list[Decision]:
        """The agent logs in, available at once or paused with ``paused_reason``."""
        out = self._run_timers(now)
        agent = self._agent(agent_id)
        if agent.state is not AgentState.LOGGED_OUT:
            return out
        agent.missed_rings = 0
        agent.idle_since = now
        if paused_reason is not None:
            self._set_state(agent, AgentState.PAUSED, now, paused_reason, out)
        else:
            self._make_available(agent, now, out)
        return out

    def agent_logout(self, agent_id: str, now: float) -> list[Decision]:
        """The agent logs out; during a call or wrap-up, right after it."""
        out = self._run_timers(now)
        self._logout(self._agent(agent_id), now, out)
        return out

    def agent_pause(self, agent_id: str, reason: str, now: float) -> list[Decision]:
        """Pause with a reason; a busy agent is paused as soon as the current call is done."""
        out = self._run_timers(now)
        agent = self._agent(agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            raise ValidationError(f"agent {agent_id} is logged out", field="agent_id")
        if agent.state in (AgentState.AVAILABLE, AgentState.PAUSED):
            self._set_state(agent, AgentState.PAUSED, now, reason, out)
        elif agent.pending is not AgentState.LOGGED_OUT:
            agent.pending, agent.pending_reason = AgentState.PAUSED, reason
        return out

    def agent_available(self, agent_id: str, now: float) -> list[Decision]:
        """The agent is ready: unpause, end wrap-up early, or cancel a pending pause."""
        out = self._run_timers(now)
        agent = self._agent(agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            raise ValidationError(f"agent {agent_id} is logged out", field="agent_id")
        if agent.pending is AgentState.PAUSED:
            agent.pending = agent.pending_reason = None
        if agent.state is AgentState.PAUSED:
            agent.missed_rings = 0
            agent.idle_since = now
            self._make_available(agent, now, out)
        elif agent.state is AgentState.WRAP_UP:
            self._end_wrap(agent, now, out)
        return out

    def wrap_up_done(self, agent_id: str, now: float) -> list[Decision]:
        """The agent finished wrap-up early (pressed "ready")."""
        out = self._run_timers(now)
        agent = self._agent(agent_id)
        if agent.state is AgentState.WRAP_UP:
            self._end_wrap(agent, now, out)
        return out

    def _logout(self, agent: AgentRec, now: float, out: list[Decision]) -> None:
        if agent.state is AgentState.LOGGED_OUT:
            if agent.removed:
                self._drop_agent(agent)
            return
        if agent.state in (AgentState.AVAILABLE, AgentState.PAUSED):
            self._set_state(agent, AgentState.LOGGED_OUT, now, None, out)
            if agent.removed:
                self._drop_agent(agent)
        elif agent.state is AgentState.RINGING and agent.call_id is not None:
            rec = self._callers[agent.call_id]
            out.append(CancelRing(rec.call_id, agent.config.id, "agent_logged_out"))
            agent.call_id = None
            rec.agent_id = None
            agent.pending = AgentState.LOGGED_OUT
            self._requeue(rec, now, out)
            self._release(agent, now, out)
        else:
            agent.pending, agent.pending_reason = AgentState.LOGGED_OUT, None

    # ---- run-time reconfiguration -------------------------------------------------------------

    def reconfigure(
        self, config: AcdConfig, now: float, *, schedules: ScheduleOracle | None = None
    ) -> list[Decision]:
        """Apply new definitions without losing a caller.

        Waiting callers keep their places; callers of a removed queue go to its first overflow
        queue that still exists, else to ``default_queue``. A removed agent that is free logs
        out now; one on a call finishes it (and its wrap-up) first.
        """
        out = self._run_timers(now)
        self._agents_revision += 1
        old_queues = self._queues
        self._config, self._queues = config, dict(config.queues)
        if schedules is not None:
            self._schedules = schedules
        for name, q in self._queues.items():
            self._aht.setdefault(name, q.default_aht_s)
        # Tear down every index; records keep their keys (arrival, priority) so places survive.
        waiting = [r for r in self._callers.values() if r.status is CallerStatus.WAITING]
        for rec in waiting:
            rec.token += 1
            rec.bucket = None
        for agent in self._agents.values():
            agent.buckets = []
            agent.token += 1
            agent.indexed = False
        self._buckets.clear()
        self._queue_buckets.clear()
        for agent_id, agent in list(self._agents.items()):
            if agent_id in config.agents:
                agent.config = config.agents[agent_id]
                agent.removed = False  # re-added before its pending removal took effect
            else:
                agent.removed = True
        for agent_cfg in config.agents.values():
            if agent_cfg.id not in self._agents:
                self._agents[agent_cfg.id] = AgentRec(config=agent_cfg, order=next(self._seq))
        for rec in list(self._callers.values()):
            if rec.queue not in self._queues:
                old = old_queues[rec.queue]
                target = next((s.to_queue for s in old.overflow if s.to_queue in self._queues), None)
                if target is not None:
                    out.append(CallerMoved(rec.call_id, rec.queue, target, "reconfigure"))
                    rec.queue, rec.queue_entered, rec.stage, rec.widened = target, now, 0, False
                    rec.epoch += 1
                    self._schedule_caller(rec, self._queues[target])
                elif rec.status in (CallerStatus.WAITING, CallerStatus.DELAYED):
                    # A ringing caller is relocated only if the ring fails (see _requeue), so
                    # the agent's ring always has a caller record to resolve against.
                    self._relocate(rec, now, out)
            elif rec.status is not CallerStatus.CONNECTED:
                q = self._queues[rec.queue]
                rec.stage = min(rec.stage, len(q.overflow))
                rec.epoch += 1
                self._schedule_caller(rec, q)
        for rec in waiting:
            if rec.call_id in self._callers:
                q = self._queues[rec.queue]
                rec.token += 1
                self._bucket(q.name, self._requirement(rec, q)).push_caller(rec, rec.key(q))
        for agent in list(self._agents.values()):
            if agent.removed:
                self._logout(agent, now, out)
            elif agent.state is AgentState.AVAILABLE:
                self._take_or_wait(agent, now, out)
        return out

    def reset_daily_counters(self, now: float) -> list[Decision]:
        """Start a new day: calls taken per agent (fewest-calls) and the queue figures go to zero."""
        for agent in self._agents.values():
            agent.calls_taken = 0
        for name in list(self._counters):
            self._counters[name] = QueueCounters()
        # Fewest-calls keys of free agents changed: rebuild the indexes with the same config.
        return self.reconfigure(self._config, now)

    # ---- views --------------------------------------------------------------------------------

    def agents(self, now: float) -> list[AgentView]:
        """Every configured agent with its state and time in state."""
        return [
            AgentView(
                agent_id=a.config.id,
                state=a.state,
                reason=a.reason,
                time_in_state_s=now - a.state_since,
                calls_taken=a.calls_taken,
                call_id=a.call_id,
            )
            for a in self._agents.values()
        ]

    def agent_state(self, agent_id: str) -> AgentState:
        """One agent's current state."""
        return self._agent(agent_id).state

    def position(self, call_id: str) -> int | None:
        """1-based place of a waiting caller in its queue (None if not waiting)."""
        rec = self._callers.get(call_id)
        return None if rec is None else self._position(rec)

    def caller(self, call_id: str, now: float) -> CallerView | None:
        """One caller's view (waiting, ringing, connected or a delayed callback), or None."""
        rec = self._callers.get(call_id)
        if rec is None:
            return None
        return self._view(rec, self._queue_or_default(rec.queue), now, self._position(rec))

    def estimated_wait(self, call_id: str, now: float) -> float | None:
        """Expected remaining wait of a waiting caller (method in ``callcenter.acd.ewt``)."""
        rec = self._callers.get(call_id)
        if rec is None or rec.status is not CallerStatus.WAITING:
            return None
        position = self._position(rec) or 1
        staffed, free = self._staffing(rec.queue)
        return estimated_wait(position, staffed, free, self._aht.get(rec.queue, 0.0))

    def waiting(self, queue: str, now: float) -> list[CallerView]:
        """The queue's waiting callers, pending callbacks included, best first."""
        q = self._queue(queue)
        entries = sorted(e for b in self._queue_buckets.get(queue, []) for e in b.live_caller_entries())
        views = [self._view(e[3], q, now, i + 1) for i, e in enumerate(entries)]
        delayed = [r for r in self._callers.values() if r.queue == queue and r.status is CallerStatus.DELAYED]
        return views + [self._view(r, q, now, None) for r in delayed]

    def callbacks(self, now: float) -> list[CallerView]:
        """Every callback not yet answered (waiting, ringing or waiting for a retry)."""
        return [
            self._view(r, self._queue_or_default(r.queue), now, self._position(r))
            for r in self._callers.values()
            if r.callback and r.status is not CallerStatus.CONNECTED
        ]

    def queue_stats(self, queue: str, now: float) -> QueueStats:
        """Live figures of one queue for the wallboard."""
        self._queue(queue)
        entries = [e[3] for b in self._queue_buckets.get(queue, []) for e in b.live_caller_entries()]
        phones = [r for r in entries if not r.callback]
        staffed, free = self._staffing(queue)
        c = self._count(queue)
        aht = self._aht.get(queue, 0.0)
        return QueueStats(
            queue=queue,
            waiting=len(phones),
            callbacks_pending=sum(1 for r in self._callers.values() if r.queue == queue and r.callback),
            longest_wait_s=max((now - r.arrival for r in phones), default=0.0),
            agents_staffed=staffed,
            agents_available=free,
            offered=c.offered,
            answered=c.answered,
            answered_in_sl=c.answered_in_sl,
            abandoned=c.abandoned,
            timed_out=c.timed_out,
            callbacks_requested=c.callbacks_requested,
            callbacks_answered=c.callbacks_answered,
            aht_s=aht,
            service_level=c.answered_in_sl / c.answered if c.answered else None,
            ewt_new_caller_s=estimated_wait(len(entries) + 1, staffed, free, aht),
        )

    def logged_in(self, queue: str) -> int:
        """Agents not logged out (nor being removed) whose skills fit ``queue``'s own requirements.

        Cached until an agent changes state or the configuration changes, because every waiting
        caller asks once a second whether anyone is left to answer.
        """
        cached = self._logged_in_cache.get(queue)
        if cached is not None and cached[0] == self._agents_revision:
            return cached[1]
        q = self._queue(queue)
        members = self._bucket(queue, tuple(sorted(q.skills.items()))).members
        count = sum(1 for a in members if a.state is not AgentState.LOGGED_OUT and not a.removed)
        self._logged_in_cache[queue] = (self._agents_revision, count)
        return count

    def _staffing(self, queue: str) -> tuple[int, int]:
        """(staffed, available) agents eligible for the queue's own skills."""
        q = self._queue(queue)
        members = self._bucket(queue, tuple(sorted(q.skills.items()))).members
        staffed = sum(1 for a in members if a.state in STAFFED)
        free = sum(1 for a in members if a.state is AgentState.AVAILABLE)
        return staffed, free

    def _view(self, rec: CallerRec, q: QueueConfig, now: float, position: int | None) -> CallerView:
        return CallerView(
            call_id=rec.call_id,
            queue=rec.queue,
            priority=rec.priority,
            effective_priority=rec.priority + (now - rec.arrival) / q.priority_step_s,
            waited_s=now - rec.arrival,
            status=rec.status.value,
            is_callback=rec.callback,
            attempts=rec.attempts,
            position=position,
        )
