"""The AMI client and call tracker against the simulated PBX (same wire protocol as Asterisk 22)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from callcenter.sim.clock import SimClock
from callcenter.sim.load import SimulatedPbx
from callcenter.sim.models import AgentPhone, CallerModel, Distribution
from callcenter.telephony.ami_client import AmiClient, AmiSettings
from callcenter.telephony.events import (
    AmiEvent,
    ChannelsResync,
    DevicesResync,
    Hangup,
    OriginateResponse,
)
from callcenter.telephony.tracker import CallEnded, CallStarted, CallTracker, TrackerChange


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def pbx() -> AsyncIterator[SimulatedPbx]:
    phones = [
        AgentPhone("201", answer_delay=Distribution(1, fixed=True), talk_time=Distribution(3, fixed=True))
    ]
    # No FastAGI server on that port: the dialplan falls back to the survival queue.
    sim = SimulatedPbx(SimClock(40), agi_port=_unused_port(), phones=phones)
    await sim.start()
    yield sim
    await sim.stop()


async def _until(predicate: Callable[[], bool], limit: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not predicate():
        assert loop.time() < end, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_call_through_sim_is_tracked_to_the_end(pbx: SimulatedPbx) -> None:
    """MD5 login, resync, then a whole inbound call: the tracker sees it start and end, no leftovers."""
    client = AmiClient(AmiSettings(port=pbx.ami.port, username="cc", secret="ccsecret", auth="md5"))
    tracker = CallTracker()
    seen: list[AmiEvent] = []
    changes: list[TrackerChange] = []
    client.add_listener(seen.append)
    client.add_listener(lambda event: changes.extend(tracker.apply(event)))
    await client.start()
    try:
        await client.wait_ready(5.0)
        await _until(lambda: any(isinstance(e, DevicesResync) for e in seen))
        assert any(isinstance(e, ChannelsResync) for e in seen)
        outcome = await asyncio.wait_for(
            pbx.call(CallerModel(patience=Distribution(60, fixed=True), talk=Distribution(3, fixed=True))),
            20.0,
        )
        await _until(lambda: tracker.channels == {})
        started = {c.linkedid for c in changes if isinstance(c, CallStarted)}
        ended = {c.linkedid for c in changes if isinstance(c, CallEnded)}
        assert outcome.uniqueid in started and outcome.uniqueid in ended
        caller_hangup = [e for e in seen if isinstance(e, Hangup) and e.channel.uniqueid == outcome.uniqueid]
        assert len(caller_hangup) == 1 and caller_hangup[0].channel.caller_num == "380501234567"
        assert tracker.calls == {}
    finally:
        await client.close()


async def test_originate_and_list_against_sim(pbx: SimulatedPbx) -> None:
    """Originate (always Async) gets its OriginateResponse; CoreShowChannels lists the live legs."""
    client = AmiClient(AmiSettings(port=pbx.ami.port, username="cc", secret="ccsecret", auth="plain"))
    await client.start()
    try:
        await client.wait_ready(5.0)
        result = await client.originate_and_wait("PJSIP/201", application="Wait", data="5")
        assert isinstance(result, OriginateResponse) and result.success
        channels = await client.core_show_channels()
        assert any(c.channel.channel.startswith("PJSIP/201") for c in channels)
        await client.hangup(channels[0].channel.channel)
    finally:
        await client.close()
