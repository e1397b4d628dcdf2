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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from typing import ClassVar

from callcenter.errors import TelephonyError

from .ami_frames import Frame

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


class MalformedEvent(TelephonyError, ValueError):
    """A known event lacks a required header or has a value of the wrong form."""

    def __init__(self, event: str, problem: str) -> None:
        self.event = event
        self.problem = problem
        super().__init__(f"malformed AMI event {event}: {problem}")


# --- value helpers -----------------------------------------------------------------------------


def _req(frame: Frame, name: str) -> str:
    value = frame.get(name)
    if value is None:
        raise MalformedEvent(frame.get("Event") or "?", f"missing header {name}")
    return value


def _int(frame: Frame, name: str) -> int:
    raw = _req(frame, name)
    try:
        return int(raw)
    except ValueError:
        raise MalformedEvent(frame.get("Event") or "?", f"{name}={raw[:40]!r} is not an integer") from None


def _opt_int(frame: Frame, name: str) -> int | None:
    raw = frame.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise MalformedEvent(frame.get("Event") or "?", f"{name}={raw[:40]!r} is not an integer") from None


def _cid(value: str | None) -> str | None:
    if value is None or value in _NO_CID:
        return None
    return value


def _flag(value: str | None) -> bool:
    return value is not None and value.strip().lower() in {"1", "yes", "true", "on"}


# --- shared parts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    """Asterisk's channel snapshot block (``ast_manager_build_channel_state_string_prefix``)."""

    channel: str
    state: int
    state_desc: str
    caller_num: str | None
    caller_name: str | None
    connected_num: str | None
    connected_name: str | None
    language: str
    account_code: str
    context: str
    exten: str
    priority: int
    uniqueid: str
    linkedid: str
    #: ``ChanVariable: NAME=value`` lines (from ``channelvars=``), in wire order
    variables: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_frame(cls, frame: Frame, prefix: str = "") -> ChannelSnapshot:
        """Read the block whose names start with ``prefix`` (``""`` or ``"Dest"``)."""
        names = _SNAPSHOT_NAMES.get(prefix)
        if names is None:
            names = tuple(prefix + name for name in _SNAPSHOT_FIELDS)
        # All 14 lookups in one C-level pass with Asterisk's own spelling; only if one is absent
        # do we pay for case-insensitive lookups (which may also find a differently-cased name).
        values = list(map(_dict_get, repeat(frame, 14), names))
        if None in values:
            values = list(map(frame.get, names))
        (channel, state, state_desc, cid_num, cid_name, cl_num, cl_name) = values[:7]
        (language, account, context, exten, priority, uniqueid, linkedid) = values[7:]
        if channel is None or uniqueid is None:
            missing = names[0] if channel is None else names[12]
            raise MalformedEvent(frame.get("Event") or "?", f"missing header {missing}")
        try:
            prio = int(priority) if priority else 0
        except ValueError:
            prio = 0  # a label priority in a snapshot is legal dialplan; 0 marks "not numeric"
        try:
            state_num = int(state) if state else 0
        except ValueError:
            raise MalformedEvent(frame.get("Event") or "?", f"{prefix}ChannelState={state!r}") from None
        variables: tuple[tuple[str, str], ...] = ()
        if not prefix and (frame.multi is not None or _dict_get(frame, "ChanVariable") is not None):
            variables = tuple(_split_var(v) for v in frame.getall("ChanVariable"))
        return cls(
            channel,
            state_num,
            state_desc or "",
            None if cid_num in _NO_CID else cid_num,
            None if cid_name in _NO_CID else cid_name,
            None if cl_num in _NO_CID else cl_num,
            None if cl_name in _NO_CID else cl_name,
            language or "",
            account or "",
            context or "",
            exten or "",
            prio,
            uniqueid,
            linkedid or uniqueid,
            variables,
        )


_SNAPSHOT_FIELDS = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)
_SNAPSHOT_NAMES = {prefix: tuple(prefix + name for name in _SNAPSHOT_FIELDS) for prefix in ("", "Dest")}
# Asterisk writes a missing caller ID as "<unknown>" (PROTOCOL A5).
_NO_CID = frozenset({"", "<unknown>"})
_dict_get = dict.get


def _split_var(raw: str) -> tuple[str, str]:
    name, _, value = raw.partition("=")
    return name, value


