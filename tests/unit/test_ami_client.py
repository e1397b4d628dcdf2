"""The AMI client against a small in-test AMI server that replays recorded Asterisk replies."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator, Callable

import pytest
import structlog

from callcenter.errors import TelephonyError
from callcenter.telephony.ami_client import AmiClient, AmiSettings
from callcenter.telephony.ami_errors import AmiActionError, AmiConnectionLost, AmiTimeout
from callcenter.telephony.ami_frames import AmiFramer, Frame
from callcenter.telephony.events import (
    AmiConnected,
    AmiDisconnected,
    AmiEvent,
    ChannelsResync,
    DevicesResync,
    Hangup,
)
from callcenter.telephony.tracker import CallTracker
from tests.conformance.traces import ami_received_bytes, ami_sent_frames

CHALLENGE = "176191733"
SECRET = "ccsecret"


def _recorded_blocks() -> list[str]:
    text = ami_received_bytes("actions").decode("utf-8").partition("\r\n")[2]
    return [block for block in text.split("\r\n\r\n") if block]


def recorded(action_id: str) -> str:
    """The replies Asterisk sent for one recorded action, with ``{aid}`` in place of its ActionID."""
    blocks = [b for b in _recorded_blocks() if f"\r\nActionID: {action_id}\r\n" in b + "\r\n"]
    assert blocks, action_id
    return "".join(b.replace(f"ActionID: {action_id}", "ActionID: {aid}") + "\r\n\r\n" for b in blocks)


def test_recorded_helper_matches_trace() -> None:
    """The replay helper finds the recorded Ping reply, and the trace sent a Ping with that id."""
    assert "Ping: Pong" in recorded("cap-3")
    assert any("Action: Ping\r\nActionID: cap-3" in f for f in ami_sent_frames("actions"))


DEVICE_LIST = (
    "Response: Success\r\nActionID: {aid}\r\nEventList: start\r\nMessage: Device State Changes will follow\r\n\r\n"
    "Event: DeviceStateChange\r\nActionID: {aid}\r\nDevice: PJSIP/201\r\nState: NOT_INUSE\r\n\r\n"
    "Event: DeviceStateListComplete\r\nActionID: {aid}\r\nEventList: Complete\r\nListItems: 1\r\n\r\n"
)
HANGUP_EVENT = next(b for b in _recorded_blocks() if b.startswith("Event: Hangup\r\n")) + "\r\n\r\n"


class FakeAsterisk:
    """Just enough of Asterisk's manager for the client: greeting, logins, scripted replies."""

    def __init__(self) -> None:
        self.secret = SECRET
        self.answer_pings = True
        self.ignore: set[str] = set()
        self.replies: dict[str, str] = {
            "Ping": recorded("cap-3"),
            "CoreShowChannels": recorded("cap-8"),
            "DeviceStateList": DEVICE_LIST,
            "Getvar": recorded("cap-9"),
            "Setvar": recorded("cap-10"),
            "Command": recorded("cap-16"),
            "MixMonitor": recorded("cap-12"),
            "Logoff": recorded("cap-20"),
        }
        self.delays: dict[str, float] = {}
        self.connections = 0
        self.received: list[Frame] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def drop_all(self) -> None:
        """Close every client connection, as an Asterisk restart would."""
        for writer in self.writers:
            writer.close()

    def push(self, text: str) -> None:
        """Send an event to every connected client."""
        for writer in self.writers:
            if not writer.is_closing():
                writer.write(text.encode())

    def actions(self, name: str) -> list[Frame]:
        """The actions named ``name`` received so far."""
        return [f for f in self.received if f.get("Action") == name]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        framer = AmiFramer(expect_greeting=False)
        logged_in = False
        try:
            while data := await reader.read(4096):
                for frame in framer.feed(data):
                    assert isinstance(frame, Frame)
                    self.received.append(frame)
                    logged_in = await self._answer(frame, writer, logged_in)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _answer(self, frame: Frame, writer: asyncio.StreamWriter, logged_in: bool) -> bool:
        action, aid = frame.get("Action") or "", frame.get("ActionID") or ""
        if action == "Challenge":
            writer.write(f"Response: Success\r\nActionID: {aid}\r\nChallenge: {CHALLENGE}\r\n\r\n".encode())
            return logged_in
        if action == "Login":
            expected = hashlib.md5((CHALLENGE + self.secret).encode()).hexdigest()
            ok = (
                frame.get("Key") == expected
                if frame.get("AuthType") == "MD5"
                else frame.get("Secret") == self.secret
            )
            if not ok:
                await asyncio.sleep(0.01)  # Asterisk waits 1 s; shortened for the test
                writer.write(
                    f"Response: Error\r\nActionID: {aid}\r\nMessage: Authentication failed\r\n\r\n".encode()
                )
                writer.close()
                return False
            writer.write(recorded("cap-2").format(aid=aid).encode())
            return True
        if not logged_in:
            writer.write(f"Response: Error\r\nActionID: {aid}\r\nMessage: Permission denied\r\n\r\n".encode())
            return False
        if action in self.ignore or (action == "Ping" and not self.answer_pings):
            return True
        reply = self.replies.get(action)
        if reply is None:
            reply = recorded("cap-4").replace("NoSuchAction", action)
        delay = self.delays.get(action)
        if delay:
            asyncio.get_running_loop().call_later(delay, lambda: writer.write(reply.format(aid=aid).encode()))
        else:
            writer.write(reply.format(aid=aid).encode())
        return True


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAsterisk]:
    server = FakeAsterisk()
    await server.start()
    yield server
    await server.stop()


