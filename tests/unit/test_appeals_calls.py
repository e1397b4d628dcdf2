"""Call records: idempotent progress updates, call outcomes and the callback rule."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from callcenter.appeals.calls import (
    AfterHours,
    AgentAnswered,
    CallbackRequested,
    CallbackRule,
    CallEnded,
    CallProgress,
    EnteredQueue,
    IvrChoice,
    apply_progress,
    call_outcome,
    merge_arrival,
    open_record,
    resolve_callback,
)
from callcenter.appeals.errors import IllegalTransition
from callcenter.appeals.model import Appeal, CallbackState, CallOutcome, Status

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
S = timedelta(seconds=1)
LINKEDID = "1718000000.8"


def record(caller: str | None = "0501234567", survival: str | None = None) -> Appeal:
    return open_record(
        uuid4(), LINKEDID, caller=caller, dnid="0800505600", arrived_at=T0, survival_reason=survival
    )


def feed(appeal: Appeal, events: list[CallProgress]) -> Appeal:
    for event in events:
        appeal, _ = apply_progress(appeal, event)
    return appeal


ANSWERED_CALL: list[CallProgress] = [
    IvrChoice(LINKEDID, "menu", "2", T0 + 5 * S),
    IvrChoice(LINKEDID, "submenu", "1", T0 + 9 * S),
    EnteredQueue(LINKEDID, "social", T0 + 10 * S),
    AgentAnswered(LINKEDID, "agent-1001", T0 + 40 * S),
    CallEnded(LINKEDID, T0 + 300 * S),
]


def test_answered_call_is_tracked_and_needs_no_callback() -> None:
    """An answered call records its IVR path, queue and agent, and needs no callback."""
    appeal = feed(record(), ANSWERED_CALL)
    assert [(s.node, s.choice) for s in appeal.call.ivr_steps] == [("menu", "2"), ("submenu", "1")]
    assert appeal.call.queue == "social" and appeal.call.agent == "agent-1001"
    assert call_outcome(appeal.call) is CallOutcome.ANSWERED
    assert appeal.callback is CallbackState.NONE


def test_replaying_events_changes_nothing_and_emits_nothing() -> None:
    """Applying the same events again leaves the record equal and produces no events."""
    once = feed(record(), ANSWERED_CALL)
    for event in ANSWERED_CALL:
        again, events = apply_progress(once, event)
        assert again == once and events == []


def test_event_order_does_not_change_the_result() -> None:
    """Any order of the same events (Asterisk does not order across channels) gives one record."""
    base = record()
    results = {feed(base, list(order)) for order in itertools.permutations(ANSWERED_CALL)}
    assert len(results) == 1


def test_queue_abandon_after_the_short_abandon_limit_needs_a_callback() -> None:
    """A caller who waited past the short-abandon limit and hung up goes on the callback list."""
    appeal = feed(record(), [EnteredQueue(LINKEDID, "social", T0), CallEnded(LINKEDID, T0 + 45 * S)])
    assert call_outcome(appeal.call) is CallOutcome.ABANDONED_IN_QUEUE
    assert appeal.callback is CallbackState.PENDING
    short = feed(record(), [EnteredQueue(LINKEDID, "social", T0), CallEnded(LINKEDID, T0 + 3 * S)])
    assert short.callback is CallbackState.NONE
    strict = CallbackRule(min_queue_wait=timedelta(0))
    short_strict, _ = apply_progress(
        feed(record(), [EnteredQueue(LINKEDID, "q", T0)]), CallEnded(LINKEDID, T0), strict
    )
    assert short_strict.callback is CallbackState.PENDING


@pytest.mark.parametrize(
    ("events", "outcome", "callback"),
    [
        (
            [IvrChoice(LINKEDID, "menu", "9", T0), CallEnded(LINKEDID, T0 + S)],
            CallOutcome.ENDED_IN_IVR,
            False,
        ),
        ([CallbackRequested(LINKEDID, T0), CallEnded(LINKEDID, T0 + S)], CallOutcome.ENDED_IN_IVR, True),
        ([AfterHours(LINKEDID, T0), CallEnded(LINKEDID, T0 + S)], CallOutcome.AFTER_HOURS, True),
        ([EnteredQueue(LINKEDID, "q", T0)], CallOutcome.IN_PROGRESS, False),
    ],
)
def test_outcomes_and_callbacks(events: list[CallProgress], outcome: CallOutcome, callback: bool) -> None:
    """IVR-only calls need a callback only on request; after-hours calls always do."""
    appeal = feed(record(), events)
    assert call_outcome(appeal.call) is outcome
    assert (appeal.callback is CallbackState.PENDING) is callback


def test_withheld_numbers_never_get_a_callback() -> None:
    """A call without a usable number is kept but put on no callback list."""
    for caller in (None, "anonymous", ""):
        appeal = feed(record(caller=caller), [AfterHours(LINKEDID, T0), CallEnded(LINKEDID, T0 + S)])
        assert call_outcome(appeal.call) is CallOutcome.AFTER_HOURS
        assert appeal.callback is CallbackState.NONE


def test_survival_record_is_pending_at_once() -> None:
    """A record from the survival spool is a survival call and goes straight to the callback list."""
    appeal = record(survival="backend_down")
    assert call_outcome(appeal.call) is CallOutcome.SURVIVAL
    assert appeal.callback is CallbackState.PENDING


def test_late_answer_event_withdraws_an_automatic_callback() -> None:
    """If the answer event arrives after the hang-up, the automatic callback is withdrawn."""
    abandoned = feed(record(), [EnteredQueue(LINKEDID, "q", T0), CallEnded(LINKEDID, T0 + 60 * S)])
    assert abandoned.callback is CallbackState.PENDING
    answered, events = apply_progress(abandoned, AgentAnswered(LINKEDID, "agent-1", T0 + 30 * S))
    assert answered.callback is CallbackState.NONE
    assert events[0].changes["callback"] == ("pending", "none")


def test_supervisor_decision_survives_replays() -> None:
    """A callback marked done stays done when old events are replayed."""
    events: list[CallProgress] = [EnteredQueue(LINKEDID, "q", T0), CallEnded(LINKEDID, T0 + 60 * S)]
    pending = feed(record(), events)
    done, audit = resolve_callback(
        pending, CallbackState.DONE, actor="supervisor:1", at=T0 + 3600 * S, note="ok"
    )
    assert done.callback is CallbackState.DONE and done.callback_by == "supervisor:1"
    assert audit[0].name == "callback.done"
    assert feed(done, events) == done
    with pytest.raises(IllegalTransition):
        resolve_callback(done, CallbackState.CANCELLED, actor="supervisor:1", at=T0)


def test_event_for_another_call_is_refused() -> None:
    """Applying an event to the record of a different call is a programming error."""
    with pytest.raises(ValueError, match="applied to the record"):
        apply_progress(record(), CallEnded("other.1", T0))


def test_progress_events_name_the_changed_call_fields() -> None:
    """A progress event lists only the call fields it changed."""
    _, events = apply_progress(record(), EnteredQueue(LINKEDID, "social", T0 + S))
    assert events[0].name == "call.queued" and events[0].actor == "pbx"
    assert set(events[0].changes) == {"call.queue", "call.queued_at"}


def test_merge_arrival_fills_gaps_but_never_overwrites() -> None:
    """A late arrival report adds the missing number and earlier arrival; a replay changes nothing."""
    placeholder = open_record(uuid4(), LINKEDID, caller=None, dnid=None, arrived_at=T0 + 5 * S)
    placeholder = feed(
        placeholder, [EnteredQueue(LINKEDID, "q", T0 + 5 * S), CallEnded(LINKEDID, T0 + 90 * S)]
    )
    assert placeholder.callback is CallbackState.NONE  # no number to call back yet
    merged, events = merge_arrival(placeholder, caller="0501234567", dnid="1545", arrived_at=T0)
    assert merged.call.caller == "0501234567" and merged.call.arrived_at == T0
    assert merged.callback is CallbackState.PENDING
    assert set(events[0].changes) == {"call.caller", "call.dnid", "call.arrived_at", "callback"}
    again, moved = merge_arrival(merged, caller="0670000000", dnid="9", arrived_at=T0 - S)
    assert set(moved[0].changes) == {"call.arrived_at"}
    assert again.call.caller == "0501234567" and again.call.dnid == "1545"
    assert again.call.arrived_at == T0 - S  # still an open call record: the earliest arrival wins
    registered = replace(merged, status=Status.REGISTERED)
    fixed, nothing = merge_arrival(registered, caller=None, dnid=None, arrived_at=T0 - 60 * S)
    assert fixed == registered and nothing == []
    replayed, no_events = merge_arrival(merged, caller="0501234567", dnid="1545", arrived_at=T0)
    assert replayed == merged and no_events == []


def test_a_late_spool_report_marks_the_record_as_a_survival_call() -> None:
    """A record opened by the FastAGI session or by AMI learns the survival reason from the spool, once."""
    opened = open_record(uuid4(), LINKEDID, caller="0501234567", dnid="1545", arrived_at=T0)
    marked, events = merge_arrival(
        opened, caller="0501234567", dnid="1545", arrived_at=T0, survival_reason="FAILURE"
    )
    assert marked.call.survival_reason == "FAILURE"
    assert set(events[0].changes) >= {"call.survival_reason"}
    again, none = merge_arrival(marked, caller=None, dnid=None, arrived_at=T0, survival_reason="SUCCESS")
    assert again.call.survival_reason == "FAILURE" and none == []
