"""The rendered ``extensions.conf`` and ``queues.conf`` run in the simulated PBX.

``callcenter.sim.dialplan`` parses ``extensions.conf`` itself, so the rendered dialplan is loaded
as it is, not a copy of it. The backend at ``agi://10.20.0.5:4573`` is either absent (a closed
port) or a small FastAGI stand-in; the classic AGI step of the survival path runs the real
``agi/survival_spool.py`` (the simulated PBX only speaks FastAGI, so a bridge hands the
connection to the script's stdin/stdout as Asterisk does for a classic AGI), and the survival
queue's members are the phones of the rendered ``queues.conf``. That rig is in
``test_asterisk_conf_support``, where the fault tests take it from too.

What the simulated PBX cannot show: it parses no ``[globals]`` (``CC_OUTBOUND_CID`` is empty
there), has no ``${EPOCH}`` or ``${EXTEN:n}``, and does not load ``pjsip.conf`` or
``manager.conf``; those are checked by parsing in ``test_asterisk_conf.py``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callcenter.sim.models import CallerModel, Distribution
from callcenter.telephony import dialplan_contract as contract
from callcenter.telephony.spool import SpooledCall, ingest_spool
from tests.integration.test_asterisk_conf_support import Rendered, closed_port, pbx_with, render_for_sim


@pytest.fixture
def rendered(tmp_path: Path) -> Rendered:
    """Render into ``tmp_path``; the spool folder is the settings' absolute ``paths.spool_dir``."""
    return render_for_sim(tmp_path)


async def test_backend_down_call_is_spooled_then_answered_by_a_survival_agent(rendered: Rendered) -> None:
    """With no backend the call is spooled by the real script and an agent of queues.conf answers it."""
    async with pbx_with(rendered, closed_port()) as pbx:
        outcome = await asyncio.wait_for(pbx.call(CallerModel(number="380671112233", did="0800507506")), 30)
    assert outcome.variables.get("AGISTATUS") is not None
    assert outcome.variables.get(contract.HANDLED_VARIABLE) is None
    assert outcome.variables.get(contract.SPOOLED_VARIABLE) == "1"
    assert outcome.talked and outcome.agent_channel.startswith("PJSIP/")
    assert outcome.agent_channel.rsplit("-", 1)[0] in rendered.members

    received: list[SpooledCall] = []

    async def handle(call: SpooledCall) -> None:
        received.append(call)

    report = await ingest_spool(rendered.spool, handle)
    assert report.rejected == 0
    assert [(c.uniqueid, c.caller, c.dnid, c.reason) for c in received] == [
        (outcome.uniqueid, "380671112233", "0800507506", "FAILURE")
    ]


