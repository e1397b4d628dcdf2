"""The FastAGI server over real sockets: routing, limits, peers, bad input, shutdown, clean ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from callcenter.telephony.agi import AgiSession, ChannelHungUp, FastAgiServer


def header(script: str = "hotline", callerid: str = "380501234567") -> bytes:
    return (
        f"agi_network: yes\nagi_network_script: {script}\nagi_request: agi://127.0.0.1/{script}\n"
        f"agi_channel: PJSIP/trunk-00000001\nagi_uniqueid: 1795486407.24\nagi_callerid: {callerid}\n\n"
    ).encode()


async def eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait until ``check()`` holds (the server works in the same loop, a few iterations away)."""
    for _ in range(int(timeout_s / 0.005)):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached in time")


class FakePbx:
    """Asterisk's side of one FastAGI connection, driven step by step by the test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, data: bytes | None = None) -> FakePbx:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        pbx = cls(reader, writer)
        if data:
            writer.write(data)
        return pbx

    async def expect(self, line: str, answer: str) -> None:
        got = await asyncio.wait_for(self.reader.readline(), 5)
        assert got.decode() == line
        self.writer.write(answer.encode())

    async def rest(self) -> bytes:
        """Everything the server sends until it closes the connection."""
        data = await asyncio.wait_for(self.reader.read(), 5)
        self.writer.close()
        return data


@pytest.fixture
async def server() -> AsyncIterator[FastAgiServer]:
    srv = FastAgiServer("127.0.0.1", 0, max_sessions=3, header_timeout_s=0.3)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.close(grace_s=0.5)


async def echo_route(session: AgiSession) -> None:
    """Answer, then read CC_STEP until the caller side says 'done' (the shape of a flow)."""
    await session.answer()
    while await session.get_variable("CC_STEP") != "done":
        pass


async def run_echo_call(port: int, steps: int = 2) -> bytes:
    pbx = await FakePbx.connect(port, header())
    await pbx.expect("ANSWER\n", "200 result=0\n")
    for _ in range(steps):
        await pbx.expect("GET VARIABLE CC_STEP\n", "200 result=1 (more)\n")
    await pbx.expect("GET VARIABLE CC_STEP\n", "200 result=1 (done)\n")
    await pbx.expect("SET VARIABLE CC_HANDLED 1\n", "200 result=1\n")
    return await pbx.rest()


async def test_route_with_query_and_clean_completion(server: FastAgiServer) -> None:
    """A '?query' is split off the route, the handler runs, CC_HANDLED is set and the socket closed."""
    seen: list[Any] = []

    async def route(session: AgiSession) -> None:
        seen.append(dict(session.env.query))
        await echo_route(session)

    server.add_route("hotline", route)
    pbx = await FakePbx.connect(server.bound_port, header("hotline?lang=uk"))
    await pbx.expect("ANSWER\n", "200 result=0\n")
    await pbx.expect("GET VARIABLE CC_STEP\n", "200 result=1 (done)\n")
    await pbx.expect("SET VARIABLE CC_HANDLED 1\n", "200 result=1\n")
    assert await pbx.rest() == b""
    assert seen == [{"lang": "uk"}]
    assert server.stats.sessions_completed == 1


def test_add_route_refuses_sync_handlers_and_duplicates() -> None:
    """Only async handlers (functions or objects with an async __call__) are accepted, once per route."""
    srv = FastAgiServer()

    class Flow:
        async def __call__(self, session: AgiSession) -> None:
            await session.answer()

    srv.add_route("/hotline/", Flow())
    with pytest.raises(ValueError, match="already registered"):
        srv.add_route("hotline", echo_route)
    with pytest.raises(TypeError, match="async"):
        srv.add_route("sync", lambda session: None)  # type: ignore[arg-type, return-value]


async def test_unknown_route_fails_the_agi_and_masks_numbers(server: FastAgiServer) -> None:
    """An unknown route gets FAILURE (so AGISTATUS=FAILURE) and the log masks digits in the route."""
    with capture_logs() as logs:
        pbx = await FakePbx.connect(server.bound_port, header("callback/380501234567"))
        assert await pbx.rest() == b"FAILURE\n"
    assert server.stats.unknown_route == 1
    assert "380501234567" not in repr(logs)
    assert any(e["event"] == "agi_unknown_route" for e in logs)


async def test_gosub_trying_line_is_skipped(server: FastAgiServer) -> None:
    """The '100 result=0 Trying...' before GOSUB's real reply is not taken as the reply."""
    replies: list[Any] = []

    async def route(session: AgiSession) -> None:
        replies.append(await session.command("GOSUB sub-notice s 1"))

    server.add_route("hotline", route)
    pbx = await FakePbx.connect(server.bound_port, header())
    await pbx.expect("GOSUB sub-notice s 1\n", "100 result=0 Trying...\n200 result=0 Gosub complete\n")
    await pbx.expect("SET VARIABLE CC_HANDLED 1\n", "200 result=1\n")
    await pbx.rest()
    assert [(r.code, r.data) for r in replies] == [(200, "Gosub complete")]


