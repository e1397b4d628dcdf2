"""Value types of the ACD: configuration, agent states, and the decisions the router returns.

Everything here is immutable. The router (``callcenter.acd.router``) reacts to events and returns
lists of the decision types below; the telephony adapter carries them out (rings an agent with
``EXEC Dial``, originates a callback, cancels a ring, publishes a state change to supervisors).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "AcdConfig",
    "AgentConfig",
    "AgentState",
    "AgentStateChanged",
    "AgentView",
    "Assignment",
    "CallbackGaveUp",
    "CallbackRequested",
    "CallbackScheduled",
    "CallerLeft",
    "CallerMoved",
    "CallerView",
    "CancelRing",
    "Decision",
    "OverflowStep",
    "QueueConfig",
    "QueueStats",
    "SkillConfig",
    "SkillsWidened",
    "Strategy",
]


class AgentState(StrEnum):
    """Where an agent is; ``PAUSED`` carries a reason (``no_answer``, ``break``, ``wrap_up`` …)."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class Strategy(StrEnum):
    """How a queue picks among several available agents (callers always go best-first)."""

    LONGEST_IDLE = "longest_idle"
    FEWEST_CALLS = "fewest_calls"
    ROUND_ROBIN = "round_robin"
    SKILLS_WEIGHTED = "skills_weighted"


@dataclass(frozen=True)
class SkillConfig:
    """A skill agents can have at a level from 1 (basic) to 5 (expert)."""

    name: str
    title: str = ""


@dataclass(frozen=True)
class OverflowStep:
    """After ``after_s`` seconds in a queue, move the caller to ``to_queue`` or widen its skills.

    Widening drops the caller's extra skill requirements and lowers every queue skill to level 1.
    """

    after_s: float
    to_queue: str | None = None
    widen_skills: bool = False


@dataclass(frozen=True)
class QueueConfig:
    """One queue's rules; defaults follow common practice (80 % in 20 s, 60 s of priority aging)."""

    name: str
    title: str = ""
    strategy: Strategy = Strategy.LONGEST_IDLE
    #: skill name → minimum level an agent needs to take this queue's calls
    skills: Mapping[str, int] = field(default_factory=dict)
    schedule: str | None = None
    sl_target_s: float = 20.0
    sl_goal: float = 0.8
    #: after this many seconds a waiting caller leaves the queue (``CallerLeft(reason="timeout")``)
    max_wait_s: float | None = None
    overflow: tuple[OverflowStep, ...] = ()
    wrap_up_s: float = 0.0
    ring_timeout_s: float = 15.0
    #: pause an agent (reason ``no_answer``) after this many unanswered rings in a row; 0 = never
    auto_pause_after: int = 0
    #: one priority level is worth this many seconds of waiting (the aging rate)
    priority_step_s: float = 60.0
    #: skills-weighted strategy: one skill level is worth this many seconds of idle time
    skill_weight_s: float = 30.0
    #: handle time assumed before any call has been measured, for the wait estimate
    default_aht_s: float = 180.0
    callback_max_attempts: int = 3
    callback_retry_s: float = 300.0
    #: when the schedule closes, callers still holding leave (``CallerLeft(reason="closed")``,
    #: on the next ``tick``) instead of being served by the agents still logged in
    close_waiting: bool = False


@dataclass(frozen=True)
class AgentConfig:
    """An agent (operator): identity, the device to ring, and skills with levels."""

    id: str
    name: str = ""
    device: str = ""
    skills: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AcdConfig:
    """Queues, agents, skills and priority categories, as loaded from ``queue/*.yaml``."""

    queues: Mapping[str, QueueConfig]
    agents: Mapping[str, AgentConfig] = field(default_factory=dict)
    skills: Mapping[str, SkillConfig] = field(default_factory=dict)
    #: where callers of a removed queue go when it has no overflow queue
    default_queue: str | None = None
    #: applicant category or IVR choice → priority level (higher is served sooner)
    priority_categories: Mapping[str, int] = field(default_factory=dict)
    #: weight of the newest handle time in the exponentially weighted average handle time
    aht_alpha: float = 0.02

    def priority_of(self, categories: Iterable[str], base: int = 0) -> int:
        """The highest priority among ``categories`` (unknown ones count as ``base``)."""
        return max([base, *(self.priority_categories.get(c, base) for c in categories)])


# ---- decisions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """Ring ``agent_id`` for ``call_id``.

    For a callback (``is_callback``) the adapter originates to the agent first and, once the
    agent answers, dials ``contact``; ``attempt`` counts callback attempts from 1.
    """

    call_id: str
    agent_id: str
    queue: str
    waited_s: float
    ring_timeout_s: float
    is_callback: bool = False
    attempt: int = 0
    contact: str | None = None


@dataclass(frozen=True)
class CancelRing:
    """Stop ringing ``agent_id`` for ``call_id`` (the caller hung up, or the agent logged out)."""

    call_id: str
    agent_id: str
    reason: str


@dataclass(frozen=True)
class AgentStateChanged:
    """An agent entered ``state`` at ``at`` (``reason`` is set for pauses)."""

    agent_id: str
    state: AgentState
    at: float
    reason: str | None = None


@dataclass(frozen=True)
class CallerMoved:
    """A caller moved from one queue to another, keeping its place by arrival time."""

    call_id: str
    from_queue: str
    to_queue: str
    reason: str


@dataclass(frozen=True)
class SkillsWidened:
    """A caller's skill requirements were relaxed after waiting too long."""

    call_id: str
    queue: str


@dataclass(frozen=True)
class CallerLeft:
    """A caller is no longer in any queue: ``timeout`` (max wait), ``closed`` or ``no_queue``."""

    call_id: str
    queue: str
    reason: str
    waited_s: float


@dataclass(frozen=True)
class CallbackRequested:
    """The caller hung up to be called back; the entry keeps its place at ``position``."""

    call_id: str
    queue: str
    position: int


@dataclass(frozen=True)
class CallbackScheduled:
    """A callback attempt failed; the entry re-enters its place at ``due_at``."""

    call_id: str
    queue: str
    attempt: int
    due_at: float


@dataclass(frozen=True)
class CallbackGaveUp:
    """Every callback attempt failed; the entry is dropped (the appeal keeps the record)."""

    call_id: str
    queue: str
    attempts: int


Decision = (
    Assignment
    | CancelRing
    | AgentStateChanged
    | CallerMoved
    | SkillsWidened
    | CallerLeft
    | CallbackRequested
    | CallbackScheduled
    | CallbackGaveUp
)


# ---- snapshots for supervisors and announcements ------------------------------------------


@dataclass(frozen=True)
class CallerView:
    """A waiting caller or a pending callback, as supervisors and announcements see it."""

    call_id: str
    queue: str
    priority: int
    effective_priority: float
    waited_s: float
    status: str
    is_callback: bool
    attempts: int
    position: int | None


@dataclass(frozen=True)
class AgentView:
    """An agent's state and how long it has been in it."""

    agent_id: str
    state: AgentState
    reason: str | None
    time_in_state_s: float
    calls_taken: int
    call_id: str | None


@dataclass(frozen=True)
class QueueStats:
    """Live figures of one queue since the router started (or was last reset)."""

    queue: str
    waiting: int
    callbacks_pending: int
    longest_wait_s: float
    agents_staffed: int
    agents_available: int
    offered: int
    answered: int
    answered_in_sl: int
    abandoned: int
    timed_out: int
    callbacks_requested: int
    callbacks_answered: int
    aht_s: float
    service_level: float | None
    ewt_new_caller_s: float | None
