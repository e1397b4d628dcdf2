"""The wallboard socket, its REST twin and the supervisors' controls against the real app."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer

from callcenter.services.acd import OfferInfo
from callcenter.services.live_events import TOPIC_CALLS, CallArrived
from callcenter.storage.audit import fetch_audit
from tests.integration.test_auth_support import sign_in
from tests.integration.test_wallboard_support import (
    SPARE_PHONE,
    SUPERVISOR_PHONE,
    WallboardApp,
    add_people,
    make_wallboard_app,
)

Client = TestClient[Any, Any]


@pytest.fixture
async def board(db_pool: Any) -> WallboardApp:
    await add_people(db_pool)
    return make_wallboard_app(
        db_pool, channel_of=lambda agent: "PJSIP/op1-00000007" if agent == "op1" else None
    )


@pytest.fixture
async def client(board: WallboardApp) -> AsyncIterator[Client]:
    async with TestClient(TestServer(board.app)) as test_client:
        yield test_client


def origin(client: Client) -> str:
    return f"http://{client.server.host}:{client.server.port}"


async def receive(ws: ClientWebSocketResponse) -> dict[str, Any]:
    """The next JSON message, within the one second the issue allows."""
    message: dict[str, Any] = await asyncio.wait_for(ws.receive_json(), 1.0)
    return message


async def test_socket_sends_state_then_update_within_a_second(board: WallboardApp, client: Client) -> None:
    """A supervisor's socket gets the full state, then the waiting caller in an update within 1 s."""
    await sign_in(client, "u-supervisor")
    async with client.ws_connect("/ws/wallboard", headers={"Origin": origin(client)}) as ws:
        first = await receive(ws)
        assert first["type"] == "state"
        assert set(first["queues"]) == {"general", "social"}
        assert first["queues"]["general"]["waiting"] == 0
        started = time.monotonic()
        board.acd.login("op2")
        board.acd.pause("op2", "break")  # nobody free: the caller waits
        board.bus.publish(TOPIC_CALLS, CallArrived("c1", "u1", None, "0800", "hotline", time.time()))
        board.acd.join("u1", "general", OfferInfo("c1", "u1", None, "uk", None))
        waiting = 0
        while waiting != 1:
            update = await receive(ws)
            assert update["type"] == "update"
            waiting = update.get("queues", {}).get("general", {}).get("waiting", waiting)
        assert time.monotonic() - started < 1.0
        assert update["queues"]["general"]["callers"][0]["call_id"] == "u1"
        assert "op2" in update.get("agents", {}) or first["agents"]["op2"]["state"] == "paused"


async def test_burst_is_coalesced(board: WallboardApp, client: Client) -> None:
    """A burst of 40 callers (80 events) reaches a client as a few updates, the last one holding every caller."""
    await sign_in(client, "u-supervisor")
    async with client.ws_connect("/ws/wallboard", headers={"Origin": origin(client)}) as ws:
        await receive(ws)
        for n in range(40):  # nobody is logged in: every caller waits
            board.acd.join(f"b{n}", "general", OfferInfo(f"b{n}", f"b{n}", None, "uk", None))
        updates = []
        waiting = 0
        while waiting != 40:
            updates.append(await receive(ws))
            waiting = updates[-1].get("queues", {}).get("general", {}).get("waiting", waiting)
        assert len(updates) <= 2


async def test_socket_needs_supervisor_and_our_origin(client: Client) -> None:
    """Agents are refused, and so is a handshake from another site or without an Origin."""
    await sign_in(client, "u-agent")
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/wallboard", headers={"Origin": origin(client)})
    assert refused.value.status == 403
    await sign_in(client, "u-supervisor")
    for headers in ({"Origin": "http://evil.example"}, {}):
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws/wallboard", headers=headers)
        assert refused.value.status == 403


async def test_rest_state_and_page_access(client: Client) -> None:
    """Anonymous 401, agent 403, supervisor gets the state and the page."""
    assert (await client.get("/api/wallboard", headers={"Accept": "application/json"})).status == 401
    await sign_in(client, "u-agent")
    assert (await client.get("/api/wallboard")).status == 403
    await sign_in(client, "u-supervisor")
    response = await client.get("/api/wallboard")
    assert response.status == 200
    body = await response.json()
    assert body["type"] == "state" and set(body["queues"]) == {"general", "social"}
    page = await client.get("/wallboard")
    assert page.status == 200 and "/static/wallboard/wallboard.js" in await page.text()
    assert (await client.get("/static/wallboard/wallboard.css")).status == 200


