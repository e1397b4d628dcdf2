"""The authorities table, their reminder notifications, and the per-authority deadline views.

* ``AuthorityStore`` reads and edits the list (admins) and seeds it from the shipped file: only
  ids the table does not have are inserted, so an admin's edits and deactivations stay.
* Notifications are raised by ``callcenter.services.reminders`` once per (authority, appeal,
  kind, term) thanks to a unique key; an extension gives a new term and so a new reminder.
* ``deadline_rows`` is the "monitoring of timely consideration" query: appeals sent to an
  authority and still under consideration whose term in force ends before a given instant.

Every admin change is written to ``audit_log`` (subject ``authority:<id>``) in its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from callcenter.appeals.authorities import Authority, AuthorityKind, validate_list
from callcenter.appeals.model import OPEN_STATUSES, Status
from callcenter.errors import StorageError, ValidationError
from callcenter.logs import get_logger
from callcenter.storage.audit import record_audit

__all__ = [
    "AT_AUTHORITY",
    "AuthorityNotification",
    "AuthorityStore",
    "DeadlineRow",
    "NotificationKind",
]

log = get_logger(__name__)

NotificationKind = str  # 'due_soon' | 'overdue'
#: Statuses in which the appeal is the authority's to deal with: sent, in work, back for rework.
#: (Registered ones are not sent yet, not-in-competence ones are the centre's to re-route, and
#: answered ones await the centre's review.)
AT_AUTHORITY = sorted(
    s.value
    for s in (Status.SENT_TO_AUTHORITY, Status.IN_WORK, Status.RETURNED_FOR_REWORK)
    if s in OPEN_STATUSES
)
_COLUMNS = (
    "id",
    "name",
    "short_name",
    "kind",
    "parent_id",
    "email",
    "phone",
    "address",
    "active",
    "sort_order",
)


@dataclass(frozen=True, slots=True)
class AuthorityNotification:
    """One reminder in an authority's inbox."""

    id: int
    authority_id: str
    appeal_id: UUID
    kind: NotificationKind
    term: date
    number: str | None
    created_at: datetime
    read_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeadlineRow:
    """An appeal under consideration at an authority, with its term in force."""

    appeal_id: UUID
    number: str | None
    authority: str
    status: str
    term: date
    term_ends_at: datetime
    priority: bool


def _authority(row: Any) -> Authority:
    return Authority(
        id=row["id"],
        name=row["name"],
        kind=AuthorityKind(row["kind"]),
        short_name=row["short_name"],
        parent_id=row["parent_id"],
        email=row["email"],
        phone=row["phone"],
        address=row["address"],
        active=row["active"],
        sort_order=row["sort_order"],
    )


def _values(item: Authority) -> list[Any]:
    data = asdict(item)
    data["kind"] = item.kind.value
    return [data[c] for c in _COLUMNS]


def _notification(row: Any) -> AuthorityNotification:
    return AuthorityNotification(
        row["id"],
        row["authority_id"],
        row["appeal_id"],
        row["kind"],
        row["term"],
        row["number"],
        row["created_at"],
        row["read_at"],
    )


