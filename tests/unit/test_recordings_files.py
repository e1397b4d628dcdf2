"""Recording file names, path safety, the WAV check and the disk-space watch."""

from __future__ import annotations

import struct
import wave
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcenter.services.recordings import (
    DiskMonitor,
    DiskStatus,
    check_file,
    recording_relpath,
    resolve_recording,
)
from callcenter.storage.recordings import RecordingStatus


def write_wav(path: Path, frames: int, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x01\x00" * frames)


def test_relpath_uses_the_kyiv_date_and_the_linkedid() -> None:
    """A call at 23:30 UTC on 30 Nov is filed under Kyiv's 1 December, named by its linkedid."""
    at = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    assert recording_relpath("1718000000.8", at) == "2026/12/01/1718000000.8.wav"
    assert recording_relpath("1718000000.8", at, leg=2) == "2026/12/01/1718000000.8-2.wav"


def test_relpath_never_carries_a_hostile_linkedid() -> None:
    """A linkedid with slashes or dots-only is replaced by a hash and stays in the day's folder."""
    at = datetime(2026, 11, 24, 9, tzinfo=UTC)
    for hostile in ("../../etc/passwd", "a/b", "..", ""):
        rel = recording_relpath(hostile, at)
        assert rel.startswith("2026/11/24/x") and rel.count("/") == 3 and ".." not in rel


def test_resolve_refuses_paths_leaving_the_root(tmp_path: Path) -> None:
    """Stored paths are relative and may not climb out of the recordings root."""
    assert resolve_recording(tmp_path, "2026/11/24/a.wav") == tmp_path / "2026" / "11" / "24" / "a.wav"
    for bad in ("/etc/passwd", "2026/../../x.wav", ""):
        with pytest.raises(ValueError):
            resolve_recording(tmp_path, bad)


def test_check_ok_file_gives_size_duration_and_checksum(tmp_path: Path) -> None:
    """A WAV with 12,000 frames at 8 kHz is ok: 1,500 ms, its size and its SHA-256."""
    import hashlib

    path = tmp_path / "a.wav"
    write_wav(path, 12_000)
    check = check_file(path)
    assert check.status is RecordingStatus.OK
    assert check.duration_ms == 1500
    assert check.size == path.stat().st_size
    assert check.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_check_missing_empty_headeronly_and_garbage(tmp_path: Path) -> None:
    """No file, a zero-byte file, a header without audio, and a non-WAV are each told apart."""
    assert check_file(tmp_path / "none.wav").status is RecordingStatus.MISSING
    (tmp_path / "zero.wav").write_bytes(b"")
    assert check_file(tmp_path / "zero.wav").status is RecordingStatus.EMPTY
    write_wav(tmp_path / "header.wav", 0)
    header = check_file(tmp_path / "header.wav")
    assert header.status is RecordingStatus.EMPTY and header.duration_ms == 0
    (tmp_path / "junk.wav").write_bytes(b"RIFF" + struct.pack("<I", 4) + b"JUNKJUNK")
    junk = check_file(tmp_path / "junk.wav")
    assert junk.status is RecordingStatus.BROKEN and junk.sha256 is not None and junk.problem


def test_truncated_wav_is_broken(tmp_path: Path) -> None:
    """A WAV cut inside its header (a crash while writing) is broken, not ok."""
    write_wav(tmp_path / "a.wav", 8000)
    data = (tmp_path / "a.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:30])
    assert check_file(tmp_path / "cut.wav").status is RecordingStatus.BROKEN


def test_disk_monitor_thresholds_and_alert_transitions(tmp_path: Path) -> None:
    """Low by bytes or by ratio; ``on_change`` fires when going low and when recovering, not on repeats."""
    readings = iter([(10_000, 100_000), (500, 100_000), (400, 100_000), (50_000, 100_000), (20_000, 10**9)])
    changes: list[DiskStatus] = []
    monitor = DiskMonitor(
        tmp_path,
        min_free_bytes=1000,
        min_free_ratio=0.05,
        on_change=changes.append,
        usage=lambda _: next(readings),
    )
    assert not monitor.read().low
    assert monitor.read().low  # 500 < 1000 bytes
    assert monitor.read().low
    assert not monitor.read().low
    assert monitor.read().low  # 20 kB of 1 GB is under 5 %
    assert [c.low for c in changes] == [True, False, True]
    assert monitor.last == DiskStatus(20_000, 10**9, True)


def test_unreadable_disk_counts_as_full(tmp_path: Path) -> None:
    """When the file system cannot be read, the monitor reports it low (record nothing, alert)."""

    def broken(_: Path) -> tuple[int, int]:
        raise OSError(5, "I/O error")

    assert DiskMonitor(tmp_path, usage=broken).read().low


def test_real_disk_usage_of_a_missing_root_uses_its_parent(tmp_path: Path) -> None:
    """A recordings root not created yet is measured on the disk that will hold it."""
    status = DiskMonitor(tmp_path / "not" / "yet", min_free_bytes=0, min_free_ratio=0).read()
    assert status.total_bytes > 0 and not status.low
