"""Overflow by time, maximum wait, moves, priority changes and run-time reconfiguration."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from callcenter.acd.model import (
    AcdConfig,
    AgentConfig,
    AgentState,
    Assignment,
    CallerLeft,
    CallerMoved,
    Decision,
    OverflowStep,
    QueueConfig,
    SkillsWidened,
)
from callcenter.acd.router import AcdState
from callcenter.errors import ValidationError


def assignments(decisions: list[Decision]) -> list[Assignment]:
    return [d for d in decisions if isinstance(d, Assignment)]


def two_queue_config(**veterans_kw: object) -> AcdConfig:
    veterans = QueueConfig(name="veterans", skills={"veterans": 3}, **veterans_kw)  # type: ignore[arg-type]
    general = QueueConfig(name="general", skills={"general": 1})
    agents = {
        "vet": AgentConfig(id="vet", skills={"veterans": 4, "general": 1}),
        "gen": AgentConfig(id="gen", skills={"general": 2, "veterans": 1}),
    }
    return AcdConfig(
        queues={"veterans": veterans, "general": general}, agents=agents, default_queue="general"
    )


def test_overflow_moves_the_caller_to_another_queue_after_n_seconds() -> None:
    """A caller still waiting after the overflow time moves to the overflow queue and is answered there."""
    st = AcdState(two_queue_config(overflow=(OverflowStep(after_s=60.0, to_queue="general"),)))
    st.agent_login("gen", 0.0)
    st.caller_arrives("c1", "veterans", 10.0)
    assert st.tick(69.0) == []
    out = st.tick(70.0)
    assert CallerMoved("c1", "veterans", "general", "overflow") in out
    (a,) = assignments(out)
    assert (a.agent_id, a.queue, a.waited_s) == ("gen", "general", 60.0)


def test_overflow_keeps_the_callers_place_by_arrival() -> None:
    """An overflowed caller goes ahead of callers who joined the target queue after it arrived."""
    st = AcdState(two_queue_config(overflow=(OverflowStep(after_s=60.0, to_queue="general"),)))
    st.caller_arrives("vet-caller", "veterans", 0.0)
    st.caller_arrives("later", "general", 30.0)
    st.tick(60.0)
    assert [v.call_id for v in st.waiting("general", 61.0)] == ["vet-caller", "later"]


def test_widening_skills_lets_a_less_skilled_agent_answer() -> None:
    """After the widen step the queue accepts agents with the skill at any level."""
    st = AcdState(two_queue_config(overflow=(OverflowStep(after_s=30.0, widen_skills=True),)))
    st.agent_login("gen", 0.0)  # veterans level 1 < required 3
    assert assignments(st.caller_arrives("c1", "veterans", 1.0)) == []
    out = st.tick(31.0)
    assert SkillsWidened("c1", "veterans") in out
    assert assignments(out)[0].agent_id == "gen"


def test_max_wait_makes_the_caller_leave_with_timeout() -> None:
    """A caller not answered within the maximum wait leaves the queue with reason timeout."""
    st = AcdState(two_queue_config(max_wait_s=120.0))
    st.caller_arrives("c1", "veterans", 0.0)
    out = st.tick(500.0)
    assert out == [CallerLeft("c1", "veterans", "timeout", 120.0)]
    assert st.queue_stats("veterans", 500.0).timed_out == 1
    assert st.position("c1") is None


def test_overflow_step_due_while_ringing_applies_after_the_missed_ring() -> None:
    """An overflow step that fell due during a ring applies when the caller returns to the queue."""
    st = AcdState(two_queue_config(overflow=(OverflowStep(after_s=20.0, to_queue="general"),)))
    st.agent_login("vet", 0.0)
    st.caller_arrives("c1", "veterans", 5.0)
    assert st.tick(30.0) == []  # ringing: nothing happens yet
    out = st.ring_no_answer("c1", 31.0)
    assert CallerMoved("c1", "veterans", "general", "overflow") in out


def test_move_caller_and_set_priority() -> None:
    """A supervisor can move a waiting caller and raise its priority; the order follows."""
    st = AcdState(two_queue_config())
    st.caller_arrives("a", "general", 0.0)
    st.caller_arrives("b", "veterans", 10.0)
    st.caller_arrives("c", "general", 20.0)
    out = st.move_caller("b", "general", 30.0)
    assert CallerMoved("b", "veterans", "general", "admin") in out
    assert [v.call_id for v in st.waiting("general", 30.0)] == ["a", "b", "c"]
    st.set_priority("c", 1, 31.0)  # 60 s head start: ahead of b (arrived 10 s earlier) and a
    assert [v.call_id for v in st.waiting("general", 31.0)] == ["c", "a", "b"]
    with pytest.raises(ValidationError):
        st.move_caller("b", "nope", 32.0)


def test_reconfigure_keeps_waiting_callers_and_moves_removed_queue() -> None:
    """Removing a queue at run time moves its callers to its overflow queue in arrival order."""
    config = two_queue_config(overflow=(OverflowStep(after_s=600.0, to_queue="general"),))
    st = AcdState(config)
    st.caller_arrives("v1", "veterans", 0.0)
    st.caller_arrives("g1", "general", 5.0)
    st.caller_arrives("v2", "veterans", 10.0)
    new = replace(config, queues={"general": config.queues["general"]})
    out = st.reconfigure(new, 20.0)
    assert {d.call_id for d in out if isinstance(d, CallerMoved)} == {"v1", "v2"}
    assert [v.call_id for v in st.waiting("general", 20.0)] == ["v1", "g1", "v2"]
    (a,) = assignments(st.agent_login("gen", 21.0))
    assert (a.call_id, a.queue) == ("v1", "general")


def test_reconfigure_removed_agent_finishes_its_call() -> None:
    """An agent removed from the configuration during a call finishes it, then is logged out."""
    config = two_queue_config()
    st = AcdState(config)
    st.agent_login("vet", 0.0)
    st.caller_arrives("c1", "veterans", 1.0)
    st.call_answered("c1", 2.0)
    st.reconfigure(replace(config, agents={"gen": config.agents["gen"]}), 3.0)
    assert st.agent_state("vet") is AgentState.ON_CALL
    st.call_ended("c1", 10.0)
    with pytest.raises(ValidationError):
        st.agent_state("vet")


def test_reconfigure_new_skills_take_effect_without_losing_callers() -> None:
    """Giving an agent a skill at run time lets it answer a caller who was waiting for that skill."""
    config = two_queue_config()
    st = AcdState(config)
    st.agent_login("gen", 0.0)
    st.caller_arrives("c1", "veterans", 1.0)
    agents = dict(config.agents)
    agents["gen"] = AgentConfig(id="gen", skills={"general": 2, "veterans": 3})
    out = st.reconfigure(replace(config, agents=agents), 2.0)
    (a,) = assignments(out)
    assert (a.call_id, a.agent_id) == ("c1", "gen")


def test_closed_queue_turns_callers_away() -> None:
    """A caller arriving while the queue's schedule is closed leaves with reason closed."""

    class Closed:
        def is_open(self, schedule_name: str, at: datetime) -> bool:
            return False

        def is_holiday(self, schedule_name: str, at: datetime) -> bool:
            return False

    queue = QueueConfig(name="office", schedule="office")
    st = AcdState(AcdConfig(queues={"office": queue}), schedules=Closed())
    assert st.caller_arrives("c1", "office", 0.0) == [CallerLeft("c1", "office", "closed", 0.0)]


