"""The appeals exchange export: appeals and their status changes as one JSON document.

Other systems of the Unified System of appeals processing (the Government Contact Center, an
oblast's document system) take appeals in bulk. ``export_appeals`` writes one object per
registered appeal received in a date range, with its classifier codes (CMU resolution 858) and
the ordered status changes read from the audit trail; ``docs/exchange-format.md`` describes the
format and ``docs/exchange-format.schema.json`` is its JSON Schema (draft 2020-12).

Personal data (the applicant's name, residence, phone and e-mail, and the essence, which often
names people) is left out unless asked for with ``include_personal_data`` by an admin; such an
export is written to the audit trail. Without it an appeal carries only the locality of the
residence (``analytics.spikes.locality_of``).

CLI: ``callcenter export-appeals --from DATE --to DATE [--out FILE] [--include-personal-data
--as ADMIN_LOGIN]`` (``add_export_parser`` / ``export_command``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from callcenter.analytics.spikes import locality_of
from callcenter.config import Settings
from callcenter.errors import CallcenterError, ValidationError
from callcenter.storage.audit import record_audit
from callcenter.storage.users import Role, User, get_user_by_login

__all__ = [
    "FORMAT",
    "SCHEMA_PATH",
    "VERSION",
    "ExportRefused",
    "add_export_parser",
    "appeal_object",
    "export_appeals",
    "export_command",
    "load_schema",
    "status_changes",
    "validate_document",
]

FORMAT = "callcenter.appeals-exchange"
VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "exchange-format.schema.json"
KIND_CODES = {"proposal": "3.1", "application": "3.2", "complaint": "3.3"}
EXIT_USAGE = 2


class ExportRefused(CallcenterError):
    """Personal data was asked for by someone who is not an admin."""


def _iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def status_changes(audit: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The status changes among an appeal's audit entries (oldest first), as exchange objects.

    Each entry is an ``audit_log`` row (``action``, ``actor``, ``at``, ``details``); an entry
    whose ``details.changes`` has no ``status`` did not change the status and is skipped. The
    time is the event's own (``details.at``), the row's commit time only when that is missing.
    """
    changes = []
    for entry in audit:
        details = entry["details"]
        status = (details.get("changes") or {}).get("status")
        if not status or len(status) != 2 or status[0] == status[1]:
            continue
        at = details.get("at") or _iso(entry["at"])
        changes.append(
            {"at": at, "from": status[0], "to": status[1], "action": entry["action"], "actor": entry["actor"]}
        )
    return changes


def appeal_object(row: Mapping[str, Any], changes: list[dict[str, Any]], *, personal: bool) -> dict[str, Any]:
    """One appeal as an exchange object (see docs/exchange-format.md)."""
    obj: dict[str, Any] = {
        "id": str(row["id"]),
        "number": row["number"],
        "channel": row["channel"],
        "received_on": _iso(row["received_on"]),
        "registered_at": _iso(row["registered_at"]),
        "status": row["status"],
        "classifier": {
            "receipt_form": row["receipt_form"],
            "sign": row["sign"],
            "type": KIND_CODES.get(row["kind"] or ""),
            "subject": row["subject"],
            "sex": row["sex"],
            "applicant_categories": list(row["categories"] or []),
            "social_status": row["social_status"],
            "topic": row["topic_code"],
            "result": row["result_code"],
        },
        "locality": locality_of(row["residence"]),
        "authority": row["authority"],
        "priority": row["priority"],
        "head_review": row["head_review"],
        "terms": {
            "forward_due": _iso(row["forward_due"]),
            "due": _iso(row["due"]),
            "extended_due": _iso(row["extended_due"]),
        },
        "forwarded_at": _iso(row["forwarded_at"]),
        "closed_at": _iso(row["closed_at"]),
        "related_appeal_ids": [str(u) for u in row["related_appeal_ids"] or []],
        "status_changes": changes,
    }
    if personal:
        obj["applicant"] = {
            "surname": row["surname"],
            "given_name": row["given_name"],
            "patronymic": row["patronymic"],
            "residence": row["residence"],
            "phone": row["applicant_phone"],
            "email": row["email"],
        }
        obj["essence"] = row["essence"]
    return obj


_APPEALS_SQL = """
SELECT id, number, channel, received_on, registered_at, status, receipt_form, sign, kind, subject,
       sex, categories, social_status, topic_code, result_code, residence, authority, priority,
       head_review, forward_due, due, extended_due, forwarded_at, closed_at, related_appeal_ids,
       surname, given_name, patronymic, applicant_phone, email, essence
FROM appeals
WHERE number IS NOT NULL AND received_on BETWEEN $1 AND $2
ORDER BY received_on, number_year, number_seq
"""


