"""The simulated PBX driving a small FastAGI server: inbound trunk calls, IVR digits, agent phones, load."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator

import pytest

from callcenter.sim.clock import SimClock
from callcenter.sim.compare import group_frames, parse_frames
from callcenter.sim.load import SimulatedPbx, day_curve, run_load
from callcenter.sim.models import AgentPhone, CallerModel, Distribution


class MiniBackend:
    """A FastAGI server with one flow: greet, ask for 1 (agent) or 2 (goodbye), dial an agent."""

    def __init__(self, agents: list[str]) -> None:
        self.agents = itertools.cycle(agents)
        self.results: list[dict[str, str]] = []
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self.session, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env: dict[str, str] = {}
        while (line := (await reader.readline()).decode()) not in ("\n", ""):
            key, _, value = line.rstrip("\n").partition(": ")
            env[key] = value
        result = {"channel": env.get("agi_channel", "")}

        async def cmd(text: str) -> str:
            writer.write(text.encode() + b"\n")
            await writer.drain()
            while True:
                reply = (await reader.readline()).decode()
                if reply != "HANGUP\n":
                    return reply.strip()

        try:
            await cmd("ANSWER")
            result["menu"] = await cmd('STREAM FILE hotline/menu "12"')
            if result["menu"].startswith("200 result=49"):
                result["dial"] = await cmd(f'EXEC Dial "PJSIP/{next(self.agents)},20,g"')
                result["status"] = await cmd("GET VARIABLE DIALSTATUS")
        except ConnectionError:
            pass
        finally:
            self.results.append(result)
            writer.close()


@pytest.fixture
async def backend() -> AsyncIterator[MiniBackend]:
    server = MiniBackend(["201", "202"])
    await server.start()
    yield server
    await server.stop()


async def test_trunk_call_reaches_an_agent_and_raises_the_expected_events(backend: MiniBackend) -> None:
    """A caller pressing 1 is dialled through to a PJSIP agent phone; DIALSTATUS is ANSWER."""
    phones = [
        AgentPhone("201", answer_delay=Distribution(2, fixed=True), talk_time=Distribution(5, fixed=True))
    ]
    pbx = SimulatedPbx(SimClock(20), agi_port=backend.port, phones=phones)
    await pbx.start()
    events: list[tuple[str, dict[str, str]]] = []
    pbx.ast.pbx.listeners.append(lambda name, _p, body: events.append((name, dict(body))))
    try:
        outcome = await pbx.call(
            CallerModel(dtmf={"hotline/menu": "1"}, reaction=Distribution(0.5, fixed=True))
        )
    finally:
        await pbx.stop()
    assert outcome.talked and outcome.answered is not None and outcome.agent_channel.startswith("PJSIP/201-")
    assert backend.results[0]["menu"].startswith("200 result=49 endpos=")
    assert backend.results[0]["status"] == "200 result=1 (ANSWER)"
    names = [name for name, _ in events]
    for expected in (
        "Newchannel",
        "AGIExecStart",
        "DTMFEnd",
        "DialBegin",
        "DialState",
        "DialEnd",
        "BridgeEnter",
    ):
        assert expected in names
    agent_states = [b["State"] for n, b in events if n == "DeviceStateChange" and b["Device"] == "PJSIP/201"]
    assert agent_states == ["RINGING", "INUSE", "NOT_INUSE"]
    assert [n for n, b in events if n == "Hangup"] == ["Hangup", "Hangup"]


async def test_unregistered_phone_gives_chanunavail(backend: MiniBackend) -> None:
    """Dialling a phone that is not registered sets DIALSTATUS=CHANUNAVAIL without a channel."""
    pbx = SimulatedPbx(SimClock(20), agi_port=backend.port, phones=[AgentPhone("201", registered=False)])
    await pbx.start()
    try:
        await pbx.call(CallerModel(dtmf={"*": "1"}, reaction=Distribution(0.3, fixed=True)))
    finally:
        await pbx.stop()
    assert backend.results[0]["status"] == "200 result=1 (CHANUNAVAIL)"


async def test_backend_down_sends_the_call_to_the_survival_queue() -> None:
    """With nothing on the FastAGI port the call goes to app_queue and a PJSIP member answers."""
    phones = [
        AgentPhone("201", answer_delay=Distribution(1, fixed=True), talk_time=Distribution(3, fixed=True))
    ]
    pbx = SimulatedPbx(SimClock(20), agi_port=1, phones=phones)
    await pbx.start()
    events: list[str] = []
    pbx.ast.pbx.listeners.append(lambda name, _p, body: events.append(name))
    try:
        outcome = await pbx.call(CallerModel())
    finally:
        await pbx.stop()
    assert outcome.variables["AGISTATUS"] == "FAILURE"
    assert outcome.talked
    for expected in ("QueueCallerJoin", "AgentCalled", "AgentConnect", "AgentComplete", "QueueCallerLeave"):
        assert expected in events


async def test_poisson_load_with_impatient_callers(backend: MiniBackend) -> None:
    """Forty minutes of Poisson traffic run in seconds; every call ends, some reach agents, some abandon."""
    phones = [
        AgentPhone(
            str(n),
            answer_delay=Distribution(3, 1),
            talk_time=Distribution(120, 30),
            no_answer_probability=0.1,
        )
        for n in (201, 202)
    ]
    backend.agents = itertools.cycle(["201", "202"])
    pbx = SimulatedPbx(SimClock(300), agi_port=backend.port, phones=phones, seed=3)
    await pbx.start()
    rng = random.Random(5)
    callers = (
        CallerModel(
            number=f"38050{rng.randrange(10**7):07d}",
            dtmf={"hotline/menu": rng.choice("112")},
            patience=Distribution(40, 10),
            reaction=Distribution(0.8, 0.3),
        )
        for _ in itertools.count()
    )
    try:
        report = await run_load(pbx, callers, rate_per_hour=90, duration=2400, rng=random.Random(11))
    finally:
        await pbx.stop()
    assert 35 <= len(report.outcomes) <= 95
    assert all(o.ended is not None for o in report.outcomes)
    assert report.answered_by_agent >= 3
    assert any(not o.talked for o in report.outcomes)
    assert not pbx.ast.pbx.channels


async def test_impatient_caller_abandons_while_the_agent_phone_rings(backend: MiniBackend) -> None:
    """A caller whose patience runs out during the ring hangs up; Dial ends with CANCEL."""
    phones = [AgentPhone("201", no_answer_probability=1.0)]
    pbx = SimulatedPbx(SimClock(20), agi_port=backend.port, phones=phones)
    await pbx.start()
    try:
        outcome = await pbx.call(
            CallerModel(
                dtmf={"*": "1"}, reaction=Distribution(0.2, fixed=True), patience=Distribution(6, fixed=True)
            )
        )
    finally:
        await pbx.stop()
    assert outcome.abandoned and not outcome.talked
    assert outcome.variables["DIALSTATUS"] == "CANCEL"
    assert outcome.ended is not None and outcome.answered is not None
    assert 5.5 < outcome.ended - outcome.answered < 8


def test_day_curve_is_quiet_at_night_and_peaks_in_the_morning() -> None:
    """The day-shaped rate is low at 03:00, highest near 10:00 and positive in the afternoon."""
    rate = day_curve(100)
    assert rate(3 * 3600) == pytest.approx(5)
    assert rate(10 * 3600) == pytest.approx(100)
    assert 50 < rate(15 * 3600) < 100


async def test_ami_client_sees_the_trunk_call_grouped_by_channel(backend: MiniBackend) -> None:
    """An AMI client logged in to the simulator gets the call's events in CRLF frames."""
    phones = [
        AgentPhone("201", answer_delay=Distribution(1, fixed=True), talk_time=Distribution(2, fixed=True))
    ]
    pbx = SimulatedPbx(SimClock(20), agi_port=backend.port, phones=phones)
    await pbx.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", pbx.ami.port)
    try:
        assert await reader.readline() == b"Asterisk Call Manager/11.0.0\r\n"
        writer.write(b"Action: Login\r\nUsername: cc\r\nSecret: ccsecret\r\n\r\n")
        assert b"Authentication accepted" in await reader.readuntil(b"\r\n\r\n")
        await pbx.call(CallerModel(dtmf={"hotline/menu": "1"}, reaction=Distribution(0.3, fixed=True)))
        writer.write(b"Action: Logoff\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        await pbx.stop()
    groups = group_frames(parse_frames(data))
    trunk = [k for k in groups if k.startswith("call") and k.endswith("PJSIP/trunk")]
    assert len(trunk) == 1
    kinds = [f.kind for f in groups[trunk[0]]]
    assert kinds[0] == "Newchannel" and kinds[-1] == "Hangup"
    assert "AGIExecStart" in kinds and "BridgeEnter" in kinds
