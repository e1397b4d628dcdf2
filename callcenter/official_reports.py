"""Official monthly and quarterly reports on appeals (regional administration, УКЦ).

Resolution 858 asks oblast administrations to report quarterly on citizens' appeals, and the
Government Contact Center and the regional administration ask the same figures monthly. One
report covers the appeals **received** (``received_on``, Kyiv day) in the period and has:

* totals: registered appeals, and the calls closed as consultations;
* appeals by type (classifier 3.x), topic (101–125), applicant category (7.x: an appeal may
  carry several categories or none, so that section counts mentions and is not expected to add
  up), authority, result (9.x; open appeals under "not closed yet");
* timeliness as of the report's date: closed within term, closed late, open within term, open
  overdue (the term in force: the extended one when there is one);
* repeated appeals (sign 2.2 repeated, 2.3 duplicate, 2.4 multiple) and collective ones
  (subject 5.2).

Every additive section is cross-checked against the total (``OfficialReport.check``): a report
whose sections do not add up is never written. ``official_csv`` and ``official_document`` render
it; the charts come from ``reports_svg`` and the page prints on A4.

The report goes to Ukrainian bodies, so it is written in Ukrainian unless English is asked for
(``lang="en"``, which writes what the English-only report always wrote). Its words are in
``web/static/official.i18n.json`` (shipped with the package, read by the CLI too), in the terms of
the appeals law; the classifier's names are Ukrainian in both. Building is language-free: the
sections carry keys and codes, and the words are chosen when the report is rendered. The CSV's
header, section keys, codes and numbers are the same in both languages (programs read them); only
its names column is in the report's language.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.errors import ValidationError
from callcenter.reports_svg import REPORT_CSS, hbar_chart
from callcenter.reports_text import ENGLISH_TEXTS, ReportLanguage

__all__ = [
    "ADDITIVE_SECTIONS",
    "DOCUMENT_CSS",
    "LANGUAGES",
    "AppealFacts",
    "OfficialReport",
    "Period",
    "Section",
    "build_official_report",
    "fetch_appeal_facts",
    "official_csv",
    "official_document",
    "official_texts",
    "parse_period",
    "period_name",
]

KYIV = ZoneInfo("Europe/Kyiv")

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")

NOT_SET = "—"
NOT_CLOSED = "not_closed"
REPEATED_SIGNS = ("2.2", "2.3", "2.4")
COLLECTIVE_SUBJECT = "5.2"
KIND_CODES = {"proposal": "3.1", "application": "3.2", "complaint": "3.3"}

#: Sections whose rows add up to the number of appeals.
ADDITIVE_SECTIONS = ("type", "topic", "authority", "result", "timeliness", "sign", "subject")
#: The timeliness rows, in the order they are printed.
TIMELINESS = ("closed_on_time", "closed_late", "open_in_term", "open_overdue", "no_term")
#: The report's languages; the first is the default (the report goes to Ukrainian bodies).
LANGUAGES = ("uk", "en")
_ROMAN = ("I", "II", "III", "IV")


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar month or quarter, both ends inclusive (Kyiv days)."""

    label: str
    first: date
    last: date

    @property
    def kind(self) -> str:
        """``month`` or ``quarter``."""
        return "quarter" if "Q" in self.label else "month"


