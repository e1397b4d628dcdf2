"""The simulated PBX's FastAGI client as a backend sees it: header, replies, hang-ups, recordings."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path

from callcenter.sim.clock import SimClock
from callcenter.sim.load import CallOutcome, SimulatedPbx
from callcenter.sim.models import CallerModel, Distribution

Cmd = Callable[[str], Awaitable[str]]
Flow = Callable[[dict[str, str], Cmd], Awaitable[None]]


async def run_flow(
    flow: Flow,
    caller: CallerModel | None = None,
    recordings: Path | None = None,
    default_sound: float | None = 2.0,
) -> tuple[CallOutcome, list[str], list[str]]:
    """Place one trunk call whose AGI session runs ``flow``; return outcome, header lines, raw lines read."""
    header: list[str] = []
    raw: list[str] = []
    done = asyncio.Event()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env: dict[str, str] = {}
        while (line := (await reader.readline()).decode()) not in ("\n", ""):
            header.append(line)
            key, _, value = line.rstrip("\n").partition(": ")
            env[key] = value

        async def cmd(text: str) -> str:
            writer.write(text.encode() + b"\n")
            await writer.drain()
            lines: list[str] = []
            while True:
                line = (await reader.readline()).decode()
                raw.append(line)
                if not line:
                    return "".join(lines).rstrip("\n")
                if line == "HANGUP\n" and not lines:
                    continue
                lines.append(line)
                # A 520 usage block runs until the line that starts with "520 ".
                if not lines[0].startswith("520-") or line.startswith("520 "):
                    return "".join(lines).rstrip("\n")

        try:
            await flow(env, cmd)
        finally:
            writer.close()
            done.set()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pbx = SimulatedPbx(SimClock(20), agi_port=port, recordings_dir=recordings, default_sound=default_sound)
    await pbx.start()
    try:
        outcome = await pbx.call(caller or CallerModel(did="0800507506"))
        await asyncio.wait_for(done.wait(), 5)
    finally:
        await pbx.stop()
        server.close()
        await server.wait_closed()
    return outcome, header, raw


async def test_header_has_the_b2_order_and_trunk_values() -> None:
    """The agi_* header comes in Asterisk's order with the PJSIP trunk channel and the DID."""

    async def flow(env: dict[str, str], cmd: Cmd) -> None:
        assert await cmd("ANSWER") == "200 result=0"

    outcome, header, _ = await run_flow(flow)
    names = [line.partition(":")[0] for line in header]
    assert names == [
        "agi_network", "agi_network_script", "agi_request", "agi_channel", "agi_language", "agi_type",
        "agi_uniqueid", "agi_version", "agi_callerid", "agi_calleridname", "agi_callingpres",
        "agi_callingani2", "agi_callington", "agi_callingtns", "agi_dnid", "agi_rdnis", "agi_context",
        "agi_extension", "agi_priority", "agi_enhanced", "agi_accountcode", "agi_threadid",
    ]  # fmt: skip
    assert "agi_type: PJSIP\n" in header and "agi_dnid: 0800507506\n" in header
    assert "agi_accountcode: \n" in header
    assert outcome.variables["AGISTATUS"] == "SUCCESS"


async def test_missing_prompt_gives_minus_one_endpos_zero_and_agistatus_failure() -> None:
    """A sound the PBX does not have: ``-1 endpos=0``; the session ends with AGISTATUS=FAILURE."""
    replies: list[str] = []

    async def flow(env: dict[str, str], cmd: Cmd) -> None:
        replies.append(await cmd("ANSWER"))
        replies.append(await cmd('STREAM FILE no-such-file ""'))

    outcome, _, _ = await run_flow(flow, default_sound=None)
    assert replies == ["200 result=0", "200 result=-1 endpos=0"]
    assert outcome.variables["AGISTATUS"] == "FAILURE"


async def test_get_data_digits_timeouts_and_hash() -> None:
    """GET DATA returns typed digits, ``(timeout)`` forms, and an empty result for a lone ``#``."""
    replies: list[str] = []

    async def flow(env: dict[str, str], cmd: Cmd) -> None:
        await cmd("ANSWER")
        replies.append(await cmd("GET DATA enter-number 3000 6"))
        replies.append(await cmd("GET DATA nothing 1000 4"))
        replies.append(await cmd("GET DATA hash-only 3000 4"))

    caller = CallerModel(
        dtmf={"enter-number": "12", "hash-only": "#"}, reaction=Distribution(0.5, fixed=True)
    )
    await run_flow(flow, caller)
    assert replies == ["200 result=12 (timeout)", "200 result= (timeout)", "200 result="]


