"""The desk's state on load, its wrap-up countdown and the call's recording player (Chromium).

The page's side of the contracts: ``GET /api/agents/me`` (answered here by the test, its server
side is tested in ``tests/integration/test_agents_me.py``), the ``wrap_up_s`` of the desk
socket's ``agent_state`` message, and the recordings player mounted on the finished call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from callcenter.acd.model import AgentState, AgentStateChanged
from callcenter.services.live_events import TOPIC_ACD, TOPIC_CALLS, CallFinished
from tests.conftest import REPO_ROOT, TestDatabase
from tests.e2e.test_desk_browser import POP_TIMEOUT_MS, DeskThread, sign_in_to_desk

pytestmark = pytest.mark.browser

PLAYER = REPO_ROOT / "callcenter" / "web" / "static" / "player.js"


@pytest.fixture
def desk_app(test_database: TestDatabase) -> Iterator[DeskThread]:
    """The app with the appeals API and the desk, on a free port."""
    with DeskThread(test_database) as server:
        yield server


def answer_json(route: Route, body: dict[str, Any]) -> None:
    route.fulfill(status=200, content_type="application/json", body=json.dumps(body))


def test_state_on_load_counts_the_wrap_up_down(desk_app: DeskThread, page: Page) -> None:
    """A desk opened during a wrap-up shows the ACD's state and the time left, not "unknown"."""
    agent = {
        "agent_id": "u-agent", "state": "wrap_up", "reason": None, "time_in_state_s": 10.0,
        "last_queue": "general", "wrap_up_s": 30.0, "wrap_up_left_s": 20.0,
    }  # fmt: skip
    page.route("**/api/agents/me", lambda route: answer_json(route, {"agent": agent, "pause_reasons": []}))
    sign_in_to_desk(page, desk_app.url)
    expect(page.locator("#agent-state")).to_have_text("обробка після дзвінка")
    expect(page.locator("#wrap-up-label")).to_have_text("До кінця обробки після дзвінка")
    time_left = page.locator("#wrap-up-time")
    expect(time_left).to_have_text("0:19", timeout=3000)  # 30 s minus the 10 s passed, counting down

    # The wrap-up ends: the ACD says so over the socket and the countdown goes away.
    desk_app.publish(TOPIC_ACD, AgentStateChanged("u-agent", AgentState.AVAILABLE, 0.0))
    expect(page.locator("#agent-state")).to_have_text("доступний")
    expect(page.locator("#wrap-up")).to_be_hidden()


def test_paused_agent_on_load_and_unknown_without_an_agent(desk_app: DeskThread, page: Page) -> None:
    """A paused agent's reason shows at once; a 404 (no agent) leaves the state unknown."""
    agent = {
        "agent_id": "u-agent",
        "state": "paused",
        "reason": "lunch",
        "time_in_state_s": 5.0,
        "wrap_up_s": None,
    }
    page.route(
        "**/api/agents/me", lambda route: answer_json(route, {"agent": agent, "pause_reasons": ["lunch"]})
    )
    sign_in_to_desk(page, desk_app.url)
    expect(page.locator("#agent-state")).to_have_text("перерва (обід)")
    expect(page.locator("#wrap-up")).to_be_hidden()

    page.unroute("**/api/agents/me")
    page.reload()
    expect(page.locator("#connection")).not_to_be_empty()
    expect(page.locator("#agent-state")).to_have_text("невідомо")  # this app has no ACD: 404


def test_finished_call_shows_its_recording(desk_app: DeskThread, page: Page) -> None:
    """When the call ends, the player is mounted on the card with the call's linkedid."""
    asked: list[str] = []

    def recordings(route: Route) -> None:
        asked.append(route.request.url)
        answer_json(
            route,
            {
                "recordings": [
                    {"id": 7, "leg": 1, "duration_ms": 65000, "status": "ok", "flagged": False,
                     "audio_url": None, "download_url": None},
                ]
            },
        )  # fmt: skip

    page.route("**/static/recordings/player.js", lambda route: route.fulfill(path=Path(PLAYER)))
    page.route("**/static/recordings/player.css", lambda route: route.fulfill(status=200, body=""))
    page.route("**/api/recordings?*", recordings)
    sign_in_to_desk(page, desk_app.url)
    desk_app.ring("R-1")
    expect(page.locator("#call-caller")).not_to_be_empty(timeout=POP_TIMEOUT_MS)
    expect(page.locator("#recordings")).to_be_hidden()
    desk_app.publish(TOPIC_CALLS, CallFinished("R-1", "answered", "utilities", "u-agent", 2.0))
    expect(page.locator("#recordings")).to_be_visible()
    expect(page.locator("#call-recordings .cc-recording__title")).to_have_text("Розмова · 1:05", timeout=5000)
    assert asked and asked[0].endswith("/api/recordings?linkedid=R-1")
