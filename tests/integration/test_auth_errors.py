"""The error middleware's JSON answers and the CSRF layer's Origin checks, on a small app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import WSServerHandshakeError, web
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from callcenter.errors import CallcenterError, StorageError, ValidationError
from callcenter.storage.users import Role
from callcenter.web.auth import public, requires
from callcenter.web.auth_routes import setup_auth
from callcenter.web.errors import register_error
from callcenter.web.keys import DB_POOL
from tests.integration.test_auth_support import FAST_HASHER, add_user, sign_in

Client = TestClient[Any, Any]


class AppealNotFound(CallcenterError):
    """A feature's own error, mapped to 404 by the feature."""


register_error(AppealNotFound, 404, "appeal_not_found")


@public
async def bad_input(request: web.Request) -> web.Response:
    raise ValidationError("the topic code is unknown", field="topic")


@public
async def missing(request: web.Request) -> web.Response:
    raise AppealNotFound("no appeal ЦЗ-2026-000042")


@public
async def storage_down(request: web.Request) -> web.Response:
    raise StorageError("cannot connect to PostgreSQL: postgresql://cc:hunter2@db/cc refused")


@public
async def crash(request: web.Request) -> web.Response:
    raise KeyError("caller 380501234567 SELECT * FROM secrets")


@public
async def feed(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_str("hello")
    await ws.close()
    return ws


@requires(Role.AGENT)
async def change(request: web.Request) -> web.Response:
    return web.json_response({"changed": True})


@pytest.fixture
async def client(db_pool: Any) -> AsyncIterator[Client]:
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    app = web.Application()
    state = setup_auth(app)
    state.hasher = FAST_HASHER
    app[DB_POOL] = db_pool
    app.router.add_get("/api/bad", bad_input)
    app.router.add_get("/api/missing", missing)
    app.router.add_get("/api/storage", storage_down)
    app.router.add_get("/api/crash/380501234567", crash)
    app.router.add_get("/ws/feed", feed)
    app.router.add_post("/api/change", change)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_validation_error_is_400_naming_the_field(client: Client) -> None:
    """A ValidationError answers 400 with the message and the field."""
    response = await client.get("/api/bad")
    assert response.status == 400
    assert await response.json() == {
        "error_id": "invalid_input",
        "message": "the topic code is unknown",
        "details": {"field": "topic"},
    }


async def test_feature_errors_use_their_registered_status(client: Client) -> None:
    """An error class registered by a feature gets its status and id."""
    response = await client.get("/api/missing")
    assert response.status == 404
    assert (await response.json())["error_id"] == "appeal_not_found"


async def test_storage_error_is_503_without_internals_and_logged_once(client: Client) -> None:
    """A server-side domain error hides its text from the client and is logged once."""
    with capture_logs() as logs:
        response = await client.get("/api/storage")
    body = await response.json()
    assert response.status == 503 and body["error_id"] == "storage_unavailable"
    assert "hunter2" not in str(body) and "postgresql" not in str(body)
    failed = [e for e in logs if e["event"] == "request_failed"]
    assert len(failed) == 1 and failed[0]["incident"] == body["details"]["incident"]


async def test_unexpected_exception_is_500_logged_once_with_phone_masked(client: Client) -> None:
    """A crash answers a bare 500 with an incident id; the log line masks the number in path and text."""
    with capture_logs() as logs:
        response = await client.get("/api/crash/380501234567")
    body = await response.json()
    assert response.status == 500
    assert body == {
        "error_id": "internal",
        "message": "internal error",
        "details": {"incident": body["details"]["incident"]},
    }
    crashes = [e for e in logs if e["event"] == "request_crashed"]
    assert len(crashes) == 1
    assert "380501234567" not in repr(crashes[0])
    assert "38050***4567" in crashes[0]["path"] and "KeyError" in crashes[0]["traceback"]


async def test_unknown_api_path_is_json_404(client: Client) -> None:
    """aiohttp's own 404 and 405 come out in the JSON shape on API paths."""
    response = await client.get("/api/nothing-here")
    assert response.status == 404
    assert (await response.json())["error_id"] == "not_found"
    wrong_method = await client.delete("/api/bad")
    assert wrong_method.status == 405
    assert (await wrong_method.json())["error_id"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["Allow"]


async def test_security_headers_on_every_response(client: Client) -> None:
    """Responses forbid MIME sniffing and framing, and API answers are not cached."""
    response = await client.get("/api/bad")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


async def test_websocket_upgrade_from_another_site_is_refused(client: Client) -> None:
    """A WebSocket handshake with a foreign Origin fails; our own origin and no origin succeed."""
    with pytest.raises(WSServerHandshakeError) as info:
        await client.ws_connect("/ws/feed", origin="https://evil.example")
    assert info.value.status == 403
    own = f"http://{client.host}:{client.port}"
    for origin in (own, None):
        ws = await client.ws_connect("/ws/feed", origin=origin)
        assert await ws.receive_str() == "hello"
        await ws.close()


async def test_referer_is_checked_when_origin_is_absent(client: Client, db_pool: Any) -> None:
    """Without Origin a foreign Referer is refused too; Origin 'null' is never same-origin."""
    await add_user(db_pool, "agent1", Role.AGENT)
    csrf = await sign_in(client, "agent1")
    evil = await client.post(
        "/api/change", headers={"X-CSRF-Token": csrf, "Referer": "https://evil.example/x"}
    )
    assert evil.status == 403
    null = await client.post("/api/change", headers={"X-CSRF-Token": csrf, "Origin": "null"})
    assert null.status == 403
    own = await client.post(
        "/api/change",
        headers={"X-CSRF-Token": csrf, "Referer": f"http://{client.host}:{client.port}/account"},
    )
    assert own.status == 200
    other_port = await client.post(
        "/api/change", headers={"X-CSRF-Token": csrf, "Origin": f"http://{client.host}:1"}
    )
    assert other_port.status == 403
