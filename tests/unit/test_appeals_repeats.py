"""The repeat rule (2.1 / 2.2 / 2.3) and the appeal ⇄ row mapping."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from callcenter.appeals.calls import EnteredQueue, IvrChoice, apply_progress, open_record
from callcenter.appeals.classifier import load_classifier
from callcenter.appeals.lifecycle import Extend, SendToAuthority, transition
from callcenter.appeals.records import COLUMNS, from_row, to_row
from callcenter.appeals.registration import RegistrationForm, register
from callcenter.appeals.repeats import (
    DUPLICATE,
    FIRST,
    REPEATED,
    PriorAppeal,
    RepeatRule,
    SignDecision,
    detect_sign,
    normalise_name,
    normalise_phone,
)

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
DEFAULT_RULE = RepeatRule()


def prior(
    days_ago: int,
    *,
    phone: str | None = "+38 (050) 123-45-67",
    name: str = "Коваль Петро Олексійович",
    topic: str = "106",
    still_open: bool = False,
) -> PriorAppeal:
    return PriorAppeal(uuid4(), NOW - timedelta(days=days_ago), topic, phone, name, still_open)


def decide(
    *earlier: PriorAppeal,
    rule: RepeatRule = DEFAULT_RULE,
    phone: str | None = "0501234567",
    name: str = "КОВАЛЬ  Петро Олексійович",
) -> SignDecision:
    return detect_sign(phone=phone, full_name=name, topic_code="106", at=NOW, prior=earlier, rule=rule)


def test_no_earlier_appeal_means_first() -> None:
    """Without earlier appeals from the person on the topic, the sign is first-time."""
    assert decide() == SignDecision(FIRST, ())
    assert decide(prior(3, topic="109")).code == FIRST


def test_closed_earlier_appeal_makes_it_repeated_and_links_it() -> None:
    """An earlier finished appeal by phone, same topic, makes the new one repeated and links it."""
    earlier = prior(30, name="Інша Особа Тут")
    assert decide(earlier) == SignDecision(REPEATED, (earlier.id,))


def test_open_earlier_appeal_makes_it_a_duplicate() -> None:
    """An earlier appeal still under consideration makes the new one a duplicate."""
    closed, still_open = prior(20), prior(5, phone=None, still_open=True)
    decision = decide(still_open, closed)
    assert decision.code == DUPLICATE
    assert decision.related == (closed.id, still_open.id)  # oldest first


def test_period_is_configurable() -> None:
    """Earlier appeals outside the configured period do not count."""
    old = prior(40)
    assert decide(old, rule=RepeatRule(period=timedelta(days=30))).code == FIRST
    assert decide(old, rule=RepeatRule(period=timedelta(days=45))).code == REPEATED


def test_match_by_name_when_the_phone_differs() -> None:
    """The same full name (case, spaces, apostrophes aside) matches from another phone."""
    earlier = prior(10, phone="0671112233", name="Мар’яна Коваль Іванівна")
    assert (
        detect_sign(
            phone="0509999999", full_name="мар'яна коваль іванівна", topic_code="106", at=NOW, prior=[earlier]
        ).code
        == REPEATED
    )


def test_normalisers() -> None:
    """National numbers gain 38, formatting is dropped; names fold case and apostrophes."""
    assert normalise_phone("050 123 45 67") == "380501234567"
    assert normalise_phone("+380501234567") == "380501234567"
    assert normalise_phone(None) == ""
    assert normalise_name(" Мар’ЯНА  ") == "мар'яна"


def test_row_round_trip_keeps_every_field() -> None:
    """to_row then from_row gives back an equal record, with derived search columns filled."""
    arrived = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    record = open_record(uuid4(), "1.2", caller="0501234567", dnid="1545", arrived_at=arrived)
    record, _ = apply_progress(record, IvrChoice("1.2", "menu", "3", arrived + timedelta(seconds=4)))
    record, _ = apply_progress(record, EnteredQueue("1.2", "social", arrived + timedelta(seconds=9)))
    form = RegistrationForm(
        kind="proposal",
        surname="Коваль",
        given_name="Петро",
        patronymic="Олексійович",
        residence="Київ",
        essence="Пропоную.",
        topic_code="106",
        categories=("7.5",),
        requires_study=True,
    )
    appeal, _ = register(
        record,
        form,
        number="ЗВ-2026-000042",
        sign=SignDecision(REPEATED, (uuid4(),)),
        actor="agent:1",
        at=arrived,
        classifier=load_classifier(),
    )
    appeal, _ = transition(appeal, SendToAuthority("ДСЗН"), "op", arrived)
    appeal, _ = transition(appeal, Extend(date(2026, 4, 10), "повідомлено"), "head", arrived)
    row = to_row(appeal)
    assert tuple(row) == COLUMNS
    assert row["caller_digits"] == "380501234567" and row["number_seq"] == 42 and row["number_year"] == 2026
    assert row["due_ends_at"] == datetime(2026, 4, 10, 21, 0, tzinfo=UTC)  # the extended term's end
    assert row["forwarding_ends_at"] is None  # already sent
    assert from_row(row) == appeal
    registered_row = to_row(replace(appeal, status=appeal.status.REGISTERED))
    assert registered_row["forwarding_ends_at"] == datetime(2026, 3, 7, 22, 0, tzinfo=UTC)