def _month_end(year: int, month: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def parse_period(text: str) -> Period:
    """``2026-10`` (a month) or ``2026-Q3`` (a quarter), in the years 1900-2999."""
    text = text.strip()
    year_match = _MONTH.match(text) or _QUARTER.match(text)
    if year_match and not 1900 <= int(year_match.group(1)) <= 2999:
        # Year 0 is no date at all and 9999-12 overflows the month's end: refuse them here,
        # so no caller has to (the web routes did, each on its own).
        raise ValidationError(f"the year of {text!r} is outside 1900-2999", field="period")
    if match := _MONTH.match(text):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise ValidationError(f"no month {month} in {text!r}", field="period")
        return Period(f"{year}-{month:02d}", date(year, month, 1), _month_end(year, month))
    if match := _QUARTER.match(text):
        year, quarter = int(match.group(1)), int(match.group(2))
        first_month = 3 * (quarter - 1) + 1
        return Period(f"{year}-Q{quarter}", date(year, first_month, 1), _month_end(year, first_month + 2))
    raise ValidationError(f"a period is YYYY-MM or YYYY-Qn, got {text!r}", field="period")


@dataclass(frozen=True, slots=True)
class AppealFacts:
    """What the report reads of one registered appeal (no personal data)."""

    id: str
    number: str
    kind: str | None
    topic: str | None
    categories: tuple[str, ...]
    authority: str | None
    status: str
    result: str | None
    sign: str | None
    subject: str
    received_on: date
    due: date | None
    closed_on: date | None


@dataclass(frozen=True, slots=True)
class Section:
    """One table of the report: ``(code, name, count)`` rows.

    A row's name is the classifier's (or the authority's) name, or "" where the report's language
    names the row (timeliness, "not closed yet"); the section's title is the language's too."""

    key: str
    rows: tuple[tuple[str, str, int], ...]

    @property
    def total(self) -> int:
        """The sum of the rows."""
        return sum(count for _, _, count in self.rows)


@dataclass(frozen=True, slots=True)
class OfficialReport:
    """The built report; ``check`` is called before anything is rendered."""

    period: Period
    as_of: date
    appeals: int
    consultations: int
    sections: tuple[Section, ...]
    names: Mapping[str, str] = field(default_factory=dict)

    def section(self, key: str) -> Section:
        """The section named ``key``."""
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(key)

    def check(self) -> None:
        """Every additive section sums to the number of appeals (else ``ValueError``)."""
        for key in ADDITIVE_SECTIONS:
            section = self.section(key)
            if section.total != self.appeals:
                raise ValueError(f"section {key} sums to {section.total}, not {self.appeals} appeals")


def _timeliness(facts: AppealFacts, as_of: date) -> str:
    if facts.due is None:
        return "no_term"
    if facts.closed_on is not None:
        return "closed_on_time" if facts.closed_on <= facts.due else "closed_late"
    return "open_in_term" if as_of <= facts.due else "open_overdue"


def _rows(
    counter: Counter[str], names: Mapping[str, str], order: Sequence[str] = ()
) -> tuple[tuple[str, str, int], ...]:
    """Rows in ``order`` first (all of it, zeros included), then the rest by code."""
    codes = list(order) + sorted(c for c in counter if c not in order)
    return tuple((code, names.get(code, ""), counter.get(code, 0)) for code in codes)


def build_official_report(
    facts: Sequence[AppealFacts],
    period: Period,
    *,
    as_of: date,
    consultations: int,
    names: Mapping[str, Mapping[str, str]] | None = None,
) -> OfficialReport:
    """Aggregate the period's appeals into the report's sections and check the totals.

    ``names`` maps a classifier list (``kinds``, ``topics``, ``applicant_categories``,
    ``results``, ``signs``, ``subjects``, ``authorities``) to code → name.
    """
    names = names or {}
    counters: dict[str, Counter[str]] = {key: Counter() for key in (*ADDITIVE_SECTIONS, "category")}
    for f in facts:
        counters["type"][KIND_CODES.get(f.kind or "", NOT_SET)] += 1
        counters["topic"][f.topic or NOT_SET] += 1
        counters["authority"][f.authority or NOT_SET] += 1
        counters["result"][f.result or NOT_CLOSED] += 1
        counters["timeliness"][_timeliness(f, as_of)] += 1
        counters["sign"][f.sign or NOT_SET] += 1
        counters["subject"][f.subject or NOT_SET] += 1
        for category in f.categories or (NOT_SET,):
            counters["category"][category] += 1
    sections = (
        Section("type", _rows(counters["type"], names.get("kinds", {}), ("3.1", "3.2", "3.3"))),
        Section("topic", _rows(counters["topic"], names.get("topics", {}))),
        Section("category", _rows(counters["category"], names.get("applicant_categories", {}))),
        Section("authority", _rows(counters["authority"], names.get("authorities", {}))),
        Section("result", _rows(counters["result"], names.get("results", {}))),
        Section("timeliness", _rows(counters["timeliness"], {}, TIMELINESS)),
        Section("sign", _rows(counters["sign"], names.get("signs", {}))),
        Section("subject", _rows(counters["subject"], names.get("subjects", {}))),
    )
    report = OfficialReport(period, as_of, len(facts), consultations, sections)
    report.check()
    return report


def repeated_count(report: OfficialReport) -> int:
    """Repeated, duplicate and multiple appeals (signs 2.2–2.4)."""
    return sum(count for code, _, count in report.section("sign").rows if code in REPEATED_SIGNS)


def collective_count(report: OfficialReport) -> int:
    """Collective appeals (subject 5.2)."""
    return sum(count for code, _, count in report.section("subject").rows if code == COLLECTIVE_SUBJECT)


# ---- reading ------------------------------------------------------------------------------------

_FACTS_SQL = """
SELECT id::text AS id, number, kind, topic_code, categories, authority, status, result_code, sign,
       subject, received_on, COALESCE(extended_due, due) AS due,
       (closed_at AT TIME ZONE 'Europe/Kyiv')::date AS closed_on
FROM appeals
WHERE number IS NOT NULL AND received_on BETWEEN $1 AND $2
ORDER BY received_on, number
"""

_CONSULTATIONS_SQL = """
SELECT count(*) FROM appeals
WHERE status = 'consultation'
  AND arrived_at >= ($1::date)::timestamp AT TIME ZONE 'Europe/Kyiv'
  AND arrived_at < ($2::date + 1)::timestamp AT TIME ZONE 'Europe/Kyiv'
"""


async def fetch_appeal_facts(pool: Any, period: Period) -> tuple[list[AppealFacts], int]:
    """The registered appeals received in the period, and the consultations taken in it."""
    rows = await pool.fetch(_FACTS_SQL, period.first, period.last)
    consultations: int = await pool.fetchval(_CONSULTATIONS_SQL, period.first, period.last)
    facts = [
        AppealFacts(
            id=row["id"],
            number=row["number"],
            kind=row["kind"],
            topic=row["topic_code"],
            categories=tuple(row["categories"] or ()),
            authority=row["authority"],
            status=row["status"],
            result=row["result_code"],
            sign=row["sign"],
            subject=row["subject"],
            received_on=row["received_on"],
            due=row["due"],
            closed_on=row["closed_on"],
        )
        for row in rows
    ]
    return facts, consultations


# ---- rendering ----------------------------------------------------------------------------------


@cache
def official_texts() -> dict[str, dict[str, str]]:
    """The report's words, ``{"uk": {...}, "en": {...}}`` (``web/static/official.i18n.json``)."""
    # Read as package data, not through the web layer: the CLI writes the report without a server.
    path = resources.files("callcenter.web") / "static" / "official.i18n.json"
    texts: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return texts


@cache
def _words(lang: str) -> ReportLanguage:
    """The report's words in ``lang``, as a chart language too (its decimal mark and dates); the
    charts' own texts (none of which an official report's bar charts write) stay the CLI's."""
    if lang not in LANGUAGES:
        raise ValueError(f"the official report is written in {' or '.join(LANGUAGES)}, not {lang!r}")
    return ReportLanguage(ENGLISH_TEXTS | official_texts()[lang])


def period_name(period: Period, lang: str) -> str:
    """The period as the report's title names it: ``III квартал 2026 року`` / ``жовтень 2026 року``
    in Ukrainian, the label (``2026-Q3``, ``2026-10``) in English."""
    words = _words(lang)
    first = period.first
    if period.kind == "quarter":
        roman = _ROMAN[(first.month - 1) // 3]
        return words.text("period_quarter", label=period.label, year=first.year, quarter_roman=roman)
    month = words.text(f"month_{first.month}")
    return words.text("period_month", label=period.label, year=first.year, month_name=month)


def _row_name(section: Section, code: str, name: str, words: ReportLanguage) -> str:
    if section.key == "timeliness":
        return words.text(f"timeliness_{code}")
    if section.key == "result" and code == NOT_CLOSED:
        return words.text("not_closed")
    return name


def _section_title(report: OfficialReport, section: Section, words: ReportLanguage) -> str:
    return words.text(f"section_{section.key}", as_of=words.day(report.as_of))


def official_csv(report: OfficialReport, lang: str = LANGUAGES[0]) -> str:
    """Every section as ``section,code,name,count,share`` rows, totals first (names in ``lang``)."""
    words = _words(lang)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "code", "name", "count", "share"])
    writer.writerow(["total", "appeals", words.text("csv_appeals"), report.appeals, ""])
    writer.writerow(["total", "consultations", words.text("csv_consultations"), report.consultations, ""])
    writer.writerow(["total", "repeated", words.text("csv_repeated"), repeated_count(report), ""])
    writer.writerow(["total", "collective", words.text("csv_collective"), collective_count(report), ""])
    for section in report.sections:
        for code, name, count in section.rows:
            share = f"{count / report.appeals:.4f}" if report.appeals else ""
            writer.writerow([section.key, code, _row_name(section, code, name, words), count, share])
    return out.getvalue()


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