def test_reconfigure_without_a_home_lets_callers_go_but_keeps_rings() -> None:
    """With no overflow or default queue, waiting callers of a removed queue leave; a ringing one is still answered."""
    config = replace(two_queue_config(), default_queue=None)
    st = AcdState(config)
    st.agent_login("vet", 0.0)
    st.caller_arrives("ringing", "veterans", 1.0)
    st.caller_arrives("waiting", "veterans", 2.0)
    out = st.reconfigure(replace(config, queues={"general": config.queues["general"]}), 3.0)
    assert CallerLeft("waiting", "veterans", "no_queue", 1.0) in out
    st.call_answered("ringing", 4.0)
    assert st.agent_state("vet") is AgentState.ON_CALL
    st.call_ended("ringing", 5.0)
    assert st.agent_state("vet") is AgentState.AVAILABLE


def test_next_due_reports_the_earliest_live_timer() -> None:
    """next_due gives the adapter the time of the next overflow step, and None when nothing is pending."""
    st = AcdState(two_queue_config(overflow=(OverflowStep(after_s=60.0, to_queue="general"),)))
    assert st.next_due() is None
    st.caller_arrives("c1", "veterans", 10.0)
    assert st.next_due() == 70.0
    st.caller_abandons("c1", 20.0)
    assert st.next_due() is None


def test_closing_sends_holding_callers_away_only_when_configured() -> None:
    """At closing time a close_waiting queue lets holding callers go, keeps callbacks; others keep everyone."""

    class OpenUntil100:
        def is_open(self, schedule_name: str, at: datetime) -> bool:
            return at.timestamp() < 100

        def is_holiday(self, schedule_name: str, at: datetime) -> bool:
            return False

    queues = {
        "strict": QueueConfig(name="strict", schedule="office", close_waiting=True),
        "lenient": QueueConfig(name="lenient", schedule="office"),
    }
    st = AcdState(AcdConfig(queues=queues), schedules=OpenUntil100())
    st.caller_arrives("s1", "strict", 10.0)
    st.caller_arrives("s2", "strict", 20.0)
    st.caller_arrives("l1", "lenient", 30.0)
    st.request_callback("s2", 40.0)
    assert st.tick(99.0) == []
    assert st.tick(100.0) == [CallerLeft("s1", "strict", "closed", 90.0)]
    assert [v.call_id for v in st.waiting("strict", 100.0)] == ["s2"]
    assert [v.call_id for v in st.waiting("lenient", 100.0)] == ["l1"]
