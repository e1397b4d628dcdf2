"""The caller's wait (``QueueWait``) on an in-memory AGI session with a clock the test moves."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from callcenter.acd.model import AgentState, CallerLeft
from callcenter.services.acd import OfferInfo
from callcenter.services.live_events import CallConnected, CallOffered, CallQueued
from callcenter.services.queue_wait import QueueWait, WaitPrompts
from callcenter.telephony.agi_errors import ChannelHungUp
from tests.unit.test_services_acd_support import (
    SUNDAY_10,
    FakeAmi,
    FakeClock,
    FakeSession,
    call_info,
    dial_begin,
    dial_end,
    hang_up,
    make_service,
    published,
    queue_command,
)

P = WaitPrompts()


def announcement(position: int, minutes: int) -> list[str]:
    return [
        "EXEC StopMusicOnHold",
        f"STREAM FILE {P.position}",
        f"SAY NUMBER {position}",
        f"STREAM FILE {P.position_after}",
        f"STREAM FILE {P.wait_time}",
        f"SAY NUMBER {minutes}",
        f"STREAM FILE {P.minutes}",
        f"STREAM FILE {P.callback_offer}",
        "EXEC StartMusicOnHold default",
    ]


def other_caller(service: object, call_id: str = "other") -> None:
    """Join a second caller directly (no session), so the agent stays busy or the line grows."""
    from callcenter.services.acd import AcdService

    assert isinstance(service, AcdService)
    info = OfferInfo(call_id, call_id, "380671112233", "uk", None)
    service.join(call_id, "general", info)


async def test_wait_announces_on_entry_and_every_interval_then_the_agent_answers() -> None:
    """Position and EWT are said on entry and again after announce_every_s; a login rings the caller."""
    clock = FakeClock()
    service, sub = make_service(clock, announce_every_s=30.0)
    service.login("op2")
    other_caller(service)  # op2 takes it: the line is staffed but busy
    published(sub)

    def script(session: FakeSession) -> str | None:
        if session.waits == 45:
            service.login("op1")
        return None

    session = FakeSession(clock, on_wait=script, dial=["ANSWER"])
    result = await QueueWait(service)(session, queue_command(), call_info())
    assert (result.status, result.agent) == ("answered", "op1")
    lines = session.lines
    assert lines[:2] == ["GET FULL VARIABLE ${CHANNEL(linkedid)}", "EXEC StartMusicOnHold default"]
    # EWT with one staffed, busy agent and a 120 s handle time: 2 minutes for the first in line.
    assert lines[2:11] == announcement(1, 2)
    assert lines[11:41] == ["WAIT FOR DIGIT 1000"] * 30
    assert lines[41:50] == announcement(1, 2)
    assert lines[-6:] == [
        "WAIT FOR DIGIT 1000",
        "EXEC StopMusicOnHold",
        "EXEC Dial PJSIP/op1,10,g",
        "GET VARIABLE DIALSTATUS",
        # No AMI reported the answer: how long the bridge lasted dates it (none here: "now").
        "GET VARIABLE ANSWEREDTIME_MS",
        "GET VARIABLE ANSWEREDTIME",
    ]
    events = published(sub)
    offered = [e for e in events if isinstance(e, CallOffered)]
    assert len(offered) == 1
    assert (offered[0].linkedid, offered[0].agent_id, offered[0].caller, offered[0].topic) == (
        "1718000000.7",
        "op1",
        "380501234567",
        "106",
    )
    assert any(isinstance(e, CallConnected) and e.agent_id == "op1" for e in events)
    assert service.state.agent_state("op1") is AgentState.AVAILABLE  # no wrap-up configured
    assert service.state.queue_stats("general", clock()).answered == 1


async def test_caller_queued_is_published_with_the_linkedid() -> None:
    """Entering the queue publishes CallQueued keyed by the caller's linkedid."""
    clock = FakeClock()
    service, sub = make_service(clock)
    service.login("op1")
    session = FakeSession(clock, dial=["ANSWER"])
    await QueueWait(service)(session, queue_command(priority=2), call_info())
    queued = [e for e in published(sub) if isinstance(e, CallQueued)]
    assert queued == [CallQueued("1718000000.7", "general", 2, clock())]


