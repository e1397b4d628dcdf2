"""The wallboard in Chromium while a real call goes through the simulated PBX, FastAGI, the IVR and the ACD.

The backend is built as ``callcenter serve`` builds it (``start_runtime`` + ``start_call_handling``,
which wires the wallboard) on the test PostgreSQL, and runs in a thread with the simulated PBX. Operator op101 is on a break when the caller
reaches the queue, so the call waits; the test sends op101 back, the phone answers, talks and
hangs up, and the board shows each step.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.sync_api import Page, expect

from callcenter.app import Database, start_runtime
from callcenter.bootstrap import CallHandling, start_call_handling
from callcenter.config import load_settings
from callcenter.sim.ami_server import AmiUser
from callcenter.sim.clock import SimClock
from callcenter.sim.load import SimulatedPbx
from callcenter.sim.models import AgentPhone, CallerModel, Distribution
from callcenter.storage.audit import AuditEntry, fetch_audit
from callcenter.web import wallboard
from callcenter.web.auth import AUTH
from callcenter.web.auth_passwords import FAST_TEST_PARAMETERS, PasswordHasher
from tests.conftest import TestDatabase
from tests.e2e.test_login_browser import chromium_page, free_port
from tests.integration.test_auth_support import PASSWORD, REPO_ROOT
from tests.integration.test_wallboard_support import add_people

pytestmark = pytest.mark.browser

UPDATE_MS = 1000


class LineThread:
    """Backend, wallboard and simulated PBX on one event loop in a thread of their own."""

    def __init__(self, database: TestDatabase, tmp: Path) -> None:
        self._database, self._tmp = database, tmp
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self.port = free_port()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.calls: CallHandling | None = None
        self.pbx: SimulatedPbx | None = None
        self.pool: Any = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None

    async def _main(self) -> None:
        pool: Any = None
        try:
            pool = self.pool = await self._database.pool(min_size=1, max_size=10)
            await add_people(pool)
            async with contextlib.AsyncExitStack() as stack:
                await self._build(pool, stack)
                self.loop = asyncio.get_running_loop()
                self._stop = asyncio.Event()
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # handed to the test thread by start()
            self._failure = exc
        finally:
            self._ready.set()
            if pool is not None:
                await pool.close()

    async def _build(self, pool: Any, stack: contextlib.AsyncExitStack) -> None:
        ami_port, tmp = free_port(), self._tmp
        settings = load_settings(
            environ={"CALLCENTER_CONFIG": "/dev/null"},
            overrides={
                "ami.port": str(ami_port), "ami.secret": "wb-secret", "ami.ping_interval_s": "1",
                "agi.port": str(free_port()), "ivr.prerender_prompts": "false",
                "paths.flows_dir": str(REPO_ROOT / "ivr_flows"),
                "paths.queue_dir": str(REPO_ROOT / "tests" / "integration" / "e2e_queue"),
                "paths.spool_dir": str(tmp / "spool"), "paths.sounds_dir": str(tmp / "sounds"),
                "paths.recordings_dir": str(tmp / "recordings"),
            },
        )  # fmt: skip
        runtime = await start_runtime(settings, Database(pool=pool, dsn=""), stack)
        calls = await start_call_handling(runtime, stack)
        # The composition root wires the wallboard; the supervisors' phones are the test's own:
        # none configured for u-supervisor, so the page asks which of the allowed ones to ring.
        runtime.web_app[wallboard.SUPERVISE].supervise = wallboard.SuperviseSettings(
            allowed_phones=frozenset({"sup1"})
        )
        runtime.web_app[AUTH].hasher = PasswordHasher(FAST_TEST_PARAMETERS)
        await runtime.agi.start()
        stack.push_async_callback(runtime.agi.close)
        runner = web.AppRunner(runtime.web_app)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        pbx = SimulatedPbx(
            SimClock(1.0, epoch=time.time()),
            agi_port=runtime.agi.bound_port,
            phones=[
                AgentPhone(
                    "op101", answer_delay=Distribution(0.5, fixed=True), talk_time=Distribution(4, fixed=True)
                ),
                AgentPhone(
                    "sup1", answer_delay=Distribution(0.2, fixed=True), talk_time=Distribution(30, fixed=True)
                ),
            ],
            ami_users={"callcenter": AmiUser("wb-secret")},
            ami_port=ami_port,
            recordings_dir=tmp / "recordings",
            default_sound=0.2,
        )
        await pbx.start()
        stack.push_async_callback(pbx.stop)
        assert runtime.ami is not None
        await runtime.ami.wait_ready(10)
        calls.acd.login("op101")
        calls.acd.pause("op101", "break")
        self.calls, self.pbx = calls, pbx

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(60), "the backend did not start"
        if self._failure is not None:
            raise self._failure

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def call(self) -> concurrent.futures.Future[Any]:
        """A caller choosing language 1, a new appeal, the social topic (as the lead's end-to-end test)."""
        assert self.loop is not None and self.pbx is not None
        model = CallerModel(number="380501234567", dtmf={"*": "1"}, reaction=Distribution(0.1, fixed=True))
        return asyncio.run_coroutine_threadsafe(self.pbx.call(model), self.loop)

    def audit(self, action: str) -> list[AuditEntry]:
        """The audit entries of ``action``, read on the backend's loop."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(fetch_audit(self.pool, action=action), self.loop).result(10)

    def agent_available(self, agent_id: str) -> None:
        assert self.loop is not None and self.calls is not None
        self.loop.call_soon_threadsafe(self.calls.acd.available, agent_id)


@pytest.fixture
def line(test_database: TestDatabase, tmp_path: Path) -> Iterator[LineThread]:
    server = LineThread(test_database, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(line: LineThread) -> Iterator[Page]:
    """A fresh headless Chromium page, big as a wall screen."""
    with chromium_page(viewport={"width": 1920, "height": 1080}) as page:
        yield page


def test_wallboard_follows_a_simulated_call(line: LineThread, page: Page, tmp_path: Path) -> None:
    """The call waits in 'social', op101 answers it (the supervisor listens in), it ends: the board follows."""
    base = f"http://127.0.0.1:{line.port}"
    page.goto(f"{base}/wallboard")
    page.locator("#login").fill("u-supervisor")
    page.locator("#password").fill(PASSWORD)
    page.locator("#submit").click()
    expect(page).to_have_url(f"{base}/wallboard")
    expect(page.locator("#link")).to_have_class("link-up")
    social = page.locator('tr[data-queue="social"]')
    agent = page.locator('li[data-agent="op101"]')
    expect(social.locator('td[data-field="offered"]')).to_have_text("0")
    expect(agent.locator(".state")).to_contain_text("пауза (break)")

    outcome = line.call()
    expect(social.locator('td[data-field="waiting"]')).to_have_text("1", timeout=20_000)  # after the IVR
    expect(page.locator("#callers li")).to_have_count(1)
    page.screenshot(path=str(tmp_path / "sim-1-waiting.png"))

    line.agent_available("op101")
    expect(social.locator('td[data-field="waiting"]')).to_have_text("0", timeout=3000)
    expect(agent.locator(".state")).to_contain_text("розмова", timeout=10_000)
    # The supervisor listens in: the page asks for their phone, the PBX rings it into ChanSpy.
    page.once("dialog", lambda dialog: dialog.accept("sup1"))
    agent.get_by_role("button", name="Слухати").click()
    expect(page.locator("#message")).to_have_text("Телефон дзвонить")
    [entry] = line.audit("supervise.listen")
    assert (entry.actor, entry.subject, entry.details["phone_endpoint"]) == ("u-supervisor", "op101", "sup1")
    assert entry.details["data"].startswith("PJSIP/op101-") and entry.details["data"].endswith(",qE")
    page.screenshot(path=str(tmp_path / "sim-2-talking.png"))

    result = outcome.result(30)
    assert result.talked
    expect(social.locator('td[data-field="answered"]')).to_have_text("1", timeout=UPDATE_MS + 1000)
    expect(social.locator('td[data-field="offered"]')).to_have_text("1")
    # Answered well within the queue's 30 s; shown against its 80 % goal.
    expect(social.locator('td[data-field="sl"]')).to_have_text("100% / 80%")
    expect(agent.locator(".calls")).to_have_text("дзвінків: 1")
    page.screenshot(path=str(tmp_path / "sim-3-ended.png"))
