"""Capture and check against PostgreSQL: start, finish, link, flag, skip on a full disk, stale rows."""

from __future__ import annotations

import uuid
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from callcenter.appeals.calls import AgentAnswered, EnteredQueue
from callcenter.services.recordings import DiskMonitor, RecordingService
from callcenter.storage.appeals import AppealRepository
from callcenter.storage.recordings import RecordingRepository, RecordingStatus
from callcenter.telephony.agi_errors import AgiCommandError

AT = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
PLENTY = (10**12, 2 * 10**12)


def write_wav(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x00\x00" * int(seconds * 8000))


@dataclass
class FakeSession:
    """An AGI session whose MixMonitor is remembered (and can be told to fail)."""

    execs: list[tuple[str, str]] = field(default_factory=list)
    result: int = 0
    error: Exception | None = None

    async def exec(self, application: str, options: str = "") -> int:
        self.execs.append((application, options))
        if self.error is not None:
            raise self.error
        return self.result


def resolved(path: Path) -> Path:
    return path.resolve()


def new_linkedid() -> str:
    return f"17{uuid.uuid4().int % 10**8}.{uuid.uuid4().int % 100}"


@pytest.fixture
def make_service(db_pool: Any, tmp_path: Path) -> Callable[..., RecordingService]:
    def make(usage: tuple[int, int] = PLENTY, pbx_root: PurePosixPath | None = None) -> RecordingService:
        return RecordingService(
            RecordingRepository(db_pool),
            AppealRepository(db_pool),
            tmp_path,
            DiskMonitor(tmp_path, usage=lambda _: usage),
            pbx_root=pbx_root,
            file_wait_s=0.2,
        )

    return make


async def answered_call(
    db_pool: Any, linkedid: str, agent: str = "op101", queue: str = "general"
) -> uuid.UUID:
    appeals = AppealRepository(db_pool)
    appeal = await appeals.open_for_call(linkedid, caller="380501234567", dnid="0800507506", arrived_at=AT)
    await appeals.apply_call_progress(EnteredQueue(linkedid, queue, AT))
    await appeals.apply_call_progress(AgentAnswered(linkedid, agent, AT + timedelta(seconds=20)))
    return appeal.id


async def test_start_sends_mixmonitor_with_b_under_the_dated_folder(
    make_service: Callable[..., RecordingService], tmp_path: Path
) -> None:
    """The hook runs ``MixMonitor <root>/YYYY/MM/DD/<linkedid>.wav,b`` and stores a running row."""
    service = make_service()
    session = FakeSession()
    linkedid = new_linkedid()
    started = await service.start_recording(session, linkedid, AT)
    assert started is not None
    assert started.relpath == f"2026/11/24/{linkedid}.wav"
    assert session.execs == [("MixMonitor", f"{resolved(tmp_path)}/2026/11/24/{linkedid}.wav,b")]
    assert (tmp_path / "2026" / "11" / "24").is_dir()
    rows = await service.repository.for_call(linkedid)
    assert [(r.status, r.leg, r.flagged) for r in rows] == [(RecordingStatus.RECORDING, 1, False)]


async def test_pbx_root_names_the_file_as_the_pbx_sees_it(
    make_service: Callable[..., RecordingService],
) -> None:
    """With a shared mount at another path on the PBX, MixMonitor gets the PBX's path."""
    service = make_service(pbx_root=PurePosixPath("/var/spool/asterisk/monitor/cc"))
    session = FakeSession()
    linkedid = new_linkedid()
    await service.start_recording(session, linkedid, AT)
    assert session.execs[0][1] == f"/var/spool/asterisk/monitor/cc/2026/11/24/{linkedid}.wav,b"


async def test_finish_checks_checksums_and_links_to_the_appeal(
    make_service: Callable[..., RecordingService], db_pool: Any, tmp_path: Path
) -> None:
    """A good file becomes ok with size, duration and SHA-256, linked to the appeal, queue and agent."""
    import hashlib

    service = make_service()
    linkedid = new_linkedid()
    appeal_id = await answered_call(db_pool, linkedid, agent="op104", queue="veterans")
    started = await service.start_recording(FakeSession(), linkedid, AT)
    assert started is not None
    write_wav(tmp_path / started.relpath, 3.5)
    [done] = await service.finish(linkedid, AT + timedelta(minutes=5))
    assert done.status is RecordingStatus.OK and not done.flagged
    assert done.duration_ms == 3500
    assert done.sha256 == hashlib.sha256((tmp_path / started.relpath).read_bytes()).hexdigest()
    assert (done.appeal_id, done.queue, done.agent) == (appeal_id, "veterans", "op104")
    assert [r.id for r in await service.repository.for_appeal(appeal_id)] == [done.id]
    assert service.counts["finished_ok"] == 1
    # A second finish finds nothing running: idempotent.
    assert await service.finish(linkedid, AT + timedelta(minutes=6)) == []


async def test_missing_and_broken_files_are_flagged_never_dropped(
    make_service: Callable[..., RecordingService], db_pool: Any, tmp_path: Path
) -> None:
    """An answered call without a file is ``missing``; a garbage file is ``broken``; both flagged."""
    service = make_service()
    gone, junk = new_linkedid(), new_linkedid()
    for linkedid in (gone, junk):
        await answered_call(db_pool, linkedid)
        await service.start_recording(FakeSession(), linkedid, AT)
    (tmp_path / "2026/11/24" / f"{junk}.wav").write_bytes(b"not a wav file at all")
    [missing] = await service.finish(gone, AT)
    [broken] = await service.finish(junk, AT)
    assert (missing.status, missing.flagged) == (RecordingStatus.MISSING, True)
    assert (broken.status, broken.flagged) == (RecordingStatus.BROKEN, True)
    flagged_ids = {r.id for r in await service.repository.flagged()}
    assert {missing.id, broken.id} <= flagged_ids


async def test_unanswered_call_without_audio_is_not_flagged(
    make_service: Callable[..., RecordingService], db_pool: Any
) -> None:
    """A caller who left the queue before an agent answered leaves ``no_conversation``, not a flag."""
    service = make_service()
    linkedid = new_linkedid()
    appeals = AppealRepository(db_pool)
    await appeals.open_for_call(linkedid, caller=None, dnid=None, arrived_at=AT)
    await service.start_recording(FakeSession(), linkedid, AT)
    [row] = await service.finish(linkedid, AT)
    assert (row.status, row.flagged) == (RecordingStatus.NO_CONVERSATION, False)


async def test_disk_low_skips_recording_and_the_call_goes_on(
    make_service: Callable[..., RecordingService],
) -> None:
    """Below the free-space threshold no MixMonitor is sent; a flagged ``skipped`` row says why."""
    service = make_service(usage=(10, 10**12))
    session = FakeSession()
    linkedid = new_linkedid()
    assert await service.start_recording(session, linkedid, AT) is None
    assert session.execs == []
    [row] = await service.repository.for_call(linkedid)
    assert row.status is RecordingStatus.SKIPPED and row.flagged and "disk low" in (row.problem or "")
    assert service.counts["skipped_disk"] == 1


async def test_refused_mixmonitor_is_flagged_and_not_raised(
    make_service: Callable[..., RecordingService],
) -> None:
    """MixMonitor missing on the PBX (EXEC -2) or returning -1: the hook returns None and flags the row."""
    service = make_service()
    for session in (
        FakeSession(error=AgiCommandError(200, "application 'MixMonitor' not found")),
        FakeSession(result=-1),
    ):
        linkedid = new_linkedid()
        assert await service.start_recording(session, linkedid, AT) is None
        [row] = await service.repository.for_call(linkedid)
        assert row.status is RecordingStatus.SKIPPED and row.flagged


async def test_second_hand_off_records_a_second_leg(
    make_service: Callable[..., RecordingService], tmp_path: Path, db_pool: Any
) -> None:
    """A re-queued call gets ``<linkedid>-2.wav``; finish checks both legs."""
    service = make_service()
    linkedid = new_linkedid()
    await answered_call(db_pool, linkedid)
    first = await service.start_recording(FakeSession(), linkedid, AT)
    second = await service.start_recording(FakeSession(), linkedid, AT + timedelta(minutes=2))
    assert first is not None and second is not None
    assert (first.leg, second.leg) == (1, 2)
    assert second.relpath.endswith(f"{linkedid}-2.wav")
    write_wav(tmp_path / first.relpath, 1)
    write_wav(tmp_path / second.relpath, 2)
    done = await service.finish(linkedid, AT + timedelta(minutes=5))
    assert [(r.leg, r.status, r.duration_ms) for r in done] == [
        (1, RecordingStatus.OK, 1000),
        (2, RecordingStatus.OK, 2000),
    ]


async def test_stale_running_recordings_are_finished(
    make_service: Callable[..., RecordingService], db_pool: Any
) -> None:
    """A recording left running by a lost call is checked by ``finish_stale`` (here: missing)."""
    service = make_service()
    linkedid = new_linkedid()
    await answered_call(db_pool, linkedid)
    await service.start_recording(FakeSession(), linkedid, AT - timedelta(days=2))
    assert await service.finish_stale(AT) >= 1
    [row] = await service.repository.for_call(linkedid)
    assert row.status is RecordingStatus.MISSING and row.flagged


async def test_scheduled_finish_waits_for_the_file_to_be_closed(
    make_service: Callable[..., RecordingService], db_pool: Any, tmp_path: Path
) -> None:
    """A file MixMonitor writes a moment after the call ended is still found by the scheduled finish."""
    import asyncio

    service = make_service()
    service.file_wait_s = 2.0
    linkedid = new_linkedid()
    await answered_call(db_pool, linkedid)
    started = await service.start_recording(FakeSession(), linkedid, AT)
    assert started is not None
    task = service.schedule_finish(linkedid, AT + timedelta(minutes=1))
    await asyncio.sleep(0.3)
    assert not task.done()
    await asyncio.to_thread(write_wav, tmp_path / started.relpath, 1.0)
    await service.drain()
    [row] = task.result()
    assert row.status is RecordingStatus.OK and row.duration_ms == 1000
