"""The appeal lifecycle: the transition table, refused moves, extension, forwarding and events."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from callcenter.appeals.calls import open_record
from callcenter.appeals.classifier import load_classifier
from callcenter.appeals.errors import IllegalTransition
from callcenter.appeals.lifecycle import (
    TRANSITIONS,
    Action,
    Close,
    Consult,
    Extend,
    NotInCompetence,
    RefuseConsideration,
    Resume,
    ReturnForRework,
    ReturnToApplicant,
    SendToAuthority,
    SubmitAnswer,
    TakeInWork,
    allowed_actions,
    forwarding_overdue,
    is_overdue,
    transition,
)
from callcenter.appeals.model import Appeal, Kind, Status
from callcenter.appeals.registration import RegistrationForm, register
from callcenter.appeals.repeats import SignDecision
from callcenter.errors import ValidationError

ARRIVED = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 09:00 Kyiv, Monday 2 March 2026
DAY = timedelta(days=1)

SAMPLE_ACTIONS: dict[str, Action] = {
    "consult": Consult("пояснено порядок отримання субсидії"),
    "send": SendToAuthority("Департамент соціального захисту"),
    "take_in_work": TakeInWork(),
    "extend": Extend(date(2026, 4, 10), "Строк продовжено до 10.04.2026, заявника повідомлено"),
    "not_in_competence": NotInCompetence("питання належить до компетенції ОМС"),
    "submit_answer": SubmitAnswer("Опалення відновлено 3 березня."),
    "return_for_rework": ReturnForRework("відповідь не по суті"),
    "resume": Resume(),
    "close": Close("9.1"),
    "return_to_applicant": ReturnToApplicant("не зазначено адресу"),
    "refuse": RefuseConsideration("повторне звернення з вирішеного питання"),
}


def registered(kind: str = "application", requires_study: bool = False, **form_fields: object) -> Appeal:
    record = open_record(uuid4(), "1718000000.8", caller="0501234567", dnid="1545", arrived_at=ARRIVED)
    form = RegistrationForm(
        kind=kind,
        surname="Коваль",
        given_name="Петро",
        patronymic="Олексійович",
        residence="м. Київ",
        essence="Прошу роз'яснити порядок.",
        topic_code="106",
        requires_study=requires_study,
        **form_fields,  # type: ignore[arg-type]
    )
    appeal, _ = register(
        record,
        form,
        number="ЗВ-2026-000001",
        sign=SignDecision(),
        actor="agent:7",
        at=ARRIVED,
        classifier=load_classifier(),
    )
    return appeal


def run(appeal: Appeal, *actions: Action, at: datetime = ARRIVED + DAY) -> Appeal:
    for action in actions:
        appeal, _ = transition(appeal, action, "executor:1", at)
    return appeal


def test_happy_path_to_closed_with_events() -> None:
    """Registered → sent → in work → answered → closed, each step emitting one named event."""
    appeal = registered()
    names = []
    for action in (SendToAuthority("ДСЗН"), TakeInWork(), SubmitAnswer("Надано."), Close("9.3")):
        appeal, events = transition(appeal, action, "executor:1", ARRIVED + DAY)
        names += [e.name for e in events]
    assert appeal.status is Status.CLOSED
    assert appeal.result_code == "9.3" and appeal.closed_at == ARRIVED + DAY
    assert names == ["appeal.send", "appeal.take_in_work", "appeal.submit_answer", "appeal.close"]


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action_name", list(TRANSITIONS))
def test_every_move_outside_the_table_is_refused(status: Status, action_name: str) -> None:
    """Any action from a status the table does not list raises IllegalTransition, leaving no change."""
    sources, _ = TRANSITIONS[action_name]
    appeal = replace(registered(requires_study=True), status=status)
    action = SAMPLE_ACTIONS[action_name]
    if status in sources:
        after, events = transition(appeal, action, "executor:1", ARRIVED + DAY)
        target = TRANSITIONS[action_name][1]
        assert after.status is (target or status)
        assert len(events) == 1
    else:
        with pytest.raises(IllegalTransition) as caught:
            transition(appeal, action, "executor:1", ARRIVED + DAY)
        assert caught.value.status == status.value and caught.value.action == action_name


def test_terminal_statuses_allow_nothing() -> None:
    """Closed, consultation, returned and not-considered records have no allowed actions."""
    for status in (Status.CLOSED, Status.CONSULTATION, Status.RETURNED_TO_APPLICANT, Status.NOT_CONSIDERED):
        assert allowed_actions(status) == []
    assert allowed_actions(Status.REGISTERED) == ["send", "extend", "return_to_applicant", "refuse"]


def test_rework_loop_goes_back_to_work_then_answers_again() -> None:
    """An answer returned for rework goes back to work and can be answered and closed."""
    appeal = run(registered(), SendToAuthority("ДСЗН"), TakeInWork(), SubmitAnswer("Коротко."))
    appeal = run(appeal, ReturnForRework("не по суті"))
    assert appeal.status is Status.RETURNED_FOR_REWORK and appeal.status_reason == "не по суті"
    with pytest.raises(IllegalTransition):
        run(appeal, Close("9.1"))
    appeal = run(appeal, Resume(), SubmitAnswer("Повна відповідь."), Close("9.1"))
    assert appeal.status is Status.CLOSED and appeal.answer_text == "Повна відповідь."


def test_consultation_closes_the_call_record() -> None:
    """A call record closed as a consultation gets the consultation kind and note."""
    record = open_record(uuid4(), "x.1", caller=None, dnid=None, arrived_at=ARRIVED)
    after, events = transition(record, Consult("  роз'яснено  ", topic_code="106"), "agent:3", ARRIVED)
    assert after.status is Status.CONSULTATION and after.kind is Kind.CONSULTATION
    assert after.consultation_note == "роз'яснено" and after.topic_code == "106"
    assert events[0].actor == "agent:3"


def test_extension_once_up_to_45_days_with_notice() -> None:
    """A one-month term can be extended once, to at most 45 days from receipt, with a notice."""
    appeal = run(registered(requires_study=True), SendToAuthority("ДСЗН"), TakeInWork())
    assert appeal.due == date(2026, 4, 2)
    limit = date(2026, 4, 16)  # 2 March + 45 days
    with pytest.raises(IllegalTransition, match="no later than 2026-04-16"):
        run(appeal, Extend(limit + DAY, "повідомлено"))
    with pytest.raises(ValidationError) as caught:
        run(appeal, Extend(limit, "   "))
    assert caught.value.field == "notice"
    extended, events = transition(appeal, Extend(limit, "Лист № 12 від 30.03"), "head:1", ARRIVED + 20 * DAY)
    assert extended.extended_due == limit and extended.effective_due == limit
    assert extended.status is Status.IN_WORK and extended.extension_notice == "Лист № 12 від 30.03"
    assert events[0].details == {"previous_due": "2026-04-02"}
    with pytest.raises(IllegalTransition, match="already extended"):
        run(extended, Extend(limit, "ще раз"))


def test_extension_must_move_the_term_later_and_come_before_it_ends() -> None:
    """An extension to an earlier date, or after the term has ended, is refused."""
    appeal = run(registered(requires_study=True), SendToAuthority("ДСЗН"))
    with pytest.raises(IllegalTransition):
        run(appeal, Extend(date(2026, 4, 1), "раніше"))
    after_term = datetime(2026, 4, 2, 21, 0, tzinfo=UTC)  # 00:00 Kyiv on 3 April: the term has ended
    with pytest.raises(IllegalTransition, match="ended"):
        transition(appeal, Extend(date(2026, 4, 10), "пізно"), "head:1", after_term)
    ok, _ = transition(
        appeal, Extend(date(2026, 4, 10), "вчасно"), "head:1", after_term - timedelta(seconds=1)
    )
    assert ok.extended_due == date(2026, 4, 10)


def test_forwarding_after_five_days_is_flagged_late() -> None:
    """Sending an appeal after its 5-day forwarding term marks it (and the event) late."""
    appeal = registered()
    assert appeal.forward_due == date(2026, 3, 7)
    on_time, events = transition(
        appeal, SendToAuthority("ДСЗН"), "op:1", datetime(2026, 3, 7, 20, 0, tzinfo=UTC)
    )
    assert not on_time.forwarded_late and events[0].details == {"late": False, "rerouted": False}
    late, events = transition(
        appeal, SendToAuthority("ДСЗН"), "op:1", datetime(2026, 3, 7, 22, 0, tzinfo=UTC)
    )
    assert late.forwarded_late and events[0].details["late"] is True
    assert forwarding_overdue(appeal, datetime(2026, 3, 7, 22, 0, tzinfo=UTC))
    assert not forwarding_overdue(appeal, datetime(2026, 3, 7, 21, 59, tzinfo=UTC))


def test_not_in_competence_is_rerouted_within_five_days_to_another_body() -> None:
    """A not-in-competence appeal goes to a different body, and late re-routing is flagged."""
    appeal = run(registered(), SendToAuthority("Райдержадміністрація"), TakeInWork())
    marked_at = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    appeal, _ = transition(appeal, NotInCompetence("не наша компетенція"), "executor:9", marked_at)
    assert appeal.status is Status.NOT_IN_COMPETENCE and appeal.reroute_due == date(2026, 3, 9)
    with pytest.raises(IllegalTransition, match="not in its competence"):
        run(appeal, SendToAuthority("райдержадміністрація"))
    late_at = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    assert forwarding_overdue(appeal, late_at)
    rerouted, events = transition(appeal, SendToAuthority("Міська рада"), "op:1", late_at)
    assert rerouted.status is Status.SENT_TO_AUTHORITY and rerouted.authority == "Міська рада"
    assert rerouted.forwarded_late and events[0].details == {"late": True, "rerouted": True}
    assert rerouted.reroute_due is None


def test_complaint_never_goes_to_the_body_it_is_about() -> None:
    """A complaint about a body cannot be sent to that same body."""
    appeal = registered(kind="complaint", complained_about="Міська рада")
    with pytest.raises(IllegalTransition, match="complaint"):
        run(appeal, SendToAuthority("міська рада"))
    assert run(appeal, SendToAuthority("Обласна державна адміністрація")).status is Status.SENT_TO_AUTHORITY


def test_overdue_is_derived_from_the_term_in_force() -> None:
    """An open appeal is overdue after its (possibly extended) term; a closed one never is."""
    appeal = run(registered(), SendToAuthority("ДСЗН"), TakeInWork())
    assert appeal.due == date(2026, 3, 17)
    end = datetime(2026, 3, 17, 22, 0, tzinfo=UTC)  # Kyiv midnight after 17 March (UTC+2)
    assert not is_overdue(appeal, end - timedelta(seconds=1))
    assert is_overdue(appeal, end)
    extended = run(appeal, Extend(date(2026, 4, 1), "повідомлено"))
    assert not is_overdue(extended, end)
    closed, events = transition(run(appeal, SubmitAnswer("Так.")), Close("9.1"), "head:1", end + DAY)
    assert not is_overdue(closed, end + DAY)
    assert events[0].details == {"overdue": True}


def test_close_needs_a_result_code_and_refusals_need_reasons() -> None:
    """A close without a 9.x result, or a refusal without a reason, is a validation error."""
    answered = run(registered(), SendToAuthority("ДСЗН"), TakeInWork(), SubmitAnswer("Так."))
    with pytest.raises(ValidationError) as caught:
        run(answered, Close("3.1"))
    assert caught.value.field == "result_code"
    with pytest.raises(ValidationError):
        run(registered(), RefuseConsideration(" "))
    with pytest.raises(ValidationError):
        transition(registered(), ReturnToApplicant("нема адреси"), " ", ARRIVED)


def test_event_changes_record_before_and_after() -> None:
    """Each event lists the changed fields with their old and new values, JSON-friendly."""
    _, events = transition(registered(), SendToAuthority("ДСЗН"), "op:1", ARRIVED + DAY)
    changes = events[0].changes
    assert changes["status"] == ("registered", "sent_to_authority")
    assert changes["authority"] == (None, "ДСЗН")
    assert changes["forwarded_at"] == (None, (ARRIVED + DAY).isoformat())
    assert set(changes) == {"status", "authority", "forwarded_at"}


def test_return_to_applicant_after_ten_days_is_flagged_late() -> None:
    """Returning a defective appeal is marked late once its 10-day term (Art. 5) has ended."""
    appeal = registered()  # received 2 March: the return is due by the end of 12 March (Kyiv)
    _, on_time = transition(
        appeal, ReturnToApplicant("без підпису"), "op:1", datetime(2026, 3, 12, 21, 59, tzinfo=UTC)
    )
    returned, late = transition(
        appeal, ReturnToApplicant("без підпису"), "op:1", datetime(2026, 3, 12, 22, 0, tzinfo=UTC)
    )
    assert on_time[0].details == {"late": False} and late[0].details == {"late": True}
    assert returned.status is Status.RETURNED_TO_APPLICANT and returned.status_reason == "без підпису"
