"""The IVR's appeal_status lookup on the real appeal repository, and the keypad number forms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from callcenter.appeals.lifecycle import Extend, SendToAuthority, TakeInWork
from callcenter.appeals.registration import NumberingPolicy, RegistrationForm
from callcenter.services.lookups import IvrLookups, appeal_number_of
from callcenter.storage.appeals import AppealRepository

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
FORM = RegistrationForm(
    kind="complaint",
    surname="Шевченко",
    given_name="Мар'яна",
    patronymic="Іванівна",
    residence="м. Дніпро",
    essence="Немає опалення.",
    topic_code="109",
)


def test_keypad_forms_of_a_registration_number() -> None:
    """Year plus sequence (padded or not) means the prefixed number; junk means nothing."""
    policy = NumberingPolicy(prefix="ЗВ", width=6)
    assert appeal_number_of("2026000123", policy) == "ЗВ-2026-000123"
    assert appeal_number_of("2026123", policy) == "ЗВ-2026-000123"
    assert appeal_number_of("ЗВ-2026-000123", policy) == "ЗВ-2026-000123"
    assert appeal_number_of("2026", policy) is None
    assert appeal_number_of("20260000000", policy) is None  # sequence 0
    assert appeal_number_of("2026" + "1" * 7, policy) is None  # wider than the policy


async def test_appeal_status_follows_the_lifecycle(db_pool: Any) -> None:
    """A registered appeal is found by its keypad number; state and due date follow its lifecycle."""
    repo = AppealRepository(db_pool)
    lookups = IvrLookups(repo, now=lambda: T0)
    opened = await repo.open_for_call("lookup.1", caller="+380501234567", dnid="1545", arrived_at=T0)
    registered = await repo.register(opened.id, FORM, actor="agent:1", at=T0 + timedelta(minutes=1))
    assert registered.number is not None and registered.due is not None
    _, year, sequence = registered.number.split("-")
    key = f"{year}{int(sequence)}"

    assert await lookups("appeal_status", key) == {
        "state": "REGISTERED",
        "due_date": registered.due.isoformat(),
    }
    await repo.transition(opened.id, SendToAuthority("Департамент ЖКГ"), actor="op:2", at=T0)
    assert (await lookups("appeal_status", key) or {})["state"] == "SENT_TO_EXECUTOR"
    await repo.transition(opened.id, TakeInWork(), actor="ex:3", at=T0)
    assert (await lookups("appeal_status", key) or {})["state"] == "IN_WORK"
    await repo.transition(opened.id, Extend(date(2026, 4, 1), "Лист № 5"), actor="head:4", at=T0)
    assert await lookups("appeal_status", key) == {"state": "EXTENDED", "due_date": "2026-04-01"}


async def test_unknown_number_or_kind_is_not_found(db_pool: Any) -> None:
    """A number nobody has, a key that is no number, and an unknown lookup kind all answer None."""
    lookups = IvrLookups(AppealRepository(db_pool), now=lambda: T0)
    assert await lookups("appeal_status", "2026999999") is None
    assert await lookups("appeal_status", "12") is None
    assert await lookups("weather", "2026000001") is None
