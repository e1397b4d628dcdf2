"""The content page and the public statistics page in a real browser (Debian's Chromium)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from playwright.sync_api import Page, expect

from callcenter.analytics.spikes import Spike
from callcenter.storage.content import ContentAlertStore
from callcenter.storage.users import Role
from callcenter.web import content_api, public_stats
from tests.conftest import TestDatabase
from tests.e2e.test_login_browser import chromium_page, free_port
from tests.integration.test_auth_support import PASSWORD, add_user, make_app
from tests.integration.test_content_alerts import add_appeal

pytestmark = pytest.mark.browser

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class ContentAppThread:
    """The app with the content and public statistics pages, served from a thread of its own."""

    def __init__(self, database: TestDatabase) -> None:
        self._database = database
        self.port = free_port()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None
        self.pool: Any = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        runner: web.AppRunner | None = None
        try:
            self.pool = await self._database.pool(min_size=1, max_size=5)
            await self.pool.execute("TRUNCATE appeals, content_alerts, users CASCADE")
            await add_user(self.pool, "sup.browser", Role.SUPERVISOR)
            for n in range(12):
                await add_appeal(self.pool, "109", "м. Павлоград", NOW - timedelta(hours=n))
            for n in range(6):
                await add_appeal(self.pool, "106", "м. Дніпро", NOW - timedelta(days=n))
            await ContentAlertStore(self.pool).upsert(
                [Spike("109", "Павлоград", date(2026, 11, 24), 12, 1.1, 1e-9, 1e-6, 30)], NOW
            )
            app = make_app(self.pool)
            content_api.setup(app, content_api.ContentPageState(now=lambda: NOW))
            public_stats.setup(app, public_stats.PublicStatsState(now=lambda: NOW))
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port).start()
            self._loop = asyncio.get_running_loop()
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
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@pytest.fixture
def base_url(test_database: TestDatabase) -> Iterator[str]:
    """The app's address; stopped after the test."""
    server = ContentAppThread(test_database)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def page() -> Iterator[Page]:
    """A fresh headless Chromium page."""
    with chromium_page(viewport={"width": 1100, "height": 900}) as page:
        yield page


def test_supervisor_acknowledges_a_spike_and_sees_the_trend(base_url: str, page: Page) -> None:
    """After signing in, the trend chart is drawn and Acknowledge marks the alert done without a reload."""
    page.goto(f"{base_url}/content?from=2026-11-18&to=2026-11-24")
    page.locator("#login").fill("sup.browser")
    page.locator("#password").fill(PASSWORD)
    page.locator("#submit").click()
    expect(page).to_have_url(f"{base_url}/content?from=2026-11-18&to=2026-11-24")
    chart = page.locator("svg#chart-trends")
    expect(chart).to_be_visible()
    assert chart.locator("polyline").count() >= 2
    row = page.locator("#alerts tbody tr").first
    expect(row).to_contain_text("Павлоград")
    row.get_by_role("button", name="Acknowledge").click()
    expect(row).to_contain_text("acknowledged by sup.browser")
    expect(page.locator("#ack-status")).to_contain_text("acknowledged")
    page.reload()
    expect(page.locator("#alerts tbody tr").first).to_contain_text("acknowledged by sup.browser")


def test_public_statistics_page_needs_no_sign_in(base_url: str, page: Page) -> None:
    """/stats opens for anyone with the topics chart and no script."""
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{base_url}/stats")
    expect(page.locator("h1")).to_contain_text("2026-11")
    expect(page.locator("svg#chart-topics")).to_be_visible()
    expect(page.locator("#topics")).to_contain_text("109")
    assert not any(url.endswith(".js") for url in requests)
