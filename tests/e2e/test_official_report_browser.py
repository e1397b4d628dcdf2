"""The official report's printable page in a real browser: charts drawn, and it prints on A4 pages."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from callcenter.official_reports import AppealFacts, build_official_report, official_document, parse_period
from tests.e2e.browser_support import chromium_page

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
    expect(page.locator("h1")).to_contain_text("2026-Q3")
    expect(page.locator("#totals")).to_contain_text("400")
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
