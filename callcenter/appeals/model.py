"""The appeal record: what one call leaves behind, and what a registered appeal carries.

A record opens when the call arrives (``status = CALL_OPEN``) and follows the call through the
IVR, the queue, the answer and the hang-up (``CallTrack``). An agent then either records a
consultation or registers an appeal (a proposal, an application or a complaint under the Law
"Про звернення громадян"), after which the lifecycle in ``lifecycle.py`` takes over.

Every value here is frozen: changes are made with ``dataclasses.replace`` by the pure functions
of this package, which return the new record together with the events that describe the change.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

__all__ = [
    "KIND_CLASSIFIER_CODES",
    "OPEN_STATUSES",
    "TERMINAL_STATUSES",
    "Appeal",
    "AppealEvent",
    "Applicant",
    "CallOutcome",
    "CallTrack",
    "CallbackState",
    "IvrStep",
    "Kind",
    "Status",
]


class Kind(enum.StrEnum):
    """What the call turned out to be: a consultation, or one of the three appeal types (Art. 3)."""

    CONSULTATION = "consultation"  # консультація: information given, no appeal registered
    PROPOSAL = "proposal"  # пропозиція (зауваження)
    APPLICATION = "application"  # заява (клопотання)
    COMPLAINT = "complaint"  # скарга


#: The classifier's "3 Type" code of each appeal kind (a consultation has none).
KIND_CLASSIFIER_CODES: Mapping[Kind, str] = {
    Kind.PROPOSAL: "3.1",
    Kind.APPLICATION: "3.2",
    Kind.COMPLAINT: "3.3",
}


class Status(enum.StrEnum):
    """Where the record is in its life; the allowed moves are in ``lifecycle.TRANSITIONS``."""

    CALL_OPEN = "call_open"  # the call arrived; nothing decided yet
    CONSULTATION = "consultation"  # closed as a consultation, no appeal
    REGISTERED = "registered"  # зареєстровано
    SENT_TO_AUTHORITY = "sent_to_authority"  # sent to the executor (competent authority)
    IN_WORK = "in_work"  # в роботі
    NOT_IN_COMPETENCE = "not_in_competence"  # не в компетенції: to be re-routed within 5 days
    ANSWERED = "answered"  # на перевірці: the authority's answer awaits review
    RETURNED_FOR_REWORK = "returned_for_rework"  # на доопрацюванні
    CLOSED = "closed"  # закрито, with a result code 9.x
    RETURNED_TO_APPLICANT = "returned_to_applicant"  # Art. 5/7: defective or insufficient data
    NOT_CONSIDERED = "not_considered"  # Art. 8: not subject to consideration


#: Statuses after which nothing more happens to the record.
TERMINAL_STATUSES = frozenset(
    {Status.CONSULTATION, Status.CLOSED, Status.RETURNED_TO_APPLICANT, Status.NOT_CONSIDERED}
)

#: Statuses of a registered appeal whose consideration term is running (the overdue view).
OPEN_STATUSES = frozenset(
    {
        Status.REGISTERED,
        Status.SENT_TO_AUTHORITY,
        Status.IN_WORK,
        Status.NOT_IN_COMPETENCE,
        Status.ANSWERED,
        Status.RETURNED_FOR_REWORK,
    }
)


class CallOutcome(enum.StrEnum):
    """How the call behind the record ended (derived from ``CallTrack``, never stored by hand)."""

    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"  # an agent took the call
    ENDED_IN_IVR = "ended_in_ivr"  # the caller hung up before reaching a queue
    ABANDONED_IN_QUEUE = "abandoned_in_queue"  # hung up while waiting for an agent
    AFTER_HOURS = "after_hours"  # arrived outside working hours
    SURVIVAL = "survival"  # taken by the PBX's survival path while the backend was down


class CallbackState(enum.StrEnum):
    """The supervisors' callback task attached to a call that needs one."""

    NONE = "none"  # no callback needed (or not yet known)
    PENDING = "pending"  # on the task list
    DONE = "done"  # the caller was reached
    CANCELLED = "cancelled"  # a supervisor decided no callback is due (e.g. a misdial)


