"""The survival path end to end: agi/survival_spool.py run as Asterisk runs it, then ingestion.

The script is started as a classic AGI process (header on stdin, commands on stdout, replies on
stdin) with the project's Python and pyst2; the test plays Asterisk. The spool it writes is then
read by ``callcenter.telephony.spool.ingest_spool``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from callcenter.errors import ValidationError
from callcenter.telephony.spool import SpooledCall, ingest_spool, parse_spool_line

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "agi" / "survival_spool.py"

HEADER = (
    "agi_request: survival_spool.py\n"
    "agi_channel: PJSIP/trunk-0000000b\n"
    "agi_language: uk\n"
    "agi_type: PJSIP\n"
    "agi_uniqueid: 1795486407.24\n"
    "agi_version: 22.10.1\n"
    "agi_callerid: 380501234567\n"
    "agi_calleridname: Citizen One\n"
    "agi_dnid: unknown\n"
    "agi_rdnis: unknown\n"
    "agi_context: from-pstn\n"
    "agi_extension: 0800507506\n"
    "agi_priority: 5\n"
    "agi_enhanced: 0.0\n"
    "agi_accountcode: \n"
    "agi_threadid: 139639761000128\n"
    "agi_arg_1: FAILURE\n"
    "\n"
)


def spooled(directory: Path) -> list[Path]:
    """The complete spool files in ``directory`` (a sync helper: tests may block briefly)."""
    return sorted(directory.glob("*.json"))


class ClassicAgi:
    """The script as a child process, with Asterisk's side of the pipe in the test's hands."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, spool: Path, *args: str, python_flags: tuple[str, ...] = ()) -> ClassicAgi:
        env = {**os.environ, "CALLCENTER_SPOOL_DIR": str(spool)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *python_flags,
            str(SCRIPT),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        agi = cls(proc)
        agi.send(HEADER)
        return agi

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode())

    async def expect(self, line: str, reply: str) -> None:
        assert self.proc.stdout is not None
        got = await asyncio.wait_for(self.proc.stdout.readline(), 10)
        assert got.decode() == line
        self.send(reply)

    async def finish(self) -> tuple[int, bytes, bytes]:
        assert self.proc.stdout is not None and self.proc.stderr is not None
        out = await asyncio.wait_for(self.proc.stdout.read(), 10)
        err = await asyncio.wait_for(self.proc.stderr.read(), 10)
        return await self.proc.wait(), out, err


async def test_spooled_call_is_ingested_once(tmp_path: Path) -> None:
    """A survival call is spooled with its number, arrival and linkedid, ingested once, then moved aside."""
    agi = await ClassicAgi.start(tmp_path, "FAILURE")
    await agi.expect('GET VARIABLE "CC_ARRIVED"\n', "200 result=1 (1795486400)\n")
    await agi.expect('GET VARIABLE "CHANNEL(linkedid)"\n', "200 result=1 (1795486407.23)\n")
    await agi.expect('SET VARIABLE "CC_SPOOLED" "1"\n', "200 result=1\n")
    code, rest, err = await agi.finish()
    assert (code, rest) == (0, b"")
    assert b"380501234567" not in err  # pyst2's stderr echo is silenced
    files = spooled(tmp_path)
    stamp = datetime.fromtimestamp(1795486400, UTC).strftime("%Y%m%dT%H%M%S")
    assert [f.name for f in files] == [f"{stamp}-1795486407.24.json"]
    assert files[0].read_text().count("\n") == 1

    seen: list[SpooledCall] = []

    async def handle(call: SpooledCall) -> None:
        seen.append(call)

    with capture_logs() as logs:
        report = await ingest_spool(tmp_path, handle)
    assert (report.ingested, report.rejected, report.failed) == (1, 0, 0)
    assert seen == [
        SpooledCall(
            uniqueid="1795486407.24",
            linkedid="1795486407.23",
            caller="380501234567",
            dnid="0800507506",
            arrived_at=datetime.fromtimestamp(1795486400, UTC),
            reason="FAILURE",
        )
    ]
    assert "380501234567" not in repr(logs)
    assert not spooled(tmp_path)
    assert (tmp_path / "processed" / files[0].name).exists()
    again = await ingest_spool(tmp_path, handle)
    assert again.ingested == 0 and len(seen) == 1


async def test_sighup_does_not_stop_the_spooling(tmp_path: Path) -> None:
    """After Asterisk's SIGHUP (caller hung up) the script still reads the variables and spools."""
    agi = await ClassicAgi.start(tmp_path)
    assert agi.proc.stdout is not None
    first = await asyncio.wait_for(agi.proc.stdout.readline(), 10)
    assert first == b'GET VARIABLE "CC_ARRIVED"\n'
    agi.proc.send_signal(signal.SIGHUP)
    await asyncio.sleep(0.2)
    agi.send("200 result=0\n")
    # pyst2's own handler would make this command raise before it is sent.
    await agi.expect('GET VARIABLE "CHANNEL(linkedid)"\n', "200 result=0\n")
    await agi.expect('SET VARIABLE "CC_SPOOLED" "1"\n', "200 result=1\n")
    code, _, _ = await agi.finish()
    assert code == 0
    (path,) = spooled(tmp_path)
    record = json.loads(path.read_text())
    assert record["reason"] == "FAILURE"  # from agi_arg_1 when no argv is given
    assert record["linkedid"] is None
    assert parse_spool_line(path.read_text()).caller == "380501234567"


