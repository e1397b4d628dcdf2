"""Typed, frozen AMI events: the only shape in which Asterisk events leave the telephony adapter.

``translate(frame)`` turns one parsed :class:`~callcenter.telephony.ami_frames.Frame` into an
:class:`AmiEvent`. The core and the call tracker see these dataclasses, never raw header dicts.
Field meanings follow PROTOCOL.md A5–A9 and the recorded traces:

* every channel event carries a :class:`ChannelSnapshot` built from Asterisk's fixed snapshot
  block; dial, agent and queue events carry the second leg as ``dest`` (the ``Dest*`` headers);
* caller-ID and connected-line values written as ``<unknown>`` (or empty) become ``None``;
* numbers become ``int`` (``Hangup.cause``, queue positions, times), flags become ``bool``;
* an event we have no class for becomes :class:`UnknownEvent` with all its headers, so nothing
  is dropped; a known event missing a required header raises :class:`MalformedEvent`.

Import everything from here: the snapshot blocks and base classes live in ``ami_event_base`` and
the app_queue events in ``ami_queue_events`` only to keep modules readable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from .ami_event_base import (
    AmiEvent,
    BridgeInfo,
    ChannelEvent,
    ChannelSnapshot,
    MalformedEvent,
    QueueMemberInfo,
    UnknownEvent,
    _cid,
    _flag,
    _int,
    _opt_int,
    _opt_snap,
    _req,
    _snap,
)
from .ami_frames import Frame
from .ami_queue_events import (
    QUEUE_BUILDERS,
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentEvent,
    AgentRingNoAnswer,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueMember,
    QueueMemberAdded,
    QueueMemberEvent,
    QueueMemberPause,
    QueueMemberRemoved,
    QueueMemberStatus,
)

__all__ = [
    "KNOWN_EVENTS",
    "AGIExecEnd",
    "AGIExecStart",
    "AgentCalled",
    "AgentComplete",
    "AgentConnect",
    "AgentEvent",
    "AgentRingNoAnswer",
    "AmiConnected",
    "AmiDisconnected",
    "AmiEvent",
    "BridgeCreate",
    "BridgeDestroy",
    "BridgeEnter",
    "BridgeInfo",
    "BridgeLeave",
    "ChannelEvent",
    "ChannelSnapshot",
    "ChannelsResync",
    "CoreShowChannel",
    "DTMFBegin",
    "DTMFEnd",
    "DeviceStateChange",
    "DevicesResync",
    "DialBegin",
    "DialEnd",
    "DialState",
    "FullyBooted",
    "Hangup",
    "HangupRequest",
    "ListComplete",
    "MalformedEvent",
    "MixMonitorStart",
    "MixMonitorStop",
    "MusicOnHoldStart",
    "MusicOnHoldStop",
    "NewCallerid",
    "NewConnectedLine",
    "Newchannel",
    "Newexten",
    "Newstate",
    "OriginateResponse",
    "QueueCallerAbandon",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueMember",
    "QueueMemberAdded",
    "QueueMemberEvent",
    "QueueMemberInfo",
    "QueueMemberPause",
    "QueueMemberRemoved",
    "QueueMemberStatus",
    "QueuesResync",
    "Shutdown",
    "SoftHangupRequest",
    "UnknownEvent",
    "VarSet",
    "translate",
]


@dataclass(frozen=True, slots=True)
class Newchannel(ChannelEvent):
    """A channel was created."""

    NAME: ClassVar[str] = "Newchannel"


@dataclass(frozen=True, slots=True)
class Newstate(ChannelEvent):
    """A channel changed state (e.g. to 6 Up when answered)."""

    NAME: ClassVar[str] = "Newstate"


@dataclass(frozen=True, slots=True)
class Newexten(ChannelEvent):
    """A dialplan step ran."""

    NAME: ClassVar[str] = "Newexten"
    extension: str
    application: str
    app_data: str


@dataclass(frozen=True, slots=True)
class VarSet(AmiEvent):
    """A variable was set; ``channel`` is None for a global variable."""

    NAME: ClassVar[str] = "VarSet"
    channel: ChannelSnapshot | None
    variable: str
    value: str


@dataclass(frozen=True, slots=True)
class NewCallerid(ChannelEvent):
    """A channel's caller ID changed."""

    NAME: ClassVar[str] = "NewCallerid"
    calling_pres: str


@dataclass(frozen=True, slots=True)
class NewConnectedLine(ChannelEvent):
    """A channel's connected line changed."""

    NAME: ClassVar[str] = "NewConnectedLine"