@dataclass(frozen=True, slots=True)
class IvrStep:
    """One choice the caller made in the IVR: the node and the key (or value) chosen."""

    node: str
    choice: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallTrack:
    """What happened to the call: filled in by call-progress events, idempotently."""

    caller: str | None  # the caller's number (personal data: stored, never logged unmasked)
    dnid: str | None  # the number dialled, which tells the hotline line
    arrived_at: datetime
    ivr_steps: tuple[IvrStep, ...] = ()
    queue: str | None = None
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    agent: str | None = None
    ended_at: datetime | None = None
    after_hours: bool = False
    callback_requested: bool = False
    survival_reason: str | None = None  # set when the record came from the survival spool


@dataclass(frozen=True, slots=True)
class Applicant:
    """The person behind a registered appeal (Art. 5: ПІБ and residence are required)."""

    surname: str
    given_name: str
    patronymic: str
    residence: str
    phone: str | None = None
    email: str | None = None
    sex: str | None = None  # classifier 4.x
    categories: tuple[str, ...] = ()  # classifier 7.x
    social_status: str | None = None  # classifier 8.x

    @property
    def full_name(self) -> str:
        """Surname, given name and patronymic, as written on a registration card."""
        return f"{self.surname} {self.given_name} {self.patronymic}"


@dataclass(frozen=True, slots=True)
class Appeal:
    """One record per call; a registered appeal once ``number`` is set."""

    id: UUID
    linkedid: str | None
    call: CallTrack
    status: Status = Status.CALL_OPEN
    callback: CallbackState = CallbackState.NONE
    kind: Kind | None = None
    consultation_note: str | None = None
    # Registration (classifier after CMU resolution 858 of 2008).
    number: str | None = None
    registered_at: datetime | None = None
    registered_by: str | None = None
    applicant: Applicant | None = None
    receipt_form: str = "1.1.1"  # telephone
    sign: str | None = None  # 2.1 first / 2.2 repeated / 2.3 duplicate
    related_appeal_ids: tuple[UUID, ...] = ()
    subject: str = "5.1"  # individual
    topic_code: str | None = None
    essence: str | None = None
    priority: bool = False  # a benefit holder: considered first (Art. 20)
    head_review: bool = False  # personal review by the head (Art. 14, 15)
    requires_study: bool = False
    # Deadlines (dates are Europe/Kyiv calendar days; the term ends when that day ends).
    received_on: date | None = None
    forward_due: date | None = None
    due: date | None = None
    extended_due: date | None = None
    extension_notice: str | None = None
    extended_at: datetime | None = None
    # Routing to the competent authority (Art. 7).
    authority: str | None = None
    complained_about: str | None = None  # a complaint never goes to the body it is about
    forwarded_at: datetime | None = None
    forwarded_late: bool = False
    reroute_due: date | None = None
    # Answer and closing.
    answer_text: str | None = None
    answer_submitted_at: datetime | None = None
    result_code: str | None = None
    closed_at: datetime | None = None
    status_reason: str | None = None  # why the last refusal, return or re-route happened
    # The supervisor's handling of the callback task.
    callback_note: str | None = None
    callback_by: str | None = None
    callback_at: datetime | None = None

    @property
    def effective_due(self) -> date | None:
        """The consideration term in force: the extended one if any, else the original."""
        return self.extended_due or self.due


@dataclass(frozen=True, slots=True)
class AppealEvent:
    """What a change did to a record: written to the audit log, published by the caller.

    ``changes`` maps each changed field to ``(before, after)`` in JSON-friendly form.
    """

    name: str  # e.g. 'appeal.registered', 'appeal.extended', 'call.queued'
    appeal_id: UUID
    actor: str
    at: datetime
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
