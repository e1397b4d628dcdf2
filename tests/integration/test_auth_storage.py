"""Users, sessions and the audit trail in PostgreSQL (migrations 0050 and 0051)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from callcenter.errors import ValidationError
from callcenter.storage.audit import fetch_audit, record_audit
from callcenter.storage.users import (
    Role,
    create_session,
    create_user,
    delete_user_sessions,
    find_login,
    get_user,
    get_user_by_login,
    list_users,
    load_session,
    purge_expired_sessions,
    set_password_hash,
    set_role,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
IDLE = timedelta(hours=1)
LIFE = timedelta(hours=12)


@pytest.fixture
async def pool(db_pool: Any) -> Any:
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    return db_pool


async def test_create_and_find_users(pool: Any) -> None:
    """A user is stored with a canonical login and found by it in any case, hash kept apart."""
    created = await create_user(pool, "Olena.K", Role.SUPERVISOR, "$argon2id$fake", display_name="Олена К.")
    assert created.login == "olena.k" and created.role is Role.SUPERVISOR
    assert await get_user(pool, created.id) == created
    assert await get_user_by_login(pool, "OLENA.K") == created
    found = await find_login(pool, "olena.k")
    assert found is not None and found[1] == "$argon2id$fake"
    assert await find_login(pool, "nobody") is None
    assert await find_login(pool, "not a login!") is None
    assert [u.login for u in await list_users(pool)] == ["olena.k"]


async def test_duplicate_login_is_a_validation_error(pool: Any) -> None:
    """A second user with the same login (in any case) is refused on the login field."""
    await create_user(pool, "ivan", Role.AGENT, "h")
    with pytest.raises(ValidationError) as info:
        await create_user(pool, "IVAN", Role.ADMIN, "h")
    assert info.value.field == "login"


async def test_authority_users_need_their_authority(pool: Any) -> None:
    """Role 'authority' without an authority id is refused, in code and by the database."""
    with pytest.raises(ValidationError):
        await create_user(pool, "oda", Role.AUTHORITY, "h")
    user = await create_user(pool, "oda", Role.AUTHORITY, "h", authority_id="oda-dnipro")
    assert user.authority_id == "oda-dnipro"
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("UPDATE users SET authority_id = NULL WHERE id = $1", user.id)


async def test_roles_are_rows(pool: Any) -> None:
    """Every Role value is a row of the roles table, and users.role must name one."""
    names = {r["name"] for r in await pool.fetch("SELECT name FROM roles")}
    assert names == {r.value for r in Role}
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await pool.execute("INSERT INTO users (login, role, password_hash) VALUES ('x', 'king', 'h')")


async def test_session_lifecycle_and_touch_throttling(pool: Any) -> None:
    """A session loads while fresh, is touched at most once a minute, and dies when idle."""
    user = await create_user(pool, "taras", Role.AGENT, "h")
    token, session = await create_session(pool, user, now=T0, client_addr="10.0.0.5")
    assert session.user == user and len(session.csrf_token) >= 43
    loaded = await load_session(pool, token, now=T0 + timedelta(seconds=30), idle_timeout=IDLE, lifetime=LIFE)
    assert loaded is not None and loaded.last_seen_at == T0  # not rewritten within a minute
    later = T0 + timedelta(minutes=50)
    loaded = await load_session(pool, token, now=later, idle_timeout=IDLE, lifetime=LIFE)
    assert loaded is not None and loaded.last_seen_at == later
    dead = later + IDLE
    assert await load_session(pool, token, now=dead, idle_timeout=IDLE, lifetime=LIFE) is None
    assert await pool.fetchval("SELECT count(*) FROM user_sessions") == 0
    assert await load_session(pool, "made-up", now=T0, idle_timeout=IDLE, lifetime=LIFE) is None


async def test_password_change_ends_sessions_but_rehash_does_not(pool: Any) -> None:
    """Changing the password signs the user out everywhere; renewing the same password's hash does not."""
    user = await create_user(pool, "maria", Role.AGENT, "h1")
    await create_session(pool, user, now=T0)
    await set_password_hash(pool, user.id, "h2", end_sessions=False)
    assert await pool.fetchval("SELECT count(*) FROM user_sessions") == 1
    await set_password_hash(pool, user.id, "h3")
    assert await pool.fetchval("SELECT count(*) FROM user_sessions") == 0


