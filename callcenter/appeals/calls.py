"""Following a call: the record opened on arrival, updated by call-progress events, idempotently.

The call tracker (which watches AMI and the FastAGI sessions) reports what happens to a call as
small events keyed by its linkedid. Asterisk does not guarantee the order of events across
channels, and after a reconnect the same events may come again, so applying an event is
idempotent and as order-insensitive as the facts allow: an IVR step is a set member, the first
queue entry and the first answer win, the earliest hang-up wins. Replaying any events leaves the
record as it was and produces no events (hence no audit rows).

When the call ends without reaching an agent, and the caller's number is known, the record goes
on the supervisors' callback list. A supervisor's decision (done, cancelled) is never undone by a
replayed event.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from callcenter.appeals.errors import IllegalTransition
from callcenter.appeals.events import jsonable, make_event
from callcenter.appeals.model import (
    Appeal,
    AppealEvent,
    CallbackState,
    CallOutcome,
    CallTrack,
    IvrStep,
    Status,
)
from callcenter.appeals.repeats import normalise_phone
from callcenter.errors import ValidationError

__all__ = [
    "PBX_ACTOR",
    "AfterHours",
    "AgentAnswered",
    "CallEnded",
    "CallProgress",
    "CallbackRequested",
    "CallbackRule",
    "EnteredQueue",
    "IvrChoice",
    "apply_progress",
    "call_outcome",
    "caller_known",
    "merge_arrival",
    "needs_callback",
    "open_record",
    "resolve_callback",
]

#: The actor recorded in the audit trail for changes the PBX reports.
PBX_ACTOR = "pbx"


@dataclass(frozen=True, slots=True)
class IvrChoice:
    """The caller chose ``choice`` at IVR node ``node``."""

    linkedid: str
    node: str
    choice: str
    at: datetime


@dataclass(frozen=True, slots=True)
class EnteredQueue:
    """The caller started waiting in ``queue`` for an agent."""

    linkedid: str
    queue: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AgentAnswered:
    """Agent ``agent`` answered the call."""

    linkedid: str
    agent: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallbackRequested:
    """The caller pressed the callback key instead of waiting."""

    linkedid: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AfterHours:
    """The call arrived outside the line's working hours."""

    linkedid: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The caller's channel hung up."""

    linkedid: str
    at: datetime


CallProgress = IvrChoice | EnteredQueue | AgentAnswered | CallbackRequested | AfterHours | CallEnded


@dataclass(frozen=True, slots=True)
class CallbackRule:
    """Which unanswered calls become callback tasks."""

    # A caller who hangs up within seconds of queueing usually misdialled (a "short abandon").
    min_queue_wait: timedelta = timedelta(seconds=10)
    after_hours: bool = True
    survival: bool = True


def open_record(
    appeal_id: UUID,
    linkedid: str,
    *,
    caller: str | None,
    dnid: str | None,
    arrived_at: datetime,
    survival_reason: str | None = None,
    rule: CallbackRule = CallbackRule(),
) -> Appeal:
    """The record of a call that has just arrived (or came from the survival spool)."""
    if arrived_at.tzinfo is None:
        raise ValueError("arrived_at must be an aware datetime")
    track = CallTrack(
        caller=caller or None,
        dnid=dnid or None,
        arrived_at=arrived_at,
        survival_reason=survival_reason or None,
    )
    appeal = Appeal(id=appeal_id, linkedid=linkedid, call=track)
    return _settle_callback(appeal, rule)


def merge_arrival(
    appeal: Appeal,
    *,
    caller: str | None,
    dnid: str | None,
    arrived_at: datetime,
    survival_reason: str | None = None,
    rule: CallbackRule = CallbackRule(),
) -> tuple[Appeal, list[AppealEvent]]:
    """Fold a (possibly late or repeated) arrival report into an existing record.

    A progress event can reach the backend before the arrival does (Asterisk orders events per
    channel only), in which case the record was opened without the caller's number. The arrival
    fills what is missing and moves the arrival back if it was earlier; it never overwrites a
    known number, and once the record is registered its arrival (the receipt date) is fixed.
    A survival-path report (the spool) marks a record opened earlier — by the FastAGI session
    that handed the call back, or by AMI seeing the call end — as a survival-path call.
    """
    track = appeal.call
    changed = replace(
        track,
        caller=track.caller or caller or None,
        dnid=track.dnid or dnid or None,
        survival_reason=track.survival_reason or survival_reason or None,
        arrived_at=arrived_at
        if appeal.status is Status.CALL_OPEN and arrived_at < track.arrived_at
        else track.arrived_at,
    )
    after = _settle_callback(replace(appeal, call=changed), rule)
    if after == appeal:
        return appeal, []
    return after, [_progress_event("call.arrival_merged", appeal, after, PBX_ACTOR, arrived_at)]


def caller_known(track: CallTrack) -> bool:
    """True when there is a number to call back (withheld or 'anonymous' numbers have none)."""
    return len(normalise_phone(track.caller)) >= 3