@dataclass(frozen=True, slots=True)
class DialBegin(AmiEvent):
    """A dial attempt started; ``channel`` is the caller (None for an Originate), ``dest`` the callee."""

    NAME: ClassVar[str] = "DialBegin"
    channel: ChannelSnapshot | None
    dest: ChannelSnapshot
    dial_string: str


@dataclass(frozen=True, slots=True)
class DialState(AmiEvent):
    """A dial attempt progressed (RINGING, PROCEEDING, PROGRESS)."""

    NAME: ClassVar[str] = "DialState"
    channel: ChannelSnapshot | None
    dest: ChannelSnapshot
    dial_status: str
    forward: str | None


@dataclass(frozen=True, slots=True)
class DialEnd(AmiEvent):
    """A dial attempt ended (ANSWER, BUSY, NOANSWER, CANCEL, CONGESTION, CHANUNAVAIL)."""

    NAME: ClassVar[str] = "DialEnd"
    channel: ChannelSnapshot | None
    dest: ChannelSnapshot
    dial_status: str
    forward: str | None


@dataclass(frozen=True, slots=True)
class BridgeCreate(AmiEvent):
    """A bridge was created."""

    NAME: ClassVar[str] = "BridgeCreate"
    bridge: BridgeInfo


@dataclass(frozen=True, slots=True)
class BridgeDestroy(AmiEvent):
    """A bridge was destroyed."""

    NAME: ClassVar[str] = "BridgeDestroy"
    bridge: BridgeInfo


@dataclass(frozen=True, slots=True)
class BridgeEnter(ChannelEvent):
    """A channel entered a bridge (``swap_uniqueid`` when it replaced another)."""

    NAME: ClassVar[str] = "BridgeEnter"
    bridge: BridgeInfo
    swap_uniqueid: str | None


@dataclass(frozen=True, slots=True)
class BridgeLeave(ChannelEvent):
    """A channel left a bridge."""

    NAME: ClassVar[str] = "BridgeLeave"
    bridge: BridgeInfo


@dataclass(frozen=True, slots=True)
class DTMFBegin(ChannelEvent):
    """A DTMF digit started (``direction`` Received or Sent)."""

    NAME: ClassVar[str] = "DTMFBegin"
    digit: str
    direction: str


@dataclass(frozen=True, slots=True)
class DTMFEnd(ChannelEvent):
    """A DTMF digit ended."""

    NAME: ClassVar[str] = "DTMFEnd"
    digit: str
    duration_ms: int
    direction: str


@dataclass(frozen=True, slots=True)
class HangupRequest(ChannelEvent):
    """A hangup was requested for the channel (remote hangup); Q.850 cause if known."""

    NAME: ClassVar[str] = "HangupRequest"
    cause: int | None
    tech_cause: str | None


@dataclass(frozen=True, slots=True)
class SoftHangupRequest(ChannelEvent):
    """A soft hangup was requested; ``cause`` is a soft-hangup flag, not a Q.850 code."""

    NAME: ClassVar[str] = "SoftHangupRequest"
    cause: int | None
    tech_cause: str | None


@dataclass(frozen=True, slots=True)
class Hangup(ChannelEvent):
    """The channel is gone: Q.850 ``cause`` (16 Normal Clearing) and its text."""

    NAME: ClassVar[str] = "Hangup"
    cause: int
    cause_txt: str
    tech_cause: str | None


@dataclass(frozen=True, slots=True)
class DeviceStateChange(AmiEvent):
    """A device (agent phone) changed state; also the DeviceStateList item (with ActionID)."""

    NAME: ClassVar[str] = "DeviceStateChange"
    device: str
    state: str
    action_id: str | None


@dataclass(frozen=True, slots=True)
class FullyBooted(AmiEvent):
    """Asterisk finished booting (sent after login)."""

    NAME: ClassVar[str] = "FullyBooted"
    status: str
    uptime: int | None
    last_reload: int | None


@dataclass(frozen=True, slots=True)
class Shutdown(AmiEvent):
    """Asterisk is stopping; every session is about to close."""

    NAME: ClassVar[str] = "Shutdown"
    shutdown: str
    restart: bool


@dataclass(frozen=True, slots=True)
class OriginateResponse(AmiEvent):
    """Outcome of an Async Originate; ``reason`` 4 answered, 5 busy, 8 congestion, 3 no answer."""

    NAME: ClassVar[str] = "OriginateResponse"
    action_id: str | None
    response: str
    channel: str
    context: str | None
    exten: str | None
    application: str | None
    data: str | None
    reason: int
    uniqueid: str | None
    caller_num: str | None
    caller_name: str | None

    @property
    def success(self) -> bool:
        """True when the originated call was answered."""
        return self.response == "Success"


