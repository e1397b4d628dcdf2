"""The agents/queues/callbacks/queue-config API: role checks, state changes, audit, run-time config."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.services.acd import AcdService, OfferInfo
from callcenter.services.queue_config import QueueConfigStore
from callcenter.services.queue_wait import QueueWait
from callcenter.storage.audit import fetch_audit
from callcenter.storage.users import Role
from callcenter.web.agents_api import ACD_SERVICE, QUEUE_CONFIG, routes
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


@dataclass
class Desk:
    """The app with the ACD service, and a signed-in client per role (with CSRF tokens)."""

    service: AcdService
    clock: FakeClock
    folder: Path
    clients: dict[str, tuple[Client, str]]
    anonymous: Client

    async def post(self, who: str, path: str, body: Any = None) -> Any:
        client, csrf = self.clients[who]
        return await client.post(path, json=body, headers={"X-CSRF-Token": csrf})

    async def get(self, who: str, path: str) -> Any:
        return await self.clients[who][0].get(path)


@pytest.fixture
async def desk(db_pool: Any, tmp_path: Path) -> AsyncIterator[Desk]:
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    await add_user(db_pool, "op1", Role.AGENT)
    await add_user(db_pool, "sup", Role.SUPERVISOR)
    await add_user(db_pool, "adm", Role.ADMIN)
    for name, text in FILES.items():
        (tmp_path / name).write_text(text, "utf-8")
    clock = FakeClock()
    service, _ = make_service(clock)
    clients: dict[str, tuple[Client, str]] = {}
    apps = []
    for login in ("op1", "sup", "adm", ""):
        app = make_app(db_pool)
        app[ACD_SERVICE] = service
        app[QUEUE_CONFIG] = QueueConfigStore(tmp_path, service.reconfigure)
        app.add_routes(routes)
        client: Client = TestClient(TestServer(app))
        await client.start_server()
        apps.append(client)
        if login:
            clients[login] = (client, await sign_in(client, login))
    try:
        yield Desk(service, clock, tmp_path, clients, apps[-1])
    finally:
        for client in apps:
            await client.close()


async def test_routes_refuse_anonymous_and_lower_roles(desk: Desk) -> None:
    """No session → 401; an agent cannot read supervisors' lists; a supervisor cannot edit the config."""
    anonymous = desk.anonymous
    assert (await anonymous.get("/api/agents")).status == 401
    assert (await anonymous.get("/api/queues")).status == 401
    assert (await anonymous.post("/api/agents/me/login")).status in (401, 403)
    for path in ("/api/agents", "/api/callbacks", "/api/admin/queue-config"):
        assert (await desk.get("op1", path)).status == 403, path
    assert (await desk.get("sup", "/api/admin/queue-config")).status == 403
    assert (await desk.post("op1", "/api/agents/op2/pause", {"reason": "break"})).status == 403
    assert (await desk.post("op1", "/api/callbacks/x/take")).status == 403
    client, csrf = desk.clients["sup"]
    put = await client.put("/api/admin/queue-config/queues.yaml", data=QUEUES, headers={"X-CSRF-Token": csrf})
    assert put.status == 403
    assert (await desk.get("sup", "/api/agents")).status == 200
    assert (await desk.get("op1", "/api/queues")).status == 200


async def test_agent_logs_in_pauses_with_a_reason_and_logs_out(desk: Desk) -> None:
    """The agent's own controls move its state; a pause without a configured reason is a 400."""
    response = await desk.post("op1", "/api/agents/me/login")
    assert response.status == 200 and (await response.json())["agent"]["state"] == "available"
    bad = await desk.post("op1", "/api/agents/me/pause", {"reason": "nap"})
    assert bad.status == 400 and (await bad.json())["details"] == {"field": "reason"}
    assert (await desk.post("op1", "/api/agents/me/pause", {})).status == 400
    paused = await (await desk.post("op1", "/api/agents/me/pause", {"reason": "lunch"})).json()
    assert (paused["agent"]["state"], paused["agent"]["reason"]) == ("paused", "lunch")
    back = await (await desk.post("op1", "/api/agents/me/available")).json()
    assert back["agent"]["state"] == "available"
    out = await (await desk.post("op1", "/api/agents/me/logout")).json()
    assert out["agent"]["state"] == "logged_out"


async def test_user_who_is_not_an_agent_gets_a_400(desk: Desk) -> None:
    """A supervisor whose login is no agent id cannot log in to the queues."""
    response = await desk.post("sup", "/api/agents/me/login")
    assert response.status == 400 and (await response.json())["details"] == {"field": "agent_id"}


