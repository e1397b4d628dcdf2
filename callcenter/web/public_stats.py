"""The public statistics page ``/stats``: what citizens asked about, and how many got answers on time.

Open to everyone, so it shows aggregates only and never a small number: a count below
``MIN_CELL`` (5) could point at a person in a small village, so such topics are merged into
"other topics", and a figure whose base is below 5 is shown as "fewer than 5" / not shown.
No name, address, number or text of an appeal is read at all.

* ``GET /stats?month=YYYY-MM`` — the page (this month by default; no future months), in
  Ukrainian, or in English with ``&lang=en`` (words in ``static/stats.i18n.json``). As on the
  public appeal page the language is in the address only, never a cookie, so the page stays
  cacheable by address;
* ``GET /api/stats?month=YYYY-MM`` — the same figures as JSON;
* ``GET /static/stats/stats.css`` — its stylesheet.

Figures: registered appeals received in the month; the top topics among them; of the appeals
closed in the month, the share closed within their term (the extended term when there is one).
Answers are cached for ``CACHE_S`` seconds per month, so a busy public page costs the database
one query set per five minutes.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from string import Template
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter.errors import ValidationError
from callcenter.official_reports import parse_period, period_name
from callcenter.reports_svg import hbar_chart
from callcenter.reports_text import ENGLISH_TEXTS, ReportLanguage
from callcenter.web.auth import public
from callcenter.web.keys import DB_POOL
from callcenter.web.static_files import read_static as _read

__all__ = [
    "CACHE_S",
    "MIN_CELL",
    "PUBLIC_STATS",
    "PublicStats",
    "PublicStatsState",
    "routes",
    "setup",
    "suppress",
]

KYIV = ZoneInfo("Europe/Kyiv")
MIN_CELL = 5
CACHE_S = 300.0
TOP = 10
OTHER = "other"

routes = web.RouteTableDef()

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "Cache-Control": "public, max-age=300",
}


@dataclass(frozen=True, slots=True)
class PublicStats:
    """The month's public figures, already made safe to publish (``suppress``)."""

    month: str
    appeals: int | None  # None: fewer than MIN_CELL
    topics: tuple[tuple[str, str, int], ...]  # (code, name, count), every count ≥ MIN_CELL
    closed: int | None
    on_time_share: float | None

    def as_json(self) -> dict[str, Any]:
        """JSON-friendly values."""
        return {
            "month": self.month,
            "appeals": self.appeals,
            "top_topics": [{"topic": c, "name": n, "appeals": k} for c, n, k in self.topics],
            "closed": self.closed,
            "closed_on_time_share": None if self.on_time_share is None else round(self.on_time_share, 4),
            "min_cell": MIN_CELL,
        }


def suppress(
    month: str,
    topic_counts: Mapping[str | None, int],
    closed: int,
    closed_on_time: int,
    names: Mapping[str, str],
    *,
    top: int = TOP,
    min_cell: int = MIN_CELL,
) -> PublicStats:
    """Publishable figures: topics below ``min_cell`` merged into "other", small bases hidden.

    The "other" row is shown only when it too reaches ``min_cell``; the total is shown only when
    it reaches ``min_cell``; the on-time share only when ``closed`` does.
    """
    total = sum(topic_counts.values())
    ranked = sorted(
        ((code or OTHER, count) for code, count in topic_counts.items()), key=lambda item: (-item[1], item[0])
    )
    shown: list[tuple[str, str, int]] = []
    other = 0
    for code, count in ranked:
        if code != OTHER and count >= min_cell and len(shown) < top:
            shown.append((code, names.get(code, ""), count))
        else:
            other += count
    if other >= min_cell:
        shown.append((OTHER, "Other topics", other))
    return PublicStats(
        month=month,
        appeals=total if total >= min_cell else None,
        topics=tuple(shown),
        closed=closed if closed >= min_cell else None,
        on_time_share=closed_on_time / closed if closed >= min_cell else None,
    )


