"""The reports in a real browser (Debian's Chromium through Playwright): the self-contained HTML
files, and the supervisors' analytics page in Ukrainian and English."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from playwright.sync_api import Page, expect

from callcenter.analytics.hours import KYIV
from callcenter.reports import LoadReport, Report, ReportKind, build_report, parse_range
from callcenter.reports_svg import report_document
from callcenter.storage.users import Role
from callcenter.web.analytics_page import AnalyticsPageState, setup_analytics
from tests.conftest import TestDatabase
from tests.e2e.browser_support import AppThread, chromium_page, open_pool, sign_in
from tests.integration.test_auth_support import add_user, make_app
from tests.unit.test_reports_support import MemorySource, synthetic_days

pytestmark = pytest.mark.browser

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _build(kind: ReportKind, source: MemorySource, date_from: str, date_to: str) -> Report:
    """Build a report in a thread of its own: Playwright's sync API owns this thread's event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, build_report(kind, source, parse_range(date_from, date_to))).result()


@pytest.fixture(scope="module")
def source() -> MemorySource:
    """A synthetic week, Monday 2 to Sunday 8 March 2026."""
    return MemorySource(*synthetic_days(datetime(2026, 3, 2, tzinfo=KYIV), 7, calls=300))


@pytest.fixture
def page() -> Iterator[Page]:
    """A fresh headless Chromium page, 1100 px wide."""
    with chromium_page(viewport={"width": 1100, "height": 900}) as page:
        yield page


@pytest.mark.parametrize(
    ("kind", "charts"),
    [
        ("load", ["chart-calls", "chart-staffing", "chart-sl"]),
        ("hours", ["chart-heatmap", "chart-add-hours"]),
        ("agents", ["chart-agent-time", "chart-agent-calls"]),
    ],
)
def test_report_renders_with_visible_charts(
    source: MemorySource, page: Page, tmp_path: Path, kind: ReportKind, charts: list[str]
) -> None:
    """Each report opens from a file with no network request, and its charts are drawn and visible."""
    report = _build(kind, source, "2026-03-02", "2026-03-08")
    html_path = tmp_path / f"{kind}.html"
    html_path.write_text(report_document(report, datetime(2026, 3, 9, 7, 0, tzinfo=UTC)), encoding="utf-8")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(html_path.as_uri())
    expect(page.locator("h1")).to_contain_text("2026-03-02 – 2026-03-08")
    assert page.locator("svg.chart").count() == len(charts)
    for chart_id in charts:
        chart = page.locator(f"svg#{chart_id}")
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 500 and box["height"] > 150, (chart_id, box)
        drawn = chart.locator("rect.bar, rect.cell, polyline.line")
        assert drawn.count() > 0, chart_id
        expect(drawn.first).to_be_visible()
    screenshot = tmp_path / f"{kind}.png"
    page.screenshot(path=str(screenshot), full_page=True)
    data = screenshot.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 20_000
    assert requests == [html_path.as_uri()]  # self-contained: nothing fetched besides the file


def test_load_chart_bars_grow_with_the_calls(source: MemorySource, page: Page, tmp_path: Path) -> None:
    """In the rendered calls chart the tallest bar is the period with the most offered calls."""
    report = _build("load", source, "2026-03-03", "2026-03-03")
    assert isinstance(report, LoadReport)
    html_path = tmp_path / "load.html"
    html_path.write_text(report_document(report, datetime(2026, 3, 4, tzinfo=UTC)), encoding="utf-8")
    page.goto(html_path.as_uri())
    heights = page.eval_on_selector_all(
        "svg#chart-calls rect.bar",
        "bars => bars.map(b => [b.getBoundingClientRect().x, b.getBoundingClientRect().height])",
    )
    per_x: dict[float, float] = {}
    for x, height in heights:
        per_x[round(x)] = per_x.get(round(x), 0.0) + height
    tallest = max(per_x.values())
    offered = [r.rollup.counters for r in report.rows]
    most = max(c.answered + c.abandoned + c.short_abandoned + c.overflowed + c.callbacks for c in offered)
    smallest = min(v for v in per_x.values())
    assert tallest / smallest == pytest.approx(
        most / min(c.answered + c.abandoned + c.short_abandoned + c.overflowed + c.callbacks
                   for c in offered if c.answered + c.abandoned + c.short_abandoned + c.overflowed + c.callbacks),
        rel=0.05,
    )  # fmt: skip
    page.screenshot(path=str(tmp_path / "load-day.png"))


def test_analytics_page_in_ukrainian_then_english(
    source: MemorySource, test_database: TestDatabase, page: Page
) -> None:
    """The page opens in Ukrainian (KPI names, dd.mm.yyyy, decimal comma) with its charts drawn, and
    its language link shows the same report, figures unchanged, in English."""
    report = _build("load", source, "2026-03-02", "2026-03-08")
    assert isinstance(report, LoadReport)
    totals = report.totals
    assert totals.answered > 0 and totals.service_level is not None
    sl = f"{100 * totals.service_level:.1f}"

    async def build(stack: contextlib.AsyncExitStack) -> tuple[web.Application, None]:
        pool = await open_pool(test_database, stack)
        await pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
        await add_user(pool, "sup.analytics", Role.SUPERVISOR)
        app = make_app(pool)
        setup_analytics(
            app, AnalyticsPageState(source=source, now=lambda: datetime(2026, 3, 9, 8, tzinfo=UTC))
        )
        return app, None

    def summary(field: str) -> str:
        return page.locator(f'table#summary th[data-field="{field}"]').inner_text()

    def summary_cell(field: str) -> str:
        headers = page.locator("table#summary thead th")
        fields = [headers.nth(n).get_attribute("data-field") for n in range(headers.count())]
        return page.locator("table#summary tbody td").nth(fields.index(field)).inner_text()

    with AppThread(build) as server:
        url = f"{server.url}/analytics?report=load&from=2026-03-02&to=2026-03-08"
        sign_in(page, url, "sup.analytics")
        expect(page.locator("html")).to_have_attribute("lang", "uk")
        expect(page.locator("h1")).to_have_text(
            "Навантаження й укомплектованість — уся лінія, 02.03.2026 – 08.03.2026"
        )
        expect(page.locator("label[for=report]")).to_have_text("Звіт")
        assert summary("service_level") == "Рівень обслуговування"
        assert summary("aht") == "Середній час обробки"
        assert summary("abandon_rate") == "Частка пропущених"
        assert summary_cell("answered") == str(totals.answered)
        assert summary_cell("service_level") == f"{sl.replace('.', ',')} %"
        bars = page.locator("svg#chart-calls rect.bar")
        assert bars.count() > 0
        expect(bars.first).to_be_visible()
        expect(page.locator("svg#chart-calls")).to_contain_text("прийнято")

        page.locator("#lang-switch").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("h1")).to_have_text("Load and staffing — whole line, 2026-03-02 – 2026-03-08")
        assert summary("service_level") == "Service level"
        assert summary_cell("answered") == str(totals.answered)
        assert summary_cell("service_level") == f"{sl} %"
        expect(page.locator("#lang-switch")).to_have_text("Українською")
