"""Typed app_queue events (PROTOCOL.md A9): callers, agents and members, and their builders.

Split out of :mod:`events`, which re-exports every class and uses :data:`QUEUE_BUILDERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from .ami_event_base import (
    AmiEvent,
    ChannelEvent,
    ChannelSnapshot,
    QueueMemberInfo,
    _int,
    _opt_snap,
    _req,
    _snap,
)
from .ami_frames import Frame

__all__ = [
    "QUEUE_BUILDERS",
    "AgentCalled",
    "AgentComplete",
    "AgentConnect",
    "AgentEvent",
    "AgentRingNoAnswer",
    "QueueCallerAbandon",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueMember",
    "QueueMemberAdded",
    "QueueMemberEvent",
    "QueueMemberPause",
    "QueueMemberRemoved",
    "QueueMemberStatus",
]


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


def _agent_fields(f: Frame) -> tuple[ChannelSnapshot, ChannelSnapshot | None, str, str, str]:
    return (
        _snap(f),
        _opt_snap(f, "Dest"),
        _req(f, "Queue"),
        f.get("Interface") or "",
        f.get("MemberName") or "",
    )


#: Builders for the events above, keyed by wire name (merged into ``events.translate``).
QUEUE_BUILDERS: dict[str, Callable[[Frame], AmiEvent]] = {
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
}
