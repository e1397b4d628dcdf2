"""Live wallboard figures after scripted call events equal the numbers worked out by hand.

The scenario (queue ``general``, answer target 20 s), times in seconds after 10:00 Kyiv:

* c1 arrives 0, queued 5, op1 answers at 20 (wait 15, in target), hold 50–60, hangs up at 80,
  op1's wrap-up ends at 95: talk 50, hold 10, wrap 15 → handle 75;
* c2 arrives 10, queued 12, hangs up waiting at 42 (wait 30): abandoned;
* c3 arrives 15, queued 16, hangs up at 18 (wait 2): short abandon, out of SL and abandon rate;
* c4 arrives 30, queued 31, op2 answers at 61 (wait 30, late), hangs up at 121, no wrap-up:
  handle 60.

So: offered 4, answered 2, in target 1, abandoned 1, short 1; SL = 1 / (2 + 1) = 33.33 %;
ASA = (15 + 30) / 2 = 22.5 s; AHT = (75 + 60) / 2 = 67.5 s; abandon rate = 1 / (4 − 1) = 33.33 %.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from callcenter.acd.model import AgentState, AgentStateChanged
from callcenter.analytics.rollup import ALL
from callcenter.bus import EventBus, Missed
from callcenter.services.live_events import (
    TOPIC_ACD,
    TOPIC_CALLS,
    CallArrived,
    CallConnected,
    CallFinished,
    CallHoldChanged,
    CallOffered,
    CallQueued,
)
from callcenter.services.live_stats import (
    FINAL_KEEP_S,
    KYIV,
    LiveStats,
    LiveStatsSettings,
    day_start,
    state_diff,
)

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=KYIV).timestamp()


@dataclass
class Clock:
    """Seconds the test moves."""

    t: float = T0

    def __call__(self) -> float:
        return self.t


class Script:
    """Publishes the live events the call pipeline and the ACD runtime publish, at scripted times.

    Events go to ``sink`` (a bus's ``publish``), else straight to the script's own ``LiveStats``.
    """

    def __init__(self, t0: float = T0, sink: Callable[[str, object], None] | None = None) -> None:
        self.t0 = t0
        self.clock = Clock(t0)
        self.stats = LiveStats(
            EventBus(), clock=self.clock, settings=LiveStatsSettings(longest_wait_alert_s=60)
        )
        self.send: Callable[[str, object], None] = sink or self.stats.handle

    def at(self, offset: float) -> float:
        self.clock.t = max(self.clock.t, self.t0 + offset)
        return self.t0 + offset

    def arrive(self, call: str, offset: float) -> None:
        self.send(
            TOPIC_CALLS, CallArrived(call, f"{call}.1", "380501112233", "0800", "hotline", self.at(offset))
        )

    def queue(self, call: str, offset: float, queue: str = "general") -> None:
        self.send(TOPIC_CALLS, CallQueued(call, queue, 0, self.at(offset)))

    def agent(self, agent: str, state: AgentState, offset: float, reason: str | None = None) -> None:
        self.send(TOPIC_ACD, AgentStateChanged(agent, state, self.at(offset), reason))

    def answer(self, call: str, agent: str, offset: float, waited: float, queue: str = "general") -> None:
        at = self.at(offset)
        self.agent(agent, AgentState.RINGING, offset)
        self.send(
            TOPIC_CALLS,
            CallOffered(call, f"{call}.1", agent, queue, waited, None, "uk", None, (), 0, at=at),
        )
        self.send(TOPIC_CALLS, CallConnected(call, agent, queue, at))
        self.agent(agent, AgentState.ON_CALL, offset)

    def hold(self, call: str, agent: str, offset: float, held: bool) -> None:
        self.send(TOPIC_CALLS, CallHoldChanged(call, agent, held, self.at(offset)))

    def finish(self, call: str, outcome: str, offset: float, agent: str | None = None) -> None:
        self.send(TOPIC_CALLS, CallFinished(call, outcome, "general", agent, self.at(offset)))

    def scenario(self, *, wrap_done: bool = True) -> None:
        for agent in ("op1", "op2"):
            self.agent(agent, AgentState.AVAILABLE, 0)
        self.arrive("c1", 0)
        self.queue("c1", 5)
        self.arrive("c2", 10)
        self.queue("c2", 12)
        self.arrive("c3", 15)
        self.queue("c3", 16)
        self.finish("c3", "short_abandon", 18)
        self.answer("c1", "op1", 20, 15)
        self.arrive("c4", 30)
        self.queue("c4", 31)
        self.finish("c2", "abandoned_queue", 42)
        self.hold("c1", "op1", 50, True)
        self.hold("c1", "op1", 60, False)
        self.answer("c4", "op2", 61, 30)
        self.finish("c1", "answered", 80, "op1")
        self.agent("op1", AgentState.WRAP_UP, 80)
        if wrap_done:
            self.agent("op1", AgentState.AVAILABLE, 95)
        self.finish("c4", "answered", 121, "op2")
        self.agent("op2", AgentState.WRAP_UP, 121)
        self.agent("op2", AgentState.AVAILABLE, 121)


def test_scripted_day_gives_hand_computed_kpis() -> None:
    """Offered, answered, abandoned, SL, ASA, AHT and abandon rate equal the hand-worked values."""
    script = Script()
    script.scenario()
    q = script.stats.state(T0 + 130)["queues"]["general"]
    assert (q["offered"], q["answered"], q["answered_in_target"]) == (4, 2, 1)
    assert (q["abandoned"], q["short_abandoned"]) == (1, 1)
    assert q["service_level"] == pytest.approx(0.3333)
    assert q["asa_s"] == 22.5
    assert q["aht_s"] == 67.5
    assert q["abandon_rate"] == pytest.approx(0.3333)
    assert q["waiting"] == 0 and q["oldest_since"] is None
    line = script.stats.counters(ALL)
    assert (line.offered, line.answered, line.abandoned, line.short_abandoned) == (4, 2, 1, 1)
    assert (line.talk_s, line.hold_s, line.wrap_s) == (110.0, 10.0, 15.0)


def test_wrap_up_joins_aht_when_it_ends() -> None:
    """A hung-up call counts at once with no wrap-up; the wrap-up's end corrects AHT, not the counts."""
    script = Script()
    script.scenario(wrap_done=False)
    q = script.stats.state(T0 + 130)["queues"]["general"]
    assert (q["offered"], q["answered"]) == (4, 2)
    assert q["aht_s"] == 60.0  # (50 + 10 + 0) and 60, over 2
    script.agent("op1", AgentState.AVAILABLE, 140)  # wrap-up 80 → 140: 60 s
    q = script.stats.state(T0 + 141)["queues"]["general"]
    assert (q["offered"], q["answered"], q["answered_in_target"]) == (4, 2, 1)
    assert q["aht_s"] == 90.0  # (50 + 10 + 60 + 60) / 2


def test_complete_calls_keep_only_their_id_and_strays_are_not_new_calls() -> None:
    """Once counted complete a call's shares are let go (they were kept all day); a stray
    event of it later is not a new call; its id goes after ``FINAL_KEEP_S``."""
    script = Script()
    script.scenario()
    q = script.stats.state(T0 + 130)["queues"]["general"]
    assert (q["offered"], q["answered"], q["abandoned"]) == (4, 2, 1)
    assert script.stats._counted == {}  # every call of the scenario is complete
    script.queue("c2", 200)  # a stray, long after c2 was counted
    script.finish("c2", "abandoned_queue", 230)
    q = script.stats.state(T0 + 240)["queues"]["general"]
    assert (q["offered"], q["answered"], q["abandoned"]) == (4, 2, 1)
    script.arrive("c9", FINAL_KEEP_S + 300)  # an hour on: the ids are forgotten
    assert "c2" not in script.stats._final and "c9" not in script.stats._final


def test_agents_state_since_and_calls_today() -> None:
    """Each agent shows its state, pause reason, the instant it entered it, and calls answered today."""
    script = Script()
    script.scenario()
    script.agent("op2", AgentState.PAUSED, 150, "lunch")
    agents = script.stats.state(T0 + 160)["agents"]
    assert agents["op1"] == {
        "agent_id": "op1", "name": "op1", "state": "available", "reason": None,
        "since": T0 + 95, "calls_today": 1,
    }  # fmt: skip
    assert (agents["op2"]["state"], agents["op2"]["reason"], agents["op2"]["since"]) == (
        "paused",
        "lunch",
        T0 + 150,
    )
    assert agents["op2"]["calls_today"] == 1


def test_waiting_callers_and_longest_wait_alert() -> None:
    """A caller waiting past the threshold shows as waiting with its start, and raises an alert."""
    script = Script()
    script.arrive("c9", 0)
    script.queue("c9", 10)
    state = script.stats.state(T0 + 50)
    assert state["queues"]["general"]["waiting"] == 1
    assert state["queues"]["general"]["oldest_since"] == T0 + 10
    assert state["alerts"] == []
    state = script.stats.state(T0 + 71)
    assert state["alerts"] == [
        {"queue": "general", "kind": "longest_wait", "since": T0 + 10, "threshold": 60}
    ]
    script.finish("c9", "abandoned_queue", 75)
    state = script.stats.state(T0 + 76)
    assert state["alerts"] == [] and state["queues"]["general"]["waiting"] == 0
    assert state["queues"]["general"]["abandoned"] == 1


def test_counts_restart_at_kyiv_midnight() -> None:
    """At midnight in Kyiv the day's counts start again; a caller still waiting stays on the board."""
    script = Script()
    script.scenario()
    midnight = dt.datetime(2026, 11, 25, 0, 0, tzinfo=KYIV).timestamp()
    script.arrive("late", midnight - 120 - T0)
    script.queue("late", midnight - 60 - T0)
    assert script.stats.state(midnight - 1)["queues"]["general"]["offered"] == 4
    state = script.stats.state(midnight + 1)
    assert state["day"] == "2026-11-25"
    assert state["queues"]["general"]["offered"] == 0
    assert state["queues"]["general"]["waiting"] == 1
    assert state["agents"]["op1"]["calls_today"] == 0
    # A call entering the queue before midnight belongs to yesterday's rows, as in the reports.
    script.finish("late", "abandoned_queue", midnight + 30 - T0)
    assert script.stats.state(midnight + 31)["queues"]["general"]["abandoned"] == 0


def test_day_start_is_local_midnight() -> None:
    """Kyiv midnight is 22:00 UTC in winter and 21:00 UTC in summer."""
    assert day_start(T0) == dt.datetime(2026, 11, 23, 22, 0, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 7, 1, 0, 30, tzinfo=KYIV).timestamp()
    assert day_start(summer) == dt.datetime(2026, 6, 30, 21, 0, tzinfo=dt.UTC)


def test_state_diff_sends_only_what_changed() -> None:
    """An update holds the changed queues and agents, removed agents, and alerts when they change."""
    old = {
        "day": "d",
        "queues": {"a": {"n": 1}, "b": {"n": 2}},
        "agents": {"x": {"s": 1}, "y": {}},
        "alerts": [],
    }
    new = {
        "day": "d",
        "queues": {"a": {"n": 1}, "b": {"n": 3}},
        "agents": {"x": {"s": 1}},
        "alerts": [{"q": "b"}],
    }
    assert state_diff(old, new) == {
        "queues": {"b": {"n": 3}},
        "removed_agents": ["y"],
        "alerts": [{"q": "b"}],
        "day": "d",
    }
    assert state_diff(new, new) == {}


def test_missed_events_are_logged_not_fatal() -> None:
    """A ``Missed`` notice from the bus leaves the figures as they were."""
    script = Script()
    script.scenario()
    script.stats.handle("missed", Missed(3))
    assert script.stats.state(T0 + 130)["queues"]["general"]["offered"] == 4


def test_with_the_acd_runtime_snapshot_and_service_level_alert() -> None:
    """With the ACD running, queues and agents come from its snapshot, and a late answer trips the SL alert."""
    from callcenter.acd.model import Assignment
    from callcenter.services.acd import OfferInfo
    from tests.unit.test_services_acd_support import FakeClock, make_service

    clock = FakeClock()
    service, sub = make_service(clock)
    stats = LiveStats(service.bus, service, clock=clock)

    def drain() -> None:
        while (item := sub.get_nowait()) is not None:
            stats.handle(*item)

    start = clock.t
    service.login("op1")
    stats.handle(TOPIC_CALLS, CallArrived("c1", "u1", "380501112233", "0800", "hotline", start))
    clock.t += 30  # op1 is on a break when the caller queues, back 30 s later
    service.pause("op1", "break")
    slot = service.join("u1", "general", OfferInfo("c1", "u1", "380501112233", "uk", None))
    drain()
    state = stats.state()
    general = state["queues"]["general"]
    assert (general["waiting"], general["oldest_since"], general["sl_goal"]) == (1, clock.t, 0.8)
    assert state["agents"]["op1"]["name"] == "One" and state["agents"]["op1"]["state"] == "paused"
    assert state["agents"]["op1"]["since"] == clock.t
    assert (state["agents"]["op2"]["state"], state["agents"]["op2"]["since"]) == ("logged_out", None)
    clock.t += 25
    service.available("op1")
    decision = slot.pop()
    assert isinstance(decision, Assignment)
    service.offered(slot, decision)
    service.ring_result(slot, "op1", "ANSWER")
    drain()
    clock.t += 60
    stats.handle(TOPIC_CALLS, CallFinished("c1", "answered", "general", "op1", clock.t))
    state = stats.state()
    general = state["queues"]["general"]
    assert (general["offered"], general["answered"], general["answered_in_target"]) == (1, 1, 0)
    assert general["asa_s"] == 25.0 and general["service_level"] == 0.0
    assert state["alerts"] == [{"queue": "general", "kind": "service_level", "value": 0.0, "threshold": 0.8}]
    assert state["agents"]["op1"]["calls_today"] == 1
    assert state["queues"]["social"]["offered"] == 0  # every configured queue is on the board


class RecordingObserver:
    """Collects what would go to the Prometheus histograms."""

    def __init__(self) -> None:
        self.waits: list[tuple[str, float]] = []
        self.handles: list[tuple[str, float]] = []

    def observe_wait(self, queue: str, seconds: float) -> None:
        self.waits.append((queue, seconds))

    def observe_handle(self, queue: str, seconds: float) -> None:
        self.handles.append((queue, seconds))


def test_observer_gets_each_wait_once_and_handle_times_with_wrap_up() -> None:
    """Waits go out as calls end; a handle time only once its wrap-up is known, never twice."""
    script = Script()
    observer = RecordingObserver()
    script.stats.observer = observer
    script.scenario()
    assert observer.waits == [("general", 2.0), ("general", 30.0), ("general", 15.0), ("general", 30.0)]
    assert observer.handles == [("general", 75.0), ("general", 60.0)]
