"""The recording player in a real browser (Debian's Chromium): it loads, and seeking uses HTTP ranges.

The app (real auth, the recordings API) runs in a thread with its own loop and pool. A host page
that embeds the player the way the desk or the wallboard will is served by Playwright's routing
at the app's own origin, so the page's requests carry the session cookie like a real page's.
"""

from __future__ import annotations

import contextlib
import wave
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from playwright.sync_api import Page, Request, Route, expect

from callcenter.appeals.calls import AgentAnswered, EnteredQueue
from callcenter.services.recordings import recording_relpath
from callcenter.services.retention import RetentionJob
from callcenter.storage.appeals import AppealRepository
from callcenter.storage.recordings import RecordingRepository, RecordingStatus
from callcenter.storage.users import Role
from callcenter.web import recordings_api
from tests.conftest import TestDatabase
from tests.e2e.browser_support import AppThread, chromium_page, open_pool
from tests.integration.test_auth_support import PASSWORD, add_user, make_app

pytestmark = pytest.mark.browser

LINKEDID = "1764000123.5"
#: A call whose recording went missing: the flagged list on the recordings page shows it.
FLAGGED_LINKEDID = "1764000456.7"
FLAGGED_AT = datetime(2026, 11, 24, 8, 5, tzinfo=UTC)  # 10:05 in Kyiv
#: Long enough (about 19 MB) that the browser cannot have it all buffered when asked to seek.
SECONDS = 1200.0
SEEK_TO = 1100.0
HOST_PAGE = f"""<!doctype html><html lang="uk"><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/recordings/player.css"></head>
<body><div class="cc-recordings" data-linkedid="{LINKEDID}"></div>
<script src="/static/recordings/player.js"></script></body></html>"""


def write_wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x10\x00\xf0\xff" * int(SECONDS * 4000))


async def build_recordings_app(
    database: TestDatabase, root: Path, stack: contextlib.AsyncExitStack
) -> tuple[web.Application, None]:
    """The app with the recordings API; one answered call of agent op101 with a long recording, and
    one call whose recording is missing."""
    pool = await open_pool(database, stack)
    await pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    await add_user(pool, "op101", Role.AGENT)
    await add_user(pool, "sup", Role.SUPERVISOR)
    now = datetime.now(UTC)
    appeals = AppealRepository(pool)
    await appeals.open_for_call(LINKEDID, caller=None, dnid=None, arrived_at=now)
    await appeals.apply_call_progress(EnteredQueue(LINKEDID, "general", now))
    await appeals.apply_call_progress(AgentAnswered(LINKEDID, "op101", now))
    repo = RecordingRepository(pool)
    row = await repo.start(LINKEDID, lambda leg: recording_relpath(LINKEDID, now, leg), started_at=now)
    write_wav(root / row.path)
    await repo.complete(
        row.id, status=RecordingStatus.OK, ended_at=now, size=(root / row.path).stat().st_size,
        duration_ms=int(SECONDS * 1000), sha256="b" * 64, problem=None, appeal_id=None,
        queue="general", agent="op101",
    )  # fmt: skip
    missing = await repo.start(
        FLAGGED_LINKEDID,
        lambda leg: recording_relpath(FLAGGED_LINKEDID, FLAGGED_AT, leg),
        started_at=FLAGGED_AT,
    )
    await repo.complete(
        missing.id, status=RecordingStatus.MISSING, ended_at=FLAGGED_AT, size=None, duration_ms=None,
        sha256=None, problem="no file where MixMonitor was to write it", appeal_id=None,
        queue="social", agent="op101",
    )  # fmt: skip
    app = make_app(pool)
    job = RetentionJob(repo, root, clock=lambda: datetime.now(UTC))
    recordings_api.setup(app, recordings_api.RecordingsApi(repo, appeals, root, job))
    return app, None


@pytest.fixture
def base_url(test_database: TestDatabase, tmp_path: Path) -> Iterator[str]:
    with AppThread(lambda stack: build_recordings_app(test_database, tmp_path, stack)) as server:
        yield server.url


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_page(extra_args=["--mute-audio"]) as page:
        yield page