def _snap(frame: Frame) -> ChannelSnapshot:
    return ChannelSnapshot.from_frame(frame)


def _opt_snap(frame: Frame, prefix: str = "") -> ChannelSnapshot | None:
    if frame.get(prefix + "Channel") is None:
        return None
    return ChannelSnapshot.from_frame(frame, prefix)


@dataclass(frozen=True, slots=True)
class BridgeInfo:
    """The bridge snapshot carried by Bridge* events."""

    uniqueid: str
    type: str
    technology: str
    creator: str
    name: str
    num_channels: int
    video_source_mode: str

    @classmethod
    def from_frame(cls, frame: Frame) -> BridgeInfo:
        """Read the ``Bridge*`` headers."""
        return cls(
            uniqueid=_req(frame, "BridgeUniqueid"),
            type=frame.get("BridgeType") or "",
            technology=frame.get("BridgeTechnology") or "",
            creator=frame.get("BridgeCreator") or "",
            name=frame.get("BridgeName") or "",
            num_channels=_opt_int(frame, "BridgeNumChannels") or 0,
            video_source_mode=frame.get("BridgeVideoSourceMode") or "",
        )


@dataclass(frozen=True, slots=True)
class QueueMemberInfo:
    """The member block of QueueMember* events (no snapshot; PROTOCOL A9)."""

    queue: str
    member_name: str
    interface: str
    state_interface: str
    membership: str
    penalty: int
    calls_taken: int
    last_call: int
    last_pause: int
    login_time: int
    in_call: bool
    status: int
    paused: bool
    paused_reason: str
    wrapuptime: int

    @classmethod
    def from_frame(cls, frame: Frame) -> QueueMemberInfo:
        """Read the member headers (``Name``/``Location`` in QueueStatus items)."""
        interface = frame.get("Interface") or frame.get("Location")
        return cls(
            queue=_req(frame, "Queue"),
            member_name=frame.get("MemberName") or frame.get("Name") or "",
            interface=interface if interface is not None else _req(frame, "Interface"),
            state_interface=frame.get("StateInterface") or "",
            membership=frame.get("Membership") or "",
            penalty=_opt_int(frame, "Penalty") or 0,
            calls_taken=_opt_int(frame, "CallsTaken") or 0,
            last_call=_opt_int(frame, "LastCall") or 0,
            last_pause=_opt_int(frame, "LastPause") or 0,
            login_time=_opt_int(frame, "LoginTime") or 0,
            in_call=_flag(frame.get("InCall")),
            status=_int(frame, "Status"),
            paused=_flag(frame.get("Paused")),
            paused_reason=frame.get("PausedReason") or "",
            wrapuptime=_opt_int(frame, "Wrapuptime") or 0,
        )


# --- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AmiEvent:
    """Base of every typed AMI event; ``NAME`` is the wire ``Event:`` value."""

    NAME: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class UnknownEvent(AmiEvent):
    """An event without a typed class here; all headers kept in wire order."""

    name: str
    headers: tuple[tuple[str, str], ...]

    def get(self, header: str) -> str | None:
        """The first value of ``header`` (any case), or None."""
        lower = header.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None


@dataclass(frozen=True, slots=True)
class ChannelEvent(AmiEvent):
    """An event about one channel."""

    channel: ChannelSnapshot


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
class QueueCallerJoin(ChannelEvent):
    """A caller joined an app_queue queue."""

    NAME: ClassVar[str] = "QueueCallerJoin"
    queue: str
    position: int
    count: int


@dataclass(frozen=True, slots=True)
class QueueCallerLeave(ChannelEvent):
    """A caller left the queue (also when connected); ``count`` is after leaving."""

    NAME: ClassVar[str] = "QueueCallerLeave"
    queue: str
    position: int
    count: int


@dataclass(frozen=True, slots=True)
class QueueCallerAbandon(ChannelEvent):
    """A caller hung up while waiting; ``hold_time`` in seconds."""

    NAME: ClassVar[str] = "QueueCallerAbandon"
    queue: str
    position: int
    original_position: int
    hold_time: int


@dataclass(frozen=True, slots=True)
class AgentEvent(ChannelEvent):
    """An app_queue agent event: the caller's snapshot, the agent leg as ``dest``."""

    dest: ChannelSnapshot | None
    queue: str
    interface: str
    member_name: str