_TOPICS_SQL = """
SELECT topic_code, count(*) AS n FROM appeals
WHERE number IS NOT NULL AND received_on BETWEEN $1 AND $2
GROUP BY topic_code
"""
_CLOSED_SQL = """
SELECT count(*) AS closed,
       count(*) FILTER (WHERE (closed_at AT TIME ZONE 'Europe/Kyiv')::date <= COALESCE(extended_due, due))
           AS on_time
FROM appeals
WHERE status = 'closed'
  AND closed_at >= ($1::date)::timestamp AT TIME ZONE 'Europe/Kyiv'
  AND closed_at < ($2::date + 1)::timestamp AT TIME ZONE 'Europe/Kyiv'
"""


@dataclass
class PublicStatsState:
    """Clock, topic names and the per-month cache."""

    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    monotonic: Callable[[], float] | None = None
    topic_names: dict[str, str] = field(default_factory=dict)
    cache: dict[str, tuple[float, PublicStats]] = field(default_factory=dict)


PUBLIC_STATS: web.AppKey[PublicStatsState] = web.AppKey("cc_public_stats", PublicStatsState)


def setup(app: web.Application, state: PublicStatsState | None = None) -> None:
    """Add ``/stats``, ``/api/stats`` and the stylesheet route."""
    if state is None:
        state = PublicStatsState()
    if not state.topic_names:
        from callcenter.appeals.classifier import load_classifier

        state.topic_names = {e.code: e.name for e in load_classifier().entries("topics")}
    app[PUBLIC_STATS] = state
    app.add_routes(routes)


def _month(request: web.Request) -> str:
    this_month = request.app[PUBLIC_STATS].now().astimezone(KYIV).date().replace(day=1)
    text = request.query.get("month") or this_month.strftime("%Y-%m")
    if "Q" in text.upper():
        raise ValidationError("month is YYYY-MM", field="month")
    try:
        period = parse_period(text)
    except ValueError:  # year 0000 or 9999-12 pass the pattern, and ``date`` refuses them
        raise ValidationError("month is YYYY-MM", field="month") from None
    if period.first > this_month:
        raise ValidationError("no statistics for a month that has not begun", field="month")
    return period.label


def _refusal(text: str) -> str:
    """The key of the page's words for why ``_month`` refused ``text``: a month that parses was
    refused for not having begun; anything else is not a month."""
    try:
        period = parse_period(text)
    except (ValidationError, ValueError):
        return "error_format"
    return "error_future" if period.kind == "month" else "error_format"


async def stats_for(request: web.Request, month: str) -> PublicStats:
    """The month's figures, from the cache when fresh."""
    state = request.app[PUBLIC_STATS]
    clock = state.monotonic or time.monotonic
    cached = state.cache.get(month)
    if cached is not None and clock() - cached[0] < CACHE_S:
        return cached[1]
    period = parse_period(month)
    pool = request.app[DB_POOL]
    rows = await pool.fetch(_TOPICS_SQL, period.first, period.last)
    closed = await pool.fetchrow(_CLOSED_SQL, period.first, period.last)
    stats = suppress(
        month,
        {row["topic_code"]: row["n"] for row in rows},
        closed["closed"],
        closed["on_time"],
        state.topic_names,
    )
    state.cache[month] = (clock(), stats)
    return stats


@routes.get("/api/stats")
@public
async def stats_api(request: web.Request) -> web.Response:
    """The month's public figures as JSON."""
    stats = await stats_for(request, _month(request))
    return web.json_response(stats.as_json(), headers={"Cache-Control": "public, max-age=300"})


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


# ---- the page -----------------------------------------------------------------------------------
# Ukrainian (the public page of a Ukrainian government line), English with ``lang=en``.

#: The page's languages; the first is the default.
PAGE_LANGUAGES = ("uk", "en")


@cache
def _page_texts() -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = json.loads(_read("stats.i18n.json"))
    return texts


@dataclass(frozen=True, slots=True)
class _Words:
    """The page's words in one language."""

    lang: str

    def __call__(self, key: str, **values: object) -> str:
        text = _page_texts()[self.lang][key]
        return text.format(**values) if values else text

    def chart_language(self) -> ReportLanguage:
        # The bar chart writes only numbers on its axis (its words are passed in): the CLI's texts
        # with this language's decimal mark.
        return ReportLanguage(ENGLISH_TEXTS | {"decimal_mark": self("decimal_mark")})


