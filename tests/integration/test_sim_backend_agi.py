"""The backend's own FastAGI server (callcenter.telephony) driving calls placed by the simulated PBX."""

from __future__ import annotations

from typing import Any

from callcenter.sim.clock import SimClock
from callcenter.sim.load import SimulatedPbx
from callcenter.sim.models import AgentPhone, CallerModel, Distribution
from callcenter.telephony.agi_errors import ChannelHungUp
from callcenter.telephony.agi_server import FastAgiServer
from callcenter.telephony.agi_session import AgiSession


async def test_backend_server_and_simulator_agree_on_the_wire() -> None:
    """Every AgiSession method used by the IVR gets the reply it expects from the simulator."""
    seen: dict[str, Any] = {}

    async def hotline(session: AgiSession) -> None:
        seen["script"] = session.env.network_script
        await session.answer()
        seen["menu"] = await session.stream_file("hotline/menu", "123")
        seen["number"] = await session.get_data("hotline/enter-number", 3000, 4)
        seen["say"] = await session.say_number(42)
        seen["date"] = await session.say_date(1_795_486_407)
        seen["callerid"] = await session.get_variable("CALLERID(num)")
        seen["unset"] = await session.get_variable("NO_SUCH_VAR")
        await session.set_variable("CC_CALL", "call 42")
        seen["full"] = await session.get_full_variable("${CC_CALL}")
        await session.exec("StartMusicOnHold", "default")
        seen["hold"] = await session.wait_for_digit(1500)
        await session.exec("StopMusicOnHold")
        seen["dial"] = await session.exec("Dial", "PJSIP/201,20,g")
        seen["status"] = await session.get_variable("DIALSTATUS")

    server = FastAgiServer("127.0.0.1", 0, allowed_peers=None)
    server.add_route("hotline", hotline)
    await server.start()
    phones = [
        AgentPhone("201", answer_delay=Distribution(1, fixed=True), talk_time=Distribution(3, fixed=True))
    ]
    pbx = SimulatedPbx(SimClock(20), agi_port=server.bound_port, phones=phones)
    await pbx.start()
    try:
        caller = CallerModel(
            dtmf={"hotline/menu": "2", "hotline/enter-number": "1234"}, reaction=Distribution(0.5, fixed=True)
        )
        outcome = await pbx.call(caller)
    finally:
        await pbx.stop()
        await server.close(grace_s=1)
    assert seen["script"] == "hotline"
    assert seen["menu"].digit == "2" and seen["menu"].endpos > 0
    assert (seen["number"].digits, seen["number"].timed_out) == ("1234", False)
    assert seen["say"] is None and seen["date"] is None and seen["hold"] is None
    assert seen["callerid"] == "380501234567" and seen["unset"] is None
    assert seen["full"] == "call 42"
    assert (seen["dial"], seen["status"]) == (0, "ANSWER")
    assert outcome.talked and outcome.variables["AGISTATUS"] == "SUCCESS"
    assert outcome.variables.get("CC_HANDLED") == "1"


async def test_backend_server_sees_the_caller_hang_up() -> None:
    """A caller who hangs up during a long wait ends the backend's session with ChannelHungUp."""
    seen: dict[str, Any] = {}

    async def hotline(session: AgiSession) -> None:
        await session.answer()
        try:
            await session.wait_for_digit(-1)
        except ChannelHungUp:
            seen["hung_up"] = True
            raise

    server = FastAgiServer("127.0.0.1", 0, allowed_peers=None)
    server.add_route("hotline", hotline)
    await server.start()
    pbx = SimulatedPbx(SimClock(20), agi_port=server.bound_port)
    await pbx.start()
    try:
        outcome = await pbx.call(CallerModel(patience=Distribution(2, fixed=True)))
    finally:
        await pbx.stop()
        await server.close(grace_s=1)
    assert seen == {"hung_up": True}
    assert outcome.abandoned and outcome.variables["AGISTATUS"] == "HANGUP"
