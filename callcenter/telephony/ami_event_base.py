"""The base of the typed AMI events: the snapshot blocks, the base classes and value helpers.

Split out of :mod:`events` (which re-exports everything public here) so that the event families
can live in modules of a readable size. Field meanings follow PROTOCOL.md A5–A9.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import ClassVar

from callcenter.errors import TelephonyError

from .ami_frames import Frame

__all__ = [
    "AmiEvent",
    "BridgeInfo",
    "ChannelEvent",
    "ChannelSnapshot",
    "MalformedEvent",
    "QueueMemberInfo",
    "UnknownEvent",
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
