"""The supervisors' content-analysis page and API: topic trends, spike alerts, survey figures.

* ``GET /content?from=&to=&locality=&granularity=day|week`` — the page, rendered on the server:
  the topics' trend for one locality or the whole region as an inline SVG line chart (the
  report charts of ``callcenter.reports_svg``), the localities with their counts, the current
  alerts with an acknowledge button, and the survey figures (overall and per agent).
* ``GET /api/content/trends`` — the same trend as JSON;
* ``GET /api/content/alerts?open=1`` — alerts as JSON; ``POST /api/content/alerts/{id}/ack``
  acknowledges one (CSRF token required, as for every write);
* ``GET /api/surveys/summary?from=&to=`` — survey figures as JSON (the analytics' survey part);
* ``GET /reports/official?period=2026-10|2026-Q3`` — the official report's printable page, and
  ``/reports/official.csv?period=…`` its CSV (``callcenter.official_reports``, as the CLI writes).

Supervisors and admins only. The only script (``content.js``) sends the acknowledgement with the
``X-CSRF-Token`` header and reloads the alert list. Wiring: ``setup(app)`` (data from
``app[DB_POOL]``; a clock can be passed for tests).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from string import Template
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter.analytics.spikes import Trends, topic_trends
from callcenter.errors import ValidationError
from callcenter.reports_svg import line_chart
from callcenter.storage.content import ContentAlert, ContentAlertStore, registered_topics
from callcenter.storage.surveys import SurveyStore, SurveySummary
from callcenter.storage.users import Role
from callcenter.web.auth import current_user, public, requires
from callcenter.web.errors import error_response
from callcenter.web.keys import DB_POOL
from callcenter.web.static_files import read_static as _read

__all__ = ["CONTENT", "MAX_DAYS", "ContentPageState", "routes", "setup"]

KYIV = ZoneInfo("Europe/Kyiv")
#: A year of daily counts is still a small query and a readable chart by weeks.
MAX_DAYS = 366
#: Alert ids are PostgreSQL ``bigint``s.
_MAX_ALERT_ID = 2**63 - 1
_COLOURS = ("#0057b7", "#c62828", "#2e7d32", "#ef6c00", "#8e24aa", "#00838f", "#78909c")

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Cache-Control": "no-store",
}

routes = web.RouteTableDef()


@dataclass
class ContentPageState:
    """The page's clock (default dates) and topic names."""

    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    topic_names: dict[str, str] = field(default_factory=dict)


CONTENT: web.AppKey[ContentPageState] = web.AppKey("cc_content", ContentPageState)


def setup(app: web.Application, state: ContentPageState | None = None) -> None:
    """Add the content routes and their state to the application."""
    if state is None:
        state = ContentPageState()
    if not state.topic_names:
        from callcenter.appeals.classifier import load_classifier

        state.topic_names = {e.code: e.name for e in load_classifier().entries("topics")}
    app[CONTENT] = state
    app.add_routes(routes)


@dataclass(frozen=True, slots=True)
class _Query:
    first: date
    last: date
    locality: str | None
    granularity: str


#: The dates a range may name: the arithmetic on them (the default 28 days back, the day after
#: ``to``) must stay inside ``date``'s range, where 0001-01-01 or 9999-12-31 would overflow (500).
_EARLIEST, _LATEST = date(1900, 1, 1), date(2999, 12, 31)


def _date(text: str | None, default: date, name: str) -> date:
    if not text:
        return default
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{name} must be YYYY-MM-DD, got {text!r}", field=name) from None
    if not _EARLIEST <= value <= _LATEST:
        raise ValidationError(f"{name} must be between {_EARLIEST} and {_LATEST}", field=name)
    return value


def _query(request: web.Request) -> _Query:
    today = request.app[CONTENT].now().astimezone(KYIV).date()
    last = _date(request.query.get("to"), today, "to")
    first = _date(request.query.get("from"), last - timedelta(days=27), "from")
    if first > last:
        raise ValidationError("'from' is after 'to'", field="from")
    if (last - first).days >= MAX_DAYS:
        raise ValidationError(f"at most {MAX_DAYS} days at a time", field="from")
    granularity = request.query.get("granularity") or ("week" if (last - first).days > 62 else "day")
    if granularity not in ("day", "week"):
        raise ValidationError("granularity is day or week", field="granularity")
    return _Query(first, last, request.query.get("locality") or None, granularity)


async def _trends(request: web.Request, query: _Query) -> Trends:
    records = await registered_topics(request.app[DB_POOL], query.first, query.last)
    return topic_trends(
        records, query.first, query.last, locality=query.locality, granularity=query.granularity
    )


