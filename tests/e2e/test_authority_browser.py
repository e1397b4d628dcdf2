"""The authority's inbox in a real browser (Debian's Chromium): its user sees only the appeals sent
to its authority, reads a due-soon reminder, takes one in work, extends its term with a notice and
answers it; the lifecycle, the audit and the deadline views follow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from uuid import UUID

import pytest
from playwright.sync_api import Page, expect

from callcenter.appeals.lifecycle import SendToAuthority
from callcenter.appeals.registration import RegistrationForm
from callcenter.services.reminders import ReminderService
from callcenter.storage.users import Role
from tests.conftest import TestDatabase
from tests.e2e.browser_support import AppThread, sign_in
from tests.e2e.test_public_appeal_browser import PublicApp, build_public_app
from tests.integration.test_appeals_api_support import START, open_call

pytestmark = pytest.mark.browser

HEALTH, PENSIONS = "oda-health", "pfu-oblast"
USERS = (("likar", Role.AUTHORITY, HEALTH), ("pensiia", Role.AUTHORITY, PENSIONS))


@pytest.fixture
def app_thread(test_database: TestDatabase) -> Iterator[AppThread[PublicApp]]:
    """The app on a free port, with one user of the health department and one of the Pension Fund."""
    with AppThread(lambda stack: build_public_app(test_database, stack, USERS)) as server:
        yield server


async def sent(server: AppThread[PublicApp], linkedid: str, authority: str, surname: str, topic: str) -> UUID:
    """A registered appeal sent to ``authority``, as the agent and the supervisor would do it."""
    repository = server.handles.bundle.repository
    appeal_id = await open_call(repository, linkedid, "0671234567", START - timedelta(minutes=5))
    form = RegistrationForm(
        kind="application",
        surname=surname,
        given_name="Олег",
        patronymic="Миколайович",
        residence="м. Дніпро, вул. Робоча, 10",
        essence="Прошу направити на реабілітацію після поранення.",
        topic_code=topic,
        email="oleh@example.com",
    )
    await repository.register(appeal_id, form, actor="agent", at=START)
    await repository.transition(appeal_id, SendToAuthority(authority), actor="super", at=START)
    return appeal_id


def test_authority_user_sees_only_its_appeals_and_answers_one(
    app_thread: AppThread[PublicApp], page: Page
) -> None:
    """Only the health department's appeal is listed; take in work, extend and answer follow the lifecycle."""
    bundle, store = app_thread.handles.bundle, app_thread.handles.store
    mine = app_thread.run(sent(app_thread, "E-mine", HEALTH, "Бондар", "108"))
    app_thread.run(sent(app_thread, "E-other", PENSIONS, "Ткаченко", "106"))
    # Three days before the term (17 March) the reminder job raises a due-soon reminder.
    bundle.clock.now = START + timedelta(days=13)
    run = app_thread.run(ReminderService(store).run_once(bundle.clock.now))
    assert run.due_soon == {HEALTH: 1, PENSIONS: 1}

    base = app_thread.url
    sign_in(page, f"{base}/authority", "likar")
    expect(page.locator("#authority-name")).to_have_text("Департамент охорони здоров'я ОДА")
    expect(page.locator("#counts")).to_have_text("Усього: 1, нових: 1, прострочено: 0.")
    rows = page.locator("#appeals tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ЗВ-2026-000001")
    expect(page.locator("#appeals")).not_to_contain_text("ЗВ-2026-000002")
    expect(page.locator("#reminders li")).to_have_text(
        ["Звернення № ЗВ-2026-000001: термін розгляду спливає 17.03.2026. Прочитано"]
    )
    page.locator("#reminders").get_by_role("button", name="Прочитано").click()
    expect(page.locator("#reminders-none")).to_be_visible()

    page.get_by_role("button", name="ЗВ-2026-000001").click()
    expect(page.locator("#d-applicant")).to_have_text("Бондар Олег Миколайович")
    expect(page.locator("#d-status")).to_have_text("Надіслано")
    expect(page.locator("#act-answer")).to_be_hidden()
    page.get_by_role("button", name="Взяти в роботу").click()
    expect(page.locator("#action-status")).to_have_text("Звернення взято в роботу.")
    expect(page.locator("#d-status")).to_have_text("У роботі")

    page.get_by_label("Новий термін").fill("2026-05-30")
    page.get_by_label("Повідомлення заявникові").fill("Потрібне додаткове обстеження.")
    page.get_by_role("button", name="Продовжити термін").click()
    expect(page.locator("#action-status")).to_contain_text(
        "Ця дія зараз неможлива: the new term must be after"
    )
    page.get_by_label("Новий термін").fill("2026-04-10")
    page.get_by_role("button", name="Продовжити термін").click()
    expect(page.locator("#action-status")).to_have_text(
        "Термін продовжено, повідомлення заявникові збережено."
    )
    expect(page.locator("#d-due")).to_have_text("10.04.2026 (продовжено з 17.03.2026)")
    expect(page.locator("#act-extend")).to_be_hidden()

    page.get_by_label("Текст відповіді").fill("Направлення на реабілітацію видано 20 березня.")
    page.get_by_role("button", name="Надіслати відповідь").click()
    expect(page.locator("#d-status")).to_have_text("Відповідь на перевірці")
    expect(page.locator("#d-answer")).to_have_text("Направлення на реабілітацію видано 20 березня.")
    expect(rows.first).to_contain_text("Відповідь на перевірці")
    expect(rows.first).to_contain_text("10.04.2026")

    appeal = app_thread.run(bundle.repository.get(mine))
    assert (appeal.status.value, str(appeal.extended_due)) == ("answered", "2026-04-10")
    assert appeal.extension_notice == "Потрібне додаткове обстеження."
    trail = [(e.action, e.actor) for e in app_thread.run(bundle.repository.audit_trail(mine))]
    assert trail[-3:] == [
        ("appeal.take_in_work", "likar"),
        ("appeal.extend", "likar"),
        ("appeal.submit_answer", "likar"),
    ]
    # The deadline views follow: the answered appeal is no longer the department's to do, while the
    # Pension Fund's, untouched, turns overdue once its term has passed.
    late = START + timedelta(days=16)
    rows_due = app_thread.run(store.deadline_rows(late))
    assert [(r.authority, r.number) for r in rows_due] == [(PENSIONS, "ЗВ-2026-000002")]
    run = app_thread.run(ReminderService(store).run_once(late))
    assert run.overdue == {PENSIONS: 1} and run.due_soon == {}