async def test_max_sessions_refuses_with_failure_and_counts(server: FastAgiServer) -> None:
    """Beyond max_sessions a new call is told FAILURE at once; the calls in progress are unaffected."""
    gate = asyncio.Event()

    async def route(session: AgiSession) -> None:
        await gate.wait()
        await echo_route(session)

    server.add_route("hotline", route)
    held = [await FakePbx.connect(server.bound_port, header()) for _ in range(3)]
    await eventually(lambda: server.stats.sessions_started == 3)
    extra = await FakePbx.connect(server.bound_port, header())
    assert await extra.rest() == b"FAILURE\n"
    assert server.stats.rejected_busy == 1
    gate.set()
    for pbx in held:
        await pbx.expect("ANSWER\n", "200 result=0\n")
        await pbx.expect("GET VARIABLE CC_STEP\n", "200 result=1 (done)\n")
        await pbx.expect("SET VARIABLE CC_HANDLED 1\n", "200 result=1\n")
        assert await pbx.rest() == b""
    assert server.stats.sessions_completed == 3


async def test_peers_outside_allowed_networks_are_refused() -> None:
    """A connection from an address outside allowed_peers is closed without a word and logged."""
    srv = FastAgiServer("127.0.0.1", 0, allowed_peers=["10.20.0.0/16", "::1/128"])
    srv.add_route("hotline", echo_route)
    await srv.start()
    try:
        with capture_logs() as logs:
            pbx = await FakePbx.connect(srv.bound_port, header())
            assert await pbx.rest() == b""
        assert srv.stats.rejected_peer == 1
        assert srv.stats.sessions_started == 0
        assert [e["peer"] for e in logs if e["event"] == "agi_peer_refused"] == ["127.0.0.1"]
    finally:
        await srv.close(0)


async def test_slow_header_times_out_and_others_are_served(server: FastAgiServer) -> None:
    """A half-open client that never finishes its header is dropped; a normal call still completes."""
    server.add_route("hotline", echo_route)
    slow = await FakePbx.connect(server.bound_port, b"agi_network: yes\nagi_network_scr")
    assert await run_echo_call(server.bound_port) == b""
    assert await slow.rest() == b"FAILURE\n"
    assert server.stats.header_timeouts == 1


async def test_malformed_header_line_is_a_clear_error(server: FastAgiServer) -> None:
    """A peer that is not Asterisk gets FAILURE and a closed socket; the log says what was wrong."""
    server.add_route("hotline", echo_route)
    with capture_logs() as logs:
        pbx = await FakePbx.connect(server.bound_port, b"GET / HTTP/1.1\nHost: x\n\n")
        assert await pbx.rest() == b"FAILURE\n"
    errors = [e for e in logs if e["event"] == "agi_protocol_error"]
    assert len(errors) == 1
    assert "malformed AGI header line starting 'GET / HTTP/1.1'" in errors[0]["error"]
    assert server.stats.protocol_errors == 1
    assert server.active_sessions == 0
    assert await run_echo_call(server.bound_port) == b""


async def test_garbage_on_one_call_does_not_touch_another(server: FastAgiServer) -> None:
    """A bad reply line ends only its own session, without a traceback; the concurrent call completes."""
    server.add_route("hotline", echo_route)
    with capture_logs() as logs:
        bad = await FakePbx.connect(server.bound_port, header())
        good = asyncio.create_task(run_echo_call(server.bound_port, steps=3))
        await bad.expect("ANSWER\n", "OK fine\n")
        assert await bad.rest() == b"FAILURE\n"
        assert await good == b""
    assert server.stats.protocol_errors == 1
    assert server.stats.sessions_failed == 1
    assert server.stats.sessions_completed == 1
    assert [e for e in logs if "exc_info" in e] == []


