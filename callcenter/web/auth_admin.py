"""The admin's user management and audit views (``/api/admin/…``), and a user's own password change.

Every change is an admin action and goes to the audit trail in the same transaction as the
change itself, with the admin as the actor: user created, role changed, disabled or enabled,
password reset. A role change, a disable and a password reset end the user's sessions
(``callcenter.storage.users``), so the new state applies from the next request on.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter.errors import ValidationError
from callcenter.storage.audit import fetch_audit, record_audit
from callcenter.storage.users import (
    Role,
    create_user,
    find_login,
    get_user_by_login,
    list_users,
    set_disabled,
    set_password_hash,
    set_role,
)
from callcenter.web.auth import AUTH, current_user, requires, signed_in, user_json
from callcenter.web.auth_passwords import check_new_password
from callcenter.web.keys import DB_POOL

__all__ = ["routes"]

routes = web.RouteTableDef()


async def _json_object(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send application/json")
    try:
        body = await request.json()
    except ValueError as exc:
        raise ValidationError("the body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object")
    return body


def _text(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ValidationError(f"{key} is required", field=key)
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be text", field=key)
    return value


def _role(value: str | None) -> Role:
    try:
        return Role(value or "")
    except ValueError as exc:
        raise ValidationError(
            "role must be one of " + ", ".join(r.value for r in Role), field="role"
        ) from exc


@routes.get("/api/admin/users")
@requires(Role.ADMIN)
async def admin_users(request: web.Request) -> web.Response:
    """Every user with role and state (never a hash)."""
    users = await list_users(request.app[DB_POOL])
    return web.json_response({"users": [{**user_json(u), "disabled": u.disabled} for u in users]})


@routes.post("/api/admin/users")
@requires(Role.ADMIN)
async def admin_create_user(request: web.Request) -> web.Response:
    """Create a user: ``{"login", "role", "password", "display_name"?, "authority_id"?}``."""
    body = await _json_object(request)
    login = _text(body, "login", required=True) or ""
    role = _role(_text(body, "role", required=True))
    password = _text(body, "password", required=True) or ""
    check_new_password(password, login=login)
    state = request.app[AUTH]
    admin = current_user(request)
    password_hash = await state.hasher.hash(password)
    async with request.app[DB_POOL].acquire() as conn, conn.transaction():
        user = await create_user(
            conn,
            login,
            role,
            password_hash,
            display_name=_text(body, "display_name") or "",
            authority_id=_text(body, "authority_id"),
        )
        await record_audit(
            conn,
            admin.login,
            "user.create",
            user.login,
            {"role": role.value, "authority_id": user.authority_id},
        )
    return web.json_response({"user": {**user_json(user), "disabled": user.disabled}}, status=201)


@routes.patch("/api/admin/users/{login}")
@requires(Role.ADMIN)
async def admin_update_user(request: web.Request) -> web.Response:
    """Change a user: any of ``{"role", "authority_id", "disabled", "password"}``."""
    body = await _json_object(request)
    admin = current_user(request)
    pool = request.app[DB_POOL]
    user = await get_user_by_login(pool, request.match_info["login"])
    if user is None:
        raise web.HTTPNotFound(text="no such user")
    password = _text(body, "password")
    if password is not None:
        check_new_password(password, login=user.login)
    disabled = body.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise ValidationError("disabled must be true or false", field="disabled")
    if user.id == admin.id and (disabled or ("role" in body and body["role"] != user.role.value)):
        # An admin locking themselves out of the only admin account is a support call at 3 a.m.
        raise ValidationError("change your own role or state through another admin", field="login")
    new_hash = await request.app[AUTH].hasher.hash(password) if password is not None else None
    changes: dict[str, Any] = {}
    async with pool.acquire() as conn, conn.transaction():
        if "role" in body or "authority_id" in body:
            role = _role(_text(body, "role")) if "role" in body else user.role
            authority_id = _text(body, "authority_id") if "authority_id" in body else user.authority_id
            updated = await set_role(conn, user.id, role, authority_id=authority_id)
            assert updated is not None  # the row was read above, inside the same request
            user = updated
            changes.update(role=role.value, authority_id=authority_id)
        if disabled is not None:
            await set_disabled(conn, user.id, disabled)
            changes["disabled"] = disabled
        if new_hash is not None:
            await set_password_hash(conn, user.id, new_hash)
            changes["password"] = "reset"  # that it changed, never what to
        if not changes:
            raise ValidationError("nothing to change: give role, authority_id, disabled or password")
        await record_audit(conn, admin.login, "user.update", user.login, changes)
    fresh = await get_user_by_login(pool, user.login)
    assert fresh is not None
    return web.json_response({"user": {**user_json(fresh), "disabled": fresh.disabled}})


@routes.post("/api/me/password")
@signed_in
async def change_own_password(request: web.Request) -> web.Response:
    """Change one's own password: ``{"current", "new"}``; signs out every session, this one too."""
    body = await _json_object(request)
    current = _text(body, "current", required=True) or ""
    new = _text(body, "new", required=True) or ""
    user = current_user(request)
    check_new_password(new, login=user.login)
    state = request.app[AUTH]
    pool = request.app[DB_POOL]
    found = await find_login(pool, user.login)
    if found is None or not (await state.hasher.verify(found[1], current)).ok:
        raise ValidationError("the current password is wrong", field="current")
    new_hash = await state.hasher.hash(new)
    async with pool.acquire() as conn, conn.transaction():
        await set_password_hash(conn, user.id, new_hash)
        await record_audit(conn, user.login, "user.password", user.login, {})
    return web.json_response({"changed": True, "signed_out": True})


@routes.get("/api/admin/audit")
@requires(Role.ADMIN)
async def admin_audit(request: web.Request) -> web.Response:
    """The audit trail, newest first; filters ``actor``, ``action``, ``subject``, ``before_id``, ``limit``."""
    query = request.query
    try:
        limit = int(query.get("limit", "100"))
        before_id = int(query["before_id"]) if "before_id" in query else None
    except ValueError as exc:
        raise ValidationError("limit and before_id are whole numbers") from exc
    # before_id reaches the query as a PostgreSQL bigint: past its range it is refused here, not
    # by asyncpg (DataError, a 500). The limit is clamped by fetch_audit.
    if before_id is not None and not -(2**63) <= before_id < 2**63:
        raise ValidationError("before_id is an entry's id", field="before_id")
    entries = await fetch_audit(
        request.app[DB_POOL],
        actor=query.get("actor"),
        action=query.get("action"),
        subject=query.get("subject"),
        before_id=before_id,
        limit=limit,
    )
    # Reading the trail is itself an admin action worth recording (who looked at whose history).
    await record_audit(
        request.app[DB_POOL], current_user(request).login, "audit.view", "", {"filters": dict(query)}
    )
    return web.json_response(
        {
            "entries": [
                {
                    "id": e.id,
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "subject": e.subject,
                    "details": e.details,
                }
                for e in entries
            ]
        }
    )
