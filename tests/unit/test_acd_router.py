"""Router behaviour: strategies, priority and fairness, wrap-up, auto-pause, agent states."""

from __future__ import annotations

import random

import pytest

from callcenter.acd.model import (
    AcdConfig,
    AgentConfig,
    AgentState,
    AgentStateChanged,
    Assignment,
    CallerLeft,
    CancelRing,
    Decision,
    QueueConfig,
    Strategy,
)
from callcenter.acd.router import AcdState
from callcenter.errors import ValidationError


def make_state(n_agents: int = 3, strategy: Strategy = Strategy.LONGEST_IDLE, **queue_kw: object) -> AcdState:
    queue = QueueConfig(name="general", strategy=strategy, **queue_kw)  # type: ignore[arg-type]
    agents = {f"a{i}": AgentConfig(id=f"a{i}", skills={"general": 1 + i % 5}) for i in range(n_agents)}
    return AcdState(AcdConfig(queues={"general": queue}, agents=agents))


def assignments(decisions: list[Decision]) -> list[Assignment]:
    return [d for d in decisions if isinstance(d, Assignment)]


def serve(state: AcdState, call_id: str, now: float, end: float) -> str:
    """Answer the ring of ``call_id`` at ``now`` and end it at ``end``; returns the agent."""
    agent = next(v.agent_id for v in state.agents(now) if v.call_id == call_id)
    state.call_answered(call_id, now)
    state.call_ended(call_id, end)
    return agent


def test_caller_with_free_agent_is_assigned_at_once() -> None:
    """A caller arriving while an agent is free rings that agent immediately."""
    st = make_state(1)
    st.agent_login("a0", 0.0)
    out = st.caller_arrives("c1", "general", 1.0)
    (a,) = assignments(out)
    assert (a.call_id, a.agent_id, a.queue, a.is_callback) == ("c1", "a0", "general", False)
    assert st.agent_state("a0") is AgentState.RINGING
    assert AgentStateChanged("a0", AgentState.RINGING, 1.0) in out


def test_longest_idle_picks_the_agent_free_longest() -> None:
    """Longest-idle rings the agent whose last call ended earliest."""
    st = make_state(3)
    st.agent_login("a2", 0.0)
    st.agent_login("a0", 5.0)
    st.agent_login("a1", 10.0)
    assert assignments(st.caller_arrives("c1", "general", 20.0))[0].agent_id == "a2"
    assert assignments(st.caller_arrives("c2", "general", 21.0))[0].agent_id == "a0"


def test_fewest_calls_picks_the_agent_with_fewest_calls() -> None:
    """Fewest-calls rings the agent who has taken the fewest calls, whatever its idle time."""
    st = make_state(2, Strategy.FEWEST_CALLS)
    st.agent_login("a0", 0.0)
    st.agent_login("a1", 0.0)
    for i in range(2):
        out = st.caller_arrives(f"c{i}", "general", 10.0 + i)
        serve(st, f"c{i}", 10.0 + i, 11.0 + i)
        assert assignments(out)
    # Both took one call; make a0 take another so a1 has fewer despite being idle less time.
    st.agent_pause("a1", "break", 20.0)
    serve_id = assignments(st.caller_arrives("c9", "general", 21.0))[0].agent_id
    assert serve_id == "a0"
    serve(st, "c9", 21.0, 22.0)
    st.agent_available("a1", 30.0)  # a1 idle since 30, a0 since 22: longest idle would pick a0
    assert assignments(st.caller_arrives("c10", "general", 31.0))[0].agent_id == "a1"


def test_round_robin_continues_after_the_last_agent_rung() -> None:
    """Round-robin with memory rings agents in turn, continuing where it left off."""
    st = make_state(3, Strategy.ROUND_ROBIN)
    for agent in ("a0", "a1", "a2"):
        st.agent_login(agent, 0.0)
    rung = []
    for i in range(6):
        (a,) = assignments(st.caller_arrives(f"c{i}", "general", 1.0 + i))
        rung.append(a.agent_id)
        serve(st, f"c{i}", 1.0 + i, 1.5 + i)
    assert rung == ["a0", "a1", "a2", "a0", "a1", "a2"]


