"""The admin flow API: validate with line/column, test run, publish, history, diff, rollback, audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.config import PathSettings, Settings
from callcenter.services.flows import FlowService, load_flow_setup
from callcenter.storage.audit import fetch_audit
from callcenter.storage.users import Role
from callcenter.web import flows_api
from callcenter.web.keys import SETTINGS
from tests.integration.test_auth_support import add_user, make_app, sign_in
from tests.unit.test_flows_preview import TINY

Client = TestClient[Any, Any]
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def service(db_pool: Any, tmp_path: Path) -> AsyncIterator[FlowService]:
    """A started FlowService over a folder holding tiny.yaml (published as version 1)."""
    await db_pool.execute("TRUNCATE flow_active, flow_versions, flow_drafts, flow_file_imports")
    (tmp_path / "tiny.yaml").write_text(TINY, encoding="utf-8")
    started = FlowService(db_pool, load_flow_setup(REPO_ROOT / "queue"), tmp_path)
    await started.start(poll=False)
    try:
        yield started
    finally:
        await started.stop()


@pytest.fixture
async def app(db_pool: Any, service: FlowService) -> web.Application:
    """The real application with the flow editor set up on the test's service."""
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    await add_user(db_pool, "boss", Role.ADMIN)
    await add_user(db_pool, "olena", Role.SUPERVISOR)
    application = make_app(db_pool)
    flows_api.setup(application, service)
    return application


@pytest.fixture
async def admin(app: web.Application) -> AsyncIterator[tuple[Client, dict[str, str]]]:
    """A client signed in as admin, and the headers a state-changing request carries."""
    async with TestClient(TestServer(app)) as client:
        yield client, {"X-CSRF-Token": await sign_in(client, "boss")}


async def test_list_and_get_the_active_version(admin: tuple[Client, dict[str, str]]) -> None:
    """The list names tiny at version 1; getting it gives its text, graph and no draft."""
    client, _ = admin
    listing = await (await client.get("/api/admin/flows")).json()
    assert [(f["name"], f["active_version"], f["serving"]) for f in listing["flows"]] == [("tiny", 1, True)]
    flow = await (await client.get("/api/admin/flows/tiny")).json()
    assert flow["active"]["source"] == TINY and flow["draft"] is None
    assert flow["graph"]["start"] == "greet"
    missing = await client.get("/api/admin/flows/nope")
    assert missing.status == 404 and (await missing.json())["error_id"] == "flow_version_not_found"


async def test_validate_reports_errors_at_their_lines(admin: tuple[Client, dict[str, str]]) -> None:
    """A draft with mistakes gets every error with line and column, and still a graph."""
    client, headers = admin
    draft = TINY.replace("next: bye", "next: nowhere")
    answer = await client.post("/api/admin/flows/tiny/validate", json={"source": draft}, headers=headers)
    body = await answer.json()
    assert answer.status == 200 and body["valid"] is False
    assert [(e["line"], e["column"]) for e in body["errors"]] == [(16, 11)]
    assert "nowhere" in body["errors"][0]["message"]
    assert any(n["id"] == "nowhere" and n["missing"] for n in body["graph"]["nodes"])
    good = await client.post("/api/admin/flows/tiny/validate", json={"source": TINY}, headers=headers)
    assert (await good.json())["valid"] is True


async def test_test_run_of_a_draft(admin: tuple[Client, dict[str, str]], db_pool: Any) -> None:
    """A draft runs against simulated keys; an invalid draft is refused with its errors."""
    client, headers = admin
    draft = TINY.replace("Довідка.", "Нова довідка.")
    answer = await client.post(
        "/api/admin/flows/tiny/test-run", json={"source": draft, "keys": ["2"]}, headers=headers
    )
    body = await answer.json()
    assert answer.status == 200, body
    texts = [p["text"] for c in body["commands"] if c["type"] == "Play" for p in c["prompts"]]
    assert texts[-1] == "Нова довідка." and body["outcome"]["reason"] == "hangup"
    active = await client.post("/api/admin/flows/tiny/test-run", json={"keys": []}, headers=headers)
    assert (await active.json())["waiting"] is not None
    bad = await client.post(
        "/api/admin/flows/tiny/test-run", json={"source": "start: [", "keys": []}, headers=headers
    )
    assert bad.status == 422 and (await bad.json())["details"]["errors"]
    assert (await fetch_audit(db_pool, action="flow.test_run"))[0].actor == "boss"


