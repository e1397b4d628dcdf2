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
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.errors import ValidationError
from callcenter.reports_svg import REPORT_CSS, hbar_chart

__all__ = [
    "ADDITIVE_SECTIONS",
    "AppealFacts",
    "OfficialReport",
    "Period",
    "Section",
    "build_official_report",
    "fetch_appeal_facts",
    "official_csv",
    "official_document",
    "parse_period",
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
    """One table of the report: ``(code, name, count)`` rows."""

    key: str
    title: str
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


_TIMELINESS_NAMES = {
    "closed_on_time": "Closed within the term",
    "closed_late": "Closed after the term",
    "open_in_term": "Open, within the term",
    "open_overdue": "Open, overdue",
    "no_term": "No term set",
}


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
    kinds = dict(names.get("kinds", {}))
    results = dict(names.get("results", {})) | {NOT_CLOSED: "Not closed yet"}
    sections = (
        Section("type", "Appeals by type", _rows(counters["type"], kinds, ("3.1", "3.2", "3.3"))),
        Section("topic", "Appeals by topic", _rows(counters["topic"], names.get("topics", {}))),
        Section(
            "category",
            "Applicant categories (an appeal may have several or none)",
            _rows(counters["category"], names.get("applicant_categories", {})),
        ),
        Section(
            "authority", "Appeals by authority", _rows(counters["authority"], names.get("authorities", {}))
        ),
        Section("result", "Appeals by result", _rows(counters["result"], results)),
        Section(
            "timeliness",
            f"Timeliness as of {as_of.isoformat()}",
            _rows(counters["timeliness"], _TIMELINESS_NAMES, tuple(_TIMELINESS_NAMES)),
        ),
        Section(
            "sign", "First, repeated and duplicate appeals", _rows(counters["sign"], names.get("signs", {}))
        ),
        Section(
            "subject",
            "Individual and collective appeals",
            _rows(counters["subject"], names.get("subjects", {})),
        ),
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


def official_csv(report: OfficialReport) -> str:
    """Every section as ``section,code,name,count,share`` rows, totals first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "code", "name", "count", "share"])
    writer.writerow(["total", "appeals", "Registered appeals", report.appeals, ""])
    writer.writerow(
        ["total", "consultations", "Consultations (no appeal registered)", report.consultations, ""]
    )
    writer.writerow(
        ["total", "repeated", "Repeated, duplicate, multiple (2.2-2.4)", repeated_count(report), ""]
    )
    writer.writerow(["total", "collective", "Collective (5.2)", collective_count(report), ""])
    for section in report.sections:
        for code, name, count in section.rows:
            share = f"{count / report.appeals:.4f}" if report.appeals else ""
            writer.writerow([section.key, code, name, count, share])
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


def _section_html(report: OfficialReport, section: Section) -> str:
    rows = [r for r in section.rows if r[2] > 0] or list(section.rows[:1])
    body = "".join(
        f"<tr><td>{_e(code)}</td><td>{_e(name)}</td><td>{count}</td>"
        f"<td>{(100 * count / report.appeals if report.appeals else 0):.1f} %</td></tr>"
        for code, name, count in rows
    )
    total = (
        ""
        if section.key == "category"
        else f"<tfoot><tr><th>Total</th><td></td><td>{section.total}</td><td></td></tr></tfoot>"
    )
    table = (
        f'<table id="section-{_e(section.key)}"><caption>{_e(section.title)}</caption>'
        '<thead><tr><th scope="col">Code</th><th scope="col">Name</th><th scope="col">Appeals</th>'
        f'<th scope="col">Share</th></tr></thead><tbody>{body}</tbody>{total}</table>'
    )
    chart = ""
    if section.key in ("topic", "type", "result", "timeliness") and report.appeals:
        shown = [r for r in section.rows if r[2] > 0][:25]
        chart = hbar_chart(
            f"chart-{section.key}",
            section.title,
            [code for code, _, _ in shown],
            [("appeals", "#0057b7", [float(c) for _, _, c in shown])],
            unit="",
        )
    return f'<section class="official">{chart}{table}</section>'


def official_document(report: OfficialReport, generated_at: datetime) -> str:
    """A self-contained printable page (A4): totals, then every section as chart and table."""
    title = f"Appeals of citizens — report for {report.period.label}"
    totals = (
        '<table class="totals" id="totals"><caption>Totals</caption><tbody>'
        f"<tr><td>Registered appeals received {report.period.first.isoformat()} – {report.period.last.isoformat()}</td>"
        f"<td>{report.appeals}</td></tr>"
        f"<tr><td>Consultations (no appeal registered)</td><td>{report.consultations}</td></tr>"
        f"<tr><td>Repeated, duplicate and multiple appeals (2.2–2.4)</td><td>{repeated_count(report)}</td></tr>"
        f"<tr><td>Collective appeals (5.2)</td><td>{collective_count(report)}</td></tr>"
        "</tbody></table>"
    )
    sections = "".join(_section_html(report, s) for s in report.sections)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{REPORT_CSS}{PRINT_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f'<p class="meta">Classifier of CMU resolution 858 (2008). Appeals received in the period;'
        f" timeliness as of {_e(report.as_of.isoformat())}. Generated"
        f" {_e(generated_at.isoformat(timespec='seconds'))}. No personal data.</p>"
        f"{totals}{sections}</body></html>\n"
    )