async def test_handled_call_never_reaches_the_survival_path(rendered: Rendered) -> None:
    """A backend that sets CC_HANDLED=1 ends the dialplan: no spool file, no survival agent."""
    sessions: list[str] = []

    async def backend(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (line := (await reader.readline()).decode()) not in ("\n", ""):
            if line.startswith("agi_network_script:"):
                sessions.append(line.split(": ", 1)[1].strip())
        writer.write(b"ANSWER\n")
        await reader.readline()
        writer.write(f"SET VARIABLE {contract.HANDLED_VARIABLE} 1\n".encode())
        await reader.readline()
        writer.close()

    server = await asyncio.start_server(backend, "127.0.0.1", 0)
    try:
        async with pbx_with(rendered, server.sockets[0].getsockname()[1]) as pbx:
            outcome = await asyncio.wait_for(pbx.call(CallerModel(did="0800507506")), 30)
    finally:
        server.close()
        await server.wait_closed()
    assert sessions == ["hotline"]
    assert outcome.variables.get(contract.HANDLED_VARIABLE) == "1"
    assert contract.SPOOLED_VARIABLE not in outcome.variables
    assert not outcome.talked
    assert not list(rendered.spool.glob("*.json"))


async def test_callback_originate_rings_the_agent_then_dials_the_citizen_on_the_trunk(
    rendered: Rendered,
) -> None:
    """An Originate of an agent's phone into the callback context dials PJSIP/<number>@trunk."""
    dials: list[str] = []
    async with pbx_with(rendered, closed_port()) as pbx:

        def listen(name: str, privilege: str, body: list[tuple[str, str]]) -> None:
            if name == "DialBegin":
                dials.append(dict(body).get("DialString", ""))

        pbx.ast.pbx.listeners.append(listen)
        agent = rendered.members[0]
        result = await pbx.ast.originate(
            agent,
            context=contract.CALLBACK_CONTEXT,
            exten="0501234567",
            variables=[(contract.CALLBACK_ID_VARIABLE, "c-1"), (contract.CALLBACK_AGENT_VARIABLE, "op101")],
            ring_timeout=30,
        )
        assert result.success
        for _ in range(200):
            if any(d.endswith("@trunk") for d in dials):
                break
            await asyncio.sleep(0.01)
    assert f"PJSIP/0501234567@{contract.TRUNK_ENDPOINT}" in dials


async def test_supervisor_spy_context_runs_chanspy_on_the_agents_device(rendered: Rendered) -> None:
    """Originating a phone into the spy context with CC_SPY_MODE=whisper runs ChanSpy(<device>-,qEw)."""
    started: list[tuple[str, str]] = []
    async with pbx_with(rendered, closed_port()) as pbx:

        def listen(name: str, privilege: str, body: list[tuple[str, str]]) -> None:
            fields = dict(body)
            if name == "Newexten" and fields.get("Application") == "ChanSpy":
                started.append((fields.get("Channel", ""), fields.get("AppData", "")))

        pbx.ast.pbx.listeners.append(listen)
        supervisor, agent_device = rendered.members[-1], rendered.members[0]
        agent_id = agent_device.partition("/")[2]
        result = await pbx.ast.originate(
            supervisor,
            context=contract.SPY_CONTEXT,
            exten=agent_id,
            variables=[(contract.SPY_MODE_VARIABLE, "whisper")],
            ring_timeout=30,
        )
        assert result.success
        for _ in range(200):
            if started:
                break
            await asyncio.sleep(0.01)
    assert started and started[0][0].startswith(supervisor)
    assert started[0][1] == f"{agent_device}-,qEw"


async def test_ivr_transfer_through_the_transfer_context_reaches_the_trunk(rendered: Rendered) -> None:
    """The IVR's EXEC Dial of Local/7333@hotline-transfer rings 7333 on the trunk, which answers."""
    dials: list[str] = []
    answered: list[str] = []

    async def backend(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\n", b""):
            pass
        # What the IVR driver sends for a transfer node (callcenter.telephony.ivr_driver).
        for command in ("ANSWER", f"EXEC Dial {contract.transfer_channel('7333')},60"):
            writer.write(command.encode() + b"\n")
            await reader.readline()
        writer.close()

    server = await asyncio.start_server(backend, "127.0.0.1", 0)
    try:
        async with pbx_with(rendered, server.sockets[0].getsockname()[1]) as pbx:

            def listen(name: str, privilege: str, body: list[tuple[str, str]]) -> None:
                fields = dict(body)
                if name == "DialBegin":
                    dials.append(fields.get("DialString", ""))
                elif name == "DialEnd" and fields.get("DialStatus") == "ANSWER":
                    answered.append(fields.get("DestChannel", ""))

            pbx.ast.pbx.listeners.append(listen)
            model = CallerModel(did="0800507506", talk=Distribution(5.0, 0.0))
            await asyncio.wait_for(pbx.call(model), 30)
    finally:
        server.close()
        await server.wait_closed()
    assert dials[:2] == [f"7333@{contract.TRANSFER_CONTEXT}", f"PJSIP/7333@{contract.TRUNK_ENDPOINT}"]
    assert any(channel.startswith(f"PJSIP/{contract.TRUNK_ENDPOINT}-") for channel in answered)
