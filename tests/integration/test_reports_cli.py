"""``callcenter report`` against PostgreSQL: files written, figures equal to the facts, progress, errors."""

from __future__ import annotations

import argparse
import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from callcenter.analytics.hours import KYIV
from callcenter.analytics.kpi import KpiCounters
from callcenter.analytics.rollup import ALL, rollup
from callcenter.config import Settings, load_settings
from callcenter.reports import DatabaseSource
from callcenter.reports_cli import add_report_parser, report_command, run_report
from callcenter.storage.analytics import AnalyticsStore
from tests.integration.test_auth_support import scratch_database
from tests.unit.test_reports_support import POLICY, synthetic_days

__all__ = ["scratch_database"]  # the fixture, imported for pytest to find

FIRST = datetime(2026, 3, 2, tzinfo=KYIV)


def parse(*argv: str) -> argparse.Namespace:
    """The report arguments as the real CLI would parse them."""
    parser = argparse.ArgumentParser(prog="callcenter")
    add_report_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["report", *argv])


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


class FakeTty(io.StringIO):
    """A stderr that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
async def loaded(db_pool: Any) -> Any:
    """Two synthetic days (Mon 2 and Tue 3 March 2026) recorded through the store."""
    await db_pool.execute("TRUNCATE call_facts, queue_stints, agent_legs, agent_sessions, interval_rollups")
    calls, sessions = synthetic_days(FIRST, 2, calls=300)
    store = AnalyticsStore(db_pool, POLICY)
    await store.record_calls(calls)
    for session in sessions:
        await store.record_session(session)
    return calls, sessions


async def test_load_report_files_match_the_facts(db_pool: Any, loaded: Any, tmp_path: Path) -> None:
    """The load CSV sums to the pure rollup of the recorded calls, and the HTML holds the charts."""
    calls, sessions = loaded
    out, err = io.StringIO(), io.StringIO()
    args = parse("load", "--from", "2026-03-02", "--to", "2026-03-03", "--out", str(tmp_path / "r"))
    status = await run_report(args, DatabaseSource(db_pool), stdout=out, stderr=err)
    assert status == 0, err.getvalue()
    csv_path = tmp_path / "r" / "load_all_2026-03-02_2026-03-03.csv"
    html_path = csv_path.with_suffix(".html")
    assert out.getvalue().split() == [str(csv_path), str(html_path)]
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    assert len(rows) == 2 * 96
    expected = sum((r.counters for r in rollup(calls, sessions, POLICY) if r.queue == ALL), KpiCounters())
    for column in ("calls", "offered", "answered", "abandoned", "short_abandoned", "overflowed", "callbacks"):
        assert sum(int(r[column]) for r in rows) == getattr(expected, column), column
    assert sum(float(r["agents_staffed"]) for r in rows) * 900 == pytest.approx(expected.staffed_s, rel=1e-3)
    assert html_path.read_text(encoding="utf-8").count('class="chart"') == 3
    assert err.getvalue() == ""  # not a terminal and no --progress: quiet


async def test_queue_hours_and_agents_reports(db_pool: Any, loaded: Any, tmp_path: Path) -> None:
    """``--queue`` filters, the hours CSV covers the week grid, and the agents CSV lists every agent."""
    calls, _ = loaded
    source = DatabaseSource(db_pool)
    out = io.StringIO()
    for argv in (
        ("hours", "--queue", "general"),
        ("agents",),
    ):
        args = parse(*argv, "--from", "2026-03-02", "--to", "2026-03-03", "--out", str(tmp_path))
        assert await run_report(args, source, stdout=out, stderr=io.StringIO()) == 0
    hours = _csv(tmp_path / "hours_general_2026-03-02_2026-03-03.csv")
    general = sum(1 for c in calls for s in c.stints if s.queue == "general")
    after_hours = sum(
        1 for c in calls if c.fact.after_hours and c.fact.first_queue == "general" and not c.stints
    )
    assert sum(int(r["calls"]) for r in hours) == general + after_hours
    agents = _csv(tmp_path / "agents_all_2026-03-02_2026-03-03.csv")
    answered = sum(1 for c in calls for leg in c.legs if leg.answered_at is not None)
    assert sum(int(r["handled"]) for r in agents) == answered
    assert len(agents) == 12 and all(int(r["sessions"]) == 2 for r in agents)


async def test_progress_plain_lines_with_flag_and_a_bar_on_a_terminal(
    db_pool: Any, loaded: Any, tmp_path: Path
) -> None:
    """``--progress`` off a terminal prints one plain line per day; on a terminal a redrawn bar."""
    source = DatabaseSource(db_pool)
    plain = io.StringIO()
    args = parse("hours", "--from", "2026-03-01", "--to", "2026-03-03", "--progress", "--out", str(tmp_path))
    assert await run_report(args, source, stdout=io.StringIO(), stderr=plain) == 0
    assert plain.getvalue().splitlines() == [
        "report hours: day 1/3 (2026-03-01) read",
        "report hours: day 2/3 (2026-03-02) read",
        "report hours: day 3/3 (2026-03-03) read",
    ]
    tty = FakeTty()
    args = parse("agents", "--from", "2026-03-02", "--to", "2026-03-03", "--out", str(tmp_path))
    assert await run_report(args, source, stdout=io.StringIO(), stderr=tty) == 0
    frames = tty.getvalue().split("\r")[1:]
    assert len(frames) == 2 and frames[0].startswith("report agents [" + "#" * 15 + "." * 15 + "] 1/2")
    assert frames[1].endswith("2/2 2026-03-03\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--from", "2026-03-05", "--to", "2026-03-01"), "before --from"),
        (("--from", "5.03.2026", "--to", "2026-03-06"), "expected a date like 2026-03-01"),
        (
            ("--from", "2026-03-01", "--to", "2026-03-02", "--sl-goal", "80"),
            "--sl-goal must be between 0 and 1",
        ),
    ],
)
def test_bad_arguments_exit_2_before_touching_the_database(
    argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad date, range or goal prints a clear error and exits 2 without opening any database."""
    settings = Settings()  # no database URL: opening one would start an embedded server
    assert report_command(settings, parse("load", *argv)) == 2
    assert message in capsys.readouterr().err


