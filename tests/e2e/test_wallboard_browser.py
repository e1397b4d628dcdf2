"""The wallboard in a real browser (Debian's Chromium): it follows a call that arrives, waits, is answered and ends.

The app runs in a thread with its own loop and PostgreSQL pool. The composition root does not
route calls yet, so the test publishes on the app's bus exactly the live events the call
pipeline (``CallArrived``, ``CallFinished``) and the ACD runtime (``CallQueued``,
``CallOffered``, ``CallConnected``, ``AgentStateChanged``) publish for such a call.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.sync_api import Page, expect

from callcenter.acd.model import AgentState, AgentStateChanged
from callcenter.services.live_events import (
    TOPIC_ACD,
    TOPIC_CALLS,
    CallArrived,
    CallConnected,
    CallFinished,
    CallOffered,
    CallQueued,
)
from tests.conftest import TestDatabase
from tests.e2e.browser_support import AppThread, chromium_page, open_pool, sign_in
from tests.integration.test_wallboard_support import WallboardApp, add_people, make_wallboard_app

pytestmark = pytest.mark.browser

#: The issue's promise: the board changes within a second of the event.
UPDATE_MS = 1000


async def build_board_app(
    database: TestDatabase, stack: contextlib.AsyncExitStack
) -> tuple[web.Application, WallboardApp]:
    """The app with the wallboard fed from its bus, and the people on it."""
    pool = await open_pool(database, stack)
    await add_people(pool)
    board = make_wallboard_app(pool, live_from_events=True)
    return board.app, board


class BoardThread(AppThread[WallboardApp]):
    """The wallboard's app on its thread; the test publishes what the call pipeline and the ACD would."""

    def __init__(self, database: TestDatabase) -> None:
        super().__init__(lambda stack: build_board_app(database, stack))

    def publish(self, topic: str, event: object) -> None:
        """Publish on the app's bus from the test thread."""
        self.call_soon(self.handles.bus.publish, topic, event)


@pytest.fixture
def board_thread(test_database: TestDatabase) -> Iterator[BoardThread]:
    """The app with the wallboard on a free port."""
    with BoardThread(test_database) as server:
        yield server


@pytest.fixture
def page() -> Iterator[Page]:
    """A fresh headless Chromium page, big as a wall screen."""
    with chromium_page(viewport={"width": 1920, "height": 1080}) as page:
        yield page


def cell(page: Page, queue: str, field: str) -> Any:
    return page.locator(f'tr[data-queue="{queue}"] td[data-field="{field}"]')


def test_wallboard_follows_a_call(board_thread: BoardThread, page: Page, tmp_path: Path) -> None:
    """Arrival and wait, answer, and hang-up each show on the board within a second; the board is
    Ukrainian with the analytics page's KPI names, and its language button shows the same figures
    in English."""
    base = board_thread.url
    sign_in(page, f"{base}/wallboard", "u-supervisor")
    expect(page.locator("#link")).to_have_class("link-up")
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.locator("#link")).to_have_text("На зв'язку")
    expect(page.locator('th[data-field="abandoned"]')).to_have_text("Пропущено")

    board_thread.publish(TOPIC_ACD, AgentStateChanged("op1", AgentState.AVAILABLE, time.time()))
    agent = page.locator('li[data-agent="op1"]')
    expect(agent.locator(".state")).to_contain_text("вільний", timeout=UPDATE_MS)

    queued = time.time()
    board_thread.publish(
        TOPIC_CALLS, CallArrived("e2e-1", "e2e-1.1", "380501112233", "0800", "hotline", queued - 8)
    )
    board_thread.publish(TOPIC_CALLS, CallQueued("e2e-1", "general", 0, queued))
    expect(cell(page, "general", "waiting")).to_have_text("1", timeout=UPDATE_MS)
    expect(cell(page, "general", "longest")).to_have_text("0:02", timeout=3000)  # counts up on the page
    page.screenshot(path=str(tmp_path / "1-waiting.png"))

    answered = queued + 3
    board_thread.publish(TOPIC_ACD, AgentStateChanged("op1", AgentState.RINGING, answered))
    board_thread.publish(
        TOPIC_CALLS,
        CallOffered("e2e-1", "e2e-1.1", "op1", "general", 3.0, None, "uk", None, (), 0, at=answered),
    )
    board_thread.publish(TOPIC_CALLS, CallConnected("e2e-1", "op1", "general", answered))
    board_thread.publish(TOPIC_ACD, AgentStateChanged("op1", AgentState.ON_CALL, answered))
    expect(cell(page, "general", "waiting")).to_have_text("0", timeout=UPDATE_MS)
    expect(agent.locator(".state")).to_contain_text("розмова", timeout=UPDATE_MS)
    expect(agent.get_by_role("button", name="Слухати")).to_be_visible()
    expect(agent.locator(".calls")).to_have_text("дзвінків: 1")
    page.screenshot(path=str(tmp_path / "2-answered.png"))

    ended = answered + 40
    board_thread.publish(TOPIC_CALLS, CallFinished("e2e-1", "answered", "general", "op1", ended))
    board_thread.publish(TOPIC_ACD, AgentStateChanged("op1", AgentState.WRAP_UP, ended))
    expect(cell(page, "general", "answered")).to_have_text("1", timeout=UPDATE_MS)
    expect(cell(page, "general", "offered")).to_have_text("1")
    expect(cell(page, "general", "sl")).to_have_text("100%")
    expect(cell(page, "general", "asa")).to_have_text("3 с")
    expect(cell(page, "general", "aht")).to_have_text("40 с")
    expect(agent.locator(".state")).to_contain_text("обробка", timeout=UPDATE_MS)
    page.screenshot(path=str(tmp_path / "3-ended.png"))
    assert (tmp_path / "3-ended.png").stat().st_size > 0

    page.locator("#lang-switch").click()
    expect(page).to_have_url(f"{base}/wallboard?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#link")).to_have_text("Connected")
    expect(page.locator("h1")).to_have_text("Queue board")
    expect(page.locator('th[data-field="abandoned"]')).to_have_text("Abandoned")
    expect(cell(page, "general", "answered")).to_have_text("1")
    expect(cell(page, "general", "aht")).to_have_text("40 s")
    expect(agent.locator(".state")).to_contain_text("wrap-up")
    expect(agent.locator(".calls")).to_have_text("calls: 1")
    expect(page.locator("#lang-switch")).to_have_text("Українською")


def test_long_wait_raises_a_worded_alert(board_thread: BoardThread, page: Page) -> None:
    """A caller waiting past the threshold shows an alert in words, not colour alone."""
    base = board_thread.url
    sign_in(page, f"{base}/wallboard", "u-supervisor")
    expect(page.locator("#link")).to_have_class("link-up")
    board_thread.publish(TOPIC_CALLS, CallQueued("e2e-2", "social", 0, time.time() - 59.5))
    expect(page.get_by_role("alert")).to_contain_text("social: очікування", timeout=2500)
    expect(page.get_by_role("alert")).to_contain_text("довше за 1:00")