def _body(stats: PublicStats, t: _Words) -> str:
    few = t("fewer_than", min_cell=MIN_CELL)
    appeals = few if stats.appeals is None else str(stats.appeals)
    share = "—" if stats.on_time_share is None else t("percent", value=f"{100 * stats.on_time_share:.0f}")
    closed = few if stats.closed is None else str(stats.closed)
    figures = (
        '<dl id="figures">'
        f'<dt>{_e(t("appeals"))}</dt><dd id="appeals">{_e(appeals)}</dd>'
        f'<dt>{_e(t("closed"))}</dt><dd id="closed">{_e(closed)}</dd>'
        f'<dt>{_e(t("on_time"))}</dt><dd id="on-time">{_e(share)}</dd></dl>'
    )
    if not stats.topics:
        return figures + f'<p id="no-topics">{_e(t("no_topics"))}</p>'
    # The merged row is the API's "other"; the page names it in its own words.
    rows = [
        (t("other_code"), t("other_topics"), count) if code == OTHER else (code, name, count)
        for code, name, count in stats.topics
    ]
    chart = hbar_chart(
        "chart-topics",
        t("chart_topics"),
        [code for code, _, _ in rows],
        [(t("series_appeals"), "#0057b7", [float(count) for _, _, count in rows])],
        unit="",
        lang=t.chart_language(),
    )
    body = "".join(
        f"<tr><td>{_e(code)}</td><td>{_e(name)}</td><td>{count}</td></tr>" for code, name, count in rows
    )
    head = "".join(f'<th scope="col">{_e(t(key))}</th>' for key in ("col_code", "col_topic", "col_appeals"))
    table = (
        f'<table id="topics"><caption>{_e(t("topics_caption", min_cell=MIN_CELL))}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )
    return figures + chart + table


def _page_href(month: str, lang: str) -> str:
    """The page for ``month`` in ``lang`` (the default language needs no ``lang``)."""
    return f"/stats?month={month}" + ("" if lang == PAGE_LANGUAGES[0] else f"&lang={lang}")


@routes.get("/stats")
@public
async def stats_page(request: web.Request) -> web.Response:
    """The public page (Ukrainian; ``?lang=en`` for English)."""
    asked = request.query.get("lang", PAGE_LANGUAGES[0])
    lang = asked if asked in PAGE_LANGUAGES else PAGE_LANGUAGES[0]
    t = _Words(lang)
    status, error = 200, ""
    try:
        month = _month(request)
    except ValidationError:
        status = 400
        refused = request.query.get("month", "")
        error = f'<p class="error" role="alert">{_e(t(_refusal(refused), value=refused))}</p>'
        month = request.app[PUBLIC_STATS].now().astimezone(KYIV).strftime("%Y-%m")
    stats = await stats_for(request, month)
    period = parse_period(month)
    previous = (period.first - timedelta(days=1)).strftime("%Y-%m")
    other = next(code for code in PAGE_LANGUAGES if code != lang)
    name = period_name(period, lang)
    page = Template(_read("stats.html")).substitute(
        lang=lang,
        title=_e(t("title", month=name)),
        heading=_e(t("heading", month=name)),
        other_lang=_e(t("other_lang")),
        other_lang_code=other,
        # The month shown, not the one asked for: a refused month's page is this month's.
        switch_href=_e(_page_href(month, other)),
        form_label=_e(t("form_label")),
        label_month=_e(t("label_month")),
        show=_e(t("show")),
        previous=_e(t("previous")),
        previous_href=_e(_page_href(previous, lang)),
        meta=_e(t("meta")),
        month=_e(month),
        error=error,
        content=_body(stats, t),
    )
    return web.Response(text=page, status=status, content_type="text/html", headers=PAGE_HEADERS)


@routes.get("/static/stats/stats.css")
@public
async def stats_css(request: web.Request) -> web.Response:
    """The page's stylesheet."""
    return web.Response(
        text=_read("stats.css"), content_type="text/css", headers={"Cache-Control": "no-cache"}
    )