@dataclass(frozen=True, slots=True)
class AgentCalled(AgentEvent):
    """An agent's device is being rung for a queue caller."""

    NAME: ClassVar[str] = "AgentCalled"


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer(AgentEvent):
    """The agent did not answer; ``ring_time_ms`` in milliseconds."""

    NAME: ClassVar[str] = "AgentRingNoAnswer"
    ring_time_ms: int


@dataclass(frozen=True, slots=True)
class AgentConnect(AgentEvent):
    """The agent answered; ``hold_time`` and ``ring_time`` in seconds."""

    NAME: ClassVar[str] = "AgentConnect"
    hold_time: int
    ring_time: int


@dataclass(frozen=True, slots=True)
class AgentComplete(AgentEvent):
    """The queue call ended; ``reason`` is caller, agent or transfer."""

    NAME: ClassVar[str] = "AgentComplete"
    hold_time: int
    talk_time: int
    reason: str


@dataclass(frozen=True, slots=True)
class QueueMemberEvent(AmiEvent):
    """A queue member event or a QueueStatus ``QueueMember`` list item."""

    member: QueueMemberInfo
    action_id: str | None


@dataclass(frozen=True, slots=True)
class QueueMemberStatus(QueueMemberEvent):
    """A member's device state changed."""

    NAME: ClassVar[str] = "QueueMemberStatus"


@dataclass(frozen=True, slots=True)
class QueueMemberPause(QueueMemberEvent):
    """A member was paused or unpaused."""

    NAME: ClassVar[str] = "QueueMemberPause"


@dataclass(frozen=True, slots=True)
class QueueMemberAdded(QueueMemberEvent):
    """A member was added to a queue."""

    NAME: ClassVar[str] = "QueueMemberAdded"


@dataclass(frozen=True, slots=True)
class QueueMemberRemoved(QueueMemberEvent):
    """A member was removed from a queue."""

    NAME: ClassVar[str] = "QueueMemberRemoved"


@dataclass(frozen=True, slots=True)
class QueueMember(QueueMemberEvent):
    """A QueueStatus list item describing one member."""

    NAME: ClassVar[str] = "QueueMember"


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


def _agent_fields(f: Frame) -> tuple[ChannelSnapshot, ChannelSnapshot | None, str, str, str]:
    return (
        _snap(f),
        _opt_snap(f, "Dest"),
        _req(f, "Queue"),
        f.get("Interface") or "",
        f.get("MemberName") or "",
    )


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
    "QueueCallerJoin": lambda f: QueueCallerJoin(
        _snap(f), _req(f, "Queue"), _int(f, "Position"), _int(f, "Count")
    ),
    "QueueCallerLeave": lambda f: QueueCallerLeave(
        _snap(f), _req(f, "Queue"), _int(f, "Position"), _int(f, "Count")
    ),
    "QueueCallerAbandon": lambda f: QueueCallerAbandon(
        _snap(f), _req(f, "Queue"), _int(f, "Position"), _int(f, "OriginalPosition"), _int(f, "HoldTime")
    ),
    "AgentCalled": lambda f: AgentCalled(*_agent_fields(f)),
    "AgentRingNoAnswer": lambda f: AgentRingNoAnswer(*_agent_fields(f), _int(f, "RingTime")),
    "AgentConnect": lambda f: AgentConnect(*_agent_fields(f), _int(f, "HoldTime"), _int(f, "RingTime")),
    "AgentComplete": lambda f: AgentComplete(
        *_agent_fields(f), _int(f, "HoldTime"), _int(f, "TalkTime"), f.get("Reason") or ""
    ),
    "QueueMemberStatus": lambda f: QueueMemberStatus(QueueMemberInfo.from_frame(f), f.get("ActionID")),
    "QueueMemberPause": lambda f: QueueMemberPause(QueueMemberInfo.from_frame(f), f.get("ActionID")),
    "QueueMemberAdded": lambda f: QueueMemberAdded(QueueMemberInfo.from_frame(f), f.get("ActionID")),
    "QueueMemberRemoved": lambda f: QueueMemberRemoved(QueueMemberInfo.from_frame(f), f.get("ActionID")),
    "QueueMember": lambda f: QueueMember(QueueMemberInfo.from_frame(f), f.get("ActionID")),
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