async def test_escape_digit_interrupts_and_bad_syntax_and_unknown() -> None:
    """STREAM FILE returns the escape digit's code; 510 for unknown and CRLF lines, 520 block, -2 for no app."""
    replies: list[str] = []

    async def flow(env: dict[str, str], cmd: Cmd) -> None:
        await cmd("ANSWER")
        replies.append(await cmd('STREAM FILE menu "123#"'))
        replies.append(await cmd("ANSWER\r"))
        replies.append(await cmd("STREAM FILE only-one-arg"))
        replies.append(await cmd("EXEC NoSuchApplication foo"))
        replies.append(await cmd('SAY DIGITS 4455 ""'))

    caller = CallerModel(dtmf={"menu": "2"}, reaction=Distribution(0.5, fixed=True))
    await run_flow(flow, caller)
    assert replies[0].startswith("200 result=50 endpos=")
    assert 0 < int(replies[0].rpartition("=")[2]) < 16000
    assert replies[1] == "510 Invalid or unknown command"
    assert replies[2].startswith("520-Invalid command syntax.  Proper usage follows:\n")
    assert replies[2].endswith("\n520 End of proper usage.")
    assert replies[3] == "200 result=-2"
    assert replies[4] == "200 result=0"


async def test_caller_hangup_mid_command_then_511_and_agistatus_hangup() -> None:
    """Hang-up during WAIT FOR DIGIT: ``-1``, HANGUP, 511 for ANSWER; variables still work."""
    replies: list[str] = []

    async def flow(env: dict[str, str], cmd: Cmd) -> None:
        await cmd("ANSWER")
        replies.append(await cmd("WAIT FOR DIGIT -1"))
        replies.append(await cmd("ANSWER"))
        replies.append(await cmd("HANGUP"))
        replies.append(await cmd("SET VARIABLE DONE yes"))
        replies.append(await cmd("GET VARIABLE DONE"))

    caller = CallerModel(patience=Distribution(3, fixed=True))
    outcome, _, raw = await run_flow(flow, caller)
    assert replies[0] == "200 result=-1"
    assert raw.index("HANGUP\n") == raw.index("200 result=-1\n") + 1
    assert replies[1:] == [
        "511 Command Not Permitted on a dead channel or intercept routine",
        "511 Command Not Permitted on a dead channel or intercept routine",
        "200 result=1",
        "200 result=1 (yes)",
    ]
    assert outcome.variables["AGISTATUS"] == "HANGUP"
    assert outcome.abandoned


async def test_record_file_and_mixmonitor_write_wav_files(tmp_path: Path) -> None:
    """RECORD FILE and EXEC MixMonitor write valid WAV files under the recordings folder."""
    replies: list[str] = []

    async def flow(env: dict[str, str], cmd: Cmd) -> None:
        await cmd("ANSWER")
        replies.append(await cmd('EXEC MixMonitor "calls/call-1.wav"'))
        replies.append(await cmd('RECORD FILE msg/voicemail wav "#" 2000'))
        replies.append(await cmd("HANGUP"))

    await run_flow(flow, recordings=tmp_path)
    assert replies[0] == "200 result=0"
    assert replies[1].startswith("200 result=0 (timeout) endpos=")
    for name in ("calls/call-1.wav", "msg/voicemail.wav"):
        with wave.open(str(tmp_path / name)) as wav:
            assert wav.getframerate() == 8000 and wav.getnframes() > 8000


async def test_recording_paths_inside_the_recordings_folder_are_kept(tmp_path: Path) -> None:
    """An absolute path inside the shared folder is written as given; one outside is re-rooted."""
    inside = tmp_path / "2026" / "call.wav"

    async def flow(env: dict[str, str], cmd: Cmd) -> None:
        await cmd("ANSWER")
        await cmd(f'EXEC MixMonitor "{inside}"')
        await cmd('EXEC MixMonitor "/var/spool/asterisk/monitor/other.wav"')
        await cmd("HANGUP")

    await run_flow(flow, recordings=tmp_path)
    assert inside.exists()
    assert (tmp_path / "var/spool/asterisk/monitor/other.wav").exists()
