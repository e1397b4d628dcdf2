"""The retention job: exactly the expired, unheld recordings go; each deletion is audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from callcenter.services.recordings import check_file, recording_relpath
from callcenter.services.retention import RetentionJob
from callcenter.storage.appeals import AppealRepository
from callcenter.storage.audit import fetch_audit
from callcenter.storage.recordings import Recording, RecordingRepository, RecordingStatus, recording_subject

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


async def make_recording(
    pool: Any, root: Path, *, age_days: float, queue: str | None, appeal: bool = False
) -> tuple[Recording, uuid.UUID | None]:
    """A finished ok recording started ``age_days`` before NOW, with its file on disk."""
    repo = RecordingRepository(pool)
    linkedid = f"{uuid.uuid4().int % 10**9}.{uuid.uuid4().int % 100}"
    started = NOW - timedelta(days=age_days)
    appeal_id = None
    if appeal:
        record = await AppealRepository(pool).open_for_call(
            linkedid, caller=None, dnid=None, arrived_at=started
        )
        appeal_id = record.id
    row = await repo.start(
        linkedid, lambda leg: recording_relpath(linkedid, started, leg), started_at=started
    )
    path = root / row.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF")
    done = await repo.complete(
        row.id,
        status=RecordingStatus.OK,
        ended_at=started,
        size=4,
        duration_ms=1,
        sha256="a" * 64,
        problem=None,
        appeal_id=appeal_id,
        queue=queue,
        agent="op101",
    )
    assert done is not None
    return done, appeal_id


async def clear(pool: Any) -> None:
    await pool.execute("TRUNCATE recordings, appeal_legal_holds, recording_retention")


async def test_deletes_exactly_the_expired_unheld_recordings(db_pool: Any, tmp_path: Path) -> None:
    """Per-queue periods and the default decide expiry; a legal hold keeps a recording; files and rows follow."""
    await clear(db_pool)
    repo = RecordingRepository(db_pool)
    await repo.set_retention("psych", 30, actor="admin", at=NOW)
    old_general, _ = await make_recording(
        db_pool, tmp_path, age_days=100, queue="general"
    )  # default 90: expired
    young_general, _ = await make_recording(db_pool, tmp_path, age_days=80, queue="general")  # kept
    old_psych, _ = await make_recording(db_pool, tmp_path, age_days=31, queue="psych")  # 30 days: expired
    young_psych, _ = await make_recording(db_pool, tmp_path, age_days=29, queue="psych")  # kept
    no_queue, _ = await make_recording(db_pool, tmp_path, age_days=91, queue=None)  # default: expired
    held, held_appeal = await make_recording(db_pool, tmp_path, age_days=400, queue="general", appeal=True)
    assert held_appeal is not None
    await repo.set_hold(held_appeal, reason="court case 123/45", actor="sup", at=NOW)

    job = RetentionJob(repo, tmp_path, default_days=90, clock=lambda: NOW)
    report = await job.run()

    expired = {old_general.id, old_psych.id, no_queue.id}
    assert {r.id for r in report.deleted} == expired
    assert report.kept_on_hold == 1 and report.failed == []
    for rec in (old_general, old_psych, no_queue):
        assert not (tmp_path / rec.path).exists()
        after = await repo.get(rec.id)
        assert after is not None and after.deleted_at == NOW
        [entry] = await fetch_audit(db_pool, action="recording.deleted", subject=recording_subject(rec.id))
        assert entry.actor == "system" and entry.details["sha256"] == "a" * 64
    for rec in (young_general, young_psych, held):
        assert (tmp_path / rec.path).exists()
        after = await repo.get(rec.id)
        assert after is not None and after.deleted_at is None
    # Nothing is left to do: a second run deletes nothing.
    assert (await job.run()).deleted == []


async def test_dry_run_lists_without_touching(db_pool: Any, tmp_path: Path) -> None:
    """A dry run names the expired recordings but deletes no file, no row, and audits nothing."""
    await clear(db_pool)
    repo = RecordingRepository(db_pool)
    old, _ = await make_recording(db_pool, tmp_path, age_days=10, queue="general")
    job = RetentionJob(repo, tmp_path, default_days=5, clock=lambda: NOW)
    report = await job.run(dry_run=True)
    assert [r.id for r in report.deleted] == [old.id] and report.dry_run
    assert check_file(tmp_path / old.path).size == 4
    after = await repo.get(old.id)
    assert after is not None and after.deleted_at is None
    assert await fetch_audit(db_pool, action="recording.deleted", subject=recording_subject(old.id)) == []


async def test_released_hold_lets_retention_delete(db_pool: Any, tmp_path: Path) -> None:
    """Once the hold is lifted (audited), the next run deletes the recording."""
    await clear(db_pool)
    repo = RecordingRepository(db_pool)
    rec, appeal_id = await make_recording(db_pool, tmp_path, age_days=50, queue="general", appeal=True)
    assert appeal_id is not None
    await repo.set_hold(appeal_id, reason="prosecutor request", actor="sup", at=NOW)
    job = RetentionJob(repo, tmp_path, default_days=30, clock=lambda: NOW)
    assert (await job.run()).deleted == []
    assert await repo.release_hold(appeal_id, actor="sup", at=NOW)
    assert not await repo.release_hold(appeal_id, actor="sup", at=NOW)
    assert [r.id for r in (await job.run()).deleted] == [rec.id]
    actions = [e.action for e in await fetch_audit(db_pool, subject=f"appeal:{appeal_id}")]
    assert "appeal.legal_hold" in actions and "appeal.legal_hold_released" in actions


async def test_hold_set_after_listing_still_wins(db_pool: Any, tmp_path: Path) -> None:
    """The row is re-checked under lock: a hold set between the listing and the deletion keeps it."""
    await clear(db_pool)
    repo = RecordingRepository(db_pool)
    rec, appeal_id = await make_recording(db_pool, tmp_path, age_days=50, queue="general", appeal=True)
    assert appeal_id is not None
    [listed] = await repo.expired(NOW, 30)
    await repo.set_hold(appeal_id, reason="late hold", actor="sup", at=NOW)

    async def remove(_: Recording) -> None:
        raise AssertionError("the file of a held recording must not be removed")

    assert (
        await repo.delete_expired(listed.id, now=NOW, default_days=30, actor="system", remove_file=remove)
        is None
    )
    assert (tmp_path / rec.path).exists()


async def test_failed_file_removal_keeps_the_row(db_pool: Any, tmp_path: Path) -> None:
    """When the file cannot be removed the row stays undeleted and the failure is reported."""
    await clear(db_pool)
    repo = RecordingRepository(db_pool)
    rec, _ = await make_recording(db_pool, tmp_path, age_days=50, queue="general")
    # A directory where the file should be: unlink fails with IsADirectoryError.
    (tmp_path / rec.path).unlink()
    (tmp_path / rec.path).mkdir()
    report = await RetentionJob(repo, tmp_path, default_days=30, clock=lambda: NOW).run()
    assert report.deleted == [] and [i for i, _ in report.failed] == [rec.id]
    after = await repo.get(rec.id)
    assert after is not None and after.deleted_at is None


async def test_missing_file_rows_expire_too(db_pool: Any, tmp_path: Path) -> None:
    """A flagged row whose file never existed is marked deleted when it expires."""
    await clear(db_pool)
    repo = RecordingRepository(db_pool)
    rec, _ = await make_recording(db_pool, tmp_path, age_days=50, queue="general")
    (tmp_path / rec.path).unlink()
    report = await RetentionJob(repo, tmp_path, default_days=30, clock=lambda: NOW).run()
    assert [r.id for r in report.deleted] == [rec.id]
