"""Call recording capture: start MixMonitor at the hand-off to an agent, check the file after.

The call pipeline calls ``start_recording(session, linkedid, at)`` just before the ACD hands the
caller to an agent. By then the caller has heard the recording notice (the IVR plays it first).
The hook sends ``EXEC MixMonitor <root>/YYYY/MM/DD/<linkedid>.wav,b``; option ``b`` records only
while the call is bridged, so the file holds the conversation from the agent's answer. A second
hand-off of the same call (re-queue) records a second leg, ``<linkedid>-2.wav``.

When the call is over, ``finish(linkedid, at)`` checks each file (exists, non-empty, a readable
WAV and its duration), computes its SHA-256, links it to the call's appeal, queue and agent, and
flags anything that is not a good recording for supervisors. A problem never drops the row.

Recording must never cost a call: when the disk under the recordings root is below its free-space
threshold, or MixMonitor is refused, the hook logs a warning, stores a flagged ``skipped`` row and
returns None, and the call goes on without recording. Database failures are logged, not raised.

``may_hear`` is the one access rule for listening (the web API and the pages ask it).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Protocol
from zoneinfo import ZoneInfo

import asyncpg

from callcenter.appeals.model import Appeal
from callcenter.errors import CallcenterError
from callcenter.logs import get_logger
from callcenter.storage.recordings import Recording, RecordingRepository, RecordingStatus
from callcenter.storage.users import Role, User
from callcenter.telephony.agi_errors import AgiError

__all__ = [
    "DEFAULT_FILE_WAIT_S",
    "DEFAULT_MIN_FREE_BYTES",
    "DEFAULT_MIN_FREE_RATIO",
    "DiskMonitor",
    "DiskStatus",
    "FileCheck",
    "RecordingService",
    "RecordingStarted",
    "check_file",
    "may_download",
    "may_hear",
    "recording_relpath",
    "resolve_recording",
]

log = get_logger(__name__)

#: Below this many free bytes under the recordings root, calls are not recorded (2 GiB: about
#: 37 hours of 8 kHz 16-bit mono, enough to drain the calls in progress and page someone).
DEFAULT_MIN_FREE_BYTES = 2 * 1024**3
#: …or below this share of the file system free.
DEFAULT_MIN_FREE_RATIO = 0.02
#: How long ``finish`` waits for MixMonitor to close the file after the call ended.
DEFAULT_FILE_WAIT_S = 5.0
KYIV = ZoneInfo("Europe/Kyiv")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_HASH_CHUNK = 1024 * 1024
#: Failures of the bookkeeping that must not end a call: ours, the file system's, the database's.
_FAILURES: tuple[type[BaseException], ...] = (
    CallcenterError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


# -- disk ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiskStatus:
    """Free space under the recordings root, and whether it is below the threshold."""

    free_bytes: int
    total_bytes: int
    low: bool


class DiskMonitor:
    """Watches the file system holding the recordings root.

    ``check()`` reads it now (``statvfs``, in a thread: the root may be a network mount);
    ``last`` is the latest reading, for the metrics. A change between low and fine is logged
    (an error when it goes low: that is the alert) and passed to ``on_change``.
    """

    def __init__(
        self,
        root: Path,
        *,
        min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
        min_free_ratio: float = DEFAULT_MIN_FREE_RATIO,
        on_change: Callable[[DiskStatus], None] | None = None,
        usage: Callable[[Path], tuple[int, int]] | None = None,
    ) -> None:
        """``usage(root) -> (free, total)`` replaces ``shutil.disk_usage`` in tests."""
        self.root = root
        self.min_free_bytes = min_free_bytes
        self.min_free_ratio = min_free_ratio
        self.on_change = on_change
        self._usage = usage or _disk_usage
        self.last: DiskStatus | None = None

    def read(self) -> DiskStatus:
        """Read the file system now (blocking); an unreadable root counts as a full disk."""
        try:
            free, total = self._usage(self.root)
        except OSError as exc:
            log.error("recordings_disk_unreadable", root=str(self.root), error=str(exc))
            free, total = 0, 0
        low = free < self.min_free_bytes or (total > 0 and free / total < self.min_free_ratio)
        status = DiskStatus(free, total, low or total == 0)
        previous, self.last = self.last, status
        if previous is None or previous.low != status.low:
            if status.low:
                log.error("recordings_disk_low", root=str(self.root), free_bytes=free, total_bytes=total)
            elif previous is not None:
                log.info("recordings_disk_ok", root=str(self.root), free_bytes=free)
            if self.on_change is not None and (previous is not None or status.low):
                self.on_change(status)
        return status

    async def check(self) -> DiskStatus:
        """``read`` in a worker thread."""
        return await asyncio.to_thread(self.read)

    async def watch(self, interval_s: float, stop: asyncio.Event) -> None:
        """Check every ``interval_s`` seconds until ``stop`` is set (a background task)."""
        while not stop.is_set():
            await self.check()
            try:
                async with asyncio.timeout(interval_s):  # not wait_for: it can swallow a cancel
                    await stop.wait()
            except TimeoutError:
                pass


def _disk_usage(root: Path) -> tuple[int, int]:
    # The root may not exist yet on a fresh install; its nearest existing parent is the same disk.
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    return usage.free, usage.total


# -- files --------------------------------------------------------------------------------------


def recording_relpath(linkedid: str, at: datetime, leg: int = 1) -> str:
    """``YYYY/MM/DD/<linkedid>.wav`` (Kyiv date of ``at``); legs after the first get ``-<leg>``.

    A linkedid that is not a plain Asterisk id (``1718000000.8``) is replaced by its hash, so no
    value from the PBX can make a path that leaves the day's folder.
    """
    name = linkedid if _SAFE_ID.match(linkedid) else "x" + hashlib.sha256(linkedid.encode()).hexdigest()[:32]
    if leg > 1:
        name = f"{name}-{leg}"
    day = at.astimezone(KYIV)
    return f"{day:%Y/%m/%d}/{name}.wav"


def resolve_recording(root: Path, relpath: str) -> Path:
    """The file of a stored relative path under ``root``; ValueError if it would leave ``root``."""
    rel = PurePosixPath(relpath)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise ValueError(f"not a recording path: {relpath!r}")
    return root.joinpath(*rel.parts)


@dataclass(frozen=True, slots=True)
class FileCheck:
    """What the check of a recording file found."""

    status: RecordingStatus
    size: int | None = None
    duration_ms: int | None = None
    sha256: str | None = None
    problem: str | None = None


def check_file(path: Path) -> FileCheck:
    """Check a recording file (blocking): exists, non-empty, a WAV with audio; its SHA-256.

    ``ok`` needs at least one audio frame. A file that is not a WAV the standard ``wave`` module
    reads (MixMonitor writes PCM WAV) is ``broken``; it keeps its checksum so it can be examined.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return FileCheck(RecordingStatus.MISSING, problem="no file where MixMonitor was to write it")
    except OSError as exc:
        return FileCheck(RecordingStatus.BROKEN, problem=f"cannot read the file: {exc.strerror}")
    if size == 0:
        return FileCheck(RecordingStatus.EMPTY, size=0, problem="the file is empty")
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
        with wave.open(str(path), "rb") as wav:
            frames, rate = wav.getnframes(), wav.getframerate()
    except OSError as exc:
        return FileCheck(RecordingStatus.BROKEN, size=size, problem=f"cannot read the file: {exc.strerror}")
    except (wave.Error, EOFError) as exc:
        return FileCheck(
            RecordingStatus.BROKEN, size=size, sha256=digest.hexdigest(), problem=f"not a readable WAV: {exc}"
        )
    if rate <= 0:
        return FileCheck(
            RecordingStatus.BROKEN, size=size, sha256=digest.hexdigest(), problem="WAV with no sample rate"
        )
    duration_ms = frames * 1000 // rate
    if frames == 0:
        return FileCheck(
            RecordingStatus.EMPTY,
            size=size,
            duration_ms=0,
            sha256=digest.hexdigest(),
            problem="the WAV holds no audio",
        )
    return FileCheck(RecordingStatus.OK, size=size, duration_ms=duration_ms, sha256=digest.hexdigest())


