"""The agent desk in a real browser (Debian's Chromium): a ring pops the card, the agent registers an appeal.

The app runs in a thread with its own event loop and PostgreSQL pool, so the test can do what
the call pipeline and the ACD runtime will do once the lead wires them in: open the call's
appeal record through the repository and publish ``CallOffered`` on the app's bus.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from playwright.sync_api import Page, Route, expect

from callcenter.acd.model import AgentState, AgentStateChanged
from callcenter.services.live_events import TOPIC_ACD, TOPIC_CALLS, CallConnected, CallOffered
from tests.conftest import TestDatabase
from tests.e2e.browser_support import AppThread, open_pool, sign_in
from tests.integration.test_appeals_api_support import (
    START,
    AppealsApp,
    add_staff,
    make_appeals_app,
    open_call,
)

pytestmark = pytest.mark.browser

CALLER = "+380501112233"
#: The screen-pop promise of the issue: the card is up within a second of the ring.
POP_TIMEOUT_MS = 1000


@dataclass
class DeskApp:
    """What the test reaches into: the app's parts and its pool."""

    bundle: AppealsApp
    pool: Any


async def build_desk_app(
    database: TestDatabase, stack: contextlib.AsyncExitStack
) -> tuple[web.Application, DeskApp]:
    """The app with the appeals API and the desk, one user per role."""
    pool = await open_pool(database, stack)
    await pool.execute("TRUNCATE appeals, appeal_number_counters CASCADE")
    await add_staff(pool)
    bundle = make_appeals_app(pool)
    return bundle.app, DeskApp(bundle, pool)


class DeskThread(AppThread[DeskApp]):
    """The desk's app on its thread, with what the call pipeline and the ACD would do to it."""

    def __init__(self, database: TestDatabase) -> None:
        super().__init__(lambda stack: build_desk_app(database, stack))

    def publish(self, topic: str, event: object) -> None:
        """Publish on the app's bus, as the ACD runtime does."""
        self.call_soon(self.handles.bundle.bus.publish, topic, event)

    def ring(self, linkedid: str, *, topic: str = "109", categories: tuple[str, ...] = ()) -> None:
        """A call from ``CALLER``: its record opened (the call pipeline), then the agent's phone rings."""
        self.run(open_call(self.handles.bundle.repository, linkedid, CALLER, START - timedelta(minutes=2)))
        self.publish(
            TOPIC_CALLS,
            CallOffered(
                linkedid=linkedid, uniqueid=f"{linkedid}.1", agent_id="u-agent", queue="utilities",
                waited_s=37.0, caller=CALLER, language="uk", topic=topic,
                ivr_path=("welcome", "language:1", "topic_menu:2"), priority=1 if categories else 0,
                categories=categories, at=0.0,
            ),
        )  # fmt: skip


@pytest.fixture
def app_thread(test_database: TestDatabase) -> Iterator[DeskThread]:
    """The app with the appeals API and the desk, on a free port."""
    with DeskThread(test_database) as server:
        yield server


def sign_in_to_desk(page: Page, base: str, query: str = "") -> None:
    """Open the desk, get sent to the login page, sign in as the agent, land on the desk, live."""
    sign_in(page, f"{base}/desk{query}", "u-agent")
    expect(page.locator("#connection")).not_to_be_empty()
    expect(page.locator("#connection")).not_to_have_class("connection lost")


