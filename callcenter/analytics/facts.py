"""Call facts built from call-progress events: one call row, its queue stints and agent legs (pure).

``build_call(events)`` folds one call's events into a ``CompletedCall``.  It first removes exact
duplicates and sorts the events by time (ties broken by a fixed order of event kinds), so the
result depends only on the *set* of events: a replay after an AMI reconnect, a duplicated
delivery, or events reconciled out of order all give the same facts.  ``CallFactBuilder`` keeps
the events of calls in progress and hands back the facts whenever a call is complete.

Multi-stint calls (moved from queue to queue) are kept as QueueMetrics' "multi-stint" mode
keeps them: one call row whose wait is the sum of its stints and whose outcome is that of its
last stint, plus one stint row per queue so each queue still sees its own part.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from callcenter.analytics.events import (
    AfterHours,
    AgentRang,
    Answered,
    CallArrived,
    CallbackRequested,
    CallEvent,
    HoldEnded,
    HoldStarted,
    Hungup,
    IvrLeft,
    IvrStep,
    QueueEntered,
    QueueLeft,
    RingEnded,
    SurvivalPath,
    Transferred,
    WrapUpEnded,
)
from callcenter.analytics.kpi import StintOutcome, is_short_abandon

__all__ = [
    "AgentLeg",
    "CallFact",
    "CallFactBuilder",
    "CallOutcome",
    "CompletedCall",
    "QueueStint",
    "build_call",
]


class CallOutcome(enum.StrEnum):
    """How a call ended, from the line's point of view."""

    ANSWERED = "answered"
    ABANDONED_IVR = "abandoned_ivr"  # caller hung up before reaching a queue
    IVR_COMPLETED = "ivr_completed"  # the IVR itself finished the call (information given)
    ABANDONED_QUEUE = "abandoned_queue"  # hung up waiting, total wait >= 5 s
    SHORT_ABANDON = "short_abandon"  # hung up waiting, total wait < 5 s
    AFTER_HOURS = "after_hours"
    CALLBACK = "callback"
    OVERFLOW = "overflow"  # the queue sent the caller elsewhere without an answer
    SURVIVAL = "survival"  # the backend was down; the dialplan's survival path took it
    TRANSFERRED = "transferred"  # the IVR transferred the call out, no agent involved


@dataclass(frozen=True, slots=True)
class QueueStint:
    """One stay of a call in one queue."""

    stint_id: str  # "<linkedid>/<n>", n counting from 1 in order of entry
    linkedid: str
    seq: int
    queue: str
    entered_at: datetime
    left_at: datetime
    wait_s: float
    outcome: StintOutcome
    agent: str | None  # who answered, when answered


@dataclass(frozen=True, slots=True)
class AgentLeg:
    """One offer of the call to one agent: ring, and if answered talk, hold and wrap-up."""

    leg_id: str  # "<linkedid>/<n>", n counting from 1 in order of ringing
    linkedid: str
    agent: str
    queue: str | None
    rang_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    ring_s: float
    talk_s: float
    hold_s: float
    wrap_s: float
    outcome: str  # answered | noanswer | busy | rejected | caller_hungup
    transferred_to: str | None

    @property
    def handle_s(self) -> float:
        """Talk + hold + wrap-up seconds."""
        return self.talk_s + self.hold_s + self.wrap_s


@dataclass(frozen=True, slots=True)
class CallFact:
    """One row per call; ``caller`` is personal data (mask it in logs)."""

    linkedid: str
    arrived_at: datetime
    ended_at: datetime
    caller: str
    did: str
    outcome: CallOutcome
    ivr_s: float
    ivr_path: tuple[str, ...]
    first_queue: str | None  # first queue entered, else the queue an after-hours call was for
    last_queue: str | None
    wait_s: float  # summed over stints
    answered_at: datetime | None
    agent: str | None  # first agent who answered
    talk_s: float
    hold_s: float
    wrap_s: float
    stints: int
    transferred: bool
    callback: bool
    after_hours: bool
    survival: bool
    hungup_by: str


