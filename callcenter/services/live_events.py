"""The live events published on the in-process bus, shared by publishers and subscribers.

Topics: ``"calls"`` (a call's progress: arrived, queued, offered to an agent, connected,
finished), ``"acd"`` (agent and queue changes: the ACD core's decisions are published as they
are), ``"appeals"`` (a record registered or changed). The agent desk pops its card on
``CallOffered``; the wallboard refreshes on any of them.

``CallOffered`` carries the caller's number because the desk must show it; the bus is in-process
and the desk serves it only to the agent it is offered to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "TOPIC_ACD",
    "TOPIC_APPEALS",
    "TOPIC_CALLS",
    "CallArrived",
    "CallConnected",
    "CallFinished",
    "CallHoldChanged",
    "CallOffered",
    "CallQueued",
    "CallTransferred",
]

TOPIC_CALLS = "calls"
TOPIC_ACD = "acd"
TOPIC_APPEALS = "appeals"


@dataclass(frozen=True, slots=True)
class CallArrived:
    """A call reached the backend (its FastAGI session started)."""

    linkedid: str
    uniqueid: str
    caller: str | None
    dnid: str | None
    flow: str
    at: float


@dataclass(frozen=True, slots=True)
class CallQueued:
    """The IVR handed the caller to a queue."""

    linkedid: str
    queue: str
    priority: int
    at: float


@dataclass(frozen=True, slots=True)
class CallOffered:
    """An agent's phone is ringing with this call (the screen-pop moment)."""

    linkedid: str
    uniqueid: str
    agent_id: str
    queue: str
    waited_s: float
    caller: str | None
    language: str | None
    topic: str | None
    ivr_path: tuple[str, ...]
    priority: int
    categories: tuple[str, ...] = field(default_factory=tuple)
    is_callback: bool = False
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class CallConnected:
    """The agent answered."""

    linkedid: str
    agent_id: str
    queue: str
    at: float


@dataclass(frozen=True, slots=True)
class CallFinished:
    """The call left the backend; ``outcome`` uses the analytics outcome names.

    ``ivr_path`` is the IVR nodes the caller went through, in order (the call facts keep it).
    """

    linkedid: str
    outcome: str
    queue: str | None
    agent_id: str | None
    at: float
    ivr_path: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CallHoldChanged:
    """The agent put the caller on hold (``held``) or took them off it (AMI MusicOnHold/Hold)."""

    linkedid: str
    agent_id: str
    held: bool
    at: float


@dataclass(frozen=True, slots=True)
class CallTransferred:
    """The agent (or, with ``agent_id`` None, the IVR) transferred the call to ``target``."""

    linkedid: str
    target: str
    agent_id: str | None
    at: float
