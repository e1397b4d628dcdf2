"""Promise: a backend killed mid-call drops no call and loses no appeal record.

The backend runs as ``callcenter serve`` in its own process; the simulated PBX runs the shipped
(rendered) dialplan. Calls are in the IVR menu and waiting in the ACD queue when the backend is
killed with SIGKILL; more calls arrive while it is down. Every one of them must take the survival
path (spool script, survival queue, answered by a phone), and once the backend is back every call
must have exactly one appeal record, keyed by its linkedid.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from callcenter.sim.models import CallerModel, Distribution
from callcenter.telephony import dialplan_contract as contract
from tests.faults.faults_support import (
    Backend,
    appeal_rows,
    backend_env,
    free_port,
    make_rig,
    scratch_database,
    shipped_pbx,
    staff_paused_agent,
    until,
)

SCALE = 10.0
PATIENT = Distribution(900.0, fixed=True)


def caller(n: int, *, to_queue: bool) -> CallerModel:
    """A patient caller; ``to_queue`` presses 0 at the menu, otherwise they stay in the IVR."""
    return CallerModel(number=f"38050{n:07d}", dtmf={"*": "0"} if to_queue else {}, patience=PATIENT)


async def test_sigkill_mid_call_sends_calls_down_the_survival_path_and_every_call_gets_one_record(
    tmp_path: Path, pg_server_dsn: str
) -> None:
    """SIGKILL with calls in the IVR and the queue: all survive, and on restart each has one record."""
    rig = make_rig(tmp_path)
    agi_port, http_port = free_port(), free_port()
    async with scratch_database(pg_server_dsn) as dsn, shipped_pbx(rig, agi_port, scale=SCALE) as pbx:
        env = backend_env(rig, dsn, ami_port=pbx.ami.port, agi_port=agi_port, http_port=http_port)
        backend = Backend(env, http_port, tmp_path / "backend.log")
        backend.start()
        try:
            await backend.wait_healthy()
            await staff_paused_agent(dsn, http_port, "op101")  # staffed, not free: callers wait

            on_hold: set[str] = set()
            in_agi: set[str] = set()

            def listen(name: str, privilege: str, body: list[tuple[str, str]]) -> None:
                fields = dict(body)
                if name == "MusicOnHoldStart":
                    on_hold.add(fields.get("Uniqueid", ""))
                elif name == "AGIExecStart":
                    in_agi.add(fields.get("Uniqueid", ""))

            pbx.ast.pbx.listeners.append(listen)
            # One caller gives up in the IVR before the kill: the backend records that call itself.
            early = asyncio.ensure_future(
                pbx.call(CallerModel(number="380670000001", patience=Distribution(3.0, fixed=True)))
            )
            queued = [asyncio.ensure_future(pbx.call(caller(i, to_queue=True))) for i in range(4)]
            in_ivr = [asyncio.ensure_future(pbx.call(caller(100 + i, to_queue=False))) for i in range(4)]
            await asyncio.wait_for(early, 30)
            queued_ids = {o.uniqueid for o in pbx.outcomes[1:5]}
            ivr_ids = {o.uniqueid for o in pbx.outcomes[5:9]}
            await until(lambda: queued_ids <= on_hold, "the queue callers on hold in the ACD")
            await until(lambda: ivr_ids <= in_agi, "the IVR callers in a backend session")
            assert not ivr_ids & on_hold  # they are still in the menu

            backend.kill()
            # Calls arriving while the backend is down find the FastAGI port closed.
            down = [asyncio.ensure_future(pbx.call(caller(200 + i, to_queue=True))) for i in range(3)]
            outcomes = await asyncio.wait_for(asyncio.gather(*queued, *in_ivr, *down), 90)

            survivors = [o for o in outcomes]
            assert all(o.variables.get(contract.HANDLED_VARIABLE) is None for o in survivors)
            assert all(o.variables.get(contract.SPOOLED_VARIABLE) == "1" for o in survivors)
            # Nobody was dropped: a survival phone answered every caller.
            assert all(o.talked for o in survivors), [o.variables.get("QUEUESTATUS") for o in survivors]
            assert len(list(rig.spool.glob("*.json"))) == len(survivors)

            backend.start()
            await backend.wait_healthy()  # the spool is ingested before the server listens
            rows = await appeal_rows(dsn)
        finally:
            backend.stop()
    all_calls = [o.uniqueid for o in pbx.outcomes]  # a trunk call's linkedid is its uniqueid
    linkedids = [linkedid for linkedid, _reason in rows]
    assert sorted(linkedids) == sorted(all_calls), backend.log()
    reasons = dict(rows)
    assert reasons[pbx.outcomes[0].uniqueid] is None  # the backend's own record
    assert {reasons[o.uniqueid] for o in pbx.outcomes[9:]} == {"FAILURE"}
    assert not list(rig.spool.glob("*.json"))  # every spooled call was taken in
