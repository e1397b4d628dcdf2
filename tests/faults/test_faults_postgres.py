"""Promise: a PostgreSQL restart under load is not noticed by callers and loses no record.

The backend's services run in the test process on a PostgreSQL of the test's own (the embedded
server in ``tmp_path``, so restarting it disturbs no other test). Calls keep arriving, waiting
and being answered while the server is stopped for a few seconds and started again on the same
data folder. Every caller must be served by the backend as if nothing happened, and once the
server is back every call must have its appeal record (with the agent who answered) and its call
facts: the writes wait and retry.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from callcenter.services.live_stats import LiveStats
from callcenter.sim.asterisk import AgiTarget
from callcenter.sim.clock import SimClock
from callcenter.sim.load import SimulatedPbx
from callcenter.sim.models import AgentPhone, CallerModel, Distribution
from callcenter.storage.db import EmbeddedPostgres, ensure_database, open_pool, start_embedded
from callcenter.storage.migrate import migrate
from tests.faults.faults_support import backend_in_process, in_process_settings, make_rig

OUTAGE_S = 3.0
CALLS = 8


@contextlib.asynccontextmanager
async def own_postgres(data_dir: Path) -> AsyncIterator[tuple[list[EmbeddedPostgres], Any]]:
    """A PostgreSQL server of this test's own, migrated, and a pool on it.

    Yields the list of server handles: a restart makes a new handle, which the test appends; only
    the last one is stopped at the end (the library keys its bookkeeping by the data folder, so
    stopping an older handle would forget the running server and leave it behind)."""
    servers = [await asyncio.to_thread(start_embedded, data_dir)]
    try:
        await ensure_database(servers[0].dsn("postgres"), "faults")
        pool = await open_pool(servers[0].dsn("faults"), min_size=2, max_size=10)
        try:
            await migrate(pool)
            yield servers, pool
        finally:
            await pool.close()
    finally:
        await asyncio.to_thread(servers[-1].stop)


def caller(n: int) -> CallerModel:
    """A caller who presses 0 for an operator; patient enough to wait for a free agent."""
    return CallerModel(
        number=f"38066{n:07d}",
        dtmf={"*": "0"},
        reaction=Distribution(0.3, fixed=True),
        patience=Distribution(300, fixed=True),
    )


async def test_postgres_restart_under_load_is_unnoticed_by_callers_and_loses_no_record(
    tmp_path: Path,
) -> None:
    """PostgreSQL stops for a few seconds mid-load: every call is served and recorded once it is back."""
    rig = make_rig(tmp_path)
    phones = [
        AgentPhone(a, answer_delay=Distribution(0.5, fixed=True), talk_time=Distribution(1.5, fixed=True))
        for a in ("op101", "op102", "op103")
    ]
    pbx = SimulatedPbx(SimClock(1.0), phones=phones, default_sound=0.4)
    await pbx.start()
    try:
        async with own_postgres(tmp_path / "pg") as (servers, pool):
            settings = in_process_settings(rig, ami_port=pbx.ami.port)
            async with backend_in_process(settings, pool) as (runtime, handling):
                pbx.ast.agi_map["127.0.0.1:4573"] = AgiTarget("127.0.0.1", runtime.agi.bound_port)
                live = LiveStats(runtime.bus, handling.acd)
                await live.start()
                for agent in ("op101", "op102", "op103"):
                    handling.acd.login(agent)

                async def arrivals() -> list[Any]:
                    calls = []
                    for n in range(CALLS):
                        calls.append(asyncio.ensure_future(pbx.call(caller(n))))
                        await asyncio.sleep(0.6)
                    return list(await asyncio.gather(*calls))

                load = asyncio.ensure_future(arrivals())
                await asyncio.sleep(1.5)  # calls in the IVR, in the queue and talking
                await asyncio.to_thread(servers[-1].stop)
                await asyncio.sleep(OUTAGE_S)
                servers.append(await asyncio.to_thread(start_embedded, servers[-1].data_dir))
                outcomes = await asyncio.wait_for(load, 60)
                # Callers noticed nothing: the backend's flow served every one to an agent.
                assert [o.variables.get("CC_IVR_RESULT") for o in outcomes] == ["answered"] * CALLS
                assert all(o.talked for o in outcomes)
                ids = sorted(o.uniqueid for o in outcomes)
                appeals: list[Any] = []
                facts: list[Any] = []
                for _ in range(300):  # the writers retry on their own; give them time
                    appeals = await pool.fetch(
                        "SELECT linkedid, agent FROM appeals WHERE linkedid = ANY($1::text[])", ids
                    )
                    facts = await pool.fetch(
                        "SELECT linkedid FROM call_facts WHERE linkedid = ANY($1::text[])", ids
                    )
                    if len(appeals) == len(facts) == CALLS and all(a["agent"] for a in appeals):
                        break
                    await asyncio.sleep(0.1)
                await live.stop()
    finally:
        await pbx.stop()
    assert sorted(a["linkedid"] for a in appeals) == ids
    assert all(a["agent"] for a in appeals), [dict(a) for a in appeals]
    assert sorted(f["linkedid"] for f in facts) == ids
