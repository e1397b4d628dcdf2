"""The wallboard in Chromium while a real call goes through the simulated PBX, FastAGI, the IVR and the ACD.

The backend is built as ``callcenter serve`` builds it (``start_runtime`` + ``start_call_handling``,
which wires the wallboard) on the test PostgreSQL, and runs in a thread with the simulated PBX. Operator op101 is on a break when the caller
reaches the queue, so the call waits; the test sends op101 back, the phone answers, talks and
hangs up, and the board shows each step.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
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
from tests.e2e.browser_support import AppThread, chromium_page, free_port, open_pool, sign_in
from tests.integration.test_auth_support import REPO_ROOT
from tests.integration.test_wallboard_support import add_people

pytestmark = pytest.mark.browser

UPDATE_MS = 1000


@dataclass
class Line:
    """What the test reaches into: the backend's call handling, the simulated PBX, the pool."""

    calls: CallHandling
    pbx: SimulatedPbx
    pool: Any


async def build_line(
    database: TestDatabase, tmp: Path, stack: contextlib.AsyncExitStack
) -> tuple[web.Application, Line]:
    """The backend as ``callcenter serve`` builds it and the simulated PBX; op101 on a break."""
    pool = await open_pool(database, stack, max_size=10)
    await add_people(pool)
    ami_port = free_port()
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
    return runtime.web_app, Line(calls, pbx, pool)


class LineThread(AppThread[Line]):
    """Backend, wallboard and simulated PBX on one event loop in a thread of their own."""

    def __init__(self, database: TestDatabase, tmp: Path) -> None:
        super().__init__(lambda stack: build_line(database, tmp, stack), start_timeout_s=60)

    def call(self) -> concurrent.futures.Future[Any]:
        """A caller choosing language 1, a new appeal, the social topic (as the lead's end-to-end test)."""
        model = CallerModel(number="380501234567", dtmf={"*": "1"}, reaction=Distribution(0.1, fixed=True))
        return self.submit(self.handles.pbx.call(model))

    def audit(self, action: str) -> list[AuditEntry]:
        """The audit entries of ``action``, read on the backend's loop."""
        return self.run(fetch_audit(self.handles.pool, action=action))

    def agent_available(self, agent_id: str) -> None:
        self.call_soon(self.handles.calls.acd.available, agent_id)


@pytest.fixture
def line(test_database: TestDatabase, tmp_path: Path) -> Iterator[LineThread]:
    with LineThread(test_database, tmp_path) as server:
        yield server


@pytest.fixture
def page() -> Iterator[Page]:
    """A fresh headless Chromium page, big as a wall screen."""
    with chromium_page(viewport={"width": 1920, "height": 1080}) as page:
        yield page


def test_wallboard_follows_a_simulated_call(line: LineThread, page: Page, tmp_path: Path) -> None:
    """The call waits in 'social', op101 answers it (the supervisor listens in), it ends: the board follows."""
    base = line.url
    sign_in(page, f"{base}/wallboard", "u-supervisor")
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
