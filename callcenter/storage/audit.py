"""The audit trail: who did what to which subject, and when.

Every feature that changes an appeal, lets someone listen to or export a recording, or does an
admin action calls ``record_audit``; ``fetch_audit`` reads the trail back for the admin page and
for tests. The table (``audit_log``, migration 0001) is append-only (trigger in 0051).

Phone numbers are personal data and the audit trail usually outlives the data it talks about,
so values under the phone keys of ``callcenter.logs.PHONE_KEYS`` in ``details`` are masked
before they are stored (``mask=False`` for the rare caller that stores its own masked form).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from callcenter.logs import PHONE_KEYS, mask_phone

__all__ = ["SYSTEM_ACTOR", "AuditEntry", "fetch_audit", "mask_details", "record_audit"]

#: Actor names for changes no person made.
SYSTEM_ACTOR = "system"

_MAX_FETCH = 1000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit trail."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]


def mask_details(value: Any) -> Any:
    """``value`` with every phone-number value (under a ``PHONE_KEYS`` key, at any depth) masked."""
    if isinstance(value, Mapping):
        return {
            str(k): (mask_phone(str(v)) if k in PHONE_KEYS and v is not None else mask_details(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_details(v) for v in value]
    return value


async def record_audit(
    conn_or_pool: Any,
    actor: str,
    action: str,
    subject: str = "",
    details: Mapping[str, Any] | None = None,
    *,
    mask: bool = True,
) -> int:
    """Append one entry; returns its id.

    ``conn_or_pool`` is an asyncpg connection (so the entry commits or rolls back with the
    change it describes, inside the caller's transaction) or a pool. ``action`` is a dotted
    verb such as ``appeal.update``, ``recording.listen``, ``user.create``.
    """
    if not actor or not action:
        raise ValueError("an audit entry needs an actor and an action")
    stored = mask_details(dict(details or {})) if mask else dict(details or {})
    entry_id: int = await conn_or_pool.fetchval(
        "INSERT INTO audit_log (actor, action, subject, details) VALUES ($1, $2, $3, $4) RETURNING id",
        actor,
        action,
        subject,
        stored,
    )
    return entry_id


async def fetch_audit(
    conn_or_pool: Any,
    *,
    actor: str | None = None,
    action: str | None = None,
    action_prefix: str | None = None,
    subject: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Entries matching every filter given, newest first, at most ``limit`` (capped at 1000).

    ``action_prefix`` selects a family (``"user."``); ``before_id`` pages backwards: pass the
    smallest id of the previous page.
    """
    clauses: list[str] = []
    args: list[Any] = []

    def where(sql: str, value: Any) -> None:
        args.append(value)
        clauses.append(sql.format(f"${len(args)}"))

    if actor is not None:
        where("actor = {}", actor)
    if action is not None:
        where("action = {}", action)
    if action_prefix is not None:
        # starts_with rather than LIKE, so '_' and '%' in the prefix mean themselves.
        where("starts_with(action, {})", action_prefix)
    if subject is not None:
        where("subject = {}", subject)
    if since is not None:
        where("at >= {}", since)
    if until is not None:
        where("at < {}", until)
    if before_id is not None:
        where("id < {}", before_id)
    args.append(max(1, min(limit, _MAX_FETCH)))
    sql = "SELECT id, at, actor, action, subject, details FROM audit_log"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += f" ORDER BY id DESC LIMIT ${len(args)}"
    rows = await conn_or_pool.fetch(sql, *args)
    return [
        AuditEntry(
            id=row["id"],
            at=row["at"],
            actor=row["actor"],
            action=row["action"],
            subject=row["subject"],
            details=dict(row["details"]),
        )
        for row in rows
    ]