async def test_publish_history_diff_and_rollback(
    admin: tuple[Client, dict[str, str]], service: FlowService, db_pool: Any
) -> None:
    """Publish makes version 2 active for new calls; history, diff and rollback follow; all audited."""
    client, headers = admin
    new = TINY.replace("Вітаємо.", "Версія два.")
    await client.put("/api/admin/flows/tiny/draft", json={"source": new, "base_version": 1}, headers=headers)
    assert (await (await client.get("/api/admin/flows/tiny")).json())["draft"]["source"] == new

    published = await client.post(
        "/api/admin/flows/tiny/publish", json={"source": new, "note": "new greeting"}, headers=headers
    )
    assert published.status == 201
    version = await published.json()
    assert (version["version"], version["author"], version["note"]) == (2, "boss", "new greeting")
    flow = service.get("tiny")
    assert flow is not None and flow.digest == version["digest"]
    assert (await (await client.get("/api/admin/flows/tiny")).json())["draft"] is None

    history = await (await client.get("/api/admin/flows/tiny/versions")).json()
    assert [v["version"] for v in history["versions"]] == [2, 1] and history["active_version"] == 2
    one = await (await client.get("/api/admin/flows/tiny/versions/2")).json()
    assert '+    prompt: {uk: "Версія два."}' in one["diff"]
    diff = await (await client.get("/api/admin/flows/tiny/diff?from=1&to=2")).json()
    assert diff["diff"] == one["diff"]

    rolled = await client.post("/api/admin/flows/tiny/rollback", json={"version": 1}, headers=headers)
    assert rolled.status == 201 and (await rolled.json())["rollback_of"] == 1
    flow = service.get("tiny")
    assert flow is not None and flow.source_text == TINY
    actions = [e.action for e in await fetch_audit(db_pool, subject="tiny", action_prefix="flow.")]
    assert actions[:3] == ["flow.rollback", "flow.publish", "flow.draft_save"]


async def test_invalid_publish_is_refused_with_every_error(
    admin: tuple[Client, dict[str, str]], service: FlowService
) -> None:
    """Publishing an invalid text answers 422 with each error; version 1 keeps serving."""
    client, headers = admin
    before = service.get("tiny")
    answer = await client.post(
        "/api/admin/flows/tiny/publish",
        json={"source": TINY.replace("queue: general", "queue: nosuch")},
        headers=headers,
    )
    body = await answer.json()
    assert answer.status == 422 and body["error_id"] == "flow_invalid"
    assert [(e["line"], e["column"]) for e in body["details"]["errors"]] == [(19, 12)]
    assert service.get("tiny") is before


async def test_bad_requests_are_refused(admin: tuple[Client, dict[str, str]]) -> None:
    """Missing text, bad names, bad versions and non-JSON bodies get 4xx answers, not crashes."""
    client, headers = admin
    assert (await client.post("/api/admin/flows/tiny/publish", json={}, headers=headers)).status == 400
    assert (
        await client.post("/api/admin/flows/tiny/rollback", json={"version": "1"}, headers=headers)
    ).status == 400
    assert (
        await client.post("/api/admin/flows/tiny/rollback", json={"version": 7}, headers=headers)
    ).status == 404
    assert (await client.get("/api/admin/flows/tiny/versions/x")).status == 400
    assert (await client.get("/api/admin/flows/tiny/diff")).status == 400
    assert (await client.post("/api/admin/flows/tiny/validate", data="x", headers=headers)).status == 415
    assert (await client.get("/api/admin/flows/a%20b")).status == 400
    keys = {"source": TINY, "keys": [1]}
    assert (await client.post("/api/admin/flows/tiny/test-run", json=keys, headers=headers)).status == 400


async def test_editor_page_and_assets_are_for_admins(app: web.Application) -> None:
    """The page and its script are served to an admin and refused to a supervisor."""
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, "olena")
        assert (await client.get("/admin/flows", headers={"Accept": "application/json"})).status == 403
        assert (await client.get("/api/admin/flows")).status == 403
        client.session.cookie_jar.clear()
        await sign_in(client, "boss")
        page = await client.get("/admin/flows")
        text = await page.text()
        assert page.status == 200 and 'id="source"' in text and 'name="csrf-token"' in text
        assert "Content-Security-Policy" in page.headers
        script = await client.get("/static/flows/flows.js")
        assert script.status == 200 and script.content_type == "text/javascript"
        assert (await client.get("/static/flows/secret.py")).status == 404


async def test_setup_without_a_service_starts_one_from_the_settings(db_pool: Any, tmp_path: Path) -> None:
    """``setup(app)`` alone runs a FlowService over ``paths.flows_dir`` with the app, and no route crashes."""
    await db_pool.execute("TRUNCATE flow_active, flow_versions, flow_drafts, flow_file_imports")
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    await add_user(db_pool, "boss", Role.ADMIN)
    flows_dir = tmp_path / "flows"
    flows_dir.mkdir()
    (flows_dir / "tiny.yaml").write_text(TINY, encoding="utf-8")
    app = make_app(db_pool)
    app[SETTINGS] = Settings(
        paths=PathSettings(flows_dir=flows_dir, queue_dir=REPO_ROOT / "queue", sounds_dir=tmp_path / "sounds")
    )
    flows_api.setup(app)
    async with TestClient(TestServer(app)) as client:
        headers = {"X-CSRF-Token": await sign_in(client, "boss"), "Accept": "application/json"}
        listing = await (await client.get("/api/admin/flows")).json()
        assert [f["name"] for f in listing["flows"]] == ["tiny"]
        assert flows_api.flow_service(app).get("tiny") is not None
        for route in app.router.routes():
            info = route.get_info()
            path = str(info.get("path") or info.get("formatter", ""))
            if not path.startswith(("/api/admin/flows", "/admin/flows", "/static/flows")):
                continue
            response = await client.request(route.method, path.replace("{name}", "tiny"), headers=headers)
            assert response.status < 500, f"{route.method} {path}: {response.status}"
    with pytest.raises(web.HTTPServiceUnavailable):
        flows_api.flow_service(app)