def call_outcome(track: CallTrack) -> CallOutcome:
    """How the call ended, from the facts gathered so far."""
    if track.survival_reason:
        return CallOutcome.SURVIVAL
    if track.answered_at is not None:
        return CallOutcome.ANSWERED
    if track.ended_at is None:
        return CallOutcome.IN_PROGRESS
    if track.after_hours:
        return CallOutcome.AFTER_HOURS
    if track.queued_at is not None:
        return CallOutcome.ABANDONED_IN_QUEUE
    return CallOutcome.ENDED_IN_IVR


def needs_callback(track: CallTrack, rule: CallbackRule = CallbackRule()) -> bool:
    """Whether the call should be on the supervisors' callback list."""
    if not caller_known(track):
        return False
    outcome = call_outcome(track)
    if outcome in (CallOutcome.ANSWERED, CallOutcome.IN_PROGRESS):
        return False
    if track.callback_requested:
        return True
    if outcome is CallOutcome.SURVIVAL:
        return rule.survival
    if outcome is CallOutcome.AFTER_HOURS:
        return rule.after_hours
    if outcome is CallOutcome.ABANDONED_IN_QUEUE:
        assert track.queued_at is not None and track.ended_at is not None
        return track.ended_at - track.queued_at >= rule.min_queue_wait
    return False  # ended in the IVR: the caller got what the IVR offers


def _settle_callback(appeal: Appeal, rule: CallbackRule) -> Appeal:
    # Only the automatic states follow the facts; a supervisor's decision stays.
    if appeal.callback not in (CallbackState.NONE, CallbackState.PENDING):
        return appeal
    state = CallbackState.PENDING if needs_callback(appeal.call, rule) else CallbackState.NONE
    return appeal if state is appeal.callback else replace(appeal, callback=state)


def _earliest(current: datetime | None, candidate: datetime) -> bool:
    return current is None or candidate < current


def _track_after(track: CallTrack, event: CallProgress) -> tuple[str, CallTrack]:
    match event:
        case IvrChoice(node=node, choice=choice, at=at):
            step = IvrStep(node, choice, at)
            if step in track.ivr_steps:
                return "call.ivr_choice", track
            steps = tuple(sorted((*track.ivr_steps, step), key=lambda s: (s.at, s.node, s.choice)))
            return "call.ivr_choice", replace(track, ivr_steps=steps)
        case EnteredQueue(queue=queue, at=at):
            if _earliest(track.queued_at, at):
                track = replace(track, queue=queue, queued_at=at)
            return "call.queued", track
        case AgentAnswered(agent=agent, at=at):
            if _earliest(track.answered_at, at):
                track = replace(track, agent=agent, answered_at=at)
            return "call.answered", track
        case CallbackRequested():
            return "call.callback_requested", replace(track, callback_requested=True)
        case AfterHours():
            return "call.after_hours", replace(track, after_hours=True)
        case CallEnded(at=at):
            if _earliest(track.ended_at, at):
                track = replace(track, ended_at=at)
            return "call.ended", track
    raise AssertionError(f"unhandled call event {event!r}")  # pragma: no cover


def apply_progress(
    appeal: Appeal, event: CallProgress, rule: CallbackRule = CallbackRule()
) -> tuple[Appeal, list[AppealEvent]]:
    """The record after ``event``, and one event when anything changed (none on a replay)."""
    if event.linkedid != appeal.linkedid:
        raise ValueError(f"event for call {event.linkedid} applied to the record of {appeal.linkedid}")
    name, track = _track_after(appeal.call, event)
    after = _settle_callback(replace(appeal, call=track), rule)
    if after == appeal:
        return appeal, []
    return after, [_progress_event(name, appeal, after, PBX_ACTOR, event.at)]


def _progress_event(name: str, before: Appeal, after: Appeal, actor: str, at: datetime) -> AppealEvent:
    # Only the call fields that changed, rather than the whole track twice.
    changes: dict[str, tuple[Any, Any]] = {
        f"call.{f.name}": (jsonable(getattr(before.call, f.name)), jsonable(getattr(after.call, f.name)))
        for f in dataclasses.fields(CallTrack)
        if getattr(before.call, f.name) != getattr(after.call, f.name)
    }
    if after.callback != before.callback:
        changes["callback"] = (before.callback.value, after.callback.value)
    return AppealEvent(name, after.id, actor, at, changes)


def resolve_callback(
    appeal: Appeal, state: CallbackState, *, actor: str, at: datetime, note: str = ""
) -> tuple[Appeal, list[AppealEvent]]:
    """A supervisor marks a pending callback done or cancelled (with an optional note)."""
    if state not in (CallbackState.DONE, CallbackState.CANCELLED):
        raise ValueError("a callback is resolved as done or cancelled")
    if appeal.callback is not CallbackState.PENDING:
        raise IllegalTransition(
            f"no pending callback on this record (callback is {appeal.callback.value})",
            status=appeal.status.value,
            action=f"callback_{state.value}",
        )
    if not actor.strip():
        raise ValidationError("every change needs an actor", field="actor")
    after = replace(
        appeal, callback=state, callback_note=note.strip() or None, callback_by=actor, callback_at=at
    )
    return after, [make_event(f"callback.{state.value}", appeal, after, actor=actor, at=at)]
