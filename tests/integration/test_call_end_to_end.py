"""A call end to end: the simulated PBX → FastAGI → the hotline flow → the ACD → an agent's phone,
with the appeal record, the live events and the call facts that it must leave behind.

Everything is real but Asterisk: the backend as ``callcenter serve`` builds it (``start_runtime`` +
``start_call_handling``) on the test PostgreSQL, and the simulated PBX speaking AMI and FastAGI
over TCP. Prompts are short (the PBX plays unknown files for 0.2 s) so the call takes seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from callcenter.app import Database, Runtime, start_runtime
from callcenter.bootstrap import CallHandling, start_call_handling
from callcenter.config import load_settings
from callcenter.services.live_events import CallConnected, CallFinished, CallOffered
from callcenter.sim.ami_server import AmiUser
from callcenter.sim.clock import SimClock
from callcenter.sim.load import SimulatedPbx
from callcenter.sim.models import AgentPhone, CallerModel, Distribution
from callcenter.storage.recordings import RecordingRepository

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Line:
    runtime: Runtime
    calls: CallHandling
    pbx: SimulatedPbx


@pytest.fixture
async def line(db_pool: Any, tmp_path: Path) -> AsyncIterator[Line]:
    """The backend and the simulated PBX, connected, with operator op101 logged in."""
    ami_port = free_port()
    settings = load_settings(
        environ={"CALLCENTER_CONFIG": "/dev/null"},
        overrides={
            "ami.port": str(ami_port),
            "ami.secret": "e2e-secret",
            "ami.ping_interval_s": "1",
            "agi.port": str(free_port()),
            "ivr.prerender_prompts": "false",
            "paths.flows_dir": str(REPO_ROOT / "ivr_flows"),
            "paths.queue_dir": str(REPO_ROOT / "tests" / "integration" / "e2e_queue"),
            "paths.spool_dir": str(tmp_path / "spool"),
            "paths.sounds_dir": str(tmp_path / "sounds"),
            "paths.recordings_dir": str(tmp_path / "recordings"),
        },
    )
    async with contextlib.AsyncExitStack() as stack:
        runtime = await start_runtime(settings, Database(pool=db_pool, dsn=""), stack)
        calls = await start_call_handling(runtime, stack)
        await runtime.agi.start()
        stack.push_async_callback(runtime.agi.close)
        pbx = SimulatedPbx(
            SimClock(1.0, epoch=time.time()),  # fresh uniqueids for every test, as after an Asterisk restart
            agi_port=runtime.agi.bound_port,
            phones=[
                AgentPhone(
                    "op101",
                    answer_delay=Distribution(0.3, fixed=True),
                    talk_time=Distribution(0.5, fixed=True),
                )
            ],
            ami_users={"callcenter": AmiUser("e2e-secret")},
            ami_port=ami_port,
            recordings_dir=tmp_path / "recordings",
            default_sound=0.2,
        )
        await pbx.start()
        stack.push_async_callback(pbx.stop)
        assert runtime.ami is not None
        await runtime.ami.wait_ready(10)
        calls.acd.login("op101")
        yield Line(runtime, calls, pbx)


async def test_a_caller_choosing_a_topic_reaches_an_agent_and_leaves_an_appeal_record(
    line: Line, db_pool: Any
) -> None:
    """Language 1, register an appeal 1, topic social 1: the call is offered to op101, answered,
    recorded, surveyed after the agent hangs up, and the record, the live events, the call fact,
    the recording and the survey agree on what happened."""
    events = line.runtime.bus.subscribe({"calls"})
    outcome = await asyncio.wait_for(
        line.pbx.call(
            CallerModel(number="380501234567", dtmf={"*": "1"}, reaction=Distribution(0.1, fixed=True))
        ),
        timeout=60,
    )
    assert outcome.talked, outcome
    assert outcome.agent_channel.startswith("PJSIP/op101")

    seen: list[object] = []
    while (item := events.get_nowait()) is not None:
        seen.append(item[1])
    offered = [e for e in seen if isinstance(e, CallOffered)]
    assert len(offered) == 1
    assert offered[0].agent_id == "op101" and offered[0].queue == "social" and offered[0].topic == "106"
    assert "topic_menu" in offered[0].ivr_path
    linkedid = offered[0].linkedid
    assert any(isinstance(e, CallConnected) and e.linkedid == linkedid for e in seen)
    finished = [e for e in seen if isinstance(e, CallFinished)]
    assert [(f.linkedid, f.outcome, f.queue, f.agent_id) for f in finished] == [
        (linkedid, "answered", "social", "op101")
    ]

    # The record's later steps are written behind the call (not on its path): wait for them.
    await line.calls.pipeline.settled()
    record = await line.runtime.appeals.find_by_linkedid(linkedid)
    assert record is not None
    assert record.call.caller == "380501234567"
    assert record.call.queue == "social" and record.call.agent == "op101"
    assert record.call.answered_at is not None and record.call.ended_at is not None
    assert any(step.node == "topic" and step.choice == "106" for step in record.call.ivr_steps)

    await line.calls.facts.drain()
    for _ in range(100):  # the fact is written when the agent's 1 s wrap-up ends
        row = await db_pool.fetchrow(
            "SELECT outcome, first_queue FROM call_facts WHERE linkedid = $1", linkedid
        )
        if row is not None:
            break
        await asyncio.sleep(0.1)
    assert row is not None and row["outcome"] == "answered" and row["first_queue"] == "social"

    # The conversation was recorded, checked, and linked to the call and its appeal record.
    repository = RecordingRepository(db_pool)
    for _ in range(100):
        recordings = await repository.for_call(linkedid)
        if recordings and recordings[0].ended_at is not None:
            break
        await asyncio.sleep(0.1)
    assert [(r.status.value, r.agent, r.appeal_id) for r in recordings] == [("ok", "op101", record.id)]
    assert recordings[0].sha256 and recordings[0].bytes and recordings[0].duration_ms

    # After the agent hung up the caller stayed for the survey (pressing 1 at each question).
    survey = await db_pool.fetchrow(
        "SELECT source, agent, queue, rating, resolved, appeal_id FROM survey_responses WHERE linkedid = $1",
        linkedid,
    )
    assert survey is not None
    assert dict(survey) == {
        "source": "post_call",
        "agent": "op101",
        "queue": "social",
        "rating": 1,
        "resolved": True,
        "appeal_id": record.id,
    }


async def test_a_caller_who_hangs_up_in_the_ivr_still_leaves_a_record(line: Line) -> None:
    """A caller gone during the greeting is recorded as a call that ended in the IVR."""
    events = line.runtime.bus.subscribe({"calls"})
    outcome = await asyncio.wait_for(
        line.pbx.call(CallerModel(number="380671112233", dtmf={}, patience=Distribution(0.3, fixed=True))),
        timeout=30,
    )
    assert not outcome.talked
    finished = None
    for _ in range(50):
        item = events.get_nowait()
        if item is None:
            await asyncio.sleep(0.1)
            continue
        if isinstance(item[1], CallFinished):
            finished = item[1]
            break
    assert finished is not None and finished.outcome == "abandoned_ivr"
    await line.calls.pipeline.settled()
    record = await line.runtime.appeals.find_by_linkedid(finished.linkedid)
    assert record is not None and record.call.ended_at is not None and record.call.agent is None
