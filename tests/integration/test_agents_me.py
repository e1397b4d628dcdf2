"""``GET /api/agents/me`` and the desk's wrap-up message: the agent's state and wrap-up time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.acd.model import AgentState, AgentStateChanged
from callcenter.services.acd import AcdService
from callcenter.services.queue_wait import QueueWait
from callcenter.storage.users import Role
from callcenter.web import desk
from callcenter.web.agents_api import ACD_SERVICE, routes
from tests.integration.test_auth_support import add_user, make_app, sign_in
from tests.unit.test_services_acd_support import (
    FILES,
    QUEUES,
    FakeClock,
    FakeSession,
    call_info,
    make_service,
    queue_command,
)

Client = TestClient[Any, Any]
#: The general queue with a 30-second wrap-up.
WRAP_FILES = {
    **FILES,
    "queues.yaml": QUEUES.replace("    max_wait_s: 600\n", "    max_wait_s: 600\n    wrap_up_s: 30\n"),
}


@pytest.fixture
async def line(db_pool: Any) -> AsyncIterator[tuple[AcdService, FakeClock, dict[str, Client]]]:
    """The agents API on an ACD with a wrap-up, and a signed-in client for op1 and a supervisor."""
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    await add_user(db_pool, "op1", Role.AGENT)
    await add_user(db_pool, "sup", Role.SUPERVISOR)
    clock = FakeClock()
    service, _ = make_service(clock, files=WRAP_FILES)
    clients: dict[str, Client] = {}
    for login in ("op1", "sup"):
        app = make_app(db_pool)
        app[ACD_SERVICE] = service
        app.add_routes(routes)
        client: Client = TestClient(TestServer(app))
        await client.start_server()
        await sign_in(client, login)
        clients[login] = client
    try:
        yield service, clock, clients
    finally:
        for client in clients.values():
            await client.close()


async def me(client: Client) -> dict[str, Any]:
    response = await client.get("/api/agents/me")
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_me_tells_the_state_before_and_after_a_call(
    line: tuple[AcdService, FakeClock, dict[str, Client]],
) -> None:
    """The agent's state, reason and time in state; after a call, its queue's wrap-up and what is left."""
    service, clock, clients = line
    first = await me(clients["op1"])
    assert first["agent"]["state"] == "logged_out"
    assert (first["agent"]["wrap_up_s"], first["agent"]["last_queue"]) == (None, None)
    assert "lunch" in first["pause_reasons"]

    service.login("op1")
    service.pause("op1", "lunch")
    clock.t += 90
    paused = (await me(clients["op1"]))["agent"]
    assert (paused["state"], paused["reason"], paused["time_in_state_s"]) == ("paused", "lunch", 90.0)

    service.available("op1")
    result = await QueueWait(service)(FakeSession(clock, dial=["ANSWER"]), queue_command(), call_info("c-1"))
    assert result.status == "answered"
    clock.t += 12
    wrapping = (await me(clients["op1"]))["agent"]
    assert wrapping["state"] == "wrap_up"
    assert (wrapping["last_queue"], wrapping["wrap_up_s"], wrapping["wrap_up_left_s"]) == (
        "general",
        30.0,
        18.0,
    )


async def test_me_is_404_for_a_user_who_is_no_agent(
    line: tuple[AcdService, FakeClock, dict[str, Client]],
) -> None:
    """A supervisor whose login is no agent id gets 404 not_an_agent, not someone else's state."""
    _service, _clock, clients = line
    response = await clients["sup"].get("/api/agents/me")
    assert response.status == 404
    assert (await response.json())["error_id"] == "not_an_agent"


async def test_desk_wrap_up_message_carries_the_queues_wrap_up(
    line: tuple[AcdService, FakeClock, dict[str, Client]],
) -> None:
    """The desk's agent_state message for a wrap-up says how long it lasts, so the page counts down."""
    service, clock, _clients = line
    service.login("op1")
    await QueueWait(service)(FakeSession(clock, dial=["ANSWER"]), queue_command(), call_info("c-2"))
    app = web.Application()
    app[ACD_SERVICE] = service
    message = await desk._message_for(
        app, "op1", "acd", AgentStateChanged("op1", AgentState.WRAP_UP, clock.t)
    )
    assert message == {"type": "agent_state", "state": "wrap_up", "reason": None, "wrap_up_s": 30.0}
    paused = await desk._message_for(
        app, "op1", "acd", AgentStateChanged("op1", AgentState.PAUSED, clock.t, "lunch")
    )
    assert paused == {"type": "agent_state", "state": "paused", "reason": "lunch"}
