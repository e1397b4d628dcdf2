"""Users, their roles, and their server-side sessions (tables of migration 0050).

Roles are data (``roles`` table, ``users.role``); this module says which role includes which:
admin ⊇ supervisor ⊇ agent, and ``authority`` (issue 12: sees only the appeals forwarded to its
``authority_id``) stands apart. Handlers ask ``user.has_role(Role.SUPERVISOR)``.

A session row is keyed by the SHA-256 of the random token in the browser's cookie, so the
table alone does not let anyone sign in. Changing a user's role, password or disabled flag
ends all of that user's sessions: the next request signs in afresh and gets a new token.

Password hashes are made and checked in ``callcenter.web.auth_passwords``; this module only
stores the PHC string.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import asyncpg

from callcenter.errors import ValidationError

__all__ = [
    "ROLE_INCLUDES",
    "Role",
    "Session",
    "User",
    "create_session",
    "create_user",
    "delete_session",
    "delete_user_sessions",
    "find_login",
    "get_user",
    "get_user_by_login",
    "hash_token",
    "list_users",
    "load_session",
    "normalize_login",
    "purge_expired_sessions",
    "set_disabled",
    "set_password_hash",
    "set_role",
]


class Role(StrEnum):
    """A user's role; the values are the rows of the ``roles`` table."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AUTHORITY = "authority"


#: The roles each role may act as. A route open to ``SUPERVISOR`` is open to ``ADMIN`` too.
ROLE_INCLUDES: Mapping[Role, frozenset[Role]] = {
    Role.AGENT: frozenset({Role.AGENT}),
    Role.SUPERVISOR: frozenset({Role.SUPERVISOR, Role.AGENT}),
    Role.ADMIN: frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AGENT}),
    Role.AUTHORITY: frozenset({Role.AUTHORITY}),
}

_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


@dataclass(frozen=True, slots=True)
class User:
    """A person who signs in (never carries the password hash)."""

    id: int
    login: str
    display_name: str
    role: Role
    authority_id: str | None = None
    disabled: bool = False

    def has_role(self, required: Role) -> bool:
        """True when this user's role includes ``required``."""
        return required in ROLE_INCLUDES[self.role]


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: its user and the CSRF token its state-changing requests must echo."""

    token_hash: bytes
    user: User
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime


def normalize_login(login: str) -> str:
    """The canonical form of a login name (trimmed, lower case); ValidationError if malformed."""
    canonical = login.strip().lower()
    if not _LOGIN.match(canonical):
        raise ValidationError(
            "a login is 1–64 characters: Latin letters, digits and . _ @ -, starting with a letter or digit",
            field="login",
        )
    return canonical


def hash_token(token: str) -> bytes:
    """The SHA-256 of a session token, as stored (a fast hash is right: the token is random)."""
    return hashlib.sha256(token.encode()).digest()


_USER_COLUMNS = "id, login, display_name, role, authority_id, disabled"
_USER_COLUMNS_U = "u.id, u.login, u.display_name, u.role, u.authority_id, u.disabled"


def _user(row: Any) -> User:
    return User(
        id=row["id"],
        login=row["login"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        authority_id=row["authority_id"],
        disabled=row["disabled"],
    )


def _check_role(role: Role, authority_id: str | None) -> None:
    if role is Role.AUTHORITY and not authority_id:
        raise ValidationError(
            "a user of role 'authority' needs the authority it works for", field="authority_id"
        )


async def create_user(
    conn: Any,
    login: str,
    role: Role,
    password_hash: str,
    *,
    display_name: str = "",
    authority_id: str | None = None,
) -> User:
    """Insert a user; ValidationError if the login is malformed or taken."""
    canonical = normalize_login(login)
    _check_role(role, authority_id)
    try:
        row = await conn.fetchrow(
            f"""INSERT INTO users (login, display_name, role, authority_id, password_hash)
                VALUES ($1, $2, $3, $4, $5) RETURNING {_USER_COLUMNS}""",
            canonical,
            display_name,
            role.value,
            authority_id,
            password_hash,
        )
    except asyncpg.UniqueViolationError as exc:
        raise ValidationError(f"the login {canonical!r} is taken", field="login") from exc
    return _user(row)


async def get_user(conn: Any, user_id: int) -> User | None:
    """The user with this id, or None."""
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1", user_id)
    return None if row is None else _user(row)


async def get_user_by_login(conn: Any, login: str) -> User | None:
    """The user with this login (any case), or None; a malformed login finds nobody."""
    found = await find_login(conn, login)
    return None if found is None else found[0]


async def find_login(conn: Any, login: str) -> tuple[User, str] | None:
    """The user and their password hash, for signing in; None if there is no such login."""
    try:
        canonical = normalize_login(login)
    except ValidationError:
        return None
    row = await conn.fetchrow(f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE login = $1", canonical)
    return None if row is None else (_user(row), row["password_hash"])


async def list_users(conn: Any) -> list[User]:
    """Every user, by login."""
    rows = await conn.fetch(f"SELECT {_USER_COLUMNS} FROM users ORDER BY login")
    return [_user(row) for row in rows]


async def set_password_hash(
    conn: Any, user_id: int, password_hash: str, *, end_sessions: bool = True
) -> None:
    """Store a new hash; a password change ends the user's sessions (a rehash does not)."""
    await conn.execute(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1", user_id, password_hash
    )
    if end_sessions:
        await delete_user_sessions(conn, user_id)


