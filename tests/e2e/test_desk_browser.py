"""The agent desk in a real browser (Debian's Chromium): a ring pops the card, the agent registers an appeal.

The app runs in a thread with its own event loop and PostgreSQL pool, so the test can do what
the call pipeline and the ACD runtime will do once the lead wires them in: open the call's
appeal record through the repository and publish ``CallOffered`` on the app's bus.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from aiohttp import web
from playwright.sync_api import Page, Route, expect

from callcenter.acd.model import AgentState, AgentStateChanged
from callcenter.services.live_events import TOPIC_ACD, TOPIC_CALLS, CallConnected, CallOffered
from tests.conftest import TestDatabase
from tests.e2e.test_login_browser import chromium_page, free_port
from tests.integration.test_appeals_api_support import (
    START,
    AppealsApp,
    add_staff,
    make_appeals_app,
    open_call,
)
from tests.integration.test_auth_support import PASSWORD

pytestmark = pytest.mark.browser

T = TypeVar("T")
CALLER = "+380501112233"
#: The screen-pop promise of the issue: the card is up within a second of the ring.
POP_TIMEOUT_MS = 1000


class AppThread:
    """The app served from a thread of its own (the browser test itself is synchronous)."""

    def __init__(self, database: TestDatabase) -> None:
        self._database = database
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self.port = free_port()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.bundle: AppealsApp | None = None
        self.pool: Any = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None

    async def _main(self) -> None:
        runner: web.AppRunner | None = None
        try:
            self.pool = await self._database.pool(min_size=1, max_size=5)
            await self.pool.execute("TRUNCATE appeals, appeal_number_counters CASCADE")
            await add_staff(self.pool)
            self.bundle = make_appeals_app(self.pool)
            runner = web.AppRunner(self.bundle.app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            self.loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await self._stop.wait()
        except BaseException as exc:  # handed to the test thread by start()
            self._failure = exc
        finally:
            self._ready.set()
            if runner is not None:
                await runner.cleanup()
            if self.pool is not None:
                await self.pool.close()

    def start(self) -> str:
        self._thread.start()
        assert self._ready.wait(30), "the app did not start"
        if self._failure is not None:
            raise self._failure
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the app's loop and return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def publish(self, topic: str, event: object) -> None:
        """Publish on the app's bus, as the ACD runtime does."""
        assert self.loop is not None and self.bundle is not None
        self.loop.call_soon_threadsafe(self.bundle.bus.publish, topic, event)

    def ring(self, linkedid: str, *, topic: str = "109", categories: tuple[str, ...] = ()) -> None:
        """A call from ``CALLER``: its record opened (the call pipeline), then the agent's phone rings."""
        assert self.bundle is not None
        self.run(open_call(self.bundle.repository, linkedid, CALLER, START - timedelta(minutes=2)))
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
def app_thread(test_database: TestDatabase) -> Iterator[AppThread]:
    """The app with the appeals API and the desk, on a free port."""
    server = AppThread(test_database)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(app_thread: AppThread) -> Iterator[Page]:
    """A fresh headless Chromium page."""
    with chromium_page() as page:
        yield page


def sign_in_to_desk(page: Page, base: str, query: str = "") -> None:
    """Open the desk, get sent to the login page, sign in as the agent, land on the desk, live."""
    page.goto(f"{base}/desk{query}")
    page.locator("#login").fill("u-agent")
    page.locator("#password").fill(PASSWORD)
    page.locator("#submit").click()
    expect(page).to_have_url(f"{base}/desk{query}")
    expect(page.locator("#connection")).not_to_be_empty()
    expect(page.locator("#connection")).not_to_have_class("connection lost")


def test_ring_pops_card_agent_registers_and_second_call_shows_it(app_thread: AppThread, page: Page) -> None:
    """The card pops with the IVR topic, registration lands in PostgreSQL, the next call lists it."""
    base = f"http://127.0.0.1:{app_thread.port}"
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
        app_thread.pool.fetchrow(
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


def test_english_desk_wrap_up_timer_and_state_controls(app_thread: AppThread, page: Page) -> None:
    """In English: the wrap-up timer runs on the ACD's wrap_up state; pause posts its reason."""
    base = f"http://127.0.0.1:{app_thread.port}"
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
    status = app_thread.run(app_thread.pool.fetchval("SELECT status FROM appeals WHERE linkedid = 'B-en'"))
    assert status == "consultation"