@dataclass(frozen=True, slots=True)
class CoreShowChannel(ChannelEvent):
    """A CoreShowChannels list item: a live channel and what it runs."""

    NAME: ClassVar[str] = "CoreShowChannel"
    action_id: str | None
    application: str
    application_data: str
    duration: str
    bridge_id: str | None


@dataclass(frozen=True, slots=True)
class ListComplete(AmiEvent):
    """The end of a list response (``EventList: Complete``), e.g. CoreShowChannelsComplete."""

    name: str
    action_id: str | None
    list_items: int | None


@dataclass(frozen=True, slots=True)
class AGIExecStart(ChannelEvent):
    """A FastAGI command started on the channel."""

    NAME: ClassVar[str] = "AGIExecStart"
    command_id: str
    command: str


@dataclass(frozen=True, slots=True)
class AGIExecEnd(ChannelEvent):
    """A FastAGI command ended with ``result_code`` (200, 510, 511, 520)."""

    NAME: ClassVar[str] = "AGIExecEnd"
    command_id: str
    command: str
    result_code: int
    result: str


@dataclass(frozen=True, slots=True)
class MixMonitorStart(ChannelEvent):
    """Recording started on the channel."""

    NAME: ClassVar[str] = "MixMonitorStart"


@dataclass(frozen=True, slots=True)
class MixMonitorStop(ChannelEvent):
    """Recording stopped on the channel."""

    NAME: ClassVar[str] = "MixMonitorStop"


@dataclass(frozen=True, slots=True)
class MusicOnHoldStart(ChannelEvent):
    """Music on hold started (class ``moh_class``)."""

    NAME: ClassVar[str] = "MusicOnHoldStart"
    moh_class: str


@dataclass(frozen=True, slots=True)
class MusicOnHoldStop(ChannelEvent):
    """Music on hold stopped."""

    NAME: ClassVar[str] = "MusicOnHoldStop"


# --- events made by the client (not on the wire) -----------------------------------------------


@dataclass(frozen=True, slots=True)
class AmiConnected(AmiEvent):
    """The client logged in (``reconnect`` counts earlier sessions); a resync follows."""

    NAME: ClassVar[str] = "AmiConnected"
    version: str | None
    reconnect: int


@dataclass(frozen=True, slots=True)
class AmiDisconnected(AmiEvent):
    """The connection dropped (or went silent); events are lost until the next resync."""

    NAME: ClassVar[str] = "AmiDisconnected"
    reason: str


@dataclass(frozen=True, slots=True)
class ChannelsResync(AmiEvent):
    """Every live channel per CoreShowChannels, delivered in stream order right after the list."""

    NAME: ClassVar[str] = "ChannelsResync"
    channels: tuple[CoreShowChannel, ...]


@dataclass(frozen=True, slots=True)
class DevicesResync(AmiEvent):
    """Every device state per DeviceStateList, delivered in stream order right after the list."""

    NAME: ClassVar[str] = "DevicesResync"
    devices: tuple[DeviceStateChange, ...]


@dataclass(frozen=True, slots=True)
class QueuesResync(AmiEvent):
    """QueueStatus items (QueueParams/QueueMember/QueueEntry), when queue resync is enabled."""

    NAME: ClassVar[str] = "QueuesResync"
    items: tuple[AmiEvent, ...]


# --- translation -------------------------------------------------------------------------------


def _dial(f: Frame) -> tuple[ChannelSnapshot | None, ChannelSnapshot]:
    return _opt_snap(f), ChannelSnapshot.from_frame(f, "Dest")


_Builder = Callable[[Frame], AmiEvent]