PRINT_CSS = """
@page { size: A4 portrait; margin: 15mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  section.official { break-inside: avoid; page-break-inside: avoid; }
  svg.chart { max-height: 90mm; }
  .no-print { display: none; }
}
.totals td:first-child { width: 60%; }
"""
#: The document's whole ``<style>`` block (a served page's CSP allows exactly this by its hash).
DOCUMENT_CSS = REPORT_CSS + PRINT_CSS


def _section_html(report: OfficialReport, section: Section, words: ReportLanguage) -> str:
    title = _section_title(report, section, words)
    rows = [r for r in section.rows if r[2] > 0] or list(section.rows[:1])

    def share(count: int) -> str:
        return words.text(
            "percent", value=words.number(100 * count / report.appeals if report.appeals else 0, 1)
        )

    body = "".join(
        f"<tr><td>{_e(code)}</td><td>{_e(_row_name(section, code, name, words))}</td><td>{count}</td>"
        f"<td>{_e(share(count))}</td></tr>"
        for code, name, count in rows
    )
    total = (
        ""
        if section.key == "category"
        else f"<tfoot><tr><th>{_e(words.text('sum'))}</th><td></td><td>{section.total}</td><td></td></tr></tfoot>"
    )
    head = "".join(
        f'<th scope="col">{_e(words.text(key))}</th>'
        for key in ("col_code", "col_name", "col_appeals", "col_share")
    )
    table = (
        f'<table id="section-{_e(section.key)}"><caption>{_e(title)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>{total}</table>"
    )
    chart = ""
    if section.key in ("topic", "type", "result", "timeliness") and report.appeals:
        shown = [r for r in section.rows if r[2] > 0][:25]
        chart = hbar_chart(
            f"chart-{section.key}",
            title,
            [code for code, _, _ in shown],
            [(words.text("series_appeals"), "#0057b7", [float(c) for _, _, c in shown])],
            unit="",
            lang=words,
        )
    return f'<section class="official">{chart}{table}</section>'


