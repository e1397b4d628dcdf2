"""The supervisors' analytics page: the report charts for a chosen range and queue, in the browser.

``GET /analytics?report=load|hours|agents&from=YYYY-MM-DD&to=YYYY-MM-DD&queue=Q`` renders the same
summary, SVG charts and tables as ``callcenter report`` (``callcenter.reports_svg.report_body``),
server-side, inside a small form; ``GET /analytics/export.csv`` and ``/analytics/export.html``
download the report as the CLI would write it. Plain GET forms, no JavaScript: nothing here
changes state, so no CSRF token is involved. Supervisors and admins only.

Wiring (composition root): ``setup_analytics(app)`` adds the routes and the page state under the
typed key ``ANALYTICS``; the data is read from ``app[DB_POOL]`` unless a source is passed.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from string import Template

from aiohttp import web

from callcenter.analytics.hours import KYIV
from callcenter.analytics.rollup import ALL
from callcenter.errors import ValidationError
from callcenter.reports import (
    KINDS,
    DatabaseSource,
    Report,
    ReportKind,
    ReportOptions,
    ReportRange,
    ReportSource,
    build_report,
    parse_range,
    report_csv,
)
from callcenter.reports_svg import TITLES, report_body, report_document, report_title
from callcenter.storage.users import Role
from callcenter.web.auth import public, requires
from callcenter.web.keys import DB_POOL
from callcenter.web.static_files import read_static as _read

__all__ = ["ANALYTICS", "PAGE_MAX_DAYS", "AnalyticsPageState", "routes", "setup_analytics"]

#: The page builds reports inside the event loop; a quarter keeps each request short.
PAGE_MAX_DAYS = 93

routes = web.RouteTableDef()

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Cache-Control": "no-store",
}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AnalyticsPageState:
    """What the page needs: where data comes from, SL options, and a clock for default dates."""

    source: ReportSource | None = None  # None: read the app's database pool
    options: ReportOptions = field(default_factory=ReportOptions)
    now: Callable[[], datetime] = _now


ANALYTICS: web.AppKey[AnalyticsPageState] = web.AppKey("cc_analytics", AnalyticsPageState)


def setup_analytics(app: web.Application, state: AnalyticsPageState | None = None) -> None:
    """Add the analytics routes and their state to the application."""
    app[ANALYTICS] = state or AnalyticsPageState()
    app.add_routes(routes)


def _source(request: web.Request) -> ReportSource:
    state = request.app[ANALYTICS]
    return state.source if state.source is not None else DatabaseSource(request.app[DB_POOL])


@dataclass(frozen=True, slots=True)
class _Query:
    kind: ReportKind
    date_from: str
    date_to: str
    queue: str | None


def _query(request: web.Request) -> _Query:
    today = request.app[ANALYTICS].now().astimezone(KYIV).date()
    # The last seven days up to and including today: a supervisor opening the page wants to see
    # today's calls too (the report's rollups are kept up to date call by call).
    default_to = today
    kind = request.query.get("report", "load")
    return _Query(
        kind if kind in KINDS else "load",
        request.query.get("from") or (default_to - timedelta(days=6)).isoformat(),
        request.query.get("to") or default_to.isoformat(),
        request.query.get("queue") or None,
    )


async def _build(request: web.Request, query: _Query) -> Report:
    if request.query.get("report", "load") not in KINDS:
        raise ValidationError(f"unknown report {request.query['report']!r}", field="report")
    rng: ReportRange = parse_range(query.date_from, query.date_to, max_days=PAGE_MAX_DAYS)
    options = request.app[ANALYTICS].options
    return await build_report(query.kind, _source(request), rng, query.queue or ALL, options)


def _options_html(values: list[tuple[str, str]], selected: str) -> str:
    return "".join(
        f'<option value="{html.escape(v)}"{" selected" if v == selected else ""}>{html.escape(label)}</option>'
        for v, label in values
    )


def _export_query(query: _Query) -> str:
    from urllib.parse import urlencode

    params = {"report": query.kind, "from": query.date_from, "to": query.date_to}
    if query.queue:
        params["queue"] = query.queue
    return urlencode(params)


@routes.get("/analytics")
@requires(Role.SUPERVISOR)
async def analytics_page(request: web.Request) -> web.Response:
    """The page: the form, then the report or the reason there is none."""
    query = _query(request)
    status = 200
    try:
        report = await _build(request, query)
        content = report_body(report)
        heading = report_title(report)
    except ValidationError as exc:
        status = 400
        content = f'<p class="error" role="alert">{html.escape(str(exc))}</p>'
        heading = "Analytics"
    try:
        queues = await _source(request).queues()
    except Exception:  # the form still works with the whole line only
        queues = []
    body = Template(_read("analytics.html")).substitute(
        title=html.escape(heading),
        report_options=_options_html([(k, TITLES[k]) for k in KINDS], query.kind),
        queue_options=_options_html([("", "whole line"), *((q, q) for q in queues)], query.queue or ""),
        date_from=html.escape(query.date_from),
        date_to=html.escape(query.date_to),
        export=html.escape(_export_query(query)),
        content=content,
    )
    return web.Response(text=body, status=status, content_type="text/html", headers=PAGE_HEADERS)


@routes.get("/analytics/export.{fmt:csv|html}")
@requires(Role.SUPERVISOR)
async def analytics_export(request: web.Request) -> web.Response:
    """The report as a CSV or self-contained HTML download, exactly as the CLI writes it."""
    query = _query(request)
    try:
        report = await _build(request, query)
    except ValidationError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    fmt = request.match_info["fmt"]
    stem = f"{query.kind}_{query.queue or 'all'}_{query.date_from}_{query.date_to}"
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)
    if fmt == "csv":
        text, content_type = report_csv(report), "text/csv"
    else:
        text, content_type = report_document(report, request.app[ANALYTICS].now()), "text/html"
    return web.Response(
        text=text,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{safe}.{fmt}"', "Cache-Control": "no-store"},
    )


@routes.get("/static/analytics/analytics.css")
@public
async def analytics_css(request: web.Request) -> web.Response:
    """The page's stylesheet (public: it holds no data)."""
    return web.Response(
        text=_read("analytics.css"), content_type="text/css", headers={"Cache-Control": "no-cache"}
    )