def _settings(server: FakeAsterisk, **overrides: object) -> AmiSettings:
    base: dict[str, object] = {
        "port": server.port,
        "username": "cc",
        "secret": SECRET,
        "auth": "md5",
        "action_timeout": 1.0,
        "ping_interval": 0.05,
        "ping_timeout": 0.1,
        "backoff_initial": 0.02,
        "backoff_max": 0.1,
    }
    base.update(overrides)
    return AmiSettings(**base)  # type: ignore[arg-type]


@pytest.fixture
async def make_client(asterisk: FakeAsterisk) -> AsyncIterator[Callable[..., AmiClient]]:
    clients: list[AmiClient] = []

    def make(**overrides: object) -> AmiClient:
        client = AmiClient(_settings(asterisk, **overrides), rng=random.Random(7))
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def _until(predicate: Callable[[], bool], limit: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not predicate():
        assert loop.time() < end, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_md5_login_and_ping(asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]) -> None:
    """MD5 challenge login succeeds and a Ping returns Asterisk's timestamp."""
    client = make_client()
    await client.start()
    await client.wait_ready(2.0)
    assert await client.ping() == pytest.approx(1795486451.489366)
    login = asterisk.actions("Login")[0]
    assert login.get("Secret") is None and login["AuthType"] == "MD5"


async def test_plain_login(asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]) -> None:
    """Plain login sends the secret and gets logged in."""
    client = make_client(auth="plain")
    await client.start()
    await client.wait_ready(2.0)
    assert asterisk.actions("Login")[0]["Secret"] == SECRET
    assert asterisk.actions("Challenge") == []


async def test_actions_wait_for_login(asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]) -> None:
    """An action issued before the login completes is written only after it (no Permission denied)."""
    client = make_client()
    await client.start()
    value = await client.getvar("CHANNEL(language)", channel="cap-orig-1")
    assert value == "en"
    names = [f.get("Action") for f in asterisk.received]
    assert names.index("Login") < names.index("Getvar")


