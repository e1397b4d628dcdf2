"""The lifecycle of an appeal record: an explicit transition table and one ``transition`` function.

::

    call_open ──consult──► consultation
        └──(registration.register)──► registered ──send──► sent_to_authority ──take_in_work──► in_work
    registered ──return_to_applicant──► returned_to_applicant   (Art. 5/7)
    registered ──refuse──► not_considered                        (Art. 8)
    sent_to_authority / in_work ──not_in_competence──► not_in_competence ──send──► sent_to_authority
    in_work ──submit_answer──► answered ──close──► closed
    answered ──return_for_rework──► returned_for_rework ──resume──► in_work
    registered / sent_to_authority / in_work / returned_for_rework ──extend──► (same status), once

``transition(appeal, action, actor, at)`` returns the new record and the events describing the
change; it never publishes them. Any move not in the table raises ``IllegalTransition``; a move
in the table whose data breaks a rule (an extension past 45 days, a complaint sent to the body
it is about) raises it too, while blank required text raises ``ValidationError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from callcenter.appeals.deadlines import (
    DEFAULT_POLICY,
    DeadlinePolicy,
    defect_return_due,
    kyiv_date,
    max_extended_due,
    past_term,
)
from callcenter.appeals.errors import IllegalTransition
from callcenter.appeals.events import make_event
from callcenter.appeals.model import OPEN_STATUSES, Appeal, AppealEvent, Kind, Status
from callcenter.errors import ValidationError

__all__ = [
    "TRANSITIONS",
    "Action",
    "Close",
    "Consult",
    "Extend",
    "NotInCompetence",
    "RefuseConsideration",
    "Resume",
    "ReturnForRework",
    "ReturnToApplicant",
    "SendToAuthority",
    "SubmitAnswer",
    "TakeInWork",
    "allowed_actions",
    "forwarding_overdue",
    "is_overdue",
    "transition",
]

_RESULT = re.compile(r"^9\.\d+$")


@dataclass(frozen=True, slots=True)
class Consult:
    """Close the call record as a consultation: information given, no appeal registered."""

    note: str = ""
    topic_code: str | None = None
    name: ClassVar[str] = "consult"


@dataclass(frozen=True, slots=True)
class SendToAuthority:
    """Send the appeal to the competent authority (Art. 7), or re-route it there."""

    authority: str
    name: ClassVar[str] = "send"


@dataclass(frozen=True, slots=True)
class TakeInWork:
    """The authority has taken the appeal into work."""

    name: ClassVar[str] = "take_in_work"


@dataclass(frozen=True, slots=True)
class Extend:
    """Extend the consideration term once, up to 45 days in total, with the notice sent."""

    new_due: date
    notice: str
    name: ClassVar[str] = "extend"


@dataclass(frozen=True, slots=True)
class NotInCompetence:
    """The authority says the matter is not within its competence; re-route within 5 days."""

    reason: str
    name: ClassVar[str] = "not_in_competence"


@dataclass(frozen=True, slots=True)
class SubmitAnswer:
    """The authority's answer, to be checked before the appeal is closed."""

    text: str
    name: ClassVar[str] = "submit_answer"


@dataclass(frozen=True, slots=True)
class ReturnForRework:
    """The answer does not settle the matter; send it back (на доопрацювання)."""

    reason: str
    name: ClassVar[str] = "return_for_rework"


@dataclass(frozen=True, slots=True)
class Resume:
    """The authority resumes work on a returned appeal."""

    name: ClassVar[str] = "resume"


@dataclass(frozen=True, slots=True)
class Close:
    """Close the appeal with a result from the classifier (9.x)."""

    result_code: str
    name: ClassVar[str] = "close"


@dataclass(frozen=True, slots=True)
class ReturnToApplicant:
    """Return the appeal to the applicant for a defect or missing data (Art. 5, 7)."""

    reason: str
    name: ClassVar[str] = "return_to_applicant"


