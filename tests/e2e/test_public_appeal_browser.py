"""The public appeal page in a real browser (Debian's Chromium): a citizen submits an appeal on a
phone-sized screen, gets the number and the term, and checks the status by number and phone.

The app runs in a thread with its own loop and PostgreSQL pool (as in the desk's browser test)
with the public page, the appeals API, the authorities API and the authority inbox wired as
``bootstrap`` is asked to wire them. The browser really does the proof of work (at a lower
difficulty so the test stays quick) and the form's minimum fill time is off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from playwright.sync_api import Page, expect

from callcenter.web import authorities_api, authority_inbox, public_appeals
from callcenter.web.public_appeals_guard import GuardSettings
from tests.conftest import TestDatabase
from tests.e2e.browser_support import AppThread, chromium_page, open_pool
from tests.integration.test_appeals_api_support import START, AppealsApp, make_appeals_app
from tests.integration.test_auth_support import add_user

pytestmark = pytest.mark.browser

#: Small enough for a quick test, large enough that the page's script really searches.
TEST_GUARD = GuardSettings(difficulty=10, min_fill_s=0.0)


@dataclass
class PublicApp:
    """What the test reaches into: the app's parts, the authorities' store and the pool."""

    bundle: AppealsApp
    store: Any
    pool: Any


async def build_public_app(
    database: TestDatabase,
    stack: contextlib.AsyncExitStack,
    users: tuple[tuple[str, Any, str | None], ...] = (),
) -> tuple[web.Application, PublicApp]:
    """The app with the public and authority features; ``users`` are (login, role, authority)."""
    pool = await open_pool(database, stack)
    await pool.execute("TRUNCATE appeals, appeal_number_counters, authorities, users CASCADE")
    for login, role, authority in users:
        await add_user(pool, login, role, authority_id=authority)
    bundle = make_appeals_app(pool)
    app = bundle.app
    public_appeals.setup(app, bundle.repository, pool, guard=TEST_GUARD, now=bundle.clock)
    store = authorities_api.setup(app, pool, now=bundle.clock)
    authority_inbox.setup(app)
    await authorities_api.seed_shipped(store)
    return app, PublicApp(bundle, store, pool)


@pytest.fixture
def app_thread(test_database: TestDatabase) -> Iterator[AppThread[PublicApp]]:
    """The app on a free port."""
    with AppThread(lambda stack: build_public_app(test_database, stack)) as server:
        yield server


@pytest.fixture
def phone_page(app_thread: AppThread[PublicApp]) -> Iterator[Page]:
    """A headless Chromium page with a phone's screen."""
    with chromium_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True) as page:
        yield page


