"""Official reports on PostgreSQL: every section's totals equal the appeal records they summarise."""

from __future__ import annotations

import argparse
import csv
import io
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter.config import Settings
from callcenter.errors import ValidationError
from callcenter.official_reports import KIND_CODES, parse_period
from callcenter.official_reports_cli import (
    add_official_report_parser,
    build_from_database,
    official_report_command,
    run_official_report,
)
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
