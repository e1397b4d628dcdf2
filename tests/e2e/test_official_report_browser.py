"""The official report's printable page in a real browser: charts drawn, it prints on A4 pages, and
the served page is Ukrainian with a link to the same report in English."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from playwright.sync_api import Page, expect

from callcenter.official_reports import AppealFacts, build_official_report, official_document, parse_period
from callcenter.storage.users import Role
from callcenter.web import content_api
from tests.conftest import TestDatabase
from tests.e2e.browser_support import AppThread, chromium_page, open_pool, sign_in
from tests.integration.test_auth_support import add_user, make_app
from tests.integration.test_content_alerts import add_appeal

pytestmark = pytest.mark.browser


def facts(count: int, seed: int) -> list[AppealFacts]:
    """Synthetic appeals received in Q3 2026."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        received = date(2026, 7, 1) + timedelta(days=rng.randrange(92))
        closed = received + timedelta(days=rng.randrange(40)) if rng.random() < 0.7 else None
        out.append(
            AppealFacts(
                id=str(n),
                number=f"ЗВ-2026-{n:06d}",
                kind=rng.choice(["proposal", "application", "complaint"]),
                topic=rng.choice(["106", "109", "110", "103", "108", "125"]),
                categories=rng.choice([(), ("7.5",), ("7.1", "7.7")]),
                authority=rng.choice(["dep-zhkg", "dep-social", None]),
                status="closed" if closed else "in_work",
                result=rng.choice(["9.1", "9.2", "9.3"]) if closed else None,
                sign=rng.choice(["2.1", "2.1", "2.2"]),
                subject=rng.choice(["5.1", "5.2"]),
                received_on=received,
                due=received + timedelta(days=30),
                closed_on=closed,
            )
        )
    return out


@pytest.fixture
def page() -> Iterator[Page]:
    """A fresh headless Chromium page."""
    with chromium_page(viewport={"width": 1100, "height": 900}) as page:
        yield page


def test_official_report_renders_and_prints_on_a4(page: Page, tmp_path: Path) -> None:
    """The quarter's page opens with no request, draws its charts, and prints to a multi-page A4 PDF."""
    report = build_official_report(
        facts(400, 1), parse_period("2026-Q3"), as_of=date(2026, 10, 15), consultations=37
    )
    path = tmp_path / "official.html"
    path.write_text(official_document(report, datetime(2026, 10, 15, 8, tzinfo=UTC)), encoding="utf-8")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.locator("h1")).to_have_text("Звернення громадян — звіт за III квартал 2026 року")
    expect(page.locator("#totals tbody tr").first.locator("td").last).to_have_text("400")
    for chart_id in ("chart-type", "chart-topic", "chart-result", "chart-timeliness"):
        chart = page.locator(f"svg#{chart_id}")
        expect(chart).to_be_visible()
        assert chart.locator("rect.bar").count() > 0, chart_id
    assert requests == [path.as_uri()]
    pdf = page.pdf(path=str(tmp_path / "official.pdf"), prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert pages >= 2
    # A4 portrait is 595 × 842 points.
    assert b"/MediaBox [0 0 595" in pdf or b"/MediaBox [0 0 594" in pdf


NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
#: Appeals the served report counts: received in November 2026 (Kyiv days).
SEEDED = 9


async def build_report_app(
    database: TestDatabase, stack: contextlib.AsyncExitStack
) -> tuple[web.Application, None]:
    """The app with the official report route, a supervisor, and November's appeals."""
    pool = await open_pool(database, stack)
    await pool.execute("TRUNCATE appeals, users CASCADE")
    await add_user(pool, "sup.official", Role.SUPERVISOR)
    for n in range(SEEDED):
        await add_appeal(pool, ("109", "106", "110")[n % 3], "м. Павлоград", NOW - timedelta(days=n))
    app = make_app(pool)
    content_api.setup(app, content_api.ContentPageState(now=lambda: NOW))
    return app, None


@pytest.fixture
def base_url(test_database: TestDatabase) -> Iterator[str]:
    """The app's address; stopped after the test."""
    with AppThread(lambda stack: build_report_app(test_database, stack)) as server:
        yield server.url


def test_served_report_is_ukrainian_with_an_english_link(base_url: str, page: Page) -> None:
    """/reports/official opens in Ukrainian, styled (its CSP lets the report's own style in), with
    the month's real figures; the language link shows the same report in English."""
    url = f"{base_url}/reports/official?period=2026-11"
    sign_in(page, url, "sup.official")
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.locator("h1")).to_have_text("Звернення громадян — звіт за листопад 2026 року")
    totals = page.locator("#totals tbody tr")
    expect(totals.first).to_contain_text("Зареєстровано звернень, що надійшли 01.11.2026 – 30.11.2026")
    expect(totals.first.locator("td").last).to_have_text(str(SEEDED))
    expect(page.locator("#section-topic tbody tr").first).to_contain_text("Соціальний захист")
    expect(page.locator("#section-result")).to_contain_text("Розгляд не завершено")
    expect(page.locator("#section-topic tfoot")).to_contain_text("Усього")
    expect(page.locator("svg#chart-topic rect.bar")).to_have_count(3)
    # The inline style applies (a CSP without its hash would leave the page unstyled).
    assert page.locator("body").evaluate("b => getComputedStyle(b).maxWidth") == "1000px"

    page.locator("#lang-switch").click()
    expect(page).to_have_url(f"{url}&lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Appeals of citizens — report for 2026-11")
    expect(totals.first).to_contain_text("Registered appeals received 2026-11-01 – 2026-11-30")
    expect(totals.first.locator("td").last).to_have_text(str(SEEDED))
    expect(page.locator("#section-result")).to_contain_text("Not closed yet")
    expect(page.locator("#lang-switch")).to_have_text("Українською")
