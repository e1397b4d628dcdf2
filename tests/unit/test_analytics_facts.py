"""Call facts and agent sessions built from events: outcomes, timings, and idempotence under replay."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from callcenter.analytics.events import (
    AfterHours,
    AgentEvent,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentRang,
    AgentUnpaused,
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
from callcenter.analytics.facts import CallFactBuilder, CallOutcome, build_call
from callcenter.analytics.kpi import StintOutcome
from callcenter.analytics.sessions import build_sessions
from callcenter.analytics.synthetic import synthetic_day

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ID = "1772442000.1"


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def answered_call() -> list[CallEvent]:
    """Arrive 0, IVR to 10, queue 10..40 (a missed ring), answer 40, hold 100..130, hang 200, wrap 230."""
    return [
        CallArrived(ID, t(0), "+380501234567", "0800505600"),
        IvrStep(ID, t(1), "greeting"),
        IvrStep(ID, t(5), "menu"),
        IvrLeft(ID, t(10)),
        QueueEntered(ID, t(10), "general"),
        AgentRang(ID, t(20), "a1"),
        RingEnded(ID, t(30), "a1"),
        AgentRang(ID, t(35), "a2"),
        Answered(ID, t(40), "a2"),
        HoldStarted(ID, t(100), "a2"),
        HoldEnded(ID, t(130), "a2"),
        Hungup(ID, t(200), "caller"),
        WrapUpEnded(ID, t(230), "a2"),
    ]


def test_answered_call_timings() -> None:
    """IVR 10 s, wait 30 s, talk 130 s (160 minus 30 on hold), hold 30 s, wrap 30 s, ring 5 s."""
    call = build_call(answered_call())
    assert call is not None
    f = call.fact
    assert f.outcome is CallOutcome.ANSWERED
    assert (f.ivr_s, f.wait_s, f.talk_s, f.hold_s, f.wrap_s) == (10, 30, 130, 30, 30)
    assert f.ivr_path == ("greeting", "menu") and f.agent == "a2" and f.answered_at == t(40)
    assert [(s.queue, s.outcome, s.wait_s, s.agent) for s in call.stints] == [
        ("general", StintOutcome.ANSWERED, 30, "a2")
    ]
    missed, taken = call.legs
    assert (missed.agent, missed.outcome, missed.ring_s, missed.talk_s) == ("a1", "noanswer", 10, 0)
    assert (taken.agent, taken.outcome, taken.ring_s, taken.handle_s) == ("a2", "answered", 5, 190)


def test_not_complete_until_wrap_up_ends() -> None:
    """Without the wrap-up end the call is not yet complete; finish() forces it with zero wrap-up."""
    events = answered_call()[:-1]
    assert build_call(events) is None
    forced = build_call(events, force=True)
    assert forced is not None and forced.fact.wrap_s == 0


def test_duplicates_and_shuffled_replay_give_identical_facts() -> None:
    """Every event delivered twice, in random order, yields exactly the same facts."""
    events = answered_call()
    replay = events + events
    random.Random(7).shuffle(replay)
    assert build_call(replay) == build_call(events)


def test_builder_yields_on_completion_and_ignores_duplicates() -> None:
    """The builder returns facts when the call completes, and None for a re-delivered event."""
    builder = CallFactBuilder()
    results = [builder.add(e) for e in answered_call()]
    assert all(r is None for r in results[:-1])
    assert results[-1] == build_call(answered_call())
    assert builder.add(answered_call()[-1]) is None
    builder.forget(ID)
    assert builder.in_progress() == []


def test_ivr_abandon_and_ivr_completed() -> None:
    """A caller hanging up in the IVR is abandoned_ivr; the IVR ending the call is ivr_completed."""
    base: list[CallEvent] = [CallArrived(ID, t(0), "+380501234567", "0800"), IvrStep(ID, t(1), "menu")]
    caller = build_call([*base, Hungup(ID, t(12), "caller")])
    system = build_call([*base, Hungup(ID, t(40), "system")])
    assert caller is not None and caller.fact.outcome is CallOutcome.ABANDONED_IVR
    assert caller.fact.ivr_s == 12 and caller.stints == ()
    assert system is not None and system.fact.outcome is CallOutcome.IVR_COMPLETED


@pytest.mark.parametrize(
    ("wait", "outcome"), [(4.5, CallOutcome.SHORT_ABANDON), (5.0, CallOutcome.ABANDONED_QUEUE)]
)
def test_queue_abandon_short_threshold(wait: float, outcome: CallOutcome) -> None:
    """A hang-up in the queue under 5 s is a short abandon; at 5 s it is a real abandon."""
    call = build_call(
        [
            CallArrived(ID, t(0), "+380501234567", "0800"),
            QueueEntered(ID, t(10), "general"),
            Hungup(ID, t(10 + wait), "caller"),
        ]
    )
    assert call is not None and call.fact.outcome is outcome
    assert call.fact.ivr_s == 10  # the IVR ended when the queue began


def test_multi_stint_sums_waits_and_keeps_per_queue_rows() -> None:
    """Moved after 20 s, then hung up 3 s later: stints moved/short, but the call abandoned 23 s."""
    call = build_call(
        [
            CallArrived(ID, t(0), "+380501234567", "0800"),
            QueueEntered(ID, t(5), "general"),
            QueueEntered(ID, t(25), "pensions"),
            Hungup(ID, t(28), "caller"),
        ]
    )
    assert call is not None
    assert [(s.stint_id, s.queue, s.outcome, s.wait_s) for s in call.stints] == [
        (f"{ID}/1", "general", StintOutcome.MOVED, 20),
        (f"{ID}/2", "pensions", StintOutcome.SHORT_ABANDON, 3),
    ]
    assert call.fact.outcome is CallOutcome.ABANDONED_QUEUE and call.fact.wait_s == 23
    assert (call.fact.first_queue, call.fact.last_queue) == ("general", "pensions")


def test_after_hours_callback_overflow_survival_transfer() -> None:
    """Each special path maps to its outcome."""
    arrive = CallArrived(ID, t(0), "+380501234567", "0800")
    cases: list[tuple[list[CallEvent], CallOutcome]] = [
        ([arrive, AfterHours(ID, t(3), "general"), Hungup(ID, t(20), "system")], CallOutcome.AFTER_HOURS),
        (
            [
                arrive,
                QueueEntered(ID, t(5), "general"),
                CallbackRequested(ID, t(50), "general"),
                Hungup(ID, t(55)),
            ],
            CallOutcome.CALLBACK,
        ),
        (
            [
                arrive,
                QueueEntered(ID, t(5), "general"),
                QueueLeft(ID, t(305), "general", "timeout"),
                Hungup(ID, t(330)),
            ],
            CallOutcome.OVERFLOW,
        ),
        ([arrive, SurvivalPath(ID, t(0)), Hungup(ID, t(90))], CallOutcome.SURVIVAL),
        ([arrive, Transferred(ID, t(8), "0442000000"), Hungup(ID, t(60))], CallOutcome.TRANSFERRED),
    ]
    for events, outcome in cases:
        call = build_call(events)
        assert call is not None and call.fact.outcome is outcome, outcome
    after = build_call(cases[0][0])
    assert after is not None and after.fact.first_queue == "general" and after.fact.after_hours


def test_agent_transfer_ends_the_leg_and_keeps_answered() -> None:
    """An agent's transfer ends their talk at the transfer, marks the call, and the outcome stays answered."""
    call = build_call(
        [
            CallArrived(ID, t(0), "+380501234567", "0800"),
            QueueEntered(ID, t(5), "general"),
            Answered(ID, t(15), "a1"),
            Transferred(ID, t(75), "ext-legal", "a1"),
            Hungup(ID, t(300), "caller"),
            WrapUpEnded(ID, t(90), "a1"),
        ]
    )
    assert call is not None
    assert call.fact.outcome is CallOutcome.ANSWERED and call.fact.transferred
    (leg,) = call.legs
    assert (leg.talk_s, leg.wrap_s, leg.transferred_to, leg.ring_s) == (60, 15, "ext-legal", 0)


