"""AMI-only call events: holds, transfers and survival-path call ends, from real and built streams."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import pytest

from callcenter.appeals.calls import CallEnded as RecordCallEnded
from callcenter.bus import EventBus
from callcenter.errors import StorageError
from callcenter.services.ami_calls import AmiCallEvents, agent_resolver, device_of
from callcenter.services.live_events import (
    TOPIC_CALLS,
    CallArrived,
    CallConnected,
    CallFinished,
    CallHoldChanged,
    CallTransferred,
)
from callcenter.telephony.ami_frames import AmiFramer, Frame
from callcenter.telephony.events import AmiEvent, ChannelsResync, CoreShowChannel, translate
from tests.conformance.traces import ami_received_chunks

AT = dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)


class FakeAppeals:
    """Records the call ends written; fails the first ``failures`` writes."""

    def __init__(self, failures: int = 0) -> None:
        self.ended: list[RecordCallEnded] = []
        self.failures = failures

    async def apply_call_progress(self, event: RecordCallEnded) -> None:
        if self.failures:
            self.failures -= 1
            raise StorageError("database restarting")
        self.ended.append(event)


class FakeAmi:
    """The listener registry of ``AmiClient``."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[AmiEvent], object]] = []

    def add_listener(self, listener: Callable[[AmiEvent], object]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def emit(self, events: list[AmiEvent]) -> None:
        for event in events:
            for listener in list(self.listeners):
                listener(event)


def parse(chunks: list[bytes]) -> list[AmiEvent]:
    """Typed events of a raw AMI stream."""
    framer = AmiFramer()
    out: list[AmiEvent] = []
    for chunk in chunks:
        for frame in framer.feed(chunk):
            if isinstance(frame, Frame) and frame.event is not None:
                out.append(translate(frame))
    return out


def trace(scenario: str) -> list[AmiEvent]:
    return parse(ami_received_chunks(scenario))


def chan(channel: str, uid: str, linkedid: str, context: str = "from-pstn", prefix: str = "") -> str:
    """The snapshot block of one channel, as Asterisk writes it."""
    fields = {
        "Channel": channel,
        "ChannelState": "6",
        "ChannelStateDesc": "Up",
        "CallerIDNum": "380501234567",
        "CallerIDName": "<unknown>",
        "ConnectedLineNum": "<unknown>",
        "ConnectedLineName": "<unknown>",
        "Language": "uk",
        "AccountCode": "",
        "Context": context,
        "Exten": "0800507506",
        "Priority": "1",
        "Uniqueid": uid,
        "Linkedid": linkedid,
    }
    return "".join(f"{prefix}{k}: {v}\r\n" for k, v in fields.items())


def event(name: str, *blocks: str, **extra: str) -> AmiEvent:
    text = f"Event: {name}\r\nPrivilege: call,all\r\n" + "".join(blocks)
    text += "".join(f"{k}: {v}\r\n" for k, v in extra.items()) + "\r\n"
    (parsed,) = parse([text.encode()])
    return parsed


CALLER = ("PJSIP/trunk-00000001", "1795486500.1", "1795486500.1")
AGENT = ("PJSIP/op101-00000002", "1795486500.2", "1795486500.1", "agent-phones")
BRIDGE = {"BridgeUniqueid": "b-1", "BridgeType": "basic", "BridgeTechnology": "simple_bridge"}


def answered_call() -> list[AmiEvent]:
    """A hotline call whose caller and agent are bridged."""
    return [
        event("Newchannel", chan(*CALLER)),
        event("Newchannel", chan(*AGENT)),
        event("BridgeCreate", **BRIDGE),
        event("BridgeEnter", chan(*CALLER), **BRIDGE),
        event("BridgeEnter", chan(*AGENT), **BRIDGE),
    ]


def hang_up() -> list[AmiEvent]:
    return [
        event("Hangup", chan(*AGENT), Cause="16"),
        event("Hangup", chan(*CALLER), Cause="16"),
    ]


async def started(
    appeals: FakeAppeals | None = None,
) -> tuple[AmiCallEvents, FakeAmi, EventBus, list[object]]:
    """The service on a fake AMI, and a list that collects what it publishes."""
    bus = EventBus()
    sub = bus.subscribe({TOPIC_CALLS})
    seen: list[object] = []

    async def collect() -> None:
        async for _topic, item in sub:
            seen.append(item)

    service = AmiCallEvents(
        bus,
        appeals or FakeAppeals(),
        clock=lambda: AT,
        agent_of_device=agent_resolver(lambda: {"op101": "PJSIP/op101"}),
        retry_delay_s=0.01,
    )
    ami = FakeAmi()
    await service.start(ami)
    task = asyncio.create_task(collect())
    service._tasks.append(task)  # stopped with the service
    return service, ami, bus, seen


def published(seen: list[object], kind: type) -> list[object]:
    return [item for item in seen if isinstance(item, kind)]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_device_of_strips_the_channel_sequence() -> None:
    """Channel names map to their device; a name without a sequence is its own device."""
    assert device_of("PJSIP/op101-0000002a") == "PJSIP/op101"
    assert device_of("Local/201@agents-00000010;1") == "Local/201@agents"
    assert device_of("PJSIP/op-101") == "PJSIP/op-101"  # a sequence has 8 hex digits
    assert device_of("PJSIP/op101") == "PJSIP/op101"


@pytest.mark.parametrize(
    ("scenario", "linkedid"), [("queue_answered", "1795486433.31"), ("queue_abandoned", "1795486441.35")]
)
async def test_survival_call_from_a_real_trace_gets_its_end_once(scenario: str, linkedid: str) -> None:
    """A call app_queue handled without our FastAGI session gets CallEnded once, replays included."""
    appeals = FakeAppeals()
    service, ami, _bus, seen = await started(appeals)
    ami.emit(trace(scenario))
    ami.emit(trace(scenario))  # a replayed stream: every channel is a tombstone, nothing new
    await service.drain()
    await service.stop()
    assert appeals.ended == [RecordCallEnded(linkedid, AT)]
    # The queue's music while waiting is no hold.
    assert published(seen, CallHoldChanged) == []


async def test_call_our_session_ends_is_left_to_the_pipeline() -> None:
    """A call whose session is running or ended it gets no second end; one handed back does."""
    appeals = FakeAppeals()
    service, ami, bus, _seen = await started(appeals)
    bus.publish(TOPIC_CALLS, CallArrived("1795486433.31", "1795486433.31", None, "0800", "hotline", 1.0))
    ami.emit(trace("queue_answered"))  # the session is still on it when the hang-up arrives
    bus.publish(TOPIC_CALLS, CallArrived("1795486441.35", "1795486441.35", None, "0800", "hotline", 1.0))
    bus.publish(TOPIC_CALLS, CallFinished("1795486441.35", "abandoned_ivr", None, None, 2.0))
    ami.emit(trace("queue_abandoned"))  # the session ended it before the AMI hang-up
    await service.drain()
    assert appeals.ended == []

    bus.publish(TOPIC_CALLS, CallArrived(CALLER[2], CALLER[1], None, "0800", "hotline", 1.0))
    bus.publish(TOPIC_CALLS, CallFinished(CALLER[2], "survival_path", None, None, 2.0))
    ami.emit(answered_call() + hang_up())  # handed back to the dialplan: ended by app_queue
    await service.drain()
    await service.stop()
    assert appeals.ended == [RecordCallEnded(CALLER[2], AT)]


async def test_calls_outside_the_hotline_get_no_record() -> None:
    """A callback or an agent's own call (never in the inbound context) is not ended as an appeal."""
    appeals = FakeAppeals()
    service, ami, _bus, _seen = await started(appeals)
    ami.emit(
        [
            event("Newchannel", chan("PJSIP/op101-00000009", "1795486600.9", "1795486600.9", "callback")),
            event(
                "Hangup", chan("PJSIP/op101-00000009", "1795486600.9", "1795486600.9", "callback"), Cause="16"
            ),
        ]
    )
    await service.drain()
    await service.stop()
    assert appeals.ended == []


async def test_hold_from_the_phone_is_published_once_per_change() -> None:
    """Hold on the agent's phone and the bridge's music on the caller make one hold, then one resume."""
    service, ami, bus, seen = await started()
    bus.publish(TOPIC_CALLS, CallArrived(CALLER[2], CALLER[1], None, "0800", "hotline", 1.0))
    bus.publish(TOPIC_CALLS, CallConnected(CALLER[2], "op101", "general", 5.0))
    ami.emit(answered_call())
    ami.emit(
        [
            event("Hold", chan(*AGENT), MusicClass="default"),
            event("MusicOnHoldStart", chan(*CALLER), Class="default"),
            event("Unhold", chan(*AGENT)),
            event("MusicOnHoldStop", chan(*CALLER)),
        ]
    )
    await settle()
    await service.stop()
    holds = published(seen, CallHoldChanged)
    assert holds == [
        CallHoldChanged(CALLER[2], "op101", True, AT.timestamp()),
        CallHoldChanged(CALLER[2], "op101", False, AT.timestamp()),
    ]


async def test_music_alone_on_a_bridged_survival_call_is_a_hold_of_its_queue_agent() -> None:
    """Without Hold events, music on the bridged caller is a hold; the agent comes from AgentConnect."""
    service, ami, _bus, seen = await started()
    connect = event(
        "AgentConnect",
        chan(*CALLER),
        chan(*AGENT, prefix="Dest"),
        Queue="survival",
        Interface="PJSIP/op101",
        MemberName="Agent op101",
        HoldTime="3",
        RingTime="2",
    )
    ami.emit([*answered_call(), connect, event("MusicOnHoldStart", chan(*CALLER), Class="default")])
    await settle()
    await service.stop()
    assert published(seen, CallHoldChanged) == [CallHoldChanged(CALLER[2], "op101", True, AT.timestamp())]


async def test_blind_and_attended_transfers_are_published_when_they_succeed() -> None:
    """Successful BlindTransfer/AttendedTransfer publish the target and the agent; a failed one nothing."""
    service, ami, bus, seen = await started()
    bus.publish(TOPIC_CALLS, CallConnected(CALLER[2], "op101", "general", 5.0))
    ami.emit(answered_call())
    ami.emit(
        [
            event(
                "BlindTransfer",
                chan(*AGENT, prefix="Transferer"),
                chan(*CALLER, prefix="Transferee"),
                Result="Fail",
                Context="agent-phones",
                Extension="7333",
                IsExternal="No",
            ),
            event(
                "BlindTransfer",
                chan(*AGENT, prefix="Transferer"),
                chan(*CALLER, prefix="Transferee"),
                Result="Success",
                Context="agent-phones",
                Extension="7333",
                IsExternal="No",
            ),
            event(
                "AttendedTransfer",
                chan(*AGENT, prefix="OrigTransferer"),
                chan(
                    "PJSIP/op101-00000003", "1795486500.3", "1795486500.3", "agent-phones", "SecondTransferer"
                ),
                chan(*CALLER, prefix="Transferee"),
                chan(
                    "PJSIP/op102-00000004", "1795486500.4", "1795486500.3", "agent-phones", "TransferTarget"
                ),
                Result="Success",
                DestType="Bridge",
            ),
        ]
    )
    await settle()
    await service.stop()
    transfers = published(seen, CallTransferred)
    assert transfers == [
        CallTransferred(CALLER[2], "7333", "op101", AT.timestamp()),
        CallTransferred(CALLER[2], "380501234567", "op101", AT.timestamp()),
    ]


async def test_calls_that_vanished_during_an_ami_gap_are_ended_by_the_resync() -> None:
    """After a reconnect, a survival call missing from CoreShowChannels gets its end; a live one not."""
    appeals = FakeAppeals()
    service, ami, _bus, _seen = await started(appeals)
    other = ("PJSIP/trunk-00000007", "1795486700.7", "1795486700.7")
    ami.emit([*answered_call(), event("Newchannel", chan(*other))])
    still_there = event("CoreShowChannel", chan(*other), Application="Queue", BridgeId="")
    assert isinstance(still_there, CoreShowChannel)
    ami.emit([ChannelsResync((still_there,))])
    await service.drain()
    assert appeals.ended == [RecordCallEnded(CALLER[2], AT)]
    assert set(service.tracker.calls) == {other[2]}
    await service.stop()


async def test_a_failed_write_is_retried() -> None:
    """A database error on the first attempt does not lose the call's end."""
    appeals = FakeAppeals(failures=1)
    service, ami, _bus, _seen = await started(appeals)
    ami.emit(answered_call() + hang_up())
    await service.drain()
    await service.stop()
    assert appeals.ended == [RecordCallEnded(CALLER[2], AT)]
    assert service.stats.ends_written == 1 and service.stats.ends_failed == 0


async def test_without_ami_the_service_stays_idle() -> None:
    """With AMI disabled nothing is subscribed or started, and stopping is harmless."""
    bus = EventBus()
    service = AmiCallEvents(bus, FakeAppeals())
    await service.start(None)
    assert bus.subscriber_count == 0
    await service.stop()