async def test_eof_and_odd_replies_never_fail_the_call(tmp_path: Path) -> None:
    """HANGUP lines, 511 and EOF (pyst2's ValueError cases) still end in exit 0 with the call spooled."""
    agi = await ClassicAgi.start(tmp_path, "FAILURE")
    await agi.expect('GET VARIABLE "CC_ARRIVED"\n', "HANGUP\n")
    await agi.expect('GET VARIABLE "CHANNEL(linkedid)"\n', "511 Command Not Permitted on a dead channel\n")
    assert agi.proc.stdin is not None
    agi.proc.stdin.close()
    code, _, _ = await agi.finish()
    assert code == 0
    assert len(spooled(tmp_path)) == 1


async def test_without_pyst2_the_header_is_still_spooled(tmp_path: Path) -> None:
    """On a PBX whose Python lacks pyst2 the script reads the header itself and still spools the call."""
    # -S leaves site-packages (and so pyst2) off the path: the same Python, without the library.
    agi = await ClassicAgi.start(tmp_path, "FAILURE", python_flags=("-S",))
    assert agi.proc.stdin is not None
    agi.proc.stdin.close()
    code, out, _ = await agi.finish()
    assert (code, out) == (0, b"")
    (path,) = spooled(tmp_path)
    call = parse_spool_line(path.read_text())
    assert (call.uniqueid, call.caller, call.dnid, call.reason) == (
        "1795486407.24",
        "380501234567",
        "0800507506",
        "FAILURE",
    )


async def test_unwritable_spool_exits_zero_and_tells_the_dialplan(tmp_path: Path) -> None:
    """When the spool cannot be written the script says CC_SPOOLED=0 and still exits 0."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    agi = await ClassicAgi.start(tmp_path, "FAILURE", str(blocker / "spool"))
    await agi.expect('GET VARIABLE "CC_ARRIVED"\n', "200 result=0\n")
    await agi.expect('GET VARIABLE "CHANNEL(linkedid)"\n', "200 result=0\n")
    await agi.expect('SET VARIABLE "CC_SPOOLED" "0"\n', "200 result=1\n")
    code, _, _ = await agi.finish()
    assert code == 0


async def test_bad_files_are_rejected_and_failed_handlers_retry(tmp_path: Path) -> None:
    """Invalid spool files move to rejected/; a failing handler leaves the file for the next start."""
    good = {
        "v": 1,
        "uniqueid": "1.5",
        "caller": "380671112233",
        "arrived_at": "2026-11-24T01:00:00+00:00",
        "reason": "FAILURE",
    }
    (tmp_path / "a.json").write_text("{not json")
    (tmp_path / "b.json").write_text(json.dumps({**good, "caller": "drop table"}))
    (tmp_path / "c.json").write_text(json.dumps(good))
    (tmp_path / ".spool-x.tmp").write_text("half written")

    async def broken(call: SpooledCall) -> None:
        raise RuntimeError("database down")

    report = await ingest_spool(tmp_path, broken)
    assert (report.ingested, report.rejected, report.failed) == (0, 2, 1)
    assert sorted(p.name for p in (tmp_path / "rejected").iterdir()) == ["a.json", "b.json"]
    assert (tmp_path / "c.json").exists()

    seen: list[str] = []

    async def handle(call: SpooledCall) -> None:
        seen.append(call.uniqueid)

    report = await ingest_spool(tmp_path, handle)
    assert (report.ingested, seen) == (1, ["1.5"])
    assert (tmp_path / ".spool-x.tmp").exists()


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"v": 2}, "v"),
        ({"v": 1, "arrived_at": "2026-11-24T01:00:00+00:00"}, "uniqueid"),
        ({"v": 1, "uniqueid": "../../etc", "arrived_at": "2026-11-24T01:00:00+00:00"}, "uniqueid"),
        ({"v": 1, "uniqueid": "1.1"}, "arrived_at"),
        ({"v": 1, "uniqueid": "1.1", "arrived_at": "2026-11-24T01:00:00"}, "arrived_at"),
        ({"v": 1, "uniqueid": "1.1", "arrived_at": "yesterday"}, "arrived_at"),
        ({"v": 1, "uniqueid": "1.1", "arrived_at": "2026-11-24T01:00:00Z", "reason": "x y"}, "reason"),
        ({"v": 1, "uniqueid": "1.1", "arrived_at": "2026-11-24T01:00:00Z", "dnid": 800}, "dnid"),
    ],
)
def test_parse_spool_line_names_the_bad_field(record: dict[str, object], field: str) -> None:
    """Each invalid spool record raises ValidationError naming the field at fault."""
    with pytest.raises(ValidationError) as info:
        parse_spool_line(json.dumps(record))
    assert info.value.field == field
