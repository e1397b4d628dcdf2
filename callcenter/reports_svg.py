"""Charts as inline SVG, generated in Python, and the HTML of the reports (file and page alike).

No JavaScript and nothing fetched from the network: every chart is an ``<svg>`` element built
here, drawn with presentation attributes only (no ``style`` attributes), so the same markup is
valid in a standalone report file and under the supervisor page's Content-Security-Policy.
``report_body`` is the part both share; ``report_document`` wraps it into one self-contained file.
Every chart has a ``<title>`` and ``role="img"`` for screen readers, and every figure is also in
a table next to it. What the charts and tables say, and how they write numbers and dates, is a
``ReportLanguage`` (``callcenter.reports_text``): English by default, as the CLI writes its file;
the supervisors' page passes its own.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from callcenter.analytics.kpi import KpiCounters
from callcenter.analytics.staffing import StaffingStatus
from callcenter.reports import AgentsReport, HoursReport, LoadReport, LoadRow, Report
from callcenter.reports_text import ENGLISH, ENGLISH_TEXTS, ReportLanguage

__all__ = [
    "REPORT_CSS",
    "TITLES",
    "Bucket",
    "hbar_chart",
    "heatmap_chart",
    "line_chart",
    "load_buckets",
    "report_body",
    "report_document",
    "report_title",
    "stacked_bar_chart",
]

W, H = 960, 300
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 40, 56
FONT = "system-ui, sans-serif"

COLORS = {
    "answered": "#2e7d32",
    "abandoned": "#c62828",
    "short": "#f9a825",
    "other": "#78909c",
    "needed": "#0057b7",
    "staffed": "#8e24aa",
    "under": "#c62828",
    "over": "#ef6c00",
    "sl": "#00838f",
    "goal": "#455a64",
    "handling": "#0057b7",
    "available": "#43a047",
}
_BREAK_COLORS = ("#fb8c00", "#8d6e63", "#ab47bc", "#5c6bc0", "#26a69a", "#ec407a", "#9e9d24")

Series = tuple[str, str, Sequence[float]]  # (name, colour, one value per label)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _fmt(value: float, lang: ReportLanguage = ENGLISH) -> str:
    return lang.number(value, 0 if value >= 10 or value == int(value) else 1)


class _Svg:
    """An SVG document being assembled."""

    def __init__(
        self, chart_id: str, title: str, width: int = W, height: int = H, *, lang: ReportLanguage = ENGLISH
    ) -> None:
        self.id, self.width, self.height, self.lang = chart_id, width, height, lang
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{_e(chart_id)}" role="img"'
            f' aria-labelledby="{_e(chart_id)}-title" viewBox="0 0 {width} {height}" width="100%"'
            f' preserveAspectRatio="xMidYMid meet" font-family="{FONT}" font-size="12">',
            f'<title id="{_e(chart_id)}-title">{_e(title)}</title>',
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
            f'<text x="{LEFT}" y="20" font-size="15" font-weight="600" fill="#212121">{_e(title)}</text>',
        ]

    def add(self, text: str) -> None:
        self.parts.append(text)

    def legend(self, items: Sequence[tuple[str, str]]) -> None:
        x = self.width - RIGHT
        for name, colour in reversed(items):
            x -= 14 + 7 * len(name) + 18
            self.add(f'<rect class="legend" x="{x}" y="10" width="12" height="12" fill="{colour}"/>')
            self.add(f'<text x="{x + 16}" y="20" fill="#212121">{_e(name)}</text>')

    def y_axis(self, top: float, label: str, *, percent: bool = False) -> None:
        plot_h = self.height - TOP - BOTTOM
        for n in range(5):
            value = top * n / 4
            y = self.height - BOTTOM - plot_h * n / 4
            text = f"{100 * value:.0f}%" if percent else _fmt(value, self.lang)
            self.add(
                f'<line x1="{LEFT}" x2="{self.width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e0e0e0"/>'
            )
            self.add(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#424242">{text}</text>')
        self.add(
            f'<text x="14" y="{TOP + plot_h / 2:.0f}" transform="rotate(-90 14 {TOP + plot_h / 2:.0f})"'
            f' text-anchor="middle" fill="#424242">{_e(label)}</text>'
        )

    def x_labels(self, labels: Sequence[str]) -> None:
        plot_w = self.width - LEFT - RIGHT
        every = max(1, math.ceil(len(labels) / 16))
        step = plot_w / max(1, len(labels))
        for n, label in enumerate(labels):
            if n % every:
                continue
            x = LEFT + step * (n + 0.5)
            y = self.height - BOTTOM + 16
            self.add(
                f'<text x="{x:.1f}" y="{y}" text-anchor="end" transform="rotate(-35 {x:.1f} {y})"'
                f' fill="#424242">{_e(label)}</text>'
            )

    def render(self) -> str:
        return "".join([*self.parts, "</svg>"])


def stacked_bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    y_label: str,
    lang: ReportLanguage = ENGLISH,
) -> str:
    """Vertical bars, one per label, stacking the series bottom-up."""
    svg = _Svg(chart_id, title, lang=lang)
    totals = [sum(s[2][n] for s in series) for n in range(len(labels))]
    top = _nice_max(max(totals, default=0.0))
    svg.y_axis(top, y_label)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    step = plot_w / max(1, len(labels))
    bar_w = max(1.0, step * 0.8)
    for n, label in enumerate(labels):
        base = float(H - BOTTOM)
        for name, colour, values in series:
            value = values[n]
            if value <= 0:
                continue
            height = plot_h * value / top
            base -= height
            svg.add(
                f'<rect class="bar" x="{LEFT + step * n + (step - bar_w) / 2:.1f}" y="{base:.1f}"'
                f' width="{bar_w:.1f}" height="{height:.1f}" fill="{colour}">'
                f"<title>{_e(label)}: {_e(name)} {_fmt(value, lang)}</title></rect>"
            )
    svg.x_labels(labels)
    svg.legend([(name, colour) for name, colour, _ in series])
    return svg.render()


def line_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    *,
    y_label: str,
    marks: Sequence[tuple[int, str]] = (),
    percent: bool = False,
    reference: float | None = None,
    lang: ReportLanguage = ENGLISH,
) -> str:
    """Lines over the labels; ``marks`` put a coloured triangle under a label (under/over staffing)."""
    svg = _Svg(chart_id, title, lang=lang)

    def mark_name(kind: str) -> str:
        return lang.texts.get(f"mark_{kind}", f"{kind}staffed")

    peak = max((v for s in series for v in s[2] if v is not None), default=0.0)
    top = 1.0 if percent else _nice_max(max(peak, reference or 0.0))
    svg.y_axis(top, y_label, percent=percent)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    step = plot_w / max(1, len(labels))

    def xy(n: int, value: float) -> tuple[float, float]:
        return LEFT + step * (n + 0.5), H - BOTTOM - plot_h * min(value, top) / top

    if reference is not None:
        y = xy(0, reference)[1]
        svg.add(
            f'<line class="reference" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"'
            f' stroke="{COLORS["goal"]}" stroke-dasharray="6 4"/>'
        )
    for name, colour, values in series:
        # A gap (None: no data) breaks the line rather than drawing it at zero.
        runs: list[list[tuple[float, float]]] = [[]]
        for n, v in enumerate(values):
            if v is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append(xy(n, v))
        for run in runs:
            if not run:
                continue
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            svg.add(
                f'<polyline class="line" points="{points}" fill="none" stroke="{colour}" stroke-width="2">'
                f"<title>{_e(name)}</title></polyline>"
            )
            if len(values) <= 120:
                for x, y in run:
                    svg.add(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>')
    for n, kind in marks:
        x, y = LEFT + step * (n + 0.5), H - BOTTOM - 2
        colour = COLORS.get(kind, "#000000")
        svg.add(
            f'<path class="mark mark-{_e(kind)}" d="M{x - 5:.1f},{y:.1f} L{x + 5:.1f},{y:.1f} L{x:.1f},{y - 9:.1f} Z"'
            f' fill="{colour}"><title>{_e(labels[n])}: {_e(mark_name(kind))}</title></path>'
        )
    svg.x_labels(labels)
    legend = [(name, colour) for name, colour, _ in series]
    kinds = {kind for _, kind in marks}
    legend += [(mark_name(kind), COLORS[kind]) for kind in ("under", "over") if kind in kinds]
    svg.legend(legend)
    return svg.render()


def heatmap_chart(
    chart_id: str,
    title: str,
    grid: Sequence[Sequence[int]],
    closed: Sequence[Sequence[bool]],
    *,
    lang: ReportLanguage = ENGLISH,
) -> str:
    """Weekday rows × 24 hour columns, darker for more calls; closed cells have a dashed outline."""
    cell_w, cell_h, left, top = 34, 30, 60, 48
    width, height = left + 24 * cell_w + RIGHT, top + 7 * cell_h + 40
    svg = _Svg(chart_id, title, width, height, lang=lang)
    peak = max((v for row in grid for v in row), default=0) or 1
    for hour in range(24):
        svg.add(
            f'<text x="{left + cell_w * (hour + 0.5):.1f}" y="{top - 6}" text-anchor="middle"'
            f' fill="#424242">{hour:02d}</text>'
        )
    for weekday in range(7):
        y = top + weekday * cell_h
        svg.add(
            f'<text x="{left - 8}" y="{y + cell_h / 2 + 4:.0f}" text-anchor="end" fill="#424242">{_e(lang.weekday(weekday))}</text>'
        )
        for hour in range(24):
            value = grid[weekday][hour]
            share = value / peak
            # From pale to the line's blue; an empty cell stays white.
            r, g, b = (int(255 - (255 - c) * share) for c in (0, 87, 183))
            fill = "#ffffff" if value == 0 else f"#{r:02x}{g:02x}{b:02x}"
            stroke = (
                ' stroke="#c62828" stroke-dasharray="3 2"' if closed[weekday][hour] else ' stroke="#e0e0e0"'
            )
            text_fill = "#ffffff" if share > 0.55 else "#212121"
            x = left + hour * cell_w
            svg.add(
                f'<rect class="cell" x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{fill}"{stroke}>'
                f"<title>{_e(lang.text('heatmap_cell', weekday=lang.weekday(weekday), hour=f'{hour:02d}', calls=value))}"
                f"{_e(lang.text('heatmap_closed')) if closed[weekday][hour] else ''}</title></rect>"
            )
            if value:
                svg.add(
                    f'<text x="{x + (cell_w - 2) / 2:.1f}" y="{y + cell_h / 2 + 3:.1f}" text-anchor="middle"'
                    f' font-size="10" fill="{text_fill}">{value}</text>'
                )
    svg.add(
        f'<rect x="{left}" y="{height - 26}" width="14" height="12" fill="#ffffff" stroke="#c62828"'
        f' stroke-dasharray="3 2"/><text x="{left + 20}" y="{height - 16}" fill="#212121">'
        f"{_e(lang.text('heatmap_legend'))}</text>"
    )
    return svg.render()


def hbar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str,
    lang: ReportLanguage = ENGLISH,
) -> str:
    """Horizontal stacked bars, one per label (agents), left to right."""
    row_h, left = 26, 140
    height = TOP + row_h * max(1, len(labels)) + 40
    svg = _Svg(chart_id, title, W, height, lang=lang)
    totals = [sum(s[2][n] for s in series) for n in range(len(labels))]
    top = _nice_max(max(totals, default=0.0))
    plot_w = W - left - RIGHT
    for n in range(5):
        x = left + plot_w * n / 4
        svg.add(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{height - 30}" stroke="#e0e0e0"/>')
        svg.add(
            f'<text x="{x:.1f}" y="{height - 14}" text-anchor="middle" fill="#424242">{_fmt(top * n / 4, lang)} {_e(unit)}</text>'
        )
    for n, label in enumerate(labels):
        y = TOP + n * row_h
        svg.add(
            f'<text x="{left - 8}" y="{y + row_h / 2 + 4:.0f}" text-anchor="end" fill="#212121">{_e(label)}</text>'
        )
        x = float(left)
        for name, colour, values in series:
            value = values[n]
            if value <= 0:
                continue
            width = plot_w * value / top
            svg.add(
                f'<rect class="bar" x="{x:.1f}" y="{y + 4}" width="{width:.1f}" height="{row_h - 8}" fill="{colour}">'
                f"<title>{_e(label)}: {_e(name)} {_fmt(value, lang)} {_e(unit)}</title></rect>"
            )
            x += width
    svg.legend([(name, colour) for name, colour, _ in series])
    return svg.render()


# ---- reports as HTML -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bucket:
    """Load intervals merged for a chart: an hour or a day when the range is long."""

    label: str
    counters: KpiCounters
    needed: float
    staffed: float
    status: StaffingStatus


def load_buckets(report: LoadReport, lang: ReportLanguage = ENGLISH) -> list[Bucket]:
    """Quarter hours for up to 2 days, hours for up to 14, days beyond (charts stay readable)."""
    days = report.range.days
    size = timedelta(minutes=15) if days <= 2 else timedelta(hours=1) if days <= 14 else timedelta(days=1)
    tz = report.range.tz
    groups: dict[datetime, list[LoadRow]] = {}
    for row in report.rows:
        local = row.rollup.start.astimezone(tz)
        if size == timedelta(days=1):
            key = local.replace(hour=0, minute=0)
        elif size == timedelta(hours=1):
            key = local.replace(minute=0)
        else:
            key = local
        groups.setdefault(key, []).append(row)
    buckets = []
    for key, rows in groups.items():
        statuses = {r.staffing.status for r in rows}
        status = (
            StaffingStatus.UNDER
            if StaffingStatus.UNDER in statuses
            else StaffingStatus.OVER
            if StaffingStatus.OVER in statuses
            else StaffingStatus.OK
        )
        # The weekday's name comes from the language, not from strftime's %a (the process locale).
        label = (
            key.strftime("%d.%m %H:%M")
            if size < timedelta(days=1)
            else f"{lang.weekday(key.weekday())} {key:%d.%m}"
        )
        buckets.append(
            Bucket(
                label,
                sum((r.rollup.counters for r in rows), KpiCounters()),
                max(r.staffing.needed for r in rows),
                sum(r.staffing.staffed for r in rows) / len(rows),
                status,
            )
        )
    return buckets


def _pct(value: float | None, lang: ReportLanguage) -> str:
    return "—" if value is None else lang.text("percent", value=lang.number(100 * value, 1))


def _secs(value: float | None, lang: ReportLanguage) -> str:
    return "—" if value is None else lang.text("seconds", value=lang.number(value, 0))


def _hours(seconds: float, lang: ReportLanguage) -> str:
    return lang.text("hours", value=lang.number(seconds / 3600, 1))


def _table(
    caption: str,
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    table_id: str,
    fields: Sequence[str] = (),
) -> str:
    # ``fields`` name the columns in every language (``data-field``), for whatever reads the table.
    keys = [f' data-field="{_e(f)}"' for f in fields] or [""] * len(header)
    head = "".join(f'<th scope="col"{key}>{_e(h)}</th>' for h, key in zip(header, keys, strict=True))
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<table id="{_e(table_id)}"><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


_LOAD_SUMMARY = (
    "calls", "offered", "answered", "abandoned", "short_abandoned", "overflowed", "callbacks", "service_level",
    "asa", "aht", "abandon_rate", "under_intervals", "over_intervals",
)  # fmt: skip


def _load_body(report: LoadReport, lang: ReportLanguage) -> str:
    t = report.totals
    tr = lang.text
    buckets = load_buckets(report, lang)
    labels = [b.label for b in buckets]
    summary = _table(
        tr("summary"),
        [tr(f"col_{field}") for field in _LOAD_SUMMARY],
        [(t.calls, t.offered, t.answered, t.abandoned, t.short_abandoned, t.overflowed, t.callbacks,
          _pct(t.service_level, lang), _secs(t.asa_s, lang), _secs(t.aht_s, lang), _pct(t.abandon_rate, lang),
          report.count(StaffingStatus.UNDER), report.count(StaffingStatus.OVER))],
        table_id="summary",
        fields=_LOAD_SUMMARY,
    )  # fmt: skip
    calls = stacked_bar_chart(
        "chart-calls",
        tr("chart_calls"),
        labels,
        [
            (tr("series_answered"), COLORS["answered"], [b.counters.answered for b in buckets]),
            (tr("series_abandoned"), COLORS["abandoned"], [b.counters.abandoned for b in buckets]),
            (tr("series_short_abandoned"), COLORS["short"], [b.counters.short_abandoned for b in buckets]),
            (
                tr("series_overflow_callback"),
                COLORS["other"],
                [b.counters.overflowed + b.counters.callbacks for b in buckets],
            ),
        ],
        y_label=tr("axis_calls"),
        lang=lang,
    )
    marks = [(n, b.status.value) for n, b in enumerate(buckets) if b.status is not StaffingStatus.OK]
    goal, target = report.options.sl_goal, report.options.target_s
    agents = line_chart(
        "chart-staffing",
        tr("chart_staffing", goal=lang.number(100 * goal, 0), target=lang.number(target, 0)),
        labels,
        [
            (tr("series_needed"), COLORS["needed"], [b.needed for b in buckets]),
            (tr("series_staffed"), COLORS["staffed"], [b.staffed for b in buckets]),
        ],
        y_label=tr("axis_agents"),
        marks=marks,
        lang=lang,
    )
    sl = line_chart(
        "chart-sl",
        tr("chart_sl"),
        labels,
        [(tr("series_service_level"), COLORS["sl"], [b.counters.service_level for b in buckets])],
        y_label=tr("axis_in_target"),
        percent=True,
        reference=report.options.sl_goal,
        lang=lang,
    )
    table = _table(
        tr("by_period"),
        [tr(key) for key in ("col_period", "col_offered", "col_answered", "col_abandoned", "col_sl",
                             "col_period_asa", "col_period_aht", "col_needed", "col_staffed", "col_staffing")],
        [
            (b.label, b.counters.offered, b.counters.answered, b.counters.abandoned,
             _pct(b.counters.service_level, lang), _secs(b.counters.asa_s, lang), _secs(b.counters.aht_s, lang),
             lang.number(b.needed, 0), lang.number(b.staffed, 1), tr(f"staffing_{b.status.value}"))
            for b in buckets
            if b.counters.calls or b.staffed >= 0.05
        ],
        table_id="periods",
    )  # fmt: skip
    return summary + calls + agents + sl + table


def _hours_body(report: HoursReport, lang: ReportLanguage) -> str:
    tr = lang.text
    cells = report.heatmap
    closed = [[False] * 24 for _ in range(7)]
    for (weekday, hour), cell in cells.cells.items():
        closed[weekday][hour] = cell.intervals > 0 and cell.closed_intervals * 2 >= cell.intervals
    total = cells.total_calls
    share = cells.closed_calls / total if total else None
    summary = _table(
        tr("summary"),
        [tr("col_calls"), tr("col_closed_calls"), tr("col_closed_share"), tr("col_weeks")],
        [(total, cells.closed_calls, _pct(share, lang), lang.number(report.weeks, 1))],
        table_id="summary",
        fields=("calls", "closed_calls", "closed_share", "weeks"),
    )
    heat = heatmap_chart("chart-heatmap", tr("chart_heatmap"), cells.grid(), closed, lang=lang)
    suggestions = report.suggestions
    labels = [f"{lang.weekday(s.weekday)} {s.hour:02d}:00" for s in suggestions]
    bars = hbar_chart(
        "chart-add-hours",
        tr("chart_add_hours"),
        labels or [tr("none")],
        [(tr("series_per_week"), COLORS["needed"], [s.per_week for s in suggestions] or [0.0])],
        unit=tr("unit_per_week"),
        lang=lang,
    )
    table = _table(
        tr("hours_to_add"),
        [tr("col_rank"), tr("col_weekday"), tr("col_hour"), tr("col_callers"), tr("col_per_week")],
        [
            (n, lang.weekday(s.weekday), f"{s.hour:02d}:00", s.callers, lang.number(s.per_week, 1))
            for n, s in enumerate(suggestions, 1)
        ],
        table_id="hours-to-add",
    )
    return summary + heat + bars + table


def _agents_body(report: AgentsReport, lang: ReportLanguage) -> str:
    tr = lang.text
    rows = report.rows
    labels = [r.agent for r in rows]
    series: list[Series] = [
        (tr("series_handling"), COLORS["handling"], [r.handling_s / 3600 for r in rows]),
        (tr("series_available"), COLORS["available"], [r.available_s / 3600 for r in rows]),
    ]
    for n, reason in enumerate(report.reasons):
        colour = _BREAK_COLORS[n % len(_BREAK_COLORS)]
        series.append(
            (
                tr("series_break", reason=lang.reason(reason)),
                colour,
                [r.paused_s.get(reason, 0.0) / 3600 for r in rows],
            )
        )
    time_chart = hbar_chart("chart-agent-time", tr("chart_agent_time"), labels or [tr("none")],
                            series if rows else [(tr("series_nothing"), "#e0e0e0", [0.0])], unit=tr("unit_hours"),
                            lang=lang)  # fmt: skip
    handled = hbar_chart(
        "chart-agent-calls",
        tr("chart_agent_calls"),
        labels or [tr("none")],
        [(tr("series_handled"), COLORS["answered"], [float(r.handled) for r in rows] or [0.0])],
        unit=tr("unit_calls"),
        lang=lang,
    )
    table = _table(
        tr("agents_table"),
        [tr("col_agent"), tr("col_sessions"), tr("col_logged_in"),
         *(tr("col_break", reason=lang.reason(r)) for r in report.reasons), tr("col_available"), tr("col_handled"),
         tr("col_agent_aht"), tr("col_no_answers")],
        [
            (r.agent, r.sessions, _hours(r.logged_in_s, lang),
             *(_hours(r.paused_s.get(x, 0.0), lang) for x in report.reasons),
             _hours(r.available_s, lang), r.handled, _secs(r.aht_s, lang), r.no_answers)
            for r in rows
        ],
        table_id="agents",
    )  # fmt: skip
    return time_chart + handled + table


#: The reports' names in English (the CLI's; a page takes them from its ``ReportLanguage``).
TITLES = {kind: ENGLISH_TEXTS[f"title_{kind}"] for kind in ("load", "hours", "agents")}


def report_title(report: Report, lang: ReportLanguage = ENGLISH) -> str:
    """The report's heading: its name, the queue (or the whole line) and the range."""
    queue = lang.text("whole_line") if report.queue == "*" else lang.text("one_queue", queue=report.queue)
    span = lang.text("range", first=lang.day(report.range.first), last=lang.day(report.range.last))
    return lang.text("report_heading", title=lang.text(f"title_{report.kind}"), queue=queue, range=span)