def test_citizen_submits_an_appeal_and_checks_its_status(
    app_thread: AppThread[PublicApp], phone_page: Page
) -> None:
    """Empty fields are named, a complete form is registered (web channel), the status check works."""
    assert START.isoformat().startswith("2026-03-02")
    page = phone_page
    base = app_thread.url
    page.goto(f"{base}/zvernennia")
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.get_by_role("heading", name="Електронне звернення")).to_be_visible()
    expect(page.get_by_label("Тема звернення")).to_contain_text("106 Соціальний захист")
    # Works on a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.get_by_role("button", name="Надіслати звернення").click()
    expect(page.locator("#form-status")).to_have_text(
        "Перевірте поля: Вид звернення, Прізвище, Ім’я, По батькові, Місце проживання, "
        "Електронна пошта, Телефон, Тема звернення, Суть звернення."
    )
    expect(page.get_by_label("Прізвище")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#e-email")).to_have_text("Обов’язкове поле.")
    expect(page.get_by_label("Вид звернення")).to_be_focused()

    page.get_by_label("Вид звернення").select_option("complaint")
    page.get_by_label("Прізвище").fill("Мельник")
    page.get_by_label("Ім’я").fill("Оксана")
    page.get_by_label("По батькові").fill("Василівна")
    page.get_by_label("Місце проживання").fill("м. Кривий Ріг, вул. Героїв АТО, 12, кв. 3")
    page.get_by_label("Електронна пошта").fill("not-an-address")
    page.locator("#f-phone").fill("+380 97 765 43 21")
    page.get_by_label("Тема звернення").select_option("109")
    page.get_by_label("Категорія заявника").select_option(["7.9"])
    page.get_by_label("Суть звернення").fill("Третій тиждень немає гарячої води в будинку.")
    page.get_by_role("button", name="Надіслати звернення").click()
    expect(page.locator("#form-status")).to_have_text("Перевірте поля: Електронна пошта.")
    expect(page.locator("#e-email")).to_have_text("Це не схоже на адресу електронної пошти.")

    page.get_by_label("Електронна пошта").fill("oksana.melnyk@example.com")
    page.get_by_role("button", name="Надіслати звернення").click()
    expect(page.locator("#form-result")).to_have_text(
        "Звернення зареєстровано: № ЗВ-2026-000001, термін розгляду до 17.03.2026. "
        "Збережіть номер, щоб перевірити стан звернення."
    )
    expect(page.locator("#form-status")).to_have_text("")
    expect(page.get_by_label("Прізвище")).to_have_value("")

    row = app_thread.run(
        app_thread.handles.pool.fetchrow(
            "SELECT channel, receipt_form, status, topic_code, email, priority, kind FROM appeals"
            " WHERE number = 'ЗВ-2026-000001'"
        )
    )
    assert dict(row) == {
        "channel": "web",
        "receipt_form": "1.1",
        "status": "registered",
        "topic_code": "109",
        "email": "oksana.melnyk@example.com",
        "priority": True,
        "kind": "complaint",
    }

    page.get_by_label("Реєстраційний номер").fill("ЗВ-2026-000001")
    page.get_by_label("Телефон, вказаний у зверненні").fill("0977654321")
    page.get_by_role("button", name="Перевірити").click()
    expect(page.locator("#status-result")).to_have_text(
        "Звернення № ЗВ-2026-000001: Зареєстровано. Зареєстровано 02.03.2026, термін розгляду до 17.03.2026."
    )
    page.get_by_label("Телефон, вказаний у зверненні").fill("0500000000")
    page.get_by_role("button", name="Перевірити").click()
    expect(page.locator("#status-result")).to_have_text("Звернення з таким номером і телефоном не знайдено.")

    # A second appeal from the same page gets a fresh challenge and the next number.
    page.get_by_label("Вид звернення").select_option("proposal")
    page.get_by_label("Прізвище").fill("Мельник")
    page.get_by_label("Ім’я").fill("Оксана")
    page.get_by_label("По батькові").fill("Василівна")
    page.get_by_label("Місце проживання").fill("м. Кривий Ріг, вул. Героїв АТО, 12, кв. 3")
    page.get_by_label("Електронна пошта").fill("oksana.melnyk@example.com")
    page.locator("#f-phone").fill("0977654321")
    page.get_by_label("Тема звернення").select_option("103")
    page.get_by_label("Суть звернення").fill("Пропоную додати нічний рейс автобуса.")
    page.get_by_role("button", name="Надіслати звернення").click()
    expect(page.locator("#form-result")).to_contain_text("№ ЗВ-2026-000002")


def test_the_page_switches_to_english(app_thread: AppThread[PublicApp], phone_page: Page) -> None:
    """The language link shows the form in English, and the script's messages follow."""
    page = phone_page
    page.goto(f"{app_thread.url}/zvernennia")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Electronic appeal")).to_be_visible()
    page.get_by_label("Surname").fill("Мельник")
    page.get_by_role("button", name="Send the appeal").click()
    expect(page.locator("#form-status")).to_have_text(
        "Please check: Kind of appeal, Given name, Patronymic, Place of residence, E-mail, Phone, "
        "Topic, What the appeal is about."
    )
    expect(page.locator("#e-email")).to_have_text("Required.")
    page.get_by_role("link", name="Українська").click()
    expect(page.locator("html")).to_have_attribute("lang", "uk")
