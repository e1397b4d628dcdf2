"""The IVR flow editor in a real browser (Debian's Chromium through Playwright), then real calls.

The backend runs in a thread with its own event loop: the web app with the editor, and the
FlowService behind it. After each change in the browser a call is placed by the simulated PBX
(``callcenter.sim`` playing Asterisk) into the backend's FastAGI server, which runs the flow the
service serves, so the test hears what a caller would hear.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

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
from tests.e2e.browser_support import AppThread, open_pool
from tests.integration.test_auth_support import PASSWORD, add_user, make_app

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]

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


async def build_editor_app(
    database: TestDatabase, flows_dir: Path, stack: contextlib.AsyncExitStack
) -> tuple[web.Application, FlowService]:
    """The web app with the editor and the FlowService behind it; one admin, no stored flows."""
    pool = await open_pool(database, stack)
    await pool.execute("TRUNCATE flow_active, flow_versions, flow_drafts, flow_file_imports")
    await pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    await add_user(pool, "boss", Role.ADMIN)
    service = FlowService(pool, load_flow_setup(REPO_ROOT / "queue"), flows_dir)
    await service.start(poll=False)
    stack.push_async_callback(service.stop)
    app = make_app(pool)
    flows_api.setup(app, service)
    return app, service


async def heard_on_a_call(service: FlowService) -> list[str]:
    """One simulated call that presses 2 while the menu plays; the texts the caller heard."""
    heard: list[str] = []

    async def render(text: str, language: str) -> str:
        heard.append(text)
        return "e2e/menu" if text.startswith("Оператор") else f"e2e/prompt-{len(heard)}"

    async def lookup(kind: str, key: str) -> None:
        return None

    async def enter_queue(session: IvrSessionPort, command: Queue, call: CallInfo) -> QueueResult:
        return QueueResult("no_agents")

    route = IvrRoute(
        service.get,
        FlowEnvironment(service.setup.schedules, flows=service.flows),
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
def backend(test_database: TestDatabase, tmp_path: Path) -> Iterator[AppThread[FlowService]]:
    """The backend serving `hotline` (version 1, imported from its file) on a free port."""
    (tmp_path / "hotline.yaml").write_text(VERSION_1, encoding="utf-8")
    with AppThread(lambda stack: build_editor_app(test_database, tmp_path, stack)) as server:
        yield server


def sign_in_to_editor(page: Page, base: str) -> None:
    """Open the editor, get sent to the login page, sign in as admin and land back in the editor."""
    page.goto(f"{base}/admin/flows")
    expect(page).to_have_url(f"{base}/login?next=%2Fadmin%2Fflows")
    page.get_by_label("Логін").fill("boss")
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Увійти").click()
    expect(page).to_have_url(f"{base}/admin/flows")
    expect(page.locator("body")).to_have_attribute("data-ready", "hotline")


def test_edit_error_fix_publish_then_a_call_follows_the_new_version(
    backend: AppThread[FlowService], page: Page
) -> None:
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
    assert "Довідка: перша версія." in backend.run(heard_on_a_call(backend.handles))

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
    heard = backend.run(heard_on_a_call(backend.handles))
    assert heard == ["Вітаємо.", "Оператор — 1, довідка — 2.", "Довідка: друга версія."]

    # Roll back to version 1 from the history: version 3, and calls hear version 1 again.
    page.locator('#history tr[data-version="1"]').get_by_role("button", name="Повернути").click()
    expect(page.locator("#publish-status")).to_have_text("Версію 1 повернуто як версію 3.")
    expect(page.locator("#history tr.active")).to_have_attribute("data-version", "3")
    expect(editor).to_have_value(VERSION_1)
    assert "Довідка: перша версія." in backend.run(heard_on_a_call(backend.handles))
