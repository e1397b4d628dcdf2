"""``callcenter report load|hours|agents --from DATE --to DATE [--queue Q] [--out DIR]``.

Writes two files per report into ``--out`` (default: the current folder): a CSV with the full
table and a self-contained HTML page with the charts, and prints their paths. Dates are local
(Europe/Kyiv) and ``--to`` is inclusive. Reading goes day by day; a progress bar is drawn on
stderr when stderr is a terminal, and with ``--progress`` elsewhere it prints one plain line per
day instead (readable in CI logs). A bad date or range is refused before the database is
touched, with a clear message and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

from callcenter.analytics.rollup import ALL
from callcenter.config import Settings
from callcenter.errors import ValidationError
from callcenter.reports import (
    DEFAULT_SL_GOAL,
    DEFAULT_TARGET_S,
    KINDS,
    Progress,
    ReportKind,
    ReportOptions,
    ReportRange,
    ReportSource,
    build_report,
    parse_range,
    report_csv,
)
from callcenter.reports_svg import report_document

__all__ = ["EXIT_USAGE", "ProgressBar", "add_report_parser", "report_command", "run_report"]

EXIT_USAGE = 2


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``report`` subcommand to the top-level subparsers (``cli.build_parser``)."""
    report = subparsers.add_parser(
        "report",
        help="manager reports as CSV + HTML: load (intervals, Erlang C), hours (heatmap), agents",
        description="Write a report as CSV and as a self-contained HTML page with charts.",
    )
    report.add_argument(
        "kind", choices=KINDS, help="load: per 15 min; hours: weekday × hour; agents: per agent"
    )
    report.add_argument(
        "--from", dest="date_from", required=True, metavar="DATE", help="first day, YYYY-MM-DD"
    )
    report.add_argument("--to", dest="date_to", required=True, metavar="DATE", help="last day (inclusive)")
    report.add_argument("--queue", default=None, help="one queue (default: the whole line)")
    report.add_argument("--out", type=Path, default=Path("."), help="folder for the files (default: .)")
    report.add_argument(
        "--progress", action="store_true", help="show progress even when stderr is not a terminal"
    )
    report.add_argument("--target-s", type=float, default=DEFAULT_TARGET_S, help="SL answer target, s")
    report.add_argument("--sl-goal", type=float, default=DEFAULT_SL_GOAL, help="SL goal, e.g. 0.8")
    return report  # type: ignore[no-any-return]


class ProgressBar:
    """Day-by-day progress on a stream: a redrawn bar on a terminal, plain lines elsewhere."""

    def __init__(self, stream: TextIO, label: str, *, tty: bool, width: int = 30) -> None:
        self.stream, self.label, self.tty, self.width = stream, label, tty, width

    def __call__(self, done: int, total: int, day: date) -> None:
        if self.tty:
            filled = self.width * done // total
            bar = "#" * filled + "." * (self.width - filled)
            end = "\n" if done == total else ""
            self.stream.write(f"\r{self.label} [{bar}] {done}/{total} {day.isoformat()}{end}")
        else:
            self.stream.write(f"{self.label}: day {done}/{total} ({day.isoformat()}) read\n")
        self.stream.flush()


def _options(args: argparse.Namespace) -> ReportOptions:
    if not 0 < args.sl_goal < 1:
        raise ValidationError(f"--sl-goal must be between 0 and 1, got {args.sl_goal}", field="sl_goal")
    if args.target_s <= 0:
        raise ValidationError(f"--target-s must be positive, got {args.target_s}", field="target_s")
    return ReportOptions(target_s=args.target_s, sl_goal=args.sl_goal)


def _file_stem(kind: str, queue: str | None, rng: ReportRange) -> str:
    scope = "".join(c if c.isalnum() or c in "-_" else "_" for c in queue) if queue else "all"
    return f"{kind}_{scope}_{rng.first.isoformat()}_{rng.last.isoformat()}"


async def run_report(
    args: argparse.Namespace,
    source: ReportSource,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Build the report ``args`` asks for from ``source`` and write its CSV and HTML files."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        rng = parse_range(args.date_from, args.date_to)
        options = _options(args)
    except ValidationError as exc:
        err.write(f"callcenter report: {exc}\n")
        return EXIT_USAGE
    kind: ReportKind = args.kind
    progress: Progress | None = None
    tty = err.isatty()
    if (tty or args.progress) and rng.days > 1:
        progress = ProgressBar(err, f"report {kind}", tty=tty)
    report = await build_report(kind, source, rng, args.queue or ALL, options, progress)
    stem = _file_stem(kind, args.queue, rng)
    files = {f"{stem}.csv": report_csv(report), f"{stem}.html": report_document(report, now())}
    for path in await asyncio.to_thread(_write_files, args.out, files):
        out.write(f"{path}\n")
    return 0


def _write_files(folder: Path, files: dict[str, str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def report_command(settings: Settings, args: argparse.Namespace) -> int:
    """``callcenter report …``: the exit status (2 for a bad date or range, before any connection)."""
    try:
        parse_range(args.date_from, args.date_to)
        _options(args)
    except ValidationError as exc:
        print(f"callcenter report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_with_database(settings, args))


async def _with_database(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.app import open_database
    from callcenter.reports import DatabaseSource

    async with open_database(settings) as database:
        return await run_report(args, DatabaseSource(database.pool))
