"""The appeal record as a row of the ``appeals`` table, and back (no database access here).

The storage layer writes ``to_row(appeal)`` and reads ``from_row(row)``; keeping the mapping
pure lets the round trip be tested without PostgreSQL. Besides the record's own fields the row
carries a few derived columns that exist only so SQL can filter and index them: the normalised
phone numbers, the call outcome, the registration year and sequence, and the instants at which
the consideration term and the forwarding term end.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from callcenter.appeals.calls import call_outcome
from callcenter.appeals.deadlines import end_of_day
from callcenter.appeals.model import (
    Appeal,
    Applicant,
    CallbackState,
    CallTrack,
    IvrStep,
    Kind,
    Status,
)
from callcenter.appeals.registration import parse_number
from callcenter.appeals.repeats import normalise_phone

__all__ = ["COLUMNS", "from_row", "to_row"]

#: Every column ``to_row`` fills, in a fixed order (``id`` first).
COLUMNS: tuple[str, ...] = (
    "id", "linkedid", "status", "callback", "kind", "consultation_note",
    "caller", "caller_digits", "dnid", "arrived_at", "ivr_steps", "queue", "queued_at",
    "answered_at", "agent", "ended_at", "after_hours", "callback_requested", "survival_reason",
    "call_outcome",
    "number", "number_year", "number_seq", "registered_at", "registered_by",
    "surname", "given_name", "patronymic", "residence", "applicant_phone", "applicant_phone_digits",
    "email", "sex", "categories", "social_status",
    "receipt_form", "sign", "related_appeal_ids", "subject", "topic_code", "essence",
    "priority", "head_review", "requires_study",
    "received_on", "forward_due", "due", "extended_due", "extension_notice", "extended_at",
    "due_ends_at", "forwarding_ends_at",
    "authority", "complained_about", "forwarded_at", "forwarded_late", "reroute_due",
    "answer_text", "answer_submitted_at", "result_code", "closed_at", "status_reason",
    "callback_note", "callback_by", "callback_at",
)  # fmt: skip


def to_row(appeal: Appeal) -> dict[str, Any]:
    """The column values of ``appeal``, in ``COLUMNS`` order."""
    call, person = appeal.call, appeal.applicant
    year = seq = None
    if appeal.number is not None:
        _, year, seq = parse_number(appeal.number)
    forwarding_day = None
    if appeal.status is Status.REGISTERED:
        forwarding_day = appeal.forward_due
    elif appeal.status is Status.NOT_IN_COMPETENCE:
        forwarding_day = appeal.reroute_due
    due = appeal.effective_due
    row: dict[str, Any] = {
        "id": appeal.id,
        "linkedid": appeal.linkedid,
        "status": appeal.status.value,
        "callback": appeal.callback.value,
        "kind": appeal.kind.value if appeal.kind else None,
        "consultation_note": appeal.consultation_note,
        "caller": call.caller,
        "caller_digits": normalise_phone(call.caller) or None,
        "dnid": call.dnid,
        "arrived_at": call.arrived_at,
        "ivr_steps": [{"node": s.node, "choice": s.choice, "at": s.at.isoformat()} for s in call.ivr_steps],
        "queue": call.queue,
        "queued_at": call.queued_at,
        "answered_at": call.answered_at,
        "agent": call.agent,
        "ended_at": call.ended_at,
        "after_hours": call.after_hours,
        "callback_requested": call.callback_requested,
        "survival_reason": call.survival_reason,
        "call_outcome": call_outcome(call).value,
        "number": appeal.number,
        "number_year": year,
        "number_seq": seq,
        "registered_at": appeal.registered_at,
        "registered_by": appeal.registered_by,
        "surname": person.surname if person else None,
        "given_name": person.given_name if person else None,
        "patronymic": person.patronymic if person else None,
        "residence": person.residence if person else None,
        "applicant_phone": person.phone if person else None,
        "applicant_phone_digits": (normalise_phone(person.phone) or None) if person else None,
        "email": person.email if person else None,
        "sex": person.sex if person else None,
        "categories": list(person.categories) if person else [],
        "social_status": person.social_status if person else None,
        "receipt_form": appeal.receipt_form,
        "sign": appeal.sign,
        "related_appeal_ids": list(appeal.related_appeal_ids),
        "subject": appeal.subject,
        "topic_code": appeal.topic_code,
        "essence": appeal.essence,
        "priority": appeal.priority,
        "head_review": appeal.head_review,
        "requires_study": appeal.requires_study,
        "received_on": appeal.received_on,
        "forward_due": appeal.forward_due,
        "due": appeal.due,
        "extended_due": appeal.extended_due,
        "extension_notice": appeal.extension_notice,
        "extended_at": appeal.extended_at,
        "due_ends_at": end_of_day(due) if due else None,
        "forwarding_ends_at": end_of_day(forwarding_day) if forwarding_day else None,
        "authority": appeal.authority,
        "complained_about": appeal.complained_about,
        "forwarded_at": appeal.forwarded_at,
        "forwarded_late": appeal.forwarded_late,
        "reroute_due": appeal.reroute_due,
        "answer_text": appeal.answer_text,
        "answer_submitted_at": appeal.answer_submitted_at,
        "result_code": appeal.result_code,
        "closed_at": appeal.closed_at,
        "status_reason": appeal.status_reason,
        "callback_note": appeal.callback_note,
        "callback_by": appeal.callback_by,
        "callback_at": appeal.callback_at,
    }
    assert tuple(row) == COLUMNS, "to_row and COLUMNS must list the same columns in the same order"
    return row


def from_row(row: Mapping[str, Any]) -> Appeal:
    """The record a row of the ``appeals`` table holds."""
    steps = tuple(
        IvrStep(s["node"], s["choice"], datetime.fromisoformat(s["at"])) for s in row["ivr_steps"] or []
    )
    call = CallTrack(
        caller=row["caller"],
        dnid=row["dnid"],
        arrived_at=row["arrived_at"],
        ivr_steps=steps,
        queue=row["queue"],
        queued_at=row["queued_at"],
        answered_at=row["answered_at"],
        agent=row["agent"],
        ended_at=row["ended_at"],
        after_hours=row["after_hours"],
        callback_requested=row["callback_requested"],
        survival_reason=row["survival_reason"],
    )
    applicant = None
    if row["surname"] is not None:
        applicant = Applicant(
            surname=row["surname"],
            given_name=row["given_name"],
            patronymic=row["patronymic"],
            residence=row["residence"],
            phone=row["applicant_phone"],
            email=row["email"],
            sex=row["sex"],
            categories=tuple(row["categories"] or ()),
            social_status=row["social_status"],
        )
    return Appeal(
        id=row["id"] if isinstance(row["id"], UUID) else UUID(str(row["id"])),
        linkedid=row["linkedid"],
        call=call,
        status=Status(row["status"]),
        callback=CallbackState(row["callback"]),
        kind=Kind(row["kind"]) if row["kind"] else None,
        consultation_note=row["consultation_note"],
        number=row["number"],
        registered_at=row["registered_at"],
        registered_by=row["registered_by"],
        applicant=applicant,
        receipt_form=row["receipt_form"],
        sign=row["sign"],
        related_appeal_ids=tuple(UUID(str(i)) for i in row["related_appeal_ids"] or ()),
        subject=row["subject"],
        topic_code=row["topic_code"],
        essence=row["essence"],
        priority=row["priority"],
        head_review=row["head_review"],
        requires_study=row["requires_study"],
        received_on=row["received_on"],
        forward_due=row["forward_due"],
        due=row["due"],
        extended_due=row["extended_due"],
        extension_notice=row["extension_notice"],
        extended_at=row["extended_at"],
        authority=row["authority"],
        complained_about=row["complained_about"],
        forwarded_at=row["forwarded_at"],
        forwarded_late=row["forwarded_late"],
        reroute_due=row["reroute_due"],
        answer_text=row["answer_text"],
        answer_submitted_at=row["answer_submitted_at"],
        result_code=row["result_code"],
        closed_at=row["closed_at"],
        status_reason=row["status_reason"],
        callback_note=row["callback_note"],
        callback_by=row["callback_by"],
        callback_at=row["callback_at"],
    )