def test_skills_weighted_prefers_higher_level_but_not_forever() -> None:
    """Skills-weighted rings the most skilled free agent unless a less skilled one idled much longer."""
    st = make_state(5, Strategy.SKILLS_WEIGHTED, skills={"general": 1}, skill_weight_s=30.0)
    st.agent_login("a0", 0.0)  # level 1
    st.agent_login("a4", 50.0)  # level 5: 4 levels × 30 s = 120 s head start beats 50 s idle
    assert assignments(st.caller_arrives("c1", "general", 60.0))[0].agent_id == "a4"
    st2 = make_state(5, Strategy.SKILLS_WEIGHTED, skills={"general": 1}, skill_weight_s=30.0)
    st2.agent_login("a0", 0.0)
    st2.agent_login("a4", 200.0)  # idle 200 s less than a0: more than the 120 s head start
    assert assignments(st2.caller_arrives("c1", "general", 210.0))[0].agent_id == "a0"


def test_priority_caller_goes_first_and_ages_fairly() -> None:
    """A veteran (priority 1) overtakes callers who waited less than one priority step, not more."""
    st = make_state(1, priority_step_s=60.0)
    st.agent_login("a0", 0.0)
    st.caller_arrives("busy", "general", 0.0)
    st.call_answered("busy", 0.0)
    st.caller_arrives("old", "general", 1.0)  # waited 99 s at the veteran's arrival
    st.caller_arrives("new", "general", 70.0)
    st.caller_arrives("vet", "general", 100.0, priority=1)  # worth 60 s of waiting
    order = [v.call_id for v in st.waiting("general", 100.0)]
    assert order == ["old", "vet", "new"]
    (a,) = assignments(st.call_ended("busy", 120.0))
    assert a.call_id == "old"


def test_no_starvation_under_a_stream_of_high_priority_callers() -> None:
    """A priority-0 caller is served even while priority-2 callers keep arriving faster than service."""
    st = make_state(1, priority_step_s=30.0)
    st.agent_login("a0", 0.0)
    st.caller_arrives("first", "general", 0.0)
    st.call_answered("first", 0.0)
    st.caller_arrives("low", "general", 1.0)
    now, current, served_low_at = 1.0, "first", None
    for i in range(200):
        st.caller_arrives(f"hi{2 * i}", "general", now + 2, priority=2)
        st.caller_arrives(f"hi{2 * i + 1}", "general", now + 4, priority=2)
        now += 10
        (a,) = assignments(st.call_ended(current, now))
        st.call_answered(a.call_id, now)
        current = a.call_id
        if a.call_id == "low":
            served_low_at = now
            break
    # Head start of 2 × 30 s: only callers arriving before t=61 can overtake it.
    assert served_low_at is not None and served_low_at < 200


def test_equal_priority_is_first_come_first_served() -> None:
    """Callers of equal priority are answered in arrival order (random arrivals, one agent)."""
    st = make_state(1)
    st.agent_login("a0", 0.0)
    st.caller_arrives("c0", "general", 0.0)
    st.call_answered("c0", 0.0)
    rng = random.Random(7)
    times = sorted(rng.uniform(1, 100) for _ in range(50))
    for i, t in enumerate(times, 1):
        st.caller_arrives(f"c{i}", "general", t)
    served, current, now = [], "c0", 100.0
    for _ in range(50):
        now += 1
        (a,) = assignments(st.call_ended(current, now))
        st.call_answered(a.call_id, now)
        served.append(a.call_id)
        current = a.call_id
    assert served == [f"c{i}" for i in range(1, 51)]


def test_wrap_up_holds_the_agent_for_the_queue_wrap_up_time() -> None:
    """After a call the agent is in wrap-up until the queue's wrap-up time passes, then gets the next call."""
    st = make_state(1, wrap_up_s=30.0)
    st.agent_login("a0", 0.0)
    st.caller_arrives("c1", "general", 0.0)
    st.call_answered("c1", 1.0)
    st.caller_arrives("c2", "general", 5.0)
    st.call_ended("c1", 60.0)
    assert st.agent_state("a0") is AgentState.WRAP_UP
    assert assignments(st.tick(89.0)) == []
    (a,) = assignments(st.tick(90.0))
    assert a.call_id == "c2"
    # Handle time (answer → end of wrap-up) = 89 s feeds the average.
    assert st.queue_stats("general", 90.0).aht_s == pytest.approx(0.98 * 180 + 0.02 * 89)


def test_wrap_up_done_ends_wrap_up_early() -> None:
    """An agent pressing "ready" during wrap-up becomes available and takes the waiting caller."""
    st = make_state(1, wrap_up_s=30.0)
    st.agent_login("a0", 0.0)
    st.caller_arrives("c1", "general", 0.0)
    st.call_answered("c1", 1.0)
    st.call_ended("c1", 10.0)
    st.caller_arrives("c2", "general", 11.0)
    assert assignments(st.wrap_up_done("a0", 12.0))[0].call_id == "c2"