async def export_appeals(
    pool: Any,
    first: date,
    last: date,
    *,
    generated_at: datetime,
    include_personal_data: bool = False,
    user: User | None = None,
) -> dict[str, Any]:
    """The exchange document for appeals received from ``first`` to ``last`` (inclusive).

    ``include_personal_data`` needs ``user`` to be an admin (else ``ExportRefused``); such an
    export is audited as ``appeal.export`` with the range and the number of appeals.
    """
    if first > last:
        raise ValidationError("the range ends before it starts", field="to")
    if include_personal_data and (user is None or not user.has_role(Role.ADMIN) or user.disabled):
        raise ExportRefused("only an admin may export personal data")
    rows = await pool.fetch(_APPEALS_SQL, first, last)
    subjects = [f"appeal:{row['id']}" for row in rows]
    audit = await pool.fetch(
        "SELECT subject, action, actor, at, details FROM audit_log WHERE subject = ANY($1::text[]) ORDER BY id",
        subjects,
    )
    trail: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for entry in audit:
        details = entry["details"]
        if isinstance(details, str):  # a pool without the jsonb codec
            details = json.loads(details)
        trail[entry["subject"]].append({**dict(entry), "details": details})
    appeals = [
        appeal_object(row, status_changes(trail[f"appeal:{row['id']}"]), personal=include_personal_data)
        for row in rows
    ]
    if include_personal_data and user is not None:
        await record_audit(
            pool,
            user.login,
            "appeal.export",
            "appeals",
            {
                "from": first.isoformat(),
                "to": last.isoformat(),
                "appeals": len(appeals),
                "personal_data": True,
            },
        )
    return {
        "format": FORMAT,
        "version": VERSION,
        "generated_at": generated_at.isoformat(),
        "period": {"from": first.isoformat(), "to": last.isoformat()},
        "personal_data": include_personal_data,
        "appeals": appeals,
    }


def load_schema() -> dict[str, Any]:
    """The format's JSON Schema (``docs/exchange-format.schema.json``)."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def validate_document(document: Mapping[str, Any]) -> list[str]:
    """The schema violations of ``document`` (empty when it is valid)."""
    import jsonschema  # type: ignore[import-untyped]

    validator = jsonschema.Draft202012Validator(load_schema(), format_checker=jsonschema.FormatChecker())
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


# ---- CLI ----------------------------------------------------------------------------------------


def add_export_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``export-appeals`` to the top-level subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "export-appeals",
        help="export appeals and their status changes as exchange JSON (docs/exchange-format.md)",
    )
    parser.add_argument("--from", dest="date_from", required=True, metavar="DATE", help="first day received")
    parser.add_argument("--to", dest="date_to", required=True, metavar="DATE", help="last day (inclusive)")
    parser.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")
    parser.add_argument(
        "--include-personal-data",
        action="store_true",
        help="add names, residence, phone, e-mail and essence (admins only, audited)",
    )
    parser.add_argument("--as", dest="as_login", default=None, help="the admin's login (with personal data)")
    return parser


def _dates(args: argparse.Namespace) -> tuple[date, date]:
    try:
        first, last = date.fromisoformat(args.date_from), date.fromisoformat(args.date_to)
    except ValueError as exc:
        raise ValidationError("dates are YYYY-MM-DD", field="from") from exc
    if first > last:
        raise ValidationError("--to is before --from", field="to")
    if args.include_personal_data and not args.as_login:
        raise ValidationError("--include-personal-data needs --as ADMIN_LOGIN", field="as")
    return first, last


async def run_export(pool: Any, args: argparse.Namespace, *, now: datetime | None = None) -> dict[str, Any]:
    """Build the document ``args`` asks for and write it to ``--out`` or stdout."""
    first, last = _dates(args)
    user = await get_user_by_login(pool, args.as_login) if args.as_login else None
    document = await export_appeals(
        pool,
        first,
        last,
        generated_at=now or datetime.now(UTC),
        include_personal_data=args.include_personal_data,
        user=user,
    )
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        await asyncio.to_thread(args.out.write_text, text, "utf-8")
    return document


def export_command(settings: Settings, args: argparse.Namespace) -> int:
    """``callcenter export-appeals …``: 0, or 2 for bad arguments or a refused personal export."""
    try:
        _dates(args)
    except ValidationError as exc:
        print(f"callcenter export-appeals: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_with_database(settings, args))


async def _with_database(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.app import open_database

    async with open_database(settings) as database:
        try:
            await run_export(database.pool, args)
        except ExportRefused as exc:
            print(f"callcenter export-appeals: {exc}", file=sys.stderr)
            return EXIT_USAGE
    return 0
