"""The appeal repository on PostgreSQL: idempotent call records, lifecycle with audit, views."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from callcenter.appeals.calls import AgentAnswered, CallEnded, CallProgress, EnteredQueue, IvrChoice
from callcenter.appeals.errors import IllegalTransition, RegistrationError
from callcenter.appeals.lifecycle import Close, Consult, Extend, SendToAuthority, SubmitAnswer, TakeInWork
from callcenter.appeals.model import CallbackState, CallOutcome, Status
from callcenter.appeals.registration import RegistrationForm
from callcenter.storage.appeals import AppealQuery, AppealRepository, ingest_survival_spool

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 09:00 Kyiv
S = timedelta(seconds=1)
CALLER = "+380501234567"


def form(**fields: Any) -> RegistrationForm:
    base: dict[str, Any] = {
        "kind": "complaint",
        "surname": "Шевченко",
        "given_name": "Мар'яна",
        "patronymic": "Іванівна",
        "residence": "м. Дніпро",
        "essence": "Немає опалення.",
        "topic_code": "109",
    }
    return RegistrationForm(**(base | fields))


async def audit_count(pool: Any, appeal_id: Any) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE subject = $1", f"appeal:{appeal_id}"
    )
    return count


async def test_opening_twice_or_concurrently_keeps_one_record(db_pool: Any) -> None:
    """Opening a call's record again, even concurrently, returns the same single record."""
    repo = AppealRepository(db_pool)
    first = await repo.open_for_call("open.1", caller=CALLER, dnid="1545", arrived_at=T0)
    again = await asyncio.gather(
        *(repo.open_for_call("open.1", caller="0670000000", dnid="x", arrived_at=T0 + S) for _ in range(8))
    )
    assert all(a == first for a in again)
    assert await db_pool.fetchval("SELECT count(*) FROM appeals WHERE linkedid = 'open.1'") == 1
    assert await audit_count(db_pool, first.id) == 1
    assert first.status is Status.CALL_OPEN and first.call.caller == CALLER


async def test_replayed_progress_leaves_the_same_record_and_no_new_audit(db_pool: Any) -> None:
    """Replaying the call's progress events changes neither the row nor the audit trail."""
    repo = AppealRepository(db_pool)
    opened = await repo.open_for_call("replay.1", caller=CALLER, dnid="1545", arrived_at=T0)
    events: list[CallProgress] = [
        IvrChoice("replay.1", "menu", "2", T0 + 3 * S),
        EnteredQueue("replay.1", "social", T0 + 5 * S),
        AgentAnswered("replay.1", "agent-7", T0 + 20 * S),
        CallEnded("replay.1", T0 + 200 * S),
    ]
    for event in events:
        await repo.apply_call_progress(event)
    once = await repo.get(opened.id)
    trail = await audit_count(db_pool, opened.id)
    for event in reversed(events):
        await repo.apply_call_progress(event)
    assert await repo.get(opened.id) == once
    assert await audit_count(db_pool, opened.id) == trail == 5
    assert once.call.agent == "agent-7" and once.call.ivr_steps[0].choice == "2"
    row = await db_pool.fetchrow("SELECT call_outcome, caller_digits FROM appeals WHERE id = $1", opened.id)
    assert (row["call_outcome"], row["caller_digits"]) == ("answered", "380501234567")


async def test_progress_before_arrival_gives_the_same_record_as_the_usual_order(db_pool: Any) -> None:
    """A progress event that overtakes the arrival opens the record; the arrival then completes it."""
    repo = AppealRepository(db_pool)
    usual = await repo.open_for_call("order.a", caller=CALLER, dnid="1545", arrived_at=T0)
    usual = await repo.apply_call_progress(EnteredQueue("order.a", "social", T0 + 5 * S))
    early = await repo.apply_call_progress(EnteredQueue("order.b", "social", T0 + 5 * S))
    assert early.call.caller is None and early.call.arrived_at == T0 + 5 * S
    late = await repo.open_for_call("order.b", caller=CALLER, dnid="1545", arrived_at=T0)
    assert late.call == usual.call and late.callback is usual.callback
    assert await repo.get(late.id) == late
    assert await repo.open_for_call("order.b", caller="0670000000", dnid="9", arrived_at=T0 + S) == late


