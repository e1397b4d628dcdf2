"""The caller's priority categories come from their registered appeals, for the ACD and the desk card."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from callcenter.acd.model import AcdConfig
from callcenter.appeals.model import Appeal
from callcenter.appeals.registration import RegistrationForm
from callcenter.ivr.commands import Queue, QueueResult
from callcenter.ivr.engine import CallInfo
from callcenter.services.caller_categories import caller_categories, with_caller_priority
from callcenter.services.live_events import CallOffered
from callcenter.storage.appeals import AppealQuery, AppealRepository
from callcenter.web.desk import call_offered_message

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
VETERAN = "380671234500"
#: The wrapper never touches the session; the queue hand-off it wraps does.
NO_SESSION: Any = None


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


class SlowAppeals:
    """A history that answers too late (a database under load)."""

    classifier = None

    async def search(self, query: AppealQuery, *, now: datetime) -> list[Appeal]:
        await asyncio.sleep(5)
        return []


async def test_queue_priority_is_raised_for_a_benefit_holder(db_pool: Any) -> None:
    """A registered combat participant joins with the queue file's level; a stranger keeps the IVR's."""
    repo = AppealRepository(db_pool)
    await registered(repo, "CAT-20", "380991234567", 5, ("7.5",))
    joined: list[Queue] = []

    async def enter_queue(session: Any, command: Queue, call: CallInfo) -> QueueResult:
        joined.append(command)
        return QueueResult("answered", "op1")

    config = AcdConfig(queues={}, priority_categories={"combat_participant": 2})
    enter = with_caller_priority(enter_queue, repo, lambda: config)
    command = Queue("general", 0, ("general",), "uk", "106")
    await enter(NO_SESSION, command, CallInfo(uniqueid="u-1", caller="0991234567", now=NOW))
    await enter(NO_SESSION, command, CallInfo(uniqueid="u-2", caller="380501110099", now=NOW))
    await enter(
        NO_SESSION, replace(command, priority=3), CallInfo(uniqueid="u-3", caller="380991234567", now=NOW)
    )
    assert [c.priority for c in joined] == [2, 0, 3]  # an IVR priority above the category's stays


async def test_a_slow_history_costs_the_raise_not_the_call() -> None:
    """When the look-up takes too long the caller joins at once with the IVR's priority."""
    joined: list[Queue] = []

    async def enter_queue(session: Any, command: Queue, call: CallInfo) -> QueueResult:
        joined.append(command)
        return QueueResult("answered", "op1")

    enter = with_caller_priority(enter_queue, SlowAppeals(), lambda: AcdConfig(queues={}), timeout_s=0.05)
    result = await asyncio.wait_for(
        enter(
            NO_SESSION,
            Queue("general", 1, (), "uk"),
            CallInfo(uniqueid="u-9", caller="380991234567", now=NOW),
        ),
        1.0,
    )
    assert result.status == "answered" and [c.priority for c in joined] == [1]