@dataclass(frozen=True, slots=True)
class CompletedCall:
    """A call's facts together: the call row, its queue stints and its agent legs."""

    fact: CallFact
    stints: tuple[QueueStint, ...]
    legs: tuple[AgentLeg, ...]


# Same-instant events are applied in the order a call lives through them.
_ORDER: dict[type, int] = {
    CallArrived: 0,
    SurvivalPath: 1,
    IvrStep: 2,
    AfterHours: 3,
    IvrLeft: 4,
    QueueEntered: 5,
    AgentRang: 6,
    RingEnded: 7,
    Answered: 8,
    HoldStarted: 9,
    HoldEnded: 10,
    CallbackRequested: 11,
    QueueLeft: 12,
    Transferred: 13,
    Hungup: 14,
    WrapUpEnded: 15,
}


def _sort_key(event: CallEvent) -> tuple[datetime, int, str]:
    return (event.at, _ORDER[type(event)], repr(event))


def _seconds(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


@dataclass(slots=True)
class _Stint:
    queue: str
    entered_at: datetime
    left_at: datetime | None = None
    outcome: StintOutcome | None = None
    agent: str | None = None


@dataclass(slots=True)
class _Leg:
    agent: str
    queue: str | None
    rang_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str = "ringing"
    hold_s: float = 0.0
    hold_since: datetime | None = None
    wrap_end: datetime | None = None
    transferred_to: str | None = None

    def end(self, at: datetime) -> None:
        if self.hold_since is not None:
            self.hold_s += _seconds(self.hold_since, at)
            self.hold_since = None
        self.ended_at = at


@dataclass(slots=True)
class _Fold:
    """The mutable state while one call's sorted events are applied."""

    arrived: CallArrived | None = None
    path: list[str] = field(default_factory=list)
    ivr_left: datetime | None = None
    after_hours_queue: str | None = None
    after_hours: bool = False
    survival: bool = False
    ivr_transfer: bool = False
    transferred: bool = False
    callback: bool = False
    hungup: Hungup | None = None
    stints: list[_Stint] = field(default_factory=list)
    legs: list[_Leg] = field(default_factory=list)

    def open_stint(self) -> _Stint | None:
        if self.stints and self.stints[-1].left_at is None:
            return self.stints[-1]
        return None

    def close_stint(self, at: datetime, outcome: StintOutcome, agent: str | None = None) -> None:
        stint = self.open_stint()
        if stint is not None:
            stint.left_at, stint.outcome, stint.agent = at, outcome, agent

    def leg_of(self, agent: str, *, answered: bool) -> _Leg | None:
        for leg in reversed(self.legs):
            if leg.agent == agent and leg.ended_at is None and (leg.answered_at is not None) == answered:
                return leg
        return None

    def apply(self, event: CallEvent) -> None:
        if self.hungup is not None and not isinstance(event, WrapUpEnded):
            return  # nothing but after-call work happens after the hang-up
        match event:
            case CallArrived():
                self.arrived = event
            case SurvivalPath():
                self.survival = True
            case IvrStep(node=node):
                self.path.append(node)
            case AfterHours(queue=queue):
                self.after_hours, self.after_hours_queue = True, queue
            case IvrLeft(at=at):
                self.ivr_left = self.ivr_left or at
            case QueueEntered(at=at, queue=queue):
                self.ivr_left = self.ivr_left or at
                self.close_stint(at, StintOutcome.MOVED)
                self.stints.append(_Stint(queue, at))
            case QueueLeft(at=at):
                self.close_stint(at, StintOutcome.OVERFLOW)
            case CallbackRequested(at=at):
                self.callback = True
                self.close_stint(at, StintOutcome.CALLBACK)
            case AgentRang(at=at, agent=agent):
                queue = self.stints[-1].queue if self.stints else None
                self.legs.append(_Leg(agent, queue, at))
            case RingEnded(at=at, agent=agent, result=result):
                leg = self.leg_of(agent, answered=False)
                if leg is not None:
                    leg.end(at)
                    leg.outcome = result
            case Answered(at=at, agent=agent):
                leg = self.leg_of(agent, answered=False)
                if leg is None:  # answered without a ring we saw (e.g. events lost)
                    leg = _Leg(agent, self.stints[-1].queue if self.stints else None, at)
                    self.legs.append(leg)
                leg.answered_at, leg.outcome = at, "answered"
                self.close_stint(at, StintOutcome.ANSWERED, agent)
            case HoldStarted(at=at, agent=agent):
                leg = self.leg_of(agent, answered=True)
                if leg is not None and leg.hold_since is None:
                    leg.hold_since = at
            case HoldEnded(at=at, agent=agent):
                leg = self.leg_of(agent, answered=True)
                if leg is not None and leg.hold_since is not None:
                    leg.hold_s += _seconds(leg.hold_since, at)
                    leg.hold_since = None
            case Transferred(at=at, agent=agent, target=target):
                leg = self.leg_of(agent, answered=True) if agent is not None else None
                if leg is not None:
                    leg.end(at)
                    leg.transferred_to = target
                    self.transferred = True
                elif agent is None:
                    self.ivr_left = self.ivr_left or at
                    self.ivr_transfer = True
                    self.close_stint(at, StintOutcome.OVERFLOW)
            case Hungup(at=at):
                self.hungup = event
                self.ivr_left = self.ivr_left or at
                stint = self.open_stint()
                if stint is not None:
                    wait = _seconds(stint.entered_at, at)
                    short = is_short_abandon(wait)
                    self.close_stint(at, StintOutcome.SHORT_ABANDON if short else StintOutcome.ABANDONED)
                for leg in self.legs:
                    if leg.ended_at is None:
                        leg.end(at)
                        if leg.answered_at is None:
                            leg.outcome = "caller_hungup"
            case WrapUpEnded(at=at, agent=agent):
                for leg in reversed(self.legs):
                    if leg.agent == agent and leg.answered_at is not None and leg.ended_at is not None:
                        if leg.wrap_end is None and at >= leg.ended_at:
                            leg.wrap_end = at
                        break

    def complete(self) -> bool:
        """Arrived, hung up, and every answered leg's wrap-up is over."""
        if self.arrived is None or self.hungup is None:
            return False
        return all(leg.wrap_end is not None for leg in self.legs if leg.answered_at is not None)


def _outcome(fold: _Fold, stints: list[QueueStint], wait_s: float, answered: bool) -> CallOutcome:
    if fold.survival:
        return CallOutcome.SURVIVAL
    if answered:
        return CallOutcome.ANSWERED
    if fold.callback:
        return CallOutcome.CALLBACK
    if stints:
        last = stints[-1].outcome
        if last in (StintOutcome.ABANDONED, StintOutcome.SHORT_ABANDON):
            # Multi-stint: the caller's whole wait decides, not the last queue's share of it.
            return CallOutcome.SHORT_ABANDON if is_short_abandon(wait_s) else CallOutcome.ABANDONED_QUEUE
        return CallOutcome.OVERFLOW
    if fold.after_hours:
        return CallOutcome.AFTER_HOURS
    if fold.ivr_transfer:
        return CallOutcome.TRANSFERRED
    assert fold.hungup is not None
    return CallOutcome.ABANDONED_IVR if fold.hungup.by == "caller" else CallOutcome.IVR_COMPLETED


def _finish(fold: _Fold) -> CompletedCall:
    arrived, hungup = fold.arrived, fold.hungup
    assert arrived is not None and hungup is not None
    linkedid = arrived.linkedid
    stints: list[QueueStint] = []
    for n, s in enumerate(fold.stints, start=1):
        left = s.left_at or hungup.at
        outcome = s.outcome or StintOutcome.ABANDONED
        stint = QueueStint(
            f"{linkedid}/{n}",
            linkedid,
            n,
            s.queue,
            s.entered_at,
            left,
            _seconds(s.entered_at, left),
            outcome,
            s.agent,
        )
        stints.append(stint)
    legs: list[AgentLeg] = []
    for n, leg in enumerate(fold.legs, start=1):
        ended = leg.ended_at or hungup.at
        ring_end = leg.answered_at or ended
        talk = _seconds(leg.answered_at, ended) - leg.hold_s if leg.answered_at else 0.0
        wrap = _seconds(ended, leg.wrap_end) if leg.wrap_end else 0.0
        legs.append(
            AgentLeg(
                f"{linkedid}/{n}",
                linkedid,
                leg.agent,
                leg.queue,
                leg.rang_at,
                leg.answered_at,
                ended,
                _seconds(leg.rang_at, ring_end),
                max(0.0, talk),
                leg.hold_s,
                wrap,
                leg.outcome if leg.outcome != "ringing" else "caller_hungup",
                leg.transferred_to,
            )
        )
    answered_legs = [leg for leg in legs if leg.answered_at is not None]
    wait_s = sum(s.wait_s for s in stints)
    first_queue = stints[0].queue if stints else fold.after_hours_queue
    fact = CallFact(
        linkedid=linkedid,
        arrived_at=arrived.at,
        ended_at=max([hungup.at, *(leg.ended_at for leg in legs)]),
        caller=arrived.caller,
        did=arrived.did,
        outcome=_outcome(fold, stints, wait_s, bool(answered_legs)),
        ivr_s=_seconds(arrived.at, fold.ivr_left or hungup.at),
        ivr_path=tuple(fold.path),
        first_queue=first_queue,
        last_queue=stints[-1].queue if stints else first_queue,
        wait_s=wait_s,
        answered_at=answered_legs[0].answered_at if answered_legs else None,
        agent=answered_legs[0].agent if answered_legs else None,
        talk_s=sum(leg.talk_s for leg in answered_legs),
        hold_s=sum(leg.hold_s for leg in answered_legs),
        wrap_s=sum(leg.wrap_s for leg in answered_legs),
        stints=len(stints),
        transferred=fold.transferred or fold.ivr_transfer,
        callback=fold.callback,
        after_hours=fold.after_hours,
        survival=fold.survival,
        hungup_by=hungup.by,
    )
    return CompletedCall(fact, tuple(stints), tuple(legs))


def _fold(events: Iterable[CallEvent]) -> _Fold:
    fold = _Fold()
    for event in sorted(set(events), key=_sort_key):
        fold.apply(event)
    return fold


def build_call(events: Iterable[CallEvent], *, force: bool = False) -> CompletedCall | None:
    """The facts of one call from its events, or None while the call is not complete.

    Complete means: arrived, hung up, and wrap-up ended for every answered leg.  ``force`` builds
    a hung-up call even when a wrap-up end never came (the agent logged out, say); the missing
    wrap-up then counts as zero seconds.
    """
    fold = _fold(events)
    if fold.arrived is None or fold.hungup is None:
        return None
    if not force and not fold.complete():
        return None
    return _finish(fold)


class CallFactBuilder:
    """Collects events of calls in progress and yields each call's facts once it is complete.

    ``add`` returns the call's facts every time a *new* event leaves the call complete, so a late
    wrap-up end or a reconciled event yields corrected facts; a duplicate event returns None.
    The store upserts facts by linkedid, so yielding the same call again is harmless.
    """

    def __init__(self) -> None:
        self._events: dict[str, set[CallEvent]] = {}

    def add(self, event: CallEvent) -> CompletedCall | None:
        """Record ``event``; return the call's (possibly updated) facts if it is complete."""
        seen = self._events.setdefault(event.linkedid, set())
        if event in seen:
            return None
        seen.add(event)
        return build_call(seen)

    def finish(self, linkedid: str) -> CompletedCall | None:
        """Build a hung-up call even without its wrap-up end (see ``build_call(force=True)``)."""
        events = self._events.get(linkedid)
        return build_call(events, force=True) if events else None

    def forget(self, linkedid: str) -> None:
        """Drop a call's events (once its facts are stored and no replay is expected)."""
        self._events.pop(linkedid, None)

    def in_progress(self) -> list[str]:
        """Linkedids of calls whose events are held."""
        return list(self._events)
