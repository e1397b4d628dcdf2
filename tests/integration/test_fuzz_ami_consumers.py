"""Fuzzing what consumes AMI events: garbled real events never crash the ACD or move a waiting caller.

The AMI framer and ``translate`` are fuzzed in ``tests/unit/test_ami_frames.py`` and
``tests/unit/test_ami_events.py``: a garbled frame gives a typed event or ``MalformedEvent``. Here
the events that *do* translate, built from every frame of the recorded traces with headers
dropped or values garbled, are fed to ``AcdService.on_ami_event`` (device states, rings, dial
results, hang-ups). None may raise, and a caller waiting in a queue for an unrelated call keeps
its place: events about other channels must not touch it.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.acd.model import AgentState
from callcenter.services.acd import OfferInfo
from callcenter.telephony.ami_frames import Frame
from callcenter.telephony.events import MalformedEvent, translate
from tests.unit.test_ami_events import ALL_EVENT_FRAMES
from tests.unit.test_services_acd_support import FakeClock, make_service

WAITING = "fuzz-waiting.1"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(ALL_EVENT_FRAMES) - 1),
            st.sets(st.integers(min_value=0, max_value=40), max_size=4),
            st.dictionaries(st.integers(min_value=0, max_value=40), st.text(max_size=16), max_size=4),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_garbled_events_never_crash_the_acd_or_move_a_waiting_caller(
    mutations: list[tuple[int, set[int], dict[int, str]]],
) -> None:
    """Garbled real events into the ACD: no exception, the waiting caller keeps queue and position."""
    clock = FakeClock()
    service, _sub = make_service(clock)
    for agent in ("op1", "op2"):
        service.login(agent)
        service.pause(agent, "break")  # staffed, not free: the caller waits
    service.join(WAITING, "general", OfferInfo(WAITING, WAITING, "380671112233", "uk", None))
    before = service.state.position(WAITING)
    assert before == 1
    for index, drop, garble in mutations:
        frame = ALL_EVENT_FRAMES[index]
        items = [(k, v) for i, (k, v) in enumerate(frame.items()) if i not in drop or k == "Event"]
        items = [(k, garble.get(i, v)) if k != "Event" else (k, v) for i, (k, v) in enumerate(items)]
        try:
            event = translate(Frame(items))
        except MalformedEvent:
            continue
        service.on_ami_event(event)
    assert service.state.position(WAITING) == before
    assert WAITING in service.slots
    # Both agents paused for a break: no event may pull one of them in to ring the caller.
    assert service.slots[WAITING].ringing is None
    assert {view.state for view in service.state.agents(clock())} == {AgentState.PAUSED}