def test_ring_pops_card_agent_registers_and_second_call_shows_it(app_thread: DeskThread, page: Page) -> None:
    """The card pops with the IVR topic, registration lands in PostgreSQL, the next call lists it."""
    base = app_thread.url
    sign_in_to_desk(page, base)
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.locator("#connection")).to_have_text(
        "На зв’язку: картка дзвінка з’явиться, щойно задзвонить телефон."
    )

    app_thread.ring("B-first", categories=("7.1",))
    expect(page.locator("#call-caller")).to_have_text(CALLER, timeout=POP_TIMEOUT_MS)
    expect(page.locator("#call-phase")).to_have_text("Телефон дзвонить")
    app_thread.publish(TOPIC_CALLS, CallConnected("B-first", "u-agent", "utilities", 1.0))
    expect(page.locator("#call-phase")).to_have_text("З’єднано")
    expect(page.locator("#call-topic")).to_have_text("109 Комунальне господарство")
    expect(page.locator("#call-ivr-path")).to_have_text("welcome → language:1 → topic_menu:2")
    expect(page.locator("#call-queue")).to_have_text("utilities")
    expect(page.locator("#call-waited")).to_have_text("37 с")
    expect(page.locator("#call-priority")).to_have_text("Учасник війни")
    expect(page.locator("#call-name")).to_have_text("невідоме")
    expect(page.locator("#earlier-none")).to_be_visible()

    # The form is pre-filled from the IVR: topic, language, the caller's number, the category.
    expect(page.get_by_label("Тема звернення")).to_have_value("109")
    expect(page.get_by_label("Телефон")).to_have_value(CALLER)
    expect(page.locator("#f-language")).to_have_text("українська")
    expect(page.get_by_label("Категорія заявника")).to_have_values(["7.1"])

    page.get_by_role("button", name="Зареєструвати звернення").click()
    expect(page.get_by_role("alert").filter(has_text="Перевірте поля")).to_have_text(
        "Перевірте поля: Прізвище, Ім’я, По батькові, Місце проживання, Суть звернення."
    )
    expect(page.get_by_label("Прізвище")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Вид звернення").select_option("complaint")
    page.get_by_label("Прізвище").fill("Шевченко")
    page.get_by_label("Ім’я", exact=True).fill("Марія")
    page.get_by_label("По батькові").fill("Іванівна")
    page.get_by_label("Місце проживання").fill("м. Київ, вул. Хрещатик, 1")
    page.get_by_label("Суть звернення").fill("Немає опалення в будинку з 20 лютого.")
    page.get_by_role("button", name="Зареєструвати звернення").click()
    expect(page.locator("#form-result")).to_have_text(
        "Звернення зареєстровано: № ЗВ-2026-000001, термін розгляду до 17.03.2026."
    )

    row = app_thread.run(
        app_thread.handles.pool.fetchrow(
            "SELECT number, due::text, status, topic_code, surname, priority, caller"
            " FROM appeals WHERE linkedid = 'B-first'"
        )
    )
    assert dict(row) == {
        "number": "ЗВ-2026-000001", "due": "2026-03-17", "status": "registered", "topic_code": "109",
        "surname": "Шевченко", "priority": True, "caller": CALLER,
    }  # fmt: skip

    app_thread.ring("B-second", topic="106")
    expect(page.locator("#call-topic")).to_have_text("106 Соціальний захист", timeout=POP_TIMEOUT_MS)
    earlier = page.get_by_role("table", name="Попередні звернення")
    expect(earlier.locator("tbody tr")).to_have_count(1)
    expect(earlier.locator("tbody tr td")).to_have_text(
        ["ЗВ-2026-000001", "02.03.2026", "109", "зареєстровано", "17.03.2026"]
    )
    expect(page.locator("#call-name")).to_have_text("Шевченко Марія Іванівна")
    expect(page.get_by_label("Прізвище")).to_have_value("Шевченко")
    expect(page.locator("#form-result")).to_be_empty()


def test_english_desk_wrap_up_timer_and_state_controls(app_thread: DeskThread, page: Page) -> None:
    """In English: the wrap-up timer runs on the ACD's wrap_up state; pause posts its reason."""
    base = app_thread.url
    sign_in_to_desk(page, base, "?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Agent desk")).to_be_visible()
    expect(page.locator("#no-call")).to_have_text("No call.")

    app_thread.publish(TOPIC_ACD, AgentStateChanged("u-agent", AgentState.WRAP_UP, 0.0))
    expect(page.locator("#agent-state")).to_have_text("wrap-up")
    expect(page.locator("#wrap-up")).to_be_visible()
    expect(page.locator("#wrap-up-time")).to_have_text("0:01", timeout=3000)

    # The ACD's agent API (callcenter.web.agents_api) is another engineer's; here the page's side
    # of that contract is checked: the path, the CSRF header, the reason, and the state shown.
    seen: list[dict[str, Any]] = []

    def agents_api(route: Route) -> None:
        request = route.request
        seen.append(
            {"url": request.url, "csrf": request.headers.get("x-csrf-token"), "body": request.post_data_json}
        )
        route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({"agent": {"agent_id": "u-agent", "state": "paused", "reason": "lunch"}}),
        )

    page.route("**/api/agents/me/*", agents_api)
    page.get_by_label("Pause reason").select_option("lunch")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.locator("#agent-state")).to_have_text("paused (lunch)")
    expect(page.locator("#wrap-up")).to_be_hidden()
    assert len(seen) == 1
    assert seen[0]["url"] == f"{base}/api/agents/me/pause"
    assert seen[0]["body"] == {"reason": "lunch"}
    assert seen[0]["csrf"]

    app_thread.ring("B-en")
    expect(page.locator("#call-language")).to_have_text("Ukrainian", timeout=POP_TIMEOUT_MS)
    expect(page.get_by_label("Topic of the appeal")).to_have_value("109")
    page.get_by_role("button", name="Consultation (not registered)").click()
    expect(page.locator("#form-result")).to_have_text("The call was recorded as a consultation.")
    status = app_thread.run(
        app_thread.handles.pool.fetchval("SELECT status FROM appeals WHERE linkedid = 'B-en'")
    )
    assert status == "consultation"
