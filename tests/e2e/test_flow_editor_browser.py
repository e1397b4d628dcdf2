"""The IVR flow editor in a real browser (Debian's Chromium through Playwright), then real calls.

The backend runs in a thread with its own event loop: the web app with the editor, and the
FlowService behind it. After each change in the browser a call is placed by the simulated PBX
(``callcenter.sim`` playing Asterisk) into the backend's FastAGI server, which runs the flow the
service serves, so the test hears what a caller would hear.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from aiohttp import web
from playwright.sync_api import Page, expect

from callcenter.ivr.commands import Queue, QueueResult
from callcenter.ivr.engine import CallInfo, FlowEnvironment
from callcenter.services.flows import FlowService, load_flow_setup
from callcenter.sim.clock import SimClock
from callcenter.sim.load import SimulatedPbx
from callcenter.sim.models import CallerModel, Distribution
from callcenter.storage.users import Role
from callcenter.telephony.agi_server import FastAgiServer
from callcenter.telephony.ivr_driver import IvrRoute, IvrServices, IvrSessionPort
from callcenter.web import flows_api
from tests.e2e.test_login_browser import chromium_page, free_port
from tests.integration.test_auth_support import PASSWORD, add_user, make_app

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

# The route of the shipped dialplan is `hotline`, so the flow under edit is called that.
VERSION_1 = """\
languages: [uk]
start: greet
nodes:
  greet:
    type: play
    prompt: {uk: "Вітаємо."}
    next: menu
  menu:
    type: menu
    prompt: {uk: "Оператор — 1, довідка — 2."}
    choices: {"1": operator, "2": info}
    fallback: bye
  info:
    type: play
    prompt: {uk: "Довідка: перша версія."}
    next: bye
  operator:
    type: queue
    queue: general
    fallback: bye
  bye:
    type: hangup