def test_auto_pause_after_n_unanswered_rings() -> None:
    """An agent who misses the configured number of rings in a row is paused with reason no_answer."""
    st = make_state(2, auto_pause_after=2)
    st.agent_login("a0", 0.0)
    st.caller_arrives("c1", "general", 1.0)
    st.ring_no_answer("c1", 16.0)  # back in line; a0 is the only agent so it rings a0 again
    out = st.ring_no_answer("c1", 31.0)
    assert st.agent_state("a0") is AgentState.PAUSED
    assert AgentStateChanged("a0", AgentState.PAUSED, 31.0, "no_answer") in out
    assert st.position("c1") == 1
    (a,) = assignments(st.agent_login("a1", 40.0))
    assert (a.call_id, a.agent_id) == ("c1", "a1")


def test_missed_ring_goes_to_another_free_agent_first() -> None:
    """A caller whose ring went unanswered is offered to another free agent before the one who missed it."""
    st = make_state(2)
    st.agent_login("a0", 0.0)
    st.caller_arrives("c1", "general", 1.0)  # rings a0, the only free agent
    st.agent_login("a1", 2.0)
    out = st.ring_no_answer("c1", 16.0)
    assert [(a.call_id, a.agent_id) for a in assignments(out)] == [("c1", "a1")]
    assert st.agent_state("a0") is AgentState.AVAILABLE


def test_answering_resets_the_missed_ring_count() -> None:
    """Missed rings only count in a row: an answered call resets the count."""
    st = make_state(1, auto_pause_after=2)
    st.agent_login("a0", 0.0)
    st.caller_arrives("c1", "general", 1.0)
    st.ring_no_answer("c1", 2.0)
    st.call_answered("c1", 3.0)
    st.call_ended("c1", 4.0)
    st.caller_arrives("c2", "general", 5.0)
    st.ring_no_answer("c2", 6.0)
    assert st.agent_state("a0") is AgentState.RINGING


def test_one_call_at_a_time() -> None:
    """An agent on a call is never rung for a second caller."""
    st = make_state(1)
    st.agent_login("a0", 0.0)
    st.caller_arrives("c1", "general", 1.0)
    assert assignments(st.caller_arrives("c2", "general", 2.0)) == []
    st.call_answered("c1", 3.0)
    assert assignments(st.caller_arrives("c3", "general", 4.0)) == []
    assert [v.call_id for v in st.waiting("general", 5.0)] == ["c2", "c3"]


def test_pause_during_a_call_applies_after_it() -> None:
    """Pausing an agent on a call takes effect when the call ends; the waiting caller is not rung."""
    st = make_state(1)
    st.agent_login("a0", 0.0)
    st.caller_arrives("c1", "general", 1.0)
    st.call_answered("c1", 2.0)
    st.agent_pause("a0", "lunch", 3.0)
    st.caller_arrives("c2", "general", 4.0)
    out = st.call_ended("c1", 5.0)
    assert assignments(out) == []
    views = {v.agent_id: v for v in st.agents(65.0)}
    assert (views["a0"].state, views["a0"].reason, views["a0"].time_in_state_s) == (
        AgentState.PAUSED,
        "lunch",
        60.0,
    )


def test_logout_while_ringing_cancels_the_ring_and_keeps_the_caller() -> None:
    """An agent logging out while rung cancels the ring and the caller keeps its place."""
    st = make_state(1)
    st.agent_login("a0", 0.0)
    st.caller_arrives("c1", "general", 1.0)
    out = st.agent_logout("a0", 2.0)
    assert CancelRing("c1", "a0", "agent_logged_out") in out
    assert st.agent_state("a0") is AgentState.LOGGED_OUT
    assert st.position("c1") == 1


def test_caller_hanging_up_while_ringing_frees_the_agent() -> None:
    """A caller abandoning during the ring cancels it and the agent takes the next caller."""
    st = make_state(1)
    st.agent_login("a0", 0.0)
    st.caller_arrives("c1", "general", 1.0)
    st.caller_arrives("c2", "general", 2.0)
    out = st.caller_abandons("c1", 3.0)
    assert CancelRing("c1", "a0", "caller_left") in out
    assert CallerLeft("c1", "general", "abandoned", 2.0) in out
    assert assignments(out)[0].call_id == "c2"
    assert st.queue_stats("general", 3.0).abandoned == 1


