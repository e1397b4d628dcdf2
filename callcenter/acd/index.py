"""The router's mutable records and the per-bucket indexes that keep routing off full scans.

A *bucket* is a queue together with one set of skill requirements (the queue's own skills plus
whatever a caller added, e.g. an English-speaking agent). Each bucket keeps two heaps:

* waiting callers, keyed by ``arrival − priority × priority_step_s`` then an arrival sequence.
  Effective priority ``priority + wait / priority_step_s`` grows at the same rate for everyone
  in the queue, so the order of two callers never changes while they wait: the static key *is*
  the aging order, and the heap stays valid without re-keying. A caller of priority ``p`` is
  overtaken only by callers who arrived less than ``(p_max − p) × priority_step_s`` after it,
  a finite set, so nobody starves.
* available eligible agents, keyed by the queue's strategy (idle-since, calls taken, last
  assignment in this queue, or idle-since discounted by skill level). Those keys only change
  when the agent leaves ``available``, so they are static while the entry is live.

Both heaps use lazy deletion: an entry is live only if its token still matches the record's
token (tokens are bumped when a record leaves the state the entry stood for). Heaps are rebuilt
when dead entries outnumber live ones, which keeps memory at O(live) and the amortised cost of
every operation at O(log n).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from enum import StrEnum

from callcenter.acd.model import AgentConfig, AgentState, QueueConfig, Strategy

__all__ = ["AgentRec", "Bucket", "CallerRec", "CallerStatus", "Requirement", "agent_key", "eligible"]

#: sorted (skill, minimum level) pairs
Requirement = tuple[tuple[str, int], ...]


class CallerStatus(StrEnum):
    """Where a caller record is in its life."""

    WAITING = "waiting"
    RINGING = "ringing"
    DELAYED = "delayed"  # a callback waiting for its retry time
    CONNECTED = "connected"


@dataclass(slots=True, eq=False)
class CallerRec:
    """A caller (or a callback that keeps its place) known to the router."""

    call_id: str
    queue: str
    priority: int
    extra: Requirement
    arrival: float
    seq: int
    queue_entered: float
    status: CallerStatus = CallerStatus.WAITING
    widened: bool = False
    stage: int = 0  # next overflow step of the current queue
    token: int = 0  # bumped whenever this record's heap entry goes stale
    epoch: int = 0  # bumped whenever its pending timers go stale (queue change, removal)
    bucket: Bucket | None = None
    agent_id: str | None = None
    callback: bool = False
    contact: str | None = None
    attempts: int = 0
    answered_at: float | None = None

    def key(self, queue: QueueConfig) -> float:
        """Static ordering key: earlier arrival and higher priority come first."""
        return self.arrival - self.priority * queue.priority_step_s


@dataclass(slots=True, eq=False)
class AgentRec:
    """An agent's live state."""

    config: AgentConfig
    order: int
    state: AgentState = AgentState.LOGGED_OUT
    reason: str | None = None
    state_since: float = 0.0
    idle_since: float = 0.0
    calls_taken: int = 0
    missed_rings: int = 0
    call_id: str | None = None
    wrap_queue: str | None = None
    pending: AgentState | None = None  # PAUSED or LOGGED_OUT once the current call is over
    pending_reason: str | None = None
    removed: bool = False  # dropped from the configuration; logs out after its call
    token: int = 0
    indexed: bool = False  # has live entries in the agent heaps of its buckets
    buckets: list[Bucket] = field(default_factory=list)
    last_assigned: dict[str, int] = field(default_factory=dict)  # queue → assignment sequence


def eligible(agent: AgentConfig, req: Requirement) -> bool:
    """True if the agent has every required skill at the required level or above."""
    return all(agent.skills.get(skill, 0) >= level for skill, level in req)


def agent_key(agent: AgentRec, queue: QueueConfig, req: Requirement) -> tuple[float, float, int]:
    """The strategy's ordering key for an available agent (smallest is rung first)."""
    if queue.strategy is Strategy.FEWEST_CALLS:
        return (float(agent.calls_taken), agent.idle_since, agent.order)
    if queue.strategy is Strategy.ROUND_ROBIN:
        return (float(agent.last_assigned.get(queue.name, -1)), 0.0, agent.order)
    if queue.strategy is Strategy.SKILLS_WEIGHTED:
        levels = sum(agent.config.skills.get(skill, 0) for skill, _ in req)
        return (agent.idle_since - levels * queue.skill_weight_s, 0.0, agent.order)
    return (agent.idle_since, 0.0, agent.order)


_CallerEntry = tuple[float, int, int, CallerRec]
_AgentEntry = tuple[tuple[float, float, int], int, AgentRec]


class Bucket:
    """Waiting callers and available agents of one queue for one set of skill requirements."""

    __slots__ = ("agents", "callers", "live_agents", "live_callers", "members", "queue", "req")

    def __init__(self, queue: str, req: Requirement) -> None:
        self.queue = queue
        self.req = req
        self.members: list[AgentRec] = []  # every eligible agent, whatever its state
        self.callers: list[_CallerEntry] = []
        self.agents: list[_AgentEntry] = []
        self.live_callers = 0
        self.live_agents = 0

    # callers
    def push_caller(self, caller: CallerRec, key: float) -> None:
        """Add a waiting caller (its token must be fresh)."""
        heapq.heappush(self.callers, (key, caller.seq, caller.token, caller))
        self.live_callers += 1
        caller.bucket = self

    def caller_gone(self, caller: CallerRec) -> None:
        """Account for a caller whose entry just went stale (token already bumped)."""
        self.live_callers -= 1
        caller.bucket = None
        if len(self.callers) > 2 * self.live_callers + 32:
            self.callers = [e for e in self.callers if self._caller_live(e)]
            heapq.heapify(self.callers)

    def _caller_live(self, entry: _CallerEntry) -> bool:
        caller = entry[3]
        return entry[2] == caller.token and caller.status is CallerStatus.WAITING and caller.bucket is self

    def head_caller(self) -> _CallerEntry | None:
        """The best waiting caller's entry, dropping dead entries on the way."""
        heap = self.callers
        while heap:
            if self._caller_live(heap[0]):
                return heap[0]
            heapq.heappop(heap)
        return None

    def live_caller_entries(self) -> list[_CallerEntry]:
        """Every live entry (O(n); for views and reconfiguration, not for routing)."""
        return [e for e in self.callers if self._caller_live(e)]

    # agents
    def push_agent(self, agent: AgentRec, key: tuple[float, float, int]) -> None:
        """Add an available agent under its strategy key."""
        heapq.heappush(self.agents, (key, agent.token, agent))
        self.live_agents += 1

    def agent_gone(self) -> None:
        """Account for an agent that left ``available`` (its token was bumped)."""
        self.live_agents -= 1
        if len(self.agents) > 2 * self.live_agents + 32:
            self.agents = [e for e in self.agents if e[1] == e[2].token]
            heapq.heapify(self.agents)

    def head_agent(self) -> AgentRec | None:
        """The agent the strategy rings first, dropping dead entries on the way."""
        heap = self.agents
        while heap:
            _, token, agent = heap[0]
            if token == agent.token and agent.state is AgentState.AVAILABLE:
                return agent
            heapq.heappop(heap)
        return None