"""
BROKEN = VERSION_1.replace("next: bye", "next: nowhere")
VERSION_2 = VERSION_1.replace("Довідка: перша версія.", "Довідка: друга версія.")


class Backend:
    """The web app and FlowService on an event loop in a thread of their own."""

    def __init__(self, database: TestDatabase, flows_dir: Path) -> None:
        self.database = database
        self.flows_dir = flows_dir
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="e2e-backend", daemon=True)
        self.service: FlowService | None = None
        self.pool: Any = None
        self.runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the backend's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def start(self) -> None:
        self.pool = await self.database.pool(min_size=1, max_size=5)
        await self.pool.execute("TRUNCATE flow_active, flow_versions, flow_drafts, flow_file_imports")
        await self.pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
        await add_user(self.pool, "boss", Role.ADMIN)
        self.service = FlowService(self.pool, load_flow_setup(REPO_ROOT / "queue"), self.flows_dir)
        await self.service.start(poll=False)
        app = make_app(self.pool)
        flows_api.setup(app, self.service)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.service is not None:
            await self.service.stop()
        if self.pool is not None:
            await self.pool.close()

    async def call(self) -> list[str]:
        """One simulated call that presses 2 while the menu plays; the texts the caller heard."""
        assert self.service is not None
        heard: list[str] = []

        async def render(text: str, language: str) -> str:
            heard.append(text)
            return "e2e/menu" if text.startswith("Оператор") else f"e2e/prompt-{len(heard)}"

        async def lookup(kind: str, key: str) -> None:
            return None

        async def enter_queue(session: IvrSessionPort, command: Queue, call: CallInfo) -> QueueResult:
            return QueueResult("no_agents")

        route = IvrRoute(
            self.service.get,
            FlowEnvironment(self.service.setup.schedules, flows=self.service.flows),
            IvrServices(render_prompt=render, lookup=lookup, enter_queue=enter_queue),
        )
        server = FastAgiServer("127.0.0.1", 0, allowed_peers=None)
        server.add_route("hotline", route)
        await server.start()
        pbx = SimulatedPbx(SimClock(20), agi_port=server.bound_port)
        await pbx.start()
        try:
            caller = CallerModel(dtmf={"e2e/menu": "2"}, reaction=Distribution(0.5, fixed=True))
            outcome = await pbx.call(caller)
        finally:
            await pbx.stop()
            await server.close(grace_s=1)
        assert outcome.variables.get("CC_IVR_RESULT") == "hangup", outcome.variables
        return heard


@pytest.fixture
def backend(test_database: TestDatabase, tmp_path: Path) -> Iterator[Backend]:
    """The backend serving `hotline` (version 1, imported from its file) on a free port."""
    (tmp_path / "hotline.yaml").write_text(VERSION_1, encoding="utf-8")
    started = Backend(test_database, tmp_path)
    started.thread.start()
    try:
        started.run(started.start())
        yield started
    finally:
        try:
            started.run(started.stop())
        finally:
            started.loop.call_soon_threadsafe(started.loop.stop)
            started.thread.join(timeout=30)
            started.loop.close()


@pytest.fixture
def page(backend: Backend) -> Iterator[Page]:
    """A fresh headless Chromium page."""
    with chromium_page() as page:
        yield page


def sign_in_to_editor(page: Page, base: str) -> None:
    """Open the editor, get sent to the login page, sign in as admin and land back in the editor."""
    page.goto(f"{base}/admin/flows")
    expect(page).to_have_url(f"{base}/login?next=%2Fadmin%2Fflows")
    page.get_by_label("Логін").fill("boss")
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Увійти").click()
    expect(page).to_have_url(f"{base}/admin/flows")
    expect(page.locator("body")).to_have_attribute("data-ready", "hotline")


def test_edit_error_fix_publish_then_a_call_follows_the_new_version(backend: Backend, page: Page) -> None:
    """An error shows at its line while the old version serves; the fix publishes; calls hear it; rollback too."""
    sign_in_to_editor(page, backend.url)
    editor = page.locator("#source")
    expect(editor).to_have_value(VERSION_1)
    expect(page.locator('#diagram g.node.start[data-node="greet"]')).to_have_count(1)

    # Edit: a target that does not exist. The error appears at its line, in the list and the gutter.
    editor.fill(BROKEN)
    expect(page.locator("#errors li").first).to_have_text(
        "16:11: node `info` goes to an unknown node `nowhere`"
    )
    expect(page.locator("#gutter .ln.bad")).to_have_count(1)
    expect(page.locator('#gutter .ln.bad[data-line="16"]')).to_have_count(1)
    expect(page.locator('#diagram g.node.missing[data-node="nowhere"]')).to_have_count(1)
    page.get_by_role("button", name="Опублікувати").click()
    expect(page.locator("#publish-status")).to_have_text("Не опубліковано: у сценарії є помилки.")
    # Nothing was activated: a call now still hears version 1.
    assert "Довідка: перша версія." in backend.run(backend.call())

    # Fix, try it with a simulated key press, publish.
    editor.fill(VERSION_2)
    expect(page.locator("#errors li.ok")).to_have_text("Помилок немає.")
    expect(page.locator("#gutter .ln.bad")).to_have_count(0)
    page.get_by_label("Натискання клавіш").fill("2")
    page.get_by_role("button", name="Запустити").click()
    expect(page.locator("#run-output")).to_contain_text("Play: Довідка: друга версія.")
    expect(page.locator("#run-output li.end")).to_have_text("→ hangup")
    page.get_by_label("Примітка до версії").fill("друга довідка")
    page.get_by_role("button", name="Опублікувати").click()
    expect(page.locator("#publish-status")).to_have_text("Опубліковано версію 2.")
    expect(page.locator("#history tr.active")).to_have_attribute("data-version", "2")
    expect(page.locator("#history tr.active")).to_contain_text("друга довідка")

    # A simulated call through FastAGI follows the new version.
    heard = backend.run(backend.call())
    assert heard == ["Вітаємо.", "Оператор — 1, довідка — 2.", "Довідка: друга версія."]

    # Roll back to version 1 from the history: version 3, and calls hear version 1 again.
    page.locator('#history tr[data-version="1"]').get_by_role("button", name="Повернути").click()
    expect(page.locator("#publish-status")).to_have_text("Версію 1 повернуто як версію 3.")
    expect(page.locator("#history tr.active")).to_have_attribute("data-version", "3")
    expect(editor).to_have_value(VERSION_1)
    assert "Довідка: перша версія." in backend.run(backend.call())