async def test_unanswered_ring_keeps_the_caller_first_in_line() -> None:
    """After NOANSWER the caller is back at position 1 ahead of a later caller, and is rung again."""
    clock = FakeClock()
    service, _ = make_service(clock)
    seen: list[int | None] = []

    def on_dial(session: FakeSession, target: str) -> None:
        if not seen:
            other_caller(service, "later")  # arrives while the first ring is in progress
        seen.append(service.state.position("later"))

    service.login("op1")
    session = FakeSession(clock, dial=["NOANSWER", "ANSWER"], on_dial=on_dial)
    result = await QueueWait(service)(session, queue_command(), call_info())
    dials = [line for line in session.lines if line.startswith("EXEC Dial")]
    assert dials == ["EXEC Dial PJSIP/op1,10,g", "EXEC Dial PJSIP/op1,10,g"]
    assert result.status == "answered"
    # During the second ring the later caller is still first among those waiting: ours was rung.
    assert seen == [1, 1]
    assert service.state.caller("later", clock()) is not None


async def test_callback_key_leaves_a_request_that_keeps_the_place() -> None:
    """Pressing * during the wait requests a callback; the entry stays queued with the caller's number."""
    clock = FakeClock()
    service, _ = make_service(clock)
    service.login("op2")
    other_caller(service)
    session = FakeSession(clock, on_wait=lambda s: "*" if s.waits == 3 else None)
    result = await QueueWait(service)(session, queue_command(), call_info())
    assert result.status == "callback_requested"
    assert session.lines[-2:] == ["EXEC StopMusicOnHold", f"STREAM FILE {P.callback_confirmed}"]
    (callback,) = service.state.callbacks(clock())
    assert (callback.call_id, callback.position) == ("1718000000.8", 1)
    assert service.slots["1718000000.8"].contact == "380501234567"


async def test_callback_key_during_an_announcement_is_heard() -> None:
    """The key pressed while the position is being said counts at once."""
    clock = FakeClock()
    service, _ = make_service(clock)
    service.login("op2")
    other_caller(service)
    session = FakeSession(clock, key_during_prompt="*")
    result = await QueueWait(service)(session, queue_command(), call_info())
    assert result.status == "callback_requested"
    assert session.waits == 0


async def test_no_agent_logged_in_gives_the_call_back_at_once() -> None:
    """With nobody logged in for the queue the hand-off returns no_agents before any music."""
    clock = FakeClock()
    service, _ = make_service(clock)
    session = FakeSession(clock)
    result = await QueueWait(service)(session, queue_command(), call_info())
    assert result.status == "no_agents"
    assert not any(line.startswith("EXEC") for line in session.lines)
    assert service.state.queue_stats("general", clock()).offered == 0


async def test_last_agent_logging_out_sends_the_waiting_caller_away() -> None:
    """A caller waits while its only agent is busy; when that agent logs out the wait ends with no_agents."""
    clock = FakeClock()
    service, _ = make_service(clock)
    service.login("op2")
    other_caller(service)

    def script(session: FakeSession) -> str | None:
        if session.waits == 2:
            service.logout("op2")
            service.leave("other")  # the agent's call ends; the pending logout applies
        return None

    session = FakeSession(clock, on_wait=script)
    result = await QueueWait(service)(session, queue_command(), call_info())
    assert result.status == "no_agents"
    assert session.lines[-1] == "EXEC StopMusicOnHold"
    assert service.state.caller("1718000000.8", clock()) is None


async def test_closed_queue_gives_the_call_back() -> None:
    """A queue outside its working hours returns closed (the flow's after-hours branch)."""
    clock = FakeClock(SUNDAY_10)
    service, _ = make_service(clock)
    service.login("op2")
    result = await QueueWait(service)(FakeSession(clock), queue_command("social"), call_info())
    assert result.status == "closed"


async def test_maximum_wait_ends_with_timeout() -> None:
    """A caller still waiting after max_wait_s leaves with timeout."""
    clock = FakeClock()
    service, _ = make_service(clock, announce_every_s=10_000.0)
    service.login("op2")
    other_caller(service)

    def tick(session: FakeSession) -> str | None:
        service.apply(service.state.tick(clock()))  # what the timer task does
        return None

    session = FakeSession(clock, on_wait=tick)
    result = await QueueWait(service)(session, queue_command(), call_info())
    assert result.status == "timeout"
    assert 599 <= session.waits <= 601
    assert service.state.queue_stats("general", clock()).timed_out == 1