@dataclass(frozen=True, slots=True)
class RefuseConsideration:
    """The appeal is not subject to consideration (Art. 8)."""

    reason: str
    name: ClassVar[str] = "refuse"


Action = (
    Consult
    | SendToAuthority
    | TakeInWork
    | Extend
    | NotInCompetence
    | SubmitAnswer
    | ReturnForRework
    | Resume
    | Close
    | ReturnToApplicant
    | RefuseConsideration
)

_S = Status
#: action name → (statuses it may start from, the status it leads to; None keeps the status).
TRANSITIONS: Mapping[str, tuple[frozenset[Status], Status | None]] = {
    "consult": (frozenset({_S.CALL_OPEN}), _S.CONSULTATION),
    "send": (frozenset({_S.REGISTERED, _S.NOT_IN_COMPETENCE}), _S.SENT_TO_AUTHORITY),
    "take_in_work": (frozenset({_S.SENT_TO_AUTHORITY}), _S.IN_WORK),
    "extend": (
        frozenset({_S.REGISTERED, _S.SENT_TO_AUTHORITY, _S.IN_WORK, _S.RETURNED_FOR_REWORK}),
        None,
    ),
    "not_in_competence": (frozenset({_S.SENT_TO_AUTHORITY, _S.IN_WORK}), _S.NOT_IN_COMPETENCE),
    "submit_answer": (frozenset({_S.IN_WORK}), _S.ANSWERED),
    "return_for_rework": (frozenset({_S.ANSWERED}), _S.RETURNED_FOR_REWORK),
    "resume": (frozenset({_S.RETURNED_FOR_REWORK}), _S.IN_WORK),
    "close": (frozenset({_S.ANSWERED}), _S.CLOSED),
    "return_to_applicant": (frozenset({_S.REGISTERED}), _S.RETURNED_TO_APPLICANT),
    "refuse": (frozenset({_S.REGISTERED}), _S.NOT_CONSIDERED),
}


def allowed_actions(status: Status) -> list[str]:
    """The action names the table allows from ``status`` (for buttons on the agent's card)."""
    return [name for name, (sources, _) in TRANSITIONS.items() if status in sources]


def is_overdue(appeal: Appeal, now: datetime) -> bool:
    """A registered appeal still under consideration after its term in force has ended."""
    return appeal.status in OPEN_STATUSES and past_term(appeal.effective_due, now)


def forwarding_overdue(appeal: Appeal, now: datetime) -> bool:
    """An appeal waiting to be sent (or re-routed) after its 5-day forwarding term has ended."""
    if appeal.status is Status.REGISTERED:
        return past_term(appeal.forward_due, now)
    if appeal.status is Status.NOT_IN_COMPETENCE:
        return past_term(appeal.reroute_due, now)
    return False


def _required(value: str, field: str) -> str:
    text = value.strip()
    if not text:
        raise ValidationError(f"{field}: required", field=field)
    return text


def _refuse(appeal: Appeal, action: str, why: str) -> IllegalTransition:
    return IllegalTransition(why, status=appeal.status.value, action=action)


def transition(
    appeal: Appeal,
    action: Action,
    actor: str,
    at: datetime,
    *,
    policy: DeadlinePolicy = DEFAULT_POLICY,
) -> tuple[Appeal, list[AppealEvent]]:
    """Apply ``action`` to ``appeal`` at ``at`` on behalf of ``actor``: the new record and events."""
    if not actor.strip():
        raise ValidationError("every change needs an actor", field="actor")
    sources, target = TRANSITIONS[action.name]
    if appeal.status not in sources:
        allowed = ", ".join(allowed_actions(appeal.status)) or "none"
        raise _refuse(
            appeal,
            action.name,
            f"cannot {action.name.replace('_', ' ')} an appeal that is {appeal.status.value} "
            f"(allowed: {allowed})",
        )
    changes, details = _apply(appeal, action, at, policy)
    after = replace(appeal, **changes)
    if target is not None:
        after = replace(after, status=target)
    event = make_event(f"appeal.{action.name}", appeal, after, actor=actor, at=at, details=details)
    return after, [event]


