"""The admin's user management API and a user's own password change, with their audit entries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from callcenter.storage.audit import fetch_audit
from callcenter.storage.users import Role
from tests.integration.test_auth_support import PASSWORD, add_user, make_app, sign_in

Client = TestClient[Any, Any]


@pytest.fixture
async def admin(db_pool: Any) -> AsyncIterator[tuple[Client, str]]:
    """A client signed in as admin 'boss', and its CSRF token."""
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    await add_user(db_pool, "boss", Role.ADMIN)
    async with TestClient(TestServer(make_app(db_pool))) as client:
        yield client, await sign_in(client, "boss")


async def test_admin_creates_user_who_can_sign_in(admin: tuple[Client, str], db_pool: Any) -> None:
    """A created user signs in with the given password; the creation is audited with the admin as actor."""
    client, csrf = admin
    response = await client.post(
        "/api/admin/users",
        json={"login": "Oksana", "role": "agent", "password": "a good passphrase", "display_name": "Оксана"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 201
    assert (await response.json())["user"]["login"] == "oksana"
    entry = (await fetch_audit(db_pool, action="user.create"))[0]
    assert (entry.actor, entry.subject, entry.details["role"]) == ("boss", "oksana", "agent")
    assert "a good passphrase" not in str(entry.details)
    async with TestClient(TestServer(make_app(db_pool))) as other:
        assert (
            await other.post("/api/login", json={"login": "oksana", "password": "a good passphrase"})
        ).status == 200


async def test_admin_create_refuses_bad_input(admin: tuple[Client, str], db_pool: Any) -> None:
    """Unknown role, short password, taken login and missing authority are 400s naming the field."""
    client, csrf = admin
    before = len(await fetch_audit(db_pool, action="user.create"))
    cases = [
        ({"login": "a1", "role": "king", "password": "long enough"}, "role"),
        ({"login": "a1", "role": "agent", "password": "short"}, "password"),
        ({"login": "boss", "role": "agent", "password": "long enough"}, "login"),
        ({"login": "oda", "role": "authority", "password": "long enough"}, "authority_id"),
        ({"role": "agent", "password": "long enough"}, "login"),
    ]
    for body, field in cases:
        response = await client.post("/api/admin/users", json=body, headers={"X-CSRF-Token": csrf})
        assert response.status == 400, body
        assert (await response.json())["details"] == {"field": field}, body
    assert len(await fetch_audit(db_pool, action="user.create")) == before


async def test_admin_changes_role_and_disables_ending_sessions(
    admin: tuple[Client, str], db_pool: Any
) -> None:
    """A role change and a disable take effect at once: the user's open session stops working."""
    client, csrf = admin
    await add_user(db_pool, "ivan", Role.AGENT)
    async with TestClient(TestServer(make_app(db_pool))) as ivan:
        await sign_in(ivan, "ivan")
        response = await client.patch(
            "/api/admin/users/ivan", json={"role": "supervisor"}, headers={"X-CSRF-Token": csrf}
        )
        assert response.status == 200 and (await response.json())["user"]["role"] == "supervisor"
        assert (await ivan.get("/api/me")).status == 401
        await sign_in(ivan, "ivan")
        response = await client.patch(
            "/api/admin/users/ivan", json={"disabled": True}, headers={"X-CSRF-Token": csrf}
        )
        assert (await response.json())["user"]["disabled"] is True
        assert (await ivan.get("/api/me")).status == 401
        assert (await ivan.post("/api/login", json={"login": "ivan", "password": PASSWORD})).status == 401
    changes = [e.details for e in await fetch_audit(db_pool, action="user.update", subject="ivan")]
    assert changes == [{"disabled": True}, {"role": "supervisor", "authority_id": None}]


async def test_admin_password_reset_is_audited_without_the_password(
    admin: tuple[Client, str], db_pool: Any
) -> None:
    """A reset records that the password changed, never the password."""
    client, csrf = admin
    await add_user(db_pool, "maria", Role.AGENT)
    response = await client.patch(
        "/api/admin/users/maria", json={"password": "brand new secret"}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 200
    entry = (await fetch_audit(db_pool, action="user.update", subject="maria"))[0]
    assert entry.details == {"password": "reset"}


async def test_admin_cannot_lock_themselves_out(admin: tuple[Client, str]) -> None:
    """An admin may not disable or demote their own account."""
    client, csrf = admin
    for body in ({"disabled": True}, {"role": "agent"}):
        response = await client.patch("/api/admin/users/boss", json=body, headers={"X-CSRF-Token": csrf})
        assert response.status == 400
    assert (await client.get("/api/me")).status == 200


async def test_update_of_unknown_user_or_nothing_is_refused(admin: tuple[Client, str], db_pool: Any) -> None:
    """PATCH of a missing user is 404; PATCH with nothing to change is 400 and audits nothing."""
    client, csrf = admin
    missing = await client.patch(
        "/api/admin/users/nobody", json={"disabled": True}, headers={"X-CSRF-Token": csrf}
    )
    assert missing.status == 404 and (await missing.json())["error_id"] == "not_found"
    await add_user(db_pool, "petro", Role.AGENT)
    empty = await client.patch("/api/admin/users/petro", json={}, headers={"X-CSRF-Token": csrf})
    assert empty.status == 400
    assert await fetch_audit(db_pool, action="user.update", subject="petro") == []


async def test_own_password_change_needs_current_password(db_pool: Any) -> None:
    """A wrong current password is refused; the right one changes it and signs out."""
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    await add_user(db_pool, "lesia", Role.AGENT)
    async with TestClient(TestServer(make_app(db_pool))) as client:
        csrf = await sign_in(client, "lesia")
        wrong = await client.post(
            "/api/me/password",
            json={"current": "nope nope", "new": "another passphrase"},
            headers={"X-CSRF-Token": csrf},
        )
        assert wrong.status == 400 and (await wrong.json())["details"] == {"field": "current"}
        right = await client.post(
            "/api/me/password",
            json={"current": PASSWORD, "new": "another passphrase"},
            headers={"X-CSRF-Token": csrf},
        )
        assert right.status == 200
        assert (await client.get("/api/me")).status == 401
        await sign_in(client, "lesia", "another passphrase")
    assert [e.action for e in await fetch_audit(db_pool, subject="lesia", action="user.password")] == [
        "user.password"
    ]
