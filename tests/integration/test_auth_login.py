"""Signing in and out through the real app: cookies, rotation, expiry, rate limits, CSRF, audit."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from callcenter.storage.audit import fetch_audit
from callcenter.storage.users import Role, create_user, set_disabled, set_role
from callcenter.web.auth import AUTH, SESSION_COOKIE
from callcenter.web.auth_passwords import HashParameters, PasswordHasher
from tests.integration.test_auth_support import PASSWORD, FakeClock, add_user, make_app, sign_in

Client = TestClient[Any, Any]


@pytest.fixture
async def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(db_pool: Any, clock: FakeClock) -> AsyncIterator[Client]:
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    async with TestClient(TestServer(make_app(db_pool, clock))) as test_client:
        yield test_client


async def test_login_sets_httponly_samesite_cookie_and_me_shows_user(client: Client, db_pool: Any) -> None:
    """A right password answers the user, sets an HttpOnly SameSite=Lax session cookie, and /api/me works."""
    await add_user(db_pool, "olena", Role.SUPERVISOR)
    response = await client.post("/api/login", json={"login": "Olena ", "password": PASSWORD})
    assert response.status == 200
    body = await response.json()
    assert body["user"]["login"] == "olena" and body["user"]["role"] == "supervisor"
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert len(cookie.value) >= 43  # 32 random bytes, base64url
    me = await client.get("/api/me")
    assert me.status == 200
    assert (await me.json())["user"]["display_name"] == "Test olena"
    assert (await me.json())["csrf_token"] == body["csrf_token"]


async def test_session_token_is_stored_only_as_a_hash(client: Client, db_pool: Any) -> None:
    """The database holds the SHA-256 of the cookie token, never the token itself."""
    await add_user(db_pool, "taras", Role.AGENT)
    response = await client.post("/api/login", json={"login": "taras", "password": PASSWORD})
    token = response.cookies[SESSION_COOKIE].value
    rows = await db_pool.fetch("SELECT token_hash FROM user_sessions")
    assert len(rows) == 1
    assert bytes(rows[0]["token_hash"]) == hashlib.sha256(token.encode()).digest()
    assert token.encode() not in bytes(rows[0]["token_hash"])


async def test_wrong_password_and_unknown_login_get_the_same_answer(client: Client, db_pool: Any) -> None:
    """A wrong password and a login that does not exist are indistinguishable to the caller."""
    await add_user(db_pool, "ivan", Role.AGENT)
    wrong = await client.post("/api/login", json={"login": "ivan", "password": "not it at all"})
    unknown = await client.post("/api/login", json={"login": "nobody", "password": "not it at all"})
    assert wrong.status == unknown.status == 401
    assert await wrong.json() == await unknown.json()
    assert SESSION_COOKIE not in wrong.cookies
    assert (await client.get("/api/me")).status == 401


async def test_disabled_user_cannot_sign_in_and_loses_sessions(client: Client, db_pool: Any) -> None:
    """Disabling a user ends their session and makes the right password fail like a wrong one."""
    user = await add_user(db_pool, "petro", Role.AGENT)
    await sign_in(client, "petro")
    await set_disabled(db_pool, user.id, True)
    assert (await client.get("/api/me")).status == 401
    again = await client.post("/api/login", json={"login": "petro", "password": PASSWORD})
    assert again.status == 401
    assert (await again.json())["error_id"] == "bad_credentials"


async def test_login_rotates_the_session(client: Client, db_pool: Any) -> None:
    """Signing in again replaces the browser's session: new token, old row gone."""
    await add_user(db_pool, "maria", Role.AGENT)
    first = await client.post("/api/login", json={"login": "maria", "password": PASSWORD})
    first_token = first.cookies[SESSION_COOKIE].value
    second = await client.post("/api/login", json={"login": "maria", "password": PASSWORD})
    second_token = second.cookies[SESSION_COOKIE].value
    assert first_token != second_token
    assert await db_pool.fetchval("SELECT count(*) FROM user_sessions") == 1
    stale = await client.get("/api/me", cookies={SESSION_COOKIE: first_token})
    assert stale.status == 401


async def test_role_change_ends_sessions(client: Client, db_pool: Any) -> None:
    """After an admin changes a user's role the old session no longer works."""
    user = await add_user(db_pool, "oksana", Role.AGENT)
    await sign_in(client, "oksana")
    await set_role(db_pool, user.id, Role.SUPERVISOR)
    assert (await client.get("/api/me")).status == 401
    await sign_in(client, "oksana")
    assert (await (await client.get("/api/me")).json())["user"]["role"] == "supervisor"


