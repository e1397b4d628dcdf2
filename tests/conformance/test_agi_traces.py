"""The FastAGI server replayed against the real Asterisk 22 AGI traces (ivr_dial, caller_hangup).

A fake Asterisk connects to our server, sends the recorded header, and for every command the route
sends checks it is byte for byte the recorded ``send`` line, then answers with the recorded
``recv`` lines (the 520 block and the early ``HANGUP`` line included). The route handler issues
the trace's commands and records each typed result; the test compares them afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import pytest
from structlog.testing import capture_logs

from callcenter.telephony.agi import (
    AgiCommandError,
    AgiSession,
    ChannelHungUp,
    DigitsResult,
    FastAgiServer,
    PlaybackResult,
)
from tests.conformance.traces import agi_lines


@pytest.fixture
async def server() -> AsyncIterator[FastAgiServer]:
    srv = FastAgiServer("127.0.0.1", 0)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.close(grace_s=1.0)


async def replay_trace(port: int, scenario: str, after: dict[str, str]) -> tuple[list[str], bytes]:
    """Play Asterisk's side of ``scenario``; return mismatches and what the server sent afterwards.

    ``after`` answers commands the server sends once the trace is exhausted (``CC_HANDLED``).
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = agi_lines(scenario)
    mismatches: list[str] = []
    i = 0
    while lines[i].direction == "recv":
        writer.write(lines[i].data.encode())
        i += 1
    while i < len(lines):
        expected = lines[i].data
        got = (await asyncio.wait_for(reader.readline(), 5)).decode()
        if got != expected:
            mismatches.append(f"expected {expected!r}, got {got!r}")
        i += 1
        while i < len(lines) and lines[i].direction == "recv":
            writer.write(lines[i].data.encode())
            i += 1
    tail = b""
    while line := await asyncio.wait_for(reader.readline(), 5):
        tail += line
        if line.decode() in after:
            writer.write(after[line.decode()].encode())
    writer.close()
    return mismatches, tail


async def run_scenario(
    server: FastAgiServer,
    scenario: str,
    route: Callable[[AgiSession, list[Any]], Awaitable[None]],
    after: dict[str, str],
) -> tuple[list[Any], list[str], bytes, list[MutableMapping[str, Any]]]:
    results: list[Any] = []
    done = asyncio.Event()

    async def handler(session: AgiSession) -> None:
        try:
            await route(session, results)
        finally:
            done.set()

    server.add_route("inbound", handler)
    with capture_logs() as logs:
        mismatches, tail = await replay_trace(server.bound_port, scenario, after)
        await asyncio.wait_for(done.wait(), 5)
        for _ in range(1000):  # the session task logs its end just after the handler returns
            if any(e["event"] == "agi_session_end" for e in logs):
                break
            await asyncio.sleep(0.005)
    return results, mismatches, tail, logs


async def ivr_dial_route(session: AgiSession, out: list[Any]) -> None:
    out.append((session.env.network_script, session.env.args, session.env.callerid, session.env.dnid))
    await session.answer()
    out.append(await session.get_variable("CALLERID(num)"))
    await session.set_variable("CC_CALL", "call 42")
    out.append(await session.stream_file("demo-congrats", "0123456789*#"))
    out.append(await session.get_data("beep", 6000, 3))
    out.append(await session.say_number(123))
    out.append(await session.wait_for_digit(100))
    try:
        await session.command("FOO BAR")
    except AgiCommandError as exc:
        out.append((exc.code, exc.message))
    try:
        await session.command("GET DATA")
    except AgiCommandError as exc:
        out.append((exc.code, exc.usage))
    out.append(await session.exec("Playback", "beep"))
    out.append(await session.get_full_variable("${CHANNEL}-${CC_CALL}"))
    out.append(await session.get_variable("NO_SUCH_VAR"))
    out.append(await session.exec("Dial", "Local/201@agents,10,g"))
    out.append(await session.get_variable("DIALSTATUS"))
    await session.verbose("ivr done", 1)
    out.append(session.hung_up)


async def test_ivr_dial_trace_gives_typed_results(server: FastAgiServer) -> None:
    """Every command of ivr_dial goes out exactly as recorded and each reply parses to the right value."""
    results, mismatches, tail, logs = await run_scenario(
        server, "ivr_dial", ivr_dial_route, {"SET VARIABLE CC_HANDLED 1\n": "200 result=1\n"}
    )
    assert mismatches == []
    assert results == [
        ("inbound", ("arg1", "arg two"), "380501234567", None),
        "380501234567",
        PlaybackResult(digit="1", endpos=13600),
        DigitsResult(digits="42", timed_out=False),
        None,
        None,
        (510, "Invalid or unknown command"),
        (
            520,
            "Stream the given <replaceable>file</replaceable>, and receive DTMF data.\n"
            "Returns the digits received from the channel at the other end.",
        ),
        0,
        "Local/0800507506@from-pstn-0000000b;2-call 42",
        None,
        0,
        "ANSWER",
        False,
    ]
    # The handler returned with the caller still there: the dialplan learns the backend took it.
    assert tail == b"SET VARIABLE CC_HANDLED 1\n"
    assert server.stats.sessions_completed == 1
    assert [e for e in logs if "exc_info" in e or e["log_level"] in ("error", "critical")] == []
    assert "380501234567" not in repr(logs)


async def caller_hangup_route(session: AgiSession, out: list[Any]) -> None:
    await session.answer()
    try:
        await session.stream_file("demo-congrats")
    except ChannelHungUp:
        out.append("stream: hung up")
    try:
        await session.wait_for_digit(8000)
    except ChannelHungUp:
        out.append("wait: hung up")
    out.append(session.hung_up)
    out.append(await session.get_variable("CALLERID(num)"))
    try:
        await session.answer()
    except ChannelHungUp:
        out.append("answer: hung up")
    await session.answer()  # not caught: the server must end the session quietly


async def test_caller_hangup_trace_ends_cleanly(server: FastAgiServer) -> None:
    """The early HANGUP line marks the call dead, 511 raises ChannelHungUp, variables still read, no traceback."""
    dead = "511 Command Not Permitted on a dead channel or intercept routine\n"
    # The route's last ANSWER goes beyond the trace; the fake answers it as Asterisk did before.
    results, mismatches, tail, logs = await run_scenario(
        server, "caller_hangup", caller_hangup_route, {"ANSWER\n": dead}
    )
    assert mismatches == []
    assert results[:5] == [
        "stream: hung up",
        "wait: hung up",
        True,
        "380501234567",
        "answer: hung up",
    ]
    assert tail == b"ANSWER\n"  # and no CC_HANDLED: the caller is gone
    assert server.stats.sessions_hung_up == 1
    assert [e for e in logs if "exc_info" in e or e["log_level"] in ("error", "critical")] == []
    ends = [e for e in logs if e["event"] == "agi_session_end"]
    assert ends and ends[0]["outcome"] == "hung_up"
