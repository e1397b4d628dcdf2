"""Survival-path calls in the simulated PBX get their end from AMI, before or after their spool file.

The PBX runs the rendered dialplan with no backend on the FastAGI port, so every call takes the
survival path (real spool script, survival queue of the rendered ``queues.conf``). Our AMI client
follows it and :class:`~callcenter.services.ami_calls.AmiCallEvents` writes the call's end into
a real appeal repository; the spool file is ingested afterwards, as the periodic ingestion does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from callcenter.bus import EventBus
from callcenter.services.ami_calls import AmiCallEvents
from callcenter.sim.load import SimulatedPbx
from callcenter.sim.models import CallerModel
from callcenter.storage.appeals import AppealRepository
from callcenter.telephony.ami_client import AmiClient, AmiSettings
from callcenter.telephony.events import AmiEvent, Hangup
from callcenter.telephony.spool import ingest_spool
from tests.integration.test_asterisk_conf_support import Rendered, closed_port, pbx_with, render_for_sim

CALLER = "380671112233"


@pytest.fixture
def conf(tmp_path: Path) -> Rendered:
    """The rendered configuration in ``tmp_path`` with the survival queue's members."""
    return render_for_sim(tmp_path)


async def until(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Wait until ``check()`` holds (polling), or fail."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def watched(
    pbx: SimulatedPbx, repo: AppealRepository
) -> AsyncIterator[tuple[AmiCallEvents, AmiClient]]:
    """Our AMI client logged in to the PBX, with the service listening to it."""
    client = AmiClient(AmiSettings(port=pbx.ami.port, username="cc", secret="ccsecret", backoff_initial=0.3))
    await client.start()
    await client.wait_ready(5.0)
    service = AmiCallEvents(EventBus(), repo)
    await service.start(client)
    try:
        yield service, client
    finally:
        await service.stop()
        await client.close()


async def test_survival_call_ends_before_its_spool_file_and_keeps_one_complete_record(
    db_pool: Any, conf: Rendered
) -> None:
    """The end written from AMI opens the record; the later spool file adds the caller to that record."""
    repo = AppealRepository(db_pool)
    async with pbx_with(conf, closed_port()) as pbx, watched(pbx, repo) as (service, _client):
        outcome = await asyncio.wait_for(pbx.call(CallerModel(number=CALLER, did="0800507506")), 30)
        await until(lambda: service.stats.ends_written == 1)
    assert outcome.talked  # a survival agent answered
    first = await repo.find_by_linkedid(outcome.uniqueid)
    assert first is not None and first.call.ended_at is not None
    assert first.call.caller is None  # only the spool file knows the number

    report = await ingest_spool(conf.spool, repo.handle_spooled_call)
    assert report.ingested == 1
    record = await repo.find_by_linkedid(outcome.uniqueid)
    assert record is not None and record.id == first.id
    assert record.call.caller == CALLER
    assert record.call.ended_at == first.call.ended_at
    count = await db_pool.fetchval("SELECT count(*) FROM appeals WHERE linkedid = $1", outcome.uniqueid)
    assert count == 1


async def test_survival_call_that_ends_while_ami_is_down_is_ended_by_the_resync(
    db_pool: Any, conf: Rendered
) -> None:
    """A caller hanging up while the AMI connection is cut is ended from the reconnect's snapshot."""
    repo = AppealRepository(db_pool)
    async with pbx_with(conf, closed_port()) as pbx, watched(pbx, repo) as (service, client):
        hangups: list[str] = []

        def on_event(event: AmiEvent) -> None:
            if isinstance(event, Hangup):
                hangups.append(event.channel.uniqueid)

        client.add_listener(on_event)
        call = asyncio.create_task(pbx.call(CallerModel(number=CALLER, did="0800507506")))
        # Wait until the survival agent talks with the caller (both legs in one bridge).
        await until(lambda: any(len(members) >= 2 for members in service.tracker.bridges.values()))
        (caller,) = [c for c in pbx.ast.pbx.channels.values() if c.name.startswith("PJSIP/trunk-")]
        pbx.ami.drop_all()
        pbx.ast.pbx.request_hangup(caller)  # the caller hangs up during the gap
        outcome = await asyncio.wait_for(call, 30)
        await until(lambda: service.stats.ends_written == 1)
    assert outcome.uniqueid not in hangups  # the Hangup was lost with the connection
    record = await repo.find_by_linkedid(outcome.uniqueid)
    assert record is not None and record.call.ended_at is not None
