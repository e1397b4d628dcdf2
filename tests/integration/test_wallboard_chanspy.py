"""Listen / whisper / barge reach the simulated PBX's AMI server as a ChanSpy Originate with the right Data."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.sim.clock import SimClock
from callcenter.sim.load import SimulatedPbx
from callcenter.sim.models import AgentPhone, Distribution
from callcenter.telephony.ami_client import AmiClient, AmiSettings
from callcenter.telephony.events import AmiEvent, OriginateResponse
from tests.integration.test_auth_support import sign_in
from tests.integration.test_wallboard_support import SUPERVISOR_PHONE, add_people, make_wallboard_app


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def ami() -> AsyncIterator[AmiClient]:
    """The simulated PBX with the supervisor's phone, and our AMI client logged in to it."""
    phones = [
        AgentPhone(
            SUPERVISOR_PHONE, answer_delay=Distribution(1, fixed=True), talk_time=Distribution(5, fixed=True)
        )
    ]
    sim = SimulatedPbx(SimClock(40), agi_port=_unused_port(), phones=phones)
    await sim.start()
    client = AmiClient(AmiSettings(port=sim.ami.port, username="cc", secret="ccsecret", auth="md5"))
    await client.start()
    try:
        await client.wait_ready(5.0)
        yield client
    finally:
        await client.close()
        await sim.stop()


@pytest.mark.parametrize(("mode", "options"), [("listen", "qE"), ("whisper", "qEw"), ("barge", "qEB")])
async def test_chanspy_originate_reaches_the_pbx(
    db_pool: Any, ami: AmiClient, mode: str, options: str
) -> None:
    """The PBX answers the supervisor's phone and reports ChanSpy with the agent's channel and the mode's options."""
    await add_people(db_pool)
    board = make_wallboard_app(db_pool, spy=ami, channel_of=lambda agent: "PJSIP/op1-0000002a")
    seen: list[AmiEvent] = []
    ami.add_listener(seen.append)
    async with TestClient(TestServer(board.app)) as client:
        token = await sign_in(client, "u-supervisor")
        response = await client.post(
            f"/api/supervise/{mode}", json={"agent_id": "op1"}, headers={"X-CSRF-Token": token}
        )
        assert response.status == 202, await response.text()
        action_id = (await response.json())["action_id"]
        assert action_id
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not any(isinstance(e, OriginateResponse) and e.action_id == action_id for e in seen):
            assert loop.time() < deadline, "no OriginateResponse"
            await asyncio.sleep(0.02)
    outcome = next(e for e in seen if isinstance(e, OriginateResponse) and e.action_id == action_id)
    assert outcome.success
    assert outcome.channel.startswith(f"PJSIP/{SUPERVISOR_PHONE}-")
    assert (outcome.application, outcome.data) == ("ChanSpy", f"PJSIP/op1-0000002a,{options}")
