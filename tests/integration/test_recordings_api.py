"""The recordings API over the real app: playback with ranges, refusals audited, holds, retention."""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.appeals.calls import AgentAnswered, EnteredQueue
from callcenter.services.recordings import DiskMonitor, RecordingService, recording_relpath
from callcenter.services.retention import RetentionJob
from callcenter.storage.appeals import AppealRepository
from callcenter.storage.audit import fetch_audit
from callcenter.storage.recordings import Recording, RecordingRepository, RecordingStatus, recording_subject
from callcenter.storage.users import Role
from callcenter.web import recordings_api
from callcenter.web.metrics import METRICS
from tests.integration.test_auth_support import FakeClock, add_user, make_app, sign_in

Client = TestClient[Any, Any]
LINKEDID = "1764000000.17"


@dataclass
class World:
    """The app, its client, the clock, and the one recording of op101's call."""

    client: Client
    clock: FakeClock
    pool: Any
    root: Path
    recording: Recording
    appeal_id: Any
    size: int
    audit_floor: int


def write_wav(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        # A ramp rather than silence, so a wrong byte range cannot compare equal by accident.
        wav.writeframes(bytes(i % 251 for i in range(int(seconds * 8000) * 2)))


@pytest.fixture
async def world(db_pool: Any, tmp_path: Path) -> AsyncIterator[World]:
    # Recording ids keep counting across tests: the append-only audit trail remembers old ones.
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    await db_pool.execute("TRUNCATE recordings, appeal_legal_holds, recording_retention")
    await db_pool.execute("DELETE FROM appeals")
    for login, role in [
        ("op101", Role.AGENT),
        ("op102", Role.AGENT),
        ("sup", Role.SUPERVISOR),
        ("adm", Role.ADMIN),
    ]:
        await add_user(db_pool, login, role)
    await add_user(db_pool, "rep", Role.AUTHORITY, authority_id="oda-kyiv")
    clock = FakeClock()
    at = clock.now()
    appeals = AppealRepository(db_pool)
    appeal = await appeals.open_for_call(LINKEDID, caller="380501234567", dnid="0800507506", arrived_at=at)
    await appeals.apply_call_progress(EnteredQueue(LINKEDID, "general", at))
    await appeals.apply_call_progress(AgentAnswered(LINKEDID, "op101", at + timedelta(seconds=10)))
    repo = RecordingRepository(db_pool)
    service = RecordingService(
        repo, appeals, tmp_path, DiskMonitor(tmp_path, min_free_bytes=0, min_free_ratio=0)
    )
    row = await repo.start(LINKEDID, lambda leg: recording_relpath(LINKEDID, at, leg), started_at=at)
    write_wav(tmp_path / row.path, 2.0)
    [recording] = await service.finish(LINKEDID, at + timedelta(minutes=3))
    assert recording.status is RecordingStatus.OK
    app = make_app(db_pool, clock)
    recordings_api.setup(
        app,
        recordings_api.RecordingsApi(
            repo,
            appeals,
            tmp_path,
            RetentionJob(repo, tmp_path, default_days=365, clock=clock.now),
            now=clock.now,
        ),
    )
    recordings_api.register_metrics(app[METRICS], service)
    floor = await db_pool.fetchval("SELECT COALESCE(max(id), 0) FROM audit_log")
    size = (tmp_path / row.path).stat().st_size
    async with TestClient(TestServer(app)) as client:
        yield World(client, clock, db_pool, tmp_path, recording, appeal.id, size, floor)


async def audit(world: World, action: str, actor: str | None = None, subject: str | None = None) -> list[Any]:
    """This test's audit entries (the trail is append-only and shared by the module's tests)."""
    subject = subject or recording_subject(world.recording.id)
    entries = await fetch_audit(world.pool, action=action, actor=actor, subject=subject)
    return [e for e in entries if e.id > world.audit_floor]


async def test_agent_lists_and_plays_back_with_ranges(world: World) -> None:
    """The agent who took the call sees it, gets 200 then 206 slices that match the file, and can seek."""
    client, rec = world.client, world.recording
    await sign_in(client, "op101")
    listed = await client.get(f"/api/recordings?linkedid={LINKEDID}")
    assert listed.status == 200
    [item] = (await listed.json())["recordings"]
    assert item["status"] == "ok" and item["duration_ms"] == 2000 and item["download_url"] is None
    assert item["appeal_id"] == str(world.appeal_id) and "path" not in item
    data = (world.root / rec.path).read_bytes()

    full = await client.get(item["audio_url"])
    assert full.status == 200 and full.headers["Accept-Ranges"] == "bytes"
    assert full.headers["Content-Type"] == "audio/wav" and "no-store" in full.headers["Cache-Control"]
    assert await full.read() == data

    head = await client.get(item["audio_url"], headers={"Range": "bytes=0-99"})
    assert head.status == 206
    assert head.headers["Content-Range"] == f"bytes 0-99/{world.size}"
    assert await head.read() == data[:100]

    seek = await client.get(item["audio_url"], headers={"Range": "bytes=20000-"})
    assert seek.status == 206
    assert seek.headers["Content-Range"] == f"bytes 20000-{world.size - 1}/{world.size}"
    assert await seek.read() == data[20000:]

    tail = await client.get(item["audio_url"], headers={"Range": "bytes=-10"})
    assert tail.status == 206 and await tail.read() == data[-10:]


async def test_bad_ranges_get_416(world: World) -> None:
    """A range past the end, or one that is not a byte range, is answered 416."""
    await sign_in(world.client, "op101")
    url = f"/api/recordings/{world.recording.id}/audio"
    beyond = await world.client.get(url, headers={"Range": f"bytes={world.size + 10}-"})
    assert beyond.status == 416
    assert beyond.headers["Content-Range"] == f"bytes */{world.size}"
    garbage = await world.client.get(url, headers={"Range": "bytes=abc-def"})
    assert garbage.status == 416


async def test_one_listen_entry_per_playback_window(world: World) -> None:
    """Range requests of one playback make one ``recording.listen`` entry; a later playback another."""
    await sign_in(world.client, "op101")
    url = f"/api/recordings/{world.recording.id}/audio"
    for header in ("bytes=0-", "bytes=100-", "bytes=5000-6000"):
        assert (await world.client.get(url, headers={"Range": header})).status == 206
    [entry] = await audit(world, "recording.listen", "op101")
    assert entry.details["linkedid"] == LINKEDID and entry.details["role"] == "agent"
    world.clock.advance(6 * 60)
    assert (await world.client.get(url)).status == 200
    assert len(await audit(world, "recording.listen", "op101")) == 2


async def test_other_agent_gets_403_and_the_attempt_is_audited(world: World) -> None:
    """An agent who did not take the call is refused on audio, download and listing; each attempt is audited."""
    client = world.client
    await sign_in(client, "op102")
    base = f"/api/recordings/{world.recording.id}"
    for path in (f"{base}/audio", f"{base}/download"):
        response = await client.get(path, headers={"Range": "bytes=0-10"})
        assert response.status == 403
        assert (await response.json())["error_id"] == "forbidden"
    assert (await client.get(f"/api/recordings?linkedid={LINKEDID}")).status == 403
    denied = await audit(world, "recording.denied", "op102")
    assert sorted(e.details["what"] for e in denied) == ["download", "listen"]
    listing = await audit(world, "recording.denied", subject=f"call:{LINKEDID}")
    assert [e.actor for e in listing] == ["op102"]
    assert await audit(world, "recording.listen", "op102") == []


async def test_download_is_for_supervisors_and_audited(world: World) -> None:
    """The agent may not download (403, audited); a supervisor gets the attachment, audited each time."""
    client = world.client
    url = f"/api/recordings/{world.recording.id}/download"
    await sign_in(client, "op101")
    assert (await client.get(url)).status == 403
    client.session.cookie_jar.clear()
    await sign_in(client, "sup")
    for _ in range(2):
        response = await client.get(url)
        assert response.status == 200
        assert response.headers["Content-Disposition"] == f'attachment; filename="{LINKEDID}.wav"'
        assert await response.read() == (world.root / world.recording.path).read_bytes()
    assert [e.actor for e in await audit(world, "recording.download")] == ["sup", "sup"]
    assert [e.details["what"] for e in await audit(world, "recording.denied", "op101")] == ["download"]


async def test_authority_hears_only_forwarded_appeals(world: World) -> None:
    """An authority representative is refused (and audited) while the appeal is not theirs."""
    await sign_in(world.client, "rep")
    response = await world.client.get(f"/api/recordings/{world.recording.id}/audio")
    assert response.status == 403
    assert [e.actor for e in await audit(world, "recording.denied")] == ["rep"]


async def test_unknown_and_deleted_recordings(world: World) -> None:
    """A recording that does not exist is 404; one deleted by retention is 410 for those who may hear it."""
    await sign_in(world.client, "sup")
    assert (await world.client.get("/api/recordings/999999/audio")).status == 404
    assert (await world.client.get("/api/recordings/x1/audio")).status == 400
    await world.pool.execute("UPDATE recordings SET deleted_at = now() WHERE id = $1", world.recording.id)
    gone = await world.client.get(f"/api/recordings/{world.recording.id}/audio")
    assert gone.status == 410


async def test_flagged_list_for_supervisors(world: World) -> None:
    """Supervisors list flagged recordings; agents are refused by the route."""
    repo = RecordingRepository(world.pool)
    at = world.clock.now()
    await repo.start("1764000001.1", lambda leg: recording_relpath("1764000001.1", at, leg), started_at=at,
                     status=RecordingStatus.SKIPPED, problem="disk low: 10 bytes free")  # fmt: skip
    await sign_in(world.client, "sup")
    body = await (await world.client.get("/api/recordings/flagged")).json()
    assert [(r["linkedid"], r["status"]) for r in body["recordings"]] == [("1764000001.1", "skipped")]
    world.client.session.cookie_jar.clear()
    await sign_in(world.client, "op101")
    assert (await world.client.get("/api/recordings/flagged")).status == 403


async def test_supervisors_have_a_recordings_page_with_the_player(world: World) -> None:
    """/recordings serves supervisors a page that mounts the player and lists flagged recordings;
    its script is served, and an agent is refused the page."""
    await sign_in(world.client, "sup")
    page = await world.client.get("/recordings", headers={"Accept": "text/html"})
    assert page.status == 200
    text = await page.text()
    assert "/static/recordings/player.js" in text and "/static/recordings/recordings_page.js" in text
    script = await world.client.get("/static/recordings/recordings_page.js")
    assert script.status == 200 and "/api/recordings/flagged" in await script.text()
    world.client.session.cookie_jar.clear()
    await sign_in(world.client, "op101")
    assert (await world.client.get("/recordings", headers={"Accept": "application/json"})).status == 403


async def test_legal_hold_put_and_get(world: World) -> None:
    """A supervisor sets and lifts a legal hold (CSRF token needed); bad bodies and agents are refused."""
    client = world.client
    url = f"/api/legal-holds/{world.appeal_id}"
    csrf = await sign_in(client, "sup")
    headers = {"X-CSRF-Token": csrf}
    assert (await client.put(url, json={"hold": True, "reason": "court"})).status == 403  # no CSRF token
    response = await client.put(url, json={"hold": True, "reason": "court case 2-123/26"}, headers=headers)
    assert response.status == 200
    body = await response.json()
    assert body["hold"] is True and body["set_by"] == "sup" and body["reason"] == "court case 2-123/26"
    assert (await client.put(url, json={"hold": True}, headers=headers)).status == 400
    assert (await client.put(url, json={"hold": "yes"}, headers=headers)).status == 400
    missing = "/api/legal-holds/00000000-0000-0000-0000-000000000000"
    assert (await client.put(missing, json={"hold": True, "reason": "x"}, headers=headers)).status == 404
    released = await client.put(url, json={"hold": False}, headers=headers)
    assert (await released.json())["hold"] is False
    client.session.cookie_jar.clear()
    csrf = await sign_in(client, "op101")
    assert (await client.put(url, json={"hold": False}, headers={"X-CSRF-Token": csrf})).status == 403


async def test_retention_admin_routes(world: World) -> None:
    """Admins set a queue's period and run the job (dry run required to be said); supervisors are refused."""
    client = world.client
    csrf = await sign_in(client, "adm")
    headers = {"X-CSRF-Token": csrf}
    put = await client.put("/api/admin/retention/general", json={"days": 1}, headers=headers)
    assert (await put.json()) == {"default_days": 365, "queues": {"general": 1}}
    assert (await client.put("/api/admin/retention/general", json={"days": 0}, headers=headers)).status == 400
    assert (await client.post("/api/admin/retention/run", json={}, headers=headers)).status == 400
    # Two days later (moving the recording back: the session would expire with the clock).
    await world.pool.execute("UPDATE recordings SET started_at = started_at - interval '2 days'")
    dry = await (
        await client.post("/api/admin/retention/run", json={"dry_run": True}, headers=headers)
    ).json()
    assert [r["id"] for r in dry["deleted"]] == [world.recording.id]
    assert (world.root / world.recording.path).exists()
    real = await (
        await client.post("/api/admin/retention/run", json={"dry_run": False}, headers=headers)
    ).json()
    assert [r["id"] for r in real["deleted"]] == [world.recording.id]
    assert not (world.root / world.recording.path).exists()
    [deleted] = await audit(world, "recording.deleted")
    assert deleted.actor == "adm"
    runs = await audit(world, "recording.retention_run", subject="recordings")
    assert [e.details["dry_run"] for e in runs] == [False, True]
    client.session.cookie_jar.clear()
    csrf = await sign_in(client, "sup")
    response = await client.post(
        "/api/admin/retention/run", json={"dry_run": True}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 403


async def test_metrics_and_player_assets(world: World) -> None:
    """``/metrics`` carries the disk gauges and capture counts; the player script is served."""
    text = await (await world.client.get("/metrics")).text()
    assert "callcenter_recordings_disk_free_bytes " in text
    assert "callcenter_recordings_disk_low 0.0" in text
    assert 'callcenter_recordings_events_total{event="finished_ok"} 1.0' in text
    script = await world.client.get("/static/recordings/player.js")
    assert script.status == 200 and "ccRecordings" in await script.text()
    assert (await world.client.get("/static/recordings/other.js")).status == 404


async def test_routes_declare_access(world: World) -> None:
    """Every recordings route declares who may call it (the app refuses undeclared routes)."""
    from callcenter.web.auth import route_access

    app = world.client.app
    paths = {
        r.resource.canonical
        for r in app.router.routes()
        if r.resource is not None and "record" in r.resource.canonical
    }
    assert paths
    for route in app.router.routes():
        if route.resource is not None and route.resource.canonical in paths:
            assert route_access(app, route) is not None