# -- access -------------------------------------------------------------------------------------


def may_hear(user: User, recording: Recording, appeal: Appeal | None, *, agent_id: str | None = None) -> bool:
    """Whether ``user`` may listen to ``recording`` (of the call behind ``appeal``, if known).

    * supervisors and admins hear every recording;
    * an agent hears the calls they took (``agent_id``, by default their login, is the ACD agent
      id on the recording or on the call's record) and the calls of appeals they registered;
    * an authority's representative hears the calls of appeals forwarded to their authority;
    * a disabled account hears nothing.
    """
    if user.disabled:
        return False
    if user.has_role(Role.SUPERVISOR):
        return True
    if user.role is Role.AGENT:
        me = agent_id or user.login
        if recording.agent is not None and recording.agent == me:
            return True
        if appeal is None:
            return False
        return appeal.call.agent == me or appeal.registered_by == user.login
    if user.role is Role.AUTHORITY:
        return (
            appeal is not None
            and bool(user.authority_id)
            and bool(appeal.authority)
            and (appeal.authority or "").casefold() == (user.authority_id or "").casefold()
        )
    return False


def may_download(user: User, recording: Recording, appeal: Appeal | None) -> bool:
    """Whether ``user`` may download the file: supervisors and admins only (an export is a copy)."""
    return not user.disabled and user.has_role(Role.SUPERVISOR) and may_hear(user, recording, appeal)


