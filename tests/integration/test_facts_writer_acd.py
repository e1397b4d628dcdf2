"""The facts writer fed by the real ACD runtime: its published decisions give the right facts and sessions."""

from __future__ import annotations

from callcenter.acd.model import Assignment
from callcenter.bus import EventBus
from callcenter.services.acd import AcdService, AcdSettings, CallerSlot, OfferInfo
from callcenter.services.facts_writer import FactsWriter, FactsWriterConfig
from callcenter.services.live_events import TOPIC_CALLS, CallArrived, CallFinished
from tests.integration.test_facts_writer_faults import MemoryStore
from tests.unit.test_services_acd_support import TUESDAY_10, FakeClock, loaded

QUEUES_WITH_WRAP = """\
default_queue: general
queues:
  general:
    skills: {general: 1}
    schedule: always
    ring_timeout_s: 10
    wrap_up_s: 30
"""


def _assignment(slot: CallerSlot) -> Assignment:
    """The next ring the ACD asks the waiting caller's session to make."""
    while (decision := slot.pop()) is not None:
        if isinstance(decision, Assignment):
            return decision
    raise AssertionError("no assignment for the caller")


def _info(uniqueid: str) -> OfferInfo:
    return OfferInfo(
        linkedid=f"L-{uniqueid}", uniqueid=uniqueid, caller="380501234567", language="uk", topic=None
    )


async def test_acd_decisions_give_legs_wrap_up_and_sessions() -> None:
    """A missed ring, an answer, the timed wrap-up, a break and logout, all as the ACD publishes them."""
    clock = FakeClock()
    bus = EventBus()
    acd = AcdService(
        loaded({"queues.yaml": QUEUES_WITH_WRAP}),
        bus,
        settings=AcdSettings(announce_every_s=30.0),
        clock=clock,
    )
    store = MemoryStore()
    writer = FactsWriter(
        bus,
        store,
        config=FactsWriterConfig(sweep_interval_s=3600),
        agent_queues=lambda a: ["general"],
        clock=clock,
    )
    await writer.start()

    def at(seconds: float) -> float:
        clock.t = TUESDAY_10 + seconds
        return clock.t

    at(0)
    acd.login("op1")
    at(1)
    acd.login("op2")
    bus.publish(TOPIC_CALLS, CallArrived("L-u1", "u1", "380501234567", "0800507506", "hotline", at(10)))
    at(20)
    slot = acd.join("u1", "general", _info("u1"))
    first = _assignment(slot)
    acd.offered(slot, first)
    at(30)  # the first agent does not pick up within the ring timeout
    acd.ring_result(slot, first.agent_id, "NOANSWER")
    second = _assignment(slot)
    assert second.agent_id != first.agent_id
    acd.offered(slot, second)
    at(34)
    acd.ring_result(slot, second.agent_id, "ANSWER")  # answered at once, and the call is over
    bus.publish(TOPIC_CALLS, CallFinished("L-u1", "answered", "general", second.agent_id, at(34)))
    at(64)
    acd.tick()  # the 30 s wrap-up ends
    at(100)
    acd.pause(second.agent_id, "break")
    at(400)
    acd.logout(first.agent_id)
    acd.logout(second.agent_id)
    await writer.drain()
    await writer.stop()

    call = store.calls["L-u1"]
    assert call.fact.outcome == "answered" and call.fact.wait_s == 14.0
    assert call.fact.wrap_s == 30.0
    assert [(leg.agent, leg.outcome, leg.ring_s) for leg in call.legs] == [
        (first.agent_id, "noanswer", 10.0),
        (second.agent_id, "answered", 4.0),
    ]
    # op1, idle longest, was offered first; after its missed ring the ACD made it available again.
    assert (first.agent_id, second.agent_id) == ("op1", "op2")
    sessions = {s.agent: s for s in store.sessions.values()}
    assert not sessions["op1"].open and not sessions["op2"].open
    assert (sessions["op1"].logged_in_s, sessions["op1"].paused_s_by_reason()) == (400.0, {})
    assert (sessions["op2"].logged_in_s, sessions["op2"].paused_s_by_reason()) == (
        399.0,
        {"wrapup": 30.0, "break": 300.0},
    )