@pytest.mark.parametrize(("mode", "options"), [("listen", "qE"), ("whisper", "qEw"), ("barge", "qEB")])
async def test_supervise_originates_chanspy_and_audits(
    board: WallboardApp, client: Client, db_pool: Any, mode: str, options: str
) -> None:
    """Each mode rings the supervisor's own phone into ChanSpy with its options, and is audited."""
    token = await sign_in(client, "u-supervisor")
    response = await client.post(
        f"/api/supervise/{mode}", json={"agent_id": "op1"}, headers={"X-CSRF-Token": token}
    )
    assert response.status == 202, await response.text()
    assert board.spy.calls == [
        {
            "channel": f"PJSIP/{SUPERVISOR_PHONE}",
            "application": "ChanSpy",
            "data": f"PJSIP/op1-00000007,{options}",
        }
    ]
    entries = await fetch_audit(db_pool, action=f"supervise.{mode}")
    assert [(e.actor, e.subject, e.details["data"]) for e in entries][:1] == [
        ("u-supervisor", "op1", f"PJSIP/op1-00000007,{options}")
    ]


async def test_supervise_refusals(board: WallboardApp, client: Client) -> None:
    """No CSRF token, an agent, an unconfigured phone, or an agent not on a call: nothing is originated."""
    token = await sign_in(client, "u-supervisor")
    assert (await client.post("/api/supervise/listen", json={"agent_id": "op1"})).status == 403
    bad_phone = await client.post(
        "/api/supervise/listen", json={"agent_id": "op1", "phone": "9999"}, headers={"X-CSRF-Token": token}
    )
    assert bad_phone.status == 400 and (await bad_phone.json())["details"]["field"] == "phone"
    idle = await client.post(
        "/api/supervise/listen", json={"agent_id": "op2"}, headers={"X-CSRF-Token": token}
    )
    assert idle.status == 400  # op2 has no channel and is not on a call
    spare = await client.post(
        "/api/supervise/barge",
        json={"agent_id": "op1", "phone": SPARE_PHONE},
        headers={"X-CSRF-Token": token},
    )
    assert spare.status == 202
    agent_token = await sign_in(client, "u-agent")
    forbidden = await client.post(
        "/api/supervise/listen", json={"agent_id": "op1"}, headers={"X-CSRF-Token": agent_token}
    )
    assert forbidden.status == 403
    assert [c["channel"] for c in board.spy.calls] == [f"PJSIP/{SPARE_PHONE}"]


async def test_move_and_priority_through_the_acd(board: WallboardApp, client: Client, db_pool: Any) -> None:
    """A waiting caller moves to another queue and gets a higher priority; both audited, both on the board."""
    board.acd.join("u5", "general", OfferInfo("c5", "u5", None, "uk", None))
    token = await sign_in(client, "u-supervisor")
    moved = await client.post(
        "/api/supervise/move", json={"call_id": "u5", "queue": "social"}, headers={"X-CSRF-Token": token}
    )
    assert moved.status == 200, await moved.text()
    view = board.acd.state.caller("u5", time.time())
    assert view is not None and view.queue == "social"
    raised = await client.post(
        "/api/supervise/priority", json={"call_id": "u5", "priority": 3}, headers={"X-CSRF-Token": token}
    )
    assert raised.status == 200
    view = board.acd.state.caller("u5", time.time())
    assert view is not None and view.priority == 3
    state = (await (await client.get("/api/wallboard")).json())["queues"]
    assert [c["call_id"] for c in state["social"]["callers"]] == ["u5"] and state["general"]["callers"] == []
    assert state["social"]["callers"][0]["priority"] == 3
    bad = await client.post(
        "/api/supervise/move", json={"call_id": "u5", "queue": "nowhere"}, headers={"X-CSRF-Token": token}
    )
    assert bad.status == 400
    actions = [
        (e.action, e.subject, e.details) for e in await fetch_audit(db_pool, action_prefix="supervise.")
    ]
    assert ("supervise.move", "u5", {"from": "general", "to": "social"}) in actions
    assert ("supervise.priority", "u5", {"priority": 3}) in actions


async def test_pending_callbacks_on_the_board_without_numbers(board: WallboardApp, client: Client) -> None:
    """A callback request shows under its queue with its wait and attempts, and never the citizen's number."""
    board.acd.join("u7", "general", OfferInfo("c7", "u7", "380501112233", "uk", None))
    board.acd.request_callback("u7")
    await sign_in(client, "u-supervisor")
    response = await client.get("/api/wallboard")
    text = await response.text()
    general = (await response.json())["queues"]["general"]
    assert [(c["call_id"], c["attempts"]) for c in general["callbacks"]] == [("u7", 0)]
    assert general["callbacks_pending"] == 1
    assert "380501112233" not in text and "1112233" not in text
