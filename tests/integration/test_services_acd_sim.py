"""The ACD runtime against the simulated PBX: real FastAGI and AMI, the caller waits, an agent logs in
through the API, the call rings the agent's simulated phone and is answered; callbacks originate."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.bus import Subscription
from callcenter.ivr.commands import Queue
from callcenter.services.acd import AcdService
from callcenter.services.live_events import CallConnected, CallOffered, CallQueued
from callcenter.services.queue_wait import QueueWait
from callcenter.sim.clock import SimClock
from callcenter.sim.load import SimulatedPbx
from callcenter.sim.models import AgentPhone, CallerModel, Distribution
from callcenter.storage.users import Role
from callcenter.telephony.agi import AgiSession, FastAgiServer
from callcenter.telephony.ami_client import AmiClient, AmiSettings
from callcenter.telephony.ivr_driver import KYIV, call_info
from callcenter.web.agents_api import ACD_SERVICE, routes
from tests.integration.test_auth_support import add_user, make_app, sign_in
from tests.unit.test_services_acd_support import make_service, published

SCALE = 20.0


@dataclass
class Rig:
    pbx: SimulatedPbx
    service: AcdService
    sub: Subscription
    results: dict[str, str]


async def until(predicate: Callable[[], bool], what: str, limit: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not predicate():
        assert loop.time() < end, f"never happened: {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = SimClock(scale=SCALE)
    server = FastAgiServer("127.0.0.1", 0, allowed_peers=None)
    phones = [
        AgentPhone(
            "op1", answer_delay=Distribution(1.0, fixed=True), talk_time=Distribution(4.0, fixed=True)
        ),
        AgentPhone(
            "op2", answer_delay=Distribution(1.0, fixed=True), talk_time=Distribution(4.0, fixed=True)
        ),
    ]
    await server.start()
    pbx = SimulatedPbx(clock, agi_port=server.bound_port, phones=phones)
    await pbx.start()
    ami = AmiClient(AmiSettings(port=pbx.ami.port, username="cc", secret="ccsecret"))
    service, sub = make_service(clock.now, ami=ami)
    waiter = QueueWait(service)
    results: dict[str, str] = {}

    async def hotline(session: AgiSession) -> None:
        await session.answer()
        info = call_info(session.env, dt.datetime.fromtimestamp(clock.now(), KYIV))
        result = await waiter(session, Queue("general", 0, (), "uk", "106"), info)
        results[session.env.uniqueid] = result.status

    server.add_route("hotline", hotline)
    await ami.start()
    await ami.wait_ready(5.0)
    await service.start()
    try:
        yield Rig(pbx, service, sub, results)
    finally:
        await service.stop()
        await ami.close()
        await pbx.stop()
        await server.close(grace_s=1.0)


async def test_waiting_call_is_rung_to_the_agent_who_logs_in_through_the_api(rig: Rig, db_pool: Any) -> None:
    """A call waits (its only agent paused); op1 logs in via the API; op1's phone rings and answers."""
    service = rig.service
    service.login("op2")
    service.pause("op2", "break")  # staffed but not free: the caller has to wait
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    await add_user(db_pool, "op1", Role.AGENT)
    app = make_app(db_pool)
    app[ACD_SERVICE] = service
    app.add_routes(routes)
    async with TestClient(TestServer(app)) as client:
        csrf = await sign_in(client, "op1")
        call = asyncio.ensure_future(rig.pbx.call(CallerModel(patience=Distribution(600, fixed=True))))
        await until(
            lambda: service.state.queue_stats("general", service.clock()).waiting == 1, "caller waiting"
        )
        await asyncio.sleep(3 / SCALE)  # a few seconds of hold (simulated)
        response = await client.post("/api/agents/me/login", headers={"X-CSRF-Token": csrf})
        assert response.status == 200
        outcome = await asyncio.wait_for(call, 20.0)
    assert outcome.talked and outcome.agent_channel.startswith("PJSIP/op1-")
    assert rig.results == {outcome.uniqueid: "answered"}
    assert rig.pbx.ast.phones["op1"].calls_answered == 1
    events = published(rig.sub)
    queued = [e for e in events if isinstance(e, CallQueued)]
    offered = [e for e in events if isinstance(e, CallOffered)]
    connected = [e for e in events if isinstance(e, CallConnected)]
    assert [e.linkedid for e in queued] == [outcome.uniqueid]  # the trunk channel starts the call
    assert [(e.agent_id, e.uniqueid, e.caller) for e in offered] == [
        ("op1", outcome.uniqueid, "380501234567")
    ]
    assert [e.agent_id for e in connected] == ["op1"]
    # Connected while Dial ran (AMI DialEnd ANSWER), before the call ended.
    assert outcome.ended is not None and connected[0].at < outcome.ended
    await until(lambda: service.state.queue_stats("general", service.clock()).answered == 1, "counted")


async def test_callback_is_originated_to_the_agent_then_the_citizen(rig: Rig) -> None:
    """A caller presses * on hold; when op1 is free the PBX rings op1 then dials the citizen on the trunk."""
    service = rig.service
    service.login("op2")
    service.pause("op2", "break")
    outcome = await asyncio.wait_for(
        rig.pbx.call(CallerModel(dtmf={"": "*"}, patience=Distribution(600, fixed=True))), 20.0
    )
    assert rig.results == {outcome.uniqueid: "callback_requested"}
    (pending,) = service.state.callbacks(service.clock())
    assert pending.call_id == outcome.uniqueid
    trunk = rig.pbx.ast.outbound_callee
    service.login("op1")
    await until(lambda: trunk.calls_answered == 1, "citizen answered the callback")
    await until(
        lambda: service.state.queue_stats("general", service.clock()).callbacks_answered == 1, "counted"
    )
    await until(lambda: service.state.callbacks(service.clock()) == [], "callback done")
    assert rig.pbx.ast.phones["op1"].calls_answered == 1
