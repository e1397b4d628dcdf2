"""The SVG charts and the self-contained HTML report: well-formed, proportional, escaped, offline."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from callcenter.analytics.hours import KYIV
from callcenter.reports import build_report, parse_range
from callcenter.reports_svg import (
    H,
    _nice_max,
    hbar_chart,
    heatmap_chart,
    line_chart,
    load_buckets,
    report_document,
    stacked_bar_chart,
)
from tests.unit.test_reports_support import MemorySource, synthetic_days

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title") is not None
    return root


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 1), (0.7, 0.8), (7, 8), (56, 60), (101, 120), (1000, 1000)]
)
def test_axis_maximum_is_a_round_number_at_or_above_the_data(value: float, expected: float) -> None:
    """The y axis ends on a round number just above the largest value."""
    assert _nice_max(value) == pytest.approx(expected)


def test_stacked_bars_are_proportional_and_stack() -> None:
    """Bar heights are value / axis maximum of the plot height, and series sit on one another."""
    svg = stacked_bar_chart(
        "c", "Calls", ["a", "b"], [("x", "#111111", [30, 10]), ("y", "#222222", [10, 0])], y_label="n"
    )
    bars = [r for r in _parse(svg).iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert len(bars) == 3  # the zero is not drawn
    heights = [float(r.get("height", "0")) for r in bars]
    plot_h = H - 40 - 56
    assert heights == pytest.approx([plot_h * 30 / 40, plot_h * 10 / 40, plot_h * 10 / 40], abs=0.1)
    first, second = bars[0], bars[1]
    assert float(second.get("y", "0")) + float(second.get("height", "0")) == pytest.approx(
        float(first.get("y", "0")), abs=0.1
    )


def test_a_line_breaks_where_there_is_no_data() -> None:
    """A None value splits the line instead of drawing it at zero."""
    svg = line_chart(
        "l", "SL", ["1", "2", "3", "4"], [("sl", "#000000", [0.5, None, 0.7, 0.8])], y_label="%", percent=True
    )
    lines = [p for p in _parse(svg).iter(f"{SVG}polyline")]
    assert [len(p.get("points", "").split()) for p in lines] == [1, 2]


def test_marks_and_heatmap_cells() -> None:
    """Under/over marks are drawn per labelled period and the heatmap has 7 × 24 cells."""
    svg = line_chart(
        "s", "Agents", ["a", "b"], [("n", "#000000", [1, 2])], y_label="agents", marks=[(1, "under")]
    )
    assert len([p for p in _parse(svg).iter(f"{SVG}path") if "mark-under" in (p.get("class") or "")]) == 1
    grid = [[d * h for h in range(24)] for d in range(7)]
    closed = [[h < 8 for h in range(24)] for _ in range(7)]
    cells = [
        r
        for r in _parse(heatmap_chart("h", "Heat", grid, closed)).iter(f"{SVG}rect")
        if r.get("class") == "cell"
    ]
    assert len(cells) == 168
    assert sum(1 for c in cells if c.get("stroke-dasharray")) == 7 * 8


def test_labels_are_escaped() -> None:
    """A hostile label cannot inject markup into the chart."""
    svg = hbar_chart("a", "Agents <b>", ["<script>alert(1)</script>"], [("t", "#000000", [1.0])], unit="h")
    root = _parse(svg)
    assert "<script>" not in svg
    assert any(t.text == "<script>alert(1)</script>" for t in root.iter(f"{SVG}text"))


@pytest.fixture(scope="module")
def source() -> MemorySource:
    """Two synthetic days."""
    return MemorySource(*synthetic_days(datetime(2026, 3, 2, tzinfo=KYIV), 2, calls=200))


@pytest.mark.parametrize(("kind", "charts"), [("load", 3), ("hours", 2), ("agents", 2)])
def test_report_document_is_self_contained(source: MemorySource, kind: str, charts: int) -> None:
    """The HTML file has its charts inline, no script, and no reference to anything outside it."""
    report = asyncio.run(build_report(kind, source, parse_range("2026-03-02", "2026-03-03")))  # type: ignore[arg-type]
    text = report_document(report, datetime(2026, 3, 4, 9, 0, tzinfo=UTC))
    assert text.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') == charts
    assert "<script" not in text.lower()
    urls = set(re.findall(r"(?:href|src)\s*=|url\(|https?://[^\"' ]+", text))
    assert urls == {"http://www.w3.org/2000/svg"}
    for svg in re.findall(r"<svg .*?</svg>", text, flags=re.S):
        _parse(svg)


def test_long_ranges_chart_days_not_quarter_hours(source: MemorySource) -> None:
    """Up to 2 days the load charts show quarter hours, up to 14 hours, beyond that days."""
    two = asyncio.run(build_report("load", source, parse_range("2026-03-02", "2026-03-03")))
    week = asyncio.run(build_report("load", source, parse_range("2026-03-02", "2026-03-08")))
    month = asyncio.run(build_report("load", source, parse_range("2026-03-01", "2026-03-31")))
    assert [len(load_buckets(r)) for r in (two, week, month)] == [192, 168, 31]  # type: ignore[arg-type]