def _apply(
    appeal: Appeal, action: Action, at: datetime, policy: DeadlinePolicy
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The field changes and event details of one allowed action (rules checked here)."""
    match action:
        case Consult(note=note, topic_code=topic):
            return {
                "kind": Kind.CONSULTATION,
                "consultation_note": note.strip() or None,
                "topic_code": topic,
            }, {}
        case SendToAuthority(authority=raw):
            return _send(appeal, _required(raw, "authority"), at)
        case TakeInWork():
            return {}, {}
        case Extend(new_due=new_due, notice=notice):
            return _extend(appeal, new_due, _required(notice, "notice"), at, policy)
        case NotInCompetence(reason=reason):
            reroute = kyiv_date(at) + timedelta(days=policy.forward_days)
            return {"status_reason": _required(reason, "reason"), "reroute_due": policy.settle(reroute)}, {}
        case SubmitAnswer(text=text):
            return {"answer_text": _required(text, "text"), "answer_submitted_at": at}, {}
        case ReturnForRework(reason=reason):
            return {"status_reason": _required(reason, "reason")}, {}
        case Resume():
            return {}, {}
        case Close(result_code=code):
            if not _RESULT.match(code.strip()):
                raise ValidationError(f"result_code: {code!r} is not a 9.x result", field="result_code")
            return {"result_code": code.strip(), "closed_at": at}, {"overdue": is_overdue(appeal, at)}
        case ReturnToApplicant(reason=reason):
            # Art. 5: a defective appeal goes back with an explanation within 10 days.
            late = appeal.received_on is not None and past_term(
                defect_return_due(appeal.received_on, policy), at
            )
            return {"status_reason": _required(reason, "reason"), "closed_at": at}, {"late": late}
        case RefuseConsideration(reason=reason):
            return {"status_reason": _required(reason, "reason"), "closed_at": at}, {}
    raise AssertionError(f"unhandled action {action!r}")  # pragma: no cover - the match is total


def _send(appeal: Appeal, authority: str, at: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    # Art. 7 and the Law's intent: a complaint never goes to the body it complains about.
    if (
        appeal.kind is Kind.COMPLAINT
        and appeal.complained_about
        and appeal.complained_about.casefold() == authority.casefold()
    ):
        raise _refuse(appeal, "send", f"a complaint about {authority} cannot be sent to {authority}")
    rerouted = appeal.status is Status.NOT_IN_COMPETENCE
    if rerouted and appeal.authority and appeal.authority.casefold() == authority.casefold():
        raise _refuse(appeal, "send", f"{authority} said the matter is not in its competence")
    term = appeal.reroute_due if rerouted else appeal.forward_due
    late = past_term(term, at)
    changes: dict[str, Any] = {
        "authority": authority,
        "forwarded_at": at,
        "forwarded_late": appeal.forwarded_late or late,
    }
    if rerouted:
        changes["reroute_due"] = None
    return changes, {"late": late, "rerouted": rerouted}


def _extend(
    appeal: Appeal, new_due: date, notice: str, at: datetime, policy: DeadlinePolicy
) -> tuple[dict[str, Any], dict[str, Any]]:
    if appeal.extended_due is not None:
        raise _refuse(appeal, "extend", f"the term was already extended to {appeal.extended_due}")
    if appeal.due is None or appeal.received_on is None:
        raise _refuse(appeal, "extend", "the appeal has no consideration term to extend")
    if past_term(appeal.due, at):
        raise _refuse(appeal, "extend", f"the term ended on {appeal.due}; it can only be extended before")
    limit = max_extended_due(appeal.received_on, policy)
    if not appeal.due < new_due <= limit:
        raise _refuse(
            appeal,
            "extend",
            f"the new term must be after {appeal.due} and no later than {limit} "
            f"({policy.max_total_days} days from receipt on {appeal.received_on})",
        )
    return {"extended_due": new_due, "extension_notice": notice, "extended_at": at}, {
        "previous_due": appeal.due.isoformat()
    }