async def test_register_and_move_through_the_lifecycle_with_audit(db_pool: Any) -> None:
    """Registration and each move are stored and audited with who, when and what changed."""
    repo = AppealRepository(db_pool)
    opened = await repo.open_for_call("life.1", caller=CALLER, dnid="1545", arrived_at=T0)
    registered = await repo.register(opened.id, form(categories=("7.5",)), actor="agent:1001", at=T0 + 60 * S)
    assert registered.number is not None and registered.number.endswith("-2026-000001")
    assert registered.priority and registered.due == date(2026, 3, 17) and registered.sign == "2.1"
    at = T0 + timedelta(days=1)
    await repo.transition(opened.id, SendToAuthority("Департамент ЖКГ"), actor="operator:2", at=at)
    await repo.transition(opened.id, TakeInWork(), actor="executor:3", at=at)
    extended = await repo.transition(opened.id, Extend(date(2026, 4, 1), "Лист № 5"), actor="head:4", at=at)
    assert extended.extended_due == date(2026, 4, 1)
    with pytest.raises(IllegalTransition):
        await repo.transition(opened.id, Close("9.1"), actor="head:4", at=at)
    await repo.transition(opened.id, SubmitAnswer("Опалення відновлено."), actor="executor:3", at=at)
    closed = await repo.transition(opened.id, Close("9.1"), actor="head:4", at=at)
    assert closed == await repo.get(opened.id) and closed.status is Status.CLOSED
    trail = await repo.audit_trail(opened.id)
    assert [(e.actor, e.action) for e in trail] == [
        ("pbx", "call.opened"),
        ("agent:1001", "appeal.registered"),
        ("operator:2", "appeal.send"),
        ("executor:3", "appeal.take_in_work"),
        ("head:4", "appeal.extend"),
        ("executor:3", "appeal.submit_answer"),
        ("head:4", "appeal.close"),
    ]
    assert trail[4].details["changes"]["extended_due"] == [None, "2026-04-01"]
    assert trail[4].details["at"] == at.isoformat()


async def test_personal_numbers_are_masked_in_the_audit_trail(db_pool: Any) -> None:
    """The audit trail of a registration never holds the caller's full number."""
    repo = AppealRepository(db_pool)
    opened = await repo.open_for_call("mask.1", caller="+380671112233", dnid="1545", arrived_at=T0)
    await repo.register(opened.id, form(surname="Мельник"), actor="agent:1", at=T0)
    text = json.dumps([e.details for e in await repo.audit_trail(opened.id)], ensure_ascii=False)
    assert "1112233" not in text and "38067***2233" in text


async def test_registration_errors_name_the_field_and_change_nothing(db_pool: Any) -> None:
    """A registration with a missing field is refused by name and leaves the record open."""
    repo = AppealRepository(db_pool)
    opened = await repo.open_for_call("err.1", caller=CALLER, dnid="1545", arrived_at=T0)
    with pytest.raises(RegistrationError) as caught:
        await repo.register(opened.id, form(patronymic=None), actor="agent:1", at=T0)
    assert caught.value.field == "patronymic"
    assert (await repo.get(opened.id)).status is Status.CALL_OPEN
    consulted = await repo.transition(opened.id, Consult("роз'яснено", "106"), actor="agent:1", at=T0)
    assert consulted.status is Status.CONSULTATION
    with pytest.raises(IllegalTransition):
        await repo.register(opened.id, form(), actor="agent:1", at=T0)


async def test_repeat_within_period_is_detected_on_registration(db_pool: Any) -> None:
    """A second appeal by the same caller on the same topic is a duplicate while the first is open."""
    repo = AppealRepository(db_pool)
    first = await repo.open_for_call("rep.1", caller="0931112233", dnid="1545", arrived_at=T0)
    second = await repo.open_for_call("rep.2", caller="+380931112233", dnid="1545", arrived_at=T0 + 99 * S)
    a = await repo.register(first.id, form(surname="Бондар"), actor="a", at=T0)
    b = await repo.register(second.id, form(surname="Бондар", given_name="Інна"), actor="a", at=T0 + 99 * S)
    assert a.sign == "2.1" and b.sign == "2.3" and b.related_appeal_ids == (a.id,)


async def test_search_overdue_and_callback_views(db_pool: Any) -> None:
    """Search filters, the overdue and forwarding views, and the callback list work on stored rows."""
    repo = AppealRepository(db_pool)
    a = await repo.open_for_call("view.a", caller="0991234500", dnid="1545", arrived_at=T0)
    b = await repo.open_for_call("view.b", caller="0991234501", dnid="1545", arrived_at=T0)
    reg_a = await repo.register(a.id, form(surname="Ткаченко", topic_code="106"), actor="x", at=T0)
    await repo.register(b.id, form(surname="Ткач", topic_code="110", categories=("7.14",)), actor="x", at=T0)
    await repo.transition(b.id, SendToAuthority("Міська рада"), actor="x", at=T0)
    now = datetime(2026, 3, 18, 8, 0, tzinfo=UTC)  # both 15-day terms (to 17 March) have ended

    async def ids(**query: Any) -> set[Any]:
        return {r.id for r in await repo.search(AppealQuery(**query), now=now)}

    assert await ids(number=reg_a.number) == {a.id}
    assert await ids(phone="099 123 45 01") == {b.id}
    assert await ids(name="ткач") == {a.id, b.id}
    assert await ids(name="Ткаченко Мар'яна") == {a.id}
    assert await ids(status=Status.SENT_TO_AUTHORITY) == {b.id}
    assert await ids(topic_code="106", registered_only=True) == {a.id}
    assert await ids(authority="міська рада") == {b.id}
    assert {a.id, b.id} <= await ids(overdue=True)
    assert await ids(overdue=False, name="Ткач") == set()
    assert [r.id for r in await repo.overdue(now) if r.id in (a.id, b.id)] == [b.id, a.id]  # priority first
    assert a.id in {r.id for r in await repo.forwarding_overdue(now)}
    assert b.id not in {r.id for r in await repo.forwarding_overdue(now)}
    assert await ids(name="100%_") == set()  # LIKE wildcards in input mean themselves


