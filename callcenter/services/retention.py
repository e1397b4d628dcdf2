"""The recordings retention job: deletes files past their queue's retention period.

Each queue keeps its recordings for the days an admin set (``recording_retention``), or for the
configured default. A recording of an appeal under a legal hold is kept whatever its age. For
each expired, unheld recording the job removes the file, marks the row deleted and writes a
``recording.deleted`` audit entry, one recording per transaction (so a crash mid-run loses
nothing and the next run carries on). Dry-run lists what would go and touches nothing.

``run_forever`` is the scheduled form: a background task that runs the job every interval and
also finishes recordings left running by calls a restart lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import asyncpg

from callcenter.errors import CallcenterError
from callcenter.logs import get_logger
from callcenter.services.recordings import RecordingService, resolve_recording
from callcenter.storage.audit import SYSTEM_ACTOR
from callcenter.storage.recordings import Recording, RecordingRepository

__all__ = ["DEFAULT_RETENTION_DAYS", "DEFAULT_RETENTION_INTERVAL_S", "RetentionJob", "RetentionReport"]

log = get_logger(__name__)

#: Days a recording is kept when its queue has no period of its own (a year: appeals are
#: considered within 45 days at most, and complaints about their handling come within months).
DEFAULT_RETENTION_DAYS = 365
#: How often the scheduled job runs.
DEFAULT_RETENTION_INTERVAL_S = 3600.0
_BATCH = 500


@dataclass
class RetentionReport:
    """What one run did (or, in a dry run, would do)."""

    dry_run: bool
    deleted: list[Recording] = field(default_factory=list)
    kept_on_hold: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)  # (recording id, why)


class RetentionJob:
    """Deletes expired recordings; see the module docstring."""

    def __init__(
        self,
        repository: RecordingRepository,
        root: Path,
        *,
        default_days: int = DEFAULT_RETENTION_DAYS,
        clock: Callable[[], datetime],
    ) -> None:
        if default_days < 1:
            raise ValueError("retention must be at least one day")
        self.repository = repository
        self.root = root
        self.default_days = default_days
        self.clock = clock

    async def run(
        self, now: datetime | None = None, *, dry_run: bool = False, actor: str = SYSTEM_ACTOR
    ) -> RetentionReport:
        """Delete (or, with ``dry_run``, list) every recording expired at ``now`` and not held."""
        now = now or self.clock()
        report = RetentionReport(dry_run=dry_run)
        report.kept_on_hold = await self.repository.expired_but_held(now, self.default_days)
        seen: set[int] = set()
        while True:
            batch = [
                r
                for r in await self.repository.expired(now, self.default_days, limit=_BATCH)
                if r.id not in seen
            ]
            if not batch:
                break
            for recording in batch:
                seen.add(recording.id)
                if dry_run:
                    report.deleted.append(recording)
                    continue
                await self._delete(recording, now, actor, report)
            if dry_run or len(batch) < _BATCH:
                break
        log.info(
            "retention_run",
            dry_run=dry_run,
            deleted=len(report.deleted),
            kept_on_hold=report.kept_on_hold,
            failed=len(report.failed),
        )
        return report

    async def _delete(self, recording: Recording, now: datetime, actor: str, report: RetentionReport) -> None:
        try:
            deleted = await self.repository.delete_expired(
                recording.id,
                now=now,
                default_days=self.default_days,
                actor=actor,
                remove_file=self._remove_file,
                details={"reason": "retention"},
            )
        except (OSError, ValueError, CallcenterError, asyncpg.PostgresError) as exc:
            log.error("retention_delete_failed", recording_id=recording.id, error=str(exc))
            report.failed.append((recording.id, str(exc)))
            return
        if deleted is not None:  # None: held or taken by another run meanwhile
            report.deleted.append(deleted)

    async def _remove_file(self, recording: Recording) -> None:
        path = resolve_recording(self.root, recording.path)
        # A file already gone (never written, removed by hand) is what we want: not an error.
        await asyncio.to_thread(path.unlink, missing_ok=True)

    async def run_forever(
        self,
        interval_s: float,
        stop: asyncio.Event,
        *,
        recordings: RecordingService | None = None,
    ) -> None:
        """Run the job every ``interval_s`` seconds until ``stop`` is set; a failed run is logged."""
        while not stop.is_set():
            try:
                if recordings is not None:
                    await recordings.finish_stale(self.clock())
                await self.run()
            except (OSError, CallcenterError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.error("retention_run_failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval_s):  # not wait_for: it can swallow a cancel
                    await stop.wait()