def test_player_loads_and_seeks_through_range_requests(base_url: str, page: Page) -> None:
    """The embedded player shows the call's recording; seeking near the end is served by a Range request."""
    signed_in = page.request.post(f"{base_url}/api/login", data={"login": "op101", "password": PASSWORD})
    assert signed_in.status == 200
    ranges: list[str] = []

    def remember(request: Request) -> None:
        if "/audio" in request.url:
            ranges.append(request.all_headers().get("range", ""))

    page.on("request", remember)

    def host(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=HOST_PAGE)

    page.route(f"{base_url}/player-host", host)
    page.goto(f"{base_url}/player-host")
    audio = page.locator("audio.cc-recording__audio")
    audio.wait_for(state="attached", timeout=10_000)
    duration = page.evaluate(
        """() => new Promise((resolve, reject) => {
             const a = document.querySelector('audio');
             const done = () => resolve(a.duration);
             if (a.readyState >= 1) done(); else a.addEventListener('loadedmetadata', done, {once: true});
             a.addEventListener('error', () => reject(new Error('media error ' + (a.error && a.error.code))));
           })"""
    )
    assert abs(duration - SECONDS) < 0.1
    position = page.evaluate(
        """(to) => new Promise((resolve) => {
             const a = document.querySelector('audio');
             a.addEventListener('seeked', () => resolve(a.currentTime), {once: true});
             a.currentTime = to;
           })""",
        SEEK_TO,
    )
    assert abs(position - SEEK_TO) < 0.1
    seekable_end = page.evaluate(
        "() => { const s = document.querySelector('audio').seekable; return s.length ? s.end(0) : 0; }"
    )
    assert abs(seekable_end - SECONDS) < 0.1
    # The seek was served from the middle of the file, not by downloading all of it first.
    starts = [int(r.removeprefix("bytes=").split("-")[0]) for r in ranges if r.startswith("bytes=")]
    assert any(start > 1_000_000 for start in starts), ranges
    assert page.locator(".cc-recording__title").inner_text().endswith("20:00")
    # The agent who took the call may listen but not download: no download link is shown.
    assert page.locator(".cc-recording__download").count() == 0


def test_supervisor_finds_and_plays_a_call_on_the_recordings_page(base_url: str, page: Page) -> None:
    """A supervisor opens /recordings in Ukrainian, types the call's id, and the player appears with
    the 20-minute recording; the flagged list shows the missing one in words, in Kyiv time; the
    language link shows the same page, player included, in English."""
    signed_in = page.request.post(f"{base_url}/api/login", data={"login": "sup", "password": PASSWORD})
    assert signed_in.status == 200
    page.goto(f"{base_url}/recordings")
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.locator("h1")).to_have_text("Записи розмов")
    flagged = page.locator("#flagged li").first
    expect(flagged).to_contain_text("24.11.2026 10:05 · social · op101 · ")
    expect(flagged.locator(".problem")).to_have_text("файлу немає: no file where MixMonitor was to write it")
    page.fill("#key", LINKEDID)
    page.get_by_role("button", name="Знайти").click()
    # The module's tests share a schema: each seeded a recording of the same call, so there may be two.
    audio = page.locator("#found audio.cc-recording__audio").first
    audio.wait_for(state="attached", timeout=10_000)
    expect(page.locator("#found .cc-recording__title").first).to_have_text("Розмова · 20:00")
    expect(page.locator("#found .cc-recording__download").first).to_have_text("Завантажити")

    page.locator("#lang-switch").click()
    expect(page).to_have_url(f"{base_url}/recordings?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Call recordings")
    expect(flagged).to_contain_text("2026-11-24 10:05 · social · op101 · ")
    expect(flagged.locator(".problem")).to_have_text("missing: no file where MixMonitor was to write it")
    page.fill("#key", LINKEDID)
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#found .cc-recording__title").first).to_have_text("Conversation · 20:00")
    expect(page.locator("#found .cc-recording__download").first).to_have_text("Download")
    expect(page.locator("#lang-switch")).to_have_text("Українською")