def _trends_json(trends: Trends, names: dict[str, str]) -> dict[str, Any]:
    return {
        "labels": list(trends.labels),
        "series": [
            {"topic": t, "name": names.get(t, "Other topics" if t == "other" else ""), "counts": list(c)}
            for t, c in trends.series.items()
        ],
        "localities": trends.localities,
    }


@routes.get("/api/content/trends")
@requires(Role.SUPERVISOR)
async def trends_api(request: web.Request) -> web.Response:
    """Topic counts per day or week for a locality (or the whole region)."""
    # A ValidationError is answered 400 with its field by the error middleware.
    trends = await _trends(request, _query(request))
    return web.json_response(_trends_json(trends, request.app[CONTENT].topic_names))


@routes.get("/api/content/alerts")
@requires(Role.SUPERVISOR)
async def alerts_api(request: web.Request) -> web.Response:
    """Alerts, newest first (``open=1``: only those not acknowledged yet)."""
    open_only = request.query.get("open") in ("1", "true")
    alerts = await ContentAlertStore(request.app[DB_POOL]).alerts(open_only=open_only)
    names = request.app[CONTENT].topic_names
    return web.json_response(
        {"alerts": [a.as_json() | {"topic_name": names.get(a.topic, "")} for a in alerts]}
    )


@routes.post(r"/api/content/alerts/{alert_id:\d+}/ack")
@requires(Role.SUPERVISOR)
async def acknowledge_api(request: web.Request) -> web.Response:
    """Acknowledge an alert (the first acknowledgement is kept)."""
    user = current_user(request)
    alert_id = int(request.match_info["alert_id"])
    # The route admits any run of digits; one past bigint names no alert, and asyncpg would
    # refuse it in the query (DataError, answered 500).
    alert = (
        await ContentAlertStore(request.app[DB_POOL]).acknowledge(
            alert_id, by=user.login, at=request.app[CONTENT].now()
        )
        if alert_id <= _MAX_ALERT_ID
        else None
    )
    if alert is None:
        return error_response(404, "not_found", "no such alert")
    return web.json_response(alert.as_json())


def _survey_range(request: web.Request) -> tuple[datetime, datetime]:
    query = _query(request)
    since = datetime.combine(query.first, datetime.min.time(), KYIV)
    until = datetime.combine(query.last + timedelta(days=1), datetime.min.time(), KYIV)
    return since, until


@routes.get("/api/surveys/summary")
@requires(Role.SUPERVISOR)
async def surveys_api(request: web.Request) -> web.Response:
    """Survey figures for the range: overall, post-call, campaign and per agent."""
    since, until = _survey_range(request)
    store = SurveyStore(request.app[DB_POOL])
    return web.json_response(
        {
            "all": (await store.summary(since, until)).as_json(),
            "post_call": (await store.summary(since, until, source="post_call")).as_json(),
            "campaign": (await store.summary(since, until, source="campaign")).as_json(),
            "agents": {a: s.as_json() for a, s in (await store.per_agent(since, until)).items()},
        }
    )


