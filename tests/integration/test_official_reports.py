"""Official reports on PostgreSQL: every section's totals equal the appeal records they summarise;
the report is Ukrainian by default and English with ``--lang en``."""

from __future__ import annotations

import argparse
import csv
import io
import re
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter.config import Settings
from callcenter.errors import ValidationError
from callcenter.official_reports import (
    KIND_CODES,
    AppealFacts,
    OfficialReport,
    build_official_report,
    official_csv,
    official_document,
    official_texts,
    parse_period,
    period_name,
)
from callcenter.official_reports_cli import (
    add_official_report_parser,
    build_from_database,
    official_report_command,
    run_official_report,
)
from tests.integration.i18n_support import assert_same_keys_and_placeholders
from tests.integration.test_official_support import make_appeals


async def test_quarter_report_sections_equal_the_records(db_pool: Any, tmp_path: Path) -> None:
    """Each section of the Q3 report counts exactly the registered appeals received in Q3."""
    made = await make_appeals(
        db_pool, prefix="q3", start=datetime(2026, 7, 1, 6, 0, tzinfo=UTC), count=40, seed=3, consultations=4
    )
    # Outside the quarter: must not be counted.
    await make_appeals(db_pool, prefix="q4", start=datetime(2026, 10, 2, 6, 0, tzinfo=UTC), count=5, seed=4)
    period = parse_period("2026-Q3")
    report = await build_from_database(db_pool, period, date(2026, 10, 31))
    appeals = made.appeals
    assert report.appeals == len(appeals) == 40 and report.consultations == 4

    def rows(key: str) -> Counter[str]:
        return Counter({code: count for code, _, count in report.section(key).rows if count})

    assert rows("type") == Counter(KIND_CODES[a.kind.value] for a in appeals if a.kind)
    assert rows("topic") == Counter(a.topic_code for a in appeals)
    assert rows("authority") == Counter(a.authority or "—" for a in appeals)
    assert rows("result") == Counter(a.result_code or "not_closed" for a in appeals)
    assert rows("subject") == Counter(a.subject for a in appeals)
    assert rows("sign") == Counter(a.sign for a in appeals)
    categories = Counter(
        c for a in appeals for c in (a.applicant.categories if a.applicant else ()) or ("—",)
    )
    assert rows("category") == categories
    timeliness = rows("timeliness")
    closed = [a for a in appeals if a.closed_at]
    assert timeliness["closed_on_time"] + timeliness["closed_late"] == len(closed)
    assert sum(timeliness.values()) == 40
    names = {code: name for code, name, _ in report.section("topic").rows}
    assert names["109"] == "Комунальне господарство"

    out = tmp_path / "out"
    paths = await run_official_report(
        db_pool,
        "2026-Q3",
        out,
        as_of="2026-10-31",
        now=lambda: datetime(2026, 11, 1, tzinfo=UTC),
        stdout=io.StringIO(),
    )
    assert [p.name for p in paths] == ["official_2026-Q3.csv", "official_2026-Q3.html"]
    table = list(csv.DictReader(io.StringIO(paths[0].read_text(encoding="utf-8"))))
    by_section: Counter[str] = Counter()
    for row in table:
        by_section[row["section"]] += int(row["count"])
    totals = {row["code"]: int(row["count"]) for row in table if row["section"] == "total"}
    assert totals["appeals"] == 40 and totals["consultations"] == 4
    assert totals["collective"] == sum(1 for a in appeals if a.subject == "5.2")
    for key in ("type", "topic", "authority", "result", "timeliness", "sign", "subject"):
        assert by_section[key] == 40, key
    page = paths[1].read_text(encoding="utf-8")
    assert "@page { size: A4" in page and "<script" not in page and "<svg" in page
    assert "+380" not in page and "Шевченко" not in page
    # Ukrainian unless asked otherwise (the report goes to Ukrainian bodies), with no language link
    # in a file; the CSV keeps its header and codes, its names in the report's language.
    assert '<html lang="uk">' in page and "звіт за III квартал 2026 року" in page
    assert 'id="lang-switch"' not in page
    assert table[0]["name"] == "Зареєстровані звернення"
    english = await run_official_report(
        db_pool,
        "2026-Q3",
        tmp_path / "en",
        as_of="2026-10-31",
        lang="en",
        now=lambda: datetime(2026, 11, 1, tzinfo=UTC),
        stdout=io.StringIO(),
    )
    en_table = list(csv.DictReader(io.StringIO(english[0].read_text(encoding="utf-8"))))
    assert [(r["section"], r["code"], r["count"]) for r in en_table] == [
        (r["section"], r["code"], r["count"]) for r in table
    ]
    assert en_table[0]["name"] == "Registered appeals"
    en_page = english[1].read_text(encoding="utf-8")
    assert '<html lang="en">' in en_page and "report for 2026-Q3" in en_page


async def test_month_report_counts_only_its_month(db_pool: Any) -> None:
    """A month report of a month with no appeals has zero everywhere and still adds up."""
    report = await build_from_database(db_pool, parse_period("2025-02"), date(2025, 3, 1))
    assert report.appeals == 0 and all(s.total == 0 for s in report.sections)


def test_periods_parse_and_bad_ones_are_refused() -> None:
    """Months and quarters give their first and last days; anything else is a validation error."""
    assert (parse_period("2026-10").first, parse_period("2026-10").last) == (
        date(2026, 10, 1),
        date(2026, 10, 31),
    )
    q = parse_period("2026-q1")
    assert (q.label, q.first, q.last, q.kind) == ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31), "quarter")
    assert parse_period("2024-02").last == date(2024, 2, 29)
    for bad in ("2026-13", "2026-Q5", "october", "", "0000-01", "9999-12", "0000-Q1"):
        with pytest.raises(ValidationError):
            parse_period(bad)


