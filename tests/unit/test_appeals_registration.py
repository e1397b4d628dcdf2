"""Registration of an appeal: required fields named, anonymity, numbers, terms and flags."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from callcenter.appeals.calls import open_record
from callcenter.appeals.classifier import load_classifier
from callcenter.appeals.errors import IllegalTransition, RegistrationError
from callcenter.appeals.model import Appeal, Kind, Status
from callcenter.appeals.registration import (
    NumberingPolicy,
    RegistrationForm,
    format_number,
    parse_number,
    register,
    validate_registration,
)
from callcenter.appeals.repeats import SignDecision
from callcenter.errors import ValidationError

CLASSIFIER = load_classifier()
ARRIVED = datetime(2026, 1, 31, 21, 30, tzinfo=UTC)  # 23:30 Kyiv on 31 January


def form(**overrides: object) -> RegistrationForm:
    base = RegistrationForm(
        kind="complaint",
        surname="Шевченко",
        given_name="Мар'яна",
        patronymic="Іванівна",
        residence="м. Дніпро, вул. Січеславська Набережна, 1",
        essence="Немає опалення в будинку з 1 листопада.",
        topic_code="109",
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def call_record() -> Appeal:
    return open_record(uuid4(), "1718000000.8", caller="+380501234567", dnid="0800505600", arrived_at=ARRIVED)


def test_complete_form_gives_kind_and_applicant() -> None:
    """A complete form validates into the appeal kind and a normalised applicant."""
    kind, applicant = validate_registration(form(surname="  Ґалаґан-Ус  "), CLASSIFIER)
    assert kind is Kind.COMPLAINT
    assert applicant.surname == "Ґалаґан-Ус"
    assert applicant.full_name == "Ґалаґан-Ус Мар'яна Іванівна"


@pytest.mark.parametrize(
    "field", ["surname", "given_name", "patronymic", "residence", "essence", "topic_code"]
)
def test_each_missing_required_field_is_named(field: str) -> None:
    """Leaving out any required field raises an error that names exactly that field."""
    with pytest.raises(RegistrationError) as caught:
        validate_registration(form(**{field: "   " if field != "topic_code" else None}), CLASSIFIER)
    assert caught.value.field == field
    assert list(caught.value.problems) == [field]
    assert field in str(caught.value)


def test_all_problems_are_reported_together_in_form_order() -> None:
    """Several bad fields are all reported, the first one in form order as ``field``."""
    with pytest.raises(RegistrationError) as caught:
        validate_registration(
            form(kind=None, patronymic="", residence=None, categories=("7.99",), email="nope"), CLASSIFIER
        )
    assert list(caught.value.problems) == ["kind", "patronymic", "residence", "categories", "email"]
    assert caught.value.field == "kind"
    assert isinstance(caught.value, ValidationError)


def test_anonymous_call_can_only_be_a_consultation() -> None:
    """An anonymous caller cannot register an appeal; the error says it is a consultation only."""
    with pytest.raises(RegistrationError) as caught:
        validate_registration(form(anonymous=True), CLASSIFIER)
    assert caught.value.field == "anonymous"
    assert "consultation" in caught.value.problems["anonymous"]
    with pytest.raises(RegistrationError) as caught_subject:
        validate_registration(form(subject="5.3"), CLASSIFIER)
    assert caught_subject.value.field == "anonymous"


def test_consultation_kind_is_not_registered() -> None:
    """Trying to register a consultation is refused with a pointer to the consultation action."""
    with pytest.raises(RegistrationError) as caught:
        validate_registration(form(kind="consultation"), CLASSIFIER)
    assert caught.value.field == "kind"


def test_names_must_be_letters() -> None:
    """Digits in a name are refused and the field is named."""
    with pytest.raises(RegistrationError) as caught:
        validate_registration(form(given_name="Іван2"), CLASSIFIER)
    assert caught.value.field == "given_name"


def test_unknown_topic_is_refused() -> None:
    """A topic code not in the classifier is an error on topic_code."""
    with pytest.raises(RegistrationError) as caught:
        validate_registration(form(topic_code="999"), CLASSIFIER)
    assert caught.value.problems == {"topic_code": "unknown topics code(s) 999"}


def test_number_format_and_parse_round_trip() -> None:
    """Numbers read prefix-year-sequence with a zero-padded sequence and parse back."""
    policy = NumberingPolicy(prefix="ГУ")
    assert format_number(policy, 2026, 123) == "ГУ-2026-000123"
    assert parse_number("ГУ-2026-000123") == ("ГУ", 2026, 123)
    assert format_number(NumberingPolicy(prefix="DN1", width=4), 2027, 5) == "DN1-2027-0005"


@pytest.mark.parametrize("prefix", ["", "1AB", "ГУ-1", "a b", "ABCDEFGHIJK"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    """A prefix must start with a letter and hold 1-10 letters or digits."""
    with pytest.raises(ValidationError):
        NumberingPolicy(prefix=prefix)


def test_bad_numbers_do_not_parse() -> None:
    """Text that is not a registration number is refused."""
    with pytest.raises(ValidationError):
        parse_number("2026-000123")


def test_register_sets_terms_from_the_kyiv_arrival_date() -> None:
    """Registration dates the term from the call's Kyiv arrival day and links the classifier fields."""
    registered_at = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    after, events = register(
        call_record(),
        form(requires_study=True, categories=("7.4", "7.20")),
        number="ЗВ-2026-000001",
        sign=SignDecision(),
        actor="agent:1001",
        at=registered_at,
        classifier=CLASSIFIER,
    )
    assert after.status is Status.REGISTERED
    assert after.received_on == date(2026, 1, 31)  # 23:30 Kyiv, though the agent saved it next day
    assert after.due == date(2026, 2, 28)  # one month, clamped
    assert after.forward_due == date(2026, 2, 5)
    assert after.priority and after.head_review  # 7.4: war-related disability
    assert after.applicant is not None and after.applicant.phone == "+380501234567"
    assert after.sign == "2.1" and after.receipt_form == "1.1.1"
    assert [e.name for e in events] == ["appeal.registered"]
    assert events[0].changes["status"] == ("call_open", "registered")
    assert events[0].details["kind_code"] == "3.3"


