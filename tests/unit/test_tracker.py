"""The call tracker fed with real traces and synthetic gaps."""

from __future__ import annotations

from callcenter.telephony.ami_frames import AmiFramer, Frame
from callcenter.telephony.events import (
    AmiEvent,
    BridgeEnter,
    ChannelSnapshot,
    CoreShowChannel,
    DeviceStateChange,
    Hangup,
    Newstate,
    translate,
)
from callcenter.telephony.tracker import (
    CallEnded,
    CallStarted,
    CallTracker,
    ChannelGone,
    ChannelNew,
    DeviceChanged,
)
from tests.conformance.traces import ami_received_chunks


def _events(scenario: str) -> list[AmiEvent]:
    framer = AmiFramer()
    out: list[AmiEvent] = []
    for chunk in ami_received_chunks(scenario):
        for frame in framer.feed(chunk):
            assert isinstance(frame, Frame)
            if frame.event is not None:
                out.append(translate(frame))
    return out


def _snap(uid: str, linkedid: str, name: str = "PJSIP/trunk-1", state: int = 6) -> ChannelSnapshot:
    return ChannelSnapshot(
        channel=name,
        state=state,
        state_desc="Up",
        caller_num="380501234567",
        caller_name=None,
        connected_num=None,
        connected_name=None,
        language="uk",
        account_code="",
        context="hotline",
        exten="0800",
        priority=1,
        uniqueid=uid,
        linkedid=linkedid,
    )


def _show(uid: str, linkedid: str, bridge: str | None = None) -> CoreShowChannel:
    return CoreShowChannel(_snap(uid, linkedid), "7", "Dial", "", "00:00:05", bridge)


def test_queue_answered_ends_clean() -> None:
    """After queue_answered no channel, call or bridge is live; one call with four legs came and went."""
    tracker = CallTracker()
    changes = tracker.apply_all(_events("queue_answered"))
    assert tracker.channels == {} and tracker.calls == {} and tracker.bridges == {}
    started = [c.linkedid for c in changes if isinstance(c, CallStarted)]
    ended = [c.linkedid for c in changes if isinstance(c, CallEnded)]
    assert started == ended == ["1795486433.31"]
    legs = {c.channel.uniqueid for c in changes if isinstance(c, ChannelNew)}
    assert legs == {"1795486433.31", "1795486433.32", "1795486434.33", "1795486434.34"}
    causes = {c.channel.uniqueid: c.cause for c in changes if isinstance(c, ChannelGone)}
    assert causes == dict.fromkeys(legs, 16)


def test_queue_answered_mid_call_state() -> None:
    """While the agent talks, the caller and agent legs share one bridge and one linkedid group."""
    tracker = CallTracker()
    events = _events("queue_answered")
    last_enter = max(i for i, e in enumerate(events) if isinstance(e, BridgeEnter))
    tracker.apply_all(events[: last_enter + 1])
    (bridge_id, members) = next(iter(tracker.bridges.items()))
    assert members == {"1795486433.32", "1795486434.33"}
    assert tracker.calls["1795486433.31"] >= members
    caller = tracker.channel("1795486433.32")
    assert caller is not None and caller.bridge_id == bridge_id and caller.state == 6


def test_ivr_dial_ends_clean_with_devices() -> None:
    """After ivr_dial nothing is live and the agent device is back to NOT_INUSE."""
    tracker = CallTracker()
    changes = tracker.apply_all(_events("ivr_dial"))
    assert tracker.channels == {} and tracker.calls == {}
    started = [c.linkedid for c in changes if isinstance(c, CallStarted)]
    assert len(started) == len(set(started)) >= 1
    assert tracker.device_state("Local/201@agents") == "NOT_INUSE"
    assert any(isinstance(c, DeviceChanged) and c.state == "INUSE" for c in changes)


def test_replayed_events_are_idempotent() -> None:
    """Applying every event twice in a row ends in the same state and never resurrects a channel."""
    once, twice = CallTracker(), CallTracker()
    events = _events("queue_answered")
    once.apply_all(events)
    for event in events:
        twice.apply(event)
        assert twice.apply(event) == ()
    assert twice.channels == once.channels == {}
    assert twice.devices == once.devices


def test_late_event_after_hangup_does_not_resurrect() -> None:
    """A Newstate arriving after the channel's Hangup is ignored."""
    tracker = CallTracker()
    tracker.apply(Newstate(_snap("1.1", "1.1")))
    tracker.apply(Hangup(_snap("1.1", "1.1"), 16, "Normal Clearing", None))
    assert tracker.apply(Newstate(_snap("1.1", "1.1"))) == ()
    assert tracker.channels == {}


def test_resync_reports_vanished_and_appeared() -> None:
    """A resync drops channels that hung up during the gap and adds ones that started in it."""
    tracker = CallTracker()
    tracker.apply(Newstate(_snap("1.1", "1.1")))
    tracker.apply(Newstate(_snap("1.2", "1.1", name="PJSIP/201-2")))
    report = tracker.resync_channels([_show("1.2", "1.1", bridge="b1"), _show("2.1", "2.1")])
    assert [c.uniqueid for c in report.vanished] == ["1.1"]
    assert [c.uniqueid for c in report.appeared] == ["2.1"]
    assert set(tracker.channels) == {"1.2", "2.1"}
    assert tracker.bridges == {"b1": frozenset({"1.2"})}
    assert set(tracker.calls) == {"1.1", "2.1"}
    again = tracker.resync_channels([_show("1.2", "1.1", bridge="b1"), _show("2.1", "2.1")])
    assert again.changes == ()


def test_resync_ends_call_that_vanished() -> None:
    """A call whose every leg vanished during the gap is reported ended."""
    tracker = CallTracker()
    tracker.apply(Newstate(_snap("1.1", "1.1")))
    report = tracker.resync_channels([])
    assert CallEnded("1.1") in report.changes
    assert tracker.calls == {}


def test_resync_devices_replaces_states() -> None:
    """DeviceStateList results replace device states; unknown old devices are forgotten."""
    tracker = CallTracker()
    tracker.apply(DeviceStateChange("PJSIP/201", "INUSE", None))
    tracker.apply(DeviceStateChange("PJSIP/999", "INUSE", None))
    report = tracker.resync_devices(
        [DeviceStateChange("PJSIP/201", "NOT_INUSE", "9"), DeviceStateChange("PJSIP/202", "RINGING", "9")]
    )
    assert tracker.devices == {"PJSIP/201": "NOT_INUSE", "PJSIP/202": "RINGING"}
    assert DeviceChanged("PJSIP/201", "NOT_INUSE", "INUSE") in report.changes


def test_linkedid_change_moves_the_leg() -> None:
    """A leg whose Linkedid changes moves to the new call; an emptied old call is reported ended."""
    tracker = CallTracker()
    tracker.apply(Newstate(_snap("1.1", "1.1")))
    tracker.apply(Newstate(_snap("2.1", "2.1", name="PJSIP/201-2")))
    changes = tracker.apply(Newstate(_snap("2.1", "1.1", name="PJSIP/201-2")))
    assert CallEnded("2.1") in changes
    assert tracker.calls == {"1.1": frozenset({"1.1", "2.1"})}
