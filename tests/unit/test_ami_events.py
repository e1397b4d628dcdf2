"""Translation of frames into typed events, including malformed and mangled frames."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.telephony.ami_frames import AmiFramer, Frame, FrameError
from callcenter.telephony.events import (
    AgentRingNoAnswer,
    AmiEvent,
    ChannelSnapshot,
    DialState,
    Hangup,
    ListComplete,
    MalformedEvent,
    Newchannel,
    Shutdown,
    UnknownEvent,
    VarSet,
    translate,
)
from callcenter.telephony.tracker import CallTracker
from tests.conformance.traces import AMI_SCENARIOS, ami_received_bytes, ami_received_chunks


def _event_frames(scenario: str) -> list[Frame]:
    items = AmiFramer().feed(ami_received_bytes(scenario))
    return [f for f in items if isinstance(f, Frame) and f.event is not None]


ALL_EVENT_FRAMES = [f for s in AMI_SCENARIOS for f in _event_frames(s)]


def test_unknown_caller_id_is_none() -> None:
    """``<unknown>`` caller-ID and connected-line values become None; real ones are kept."""
    first = translate(_event_frames("queue_answered")[2])
    assert isinstance(first, Newchannel)
    assert first.channel.caller_num is None and first.channel.connected_name is None
    assert first.channel.account_code == "" and first.channel.priority == 1


def test_events_are_frozen() -> None:
    """Typed events cannot be modified."""
    event = translate(_event_frames("queue_answered")[2])
    assert isinstance(event, Newchannel)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.channel = event.channel  # type: ignore[misc]


def test_chanvariable_and_global_varset() -> None:
    """ChanVariable lines become snapshot variables; a VarSet without a channel is global."""
    frame = AmiFramer(expect_greeting=False).feed(
        b"Event: VarSet\r\nPrivilege: dialplan,all\r\nVariable: G\r\nValue: 1\r\n\r\n"
        b"Event: Newchannel\r\nChannel: PJSIP/a-1\r\nChannelState: 4\r\nUniqueid: 9.1\r\nLinkedid: 9.1\r\n"
        b"ChanVariable: APPEAL=42\r\nChanVariable: LANG=uk\r\n\r\n"
    )
    global_set, newchannel = (translate(f) for f in frame if isinstance(f, Frame))
    assert isinstance(global_set, VarSet) and global_set.channel is None
    assert isinstance(newchannel, Newchannel)
    assert newchannel.channel.variables == (("APPEAL", "42"), ("LANG", "uk"))


def test_unknown_event_keeps_headers() -> None:
    """An event without a class keeps its name and every header."""
    (frame,) = AmiFramer(expect_greeting=False).feed(
        b"Event: Custom\r\nA: 1\r\nOutput: x\r\nOutput: y\r\n\r\n"
    )
    assert isinstance(frame, Frame)
    event = translate(frame)
    assert isinstance(event, UnknownEvent)
    assert event.name == "Custom" and event.get("a") == "1"
    assert [v for k, v in event.headers if k == "output"] == ["x", "y"]


def test_response_is_not_an_event() -> None:
    """Translating a response frame is a clear MalformedEvent."""
    with pytest.raises(MalformedEvent, match="no Event header"):
        translate(Frame({"Response": "Success"}))


def test_hangup_needs_numeric_cause() -> None:
    """A Hangup with a non-numeric cause is reported, naming the field."""
    hangup = next(f for f in ALL_EVENT_FRAMES if f.event == "Hangup")
    broken = Frame({**hangup, "Cause": "sixteen"})
    with pytest.raises(MalformedEvent, match="Cause"):
        translate(broken)


@settings(max_examples=400)
@given(
    index=st.integers(min_value=0, max_value=len(ALL_EVENT_FRAMES) - 1),
    drop=st.sets(st.integers(min_value=0, max_value=40), max_size=6),
    garble=st.dictionaries(st.integers(min_value=0, max_value=40), st.text(max_size=12), max_size=4),
)
def test_mangled_frames_translate_or_raise_malformed(
    index: int, drop: set[int], garble: dict[int, str]
) -> None:
    """Real frames with headers dropped or values garbled give a typed event or MalformedEvent only."""
    frame = ALL_EVENT_FRAMES[index]
    items = [(k, v) for i, (k, v) in enumerate(frame.items()) if i not in drop or k == "Event"]
    items = [(k, garble.get(i, v)) if k != "Event" else (k, v) for i, (k, v) in enumerate(items)]
    try:
        event = translate(Frame(items))
    except MalformedEvent:
        return
    assert isinstance(event, AmiEvent)


@settings(max_examples=60)
@given(
    position=st.integers(min_value=1, max_value=len(ami_received_chunks("queue_answered"))),
    garbage=st.binary(min_size=1, max_size=80),
)
def test_garbage_frame_does_not_affect_other_calls(position: int, garbage: bytes) -> None:
    """A garbage block injected between reads costs at most itself: the call still ends clean."""
    chunks = ami_received_chunks("queue_answered")
    # The garbage is closed with a blank line and placed at a read boundary that is also a frame
    # boundary after the greeting (every recorded read ends with one), so it can only spoil itself.
    injected = [*chunks[:position], garbage.replace(b"\r\n\r\n", b"") + b"\r\n\r\n", *chunks[position:]]
    framer = AmiFramer()
    tracker = CallTracker()
    hangups = 0
    for chunk in injected:
        for item in framer.feed(chunk):
            if isinstance(item, FrameError) or item.event is None:
                continue
            try:
                event = translate(item)
            except MalformedEvent:
                continue
            hangups += isinstance(event, Hangup)
            tracker.apply(event)
    assert hangups == 4
    assert tracker.channels == {} and tracker.calls == {}


def test_snapshot_prefix_reads_dest_fields() -> None:
    """The Dest-prefixed block of a dial event is read as its own snapshot."""
    dial = next(f for f in _event_frames("queue_answered") if f.event == "DialEnd" and "Channel" in f)
    dest = ChannelSnapshot.from_frame(dial, "Dest")
    assert dest.uniqueid == dial["DestUniqueid"] and dest.channel == dial["DestChannel"]


def _renamed(event_name: str, source: str, **extra: str) -> Frame:
    """A recorded frame of event ``source`` re-labelled as ``event_name`` with extra headers."""
    frame = next(f for f in _event_frames("queue_answered") if f.event == source and "Channel" in f)
    return Frame({**frame, "Event": event_name, **extra})


def test_dial_state_and_ring_no_answer() -> None:
    """DialState (absent from the traces) and AgentRingNoAnswer read their own fields."""
    state = translate(_renamed("DialState", "DialEnd", DialStatus="RINGING"))
    assert isinstance(state, DialState) and state.dial_status == "RINGING" and state.forward is None
    rna = translate(_renamed("AgentRingNoAnswer", "AgentCalled", RingTime="15000"))
    assert isinstance(rna, AgentRingNoAnswer) and rna.ring_time_ms == 15000
    assert rna.dest is not None and rna.queue == "survival"


def test_shutdown_and_list_complete() -> None:
    """Shutdown reads its restart flag; any ...Complete list end becomes ListComplete."""
    shutdown = translate(Frame({"Event": "Shutdown", "Shutdown": "Cleanly", "Restart": "True"}))
    assert isinstance(shutdown, Shutdown) and shutdown.restart and shutdown.shutdown == "Cleanly"
    done = translate(Frame({"Event": "DeviceStateListComplete", "EventList": "Complete", "ListItems": "3"}))
    assert isinstance(done, ListComplete) and done.list_items == 3