async def test_logout_deletes_the_session_row_and_cookie(client: Client, db_pool: Any) -> None:
    """Logging out removes the server-side session, so the cookie is worthless afterwards."""
    await add_user(db_pool, "andrii", Role.AGENT)
    response = await client.post("/api/login", json={"login": "andrii", "password": PASSWORD})
    token = response.cookies[SESSION_COOKIE].value
    csrf = (await response.json())["csrf_token"]
    out = await client.post("/api/logout", headers={"X-CSRF-Token": csrf})
    assert out.status == 200
    assert out.cookies[SESSION_COOKIE].value == ""
    assert await db_pool.fetchval("SELECT count(*) FROM user_sessions") == 0
    replay = await client.get("/api/me", cookies={SESSION_COOKIE: token})
    assert replay.status == 401


async def test_idle_timeout_and_absolute_lifetime(client: Client, db_pool: Any, clock: FakeClock) -> None:
    """A session dies after an idle hour, and after twelve hours even when it is used all along."""
    await add_user(db_pool, "yulia", Role.AGENT)
    await sign_in(client, "yulia")
    clock.advance(59 * 60)
    assert (await client.get("/api/me")).status == 200
    clock.advance(61 * 60)  # idle since the last request for more than an hour
    assert (await client.get("/api/me")).status == 401
    assert await db_pool.fetchval("SELECT count(*) FROM user_sessions") == 0

    await sign_in(client, "yulia")
    for _ in range(24):  # busy all along: a request every 30 minutes, 12 hours
        clock.advance(30 * 60)
        status = (await client.get("/api/me")).status
    assert status == 401


async def test_rate_limit_per_login_answers_429_with_retry_after(
    client: Client, db_pool: Any, clock: FakeClock
) -> None:
    """Five failures lock the login for the window, even for the right password, then it opens."""
    await add_user(db_pool, "bohdan", Role.AGENT)
    for _ in range(5):
        bad = await client.post("/api/login", json={"login": "bohdan", "password": "guess guess"})
        assert bad.status == 401
    locked = await client.post("/api/login", json={"login": "bohdan", "password": PASSWORD})
    assert locked.status == 429
    retry_after = int(locked.headers["Retry-After"])
    assert 0 < retry_after <= 15 * 60
    assert (await locked.json())["error_id"] == "too_many_attempts"
    clock.advance(retry_after)
    assert (await client.post("/api/login", json={"login": "bohdan", "password": PASSWORD})).status == 200


async def test_rate_limit_per_address_across_logins(client: Client, db_pool: Any) -> None:
    """Twenty failures from one address on different names lock that address out."""
    for n in range(20):
        response = await client.post("/api/login", json={"login": f"guess{n}", "password": "whatever1"})
        assert response.status == 401
    await add_user(db_pool, "real", Role.AGENT)
    locked = await client.post("/api/login", json={"login": "real", "password": PASSWORD})
    assert locked.status == 429


async def test_old_hash_parameters_are_upgraded_on_login(client: Client, db_pool: Any) -> None:
    """A hash made with other argon2 parameters is replaced on a successful sign-in."""
    await add_user(db_pool, "stepan", Role.AGENT)
    before = await db_pool.fetchval("SELECT password_hash FROM users WHERE login = 'stepan'")
    client.app[AUTH].hasher = PasswordHasher(HashParameters(time_cost=2, memory_cost=16, parallelism=1))
    await sign_in(client, "stepan")
    after = await db_pool.fetchval("SELECT password_hash FROM users WHERE login = 'stepan'")
    assert before != after and "m=16,t=2,p=1" in after
    await client.post("/api/logout", headers={"X-CSRF-Token": await _csrf(client)})
    await sign_in(client, "stepan")  # the new hash verifies


async def _csrf(client: Client) -> str:
    token: str = (await (await client.get("/api/me")).json())["csrf_token"]
    return token


async def test_state_change_needs_the_csrf_token(client: Client, db_pool: Any) -> None:
    """A cookie-authenticated POST without, or with a wrong, X-CSRF-Token is refused."""
    await add_user(db_pool, "roman", Role.AGENT)
    csrf = await sign_in(client, "roman")
    missing = await client.post("/api/logout")
    assert missing.status == 403 and (await missing.json())["error_id"] == "csrf_token"
    wrong = await client.post("/api/logout", headers={"X-CSRF-Token": csrf[:-2] + "xx"})
    assert wrong.status == 403
    assert await db_pool.fetchval("SELECT count(*) FROM user_sessions") == 1
    right = await client.post("/api/logout", headers={"X-CSRF-Token": csrf})
    assert right.status == 200