async def test_hang_up_while_waiting_is_an_abandon_and_re_raised() -> None:
    """ChannelHungUp during the wait reaches the IVR driver; the ACD counts an abandon."""
    clock = FakeClock()
    service, sub = make_service(clock)
    service.login("op2")
    other_caller(service)
    session = FakeSession(clock, on_wait=hang_up)
    with pytest.raises(ChannelHungUp):
        await QueueWait(service)(session, queue_command(), call_info())
    assert service.state.caller("1718000000.8", clock()) is None
    assert service.state.queue_stats("general", clock()).abandoned == 1
    assert "1718000000.8" not in service.slots
    left = [e for e in published(sub) if isinstance(e, CallerLeft)]
    assert [(e.call_id, e.reason) for e in left] == [("1718000000.8", "abandoned")]


async def test_hang_up_while_the_agent_rings_frees_the_agent() -> None:
    """A caller who hangs up during the ring (DIALSTATUS CANCEL) frees the agent for the next caller."""
    clock = FakeClock()
    service, _ = make_service(clock)
    service.login("op1")
    session = FakeSession(clock, dial=["CANCEL"])
    with pytest.raises(ChannelHungUp):
        await QueueWait(service)(session, queue_command(), call_info())
    assert service.state.agent_state("op1") is AgentState.AVAILABLE
    assert service.state.queue_stats("general", clock()).abandoned == 1


async def test_chanunavail_pauses_the_agent_and_the_caller_waits_on() -> None:
    """An unreachable phone (CHANUNAVAIL) pauses its agent; the caller is rung on the next agent."""
    clock = FakeClock()
    service, _ = make_service(clock)
    service.login("op1")
    targets: list[str] = []

    def on_dial(session: FakeSession, target: str) -> None:
        targets.append(target)
        if len(targets) == 1:
            service.login("op2")  # a second agent arrives while op1's phone is tried

    session = FakeSession(clock, dial=["CHANUNAVAIL", "ANSWER"], on_dial=on_dial)
    result = await QueueWait(service)(session, queue_command(), call_info())
    assert targets == ["PJSIP/op1", "PJSIP/op2"]
    assert (result.status, result.agent) == ("answered", "op2")
    assert service.state.agent_state("op1") is AgentState.PAUSED


async def test_agent_logging_out_during_the_ring_hands_the_caller_to_the_next_agent() -> None:
    """The ringing leg of an agent who logs out is hung up over AMI; the caller keeps its place and rings op2."""
    clock = FakeClock()
    ami = FakeAmi()
    service, _ = make_service(clock, ami=ami)
    targets: list[str] = []

    def on_dial(session: FakeSession, target: str) -> None:
        targets.append(target)
        if len(targets) == 1:
            ami.emit(dial_begin(session.env.uniqueid, "PJSIP/op1-00000007"))
            service.logout("op1")
            service.login("op2")

    async with service:
        service.login("op1")
        session = FakeSession(clock, dial=["NOANSWER", "ANSWER"], on_dial=on_dial)
        result = await QueueWait(service)(session, queue_command(), call_info())
        await asyncio.sleep(0)
    assert targets == ["PJSIP/op1", "PJSIP/op2"]
    assert (result.status, result.agent) == ("answered", "op2")
    assert ami.hung_up == ["PJSIP/op1-00000007"]
    assert service.state.agent_state("op1") is AgentState.LOGGED_OUT
    assert service.state.agents(clock())[0].calls_taken == 0


async def test_answer_seen_on_ami_connects_before_dial_returns() -> None:
    """DialEnd ANSWER from the agent's channel publishes CallConnected while the conversation goes on."""
    clock = FakeClock()
    ami = FakeAmi()
    service, sub = make_service(clock, ami=ami)
    states: list[AgentState] = []

    def on_dial(session: FakeSession, target: str) -> None:
        uniqueid = session.env.uniqueid
        ami.emit(dial_begin(uniqueid, "PJSIP/op1-00000009"))
        end = dial_end(uniqueid, "ANSWER")
        ami.emit(dataclasses.replace(end, dest=dataclasses.replace(end.dest, channel="PJSIP/op1-00000009")))
        states.append(service.state.agent_state("op1"))

    async with service:
        service.login("op1")
        session = FakeSession(clock, dial=["ANSWER"], on_dial=on_dial)
        result = await QueueWait(service)(session, queue_command(), call_info())
    assert result.status == "answered"
    assert states == [AgentState.ON_CALL]
    assert len([e for e in published(sub) if isinstance(e, CallConnected)]) == 1