def test_register_without_priority_category() -> None:
    """An applicant without benefit categories is not flagged priority; the prompt term applies."""
    after, _ = register(
        call_record(),
        form(categories=("7.20",)),
        number="ЗВ-2026-000002",
        sign=SignDecision("2.2", (uuid4(),)),
        actor="agent:1",
        at=ARRIVED,
        classifier=CLASSIFIER,
    )
    assert not after.priority and not after.head_review
    assert after.due == date(2026, 2, 15)
    assert after.sign == "2.2" and len(after.related_appeal_ids) == 1


def test_shortened_term_on_request_must_be_within_the_legal_term() -> None:
    """A requested shorter term replaces the due date, but cannot be longer than the law's term."""
    after, _ = register(
        call_record(),
        form(requested_due=date(2026, 2, 5)),
        number="ЗВ-2026-000003",
        sign=SignDecision(),
        actor="agent:1",
        at=ARRIVED,
        classifier=CLASSIFIER,
    )
    assert after.due == date(2026, 2, 5)
    with pytest.raises(RegistrationError) as caught:
        register(
            call_record(),
            form(requested_due=date(2026, 3, 30)),
            number="ЗВ-2026-000004",
            sign=SignDecision(),
            actor="agent:1",
            at=ARRIVED,
            classifier=CLASSIFIER,
        )
    assert caught.value.field == "requested_due"


def test_register_twice_is_an_illegal_transition() -> None:
    """A record that is already registered cannot be registered again."""
    kwargs = {"sign": SignDecision(), "actor": "a", "at": ARRIVED, "classifier": CLASSIFIER}
    after, _ = register(call_record(), form(), number="ЗВ-2026-000005", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(IllegalTransition):
        register(after, form(), number="ЗВ-2026-000006", **kwargs)  # type: ignore[arg-type]
