"""Promise: an AMI connection that drops or stalls costs no call and leaves no wrong figure.

The backend's services run in the test process, wired by the composition root (``start_runtime``
and ``start_call_handling``), against the simulated PBX. Calls go on over FastAGI while the AMI
connection is cut (``drop_all``) or silent (``stall``); afterwards the client has reconnected and
resynced, and the wallboard's figures and the stored call facts are those of what happened.

Time is scaled: the issue's 30 s stall with the default 5 s keep-alive is six pings; here the
keep-alive is 0.5 s and the stall 8 s (longer than a ping's 5 s reply limit plus the interval),
so the client must notice the silent connection by itself, as it would in production.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from callcenter.sim.load import CallOutcome
from tests.faults.faults_support import TALK_S, FaultRig, Line, make_rig, queue_caller, running_line, until


@pytest.fixture
def rig(tmp_path: Path) -> FaultRig:
    """Rendered files, the fault-test flow and short wrap-ups in ``tmp_path``."""
    return make_rig(tmp_path)


async def facts_of(pool: Any, outcomes: list[CallOutcome]) -> dict[str, Any]:
    """The stored call facts of these calls, by linkedid (a trunk call's linkedid is its uniqueid)."""
    rows = await pool.fetch(
        "SELECT linkedid, outcome, agent, talk_s, wait_s FROM call_facts WHERE linkedid = ANY($1::text[])",
        [o.uniqueid for o in outcomes],
    )
    return {row["linkedid"]: row for row in rows}


async def check_figures(line: Line, pool: Any, outcomes: list[CallOutcome]) -> None:
    """Every call reached an agent, and the wallboard and the facts say so with the right times."""
    assert all(o.talked for o in outcomes)
    await until(lambda: line.live.state()["line"]["answered"] == len(outcomes), "wallboard counts", 10)
    state = line.live.state()["line"]
    assert (state["offered"], state["answered"], state["abandoned"]) == (len(outcomes), len(outcomes), 0)
    # Handle time is the talk (the wrap-up is still running or a second long): not 0, not the ring.
    assert state["aht_s"] is not None and TALK_S - 1.0 <= state["aht_s"] <= TALK_S + 2.0, state
    facts: dict[str, Any] = {}
    for _ in range(200):
        facts = await facts_of(pool, outcomes)
        if len(facts) == len(outcomes):
            break
        await asyncio.sleep(0.05)
    assert set(facts) == {o.uniqueid for o in outcomes}
    for outcome in outcomes:
        fact = facts[outcome.uniqueid]
        assert fact["outcome"] == "answered"
        assert f"PJSIP/{fact['agent']}-" in outcome.agent_channel + "-"
        assert abs(fact["talk_s"] - TALK_S) <= 1.0, dict(fact)


async def test_ami_drop_reconnects_resyncs_device_states_and_the_figures_match(
    rig: FaultRig, db_pool: Any
) -> None:
    """AMI cut; a phone unregisters meanwhile: after reconnect the ACD knows it and the calls count right."""
    async with running_line(rig, db_pool) as line:
        sessions_before = line.ami.sessions
        line.pbx.ami.drop_all()
        # While the client is disconnected op102's phone goes away: only the resync can tell.
        line.pbx.ast.set_registered("op102", False)
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(line.pbx.call(queue_caller(i)) for i in range(2))), 40
        )
        await until(lambda: line.ami.connected and line.ami.sessions > sessions_before, "AMI reconnected")
        await until(
            lambda: any(
                a["agent_id"] == "op102" and a["state"] == "paused"
                for a in line.handling.acd.snapshot()["agents"]
            ),
            "op102 paused after the resync",
        )
        assert all(o.agent_channel.startswith("PJSIP/op101-") for o in outcomes)
        await check_figures(line, db_pool, outcomes)


async def test_ami_stall_is_noticed_and_calls_answered_meanwhile_keep_their_talk_time(
    rig: FaultRig, db_pool: Any
) -> None:
    """AMI silent for longer than a ping's limit: calls go on, the client reconnects, facts hold true times."""
    async with running_line(rig, db_pool) as line:
        first_client = next(iter(line.pbx.ami.sessions))
        sessions_before = line.ami.sessions
        line.pbx.ami.stall(8.0)
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(line.pbx.call(queue_caller(10 + i)) for i in range(2))), 40
        )
        await until(lambda: first_client.closed, "the silent connection given up", 15)
        await until(
            lambda: line.ami.connected and line.ami.sessions > sessions_before,
            "AMI reconnected after the stall",
            15,
        )
        await check_figures(line, db_pool, outcomes)
