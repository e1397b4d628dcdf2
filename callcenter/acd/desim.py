"""A discrete-event simulation of one queue driven through the real router (pure, seeded).

Callers arrive as a Poisson process, talk for exponential handle times, may give up after an
exponential patience or ask for a callback, and agents may miss rings. Every decision of
``AcdState`` is acted on the way the telephony adapter would: an ``Assignment`` rings the agent,
who answers (or not) after ``ring_s``; a callback rings the agent first and then the citizen.
The simulation only reads the clock it keeps itself, so a run is reproducible from its seed.

It exists to check the router against queueing theory (Erlang C service level and average
speed of answer), to check the EWT method, and to prove that no call is lost under load; the
benchmark reuses it to build large states.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from callcenter.acd.model import (
    AcdConfig,
    AgentConfig,
    AgentState,
    AgentStateChanged,
    Assignment,
    CallbackGaveUp,
    CallerLeft,
    CancelRing,
    Decision,
    QueueConfig,
)
from callcenter.acd.router import AcdState

__all__ = ["CallRecord", "Outcome", "SimParams", "SimResult", "simulate"]


class Outcome(StrEnum):
    """How a simulated call ended."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    CALLED_BACK = "called_back"  # the callback reached the citizen
    CALLBACK_UNREACHABLE = "callback_unreachable"  # every callback attempt failed
    TIMED_OUT = "timed_out"
    PENDING = "pending"  # still unresolved when the simulation stopped: a lost call


@dataclass
class CallRecord:
    """What happened to one simulated call."""

    call_id: str
    arrival: float
    ewt_at_arrival: float | None = None
    answered_at: float | None = None
    outcome: Outcome = Outcome.PENDING

    @property
    def wait(self) -> float | None:
        """Seconds from arrival to answer (None if never answered)."""
        return None if self.answered_at is None else self.answered_at - self.arrival


@dataclass(frozen=True)
class SimParams:
    """One queue, ``agents`` identical agents, Poisson arrivals, exponential handle times."""

    arrival_rate: float  # calls per second
    aht_s: float
    agents: int
    calls: int
    seed: int = 1
    ring_s: float = 0.0
    patience_s: float | None = None  # mean of an exponential patience; None = nobody hangs up
    callback_share: float = 0.0  # share of callers who ask for a callback ...
    callback_after_s: float = 60.0  # ... if still waiting this long after arrival
    callback_answer_p: float = 1.0  # chance the citizen answers a callback attempt
    ring_answer_p: float = 1.0  # chance the agent answers a ring
    unpause_after_s: float = 60.0  # an auto-paused agent comes back after this long
    record_ewt: bool = False
    aht_alpha: float = 0.02
    queue: QueueConfig = field(default_factory=lambda: QueueConfig(name="q", auto_pause_after=2))


@dataclass
class SimResult:
    """Per-call records and the router at the end of the run."""

    calls: list[CallRecord]
    state: AcdState
    end_time: float

    def answered_waits(self) -> list[float]:
        """Waits of calls answered while the caller held (callbacks excluded)."""
        return [c.wait for c in self.calls if c.outcome is Outcome.ANSWERED and c.wait is not None]


