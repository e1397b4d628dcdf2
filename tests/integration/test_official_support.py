"""Helpers for the official report, exchange and survey tests: appeals made through the repository."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from callcenter.appeals.lifecycle import Close, Consult, SendToAuthority, SubmitAnswer, TakeInWork
from callcenter.appeals.model import Appeal
from callcenter.appeals.registration import RegistrationForm
from callcenter.storage.appeals import AppealRepository

TOPICS = ("106", "109", "110", "103", "108")
CATEGORIES = ((), ("7.5",), ("7.14",), ("7.1", "7.7"), ())
TOWNS = ("м. Дніпро", "м. Павлоград", "с. Вільне")
AUTHORITIES = ("Департамент ЖКГ", "Департамент соцзахисту")


@dataclass
class Made:
    """What ``make_appeals`` created, to compare reports with."""

    appeals: list[Appeal]
    consultations: int


def form(rng: random.Random, **fields: Any) -> RegistrationForm:
    """A valid registration form with random classifier values."""
    base: dict[str, Any] = {
        "kind": rng.choice(["proposal", "application", "complaint"]),
        "surname": "Шевченко",
        "given_name": "Марія",
        "patronymic": "Іванівна",
        "residence": rng.choice(TOWNS),
        "essence": "Немає опалення.",
        "topic_code": rng.choice(TOPICS),
        "categories": rng.choice(CATEGORIES),
        "subject": rng.choice(["5.1", "5.1", "5.2"]),
        "phone": "+380501234567",
    }
    return RegistrationForm(**(base | fields))


async def make_appeals(
    pool: Any, *, prefix: str, start: datetime, count: int, seed: int, consultations: int = 0
) -> Made:
    """``count`` appeals registered from ``start`` on, a few hours apart, in mixed states."""
    rng = random.Random(seed)
    repo = AppealRepository(pool)
    made: list[Appeal] = []
    for n in range(count):
        at = start + timedelta(hours=7 * n)
        opened = await repo.open_for_call(f"{prefix}.{n}", caller="+380501234567", dnid="1545", arrived_at=at)
        appeal = await repo.register(opened.id, form(rng), actor="agent:1", at=at + timedelta(minutes=3))
        fate = rng.random()
        later = at + timedelta(days=rng.choice([1, 3, 10, 20]))
        if fate > 0.2:
            appeal = await repo.transition(
                appeal.id, SendToAuthority(rng.choice(AUTHORITIES)), actor="op:2", at=at + timedelta(hours=2)
            )
        if fate > 0.4:
            appeal = await repo.transition(appeal.id, TakeInWork(), actor="ex:3", at=at + timedelta(hours=3))
        if fate > 0.6:
            appeal = await repo.transition(appeal.id, SubmitAnswer("Зроблено."), actor="ex:3", at=later)
            appeal = await repo.transition(
                appeal.id, Close(rng.choice(["9.1", "9.2", "9.3"])), actor="head:4", at=later
            )
        made.append(appeal)
    for n in range(consultations):
        at = start + timedelta(hours=5 * n + 1)
        opened = await repo.open_for_call(
            f"{prefix}.c{n}", caller="+380671112233", dnid="1545", arrived_at=at
        )
        await repo.transition(opened.id, Consult("Довідка"), actor="agent:1", at=at + timedelta(minutes=2))
    return Made(made, consultations)


def kyiv_day(at: datetime) -> date:
    """The Kyiv calendar day of an instant (tests only)."""
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo("Europe/Kyiv")).date()


NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
