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
  ``/reports/official.csv?period=…`` its CSV (``callcenter.official_reports``, as the CLI writes):
  Ukrainian, or English with ``?lang=en`` (the same ``cc_lang`` choice as the page below); the
  page links to the other language.

Supervisors and admins only. The page is in Ukrainian by default, in English with ``?lang=en``
(texts in ``static/content.i18n.json``). The only script (``content.js``) sends the
acknowledgement with the ``X-CSRF-Token`` header and marks the alert done. Wiring:
``setup(app)`` (data from ``app[DB_POOL]``; a clock can be passed for tests).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from string import Template
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter.analytics.spikes import Trends, topic_trends
from callcenter.errors import ValidationError
from callcenter.official_reports import DOCUMENT_CSS
from callcenter.reports_svg import line_chart
from callcenter.reports_text import ENGLISH_TEXTS, ReportLanguage
from callcenter.storage.content import ContentAlert, ContentAlertStore, registered_topics
from callcenter.storage.surveys import SurveyStore, SurveySummary
from callcenter.storage.users import Role
from callcenter.web.auth import current_user, public, requires
from callcenter.web.auth_pages import LANG_COOKIE, language_of, language_switch
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
# Ukrainian by default, English with ``?lang=en`` (the ``cc_lang`` cookie remembers it), as on the
# agent desk: every word is in ``static/content.i18n.json``.


@cache
def _page_texts() -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = json.loads(_read("content.i18n.json"))
    return texts


#: What ``content.js`` says after a click.
_SCRIPT_TEXTS = ("acknowledged_by", "ack_done", "ack_failed")


@dataclass(frozen=True, slots=True)
class _Words:
    """The page's texts in one language, and its way of writing numbers and days."""

    texts: dict[str, str]

    def __call__(self, key: str, **values: object) -> str:
        return self.texts[key].format(**values) if values else self.texts[key]

    def number(self, value: float, digits: int) -> str:
        return f"{value:.{digits}f}".replace(".", self.texts["decimal_mark"])

    def day(self, value: date) -> str:
        return value.strftime(self.texts["date_format"])

    def label(self, label: str) -> str:
        """A trend label (``2026-11-20`` or ``2026-W47``) in the page's words."""
        if "-W" in label:
            year, week = label.split("-W")
            return self("week_label", year=year, week=week)
        return self.day(date.fromisoformat(label))

    def chart_language(self) -> ReportLanguage:
        # A line chart writes only numbers (its words are passed in): the CLI's texts with this
        # page's decimal mark.
        return ReportLanguage(ENGLISH_TEXTS | {"decimal_mark": self.texts["decimal_mark"]})


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _query_error(request: web.Request, exc: ValidationError, t: _Words) -> str:
    """Why ``_query`` refused the page's query, in the page's words (the same rules, in order)."""
    today = request.app[CONTENT].now().astimezone(KYIV).date()
    days: dict[str, date] = {}
    for name in ("to", "from"):
        text = request.query.get(name)
        if not text:
            days[name] = today if name == "to" else days["to"] - timedelta(days=27)
            continue
        try:
            days[name] = date.fromisoformat(text)
        except ValueError:
            return t("error_date", field=t(f"field_{name}"), value=text)
        if not _EARLIEST <= days[name] <= _LATEST:
            return t(
                "error_date_range", field=t(f"field_{name}"), earliest=t.day(_EARLIEST), latest=t.day(_LATEST)
            )
    if days["from"] > days["to"]:
        return t("error_order")
    if (days["to"] - days["from"]).days >= MAX_DAYS:
        return t("error_too_long", max_days=MAX_DAYS)
    if exc.field == "granularity":
        return t("error_granularity")
    return t("error_other", message=str(exc))


