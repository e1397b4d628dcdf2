"""The recordings routes pass the same role walk as every route of the app once they are mounted."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from callcenter.services.retention import RetentionJob
from callcenter.storage.appeals import AppealRepository
from callcenter.storage.recordings import RecordingRepository
from callcenter.storage.users import ROLE_INCLUDES, Role
from callcenter.web import recordings_api
from callcenter.web.auth import Access, route_access
from tests.integration.test_auth_support import add_user, make_app, sign_in

JSON = {"Accept": "application/json"}


def concrete_path(route: web.AbstractRoute) -> str:
    """A path that matches the route: placeholders filled with ``x``."""
    info = route.get_info()
    if "path" in info:
        return str(info["path"])
    if "formatter" in info:
        return re.sub(r"\{[^}]+\}", "x", str(info["formatter"]))
    return str(info.get("prefix", "")).rstrip("/") + "/x"  # a static folder


def walk(app: web.Application) -> list[tuple[str, str, Access | None]]:
    """(method, path, declared access) of every route but the HEAD twins of GET routes."""
    return [
        (route.method, concrete_path(route), route_access(app, route))
        for route in app.router.routes()
        if route.method != "HEAD"
    ]


def roles_below(access: Access) -> list[Role]:
    """Roles that must be refused: none of the roles they act as is named by the route."""
    return [role for role in Role if not ROLE_INCLUDES[role] & access.roles]


async def test_recordings_routes_refuse_lower_roles_and_admit_named_ones(
    db_pool: Any, tmp_path: Path
) -> None:
    """Anonymous callers get 401, roles below a route 403, named roles neither (nor a 5xx)."""
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    for role in Role:
        await add_user(
            db_pool, f"u-{role.value}", role, authority_id="oda" if role is Role.AUTHORITY else None
        )
    app = make_app(db_pool)
    repo = RecordingRepository(db_pool)
    job = RetentionJob(repo, tmp_path, clock=lambda: datetime.now(UTC))
    recordings_api.setup(app, recordings_api.RecordingsApi(repo, AppealRepository(db_pool), tmp_path, job))
    ours = [(m, p, a) for m, p, a in walk(app) if "recording" in p or "retention" in p or "legal-holds" in p]
    assert len(ours) == 11 and all(access is not None for _, _, access in ours)
    async with TestClient(TestServer(app)) as client:
        for method, path, access in ours:
            assert access is not None
            if access.public:
                continue
            client.session.cookie_jar.clear()
            assert (await client.request(method, path, headers=JSON)).status == 401
            for role in Role:
                client.session.cookie_jar.clear()
                csrf = await sign_in(client, f"u-{role.value}")
                response = await client.request(method, path, headers={**JSON, "X-CSRF-Token": csrf})
                if role in roles_below(access):
                    assert response.status == 403, f"{role} on {method} {path}"
                else:
                    assert response.status not in (401, 403), f"{role} on {method} {path}: {response.status}"
                    assert response.status < 500, f"{role} on {method} {path}: {response.status}"
