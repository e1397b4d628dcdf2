"""Registration numbers under concurrency: gap-free and unique per prefix and year."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from callcenter.appeals.errors import RegistrationError
from callcenter.appeals.registration import NumberingPolicy, RegistrationForm, parse_number
from callcenter.storage.appeals import AppealRepository, AppealsSettings

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)

FORM = RegistrationForm(
    kind="application",
    surname="Коваль",
    given_name="Петро",
    patronymic="Олексійович",
    residence="м. Київ",
    essence="Прошу надати довідку.",
    topic_code="106",
)


async def _open_calls(repo: AppealRepository, tag: str, count: int) -> list[Any]:
    calls = []
    for i in range(count):
        appeal = await repo.open_for_call(
            f"{tag}.{i}", caller=f"050{i:07d}", dnid="1545", arrived_at=T0 + timedelta(seconds=i)
        )
        calls.append(appeal.id)
    return calls


async def test_concurrent_registrations_get_numbers_without_gaps_or_duplicates(db_pool: Any) -> None:
    """50 concurrent registrations, mixed with ones that fail before and after taking a number, use 1..50."""
    repo = AppealRepository(db_pool, settings=AppealsSettings(numbering=NumberingPolicy(prefix="ГУ")))
    good = await _open_calls(repo, "good", 50)
    bad = await _open_calls(repo, "bad", 12)
    at = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)

    async def attempt(appeal_id: Any, i: int, fail: bool) -> str | None:
        form = replace(FORM, surname=f"Коваль{'аб'[i % 2]}")
        if fail and i % 2:
            form = replace(form, residence="")  # refused before any number is taken
        elif fail:
            form = replace(form, requested_due=date(2026, 12, 1))  # refused after taking a number
        try:
            appeal = await repo.register(appeal_id, form, actor=f"agent:{i}", at=at)
        except RegistrationError:
            return None
        return appeal.number

    jobs = [attempt(a, i, False) for i, a in enumerate(good)] + [
        attempt(a, i, True) for i, a in enumerate(bad)
    ]
    # Interleave the failing ones among the good ones so they race for the counter.
    jobs = jobs[::2] + jobs[1::2]
    numbers = [n for n in await asyncio.gather(*jobs) if n is not None]
    assert len(numbers) == 50
    parsed = sorted(parse_number(n) for n in numbers)
    assert [seq for _, _, seq in parsed] == list(range(1, 51))
    assert {(prefix, year) for prefix, year, _ in parsed} == {("ГУ", 2026)}
    counter = await db_pool.fetchval(
        "SELECT last_value FROM appeal_number_counters WHERE prefix = 'ГУ' AND year = 2026"
    )
    assert counter == 50
    unregistered = await db_pool.fetchval(
        "SELECT count(*) FROM appeals WHERE linkedid LIKE 'bad.%' AND number IS NULL"
    )
    assert unregistered == 12


async def test_each_year_and_prefix_has_its_own_sequence(db_pool: Any) -> None:
    """A new Kyiv year starts again at 1, and another prefix keeps its own count."""
    repo = AppealRepository(db_pool, settings=AppealsSettings(numbering=NumberingPolicy(prefix="DN")))
    ids = await _open_calls(repo, "year", 3)
    late_2026 = datetime(2026, 12, 31, 21, 59, tzinfo=UTC)  # 23:59 Kyiv on 31 December
    new_year = datetime(2026, 12, 31, 22, 0, tzinfo=UTC)  # 00:00 Kyiv on 1 January 2027
    first = await repo.register(ids[0], FORM, actor="a", at=late_2026)
    second = await repo.register(ids[1], FORM, actor="a", at=new_year)
    other = AppealRepository(db_pool, settings=AppealsSettings(numbering=NumberingPolicy(prefix="ZP")))
    third = await other.register(ids[2], FORM, actor="a", at=new_year)
    assert (first.number, second.number, third.number) == (
        "DN-2026-000001",
        "DN-2027-000001",
        "ZP-2027-000001",
    )