def _generated(at: datetime, words: ReportLanguage) -> str:
    fmt = words.text("generated_format")
    # English keeps the ISO stamp the English-only report wrote; Ukrainian reads Kyiv's clock.
    return at.isoformat(timespec="seconds") if fmt == "iso" else at.astimezone(KYIV).strftime(fmt)


def official_document(
    report: OfficialReport,
    generated_at: datetime,
    *,
    lang: str = LANGUAGES[0],
    switch_href: str | None = None,
) -> str:
    """A self-contained printable page (A4) in ``lang``: totals, then every section as chart and table.

    ``switch_href`` (a served page only) adds a link to the same report in the other language; it
    is not printed."""
    words = _words(lang)
    title = words.text("title", period=period_name(report.period, lang))
    first, last = words.day(report.period.first), words.day(report.period.last)
    totals = (
        f'<table class="totals" id="totals"><caption>{_e(words.text("totals"))}</caption><tbody>'
        f"<tr><td>{_e(words.text('total_appeals', first=first, last=last))}</td>"
        f"<td>{report.appeals}</td></tr>"
        f"<tr><td>{_e(words.text('total_consultations'))}</td><td>{report.consultations}</td></tr>"
        f"<tr><td>{_e(words.text('total_repeated'))}</td><td>{repeated_count(report)}</td></tr>"
        f"<tr><td>{_e(words.text('total_collective'))}</td><td>{collective_count(report)}</td></tr>"
        "</tbody></table>"
    )
    sections = "".join(_section_html(report, s, words) for s in report.sections)
    switch = ""
    if switch_href is not None:
        other = next(code for code in LANGUAGES if code != lang)
        switch = (
            f'<nav class="no-print"><a id="lang-switch" href="{_e(switch_href)}" lang="{other}">'
            f"{_e(words.text('other_lang'))}</a></nav>"
        )
    meta = words.text("meta", as_of=words.day(report.as_of), generated=_generated(generated_at, words))
    return (
        f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{DOCUMENT_CSS}</style></head><body>"
        f"{switch}<h1>{_e(title)}</h1>"
        f'<p class="meta">{_e(meta)}</p>'
        f"{totals}{sections}</body></html>\n"
    )
