"""Call recordings in PostgreSQL: the rows, the legal holds, the per-queue retention periods.

Tables of migration 0060. A row is inserted when MixMonitor starts (status ``recording``), so a
backend that restarts mid-call still knows a file is due; ``complete`` writes what the check of
the file found. Retention never removes a row: it sets ``deleted_at`` after the file is gone, so
the row (with its checksum) stays as the proof of what existed and when it was destroyed.

Every change a person makes here (a legal hold, a retention period) and every deletion writes
its ``audit_log`` row in the same transaction as the change itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import asyncpg

from callcenter.errors import StorageError, ValidationError
from callcenter.storage.audit import record_audit

__all__ = [
    "LegalHold",
    "Recording",
    "RecordingRepository",
    "RecordingStatus",
    "recording_subject",
]

_MAX_ROWS = 1000


class RecordingStatus(StrEnum):
    """Where a recording stands (the ``status`` column)."""

    RECORDING = "recording"
    OK = "ok"
    MISSING = "missing"
    EMPTY = "empty"
    BROKEN = "broken"
    SKIPPED = "skipped"
    NO_CONVERSATION = "no_conversation"


@dataclass(frozen=True, slots=True)
class Recording:
    """One recorded leg pair of a call; ``path`` is relative to the recordings root."""

    id: int
    linkedid: str
    leg: int
    appeal_id: UUID | None
    queue: str | None
    agent: str | None
    path: str
    bytes: int | None
    duration_ms: int | None
    sha256: str | None
    status: RecordingStatus
    problem: str | None
    flagged: bool
    started_at: datetime
    ended_at: datetime | None
    deleted_at: datetime | None

    @property
    def playable(self) -> bool:
        """True when there is a checked file to serve."""
        return self.status is RecordingStatus.OK and self.deleted_at is None


@dataclass(frozen=True, slots=True)
class LegalHold:
    """A legal hold on an appeal: its recordings outlive their retention period."""

    appeal_id: UUID
    reason: str
    set_by: str
    set_at: datetime


def recording_subject(recording_id: int) -> str:
    """The audit subject of a recording (``recording:<id>``)."""
    return f"recording:{recording_id}"


def _recording(row: Any) -> Recording:
    return Recording(
        id=row["id"],
        linkedid=row["linkedid"],
        leg=row["leg"],
        appeal_id=row["appeal_id"],
        queue=row["queue"],
        agent=row["agent"],
        path=row["path"],
        bytes=row["bytes"],
        duration_ms=row["duration_ms"],
        sha256=row["sha256"],
        status=RecordingStatus(row["status"]),
        problem=row["problem"],
        flagged=row["flagged"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        deleted_at=row["deleted_at"],
    )


_COLUMNS = (
    "id, linkedid, leg, appeal_id, queue, agent, path, bytes, duration_ms, sha256, status, problem,"
    " flagged, started_at, ended_at, deleted_at"
)

# A recording is expired when it started longer ago than its queue's retention (or the default),
# and kept when its appeal (linked, or found by the call's linkedid) is under a legal hold.
_EXPIRED = """
    r.deleted_at IS NULL AND r.status <> 'recording'
    AND r.started_at < $1::timestamptz - make_interval(days => COALESCE(
        (SELECT q.days FROM recording_retention q WHERE q.queue = r.queue), $2::integer))
"""
_HELD = """
    EXISTS (SELECT 1 FROM appeal_legal_holds h
            WHERE h.appeal_id = r.appeal_id
               OR h.appeal_id = (SELECT a.id FROM appeals a WHERE a.linkedid = r.linkedid))
