"""Registering an appeal: the form's rules (Art. 5), registration numbers and the register step.

Art. 5 of the Law requires the surname, name and patronymic, the place of residence and the
essence of the matter; each missing or malformed field is reported by name. An anonymous caller
(one who will not give a name or residence) can only get a consultation, because anonymous
appeals are not considered (Art. 8).

Registration numbers read ``<prefix>-<year>-<sequence>``, e.g. ``ЗВ-2026-000123``. The sequence is
gap-free within a prefix and year; allocating it is the storage layer's job (a locked counter
row in the registering transaction), formatting and parsing it is done here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime

from callcenter.appeals.classifier import Classifier
from callcenter.appeals.deadlines import (
    DEFAULT_POLICY,
    DeadlinePolicy,
    consideration_due,
    forward_due,
    kyiv_date,
)
from callcenter.appeals.errors import IllegalTransition, RegistrationError
from callcenter.appeals.events import make_event
from callcenter.appeals.model import KIND_CLASSIFIER_CODES, Appeal, AppealEvent, Applicant, Kind, Status
from callcenter.appeals.repeats import SignDecision
from callcenter.errors import ValidationError

__all__ = [
    "NumberingPolicy",
    "RegistrationForm",
    "format_number",
    "parse_number",
    "register",
    "validate_registration",
]

_PREFIX = re.compile(r"^[^\W\d_][^\W_]{0,9}$")  # a letter, then up to 9 letters or digits
_NUMBER = re.compile(r"^([^\W\d_][^\W_]{0,9})-(\d{4})-(\d+)$")
# Letters of any script, with the apostrophes and hyphens Ukrainian names use (Мар'яна, Ґалаґан-Ус).
_NAME = re.compile(r"^[^\W\d_]+(?:[ '’ʼ-][^\W\d_]+)*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NAME_MAX, _RESIDENCE_MAX, _ESSENCE_MAX = 100, 300, 10_000


@dataclass(frozen=True, slots=True)
class NumberingPolicy:
    """The configurable part of registration numbers: the prefix and the sequence width."""

    prefix: str = "ЗВ"
    width: int = 6

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise ValidationError(
                f"registration prefix {self.prefix!r} must be 1-10 letters or digits, starting with a letter",
                field="prefix",
            )
        if not 1 <= self.width <= 12:
            raise ValidationError("registration number width must be 1-12 digits", field="width")


def format_number(policy: NumberingPolicy, year: int, sequence: int) -> str:
    """``ЗВ-2026-000123`` from the policy, the registration year and the sequence number."""
    if sequence < 1:
        raise ValueError("registration sequence numbers start at 1")
    return f"{policy.prefix}-{year:04d}-{sequence:0{policy.width}d}"


def parse_number(text: str) -> tuple[str, int, int]:
    """``(prefix, year, sequence)`` of a registration number; ValidationError when malformed."""
    match = _NUMBER.match(text.strip())
    if not match:
        raise ValidationError(f"{text!r} is not a registration number like ЗВ-2026-000123", field="number")
    return match.group(1), int(match.group(2)), int(match.group(3))


@dataclass(frozen=True, slots=True)
class RegistrationForm:
    """What the agent fills in to register an appeal (fields may be blank until validated)."""

    kind: str | None
    surname: str | None
    given_name: str | None
    patronymic: str | None
    residence: str | None
    essence: str | None
    topic_code: str | None
    phone: str | None = None  # defaults to the caller's number
    email: str | None = None
    sex: str | None = None
    categories: tuple[str, ...] = ()
    social_status: str | None = None
    subject: str = "5.1"
    receipt_form: str = "1.1.1"
    anonymous: bool = False
    requires_study: bool = False
    complained_about: str | None = None  # for a complaint: the body it is about
    requested_due: date | None = None  # a shorter term on the applicant's justified demand


def _text(value: str | None) -> str:
    return " ".join((value or "").split())


def validate_registration(form: RegistrationForm, classifier: Classifier) -> tuple[Kind, Applicant]:
    """Check the form; return the kind and the applicant, or raise RegistrationError.

    Every bad field is collected, in form order, so the agent fixes them in one go.
    """
    problems: dict[str, str] = {}
    if form.anonymous or form.subject == "5.3":
        problems["anonymous"] = (
            "an anonymous call can only be recorded as a consultation (anonymous appeals are not considered)"
        )
    kind: Kind | None = None
    try:
        kind = Kind(form.kind) if form.kind else None
    except ValueError:
        problems["kind"] = f"{form.kind!r} is not one of proposal, application, complaint"
    if "kind" not in problems:
        if kind is None:
            problems["kind"] = "required: proposal, application or complaint"
        elif kind is Kind.CONSULTATION:
            problems["kind"] = "a consultation is not registered; record it as a consultation instead"
    for name in ("surname", "given_name", "patronymic"):
        value = _text(getattr(form, name))
        if not value:
            problems[name] = "required (Art. 5 of the Law on citizens' appeals)"
        elif len(value) > _NAME_MAX or not _NAME.match(value):
            problems[name] = f"must be letters (with ' or -), at most {_NAME_MAX} characters"
    residence, essence = _text(form.residence), (form.essence or "").strip()
    if not residence:
        problems["residence"] = "required: the place of residence (Art. 5)"
    elif len(residence) > _RESIDENCE_MAX:
        problems["residence"] = f"at most {_RESIDENCE_MAX} characters"
    if not essence:
        problems["essence"] = "required: the essence of the matter (Art. 5)"
    elif len(essence) > _ESSENCE_MAX:
        problems["essence"] = f"at most {_ESSENCE_MAX} characters"
    checks = [
        ("topic_code", "topics", [form.topic_code] if form.topic_code else []),
        ("receipt_form", "receipt_forms", [form.receipt_form]),
        ("subject", "subjects", [form.subject]),
        ("sex", "sexes", [form.sex] if form.sex else []),
        ("categories", "applicant_categories", list(form.categories)),
        ("social_status", "social_statuses", [form.social_status] if form.social_status else []),
    ]
    if not form.topic_code:
        problems["topic_code"] = "required: a topic from the classifier"
    for field_name, list_name, codes in checks:
        unknown = [code for code in codes if classifier.get(list_name, code) is None]
        if unknown and field_name not in problems:
            problems[field_name] = f"unknown {list_name} code(s) {', '.join(unknown)}"
    if form.email and not _EMAIL.match(form.email.strip()):
        problems["email"] = f"{form.email!r} is not an e-mail address"
    if kind is Kind.COMPLAINT and form.complained_about is not None and not form.complained_about.strip():
        problems["complained_about"] = "leave empty or name the body the complaint is about"
    if problems:
        raise RegistrationError(problems)
    assert kind is not None  # every None case was reported above
    applicant = Applicant(
        surname=_text(form.surname),
        given_name=_text(form.given_name),
        patronymic=_text(form.patronymic),
        residence=residence,
        phone=_text(form.phone) or None,
        email=_text(form.email) or None,
        sex=form.sex,
        categories=tuple(dict.fromkeys(form.categories)),
        social_status=form.social_status,
    )
    return kind, applicant


def register(
    appeal: Appeal,
    form: RegistrationForm,
    *,
    number: str,
    sign: SignDecision,
    actor: str,
    at: datetime,
    classifier: Classifier,
    policy: DeadlinePolicy = DEFAULT_POLICY,
) -> tuple[Appeal, list[AppealEvent]]:
    """Register the call's record as an appeal: number, classifier fields and legal terms.

    The term runs from the call's arrival (the receipt of an oral appeal), not from the moment
    the agent saves the card.
    """
    if appeal.status is not Status.CALL_OPEN:
        raise IllegalTransition(
            f"only an open call record can be registered; this one is {appeal.status.value}",
            status=appeal.status.value,
            action="register",
        )
    kind, applicant = validate_registration(form, classifier)
    if applicant.phone is None and appeal.call.caller:
        applicant = replace(applicant, phone=appeal.call.caller)
    received_on = kyiv_date(appeal.call.arrived_at)
    due = consideration_due(received_on, requires_study=form.requires_study, policy=policy)
    if form.requested_due is not None:
        if not received_on <= form.requested_due <= due:
            raise RegistrationError(
                {"requested_due": f"a shortened term must fall between {received_on} and {due}"}
            )
        due = form.requested_due
    categories = [
        classifier.require("applicant_categories", c, field="categories") for c in applicant.categories
    ]
    after = replace(
        appeal,
        status=Status.REGISTERED,
        kind=kind,
        number=number,
        registered_at=at,
        registered_by=actor,
        applicant=applicant,
        receipt_form=form.receipt_form,
        sign=sign.code,
        related_appeal_ids=sign.related,
        subject=form.subject,
        topic_code=form.topic_code,
        essence=(form.essence or "").strip(),
        priority=any(c.priority for c in categories),
        head_review=any(c.head_review for c in categories),
        requires_study=form.requires_study,
        received_on=received_on,
        forward_due=forward_due(received_on, policy),
        due=due,
        complained_about=_text(form.complained_about) or None,
    )
    details = {"kind_code": KIND_CLASSIFIER_CODES[kind], "sign": sign.code}
    return after, [make_event("appeal.registered", appeal, after, actor=actor, at=at, details=details)]