def test_cli_refuses_a_bad_period_before_touching_the_database(capsys: pytest.CaptureFixture[str]) -> None:
    """``report-official --period 2026-13`` exits 2 with a message and opens no database."""
    parser = argparse.ArgumentParser()
    add_official_report_parser(parser.add_subparsers(dest="command"))
    for argv in (
        ["report-official", "--period", "2026-13"],
        ["report-official"],
        ["report-official", "--period", "2026-10", "--as-of", "x"],
    ):
        args = parser.parse_args(argv)
        assert official_report_command(Settings(), args) == 2
    assert "callcenter report official:" in capsys.readouterr().err


def test_cli_writes_ukrainian_unless_lang_en() -> None:
    """``report-official`` takes ``--lang uk|en``, Ukrainian when not given; other languages are refused."""
    parser = argparse.ArgumentParser()
    add_official_report_parser(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["report-official", "--period", "2026-10"]).lang == "uk"
    assert parser.parse_args(["report-official", "--period", "2026-10", "--lang", "en"]).lang == "en"
    with pytest.raises(SystemExit):
        parser.parse_args(["report-official", "--period", "2026-10", "--lang", "de"])


def sample_report(as_of: date = date(2026, 10, 15)) -> OfficialReport:
    """A quarter with every kind of row: closed on time and late, open in term and overdue, no
    term, not closed, no category, no authority."""
    facts = []
    for n, (due, closed) in enumerate(
        [
            (date(2026, 8, 1), date(2026, 7, 20)),
            (date(2026, 8, 1), date(2026, 8, 9)),
            (date(2026, 11, 1), None),
            (date(2026, 9, 1), None),
            (None, None),
        ]
    ):
        facts.append(
            AppealFacts(
                id=str(n),
                number=f"ЗВ-2026-{n:06d}",
                kind=("proposal", "application", "complaint")[n % 3],
                topic=("109", "106")[n % 2],
                categories=() if n % 2 else ("7.5",),
                authority=None if n == 4 else "dep-zhkg",
                status="closed" if closed else "in_work",
                result="9.1" if closed else None,
                sign="2.2" if n == 1 else "2.1",
                subject="5.2" if n == 2 else "5.1",
                received_on=date(2026, 7, 10 + n),
                due=due,
                closed_on=closed,
            )
        )
    names = {"kinds": {"3.1": "Пропозиція (зауваження)", "3.2": "Заява (клопотання)", "3.3": "Скарга"}}
    return build_official_report(facts, parse_period("2026-Q3"), as_of=as_of, consultations=3, names=names)


def test_report_texts_match_and_render_fully_in_both_languages() -> None:
    """official.i18n.json has the same keys in both languages and the same placeholders (the
    period's name aside, which English writes as its label); each language's page and CSV come out
    with every word filled in, in that language, and the figures the same."""
    texts = official_texts()
    assert_same_keys_and_placeholders(texts, skip_prefixes=("period_",))
    report = sample_report()
    at = datetime(2026, 10, 15, 8, tzinfo=UTC)
    pages = {lang: official_document(report, at, lang=lang, switch_href="?period=2026-Q3") for lang in texts}
    for lang, page in pages.items():
        body = page.split("</style>", 1)[1]
        assert f'<html lang="{lang}">' in page and "${" not in page
        assert not re.search(r"\{[a-z_]+\}", body), lang
        for chart_id in ("chart-type", "chart-topic", "chart-result", "chart-timeliness"):
            assert f'id="{chart_id}"' in body, (lang, chart_id)
    uk, en = pages["uk"], pages["en"]
    for words in (
        "Звернення громадян — звіт за III квартал 2026 року",
        "Зареєстровано звернень, що надійшли 01.07.2026 – 30.09.2026",
        "Дотримання строків розгляду станом на 15.10.2026",
        "Розглянуто в установлений строк",
        "Розглянуто з порушенням строку",
        "На розгляді, строк не минув",
        "На розгляді, строк порушено",
        "Строк не встановлено",
        "Розгляд не завершено",
        "Сформовано 15.10.2026 11:00",
        "<td>20,0 %</td>",
        "Усього",
    ):
        assert words in uk, words
    for words in (
        "Appeals of citizens — report for 2026-Q3",
        "Registered appeals received 2026-07-01 – 2026-09-30",
        "Timeliness as of 2026-10-15",
        "Closed within the term",
        "Not closed yet",
        "Generated 2026-10-15T08:00:00+00:00.",
        "<td>20.0 %</td>",
    ):
        assert words in en, words
    for words in ("Звернення", "Розгл", "Усього", "Код", "Частка"):
        assert words not in en, words
    uk_csv, en_csv = official_csv(report, "uk"), official_csv(report, "en")
    assert 'timeliness,open_overdue,"На розгляді, строк порушено",1,0.2000' in uk_csv
    assert 'timeliness,open_overdue,"Open, overdue",1,0.2000' in en_csv
    assert uk_csv.splitlines()[0] == en_csv.splitlines()[0] == "section,code,name,count,share"
    with pytest.raises(ValueError):
        official_csv(report, "de")


def test_period_names() -> None:
    """Ukrainian names a month and a quarter as the official reports do; English keeps the label."""
    assert period_name(parse_period("2026-10"), "uk") == "жовтень 2026 року"
    assert period_name(parse_period("2026-Q1"), "uk") == "I квартал 2026 року"
    assert period_name(parse_period("2026-Q4"), "uk") == "IV квартал 2026 року"
    assert period_name(parse_period("2026-Q4"), "en") == "2026-Q4"