async def test_garbage_between_commands_ends_the_call_for_the_flow(server: FastAgiServer) -> None:
    """Garbage while the flow is busy elsewhere closes the call; the flow's next command raises ChannelHungUp."""
    busy = asyncio.Event()
    proceed = asyncio.Event()
    raised: list[str] = []

    async def route(session: AgiSession) -> None:
        busy.set()
        await proceed.wait()  # e.g. a database call
        try:
            await session.answer()
        except ChannelHungUp as exc:
            raised.append(type(exc).__name__)
            raise

    server.add_route("hotline", route)
    pbx = await FakePbx.connect(server.bound_port, header())
    await busy.wait()
    pbx.writer.write(b"this is not AGI\n")
    assert await pbx.rest() == b"FAILURE\n"
    proceed.set()
    await eventually(lambda: server.stats.sessions_hung_up == 1)
    assert raised == ["ChannelHungUp"]
    assert server.stats.protocol_errors == 1
    assert server.stats.sessions_hung_up == 1


async def test_peer_closing_mid_command_is_a_hang_up_without_traceback(server: FastAgiServer) -> None:
    """EOF while a command waits raises ChannelHungUp in the flow; the session ends as hung_up."""
    raised: list[bool] = []

    async def route(session: AgiSession) -> None:
        try:
            await session.wait_for_digit(-1)
        except ChannelHungUp:
            raised.append(session.hung_up)
            raise

    server.add_route("hotline", route)
    with capture_logs() as logs:
        pbx = await FakePbx.connect(server.bound_port, header())
        assert (await pbx.reader.readline()) == b"WAIT FOR DIGIT -1\n"
        pbx.writer.close()
        await eventually(lambda: server.stats.sessions_hung_up == 1)
    assert raised == [True]
    assert server.stats.sessions_hung_up == 1
    assert [e for e in logs if "exc_info" in e] == []


async def test_bug_in_handler_is_logged_with_traceback_and_fails_the_agi(server: FastAgiServer) -> None:
    """A real bug in a route is logged with its traceback and the call goes to the survival path."""

    async def route(session: AgiSession) -> None:
        raise RuntimeError("flow bug")

    server.add_route("hotline", route)
    with capture_logs() as logs:
        pbx = await FakePbx.connect(server.bound_port, header())
        assert await pbx.rest() == b"FAILURE\n"
    assert [e["event"] for e in logs if e.get("exc_info")] == ["agi_route_failed"]
    assert server.stats.sessions_failed == 1


async def test_graceful_close_lets_short_calls_finish_and_cancels_long_ones() -> None:
    """close(grace) stops accepting, waits for calls, then makes the rest leave the AGI with FAILURE."""
    srv = FastAgiServer("127.0.0.1", 0)
    srv.add_route("hotline", echo_route)
    await srv.start()
    port = srv.bound_port
    short = await FakePbx.connect(port, header())
    long = await FakePbx.connect(port, header())
    await short.expect("ANSWER\n", "200 result=0\n")
    await long.expect("ANSWER\n", "200 result=0\n")
    assert (await long.reader.readline()) == b"GET VARIABLE CC_STEP\n"  # left unanswered
    closing = asyncio.create_task(srv.close(grace_s=0.3))
    await short.expect("GET VARIABLE CC_STEP\n", "200 result=1 (done)\n")
    await short.expect("SET VARIABLE CC_HANDLED 1\n", "200 result=1\n")
    assert await short.rest() == b""
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    assert await long.rest() == b"FAILURE\n"
    await closing
    assert srv.stats.sessions_completed == 1
    assert srv.stats.sessions_cancelled == 1
    assert srv.active_sessions == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(min_size=1, max_size=200), after_header=st.booleans())
def test_random_garbage_never_hurts_the_server(garbage: bytes, after_header: bool) -> None:
    """Any bytes from one peer end at most that peer's session; the server then serves a normal call."""

    async def scenario() -> None:
        srv = FastAgiServer("127.0.0.1", 0, header_timeout_s=0.2)
        srv.add_route("hotline", echo_route)
        await srv.start()
        try:
            with capture_logs() as logs:
                bad = await FakePbx.connect(srv.bound_port, (header() if after_header else b"") + garbage)
                await asyncio.sleep(0.02)
                bad.writer.close()
                assert await run_echo_call(srv.bound_port) == b""
            assert [e for e in logs if "exc_info" in e] == []
            assert srv.stats.sessions_completed >= 1
        finally:
            await srv.close(0.2)

    asyncio.run(scenario())