def test_unknown_kind_and_missing_dates_are_usage_errors() -> None:
    """argparse refuses an unknown report or a missing --from with exit status 2."""
    for argv in (("weekly", "--from", "2026-03-01", "--to", "2026-03-02"), ("load", "--to", "2026-03-02")):
        with pytest.raises(SystemExit) as exc:
            parse(*argv)
        assert exc.value.code == 2


async def test_report_generation_time_is_in_the_html(db_pool: Any, loaded: Any, tmp_path: Path) -> None:
    """The HTML names when it was generated (the injected clock) and the time zone of the figures."""
    args = parse("load", "--from", "2026-03-02", "--to", "2026-03-02", "--out", str(tmp_path))
    when = datetime(2026, 3, 4, 6, 30, tzinfo=UTC)
    await run_report(
        args, DatabaseSource(db_pool), stdout=io.StringIO(), stderr=io.StringIO(), now=lambda: when
    )
    text = (tmp_path / "load_all_2026-03-02_2026-03-02.html").read_text(encoding="utf-8")
    assert "Generated 2026-03-04T06:30:00+00:00" in text and "Europe/Kyiv" in text


def test_report_command_opens_the_configured_database(
    scratch_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a database URL in the settings the command migrates it, reads it and writes both files."""
    settings = load_settings(
        config_file=Path("/dev/null"), environ={}, overrides={"database.url": scratch_database}
    )
    args = parse("agents", "--from", "2026-03-02", "--to", "2026-03-02", "--out", str(tmp_path))
    assert report_command(settings, args) == 0
    # Unconfigured structlog logs to stdout here (the CLI sends logs to stderr); keep the paths.
    written = [line for line in capsys.readouterr().out.splitlines() if line.startswith(str(tmp_path))]
    assert [Path(p).name for p in written] == [
        "agents_all_2026-03-02_2026-03-02.csv",
        "agents_all_2026-03-02_2026-03-02.html",
    ]
    assert Path(written[0]).read_text(encoding="utf-8").startswith("agent,sessions,logged_in_s,")
