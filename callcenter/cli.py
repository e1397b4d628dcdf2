"""The ``callcenter`` command: ``serve``, ``demo``, ``db migrate``, ``flows validate``, ``report``.

Settings are loaded once here (defaults < ``callcenter.toml`` < ``CALLCENTER_*`` < flags) and
passed down frozen. Any bad setting stops the command before it starts anything, with every
problem listed and exit status 2. ``serve`` as the active backend of a pair that had to step down
exits with status 3, so systemd restarts it and it comes back as the standby.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from callcenter import __version__
from callcenter.config import Settings, load_settings, setting_names
from callcenter.errors import CallcenterError, ConfigError
from callcenter.logs import configure_logging

__all__ = ["build_parser", "main"]

EXIT_CONFIG = 2
EXIT_FAILURE = 1
EXIT_STEPPED_DOWN = 3


def _key_value(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or "." not in name:
        raise argparse.ArgumentTypeError(f"expected SECTION.NAME=VALUE, e.g. ami.port=5038, got {text!r}")
    return name.strip(), value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand (``--help`` works at each level)."""
    parser = argparse.ArgumentParser(
        prog="callcenter",
        description="Call-handling backend for citizens' hotlines: IVR, queues, appeals, live supervision.",
        epilog="Settings: defaults < callcenter.toml < CALLCENTER_* environment < flags. "
        "See `callcenter settings` for every setting.",
    )
    parser.add_argument("--version", action="version", version=f"callcenter {__version__}")
    parser.add_argument("--config", type=Path, help="settings file (default: ./callcenter.toml if present)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=_key_value,
        default=[],
        metavar="SECTION.NAME=VALUE",
        help="override one setting (repeatable), e.g. --set ami.host=10.0.0.2",
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log.level")
    parser.add_argument("--log-format", choices=["auto", "json", "console"], help="log.format")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = sub.add_parser("serve", help="run the backend against a real Asterisk")
    serve.add_argument("--http-port", type=int, help="http.port")
    serve.add_argument("--agi-port", type=int, help="agi.port")

    demo = sub.add_parser("demo", help="run the backend with the simulated PBX and embedded PostgreSQL")
    demo.add_argument("--http-port", type=int, help="http.port")
    demo.add_argument("--agi-port", type=int, help="agi.port")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)
    db_sub.add_parser(
        "migrate", help="apply pending migrations (safe to run twice, or beside a running service)"
    )

    flows = sub.add_parser("flows", help="IVR flow files")
    flows_sub = flows.add_subparsers(dest="flows_command", metavar="FLOWS_COMMAND", required=True)
    validate = flows_sub.add_parser(
        "validate", help="check flow files; print file:line:column: message per error"
    )
    validate.add_argument(
        "files", nargs="*", type=Path, help="flow files (default: every *.yaml in paths.flows_dir)"
    )

    sub.add_parser("settings", help="list every setting with its environment variable and meaning")

    from callcenter.reports_cli import add_report_parser

    add_report_parser(sub)

    from callcenter.asterisk_conf_cli import add_asterisk_conf_parser
    from callcenter.exchange import add_export_parser
    from callcenter.official_reports_cli import add_official_report_parser

    add_asterisk_conf_parser(sub)
    add_official_report_parser(sub)
    add_export_parser(sub)

    from callcenter.web.auth_cli import add_users_parser  # the users subcommand (issue 10)

    add_users_parser(sub)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, str]:
    overrides = dict(args.overrides)
    for flag, name in (
        ("log_level", "log.level"),
        ("log_format", "log.format"),
        ("http_port", "http.port"),
        ("agi_port", "agi.port"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[name] = str(value)
    return overrides


def _configure_logging(settings: Settings) -> None:
    fmt = settings.log.format
    json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    configure_logging(json=json, level=settings.log.level)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``callcenter`` script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "settings":
        for name, text in setting_names().items():
            env = "CALLCENTER_" + name.replace(".", "_").upper()
            print(f"{name:28} {env:36} {text}")
        return 0
    try:
        settings = load_settings(config_file=args.config, overrides=_overrides(args))
    except ConfigError as exc:
        print("callcenter: refusing to start, the configuration has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_CONFIG
    _configure_logging(settings)
    try:
        return _dispatch(args, settings)
    except KeyboardInterrupt:
        return 130
    except CallcenterError as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        from callcenter.app import run
        from callcenter.services.leadership import SteppedDown

        try:
            asyncio.run(run(settings))
        except SteppedDown as exc:
            print(f"callcenter: stepped down as the active backend: {exc}", file=sys.stderr)
            return EXIT_STEPPED_DOWN
        return 0
    if args.command == "demo":
        from callcenter.demo import run_demo

        asyncio.run(run_demo(settings))
        return 0
    if args.command == "db":
        return asyncio.run(_db_migrate(settings))
    if args.command == "asterisk-conf":
        from callcenter.asterisk_conf_cli import asterisk_conf_command

        return asterisk_conf_command(settings, args)
    if args.command == "report-official":
        from callcenter.official_reports_cli import official_report_command

        return official_report_command(settings, args)
    if args.command == "export-appeals":
        from callcenter.exchange import export_command

        return export_command(settings, args)
    if args.command == "report":
        from callcenter.reports_cli import report_command

        return report_command(settings, args)
    if args.command == "flows":
        from callcenter.flows_cli import validate_command

        return validate_command(settings, args.files)
    if args.command == "users":
        from callcenter.web.auth_cli import users_command

        return asyncio.run(users_command(args, settings))
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse rejects unknown commands


async def _db_migrate(settings: Settings) -> int:
    from callcenter.app import open_database

    # open_database applies the migrations; report what the schema now holds.
    async with open_database(settings) as database:
        rows = await database.pool.fetch(
            "SELECT number, name, applied_at FROM schema_migrations ORDER BY number"
        )
    for row in rows:
        print(f"{row['number']:04d}_{row['name']}  applied {row['applied_at']:%Y-%m-%d %H:%M:%S}")
    print(f"database is up to date ({len(rows)} migrations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
