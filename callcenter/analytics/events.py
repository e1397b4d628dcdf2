"""The small input vocabulary analytics is built from: call-progress and agent-state events (pure).

These are deliberately our own, not the AMI event types: an adapter (written later) maps typed
AMI/AGI events and the IVR/ACD decisions onto them, so analytics does not change when the
telephony layer does.  Every event is a frozen, hashable value; two deliveries of the same
event (a replay after an AMI reconnect) are equal, which is what makes fact building idempotent.
Times are timezone-aware ``datetime`` values supplied by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = [
    "AfterHours",
    "AgentEvent",
    "AgentLoggedIn",
    "AgentLoggedOut",
    "AgentPaused",
    "AgentRang",
    "AgentUnpaused",
    "Answered",
    "CallArrived",
    "CallEvent",
    "CallbackRequested",
    "HoldEnded",
    "HoldStarted",
    "Hungup",
    "IvrLeft",
    "IvrStep",
    "QueueEntered",
    "QueueLeft",
    "RingEnded",
    "SurvivalPath",
    "Transferred",
    "WrapUpEnded",
]


@dataclass(frozen=True, slots=True)
class CallArrived:
    """A call reached the line; ``caller`` is personal data (never log it unmasked)."""

    linkedid: str
    at: datetime
    caller: str
    did: str


@dataclass(frozen=True, slots=True)
class IvrStep:
    """The IVR entered a node (the path is the sequence of these)."""

    linkedid: str
    at: datetime
    node: str


@dataclass(frozen=True, slots=True)
class IvrLeft:
    """The IVR part of the call is over (the call goes to a queue, a transfer, or ends)."""

    linkedid: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AfterHours:
    """The IVR found the line (or ``queue``) closed and played the after-hours branch."""

    linkedid: str
    at: datetime
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class QueueEntered:
    """The caller started waiting in ``queue``."""

    linkedid: str
    at: datetime
    queue: str


@dataclass(frozen=True, slots=True)
class QueueLeft:
    """The queue sent the caller elsewhere without an answer (timeout, full, empty, exit key)."""

    linkedid: str
    at: datetime
    queue: str
    reason: Literal["timeout", "full", "empty", "key"]


@dataclass(frozen=True, slots=True)
class AgentRang:
    """The router offered the call to ``agent``; their device started ringing."""

    linkedid: str
    at: datetime
    agent: str


@dataclass(frozen=True, slots=True)
class RingEnded:
    """A ring ended without an answer (no answer, busy, rejected)."""

    linkedid: str
    at: datetime
    agent: str
    result: Literal["noanswer", "busy", "rejected"] = "noanswer"


@dataclass(frozen=True, slots=True)
class Answered:
    """``agent`` answered; the caller's queue wait ends here."""

    linkedid: str
    at: datetime
    agent: str


@dataclass(frozen=True, slots=True)
class HoldStarted:
    """The agent put the caller on hold."""

    linkedid: str
    at: datetime
    agent: str


@dataclass(frozen=True, slots=True)
class HoldEnded:
    """The agent took the caller off hold."""

    linkedid: str
    at: datetime
    agent: str


@dataclass(frozen=True, slots=True)
class Transferred:
    """The call was transferred to ``target`` by ``agent`` (or by the IVR when agent is None)."""

    linkedid: str
    at: datetime
    target: str
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    """The caller chose a callback that keeps their place in ``queue``."""

    linkedid: str
    at: datetime
    queue: str


@dataclass(frozen=True, slots=True)
class SurvivalPath:
    """The backend was unavailable; the dialplan's survival queue/voicemail took the call."""

    linkedid: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Hungup:
    """The call ended; ``by`` says which side (``system`` = the IVR or the PBX ended it)."""

    linkedid: str
    at: datetime
    by: Literal["caller", "agent", "system"] = "caller"


@dataclass(frozen=True, slots=True)
class WrapUpEnded:
    """``agent`` finished the after-call work for this call."""

    linkedid: str
    at: datetime
    agent: str


CallEvent = (
    CallArrived
    | IvrStep
    | IvrLeft
    | AfterHours
    | QueueEntered
    | QueueLeft
    | AgentRang
    | RingEnded
    | Answered
    | HoldStarted
    | HoldEnded
    | Transferred
    | CallbackRequested
    | SurvivalPath
    | Hungup
    | WrapUpEnded
)


@dataclass(frozen=True, slots=True)
class AgentLoggedIn:
    """``agent`` logged in to serve ``queues``."""

    agent: str
    at: datetime
    queues: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AgentPaused:
    """``agent`` paused with ``reason`` (``wrapup`` is after-call work, not a break)."""

    agent: str
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class AgentUnpaused:
    """``agent`` became available again."""

    agent: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AgentLoggedOut:
    """``agent`` logged out."""

    agent: str
    at: datetime


AgentEvent = AgentLoggedIn | AgentPaused | AgentUnpaused | AgentLoggedOut
