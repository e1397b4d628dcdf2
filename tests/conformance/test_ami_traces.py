"""Every frame of every recorded Asterisk AMI trace parses and translates to a typed event."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.telephony.ami_actions import HeaderValue, render_action
from callcenter.telephony.ami_frames import AmiFramer, Frame, FrameError
from callcenter.telephony.events import (
    AgentComplete,
    AgentConnect,
    ChannelEvent,
    CoreShowChannel,
    DialEnd,
    DTMFEnd,
    Hangup,
    ListComplete,
    OriginateResponse,
    QueueCallerAbandon,
    QueueCallerJoin,
    UnknownEvent,
    translate,
)
from tests.conformance.traces import AMI_SCENARIOS, ami_received_bytes, ami_received_chunks, ami_sent_frames

#: Events the traces contain that deliberately have no typed class (security and Local-channel noise).
UNTYPED_OK = {
    "SuccessfulAuth",
    "RequestBadFormat",
    "LocalBridge",
    "QueueParams",
    "QueueEntry",
    "QueueSummary",
}


def _frames(chunks: list[bytes]) -> list[Frame]:
    framer = AmiFramer()
    out: list[Frame] = []
    for chunk in chunks:
        for item in framer.feed(chunk):
            assert not isinstance(item, FrameError), item
            out.append(item)
    assert framer.buffered == 0
    assert framer.version == "11.0.0"
    return out


def _oracle_blocks(scenario: str) -> list[str]:
    """The stream split the naive way (greeting line removed), as an independent count."""
    text = ami_received_bytes(scenario).decode("utf-8")
    greeting, _, rest = text.partition("\r\n")
    assert greeting == "Asterisk Call Manager/11.0.0"
    return [block for block in rest.split("\r\n\r\n") if block]


@pytest.mark.parametrize("scenario", AMI_SCENARIOS)
def test_real_chunks_give_every_frame(scenario: str) -> None:
    """Fed at the recorded TCP read boundaries, the framer yields one frame per CRLF-CRLF block."""
    frames = _frames(ami_received_chunks(scenario))
    blocks = _oracle_blocks(scenario)
    assert len(frames) == len(blocks)
    for frame, block in zip(frames, blocks, strict=True):
        first_key, _, first_value = block.partition("\r\n")[0].partition(": ")
        assert frame[first_key] == first_value


@pytest.mark.parametrize("scenario", AMI_SCENARIOS)
def test_byte_by_byte_equals_real_chunks(scenario: str) -> None:
    """Feeding one byte at a time produces exactly the frames the real chunking produced."""
    data = ami_received_bytes(scenario)
    one_by_one = _frames([data[i : i + 1] for i in range(len(data))])
    assert one_by_one == _frames(ami_received_chunks(scenario))


@pytest.mark.parametrize("scenario", AMI_SCENARIOS)
def test_every_event_translates(scenario: str) -> None:
    """Each event frame becomes a typed event; only known noise events stay UnknownEvent."""
    for frame in _frames(ami_received_chunks(scenario)):
        if frame.event is None:
            assert frame.response in {"Success", "Error", "Goodbye"}
            continue
        event = translate(frame)
        if isinstance(event, UnknownEvent):
            assert event.name in UNTYPED_OK
        elif isinstance(event, ChannelEvent):
            assert event.channel.uniqueid == frame["Uniqueid"]


def _events(scenario: str) -> list[object]:
    return [translate(f) for f in _frames(ami_received_chunks(scenario)) if f.event is not None]


def test_queue_answered_fields() -> None:
    """queue_answered: four legs hang up with cause 16, the agent connects and completes."""
    events = _events("queue_answered")
    hangups = [e for e in events if isinstance(e, Hangup)]
    assert len(hangups) == 4
    assert {(h.cause, h.cause_txt) for h in hangups} == {(16, "Normal Clearing")}
    join = next(e for e in events if isinstance(e, QueueCallerJoin))
    assert join.channel.caller_num == "380931234567"
    assert join.position == 1
    connect = next(e for e in events if isinstance(e, AgentConnect))
    assert connect.dest is not None and connect.dest.channel.startswith("Local/201@agents")
    complete = next(e for e in events if isinstance(e, AgentComplete))
    assert complete.reason in {"caller", "agent", "transfer"}
    assert complete.channel.linkedid == join.channel.linkedid


def test_actions_list_and_originate() -> None:
    """actions: CoreShowChannel items end with an empty BridgeId, originate outcomes are typed."""
    events = _events("actions")
    items = [e for e in events if isinstance(e, CoreShowChannel)]
    assert [i.channel.uniqueid for i in items] == ["cap-orig-1", "cap-orig-1;2"]
    assert all(i.bridge_id is None and i.action_id == "cap-8" for i in items)
    done = [e for e in events if isinstance(e, ListComplete)]
    assert [(d.name, d.list_items) for d in done] == [
        ("CoreShowChannelsComplete", 2),
        ("ChannelsHungupListComplete", 0),
    ]
    origs = [e for e in events if isinstance(e, OriginateResponse)]
    assert [(o.response, o.reason, o.uniqueid) for o in origs] == [
        ("Failure", 0, None),
        ("Success", 4, "cap-orig-1"),
    ]
    assert origs[0].caller_num is None  # "<unknown>" becomes None


def test_ivr_dial_dtmf_and_dial() -> None:
    """ivr_dial: DTMF digit 1 is seen and the agent dial ends with ANSWER."""
    events = _events("ivr_dial")
    digits = [e.digit for e in events if isinstance(e, DTMFEnd)]
    assert "1" in digits
    assert any(isinstance(e, DialEnd) and e.dial_status == "ANSWER" for e in events)


def test_queue_abandoned_counts() -> None:
    """queue_abandoned: the abandon carries positions and a hold time in seconds."""
    events = _events("queue_abandoned")
    abandon = next(e for e in events if isinstance(e, QueueCallerAbandon))
    assert abandon.position == 1 and abandon.original_position == 1
    assert abandon.hold_time >= 0
    names = Counter(type(e).__name__ for e in events)
    assert names["QueueMemberPause"] == 4
    assert names["QueueMemberAdded"] == 1 and names["QueueMemberRemoved"] == 1


@pytest.mark.parametrize("scenario", AMI_SCENARIOS)
def test_render_action_reproduces_recorded_actions(scenario: str) -> None:
    """Every action the capture client sent to real Asterisk is rebuilt byte for byte by render_action."""
    for sent in ami_sent_frames(scenario):
        framer = AmiFramer(expect_greeting=False)
        (frame,) = framer.feed(sent.encode())
        assert isinstance(frame, Frame)
        headers: dict[str, HeaderValue] = {}
        for name in frame:
            if name not in {"Action", "ActionID"}:
                values = frame.getall(name)
                headers[name] = values if len(values) > 1 else values[0]
        assert render_action(frame["Action"], frame["ActionID"], headers).decode() == sent


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_random_splits_of_real_trace(data: st.DataObject) -> None:
    """Any split of a real trace into reads yields the frames of the recorded chunking."""
    scenario = data.draw(st.sampled_from(AMI_SCENARIOS))
    stream = ami_received_bytes(scenario)
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(stream)), max_size=40))))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert _frames(chunks) == _frames(ami_received_chunks(scenario))