def simulate(p: SimParams) -> SimResult:
    """Run the simulation until every call is resolved (or nothing is left to happen)."""
    rng = random.Random(p.seed)
    queue = p.queue
    agents = {f"a{i}": AgentConfig(id=f"a{i}") for i in range(p.agents)}
    state = AcdState(AcdConfig(queues={queue.name: queue}, agents=agents, aht_alpha=p.aht_alpha))
    events: list[tuple[float, int, str, str, str]] = []  # time, seq, kind, call id, agent id
    seq = itertools.count()
    calls: dict[str, CallRecord] = {}
    ringing: dict[str, str] = {}  # call id → agent rung
    waiting: set[str] = set()  # holding callers (not callbacks), for abandon and callback events
    ticks: set[float] = set()

    def at(t: float, kind: str, call_id: str = "", agent_id: str = "") -> None:
        heapq.heappush(events, (t, next(seq), kind, call_id, agent_id))

    def handle(now: float, decisions: list[Decision]) -> None:
        for d in decisions:
            if isinstance(d, Assignment):
                waiting.discard(d.call_id)
                ringing[d.call_id] = d.agent_id
                answered = rng.random() < p.ring_answer_p
                at(now + p.ring_s, "agent_answers" if answered else "no_answer", d.call_id, d.agent_id)
            elif isinstance(d, CancelRing):
                ringing.pop(d.call_id, None)
            elif isinstance(d, CallerLeft):
                waiting.discard(d.call_id)
                if d.reason == "timeout":
                    calls[d.call_id].outcome = Outcome.TIMED_OUT
            elif isinstance(d, CallbackGaveUp):
                calls[d.call_id].outcome = Outcome.CALLBACK_UNREACHABLE
            elif isinstance(d, AgentStateChanged) and d.state is AgentState.PAUSED:
                at(now + p.unpause_after_s, "unpause", "", d.agent_id)
        due = state.next_due()
        if due is not None and due not in ticks:
            ticks.add(due)  # one tick event per due time, or duplicates would multiply
            at(due, "tick")

    for agent_id in agents:
        handle(0.0, state.agent_login(agent_id, 0.0))
    t = 0.0
    for i in range(p.calls):
        t += rng.expovariate(p.arrival_rate)
        at(t, "arrive", f"c{i}")
    callbacks: set[str] = set()
    now = 0.0
    dispatch: dict[str, Callable[[str, str], list[Decision]]] = {}

    def arrive(call_id: str, _: str) -> list[Decision]:
        calls[call_id] = rec = CallRecord(call_id, now)
        waiting.add(call_id)
        out = state.caller_arrives(call_id, queue.name, now)
        if p.record_ewt:
            assigned = any(isinstance(d, Assignment) for d in out)
            rec.ewt_at_arrival = 0.0 if assigned else state.estimated_wait(call_id, now)
        if p.patience_s is not None:
            at(now + rng.expovariate(1.0 / p.patience_s), "abandon", call_id)
        if rng.random() < p.callback_share:
            at(now + p.callback_after_s, "callback", call_id)
        return out

    def agent_answers(call_id: str, agent_id: str) -> list[Decision]:
        if ringing.get(call_id) != agent_id:
            return []
        del ringing[call_id]
        if call_id in callbacks and rng.random() >= p.callback_answer_p:
            at(now + 20.0, "callback_failed", call_id, agent_id)  # the citizen's phone rings out
            return []
        rec = calls[call_id]
        if rec.answered_at is None:
            rec.answered_at = now
        rec.outcome = Outcome.CALLED_BACK if call_id in callbacks else Outcome.ANSWERED
        at(now + rng.expovariate(1.0 / p.aht_s), "end", call_id, agent_id)
        return state.call_answered(call_id, now)

    def callback_failed(call_id: str, _: str) -> list[Decision]:
        return state.callback_failed(call_id, now)

    def no_answer(call_id: str, agent_id: str) -> list[Decision]:
        if ringing.get(call_id) != agent_id:
            return []
        del ringing[call_id]
        if call_id not in callbacks:
            waiting.add(call_id)
        return state.ring_no_answer(call_id, now)

    def abandon(call_id: str, _: str) -> list[Decision]:
        if call_id not in waiting:
            return []
        waiting.discard(call_id)
        calls[call_id].outcome = Outcome.ABANDONED
        return state.caller_abandons(call_id, now)

    def callback(call_id: str, _: str) -> list[Decision]:
        if call_id not in waiting:
            return []
        waiting.discard(call_id)  # off the phone: no longer abandons
        callbacks.add(call_id)
        return state.request_callback(call_id, now, contact="+380000000000")

    def end(call_id: str, _: str) -> list[Decision]:
        return state.call_ended(call_id, now)

    def unpause(_: str, agent_id: str) -> list[Decision]:
        if state.agent_state(agent_id) is AgentState.PAUSED:
            return state.agent_available(agent_id, now)
        return []

    def tick(_c: str, _a: str) -> list[Decision]:
        ticks.discard(now)
        return state.tick(now)

    dispatch.update(
        arrive=arrive,
        agent_answers=agent_answers,
        no_answer=no_answer,
        callback_failed=callback_failed,
        abandon=abandon,
        callback=callback,
        end=end,
        unpause=unpause,
        tick=tick,
    )
    while events:
        now, _, kind, call_id, agent_id = heapq.heappop(events)
        handle(now, dispatch[kind](call_id, agent_id))
    return SimResult(calls=list(calls.values()), state=state, end_time=now)
