"""The supervisors' analytics page: the report charts for a chosen range and queue, in the browser.

``GET /analytics?report=load|hours|agents&from=YYYY-MM-DD&to=YYYY-MM-DD&queue=Q`` renders the same
summary, SVG charts and tables as ``callcenter report`` (``callcenter.reports_svg.report_body``),
server-side, inside a small form; ``GET /analytics/export.csv`` and ``/analytics/export.html``
download the report as the CLI would write it. Plain GET forms, no JavaScript: nothing here
changes state, so no CSRF token is involved. Supervisors and admins only.

The page is in Ukrainian by default and in English with ``?lang=en`` (remembered in the ``cc_lang``
cookie), as the agent desk is: its texts, the report's included (``callcenter.reports_text``),
are in ``static/analytics.i18n.json``; Ukrainian writes dates as 04.03.2026 and decimals with a
comma. The downloads stay as the CLI writes them.

Wiring (composition root): ``setup_analytics(app)`` adds the routes and the page state under the
typed key ``ANALYTICS``; the data is read from ``app[DB_POOL]`` unless a source is passed.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from string import Template
from urllib.parse import urlencode

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
from callcenter.reports_svg import report_body, report_document, report_title
from callcenter.reports_text import ReportLanguage
from callcenter.storage.users import Role
from callcenter.web.auth import public, requires
from callcenter.web.auth_pages import LANG_COOKIE, language_of, language_switch
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


@cache
def _texts() -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = json.loads(_read("analytics.i18n.json"))
    return texts


@cache
def _language(lang: str) -> ReportLanguage:
    return ReportLanguage(_texts()[lang])


def _range_error(query: _Query, lang: ReportLanguage) -> str | None:
    """Why the page's range cannot be reported, in the page's language (None: it can).

    The same rules as ``parse_range``, checked here so the reason reads in the page's words.
    """
    days: dict[str, date] = {}
    for name, text in (("from", query.date_from), ("to", query.date_to)):
        try:
            days[name] = date.fromisoformat(text.strip())
        except ValueError:
            return lang.text("error_date", field=lang.text(f"field_{name}"), value=text)
    first, last = days["from"], days["to"]
    if last < first:
        return lang.text("error_order", first=lang.day(first), last=lang.day(last))
    if (length := (last - first).days + 1) > PAGE_MAX_DAYS:
        return lang.text("error_too_long", days=length, max_days=PAGE_MAX_DAYS)
    return None


def _options_html(values: list[tuple[str, str]], selected: str) -> str:
    return "".join(
        f'<option value="{html.escape(v)}"{" selected" if v == selected else ""}>{html.escape(label)}</option>'
        for v, label in values
    )


def _export_query(query: _Query) -> str:
    params = {"report": query.kind, "from": query.date_from, "to": query.date_to}
    if query.queue:
        params["queue"] = query.queue
    return urlencode(params)


@routes.get("/analytics")
@requires(Role.SUPERVISOR)
async def analytics_page(request: web.Request) -> web.Response:
    """The page: the form, then the report or the reason there is none (Ukrainian; ``?lang=en``)."""
    lang_code = language_of(request)
    lang = _language(lang_code)
    query = _query(request)
    kind = request.query.get("report", "load")
    error = lang.text("error_report", value=kind) if kind not in KINDS else _range_error(query, lang)
    if error is None:
        try:
            report = await _build(request, query)
        except ValidationError as exc:  # a rule the page does not know the words for
            error = lang.text("error_other", message=str(exc))
    if error is None:
        status, content, heading = 200, report_body(report, lang), report_title(report, lang)
    else:
        status, heading = 400, lang.text("title")
        content = f'<p class="error" role="alert">{html.escape(error)}</p>'
    try:
        queues = await _source(request).queues()
    except Exception:  # the form still works with the whole line only
        queues = []
    other, switch_href = language_switch(request, lang_code)
    body = Template(_read("analytics.html")).substitute(
        {key: html.escape(value) for key, value in lang.texts.items()},
        lang=lang_code,
        other_lang_code=other,
        switch_href=html.escape(switch_href),
        heading=html.escape(heading),
        report_options=_options_html([(k, lang.text(f"title_{k}")) for k in KINDS], query.kind),
        queue_options=_options_html(
            [("", lang.text("whole_line")), *((q, q) for q in queues)], query.queue or ""
        ),
        date_from=html.escape(query.date_from),
        date_to=html.escape(query.date_to),
        export=html.escape(_export_query(query)),
        content=content,
    )
    response = web.Response(text=body, status=status, content_type="text/html", headers=PAGE_HEADERS)
    response.set_cookie(LANG_COOKIE, lang_code, max_age=365 * 24 * 3600, samesite="Lax", path="/")
    return response


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