def test_synthetic_day_facts_are_replay_stable() -> None:
    """For every call of a synthetic day, duplicated and shuffled events give the same facts."""
    day = synthetic_day(T0.replace(hour=0), seed=11, calls=300)
    rng = random.Random(3)
    for events in day.calls.values():
        replay = events + rng.sample(events, k=len(events) // 2)
        rng.shuffle(replay)
        original = build_call(events)
        assert original is not None
        assert build_call(replay) == original


def test_sessions_paused_by_reason_and_staffed_time() -> None:
    """8 h logged in with a 30 min lunch and 2 min wrap-up: staffed = 7.5 h, wrap-up is staffed."""
    login = t(0)
    events: list[AgentEvent] = [
        AgentLoggedIn("a1", login, ("general",)),
        AgentPaused("a1", login + timedelta(hours=4), "lunch"),
        AgentUnpaused("a1", login + timedelta(hours=4, minutes=30)),
        AgentPaused("a1", login + timedelta(hours=5), "wrapup"),
        AgentUnpaused("a1", login + timedelta(hours=5, minutes=2)),
        AgentLoggedOut("a1", login + timedelta(hours=8)),
    ]
    (session,) = build_sessions(events + events[:3], until=login + timedelta(days=1))
    assert session.logged_in_s == 8 * 3600 and not session.open
    assert session.paused_s_by_reason() == {"lunch": 1800, "wrapup": 120}
    assert session.staffed_s == 7.5 * 3600
    assert sum((b - a).total_seconds() for a, b in session.staffed_spans()) == session.staffed_s


def test_open_session_cut_at_until_and_lost_logout() -> None:
    """A second login closes the first session; a session still open is cut at ``until``."""
    events = [AgentLoggedIn("a1", t(0), ("q",)), AgentLoggedIn("a1", t(600), ("q",))]
    first, second = build_sessions(events, until=t(900))
    assert (first.logged_in_s, first.open) == (600, False)
    assert (second.logged_in_s, second.open) == (300, True)
