"""Reading the survival spool: calls the PBX took while the backend was down or refused them.

``agi/survival_spool.py`` runs on the PBX for every call that took the survival path and writes
one JSON line per call, each in its own ``*.json`` file, atomically. At start-up the backend calls
``ingest_spool(spool_dir, handle)``: each file is parsed and validated into a ``SpooledCall``,
handed to ``handle`` (the appeals code opens an appeal record for it), then moved into
``processed/``. A file that does not validate is moved into ``rejected/`` and logged, so one bad
file never blocks the others or comes back at every start.

Delivery is at least once: if the process dies after ``handle`` returned but before the move, the
call is handed over again at the next start. ``handle`` must therefore be idempotent on
``SpooledCall.uniqueid`` (e.g. an appeal keyed by the call's uniqueid). If ``handle`` raises (the
database is down), the file stays where it is for the next start.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from callcenter.errors import ValidationError
from callcenter.logs import get_logger, mask_phone

__all__ = [
    "PROCESSED_DIR",
    "REJECTED_DIR",
    "SpoolIngestReport",
    "SpooledCall",
    "ingest_spool",
    "parse_spool_line",
    "pending_spool_files",
]

PROCESSED_DIR = "processed"
REJECTED_DIR = "rejected"
_FORMAT_VERSION = 1
_UNIQUEID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")
_REASON = re.compile(r"^[A-Z_]{1,32}$")
_MAX_FILE_BYTES = 16 * 1024

log = get_logger("callcenter.telephony.spool")


@dataclass(frozen=True, slots=True)
class SpooledCall:
    """One call the PBX handled on its own (survival queue) and the backend has not recorded yet.

    ``caller`` is the caller's number (None if withheld) and personal data; ``dnid`` the hotline
    number dialled; ``arrived_at`` the call's arrival (UTC, aware); ``reason`` the AGISTATUS that
    sent the call down the survival path (``FAILURE``, ``SUCCESS`` when the backend refused it…).
    """

    uniqueid: str
    linkedid: str | None
    caller: str | None
    dnid: str | None
    arrived_at: datetime
    reason: str


@dataclass
class SpoolIngestReport:
    """What one ``ingest_spool`` run did."""

    ingested: int = 0
    rejected: int = 0
    failed: int = 0


def _optional(record: dict[str, Any], key: str, pattern: re.Pattern[str] | None = None) -> str | None:
    value = record.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
        raise ValidationError(f"spool field {key!r} has an invalid value", field=key)
    return value


def parse_spool_line(text: str) -> SpooledCall:
    """Validate one spool line (the JSON written by ``agi/survival_spool.py``).

    Raises ``ValidationError`` naming the field at fault; values are never echoed (personal data).
    """
    try:
        record = json.loads(text)
    except ValueError:
        raise ValidationError("spool line is not JSON") from None
    if not isinstance(record, dict):
        raise ValidationError("spool line is not a JSON object")
    if record.get("v") != _FORMAT_VERSION:
        raise ValidationError("unsupported spool format version", field="v")
    uniqueid = _optional(record, "uniqueid", _UNIQUEID)
    if uniqueid is None:
        raise ValidationError("spool line has no uniqueid", field="uniqueid")
    arrived_text = _optional(record, "arrived_at")
    if arrived_text is None:
        raise ValidationError("spool line has no arrival time", field="arrived_at")
    try:
        arrived_at = datetime.fromisoformat(arrived_text)
    except ValueError:
        raise ValidationError("spool arrival time is not ISO 8601", field="arrived_at") from None
    if arrived_at.tzinfo is None:
        raise ValidationError("spool arrival time has no time zone", field="arrived_at")
    return SpooledCall(
        uniqueid=uniqueid,
        linkedid=_optional(record, "linkedid", _UNIQUEID),
        caller=_optional(record, "caller", _NUMBER),
        dnid=_optional(record, "dnid", _NUMBER),
        arrived_at=arrived_at.astimezone(UTC),
        reason=_optional(record, "reason", _REASON) or "UNKNOWN",
    )


def pending_spool_files(spool_dir: Path) -> list[Path]:
    """The spool files not yet ingested, oldest first (names start with the arrival time)."""
    if not spool_dir.is_dir():
        return []
    # Temporary files (``.spool-*.tmp``) are still being written: only ``*.json`` is complete.
    return sorted(p for p in spool_dir.glob("*.json") if p.is_file())


def _read(path: Path) -> str:
    with path.open("rb") as fh:
        data = fh.read(_MAX_FILE_BYTES + 1)
    if len(data) > _MAX_FILE_BYTES:
        raise ValidationError("spool file is too large")
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValidationError("spool file is not UTF-8") from None


def _move(path: Path, subdir: str) -> None:
    target_dir = path.parent / subdir
    target_dir.mkdir(exist_ok=True)
    path.replace(target_dir / path.name)


async def ingest_spool(
    spool_dir: Path, handle: Callable[[SpooledCall], Awaitable[None]]
) -> SpoolIngestReport:
    """Hand every pending spooled call to ``handle``, then move its file aside (see module doc)."""
    report = SpoolIngestReport()
    for path in await asyncio.to_thread(pending_spool_files, spool_dir):
        try:
            call = parse_spool_line(await asyncio.to_thread(_read, path))
        except ValidationError as exc:
            report.rejected += 1
            log.warning("spool_file_rejected", file=path.name, error=str(exc))
            try:
                await asyncio.to_thread(_move, path, REJECTED_DIR)
            except OSError as move_exc:
                log.warning("spool_move_failed", file=path.name, error=str(move_exc))
            continue
        except OSError as exc:
            # Unreadable now (permissions, I/O): not the file's fault, so retry at the next start.
            report.failed += 1
            log.warning("spool_file_unreadable", file=path.name, error=str(exc))
            continue
        try:
            await handle(call)
        except Exception:
            report.failed += 1
            log.exception("spool_handler_failed", file=path.name, uniqueid=call.uniqueid)
            continue
        await asyncio.to_thread(_move, path, PROCESSED_DIR)
        report.ingested += 1
        log.info(
            "spool_call_ingested",
            uniqueid=call.uniqueid,
            caller=mask_phone(call.caller),
            arrived_at=call.arrived_at.isoformat(),
            reason=call.reason,
        )
    if report.ingested or report.rejected or report.failed:
        log.info("spool_ingested", ingested=report.ingested, rejected=report.rejected, failed=report.failed)
    return report
