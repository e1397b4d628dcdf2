"""The wallboard's routes in the complete app pass the same access walk as every other route."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import Database, start_runtime
from callcenter.bootstrap import start_call_handling
from callcenter.config import load_settings
from callcenter.storage.users import ROLE_INCLUDES, Role
from callcenter.web.auth import AUTH, Access, route_access
from callcenter.web.auth_passwords import FAST_TEST_PARAMETERS, PasswordHasher
from tests.integration.test_auth_support import REPO_ROOT, sign_in
from tests.integration.test_wallboard_support import add_people

Client = TestClient[Any, Any]
JSON = {"Accept": "application/json"}
OURS = {
    ("GET", "/wallboard"),
    ("GET", "/ws/wallboard"),
    ("GET", "/api/wallboard"),
    ("POST", "/api/supervise/listen"),
    ("POST", "/api/supervise/whisper"),
    ("POST", "/api/supervise/barge"),
    ("POST", "/api/supervise/move"),
    ("POST", "/api/supervise/priority"),
}


def ours(app: web.Application) -> list[tuple[str, str, Access | None]]:
    """(method, a concrete path, declared access) of each wallboard route of ``app``."""
    found = []
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        path = route.resource.canonical if route.resource is not None else ""
        path = path.replace("{name}", "wallboard.css")
        if (route.method, path) in OURS or path.startswith("/static/wallboard/"):
            found.append((route.method, path, route_access(app, route)))
    return found


@pytest.fixture
async def app(db_pool: Any) -> AsyncIterator[web.Application]:
    """The complete app as ``callcenter serve`` builds it."""
    await add_people(db_pool)
    settings = load_settings(
        environ={"CALLCENTER_CONFIG": "/dev/null"},
        overrides={
            "ami.enabled": "false",
            "ivr.prerender_prompts": "false",
            "paths.flows_dir": str(REPO_ROOT / "ivr_flows"),
            "paths.queue_dir": str(REPO_ROOT / "queue"),
        },
    )
    async with contextlib.AsyncExitStack() as stack:
        runtime = await start_runtime(settings, Database(pool=db_pool, dsn=""), stack)
        await start_call_handling(runtime, stack)  # wires the wallboard
        runtime.web_app[AUTH].hasher = PasswordHasher(FAST_TEST_PARAMETERS)
        yield runtime.web_app


async def test_wallboard_routes_declare_access_and_enforce_it(app: web.Application) -> None:
    """Each wallboard route is declared, refuses anonymous callers and lower roles, and admits its own."""
    routes = ours(app)
    assert OURS <= {(m, p) for m, p, _ in routes}
    assert any(p.startswith("/static/wallboard/") for _, p, _ in routes)
    async with TestClient(TestServer(app)) as client:
        for method, path, access in routes:
            assert access is not None, f"{method} {path} declares no access"
            client.session.cookie_jar.clear()
            anonymous = await client.request(method, path, headers=JSON)
            if access.public:
                assert anonymous.status not in (401, 403)
                continue
            assert anonymous.status == 401, f"{method} {path}: {anonymous.status}"
            assert access.roles == {Role.SUPERVISOR}
            for role in Role:
                client.session.cookie_jar.clear()
                csrf = await sign_in(client, f"u-{role.value}")
                response = await client.request(method, path, headers={**JSON, "X-CSRF-Token": csrf})
                if not ROLE_INCLUDES[role] & access.roles:
                    assert response.status == 403, f"{role} on {method} {path}: {response.status}"
                else:
                    assert response.status not in (401, 403), f"{role} on {method} {path}: {response.status}"
                    assert response.status < 500, f"{role} on {method} {path}: {response.status}"