async def test_cross_origin_post_is_refused_even_with_token(client: Client, db_pool: Any) -> None:
    """A POST whose Origin is another site fails, and a same-origin one passes."""
    await add_user(db_pool, "lesia", Role.AGENT)
    csrf = await sign_in(client, "lesia")
    evil = await client.post("/api/logout", headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
    assert evil.status == 403 and (await evil.json())["error_id"] == "cross_origin"
    host = f"http://{client.host}:{client.port}"
    good = await client.post("/api/logout", headers={"X-CSRF-Token": csrf, "Origin": host})
    assert good.status == 200


async def test_cross_origin_login_is_refused(client: Client, db_pool: Any) -> None:
    """A sign-in posted from another site (login CSRF) is refused; a form post is not accepted at all."""
    await add_user(db_pool, "nina", Role.AGENT)
    evil = await client.post(
        "/api/login",
        json={"login": "nina", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert evil.status == 403
    form = await client.post("/api/login", data={"login": "nina", "password": PASSWORD})
    assert form.status == 415


async def test_login_audit_trail(client: Client, db_pool: Any) -> None:
    """Sign-in, failed sign-in and sign-out each leave an audit entry; no password is stored."""
    await add_user(db_pool, "vira", Role.ADMIN)
    await client.post("/api/login", json={"login": "vira", "password": "wrong wrong"})
    csrf = await sign_in(client, "vira")
    await client.post("/api/logout", headers={"X-CSRF-Token": csrf})
    entries = await fetch_audit(db_pool, subject="vira")
    assert [e.action for e in entries] == ["auth.logout", "auth.login", "auth.login_failed"]
    assert entries[2].details["reason"] == "wrong_password"
    assert all("wrong wrong" not in str(e.details) and PASSWORD not in str(e.details) for e in entries)


async def test_passwords_never_reach_the_log(client: Client, db_pool: Any) -> None:
    """Neither a right nor a wrong password appears in any log line, and addresses are masked."""
    await add_user(db_pool, "dmytro", Role.AGENT)
    with capture_logs() as logs:
        await client.post("/api/login", json={"login": "dmytro", "password": "secret-wrong-1"})
        await sign_in(client, "dmytro")
    text = repr(logs)
    assert "secret-wrong-1" not in text and PASSWORD not in text
    assert any(e["event"] == "login_failed" for e in logs)
    assert all(e.get("address", "x").endswith("x") for e in logs)


async def test_admin_can_read_users_and_audit(client: Client, db_pool: Any) -> None:
    """The admin views list users without hashes and show the audit trail newest first."""
    await create_user(db_pool, "auth1", Role.AUTHORITY, "x", authority_id="oda-dnipro")
    await add_user(db_pool, "boss", Role.ADMIN)
    await sign_in(client, "boss")
    users = await (await client.get("/api/admin/users")).json()
    assert {u["login"]: u["role"] for u in users["users"]} == {"auth1": "authority", "boss": "admin"}
    assert "password_hash" not in str(users)
    audit = await (await client.get("/api/admin/audit?action=auth.login")).json()
    assert audit["entries"][0]["actor"] == "boss"
    bad = await client.get("/api/admin/audit?limit=lots")
    assert bad.status == 400 and (await bad.json())["details"] == {}


async def test_background_purge_deletes_expired_sessions(db_pool: Any) -> None:
    """The app's purge task removes sessions that expired while nobody used them."""
    await db_pool.execute("TRUNCATE users, user_sessions RESTART IDENTITY CASCADE")
    await add_user(db_pool, "nazar", Role.AGENT)
    clock = FakeClock()
    app = make_app(db_pool, clock)
    state = app[AUTH]
    state.config = replace(state.config, session_purge_interval_s=0.05)
    async with TestClient(TestServer(app)) as client:
        await sign_in(client, "nazar")
        assert await db_pool.fetchval("SELECT count(*) FROM user_sessions") == 1
        clock.advance(2 * 3600)
        for _ in range(100):
            if await db_pool.fetchval("SELECT count(*) FROM user_sessions") == 0:
                break
            await asyncio.sleep(0.02)
        assert await db_pool.fetchval("SELECT count(*) FROM user_sessions") == 0


async def test_oversized_or_malformed_credentials_are_400(client: Client) -> None:
    """A megabyte 'password', a non-object body or a missing field is refused before any hashing."""
    huge = await client.post("/api/login", json={"login": "x", "password": "p" * 5000})
    assert huge.status == 400 and (await huge.json())["details"] == {"field": "password"}
    listed = await client.post("/api/login", json=["x", "y"])
    assert listed.status == 400
    no_login = await client.post("/api/login", json={"password": "whatever1"})
    assert (await no_login.json())["details"] == {"field": "login"}