# ---- the page -----------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _alerts_html(alerts: list[ContentAlert], names: dict[str, str]) -> str:
    if not alerts:
        return '<p id="no-alerts">No spikes found in the last two weeks.</p>'
    rows = []
    for a in alerts:
        state = (
            f"acknowledged by {_e(a.acknowledged_by)}"
            if a.acknowledged_at
            else f'<button type="button" class="ack" data-alert="{a.id}">Acknowledge</button>'
        )
        rows.append(
            f'<tr id="alert-{a.id}" class="{"done" if a.acknowledged_at else "open"}"><td>{_e(a.day.isoformat())}</td>'
            f"<td>{_e(a.topic)} {_e(names.get(a.topic, ''))}</td><td>{_e(a.locality)}</td>"
            f"<td>{a.count}</td><td>{a.expected:.1f}</td><td>{state}</td></tr>"
        )
    return (
        '<table id="alerts"><caption>Spike alerts (topics suddenly frequent in one locality)</caption>'
        '<thead><tr><th scope="col">Day</th><th scope="col">Topic</th><th scope="col">Locality</th>'
        '<th scope="col">Appeals</th><th scope="col">Usual</th><th scope="col"></th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _trend_html(trends: Trends, names: dict[str, str], where: str) -> str:
    if not trends.series:
        return '<p id="no-trend">No registered appeals with a topic in this range.</p>'
    series = [
        (
            f"{t} {names.get(t, 'other topics' if t == 'other' else '')}"[:28],
            _COLOURS[n % 7],
            [float(v) for v in c],
        )
        for n, (t, c) in enumerate(trends.series.items())
    ]
    chart = line_chart(
        "chart-trends", f"Appeals by topic — {where}", list(trends.labels), series, y_label="appeals"
    )
    head = "".join(f'<th scope="col">{_e(t)}</th>' for t in trends.series)
    body = "".join(
        f"<tr><td>{_e(label)}</td>" + "".join(f"<td>{c[n]}</td>" for c in trends.series.values()) + "</tr>"
        for n, label in enumerate(trends.labels)
    )
    table = (
        f'<table id="trend-table"><caption>Appeals by topic — {_e(where)}</caption><thead><tr>'
        f'<th scope="col">Period</th>{head}</tr></thead><tbody>{body}</tbody></table>'
    )
    return chart + table


def _surveys_html(overall: SurveySummary, agents: dict[str, SurveySummary]) -> str:
    def row(name: str, s: SurveySummary) -> str:
        average = "—" if s.average_rating is None else f"{s.average_rating:.2f}"
        share = "—" if s.resolved_share is None else f"{100 * s.resolved_share:.0f} %"
        return f"<tr><td>{_e(name)}</td><td>{s.surveys}</td><td>{s.completed}</td><td>{average}</td><td>{share}</td></tr>"

    rows = row("All surveys", overall) + "".join(row(agent, s) for agent, s in agents.items())
    return (
        '<table id="surveys"><caption>Service surveys (rating 1–5, question resolved)</caption>'
        '<thead><tr><th scope="col">Agent</th><th scope="col">Surveys</th><th scope="col">Completed</th>'
        f'<th scope="col">Average rating</th><th scope="col">Resolved</th></tr></thead><tbody>{rows}</tbody></table>'
    )


@routes.get("/content")
@requires(Role.SUPERVISOR)
async def content_page(request: web.Request) -> web.Response:
    """The page: filter form, trend chart, localities, alerts, surveys."""
    state = request.app[CONTENT]
    status = 200
    try:
        query = _query(request)
    except ValidationError as exc:
        status = 400
        today = state.now().astimezone(KYIV).date()
        query = _Query(today - timedelta(days=27), today, None, "day")
        error = f'<p class="error" role="alert">{_e(exc)}</p>'
    else:
        error = ""
    trends = await _trends(request, query)
    where = query.locality or "whole region"
    pool = request.app[DB_POOL]
    alerts = await ContentAlertStore(pool).alerts(
        since=state.now().astimezone(KYIV).date() - timedelta(days=14)
    )
    since = datetime.combine(query.first, datetime.min.time(), KYIV)
    until = datetime.combine(query.last + timedelta(days=1), datetime.min.time(), KYIV)
    store = SurveyStore(pool)
    localities = "".join(
        f'<option value="{_e(name)}"{" selected" if name == query.locality else ""}>{_e(name)} ({count})</option>'
        for name, count in trends.localities.items()
    )
    body = Template(_read("content.html")).substitute(
        date_from=_e(query.first.isoformat()),
        date_to=_e(query.last.isoformat()),
        locality_options=localities,
        day_selected=" selected" if query.granularity == "day" else "",
        week_selected=" selected" if query.granularity == "week" else "",
        error=error,
        alerts=_alerts_html(alerts, state.topic_names),
        trend=_trend_html(trends, state.topic_names, where),
        surveys=_surveys_html(await store.summary(since, until), await store.per_agent(since, until)),
    )
    return web.Response(text=body, status=status, content_type="text/html", headers=PAGE_HEADERS)


@routes.get("/static/content/{name:content\\.(css|js)}")
@public
async def content_static(request: web.Request) -> web.Response:
    """The page's stylesheet and script (public: they hold no data)."""
    name = request.match_info["name"]
    content_type = "text/css" if name.endswith(".css") else "text/javascript"
    return web.Response(text=_read(name), content_type=content_type, headers={"Cache-Control": "no-cache"})


@routes.get("/reports/official{ext:(\\.csv)?}")
@requires(Role.SUPERVISOR)
async def official_report(request: web.Request) -> web.Response:
    """The official report for ``period`` as the printable page or, with ``.csv``, its CSV."""
    from callcenter.official_reports import official_csv, official_document, parse_period
    from callcenter.official_reports_cli import build_from_database

    state = request.app[CONTENT]
    try:
        period = parse_period(request.query.get("period", ""))
    except ValueError:  # year 0000 or 9999-12 pass the pattern, and ``date`` refuses them
        raise ValidationError("period is YYYY-MM or YYYY-Qn", field="period") from None
    today = state.now().astimezone(KYIV).date()
    if period.first > today:
        raise ValidationError("the period has not begun", field="period")
    report = await build_from_database(request.app[DB_POOL], period, min(period.last, today))
    if request.match_info["ext"]:
        return web.Response(
            text=official_csv(report),
            content_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="official_{period.label}.csv"',
                "Cache-Control": "no-store",
            },
        )
    return web.Response(
        text=official_document(report, state.now()), content_type="text/html", headers=PAGE_HEADERS
    )