def _alerts_html(alerts: list[ContentAlert], names: dict[str, str], t: _Words) -> str:
    if not alerts:
        return f'<p id="no-alerts">{_e(t("no_alerts"))}</p>'
    rows = []
    for a in alerts:
        state = (
            _e(t("acknowledged_by", login=a.acknowledged_by))
            if a.acknowledged_at
            else f'<button type="button" class="ack" data-alert="{a.id}">{_e(t("acknowledge"))}</button>'
        )
        rows.append(
            f'<tr id="alert-{a.id}" class="{"done" if a.acknowledged_at else "open"}"><td>{_e(t.day(a.day))}</td>'
            f"<td>{_e(a.topic)} {_e(names.get(a.topic, ''))}</td><td>{_e(a.locality)}</td>"
            f"<td>{a.count}</td><td>{_e(t.number(a.expected, 1))}</td><td>{state}</td></tr>"
        )
    head = "".join(
        f'<th scope="col">{_e(t(key))}</th>'
        for key in ("col_day", "col_topic", "col_locality", "col_appeals", "col_usual")
    )
    return (
        f'<table id="alerts"><caption>{_e(t("alerts_caption"))}</caption>'
        f'<thead><tr>{head}<th scope="col"></th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _trend_html(trends: Trends, names: dict[str, str], where: str, t: _Words) -> str:
    if not trends.series:
        return f'<p id="no-trend">{_e(t("no_trend"))}</p>'
    series = [
        (
            f"{code} {names.get(code, t('other_topics') if code == 'other' else '')}"[:28],
            _COLOURS[n % 7],
            [float(v) for v in c],
        )
        for n, (code, c) in enumerate(trends.series.items())
    ]
    labels = [t.label(label) for label in trends.labels]
    title = t("trend_title", where=where)
    chart = line_chart(
        "chart-trends", title, labels, series, y_label=t("axis_appeals"), lang=t.chart_language()
    )
    head = "".join(f'<th scope="col">{_e(code)}</th>' for code in trends.series)
    body = "".join(
        f"<tr><td>{_e(label)}</td>" + "".join(f"<td>{c[n]}</td>" for c in trends.series.values()) + "</tr>"
        for n, label in enumerate(labels)
    )
    table = (
        f'<table id="trend-table"><caption>{_e(title)}</caption><thead><tr>'
        f'<th scope="col">{_e(t("col_period"))}</th>{head}</tr></thead><tbody>{body}</tbody></table>'
    )
    return chart + table


def _surveys_html(overall: SurveySummary, agents: dict[str, SurveySummary], t: _Words) -> str:
    def row(name: str, s: SurveySummary) -> str:
        average = "—" if s.average_rating is None else t.number(s.average_rating, 2)
        share = "—" if s.resolved_share is None else f"{100 * s.resolved_share:.0f} %"
        return f"<tr><td>{_e(name)}</td><td>{s.surveys}</td><td>{s.completed}</td><td>{_e(average)}</td><td>{share}</td></tr>"

    rows = row(t("all_surveys"), overall) + "".join(row(agent, s) for agent, s in agents.items())
    head = "".join(
        f'<th scope="col">{_e(t(key))}</th>'
        for key in ("col_agent", "col_surveys", "col_completed", "col_rating", "col_resolved")
    )
    return (
        f'<table id="surveys"><caption>{_e(t("surveys_caption"))}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


@routes.get("/content")
@requires(Role.SUPERVISOR)
async def content_page(request: web.Request) -> web.Response:
    """The page: filter form, trend chart, localities, alerts, surveys (Ukrainian; ``?lang=en``)."""
    state = request.app[CONTENT]
    lang = language_of(request)
    t = _Words(_page_texts()[lang])
    status = 200
    try:
        query = _query(request)
    except ValidationError as exc:
        status = 400
        today = state.now().astimezone(KYIV).date()
        query = _Query(today - timedelta(days=27), today, None, "day")
        error = f'<p class="error" role="alert">{_e(_query_error(request, exc, t))}</p>'
    else:
        error = ""
    trends = await _trends(request, query)
    where = query.locality or t("whole_region")
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
    other, switch_href = language_switch(request, lang)
    # The script's texts travel as JSON in a non-executable block (allowed by the CSP); "<" is
    # escaped so no text can close the block.
    script_texts = json.dumps({k: t.texts[k] for k in _SCRIPT_TEXTS}, ensure_ascii=False).replace(
        "<", "\\u003c"
    )
    body = Template(_read("content.html")).substitute(
        {key: _e(value) for key, value in t.texts.items()},
        lang=lang,
        other_lang_code=other,
        switch_href=_e(switch_href),
        texts_json=script_texts,
        date_from=_e(query.first.isoformat()),
        date_to=_e(query.last.isoformat()),
        locality_options=localities,
        day_selected=" selected" if query.granularity == "day" else "",
        week_selected=" selected" if query.granularity == "week" else "",
        error=error,
        alerts=_alerts_html(alerts, state.topic_names, t),
        trend=_trend_html(trends, state.topic_names, where, t),
        surveys=_surveys_html(await store.summary(since, until), await store.per_agent(since, until), t),
    )
    response = web.Response(text=body, status=status, content_type="text/html", headers=PAGE_HEADERS)
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", path="/")
    return response


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
    """The official report for ``period`` as the printable page or, with ``.csv``, its CSV, in the
    page language (Ukrainian; ``?lang=en``)."""
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
    lang = language_of(request)
    if request.match_info["ext"]:
        return web.Response(
            text=official_csv(report, lang),
            content_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="official_{period.label}.csv"',
                "Cache-Control": "no-store",
            },
        )
    _, switch_href = language_switch(request, lang)
    response = web.Response(
        text=official_document(report, state.now(), lang=lang, switch_href=switch_href),
        content_type="text/html",
        headers=_OFFICIAL_HEADERS,
    )
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", path="/")
    return response


def _official_headers() -> dict[str, str]:
    """The pages' headers, the CSP allowing the report's one ``<style>`` block by its hash (the
    report is a self-contained file first, so its style is inline; nothing else inline may run)."""
    digest = base64.b64encode(hashlib.sha256(DOCUMENT_CSS.encode()).digest()).decode()
    csp = PAGE_HEADERS["Content-Security-Policy"] + f"; style-src 'sha256-{digest}'"
    return PAGE_HEADERS | {"Content-Security-Policy": csp}


_OFFICIAL_HEADERS = _official_headers()