"""


class RecordingRepository:
    """Recording rows, legal holds and retention periods over an asyncpg pool."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @property
    def pool(self) -> Any:
        """The pool, for writing audit entries beside the recordings."""
        return self._pool

    # -- capture ---------------------------------------------------------------------------

    async def start(
        self,
        linkedid: str,
        path_for_leg: Callable[[int], str],
        *,
        started_at: datetime,
        status: RecordingStatus = RecordingStatus.RECORDING,
        problem: str | None = None,
    ) -> Recording:
        """Insert the row of a recording that starts now (or was skipped: ``status``/``problem``).

        The leg is the call's next one (1 for the first hand-off to an agent, 2 after a re-queue…)
        and ``path_for_leg(leg)`` names its file.
        """
        if not linkedid:
            raise ValidationError("a recording needs the call's linkedid", field="linkedid")
        flagged = status not in (RecordingStatus.RECORDING, RecordingStatus.OK)
        for _attempt in range(5):
            leg = 1 + int(
                await self._pool.fetchval(
                    "SELECT COALESCE(max(leg), 0) FROM recordings WHERE linkedid = $1", linkedid
                )
            )
            try:
                row = await self._pool.fetchrow(
                    f"""INSERT INTO recordings (linkedid, leg, path, status, problem, flagged, started_at)
                        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}""",
                    linkedid,
                    leg,
                    path_for_leg(leg),
                    status.value,
                    problem,
                    flagged,
                    started_at,
                )
            except asyncpg.UniqueViolationError:
                continue  # a concurrent start took this leg: take the next one
            return _recording(row)
        raise StorageError(f"could not allocate a recording leg for call {linkedid}")

    async def unfinished(self, linkedid: str) -> list[Recording]:
        """The call's recordings still marked as running."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM recordings WHERE linkedid = $1 AND status = 'recording' ORDER BY leg",
            linkedid,
        )
        return [_recording(r) for r in rows]

    async def stale(self, started_before: datetime, *, limit: int = 500) -> list[Recording]:
        """Recordings still marked as running that started before ``started_before`` (lost calls)."""
        rows = await self._pool.fetch(
            f"""SELECT {_COLUMNS} FROM recordings WHERE status = 'recording' AND started_at < $1
                ORDER BY started_at LIMIT $2""",
            started_before,
            limit,
        )
        return [_recording(r) for r in rows]

    async def complete(
        self,
        recording_id: int,
        *,
        status: RecordingStatus,
        ended_at: datetime,
        size: int | None,
        duration_ms: int | None,
        sha256: str | None,
        problem: str | None,
        appeal_id: UUID | None,
        queue: str | None,
        agent: str | None,
    ) -> Recording | None:
        """Write the result of the file check and the links to the call's appeal, queue and agent.

        Anything but ``ok`` and ``no_conversation`` is flagged for supervisors. Only a row still
        ``recording`` is changed: None when another check finished it first (or there is none).
        """
        flagged = status not in (RecordingStatus.OK, RecordingStatus.NO_CONVERSATION)
        row = await self._pool.fetchrow(
            f"""UPDATE recordings SET status = $2, ended_at = $3, bytes = $4, duration_ms = $5,
                       sha256 = $6, problem = $7, flagged = $8,
                       appeal_id = COALESCE($9, appeal_id), queue = COALESCE($10, queue),
                       agent = COALESCE($11, agent)
                WHERE id = $1 AND status = 'recording' RETURNING {_COLUMNS}""",
            recording_id,
            status.value,
            ended_at,
            size,
            duration_ms,
            sha256,
            problem,
            flagged,
            appeal_id,
            queue,
            agent,
        )
        return _recording(row) if row is not None else None

    # -- reading ---------------------------------------------------------------------------

    async def get(self, recording_id: int) -> Recording | None:
        """The recording with this id, deleted ones included."""
        row = await self._pool.fetchrow(f"SELECT {_COLUMNS} FROM recordings WHERE id = $1", recording_id)
        return _recording(row) if row else None

    async def for_call(self, linkedid: str) -> list[Recording]:
        """Every recording of the call, in leg order."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM recordings WHERE linkedid = $1 ORDER BY leg", linkedid
        )
        return [_recording(r) for r in rows]

    async def for_appeal(self, appeal_id: UUID) -> list[Recording]:
        """Every recording linked to the appeal, or of the call the appeal was opened for."""
        rows = await self._pool.fetch(
            f"""SELECT {_COLUMNS} FROM recordings
                WHERE appeal_id = $1 OR linkedid = (SELECT linkedid FROM appeals WHERE id = $1)
                ORDER BY started_at, leg""",
            appeal_id,
        )
        return [_recording(r) for r in rows]

    async def flagged(self, *, limit: int = 200) -> list[Recording]:
        """Recordings flagged for supervisors (not deleted), newest first."""
        rows = await self._pool.fetch(
            f"""SELECT {_COLUMNS} FROM recordings WHERE flagged AND deleted_at IS NULL
                ORDER BY started_at DESC, id DESC LIMIT $1""",
            max(1, min(limit, _MAX_ROWS)),
        )
        return [_recording(r) for r in rows]

    # -- legal holds -----------------------------------------------------------------------

    async def hold(self, appeal_id: UUID) -> LegalHold | None:
        """The legal hold on the appeal, if any."""
        row = await self._pool.fetchrow(
            "SELECT appeal_id, reason, set_by, set_at FROM appeal_legal_holds WHERE appeal_id = $1",
            appeal_id,
        )
        return LegalHold(row["appeal_id"], row["reason"], row["set_by"], row["set_at"]) if row else None

    async def set_hold(self, appeal_id: UUID, *, reason: str, actor: str, at: datetime) -> LegalHold:
        """Put the appeal under a legal hold (or change its reason); audited."""
        reason = reason.strip()
        if not reason:
            raise ValidationError("a legal hold needs a reason", field="reason")
        async with self._pool.acquire() as conn, conn.transaction():
            exists = await conn.fetchval("SELECT 1 FROM appeals WHERE id = $1", appeal_id)
            if not exists:
                raise StorageError(f"no appeal record {appeal_id}")
            await conn.execute(
                """INSERT INTO appeal_legal_holds (appeal_id, reason, set_by, set_at)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (appeal_id) DO UPDATE
                   SET reason = EXCLUDED.reason, set_by = EXCLUDED.set_by, set_at = EXCLUDED.set_at""",
                appeal_id,
                reason,
                actor,
                at,
            )
            await record_audit(
                conn,
                actor,
                "appeal.legal_hold",
                f"appeal:{appeal_id}",
                {"reason": reason, "at": at.isoformat()},
            )
        return LegalHold(appeal_id, reason, actor, at)

    async def release_hold(self, appeal_id: UUID, *, actor: str, at: datetime) -> bool:
        """Lift the appeal's legal hold; False when there was none (nothing is audited then)."""
        async with self._pool.acquire() as conn, conn.transaction():
            reason = await conn.fetchval(
                "DELETE FROM appeal_legal_holds WHERE appeal_id = $1 RETURNING reason", appeal_id
            )
            if reason is None:
                return False
            await record_audit(
                conn,
                actor,
                "appeal.legal_hold_released",
                f"appeal:{appeal_id}",
                {"reason": reason, "at": at.isoformat()},
            )
        return True

    # -- retention -------------------------------------------------------------------------

    async def retention_days(self) -> dict[str, int]:
        """The per-queue retention periods admins have set (queue -> days)."""
        rows = await self._pool.fetch("SELECT queue, days FROM recording_retention ORDER BY queue")
        return {r["queue"]: r["days"] for r in rows}

    async def set_retention(self, queue: str, days: int | None, *, actor: str, at: datetime) -> None:
        """Set the queue's retention period in days (None: back to the default); audited."""
        queue = queue.strip()
        if not queue:
            raise ValidationError("a queue name is needed", field="queue")
        if days is not None and not 1 <= days <= 36500:
            raise ValidationError("days: a whole number from 1 to 36500", field="days")
        async with self._pool.acquire() as conn, conn.transaction():
            before = await conn.fetchval("SELECT days FROM recording_retention WHERE queue = $1", queue)
            if days is None:
                await conn.execute("DELETE FROM recording_retention WHERE queue = $1", queue)
            else:
                await conn.execute(
                    """INSERT INTO recording_retention (queue, days, set_by, set_at) VALUES ($1, $2, $3, $4)
                       ON CONFLICT (queue) DO UPDATE
                       SET days = EXCLUDED.days, set_by = EXCLUDED.set_by, set_at = EXCLUDED.set_at""",
                    queue,
                    days,
                    actor,
                    at,
                )
            await record_audit(
                conn, actor, "recording.retention_set", f"queue:{queue}", {"before": before, "after": days}
            )

    async def expired(self, now: datetime, default_days: int, *, limit: int = 500) -> list[Recording]:
        """Recordings past their retention period and not under a legal hold, oldest first."""
        rows = await self._pool.fetch(
            f"""SELECT {_COLUMNS} FROM recordings r WHERE {_EXPIRED} AND NOT {_HELD}
                ORDER BY started_at, id LIMIT $3""",
            now,
            default_days,
            max(1, min(limit, 10 * _MAX_ROWS)),
        )
        return [_recording(r) for r in rows]

    async def expired_but_held(self, now: datetime, default_days: int) -> int:
        """How many recordings are past their retention period but kept by a legal hold."""
        count = await self._pool.fetchval(
            f"SELECT count(*) FROM recordings r WHERE {_EXPIRED} AND {_HELD}", now, default_days
        )
        return int(count)

    async def delete_expired(
        self,
        recording_id: int,
        *,
        now: datetime,
        default_days: int,
        actor: str,
        remove_file: Callable[[Recording], Awaitable[None]],
        details: Mapping[str, Any] | None = None,
    ) -> Recording | None:
        """Delete one recording if it is (still) expired and unheld: file, then row, then audit.

        The row is locked and the condition checked again, so a legal hold set a moment ago wins.
        ``remove_file`` raising leaves the row as it was. None when the recording is not eligible.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"""SELECT {_COLUMNS} FROM recordings r
                    WHERE r.id = $3 AND {_EXPIRED} AND NOT {_HELD} FOR UPDATE SKIP LOCKED""",
                now,
                default_days,
                recording_id,
            )
            if row is None:
                return None
            recording = _recording(row)
            await remove_file(recording)
            row = await conn.fetchrow(
                f"UPDATE recordings SET deleted_at = $2 WHERE id = $1 RETURNING {_COLUMNS}",
                recording_id,
                now,
            )
            await record_audit(
                conn,
                actor,
                "recording.deleted",
                recording_subject(recording_id),
                {
                    "linkedid": recording.linkedid,
                    "queue": recording.queue,
                    "appeal_id": str(recording.appeal_id) if recording.appeal_id else None,
                    "path": recording.path,
                    "sha256": recording.sha256,
                    "started_at": recording.started_at.isoformat(),
                    **(details or {}),
                },
            )
        return _recording(row)