# -- capture ------------------------------------------------------------------------------------


class RecordingSession(Protocol):
    """What the capture hook needs from the call's AGI session."""

    def exec(self, application: str, options: str = "") -> Awaitable[int]: ...


class AppealLookup(Protocol):
    """Finds the call's appeal record (``AppealRepository.find_by_linkedid``)."""

    def find_by_linkedid(self, linkedid: str) -> Awaitable[Appeal | None]: ...


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    """MixMonitor is running for this call: the row id, the leg, and where the file goes."""

    recording_id: int
    linkedid: str
    leg: int
    relpath: str
    pbx_path: str
    started_at: datetime


@dataclass
class RecordingService:
    """The capture hook and the check after the call (see the module docstring).

    ``root`` is the recordings folder as this process sees it; ``pbx_root`` the same folder as
    the PBX sees it (a shared mount may sit elsewhere there); None means the same path.
    """

    repository: RecordingRepository
    appeals: AppealLookup
    root: Path
    disk: DiskMonitor
    pbx_root: PurePosixPath | None = None
    file_wait_s: float = DEFAULT_FILE_WAIT_S
    #: Counts by event for the metrics: ``started``, ``skipped_disk``, ``skipped_error``, and
    #: ``finished_<status>``.
    counts: dict[str, int] = field(default_factory=dict)
    _pending: set[asyncio.Task[list[Recording]]] = field(default_factory=set, init=False, repr=False)
    _pbx_base: PurePosixPath = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Resolved once here: a blocking file system call per call would stall the loop.
        self._pbx_base = (
            self.pbx_root if self.pbx_root is not None else PurePosixPath(self.root.resolve().as_posix())
        )

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def pbx_path(self, relpath: str) -> str:
        """The absolute file name MixMonitor is given."""
        return str(self._pbx_base.joinpath(*PurePosixPath(relpath).parts))

    async def start_recording(
        self, session: RecordingSession, linkedid: str, at: datetime
    ) -> RecordingStarted | None:
        """Start recording the call's conversation; None when the call goes on unrecorded.

        Never raises for a recording problem: the caller is about to reach an agent and that
        matters more than the file.
        """
        disk = await self.disk.check()
        if disk.low:
            log.warning("recording_skipped_disk_low", linkedid=linkedid, free_bytes=disk.free_bytes)
            self._count("skipped_disk")
            await self._store_skipped(linkedid, at, f"disk low: {disk.free_bytes} bytes free")
            return None
        try:
            row = await self.repository.start(
                linkedid, lambda leg: recording_relpath(linkedid, at, leg), started_at=at
            )
        except _FAILURES as exc:
            # Without a row nobody would look for the file: record nothing rather than orphan it.
            log.error("recording_row_failed", linkedid=linkedid, error=str(exc))
            self._count("skipped_error")
            return None
        target = self.pbx_path(row.path)
        try:
            await asyncio.to_thread(
                resolve_recording(self.root, row.path).parent.mkdir, parents=True, exist_ok=True
            )
        except OSError as exc:
            log.warning("recording_folder_failed", linkedid=linkedid, error=str(exc))
        try:
            code = await session.exec("MixMonitor", f"{target},b")
        except AgiError as exc:
            code, problem = -1, f"MixMonitor failed: {exc}"
        else:
            problem = f"MixMonitor returned {code}"
        if code != 0:
            log.warning("recording_not_started", linkedid=linkedid, problem=problem)
            self._count("skipped_error")
            await self._complete(
                row, RecordingStatus.SKIPPED, at, FileCheck(RecordingStatus.SKIPPED, problem=problem)
            )
            return None
        self._count("started")
        log.info("recording_started", linkedid=linkedid, leg=row.leg, path=row.path)
        return RecordingStarted(row.id, linkedid, row.leg, row.path, target, at)

    async def _store_skipped(self, linkedid: str, at: datetime, problem: str) -> None:
        """A flagged row for a call that goes unrecorded, so supervisors see the gap."""
        try:
            await self.repository.start(
                linkedid,
                lambda leg: recording_relpath(linkedid, at, leg),
                started_at=at,
                status=RecordingStatus.SKIPPED,
                problem=problem,
            )
        except _FAILURES as exc:
            log.error("recording_row_failed", linkedid=linkedid, error=str(exc))

    async def finish(self, linkedid: str, at: datetime) -> list[Recording]:
        """Check, checksum and link every running recording of the call (after it ended)."""
        try:
            running = await self.repository.unfinished(linkedid)
        except _FAILURES as exc:
            log.error("recording_finish_failed", linkedid=linkedid, error=str(exc))
            return []
        done: list[Recording] = []
        for row in running:
            finished = await self._finish_one(row, at, wait_s=self.file_wait_s)
            if finished is not None:
                done.append(finished)
        return done

    def schedule_finish(self, linkedid: str, at: datetime) -> asyncio.Task[list[Recording]]:
        """``finish`` in a background task, so the call's session need not wait for the file.

        MixMonitor closes the file only once the channel is gone, which is after the call's
        flow has ended; ``drain`` awaits the tasks still running (on shutdown, in tests).
        """
        task = asyncio.get_running_loop().create_task(self.finish(linkedid, at))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    async def drain(self) -> None:
        """Wait for every scheduled ``finish`` to end."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def finish_stale(self, now: datetime, *, older_than: timedelta = timedelta(hours=6)) -> int:
        """Finish recordings left running by calls this process lost (a restart); returns how many."""
        rows = await self.repository.stale(now - older_than)
        for row in rows:
            await self._finish_one(row, now, wait_s=0.0)
        return len(rows)

    async def _finish_one(self, row: Recording, at: datetime, *, wait_s: float) -> Recording | None:
        with_context = {"linkedid": row.linkedid, "leg": row.leg}
        try:
            path = resolve_recording(self.root, row.path)
        except ValueError:
            check = FileCheck(RecordingStatus.BROKEN, problem="stored path is not under the recordings root")
        else:
            check = await self._settled_check(path, wait_s)
        appeal: Appeal | None = None
        try:
            appeal = await self.appeals.find_by_linkedid(row.linkedid)
        except _FAILURES as exc:
            log.warning("recording_appeal_lookup_failed", error=str(exc), **with_context)
        answered = appeal is not None and appeal.call.answered_at is not None
        if (
            check.status in (RecordingStatus.MISSING, RecordingStatus.EMPTY)
            and appeal is not None
            and not answered
        ):
            # MixMonitor with option b writes nothing (or a bare header) when no agent answered.
            check = FileCheck(RecordingStatus.NO_CONVERSATION, size=check.size, duration_ms=check.duration_ms)
        status = check.status
        if status is RecordingStatus.OK:
            log.info("recording_ok", duration_ms=check.duration_ms, size=check.size, **with_context)
        elif status is not RecordingStatus.NO_CONVERSATION:
            log.warning("recording_flagged", status=status.value, problem=check.problem, **with_context)
        self._count(f"finished_{status.value}")
        return await self._complete(row, status, at, check, appeal)

    async def _settled_check(self, path: Path, wait_s: float) -> FileCheck:
        """Check the file once it exists and its size stopped changing (MixMonitor closing it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        last_size = -1
        while True:
            size = await asyncio.to_thread(_size_or_none, path)
            if size is not None and size == last_size and size > 0:
                break
            if loop.time() >= deadline:
                break
            last_size = size if size is not None else -1
            await asyncio.sleep(min(0.1, max(0.0, deadline - loop.time())))
        return await asyncio.to_thread(check_file, path)

    async def _complete(
        self,
        row: Recording,
        status: RecordingStatus,
        at: datetime,
        check: FileCheck,
        appeal: Appeal | None = None,
    ) -> Recording | None:
        try:
            return await self.repository.complete(
                row.id,
                status=status,
                ended_at=at,
                size=check.size,
                duration_ms=check.duration_ms,
                sha256=check.sha256,
                problem=check.problem,
                appeal_id=appeal.id if appeal is not None else None,
                queue=appeal.call.queue if appeal is not None else None,
                agent=appeal.call.agent if appeal is not None else None,
            )
        except _FAILURES as exc:
            log.error("recording_complete_failed", linkedid=row.linkedid, error=str(exc))
            return None


def _size_or_none(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
