"""The simulated AMI server as a client sees it: login, masks, actions, lists, Originate, faults."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.sim.ami_server import AmiServer
from callcenter.sim.asterisk import SimAsterisk
from callcenter.sim.clock import SimClock
from callcenter.sim.compare import Frame, parse_frames
from callcenter.sim.dialplan import Dialplan

TRACES = Path(__file__).resolve().parents[2].parent / "shared" / "asterisk-traces"
SCALE = 20.0


class Client:
    """A raw AMI client: send actions, read frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = b""

    async def send(self, *lines: str) -> None:
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()

    async def frame(self, limit: float = 3.0) -> Frame:
        while b"\r\n\r\n" not in self.buffer:
            chunk = await asyncio.wait_for(self.reader.read(65536), limit)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        return parse_frames(raw + b"\r\n\r\n")[0]

    async def until(self, kind: str, limit: float = 3.0) -> list[Frame]:
        frames: list[Frame] = []
        while not frames or frames[-1].kind != kind:
            frames.append(await self.frame(limit))
        return frames


_clients: list[Client] = []


@pytest.fixture
async def sim() -> AsyncIterator[tuple[SimAsterisk, AmiServer]]:
    ast = SimAsterisk(
        SimClock(SCALE), dialplan=Dialplan.parse((TRACES / "asterisk-etc/extensions.conf").read_text())
    )
    server = AmiServer(ast)
    await server.start()
    yield ast, server
    for client in _clients:
        client.writer.close()
        with contextlib.suppress(ConnectionError):
            await client.writer.wait_closed()
    _clients.clear()
    await server.stop()
    await ast.stop()


async def connect(server: AmiServer, login: bool = True, events: str = "on") -> Client:
    """Open a connection, check the greeting and log in unless told not to."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    _clients.append(Client(reader, writer))
    assert await reader.readline() == b"Asterisk Call Manager/11.0.0\r\n"
    client = _clients[-1]
    if login:
        await client.send(
            "Action: Login", "ActionID: L", "Username: cc", "Secret: ccsecret", f"Events: {events}"
        )
        assert (await client.frame()).get("Message") == "Authentication accepted"
    return client


async def test_login_success_then_fully_booted_and_action_id_only_when_sent(
    sim: tuple[SimAsterisk, AmiServer],
) -> None:
    """Success, then FullyBooted; a Ping without ActionID gets a reply without one."""
    _, server = sim
    client = await connect(server)
    booted = await client.frame()
    assert booted.kind == "FullyBooted" and booted.names[:2] == ("Event", "Privilege")
    assert (await client.frame()).kind == "SuccessfulAuth"
    await client.send("Action: Ping")
    pong = await client.frame()
    assert pong.names == ("Response", "Ping", "Timestamp")
    await client.send("Action: Ping", "ActionID: 7")
    assert (await client.frame()).names == ("Response", "ActionID", "Ping", "Timestamp")


async def test_bad_login_waits_then_errors_and_closes(sim: tuple[SimAsterisk, AmiServer]) -> None:
    """A wrong secret is answered after 1 s (scaled) with Error, then the socket closes."""
    _, server = sim
    client = await connect(server, login=False)
    started = time.monotonic()
    await client.send("Action: Login", "Username: cc", "Secret: wrong")
    reply = await client.frame()
    assert reply.kind == "Response:Error" and reply.get("Message") == "Authentication failed"
    assert time.monotonic() - started >= 0.9 / SCALE
    assert await client.reader.read() == b""


async def test_md5_challenge_login(sim: tuple[SimAsterisk, AmiServer]) -> None:
    """Challenge gives a number; Login with md5(challenge+secret) is accepted."""
    _, server = sim
    client = await connect(server, login=False)
    await client.send("Action: Challenge", "AuthType: MD5")
    challenge = await client.frame()
    assert challenge.names == ("Response", "Challenge")
    key = hashlib.md5((challenge.get("Challenge") + "ccsecret").encode()).hexdigest()
    await client.send("Action: Login", "AuthType: MD5", "Username: cc", f"Key: {key}")
    assert (await client.frame()).get("Message") == "Authentication accepted"


async def test_actions_before_login_and_unknown_actions_are_refused(
    sim: tuple[SimAsterisk, AmiServer],
) -> None:
    """Permission denied before login; an unknown action gets Asterisk's exact text."""
    _, server = sim
    client = await connect(server, login=False)
    await client.send("Action: Ping", "ActionID: 1")
    assert (await client.frame()).get("Message") == "Permission denied"
    await client.send("action: login", "username: cc", "secret: ccsecret", "events: off")
    assert (await client.frame()).get("Message") == "Authentication accepted"
    await client.send("Action: Frobnicate", "ActionID: 2")
    reply = await client.frame()
    assert reply.get("Message") == (
        "Invalid/unknown command: Frobnicate. Use Action: ListCommands to show available commands."
    )