_BUILDERS: dict[str, _Builder] = {
    "Newchannel": lambda f: Newchannel(_snap(f)),
    "Newstate": lambda f: Newstate(_snap(f)),
    "Newexten": lambda f: Newexten(
        _snap(f), f.get("Extension") or "", f.get("Application") or "", f.get("AppData") or ""
    ),
    "VarSet": lambda f: VarSet(_opt_snap(f), _req(f, "Variable"), f.get("Value") or ""),
    "NewCallerid": lambda f: NewCallerid(_snap(f), f.get("CID-CallingPres") or ""),
    "NewConnectedLine": lambda f: NewConnectedLine(_snap(f)),
    "DialBegin": lambda f: DialBegin(*_dial(f), f.get("DialString") or ""),
    "DialState": lambda f: DialState(*_dial(f), _req(f, "DialStatus"), f.get("Forward") or None),
    "DialEnd": lambda f: DialEnd(*_dial(f), _req(f, "DialStatus"), f.get("Forward") or None),
    "BridgeCreate": lambda f: BridgeCreate(BridgeInfo.from_frame(f)),
    "BridgeDestroy": lambda f: BridgeDestroy(BridgeInfo.from_frame(f)),
    "BridgeEnter": lambda f: BridgeEnter(_snap(f), BridgeInfo.from_frame(f), f.get("SwapUniqueid") or None),
    "BridgeLeave": lambda f: BridgeLeave(_snap(f), BridgeInfo.from_frame(f)),
    "DTMFBegin": lambda f: DTMFBegin(_snap(f), _req(f, "Digit"), f.get("Direction") or ""),
    "DTMFEnd": lambda f: DTMFEnd(
        _snap(f), _req(f, "Digit"), _opt_int(f, "DurationMs") or 0, f.get("Direction") or ""
    ),
    "HangupRequest": lambda f: HangupRequest(_snap(f), _opt_int(f, "Cause"), f.get("TechCause")),
    "SoftHangupRequest": lambda f: SoftHangupRequest(_snap(f), _opt_int(f, "Cause"), f.get("TechCause")),
    "Hangup": lambda f: Hangup(_snap(f), _int(f, "Cause"), f.get("Cause-txt") or "", f.get("TechCause")),
    "DeviceStateChange": lambda f: DeviceStateChange(_req(f, "Device"), _req(f, "State"), f.get("ActionID")),
    "FullyBooted": lambda f: FullyBooted(
        f.get("Status") or "", _opt_int(f, "Uptime"), _opt_int(f, "LastReload")
    ),
    "Shutdown": lambda f: Shutdown(f.get("Shutdown") or "", _flag(f.get("Restart"))),
    "OriginateResponse": lambda f: OriginateResponse(
        action_id=f.get("ActionID"),
        response=_req(f, "Response"),
        channel=f.get("Channel") or "",
        context=f.get("Context"),
        exten=f.get("Exten"),
        application=f.get("Application"),
        data=f.get("Data"),
        reason=_opt_int(f, "Reason") or 0,
        uniqueid=_cid(f.get("Uniqueid")),
        caller_num=_cid(f.get("CallerIDNum")),
        caller_name=_cid(f.get("CallerIDName")),
    ),
    "CoreShowChannel": lambda f: CoreShowChannel(
        _snap(f),
        f.get("ActionID"),
        f.get("Application") or "",
        f.get("ApplicationData") or "",
        f.get("Duration") or "",
        f.get("BridgeId") or None,
    ),
    "AGIExecStart": lambda f: AGIExecStart(_snap(f), f.get("CommandId") or "", f.get("Command") or ""),
    "AGIExecEnd": lambda f: AGIExecEnd(
        _snap(f),
        f.get("CommandId") or "",
        f.get("Command") or "",
        _int(f, "ResultCode"),
        f.get("Result") or "",
    ),
    "MixMonitorStart": lambda f: MixMonitorStart(_snap(f)),
    "MixMonitorStop": lambda f: MixMonitorStop(_snap(f)),
    "MusicOnHoldStart": lambda f: MusicOnHoldStart(_snap(f), f.get("Class") or ""),
    "MusicOnHoldStop": lambda f: MusicOnHoldStop(_snap(f)),
    **QUEUE_BUILDERS,
}

#: Event names with a typed class (``UnknownEvent`` covers the rest).
KNOWN_EVENTS = frozenset(_BUILDERS)


def translate(frame: Frame) -> AmiEvent:
    """The typed event for an event frame.

    Raises :class:`MalformedEvent` for a frame that is not an event (no ``Event`` header) or a
    known event with a missing or non-numeric required field.
    """
    name = frame.get("Event")
    if name is None:
        raise MalformedEvent("?", "frame has no Event header (a response is not an event)")
    builder = _BUILDERS.get(name)
    if builder is not None:
        return builder(frame)
    if (frame.get("EventList") or "").lower() == "complete":
        return ListComplete(name, frame.get("ActionID"), _opt_int(frame, "ListItems"))
    headers = list(frame.items())
    if frame.multi:
        # Keep every value of a repeated header, in place of the single first value.
        headers = [(k, v) for k, v in headers if k.lower() not in frame.multi]
        headers += [(k, v) for k, values in frame.multi.items() for v in values]
    return UnknownEvent(name, tuple(headers))
