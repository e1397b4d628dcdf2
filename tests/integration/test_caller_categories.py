"""The caller's priority categories come from their registered appeals, for the ACD and the desk card."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from callcenter.appeals.registration import RegistrationForm
from callcenter.services.caller_categories import caller_categories
from callcenter.services.live_events import CallOffered
from callcenter.storage.appeals import AppealRepository
from callcenter.web.desk import call_offered_message

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
VETERAN = "380671234500"


def form(categories: tuple[str, ...]) -> RegistrationForm:
    """A complete registration with the given applicant categories."""
    return RegistrationForm(
        kind="complaint",
        surname="Бондар",
        given_name="Олег",
        patronymic="Петрович",
        residence="м. Дніпро, вул. Січеславська, 3",
        essence="Не нараховано доплату.",
        topic_code="109",
        categories=categories,
    )


async def registered(
    repo: AppealRepository, linkedid: str, caller: str, days_ago: int, cats: tuple[str, ...]
) -> None:
    at = NOW - timedelta(days=days_ago)
    appeal = await repo.open_for_call(linkedid, caller=caller, dnid="0800505600", arrived_at=at)
    await repo.register(appeal.id, form(cats), actor="op101", at=at + timedelta(minutes=5))


async def test_caller_categories_from_the_history(db_pool: Any) -> None:
    """A number's registered appeals give their categories newest first, once each; others give none."""
    repo = AppealRepository(db_pool)
    await registered(repo, "CAT-1", VETERAN, 30, ("7.14",))
    await registered(repo, "CAT-2", "0671234500", 3, ("7.5", "7.14"))  # the same number, national form
    await repo.open_for_call("CAT-3", caller="380501110000", dnid="0800505600", arrived_at=NOW)
    assert await caller_categories(repo, VETERAN, now=NOW) == ("7.5", "7.14")
    assert await caller_categories(repo, "380501110000", now=NOW) == ()  # never registered
    assert await caller_categories(repo, None, now=NOW) == ()
    assert await caller_categories(repo, "anonymous", now=NOW) == ()


async def test_desk_card_shows_the_history_categories_as_priority(db_pool: Any) -> None:
    """The ring carries no categories; the card lists the earlier appeals' ones with their names."""
    repo = AppealRepository(db_pool)
    await registered(repo, "CAT-9", "380931112200", 10, ("7.7",))
    await repo.open_for_call("CAT-10", caller="380931112200", dnid="0800505600", arrived_at=NOW)
    ring = CallOffered(
        linkedid="CAT-10", uniqueid="CAT-10", agent_id="op101", queue="general", waited_s=5.0,
        caller="380931112200", language="uk", topic=None, ivr_path=(), priority=2, at=NOW.timestamp(),
    )  # fmt: skip
    card = await call_offered_message(repo, ring, NOW)
    assert card["call"]["categories"] == [{"code": "7.7", "name": "Особа з інвалідністю I групи"}]