async def test_event_mask_filters_classes(sim: tuple[SimAsterisk, AmiServer]) -> None:
    """With ``Events: call`` a session gets Newchannel but no Newexten/VarSet (class dialplan)."""
    _, server = sim
    client = await connect(server, events="call")
    await client.send(
        "Action: Originate",
        "ActionID: o",
        "Channel: Local/201@agents",
        "Application: Wait",
        "Data: 1",
        "Async: true",
    )
    frames = await client.until("OriginateResponse", limit=5)
    kinds = {f.kind for f in frames}
    assert "Newchannel" in kinds and "Newstate" in kinds
    assert not kinds & {"Newexten", "VarSet", "FullyBooted", "SuccessfulAuth"}
    await client.send("Action: Events", "ActionID: e", "EventMask: off")
    reply = await client.frame()
    assert reply.names == ("Response", "ActionID", "Events") and reply.get("Events") == "Off"


async def test_sync_originate_holds_events_and_sends_no_originate_response(
    sim: tuple[SimAsterisk, AmiServer],
) -> None:
    """A synchronous Originate replies only once answered; its events come after the reply."""
    _, server = sim
    client = await connect(server)
    await client.until("SuccessfulAuth")
    await client.send(
        "Action: Originate",
        "ActionID: s",
        "Channel: Local/201@agents",
        "Application: Wait",
        "Data: 2",
        "Async: false",
    )
    first = await client.frame(limit=5)
    assert first.kind == "Response:Success" and first.get("Message") == "Originate successfully queued"
    rest = await client.until("Hangup", limit=5)
    kinds = [f.kind for f in rest]
    assert kinds[0] == "Newchannel"
    assert "OriginateResponse" not in kinds


async def test_async_originate_failure_for_missing_extension(sim: tuple[SimAsterisk, AmiServer]) -> None:
    """Async Originate to a missing extension: ack, then OriginateResponse Failure with Uniqueid <unknown>."""
    _, server = sim
    client = await connect(server, events="off")
    await client.send(
        "Action: Originate",
        "ActionID: f",
        "Channel: Local/999@nowhere",
        "Application: Wait",
        "Data: 1",
        "Async: true",
    )
    assert (await client.frame()).get("Message") == "Originate successfully queued"
    response = await client.frame()
    assert response.kind == "OriginateResponse"
    assert (response.get("Response"), response.get("Uniqueid"), response.get("Reason")) == (
        "Failure",
        "<unknown>",
        "0",
    )


async def test_lists_setvar_getvar_hangup(sim: tuple[SimAsterisk, AmiServer]) -> None:
    """CoreShowChannels lists live channels; Setvar/Getvar round-trip; Hangup ends the call."""
    ast, server = sim
    client = await connect(server, events="off")
    await client.send(
        "Action: Originate",
        "ActionID: o",
        "Channel: Local/201@agents",
        "Application: Wait",
        "Data: 30",
        "Async: true",
        "ChannelId: chan-a",
    )
    await client.until("OriginateResponse", limit=5)
    await client.send("Action: CoreShowChannels", "ActionID: c")
    frames = await client.until("CoreShowChannelsComplete")
    assert frames[0].names == ("Response", "ActionID", "EventList", "Message")
    assert [f.kind for f in frames[1:-1]] == ["CoreShowChannel", "CoreShowChannel"]
    assert frames[-1].get("ListItems") == "2"
    await client.send("Action: Setvar", "ActionID: v", "Channel: chan-a", "Variable: X", "Value: 5")
    assert (await client.frame()).get("Message") == "Variable Set"
    await client.send("Action: Getvar", "ActionID: g", "Channel: chan-a", "Variable: X")
    assert (await client.frame()).get("Value") == "5"
    await client.send("Action: Hangup", "ActionID: h", "Channel: chan-a")
    assert (await client.frame()).get("Message") == "Channel Hungup"
    for _ in range(100):
        if not ast.pbx.channels:
            break
        await asyncio.sleep(0.01)
    assert not ast.pbx.channels
    await client.send("Action: Hangup", "ActionID: h2", "Channel: chan-a")
    assert (await client.frame()).get("Message") == "No such channel"