async def test_role_change_returns_user_and_ends_sessions(pool: Any) -> None:
    """set_role changes the role and removes every session of that user only."""
    a = await create_user(pool, "a1", Role.AGENT, "h")
    b = await create_user(pool, "b1", Role.AGENT, "h")
    await create_session(pool, a, now=T0)
    await create_session(pool, a, now=T0)
    await create_session(pool, b, now=T0)
    changed = await set_role(pool, a.id, Role.SUPERVISOR)
    assert changed is not None and changed.role is Role.SUPERVISOR
    assert await pool.fetchval("SELECT count(*) FROM user_sessions") == 1
    assert await delete_user_sessions(pool, b.id) == 1


async def test_purge_removes_only_expired_sessions(pool: Any) -> None:
    """The periodic purge deletes idle and over-age sessions and keeps live ones."""
    user = await create_user(pool, "p1", Role.AGENT, "h")
    await create_session(pool, user, now=T0 - timedelta(hours=2))  # idle
    await create_session(pool, user, now=T0)  # live
    assert await purge_expired_sessions(pool, now=T0, idle_timeout=IDLE, lifetime=LIFE) == 1
    assert await pool.fetchval("SELECT count(*) FROM user_sessions") == 1


async def test_audit_record_fetch_and_filters(pool: Any) -> None:
    """Entries come back newest first, filtered by actor, action, prefix, subject and page."""
    ids = [
        await record_audit(pool, "olena", "appeal.update", "ЦЗ-2026-000001", {"field": "topic"}),
        await record_audit(pool, "olena", "recording.listen", "1700000000.1"),
        await record_audit(pool, "admin", "user.create", "ivan", {"role": "agent"}),
    ]
    assert [e.id for e in await fetch_audit(pool, action_prefix="")][:3] == ids[::-1]
    olena = await fetch_audit(pool, actor="olena")
    assert [e.action for e in olena[:2]] == ["recording.listen", "appeal.update"]
    assert (await fetch_audit(pool, subject="ivan"))[0].details == {"role": "agent"}
    assert [e.id for e in await fetch_audit(pool, action_prefix="user.")] == [ids[2]]
    assert [e.id for e in await fetch_audit(pool, before_id=ids[1], actor="olena")] == [ids[0]]
    assert len(await fetch_audit(pool, limit=1)) == 1
    entry = (await fetch_audit(pool, action="appeal.update"))[0]
    assert entry.at.tzinfo is not None and entry.subject == "ЦЗ-2026-000001"


async def test_audit_masks_phone_numbers(pool: Any) -> None:
    """A caller's number in the details is stored masked."""
    entry_id = await record_audit(pool, "olena", "appeal.update", "A1", {"caller": "+380671112233"})
    stored = await pool.fetchval("SELECT details FROM audit_log WHERE id = $1", entry_id)
    assert stored == {"caller": "38067***2233"}


async def test_audit_commits_with_the_change_it_describes(pool: Any) -> None:
    """Written on the caller's connection, an entry rolls back with a failed transaction."""
    with pytest.raises(RuntimeError):
        async with pool.acquire() as conn, conn.transaction():
            await record_audit(conn, "olena", "appeal.update", "ROLLED-BACK")
            raise RuntimeError("the change failed")
    assert await fetch_audit(pool, subject="ROLLED-BACK") == []


async def test_audit_is_append_only(pool: Any) -> None:
    """Updating, deleting or truncating audit rows fails, except a delete by the declared retention purge."""
    entry_id = await record_audit(pool, "admin", "user.create", "x")
    with pytest.raises(asyncpg.RaiseError):
        await pool.execute("UPDATE audit_log SET actor = 'someone' WHERE id = $1", entry_id)
    with pytest.raises(asyncpg.RaiseError):
        await pool.execute("DELETE FROM audit_log WHERE id = $1", entry_id)
    with pytest.raises(asyncpg.RaiseError):
        await pool.execute("TRUNCATE audit_log")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL callcenter.audit_purge = 'on'")
        assert await conn.execute("DELETE FROM audit_log WHERE id = $1", entry_id) == "DELETE 1"


async def test_audit_needs_actor_and_action(pool: Any) -> None:
    """An entry without an actor or an action is a programming error."""
    with pytest.raises(ValueError):
        await record_audit(pool, "", "x")
