"""Backend actions against simulated calls: Redirect out of an AGI session, a callback Originate."""

from __future__ import annotations

import asyncio

from callcenter.sim.clock import SimClock
from callcenter.sim.dialplan import DEFAULT_DIALPLAN
from callcenter.sim.load import SimulatedPbx
from callcenter.sim.models import AgentPhone, CallerModel, Distribution

PARKING = (
    DEFAULT_DIALPLAN
    + """
[parking]
exten => s,1,NoOp(parked)
 same => n,Wait(2)
 same => n,Hangup()
"""
)


async def _ami(port: int, *actions: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    writer.write(b"Action: Login\r\nUsername: cc\r\nSecret: ccsecret\r\nEvents: off\r\n\r\n")
    await reader.readuntil(b"\r\n\r\n")
    for action in actions:
        writer.write(action.encode())
    await writer.drain()
    return reader, writer


async def test_redirect_ends_the_agi_session_and_moves_the_call() -> None:
    """An AMI Redirect of a caller held in AGI closes that session; the dialplan runs the new place."""
    closed = asyncio.Event()
    held = asyncio.Event()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\n", b""):
            pass
        writer.write(b"ANSWER\n")
        await reader.readline()
        writer.write(b"WAIT FOR DIGIT -1\n")
        await writer.drain()
        held.set()
        # The interrupted command answers -1 (a soft hang-up for the async goto), then the socket closes.
        assert await reader.read() in (b"", b"200 result=-1\n")
        closed.set()
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    pbx = SimulatedPbx(SimClock(20), dialplan=PARKING, agi_port=server.sockets[0].getsockname()[1])
    await pbx.start()
    seen: list[tuple[str, dict[str, str]]] = []
    pbx.ast.pbx.listeners.append(lambda name, _p, body: seen.append((name, dict(body))))
    call = asyncio.ensure_future(pbx.call(CallerModel()))
    await asyncio.wait_for(held.wait(), 5)
    channel = next(iter(pbx.ast.pbx.channels))
    reader, writer = await _ami(
        pbx.ami.port,
        f"Action: Redirect\r\nActionID: r\r\nChannel: {channel}\r\nContext: parking\r\nExten: s\r\nPriority: 1\r\n\r\n",
    )
    try:
        reply = await reader.readuntil(b"\r\n\r\n")
        assert b"Message: Redirect successful" in reply
        await asyncio.wait_for(closed.wait(), 5)
        outcome = await asyncio.wait_for(call, 5)
    finally:
        writer.close()
        await pbx.stop()
        server.close()
        await server.wait_closed()
    assert outcome.variables["AGISTATUS"] == "SUCCESS"
    apps = [b["Application"] for n, b in seen if n == "Newexten" and b["Context"] == "parking"]
    assert apps == ["NoOp", "Wait", "Hangup"]


async def test_callback_originate_rings_the_agent_then_the_citizen() -> None:
    """Originate to the agent's phone into [callback] dials the citizen on the trunk and bridges them."""
    phones = [
        AgentPhone("201", answer_delay=Distribution(1, fixed=True), talk_time=Distribution(4, fixed=True))
    ]
    pbx = SimulatedPbx(SimClock(20), phones=phones)
    pbx.ast.outbound_callee.answer_delay = Distribution(2, fixed=True)
    await pbx.start()
    seen: list[tuple[str, dict[str, str]]] = []
    pbx.ast.pbx.listeners.append(lambda name, _p, body: seen.append((name, dict(body))))
    reader, writer = await _ami(
        pbx.ami.port,
        "Action: Originate\r\nActionID: cb\r\nChannel: PJSIP/201\r\nContext: callback\r\nExten: 380501112233\r\n"
        "Priority: 1\r\nAsync: true\r\nCallerID: Hotline <0800507506>\r\n\r\n",
    )
    try:
        ack = await reader.readuntil(b"\r\n\r\n")
        response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        for _ in range(200):
            if any(n == "Hangup" and b["Channel"].startswith("PJSIP/trunk-") for n, b in seen):
                break
            await asyncio.sleep(0.02)
    finally:
        writer.close()
        await pbx.stop()
    assert b"Originate successfully queued" in ack
    assert b"Event: OriginateResponse" in response and b"Response: Success" in response
    entered = [b["Channel"].split("-")[0] for n, b in seen if n == "BridgeEnter"]
    assert sorted(entered) == ["PJSIP/201", "PJSIP/trunk"]
    dial = [b for n, b in seen if n == "DialBegin" and b.get("DialString") == "PJSIP/380501112233@trunk"]
    assert len(dial) == 1