async def set_role(conn: Any, user_id: int, role: Role, *, authority_id: str | None = None) -> User | None:
    """Change the role (and authority); ends the user's sessions so the new role starts fresh."""
    _check_role(role, authority_id)
    row = await conn.fetchrow(
        f"""UPDATE users SET role = $2, authority_id = $3, updated_at = now() WHERE id = $1
            RETURNING {_USER_COLUMNS}""",
        user_id,
        role.value,
        authority_id,
    )
    await delete_user_sessions(conn, user_id)
    return None if row is None else _user(row)


async def set_disabled(conn: Any, user_id: int, disabled: bool) -> None:
    """Disable (ending every session) or re-enable a user."""
    await conn.execute("UPDATE users SET disabled = $2, updated_at = now() WHERE id = $1", user_id, disabled)
    if disabled:
        await delete_user_sessions(conn, user_id)


async def create_session(
    conn: Any, user: User, *, now: datetime, client_addr: str = ""
) -> tuple[str, Session]:
    """A new session for ``user``: returns the token for the cookie and the session."""
    token = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    token_hash = hash_token(token)
    await conn.execute(
        """INSERT INTO user_sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, client_addr)
           VALUES ($1, $2, $3, $4, $4, $5)""",
        token_hash,
        user.id,
        csrf_token,
        now,
        client_addr,
    )
    return token, Session(token_hash, user, csrf_token, now, now)


async def load_session(
    conn: Any,
    token: str,
    *,
    now: datetime,
    idle_timeout: timedelta,
    lifetime: timedelta,
    touch_after: timedelta = timedelta(minutes=1),
) -> Session | None:
    """The live session for a cookie token, or None (expired sessions are deleted on sight).

    A session dies ``idle_timeout`` after its last request or ``lifetime`` after sign-in,
    whichever comes first. ``last_seen_at`` is written at most once per ``touch_after`` so that
    a busy page does not turn every request into a database write.
    """
    token_hash = hash_token(token)
    row = await conn.fetchrow(
        f"""SELECT s.csrf_token, s.created_at, s.last_seen_at,
                   {_USER_COLUMNS_U}
            FROM user_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.token_hash = $1""",
        token_hash,
    )
    if row is None:
        return None
    user = _user(row)
    expired = now >= row["last_seen_at"] + idle_timeout or now >= row["created_at"] + lifetime
    if expired or user.disabled:
        await delete_session(conn, token_hash)
        return None
    last_seen = row["last_seen_at"]
    if now - last_seen >= touch_after:
        await conn.execute(
            "UPDATE user_sessions SET last_seen_at = $2 WHERE token_hash = $1", token_hash, now
        )
        last_seen = now
    return Session(token_hash, user, row["csrf_token"], row["created_at"], last_seen)


async def delete_session(conn: Any, token_hash: bytes) -> bool:
    """End one session; True if it existed."""
    result: str = await conn.execute("DELETE FROM user_sessions WHERE token_hash = $1", token_hash)
    return result != "DELETE 0"


async def delete_user_sessions(conn: Any, user_id: int) -> int:
    """End every session of a user; returns how many there were."""
    result: str = await conn.execute("DELETE FROM user_sessions WHERE user_id = $1", user_id)
    return int(result.split()[-1])


async def purge_expired_sessions(
    conn: Any, *, now: datetime, idle_timeout: timedelta, lifetime: timedelta
) -> int:
    """Delete every expired session (a periodic job); returns how many."""
    result: str = await conn.execute(
        "DELETE FROM user_sessions WHERE last_seen_at <= $1 OR created_at <= $2",
        now - idle_timeout,
        now - lifetime,
    )
    return int(result.split()[-1])
