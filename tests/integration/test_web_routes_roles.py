"""Every route of the real app declares who may call it, and the declaration is enforced.

The test walks ``app.router.routes()`` of the application ``create_web_app`` builds, so a route
added later by any feature is checked without touching this file: it must declare ``@public``,
``@signed_in`` or ``@requires(...)``; a protected route must answer 401 to an anonymous caller
and 403 to every role below the ones it names, and must let a role it names through.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.app import Database, start_runtime
from callcenter.bootstrap import start_call_handling
from callcenter.config import load_settings
from callcenter.storage.users import ROLE_INCLUDES, Role
from callcenter.web.auth import AUTH, Access, requires, route_access
from callcenter.web.auth_passwords import PasswordHasher
from tests.integration.test_auth_support import FAST_TEST_PARAMETERS, add_user, make_app, sign_in

REPO_ROOT = Path(__file__).resolve().parents[2]

Client = TestClient[Any, Any]
JSON = {"Accept": "application/json"}
#: Routes that must exist now; the walk covers whatever else is there.
EXPECTED = {
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/desk"),
    ("GET", "/admin/flows"),
    ("GET", "/api/agents"),
    ("GET", "/api/appeals"),
    ("POST", "/api/login"),
    ("POST", "/api/logout"),
    ("GET", "/api/me"),
    ("GET", "/login"),
    ("GET", "/account"),
    ("GET", "/api/admin/users"),
    ("GET", "/api/admin/audit"),
    ("POST", "/api/admin/users"),
    ("PATCH", "/api/admin/users/x"),
    ("POST", "/api/me/password"),
}


def concrete_path(route: web.AbstractRoute) -> str:
    """A path that matches the route: placeholders filled, static folders given a file name."""
    info = route.get_info()
    if "path" in info:
        return str(info["path"])
    if "formatter" in info:
        # A placeholder may carry a regex ({fmt:csv|html}): use the first filler the route matches.
        pattern = info.get("pattern")
        for filler in ("x", "csv", "1", "00000000-0000-0000-0000-000000000000", ".csv", ""):
            path = re.sub(r"\{[^}]+\}", filler, str(info["formatter"]))
            if pattern is None or pattern.fullmatch(path):
                return path
        return path
    return str(info["prefix"]).rstrip("/") + "/x"


def walk(app: web.Application) -> list[tuple[str, str, Access | None]]:
    """(method, path, declared access) for every route; HEAD twins of GET routes left out."""
    found = []
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        method = "GET" if route.method == "*" else route.method
        found.append((method, concrete_path(route), route_access(app, route)))
    return found


def roles_below(access: Access) -> list[Role]:
    """Roles that must be refused: none of the roles they act as is named by the route."""
    return [role for role in Role if not ROLE_INCLUDES[role] & access.roles]


@pytest.fixture
async def users(db_pool: Any) -> None:
    """One user per role, named ``u-<role>``."""
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    for role in Role:
        await add_user(
            db_pool, f"u-{role.value}", role, authority_id="oda-kyiv" if role is Role.AUTHORITY else None
        )


@pytest.fixture
async def app(db_pool: Any, users: None) -> AsyncIterator[web.Application]:
    """The complete application as ``callcenter serve`` builds it: every feature's routes included."""
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
        await start_call_handling(runtime, stack)
        runtime.web_app[AUTH].hasher = PasswordHasher(FAST_TEST_PARAMETERS)
        yield runtime.web_app


@pytest.fixture
async def client(app: web.Application) -> AsyncIterator[Client]:
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_every_route_declares_its_access(app: web.Application) -> None:
    """No route of the real app is without a declaration, and the known ones are there."""
    routes = walk(app)
    undeclared = [f"{method} {path}" for method, path, access in routes if access is None]
    assert undeclared == []
    assert EXPECTED <= {(method, path) for method, path, _ in routes}


async def test_protected_routes_refuse_anonymous_callers(client: Client, app: web.Application) -> None:
    """Each protected route answers 401 without a session (API style, as the request asks JSON)."""
    checked = 0
    for method, path, access in walk(app):
        assert access is not None
        if access.public:
            continue
        response = await client.request(method, path, headers=JSON)
        assert response.status == 401, f"{method} {path} answered {response.status}"
        assert (await response.json())["error_id"] == "not_signed_in"
        checked += 1
    assert checked >= 5


async def test_protected_pages_redirect_browsers_to_login(client: Client, app: web.Application) -> None:
    """A browser asking for a protected page without a session is sent to the login page."""
    response = await client.get("/account", headers={"Accept": "text/html"}, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/login?next=%2Faccount"


async def test_public_routes_answer_anonymous_callers(client: Client, app: web.Application) -> None:
    """Public routes never answer 401/403 to a caller without a session."""
    for method, path, access in walk(app):
        assert access is not None
        if not access.public:
            continue
        response = await client.request(method, path, headers=JSON, json={} if method != "GET" else None)
        assert response.status not in (401, 403), f"{method} {path} answered {response.status}"


async def test_protected_routes_refuse_lower_roles_and_admit_named_ones(
    client: Client, app: web.Application
) -> None:
    """Each protected route answers 403 to every role it does not include and lets its roles in."""
    refusals = 0
    for method, path, access in walk(app):
        assert access is not None
        if access.public:
            continue
        for role in Role:
            client.session.cookie_jar.clear()
            csrf = await sign_in(client, f"u-{role.value}")
            response = await client.request(method, path, headers={**JSON, "X-CSRF-Token": csrf})
            if role in roles_below(access):
                assert response.status == 403, f"{role} on {method} {path}: {response.status}"
                assert (await response.json())["error_id"] == "forbidden"
                refusals += 1
            else:
                assert response.status not in (401, 403), f"{role} on {method} {path}: {response.status}"
                assert response.status < 500, f"{role} on {method} {path}: {response.status}"
    # The admin routes are refused to agent, supervisor and authority at least.
    assert refusals >= 6


async def test_supervisor_route_follows_the_hierarchy(db_pool: Any, users: None) -> None:
    """A supervisor route admits supervisor and admin, refuses agent and authority."""
    app = make_app(db_pool)

    @requires(Role.SUPERVISOR)
    async def wallboard(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/api/test/wallboard", wallboard)
    async with TestClient(TestServer(app)) as client:
        seen = {}
        for role in Role:
            client.session.cookie_jar.clear()
            await sign_in(client, f"u-{role.value}")
            seen[role] = (await client.get("/api/test/wallboard")).status
    assert seen == {Role.AGENT: 403, Role.SUPERVISOR: 200, Role.ADMIN: 200, Role.AUTHORITY: 403}


async def test_undeclared_route_is_closed_to_everyone_and_found_by_the_walk(
    db_pool: Any, users: None
) -> None:
    """A handler that declares nothing is refused even to an admin, and the walk names it."""
    app = make_app(db_pool)

    async def forgotten(request: web.Request) -> web.Response:
        return web.json_response({"leak": True})

    app.router.add_get("/api/test/forgotten", forgotten)
    assert [path for _, path, access in walk(app) if access is None] == ["/api/test/forgotten"]
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/api/test/forgotten")).status == 403
        await sign_in(client, "u-admin")
        response = await client.get("/api/test/forgotten")
        assert response.status == 403
        assert (await response.json())["error_id"] == "no_access_declared"
