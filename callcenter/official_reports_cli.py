"""``callcenter report official --period 2026-10 | 2026-Q3 [--as-of DATE] [--lang uk|en] [--out DIR]``.

Writes the official report (``callcenter.official_reports``) for a month or a quarter as a CSV
and a printable, self-contained HTML page (A4) into ``--out`` and prints their paths. The report
is in Ukrainian (it goes to Ukrainian bodies); ``--lang en`` writes it in English. A bad
period is refused before the database is touched, with exit status 2. Timeliness is judged as
of ``--as-of`` (default: the period's last day, or today when the period is not over yet).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from callcenter.appeals.classifier import load_classifier
from callcenter.config import Settings
from callcenter.errors import ValidationError
from callcenter.official_reports import (
    LANGUAGES,
    OfficialReport,
    Period,
    build_official_report,
    fetch_appeal_facts,
    official_csv,
    official_document,
    parse_period,
)

__all__ = [
    "EXIT_USAGE",
    "add_official_arguments",
    "add_official_report_parser",
    "build_from_database",
    "official_report_command",
    "run_official_report",
]

EXIT_USAGE = 2
KYIV = ZoneInfo("Europe/Kyiv")
_LISTS = ("kinds", "topics", "applicant_categories", "results", "signs", "subjects")


def add_official_arguments(parser: argparse.ArgumentParser) -> None:
    """The official report's options, for a parser that already has ``--out``."""
    parser.add_argument(
        "--period", metavar="PERIOD", help="official report: a month YYYY-MM or a quarter YYYY-Qn"
    )
    parser.add_argument(
        "--as-of", dest="as_of", metavar="DATE", help="judge timeliness on this day (YYYY-MM-DD)"
    )
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=LANGUAGES[0],
        help="the report's language: uk (Ukrainian, the default) or en (English)",
    )


def add_official_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """A standalone ``report-official`` subcommand (``--period`` required, ``--out``, ``--as-of``,
    ``--lang``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report-official",
        help="official monthly/quarterly report on appeals as CSV + printable HTML",
        description="Appeals by type, topic, category, authority, result, timeliness; repeated and collective.",
    )
    add_official_arguments(parser)
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for the files (default: .)")
    return parser


def _as_of(text: str | None, period: Period, today: date) -> date:
    if text:
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise ValidationError(f"--as-of must be YYYY-MM-DD, got {text!r}", field="as_of") from exc
    return min(period.last, today)


def classifier_names() -> dict[str, dict[str, str]]:
    """Code → name for each classifier list the report names."""
    classifier = load_classifier()
    return {name: {e.code: e.name for e in classifier.entries(name)} for name in _LISTS}


async def build_from_database(
    pool: Any, period: Period, as_of: date, names: Mapping[str, Mapping[str, str]] | None = None
) -> OfficialReport:
    """Read the period's appeals and build (and check) the report."""
    facts, consultations = await fetch_appeal_facts(pool, period)
    all_names: dict[str, Mapping[str, str]] = dict(names if names is not None else classifier_names())
    rows = await pool.fetch("SELECT id, name FROM authorities")
    all_names["authorities"] = {row["id"]: row["name"] for row in rows}
    return build_official_report(facts, period, as_of=as_of, consultations=consultations, names=all_names)


async def run_official_report(
    pool: Any,
    period_text: str,
    out: Path,
    *,
    as_of: str | None = None,
    lang: str = LANGUAGES[0],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    stdout: TextIO | None = None,
) -> list[Path]:
    """Build the report for ``period_text`` from ``pool`` and write its CSV and HTML, in ``lang``,
    into ``out``."""
    period = parse_period(period_text)
    generated = now()
    day = _as_of(as_of, period, generated.astimezone(KYIV).date())
    report = await build_from_database(pool, period, day)
    stem = f"official_{period.label}"
    files = {
        f"{stem}.csv": official_csv(report, lang),
        f"{stem}.html": official_document(report, generated, lang=lang),
    }
    paths = await asyncio.to_thread(_write, out, files)
    for path in paths:
        (stdout or sys.stdout).write(f"{path}\n")
    return paths


def _write(folder: Path, files: dict[str, str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def official_report_command(settings: Settings, args: argparse.Namespace) -> int:
    """``callcenter report official …`` / ``report-official``: exit 2 for a bad period or date."""
    try:
        if not args.period:
            raise ValidationError("--period is required (YYYY-MM or YYYY-Qn)", field="period")
        period = parse_period(args.period)
        _as_of(args.as_of, period, date.today())
    except ValidationError as exc:
        print(f"callcenter report official: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_with_database(settings, args))


async def _with_database(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.app import open_database

    async with open_database(settings) as database:
        await run_official_report(database.pool, args.period, args.out, as_of=args.as_of, lang=args.lang)
    return 0