def report_body(report: Report, lang: ReportLanguage = ENGLISH) -> str:
    """The report's summary, charts and tables as an HTML fragment (shared by file and page)."""
    if isinstance(report, LoadReport):
        inner = _load_body(report, lang)
    elif isinstance(report, HoursReport):
        inner = _hours_body(report, lang)
    else:
        inner = _agents_body(report, lang)
    return f'<section class="report report-{report.kind}" aria-label="{_e(report_title(report, lang))}">{inner}</section>'


REPORT_CSS = """
body { margin: 0 auto; max-width: 1000px; padding: 1rem; font: 14px/1.45 system-ui, sans-serif;
       color: #212121; background: #ffffff; }
h1 { font-size: 1.4rem; margin: 0 0 0.25rem; }
.meta { color: #555555; margin: 0 0 1rem; }
svg.chart { display: block; margin: 1rem 0; border: 1px solid #e0e0e0; border-radius: 4px; }
table { border-collapse: collapse; margin: 1rem 0; width: 100%; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: 0.25rem 0; }
th, td { border: 1px solid #d0d0d0; padding: 0.2rem 0.4rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f3f6fa; }
"""


def report_document(report: Report, generated_at: datetime) -> str:
    """One self-contained HTML file: inline CSS and SVG, no scripts, no external resources."""
    title = report_title(report)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{REPORT_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f'<p class="meta">Times in {_e(report.range.tz.key)}. Generated {_e(generated_at.isoformat(timespec="seconds"))}.'
        " Definitions: docs/kpi.md.</p>"
        f"{report_body(report)}</body></html>\n"
    )
