"""Callbacks that keep the caller's place: ordering, agent-first assignment, retries, visibility."""

from __future__ import annotations

from callcenter.acd.model import (
    AcdConfig,
    AgentConfig,
    AgentState,
    Assignment,
    CallbackGaveUp,
    CallbackRequested,
    CallbackScheduled,
    Decision,
    QueueConfig,
)
from callcenter.acd.router import AcdState


def assignments(decisions: list[Decision]) -> list[Assignment]:
    return [d for d in decisions if isinstance(d, Assignment)]


def busy_state(max_attempts: int = 3, retry_s: float = 300.0) -> AcdState:
    """One agent already on a call, so later callers wait."""
    queue = QueueConfig(name="social", callback_max_attempts=max_attempts, callback_retry_s=retry_s)
    st = AcdState(AcdConfig(queues={"social": queue}, agents={"a0": AgentConfig(id="a0")}))
    st.agent_login("a0", 0.0)
    st.caller_arrives("busy", "social", 0.0)
    st.call_answered("busy", 0.0)
    return st


def test_callback_keeps_its_place_in_line() -> None:
    """A caller who asks for a callback is still served before those who arrived after it."""
    st = busy_state()
    st.caller_arrives("c1", "social", 1.0)
    st.caller_arrives("c2", "social", 2.0)
    out = st.request_callback("c1", 3.0, contact="+380501234567")
    assert out == [CallbackRequested("c1", "social", 1)]
    st.caller_arrives("c3", "social", 4.0)
    assert [v.call_id for v in st.waiting("social", 5.0)] == ["c1", "c2", "c3"]
    (a,) = assignments(st.call_ended("busy", 10.0))
    assert (a.call_id, a.is_callback, a.attempt, a.contact) == ("c1", True, 1, "+380501234567")


def test_callback_does_not_jump_ahead_of_earlier_callers() -> None:
    """A callback requested by a later caller does not overtake callers still on the phone (FreePBX #621)."""
    st = busy_state()
    st.caller_arrives("c1", "social", 1.0)
    st.caller_arrives("c2", "social", 2.0)
    st.request_callback("c2", 3.0)
    (a,) = assignments(st.call_ended("busy", 10.0))
    assert a.call_id == "c1"


def test_failed_callback_retries_later_in_the_same_place() -> None:
    """A callback the citizen does not answer re-enters at its old place after the retry delay."""
    st = busy_state(retry_s=60.0)
    st.caller_arrives("c1", "social", 1.0)
    st.request_callback("c1", 2.0)
    st.call_ended("busy", 10.0)  # agent takes the callback (agent first)
    out = st.callback_failed("c1", 20.0)
    assert CallbackScheduled("c1", "social", 1, 80.0) in out
    assert st.agent_state("a0") is AgentState.AVAILABLE
    st.caller_arrives("c2", "social", 21.0)
    st.call_answered("c2", 22.0)
    st.caller_arrives("c3", "social", 30.0)  # arrives after c1 but before its retry
    assert st.tick(79.0) == []
    st.tick(80.0)
    assert [v.call_id for v in st.waiting("social", 81.0)] == ["c1", "c3"]
    (a,) = assignments(st.call_ended("c2", 90.0))
    assert (a.call_id, a.attempt) == ("c1", 2)


def test_callback_gives_up_after_max_attempts() -> None:
    """After the configured number of failed attempts the callback is dropped and reported."""
    st = busy_state(max_attempts=2, retry_s=10.0)
    st.caller_arrives("c1", "social", 1.0)
    st.request_callback("c1", 2.0)
    st.call_ended("busy", 5.0)
    st.callback_failed("c1", 6.0)
    (a,) = assignments(st.tick(16.0))
    assert a.attempt == 2
    out = st.callback_failed("c1", 20.0)
    assert CallbackGaveUp("c1", "social", 2) in out
    assert st.callbacks(21.0) == []


def test_callbacks_are_visible_to_supervisors() -> None:
    """Pending callbacks are listed with their attempts and position."""
    st = busy_state()
    st.caller_arrives("c1", "social", 1.0)
    st.caller_arrives("c2", "social", 2.0)
    st.request_callback("c2", 3.0)
    (view,) = st.callbacks(10.0)
    assert (view.call_id, view.is_callback, view.position, view.waited_s) == ("c2", True, 2, 8.0)
    stats = st.queue_stats("social", 10.0)
    assert (stats.waiting, stats.callbacks_pending, stats.callbacks_requested) == (1, 1, 1)


def test_answered_callback_counts_as_callback_not_as_queue_answer() -> None:
    """A callback answered by the citizen is counted apart, so it does not distort the queue's service level."""
    st = busy_state()
    st.caller_arrives("c1", "social", 1.0)
    st.request_callback("c1", 2.0)
    st.call_ended("busy", 100.0)
    st.call_answered("c1", 110.0)
    stats = st.queue_stats("social", 111.0)
    assert (stats.callbacks_answered, stats.answered, stats.answered_in_sl) == (1, 1, 1)


def test_callback_is_exempt_from_max_wait() -> None:
    """A callback entry is not timed out by the queue's maximum wait (the caller is not holding)."""
    queue = QueueConfig(name="social", max_wait_s=60.0)
    st = AcdState(AcdConfig(queues={"social": queue}, agents={"a0": AgentConfig(id="a0")}))
    st.caller_arrives("c1", "social", 0.0)
    st.caller_arrives("c2", "social", 1.0)
    st.request_callback("c1", 10.0)
    st.tick(1000.0)
    assert [v.call_id for v in st.waiting("social", 1000.0)] == ["c1"]


def test_callback_failed_is_ignored_for_a_plain_call() -> None:
    """A callback failure reported for a caller who never asked for a callback changes nothing."""
    st = busy_state()
    st.caller_arrives("c1", "social", 1.0)
    st.call_ended("busy", 2.0)  # a0 rings c1, a plain queued call
    assert st.callback_failed("c1", 3.0) == []
    assert st.agent_state("a0") is AgentState.RINGING