async def test_correlation_out_of_order(
    asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """Concurrent actions get their own replies even when Asterisk answers them out of order."""
    asterisk.delays["Getvar"] = 0.1
    client = make_client()
    await client.start()
    await client.wait_ready(2.0)
    getvar = asyncio.create_task(client.getvar("CHANNEL(language)", channel="x"))
    setvar = asyncio.create_task(client.setvar("CC_FLAG", "1", channel="x"))
    await setvar
    assert not getvar.done()
    assert await getvar == "en"


async def test_list_completion_and_events_between(
    asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """CoreShowChannels gathers its items until EventList: Complete; other events still flow."""
    client = make_client()
    seen: list[AmiEvent] = []
    client.add_listener(seen.append)
    await client.start()
    await client.wait_ready(2.0)
    asterisk.replies["CoreShowChannels"] = recorded("cap-8").replace(
        "\r\n\r\nEvent: CoreShowChannel\r\n", "\r\n\r\n" + HANGUP_EVENT + "Event: CoreShowChannel\r\n", 1
    )
    channels = await client.core_show_channels()
    assert [c.channel.uniqueid for c in channels] == ["cap-orig-1", "cap-orig-1;2"]
    assert any(isinstance(e, Hangup) for e in seen)


async def test_error_maps_to_typed_exception(
    asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """Response: Error becomes AmiActionError with Asterisk's exact message."""
    client = make_client()
    await client.start()
    with pytest.raises(AmiActionError) as info:
        await client.send_action("NoSuchAction")
    assert isinstance(info.value, TelephonyError)
    assert info.value.message == (
        "Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show available commands."
    )


async def test_action_timeout(asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]) -> None:
    """An unanswered action raises AmiTimeout, which is also an asyncio.TimeoutError."""
    asterisk.ignore.add("Redirect")
    client = make_client()
    await client.start()
    await client.wait_ready(2.0)
    with pytest.raises(asyncio.TimeoutError) as info:
        await client.send_action("Redirect", {"Channel": "x"}, timeout_s=0.1)
    assert isinstance(info.value, AmiTimeout)


async def test_dead_ping_triggers_reconnect_and_resync(
    asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """A Ping left unanswered counts as a dead link: the client reconnects and resyncs."""
    client = make_client()
    seen: list[AmiEvent] = []
    client.add_listener(seen.append)
    await client.start()
    await client.wait_ready(2.0)
    asterisk.answer_pings = False
    await _until(lambda: any(isinstance(e, AmiDisconnected) for e in seen))
    asterisk.answer_pings = True
    await _until(lambda: sum(isinstance(e, ChannelsResync) for e in seen) >= 2)
    assert asterisk.connections >= 2
    reason = next(e.reason for e in seen if isinstance(e, AmiDisconnected))
    assert "Ping" in reason


async def test_reconnect_resync_feeds_tracker(
    asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """After a drop the client logs in again, and the tracker gets channels and devices in order."""
    client = make_client()
    tracker = CallTracker()
    seen: list[AmiEvent] = []
    client.add_listener(seen.append)
    client.add_listener(tracker.apply)
    await client.start()
    await _until(lambda: any(isinstance(e, DevicesResync) for e in seen))
    asterisk.drop_all()
    await _until(lambda: sum(isinstance(e, AmiConnected) for e in seen) >= 2)
    await _until(lambda: sum(isinstance(e, DevicesResync) for e in seen) >= 2)
    assert set(tracker.channels) == {"cap-orig-1", "cap-orig-1;2"}
    assert tracker.calls == {"cap-orig-1": frozenset({"cap-orig-1", "cap-orig-1;2"})}
    assert tracker.devices == {"PJSIP/201": "NOT_INUSE"}
    kinds = [type(e).__name__ for e in seen]
    assert kinds.index("AmiConnected") < kinds.index("ChannelsResync") < kinds.index("DevicesResync")


async def test_bad_password_backs_off(asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]) -> None:
    """A refused login is reported and retried with growing delays, not in a hot loop."""
    client = make_client(secret="wrong")
    await client.start()
    await asyncio.sleep(0.5)
    assert not client.connected
    assert client.last_error is not None and "Authentication failed" in client.last_error
    # Delays 0.02, 0.04, 0.08, 0.1, 0.1 … (jittered down to half at most): at most ~12 tries in 0.5 s.
    assert 2 <= asterisk.connections <= 12
    assert client.last_backoff is not None and client.last_backoff >= 0.01


async def test_originate_is_async_and_waits_for_response(
    asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """Originate always sends Async: true; originate_and_wait returns the OriginateResponse."""
    asterisk.replies["Originate"] = recorded("cap-7")
    client = make_client()
    await client.start()
    result = await client.originate_and_wait(
        "Local/201@agents",
        application="Wait",
        data="6",
        caller_id="Supervisor <100>",
        channel_id="cap-orig-1",
    )
    assert result.success and result.reason == 4 and result.uniqueid == "cap-orig-1"
    sent = asterisk.actions("Originate")[0]
    assert sent["Async"] == "true" and sent["ChannelId"] == "cap-orig-1"
    action_id = await client.originate(
        "Local/201@agents", context="agents", exten="201", variables={"A": "1", "B": "2"}
    )
    assert action_id.startswith("cc/")
    assert asterisk.actions("Originate")[1].getall("Variable") == ["A=1", "B=2"]


async def test_command_and_mixmonitor(asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]) -> None:
    """Command returns its Output lines; MixMonitor without i() returns no id."""
    client = make_client()
    await client.start()
    (line,) = await client.command("core show version")
    assert line.startswith("Asterisk 22.10.1")
    assert await client.mixmonitor("cap-orig-1", "/tmp/x.wav") is None


async def test_subscription_gets_typed_events(
    asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """Events pushed by Asterisk reach an async subscriber as typed events."""
    client = make_client()
    await client.start()
    await client.wait_ready(2.0)
    async with client.subscribe() as events:
        asterisk.push(HANGUP_EVENT)
        async with asyncio.timeout(2.0):
            async for event in events:
                if isinstance(event, Hangup):
                    assert event.cause == 0 and event.cause_txt == "Unknown"
                    break


async def test_pending_action_fails_when_connection_drops(
    asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """An action waiting for its reply fails with AmiConnectionLost when the link drops."""
    asterisk.ignore.add("Redirect")
    client = make_client()
    await client.start()
    await client.wait_ready(2.0)
    task = asyncio.create_task(client.redirect("x", "agents", "202"))
    await _until(lambda: bool(asterisk.actions("Redirect")))
    asterisk.drop_all()
    with pytest.raises(AmiConnectionLost):
        await task


def test_backoff_is_capped_and_jittered() -> None:
    """Backoff doubles from the initial delay, never exceeds the cap and never drops below half."""
    settings = AmiSettings(backoff_initial=0.5, backoff_max=30.0)
    rng = random.Random(1)
    for attempt in range(1, 20):
        nominal = min(30.0, 0.5 * 2 ** (attempt - 1))
        delay = settings.backoff(attempt, rng)
        assert nominal / 2 <= delay <= nominal
    assert len({round(settings.backoff(10, rng), 6) for _ in range(10)}) > 1


SHUTDOWN_EVENT = "Event: Shutdown\r\nPrivilege: system,all\r\nShutdown: Cleanly\r\nRestart: True\r\n\r\n"


async def test_shutdown_event_reconnects(
    asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """A Shutdown event ends the session at once (no waiting for a ping) and the client comes back."""
    client = make_client(ping_interval=30.0)
    seen: list[AmiEvent] = []
    client.add_listener(seen.append)
    await client.start()
    await client.wait_ready(2.0)
    asterisk.push(SHUTDOWN_EVENT)
    await _until(lambda: sum(isinstance(e, AmiConnected) for e in seen) >= 2)
    reason = next(e.reason for e in seen if isinstance(e, AmiDisconnected))
    assert "shutdown" in reason.lower()


async def test_bad_frame_log_masks_phone_numbers(
    asterisk: FakeAsterisk, make_client: Callable[..., AmiClient]
) -> None:
    """A malformed frame is logged without the caller's full number, and later events still arrive."""
    client = make_client()
    seen: list[AmiEvent] = []
    client.add_listener(seen.append)
    await client.start()
    await client.wait_ready(2.0)
    with structlog.testing.capture_logs() as logs:
        asterisk.push("Event: Newchannel\r\nCallerIDNum: 380501234567\r\nbroken line\r\n\r\n" + HANGUP_EVENT)
        await _until(lambda: any(isinstance(e, Hangup) for e in seen))
    bad = [entry for entry in logs if entry["event"] == "ami_bad_frame"]
    assert bad, logs
    assert "380501234567" not in repr(bad) and "38050***4567" in repr(bad)


async def test_silent_server_and_refused_port_back_off() -> None:
    """A server that never greets, then a closed port: each attempt fails cleanly and is retried later."""
    accepted = 0
    held: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = AmiSettings(port=port, connect_timeout=0.1, backoff_initial=0.05, backoff_max=0.1)
    client = AmiClient(settings, rng=random.Random(3))
    await client.start()
    try:
        await _until(lambda: accepted >= 2)
        assert not client.connected
        server.close()
        for writer in held:
            writer.close()
        await server.wait_closed()
        before = client.last_error
        await _until(lambda: client.last_error != before and "onnect" in (client.last_error or ""))
        assert not client.connected
    finally:
        await client.close()