async def test_supervisor_pauses_and_logs_out_an_agent_audited(desk: Desk, db_pool: Any) -> None:
    """A supervisor's pause and logout of an agent take effect and are in the audit trail."""
    desk.service.login("op2")
    response = await desk.post("sup", "/api/agents/op2/pause", {"reason": "meeting"})
    assert response.status == 200 and (await response.json())["agent"]["reason"] == "meeting"
    agents = (await (await desk.get("sup", "/api/agents")).json())["agents"]
    assert {a["agent_id"]: a["state"] for a in agents} == {"op1": "logged_out", "op2": "paused"}
    assert (await desk.post("sup", "/api/agents/op2/logout")).status == 200
    assert [(e.actor, e.subject, e.details) for e in await fetch_audit(db_pool, action="agent.pause")] == [
        ("sup", "op2", {"reason": "meeting"})
    ]
    assert [(e.actor, e.subject) for e in await fetch_audit(db_pool, action="agent.logout")] == [
        ("sup", "op2")
    ]


async def test_callback_request_is_listed_and_can_be_taken(desk: Desk, db_pool: Any) -> None:
    """A callback left in the queue is listed (number masked); taking it gives the number and audits it."""
    service, clock = desk.service, desk.clock
    service.login("op2")
    service.join("busy", "general", OfferInfo("busy", "busy", None, "uk", None))
    session = FakeSession(clock, on_wait=lambda s: "*")
    assert (
        await QueueWait(service)(session, queue_command(), call_info("c-1"))
    ).status == "callback_requested"
    listed = (await (await desk.get("sup", "/api/callbacks")).json())["callbacks"]
    assert [(c["call_id"], c["status"], c["position"]) for c in listed] == [("c-1", "waiting", 1)]
    assert listed[0]["contact"] != "380501234567"
    taken = await desk.post("sup", "/api/callbacks/c-1/take")
    assert (await taken.json())["contact"] == "380501234567"
    assert (await (await desk.get("sup", "/api/callbacks")).json())["callbacks"] == []
    (entry,) = await fetch_audit(db_pool, action="callback.take")
    assert entry.subject == "c-1" and "1234567" not in str(entry.details) and entry.details["phone"]
    assert (await desk.post("sup", "/api/callbacks/c-1/take")).status == 400


async def test_queue_stats_per_queue(desk: Desk) -> None:
    """GET /api/queues gives every queue's live figures."""
    desk.service.login("op2")
    desk.service.join("w1", "general", OfferInfo("w1", "w1", None, "uk", None))
    desk.service.join("w2", "general", OfferInfo("w2", "w2", None, "uk", None))
    queues = {q["queue"]: q for q in (await (await desk.get("op1", "/api/queues")).json())["queues"]}
    assert set(queues) == {"general", "social"}
    assert (
        queues["general"]["waiting"],
        queues["general"]["offered"],
        queues["general"]["agents_staffed"],
    ) == (1, 2, 1)


async def test_config_change_is_validated_and_applied_without_losing_a_caller(
    desk: Desk, db_pool: Any
) -> None:
    """A broken file is a 422 with file:line:column errors; a valid one applies at once, callers keep their places."""
    service = desk.service
    service.login("op2")
    service.join("w1", "general", OfferInfo("w1", "w1", None, "uk", None))
    service.join("w2", "general", OfferInfo("w2", "w2", None, "uk", None))
    client, csrf = desk.clients["adm"]
    files = (await (await client.get("/api/admin/queue-config")).json())["files"]
    assert files["queues.yaml"] == QUEUES

    broken = QUEUES.replace("max_wait_s: 600", "max_wait_s: -5")
    response = await client.put(
        "/api/admin/queue-config/queues.yaml", data=broken, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 422
    body = await response.json()
    assert body["error_id"] == "invalid_config"
    (error,) = body["details"]["errors"]
    assert (error["file"], error["line"]) == ("queues.yaml", 6) and error["column"] > 0
    assert (desk.folder / "queues.yaml").read_text("utf-8") == QUEUES
    unknown = await client.put(
        "/api/admin/queue-config/passwords.yaml", json={"text": "x: 1"}, headers={"X-CSRF-Token": csrf}
    )
    assert unknown.status == 400

    changed = QUEUES.replace("ring_timeout_s: 10\n    default", "ring_timeout_s: 20\n    default")
    response = await client.put(
        "/api/admin/queue-config/queues.yaml", json={"text": changed}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 200
    assert service.state.config.queues["general"].ring_timeout_s == 20
    assert (desk.folder / "queues.yaml").read_text("utf-8") == changed
    assert service.state.position("w2") == 1 and service.state.caller("w1", desk.clock()) is not None
    (entry,) = await fetch_audit(db_pool, action="queue_config.update")
    assert (entry.actor, entry.subject) == ("adm", "queues.yaml")
