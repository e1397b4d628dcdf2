"""End to end in the simulated PBX: MixMonitor through the real FastAGI session, check, link, play back.

The simulated Asterisk calls our FastAGI server; the route answers, opens the call's record,
starts the recording with the capture hook (``EXEC MixMonitor …,b`` over the wire), dials the
agent's phone, and returns. The simulator writes the WAV when the call hangs up; ``finish``
checks and links it, and the agent who took the call plays it back through the API with a Range
request while another agent is refused (and audited).
"""

from __future__ import annotations

import asyncio
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient, TestServer

from callcenter.appeals.calls import AgentAnswered, EnteredQueue
from callcenter.services.recordings import DiskMonitor, RecordingService, RecordingStarted
from callcenter.services.retention import RetentionJob
from callcenter.sim.clock import SimClock
from callcenter.sim.load import SimulatedPbx
from callcenter.sim.models import AgentPhone, CallerModel, Distribution
from callcenter.storage.appeals import AppealRepository
from callcenter.storage.audit import fetch_audit
from callcenter.storage.recordings import RecordingRepository, RecordingStatus, recording_subject
from callcenter.storage.users import Role
from callcenter.telephony.agi_server import FastAgiServer
from callcenter.telephony.agi_session import AgiSession
from callcenter.web import recordings_api
from tests.integration.test_auth_support import add_user, make_app, sign_in

TALK_S = 4.0


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as wav:
        frames: int = wav.getnframes()
        rate: int = wav.getframerate()
    return frames / rate


async def test_sim_call_is_recorded_linked_and_played_back(db_pool: Any, tmp_path: Path) -> None:
    """A simulated call's recording appears under YYYY/MM/DD, is checked and linked, and plays with Range."""
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    appeals = AppealRepository(db_pool)
    repo = RecordingRepository(db_pool)
    service = RecordingService(
        repo, appeals, tmp_path, DiskMonitor(tmp_path, min_free_bytes=0, min_free_ratio=0), file_wait_s=3.0
    )
    started: list[RecordingStarted] = []
    handled = asyncio.Event()

    async def hotline(session: AgiSession) -> None:
        try:
            await session.answer()
            linkedid = await session.get_full_variable("${CHANNEL(linkedid)}") or session.env.uniqueid
            now = datetime.now(UTC)
            await appeals.open_for_call(
                linkedid, caller=session.env.callerid, dnid=session.env.dnid, arrived_at=now
            )
            await appeals.apply_call_progress(EnteredQueue(linkedid, "general", now))
            # What the pipeline's queue wrapper does just before the hand-off to the agent.
            recording = await service.start_recording(session, linkedid, now)
            assert recording is not None
            started.append(recording)
            await session.exec("Dial", "PJSIP/op101,30")
            if await session.get_variable("DIALSTATUS") == "ANSWER":
                await appeals.apply_call_progress(AgentAnswered(linkedid, "op101", datetime.now(UTC)))
        finally:
            handled.set()

    server = FastAgiServer("127.0.0.1", 0, allowed_peers=None)
    server.add_route("hotline", hotline)
    await server.start()
    phone = AgentPhone(
        "op101", answer_delay=Distribution(1.0, fixed=True), talk_time=Distribution(TALK_S, fixed=True)
    )
    pbx = SimulatedPbx(SimClock(20), agi_port=server.bound_port, phones=[phone], recordings_dir=tmp_path)
    await pbx.start()
    try:
        outcome = await pbx.call(CallerModel(number="380671112233", did="0800507506"))
        await asyncio.wait_for(handled.wait(), 5)
    finally:
        await pbx.stop()
        await server.close(grace_s=1.0)
    assert outcome.talked and outcome.variables.get("MIXMONITOR_FILENAME") == started[0].pbx_path
    [rec] = started
    linkedid = rec.linkedid

    [done] = await service.finish(linkedid, datetime.now(UTC))
    path = tmp_path / done.path
    day = rec.started_at.astimezone(ZoneInfo("Europe/Kyiv"))
    assert done.path == f"{day:%Y/%m/%d}/{linkedid}.wav" and path.is_file()
    assert done.status is RecordingStatus.OK and not done.flagged
    assert done.agent == "op101" and done.queue == "general"
    appeal = await appeals.find_by_linkedid(linkedid)
    assert appeal is not None and done.appeal_id == appeal.id
    # The file lasts at least the conversation (the simulator also records the ringing).
    assert done.duration_ms is not None and done.duration_ms >= TALK_S * 1000
    assert abs(wav_seconds(path) * 1000 - done.duration_ms) < 1

    await add_user(db_pool, "op101", Role.AGENT)
    await add_user(db_pool, "op102", Role.AGENT)
    app = make_app(db_pool)
    recordings_api.setup(
        app,
        recordings_api.RecordingsApi(
            repo, appeals, tmp_path, RetentionJob(repo, tmp_path, clock=lambda: datetime.now(UTC))
        ),
    )
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, "op101")
        [item] = (await (await client.get(f"/api/recordings?appeal={appeal.id}")).json())["recordings"]
        response = await client.get(item["audio_url"], headers={"Range": "bytes=44-1067"})
        assert response.status == 206
        assert response.headers["Content-Range"] == f"bytes 44-1067/{path.stat().st_size}"
        assert await response.read() == path.read_bytes()[44:1068]
        client.session.cookie_jar.clear()
        await sign_in(client, "op102")
        assert (await client.get(item["audio_url"], headers={"Range": "bytes=0-"})).status == 403
    actions = [(e.actor, e.action) for e in await fetch_audit(db_pool, subject=recording_subject(done.id))]
    assert actions == [("op102", "recording.denied"), ("op101", "recording.listen")]
