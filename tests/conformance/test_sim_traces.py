"""The simulated PBX against the real Asterisk traces: same events, order per channel, field names."""

from __future__ import annotations

import socket

import pytest

from callcenter.sim.ami_server import AmiServer
from callcenter.sim.asterisk import AgiTarget, SimAsterisk
from callcenter.sim.clock import SimClock
from callcenter.sim.compare import compare_agi, compare_streams, parse_frames
from callcenter.sim.dialplan import Dialplan
from callcenter.sim.replay import ScriptedAgiServer, load_trace, received, replay_ami
from tests.conformance.traces import AGI_SCENARIOS, AMI_SCENARIOS, TRACES_DIR, ami_received_bytes

TRACES = TRACES_DIR
SCENARIOS = list(AMI_SCENARIOS)
SCALE = 10.0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _run(scenario: str) -> tuple[bytes, list[str], ScriptedAgiServer | None]:
    clock = SimClock(SCALE)
    dialplan = Dialplan.parse((TRACES / "asterisk-etc" / "extensions.conf").read_text())
    ast = SimAsterisk(clock, dialplan=dialplan)
    agi: ScriptedAgiServer | None = None
    agi_trace = TRACES / scenario / "agi-1.jsonl"
    if agi_trace.exists():
        agi = ScriptedAgiServer.from_trace(load_trace(agi_trace), clock)
        await agi.start()
        ast.agi_map["127.0.0.1:4573"] = AgiTarget("127.0.0.1", agi.port)
    # The unreachable scenario's FastAGI port must refuse connections.
    ast.agi_map["127.0.0.1:4599"] = AgiTarget("127.0.0.1", _closed_port())
    server = AmiServer(ast)
    await server.start()
    records = load_trace(TRACES / scenario / "ami.jsonl")
    try:
        got = await replay_ami("127.0.0.1", server.port, records, clock)
    finally:
        await server.stop()
        await ast.stop()
        if agi is not None:
            await agi.stop()
    return got, compare_streams(ami_received_bytes(scenario), got), agi


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_ami_stream_matches_trace(scenario: str) -> None:
    """Replaying a trace's actions gives an AMI stream of the same shape as real Asterisk's."""
    got, diffs, _ = await _run(scenario)
    assert got.startswith(b"Asterisk Call Manager/11.0.0\r\n")
    assert len(parse_frames(got)) > 5
    assert diffs == [], "\n".join(diffs)


@pytest.mark.parametrize("scenario", AGI_SCENARIOS)
async def test_agi_session_matches_trace(scenario: str) -> None:
    """The FastAGI side (header order, replies, HANGUP, 511, 520 block) matches the trace."""
    _, _, agi = await _run(scenario)
    assert agi is not None and len(agi.transcripts) == 1
    expected = received(load_trace(TRACES / scenario / "agi-1.jsonl"))
    diffs = compare_agi(expected, agi.transcripts[0])
    assert diffs == [], "\n".join(diffs)


def test_compare_finds_no_difference_between_a_trace_and_itself() -> None:
    """Every trace compared with itself gives no difference."""
    for scenario in SCENARIOS:
        text = ami_received_bytes(scenario)
        assert compare_streams(text, text) == []


def test_compare_reports_a_missing_event_and_a_renamed_field() -> None:
    """Dropping one VarSet and renaming one field are both reported, naming the channel."""
    text = received(load_trace(TRACES / "ivr_dial" / "ami.jsonl"))
    frames = text.split("\r\n\r\n")
    index = next(i for i, f in enumerate(frames) if "Variable: CC_CALL" in f)
    dropped = "\r\n\r\n".join(frames[:index] + frames[index + 1 :])
    diffs = compare_streams(text, dropped)
    assert any("Local/0800507506@from-pstn;2" in d and "event sequence" in d for d in diffs)
    assert any(line.strip() == "-VarSet" for line in diffs)
    renamed = text.replace("DialString:", "Dialstring:", 1)
    diffs = compare_streams(text, renamed)
    assert any("DialBegin: field names differ" in d and "DialString" in d for d in diffs)


def test_agi_compare_reports_a_missing_hangup_line() -> None:
    """A transcript that lacks the HANGUP line is reported."""
    text = received(load_trace(TRACES / "caller_hangup" / "agi-1.jsonl"))
    assert compare_agi(text, text) == []
    assert compare_agi(text, text.replace("HANGUP\n", "")) != []