def test_unknown_queue_and_duplicate_call_are_rejected() -> None:
    """Joining a queue that does not exist, or queueing the same call twice, is an error."""
    st = make_state(1)
    with pytest.raises(ValidationError):
        st.caller_arrives("c1", "nope", 0.0)
    st.caller_arrives("c1", "general", 0.0)
    with pytest.raises(ValidationError):
        st.caller_arrives("c1", "general", 1.0)


def test_caller_skills_restrict_the_agents() -> None:
    """A caller needing an extra skill waits for an agent who has it, while others are served."""
    queue = QueueConfig(name="general", skills={"general": 1})
    agents = {
        "uk": AgentConfig(id="uk", skills={"general": 3}),
        "en": AgentConfig(id="en", skills={"general": 1, "english": 2}),
    }
    st = AcdState(AcdConfig(queues={"general": queue}, agents=agents))
    st.agent_login("uk", 0.0)
    st.caller_arrives("c-en", "general", 1.0, skills={"english": 1})
    assert st.position("c-en") == 1
    (a,) = assignments(st.agent_login("en", 2.0))
    assert (a.call_id, a.agent_id) == ("c-en", "en")


def test_daily_reset_restarts_fewest_calls() -> None:
    """After the daily reset, fewest-calls compares calls taken from zero (idle time breaks the tie)."""
    st = make_state(2, Strategy.FEWEST_CALLS)
    st.agent_login("a0", 0.0)
    st.caller_arrives("c1", "general", 1.0)
    serve(st, "c1", 1.0, 2.0)  # a0 has 1 call, free since 2
    st.agent_login("a1", 5.0)  # a1 has 0 calls, free since 5
    st.reset_daily_counters(10.0)
    assert st.queue_stats("general", 10.0).answered == 0
    assert assignments(st.caller_arrives("c2", "general", 11.0))[0].agent_id == "a0"


def test_caller_view_follows_the_call() -> None:
    """A caller's view shows its status, position and effective priority as it waits and rings."""
    st = make_state(1, priority_step_s=60.0)
    st.caller_arrives("c1", "general", 0.0, priority=1)
    view = st.caller("c1", 30.0)
    assert view is not None
    assert (view.status, view.position, view.effective_priority) == ("waiting", 1, 1.5)
    st.agent_login("a0", 31.0)
    view = st.caller("c1", 32.0)
    assert view is not None and (view.status, view.position) == ("ringing", None)
    assert st.caller("nope", 32.0) is None


def test_agent_in_two_queues_takes_the_longest_waiting_caller_across_them() -> None:
    """An agent serving two queues takes whichever head caller has waited longest (priority equal)."""
    queues = {
        "social": QueueConfig(name="social", skills={"social": 1}),
        "utilities": QueueConfig(name="utilities", skills={"utilities": 1}),
    }
    agents = {"a0": AgentConfig(id="a0", skills={"social": 1, "utilities": 1})}
    st = AcdState(AcdConfig(queues=queues, agents=agents))
    st.caller_arrives("s1", "social", 10.0)
    st.caller_arrives("u1", "utilities", 5.0)
    st.caller_arrives("s2", "social", 12.0)
    (a,) = assignments(st.agent_login("a0", 20.0))
    assert (a.call_id, a.queue) == ("u1", "utilities")
    serve(st, "u1", 20.0, 30.0)
    assert [x.call_id for x in assignments(st.tick(30.0))] == []  # already rung s1 on call end
    assert st.agent_state("a0") is AgentState.RINGING
    assert st.position("s2") == 1


def test_estimated_wait_scales_with_position_and_staff() -> None:
    """EWT is position × AHT / staffed agents, and 0 while an eligible agent is free."""
    st = make_state(2, default_aht_s=120.0)
    st.agent_login("a0", 0.0)
    st.agent_login("a1", 0.0)
    assert st.queue_stats("general", 0.0).ewt_new_caller_s == 0.0
    for i in range(5):
        st.caller_arrives(f"c{i}", "general", 1.0 + i)
    # c0 and c1 ring the two agents; c2, c3, c4 wait at positions 1, 2, 3.
    assert st.estimated_wait("c2", 10.0) == pytest.approx(1 * 120 / 2)
    assert st.estimated_wait("c4", 10.0) == pytest.approx(3 * 120 / 2)
    assert st.estimated_wait("c0", 10.0) is None  # ringing, not waiting
    st.agent_pause("a1", "break", 11.0)  # pending until its ring is resolved
    st.ring_no_answer("c1", 12.0)  # a1 misses c1 and pauses; c1 back at the front
    assert st.estimated_wait("c4", 13.0) == pytest.approx(4 * 120 / 1)