async def test_callback_tasks_and_survival_spool(db_pool: Any) -> None:
    """Abandoned and spooled calls become callback tasks; ingesting the spool twice adds nothing."""

    @dataclass(frozen=True)
    class Spooled:
        uniqueid: str
        caller: str | None
        dnid: str | None
        arrived_at: datetime
        reason: str

    spool = [
        Spooled("surv.1", "0661110001", "0800505600", T0, "backend_down"),
        Spooled("surv.2", None, "0800505600", T0 + S, "after_hours"),
    ]
    assert await ingest_survival_spool(db_pool, spool) == 2
    assert await ingest_survival_spool(db_pool, spool) == 0
    repo = AppealRepository(db_pool)
    lost = await repo.open_for_call("cb.1", caller="0661110002", dnid="1545", arrived_at=T0 + 2 * S)
    await repo.apply_call_progress(EnteredQueue("cb.1", "social", T0 + 3 * S))
    await repo.apply_call_progress(CallEnded("cb.1", T0 + 90 * S))
    later = await repo.open_for_call("cb.2", caller="+380661110002", dnid="1545", arrived_at=T0 + 600 * S)
    await repo.apply_call_progress(AgentAnswered("cb.2", "agent-1", T0 + 610 * S))
    tasks = {t.linkedid: t for t in await repo.callback_tasks()}
    assert set(tasks) >= {"surv.1", "cb.1"} and "surv.2" not in tasks and "cb.2" not in tasks
    assert tasks["surv.1"].outcome is CallOutcome.SURVIVAL
    assert tasks["cb.1"].outcome is CallOutcome.ABANDONED_IN_QUEUE and tasks["cb.1"].waited == 87 * S
    assert tasks["cb.1"].reached_later and not tasks["surv.1"].reached_later
    done = await repo.resolve_callback(lost.id, CallbackState.DONE, actor="supervisor:1", at=T0 + 700 * S)
    assert done.callback is CallbackState.DONE and later.callback is CallbackState.NONE
    assert "cb.1" not in {t.linkedid for t in await repo.callback_tasks()}
    trail = await repo.audit_trail(tasks["surv.1"].appeal_id)
    assert [e.action for e in trail] == ["call.survival_ingested"]


async def test_real_spool_calls_are_keyed_by_linkedid_through_ingest_spool(db_pool: Any) -> None:
    """The telephony spool's calls, handed over by ingest_spool, open records keyed by linkedid."""
    from callcenter.telephony.spool import SpooledCall

    repo = AppealRepository(db_pool)
    call = SpooledCall("1718000099.1", "1718000099.0", "+380501112299", "0800505600", T0, "FAILURE")
    await repo.handle_spooled_call(call)
    await repo.handle_spooled_call(call)
    record = await repo.find_by_linkedid("1718000099.0")
    assert record is not None and record.call.survival_reason == "FAILURE"
    assert await repo.find_by_linkedid("1718000099.1") is None
    assert record.callback is CallbackState.PENDING


async def test_logs_never_carry_the_full_caller_number(db_pool: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening, following and registering a call logs the caller's number only masked."""
    from structlog.testing import capture_logs

    import callcenter.storage.appeals as appeals_storage
    from callcenter.logs import get_logger

    repo = AppealRepository(db_pool)
    with capture_logs() as logs:
        # get_logger binds at call time, so the module's logger is remade under the capture.
        monkeypatch.setattr(appeals_storage, "log", get_logger("callcenter.storage.appeals"))
        opened = await repo.open_for_call("log.1", caller="+380974445566", dnid="1545", arrived_at=T0)
        await repo.apply_call_progress(CallEnded("log.1", T0 + S))
        await repo.register(opened.id, form(surname="Лисенко"), actor="agent:1", at=T0 + S)
    assert logs, "the repository should log what it does"
    text = json.dumps(logs, default=str, ensure_ascii=False)
    assert "4445566" not in text and "5566" in text
