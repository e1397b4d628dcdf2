"""The content page and the public statistics page in a real browser (Debian's Chromium)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from aiohttp import web
from playwright.sync_api import Page, expect

from callcenter.analytics.spikes import Spike
from callcenter.storage.content import ContentAlertStore
from callcenter.storage.users import Role
from callcenter.web import content_api, public_stats
from tests.conftest import TestDatabase
from tests.e2e.browser_support import AppThread, chromium_page, open_pool, sign_in
from tests.integration.test_auth_support import add_user, make_app
from tests.integration.test_content_alerts import add_appeal

pytestmark = pytest.mark.browser

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


async def build_content_app(
    database: TestDatabase, stack: contextlib.AsyncExitStack
) -> tuple[web.Application, None]:
    """The app with the content and public statistics pages, a supervisor, appeals and one spike."""
    pool = await open_pool(database, stack)
    await pool.execute("TRUNCATE appeals, content_alerts, users CASCADE")
    await add_user(pool, "sup.browser", Role.SUPERVISOR)
    for n in range(12):
        await add_appeal(pool, "109", "м. Павлоград", NOW - timedelta(hours=n))
    for n in range(6):
        await add_appeal(pool, "106", "м. Дніпро", NOW - timedelta(days=n))
    await ContentAlertStore(pool).upsert(
        [Spike("109", "Павлоград", date(2026, 11, 24), 12, 1.1, 1e-9, 1e-6, 30)], NOW
    )
    app = make_app(pool)
    content_api.setup(app, content_api.ContentPageState(now=lambda: NOW))
    public_stats.setup(app, public_stats.PublicStatsState(now=lambda: NOW))
    return app, None


@pytest.fixture
def base_url(test_database: TestDatabase) -> Iterator[str]:
    """The app's address; stopped after the test."""
    with AppThread(lambda stack: build_content_app(test_database, stack)) as server:
        yield server.url


@pytest.fixture
def page() -> Iterator[Page]:
    """A fresh headless Chromium page."""
    with chromium_page(viewport={"width": 1100, "height": 900}) as page:
        yield page


def test_supervisor_acknowledges_a_spike_and_sees_the_trend(base_url: str, page: Page) -> None:
    """After signing in, the page is Ukrainian with its trend drawn; Підтвердити marks the alert done
    without a reload; the language link shows the same page in English."""
    sign_in(page, f"{base_url}/content?from=2026-11-18&to=2026-11-24", "sup.browser")
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.locator("h1")).to_have_text("Контент-аналіз звернень")
    expect(page.locator("#trend-heading")).to_have_text("Динаміка тем")
    expect(page.locator("#alerts-heading")).to_have_text("Проблеми, що потребують негайного реагування")
    chart = page.locator("svg#chart-trends")
    expect(chart).to_be_visible()
    assert chart.locator("polyline").count() >= 2
    # The seeded figures: 12 appeals on topic 109 today where 1.1 were usual; 6 on topic 106.
    expect(page.locator("#trend-table tbody tr").last).to_contain_text("24.11.2026")
    row = page.locator("#alerts tbody tr").first
    expect(row).to_contain_text("Павлоград")
    expect(row.locator("td").nth(0)).to_have_text("24.11.2026")
    expect(row.locator("td").nth(3)).to_have_text("12")
    expect(row.locator("td").nth(4)).to_have_text("1,1")
    row.get_by_role("button", name="Підтвердити").click()
    expect(row).to_contain_text("підтверджено: sup.browser")
    expect(page.locator("#ack-status")).to_contain_text("підтверджено")

    page.locator("#lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(f"{base_url}/content?from=2026-11-18&to=2026-11-24&lang=en")
    expect(page.locator("h1")).to_have_text("Content analysis")
    expect(page.locator("#trend-heading")).to_have_text("Topic trends")
    row = page.locator("#alerts tbody tr").first
    expect(row).to_contain_text("acknowledged by sup.browser")
    expect(row.locator("td").nth(4)).to_have_text("1.1")
    expect(page.locator("#trend-table tbody tr").last).to_contain_text("2026-11-24")
    page.reload()
    expect(page.locator("#alerts tbody tr").first).to_contain_text("acknowledged by sup.browser")
    expect(page.locator("#lang-switch")).to_have_text("Українською")


def test_public_statistics_page_needs_no_sign_in(base_url: str, page: Page) -> None:
    """/stats opens for anyone in Ukrainian with the topics chart and no script; the language link
    shows the same month in English, and the month links stay in English."""
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{base_url}/stats")
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.locator("h1")).to_have_text("Гаряча лінія для громадян: статистика за листопад 2026 року")
    expect(page.locator("svg#chart-topics")).to_be_visible()
    # The seeded month: 12 appeals on topic 109 and 6 on 106.
    expect(page.locator("#appeals")).to_have_text("18")
    expect(page.locator("#figures dt").first).to_have_text("Зареєстровано звернень")
    expect(page.locator("#topics tbody tr").first).to_have_text("109Комунальне господарство12")
    expect(page.locator("#topics thead")).to_contain_text("Кількість звернень")
    assert not any(url.endswith(".js") for url in requests)

    page.locator("#lang-switch").click()
    expect(page).to_have_url(f"{base_url}/stats?month=2026-11&lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Citizens' hotline: statistics for 2026-11")
    expect(page.locator("#appeals")).to_have_text("18")
    expect(page.locator("#figures dt").first).to_have_text("Appeals registered")
    expect(page.locator("#topics tbody tr").first).to_have_text("109Комунальне господарство12")
    page.locator("#previous").click()
    expect(page).to_have_url(f"{base_url}/stats?month=2026-10&lang=en")
    expect(page.locator("h1")).to_have_text("Citizens' hotline: statistics for 2026-10")
    page.locator("#month").fill("2026-11")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("h1")).to_have_text("Citizens' hotline: statistics for 2026-11")
    expect(page.locator("#lang-switch")).to_have_text("Українською")