async def test_device_state_list_and_queue_actions(sim: tuple[SimAsterisk, AmiServer]) -> None:
    """QueuePause raises member events; QueueSummary and DeviceStateList are lists."""
    _, server = sim
    client = await connect(server)
    await client.until("SuccessfulAuth")
    await client.send(
        "Action: QueuePause",
        "ActionID: p",
        "Queue: survival",
        "Interface: Local/201@agents/n",
        "Paused: true",
        "Reason: lunch",
    )
    assert (await client.frame()).get("Message") == "Interface paused successfully"
    frames = await client.until("QueueMemberPause")
    assert frames[-1].get("PausedReason") == "lunch"
    await client.send("Action: QueuePause", "ActionID: p2", "Interface: Local/9@x", "Paused: true")
    assert (await client.frame()).get("Message") == "Interface not found"
    await client.send("Action: QueueSummary", "ActionID: q")
    frames = await client.until("QueueSummaryComplete")
    assert frames[1].names[-1] == "ActionID"
    await client.send("Action: DeviceStateList", "ActionID: d")
    frames = await client.until("DeviceStateListComplete")
    assert any(f.get("Device") == "Queue:survival_pause_Local/201@agents/n" for f in frames)


async def test_stop_sends_shutdown_then_closes(sim: tuple[SimAsterisk, AmiServer]) -> None:
    """Stopping the server sends Shutdown (system class) and closes the connection."""
    _, server = sim
    client = await connect(server)
    await client.until("SuccessfulAuth")
    await server.stop()
    shutdown = await client.frame()
    assert shutdown.kind == "Shutdown" and shutdown.get("Shutdown") == "Cleanly"
    assert await client.reader.read() == b""


async def test_fault_hooks_drop_and_stall(sim: tuple[SimAsterisk, AmiServer]) -> None:
    """stall() withholds even Ping replies for its duration; drop_all() cuts the connection."""
    _, server = sim
    client = await connect(server, events="off")
    server.stall(0.3)
    await client.send("Action: Ping", "ActionID: 1")
    with pytest.raises(TimeoutError):
        await client.frame(limit=0.15)
    assert (await client.frame(limit=1)).get("Ping") == "Pong"
    server.drop_all()
    assert await client.reader.read() == b""


async def test_panoramisk_manager_logs_in_and_gets_originate_response(
    sim: tuple[SimAsterisk, AmiServer],
) -> None:
    """panoramisk 1.4 (the backend's client) logs in, pings, and resolves an Async Originate."""
    from panoramisk import Manager

    _, server = sim
    manager = Manager(host="127.0.0.1", port=server.port, username="cc", secret="ccsecret", ping_delay=100)
    await manager.connect()
    try:
        pong = await manager.send_action({"Action": "Ping"})
        assert pong.Ping == "Pong"
        result = await manager.send_action(
            {
                "Action": "Originate",
                "Channel": "Local/201@agents",
                "Application": "Wait",
                "Data": "1",
                "Async": "true",
            }
        )
        assert [m.get("Event") or m.get("Response") for m in result] == ["Success", "OriginateResponse"]
    finally:
        manager.close()


async def test_filter_action_includes_and_excludes(sim: tuple[SimAsterisk, AmiServer]) -> None:
    """An include filter on Newchannel and an exclude on ;2 channels leave only ;1 Newchannel events."""
    _, server = sim
    client = await connect(server, events="call")
    await client.send("Action: Filter", "ActionID: f1", "Operation: Add", "Filter: Event: Newchannel")
    assert (await client.frame()).get("Message") == "Success"
    await client.send(
        "Action: Filter", "ActionID: f2", "Operation: Add", "Filter: ;2$",
        "MatchCriteria: action(exclude),header(Channel),method(regex)",
    )  # fmt: skip
    assert (await client.frame()).get("Message") == "Success"
    await client.send("Action: Originate", "ActionID: o", "Channel: Local/201@agents", "Application: Wait",
                      "Data: 1", "Async: true")  # fmt: skip
    frames = await client.until("OriginateResponse", limit=5)
    events = [f for f in frames if f.kind not in ("Response:Success", "OriginateResponse")]
    assert [(f.kind, f.get("Channel")[-2:]) for f in events] == [("Newchannel", ";1")]


async def test_server_restarts_on_the_same_port(sim: tuple[SimAsterisk, AmiServer]) -> None:
    """After stop() the server can start again on its port, and a new client logs in."""
    _, server = sim
    port = server.port
    await server.stop()
    await server.start()
    assert server.port == port
    client = await connect(server, events="off")
    await client.send("Action: Ping", "ActionID: again")
    assert (await client.frame()).get("Ping") == "Pong"


async def test_client_that_never_logs_in_is_dropped(sim: tuple[SimAsterisk, AmiServer]) -> None:
    """Past the auth timeout an unauthenticated connection is closed (Asterisk's authtimeout)."""
    _, server = sim
    server.auth_timeout = 0.2
    client = await connect(server, login=False)
    assert await asyncio.wait_for(client.reader.read(), 2) == b""