class AuthorityStore:
    """The authorities and their notifications over an asyncpg pool."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    # -- the list ------------------------------------------------------------------------------

    async def all(self, *, include_inactive: bool = False) -> list[Authority]:
        """The authorities in picker order (active ones only unless asked)."""
        sql = "SELECT * FROM authorities"
        if not include_inactive:
            sql += " WHERE active"
        rows = await self._pool.fetch(sql + " ORDER BY sort_order, name, id")
        return [_authority(r) for r in rows]

    async def get(self, authority_id: str) -> Authority | None:
        """The authority with this id, active or not."""
        row = await self._pool.fetchrow("SELECT * FROM authorities WHERE id = $1", authority_id)
        return _authority(row) if row else None

    async def seed(self, authorities: Iterable[Authority]) -> int:
        """Insert the ids the table lacks (parents first); return how many were added."""
        items = list(authorities)
        problems = validate_list(items)
        if problems:
            raise ValidationError("; ".join(problems), field="authorities")
        ordered = _parents_first(items)
        placeholders = ", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 1))
        sql = (
            f"INSERT INTO authorities ({', '.join(_COLUMNS)}) VALUES ({placeholders}) "
            "ON CONFLICT (id) DO NOTHING RETURNING id"
        )
        added = 0
        async with self._pool.acquire() as conn, conn.transaction():
            for item in ordered:
                if await conn.fetchval(sql, *_values(item)) is not None:
                    added += 1
        if added:
            log.info("authorities seeded", added=added)
        return added

    async def create(self, item: Authority, *, actor: str) -> Authority:
        """Add an authority; ValidationError when the id is taken or the parent is unknown."""
        placeholders = ", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 1))
        async with self._pool.acquire() as conn, conn.transaction():
            if await conn.fetchval("SELECT 1 FROM authorities WHERE id = $1", item.id):
                raise ValidationError(f"id: {item.id!r} is already taken", field="id")
            await self._check_parent(conn, item)
            await conn.execute(
                f"INSERT INTO authorities ({', '.join(_COLUMNS)}) VALUES ({placeholders})", *_values(item)
            )
            await record_audit(conn, actor, "authority.created", f"authority:{item.id}", _audit(item))
        return item

    async def update(self, item: Authority, *, actor: str) -> Authority:
        """Replace an authority's fields (its id stays); StorageError when there is none."""
        sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(_COLUMNS[1:], start=2))
        async with self._pool.acquire() as conn, conn.transaction():
            before = await conn.fetchrow("SELECT * FROM authorities WHERE id = $1 FOR UPDATE", item.id)
            if before is None:
                raise StorageError(f"no authority {item.id}")
            await self._check_parent(conn, item)
            await conn.execute(
                f"UPDATE authorities SET {sets}, updated_at = now() WHERE id = $1", *_values(item)
            )
            old = _audit(_authority(before))
            new = _audit(item)
            changes = {k: [old[k], new[k]] for k in new if old[k] != new[k]}
            await record_audit(conn, actor, "authority.updated", f"authority:{item.id}", {"changes": changes})
        return item

    async def _check_parent(self, conn: Any, item: Authority) -> None:
        if item.parent_id is None:
            return
        parent = item.parent_id
        seen = {item.id}
        while parent is not None:
            if parent in seen:
                raise ValidationError("parent: the parents would form a cycle", field="parent")
            seen.add(parent)
            row = await conn.fetchrow("SELECT parent_id FROM authorities WHERE id = $1", parent)
            if row is None:
                raise ValidationError(f"parent: no authority {parent!r}", field="parent")
            parent = row["parent_id"]

    # -- notifications -------------------------------------------------------------------------

    async def raise_notifications(
        self, items: Sequence[tuple[str, UUID, NotificationKind, date, str | None]], *, at: datetime
    ) -> int:
        """Insert reminders not raised before; return how many are new."""
        added = 0
        async with self._pool.acquire() as conn, conn.transaction():
            for authority_id, appeal_id, kind, term, number in items:
                new = await conn.fetchval(
                    """INSERT INTO authority_notifications
                           (authority_id, appeal_id, kind, term, number, created_at)
                       VALUES ($1, $2, $3, $4, $5, $6)
                       ON CONFLICT (authority_id, appeal_id, kind, term) DO NOTHING RETURNING id""",
                    authority_id,
                    appeal_id,
                    kind,
                    term,
                    number,
                    at,
                )
                added += new is not None
        return added

    async def notifications(
        self, authority_id: str, *, unread_only: bool = False, limit: int = 200
    ) -> list[AuthorityNotification]:
        """An authority's reminders, newest first."""
        sql = "SELECT * FROM authority_notifications WHERE lower(authority_id) = lower($1)"
        if unread_only:
            sql += " AND read_at IS NULL"
        rows = await self._pool.fetch(
            sql + " ORDER BY created_at DESC, id DESC LIMIT $2", authority_id, limit
        )
        return [_notification(r) for r in rows]

    async def mark_read(self, authority_id: str, notification_id: int, *, at: datetime) -> bool:
        """Mark one of the authority's reminders read; False when it has no such reminder."""
        done = await self._pool.fetchval(
            """UPDATE authority_notifications SET read_at = coalesce(read_at, $3)
               WHERE id = $2 AND lower(authority_id) = lower($1) RETURNING id""",
            authority_id,
            notification_id,
            at,
        )
        return done is not None

    # -- deadline views ------------------------------------------------------------------------

    async def deadline_rows(
        self, ends_before: datetime, *, authority_id: str | None = None, limit: int = 1000
    ) -> list[DeadlineRow]:
        """Appeals sent to an authority, under consideration, whose term ends before ``ends_before``."""
        args: list[Any] = [AT_AUTHORITY, ends_before, limit]
        sql = """SELECT id, number, authority, status, coalesce(extended_due, due) AS term,
                        due_ends_at, priority
                 FROM appeals
                 WHERE authority IS NOT NULL AND status = ANY($1)
                   AND due_ends_at < $2"""
        if authority_id is not None:
            args.append(authority_id)
            sql += " AND lower(authority) = lower($4)"
        sql += " ORDER BY due_ends_at, priority DESC, number LIMIT $3"
        rows = await self._pool.fetch(sql, *args)
        return [
            DeadlineRow(
                r["id"], r["number"], r["authority"], r["status"], r["term"], r["due_ends_at"], r["priority"]
            )
            for r in rows
        ]

    async def overdue_counts(self, now: datetime) -> dict[str, int]:
        """How many appeals each authority holds past their term (authority id → count)."""
        rows = await self._pool.fetch(
            """SELECT lower(authority) AS authority, count(*) AS n FROM appeals
               WHERE authority IS NOT NULL AND status = ANY($1)
                 AND due_ends_at <= $2
               GROUP BY lower(authority)""",
            AT_AUTHORITY,
            now,
        )
        return {r["authority"]: int(r["n"]) for r in rows}


def _audit(item: Authority) -> dict[str, Any]:
    data = asdict(item)
    data["kind"] = item.kind.value
    return data


def _parents_first(items: Sequence[Authority]) -> list[Authority]:
    by_id = {i.id: i for i in items}
    done: set[str] = set()
    ordered: list[Authority] = []

    def visit(item: Authority) -> None:
        if item.id in done:
            return
        done.add(item.id)
        if item.parent_id in by_id:
            visit(by_id[item.parent_id])
        ordered.append(item)

    for item in items:
        visit(item)
    return ordered
