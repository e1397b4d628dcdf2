"""Helpers for the auth tests: the real app with cheap password hashes and a clock the test moves.

No tests here; the auth, route-table and browser tests import these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from callcenter.app import Database, create_web_app
from callcenter.config import Settings
from callcenter.storage.users import Role, User, create_user
from callcenter.web.auth import AUTH, AuthState
from callcenter.web.auth_passwords import FAST_TEST_PARAMETERS, PasswordHasher
from callcenter.web.health import HealthRegistry

PASSWORD = "correct horse battery"
FAST_HASHER = PasswordHasher(FAST_TEST_PARAMETERS)


@dataclass
class FakeClock:
    """Wall and monotonic time that move only when the test says so."""

    wall: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    mono: float = 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


def make_app(pool: Any, clock: FakeClock | None = None) -> web.Application:
    """The application exactly as ``create_web_app`` builds it, with test hashes and clock."""
    app = create_web_app(Settings(), Database(pool=pool, dsn=""), HealthRegistry())
    state: AuthState = app[AUTH]
    state.hasher = PasswordHasher(FAST_TEST_PARAMETERS)
    if clock is not None:
        state.now = clock.now
        state.monotonic = clock.monotonic
    return app


async def add_user(
    pool: Any, login: str, role: Role, *, password: str = PASSWORD, authority_id: str | None = None
) -> User:
    """Create a user whose password hash uses the cheap test parameters."""
    return await create_user(
        pool,
        login,
        role,
        FAST_HASHER.hash_sync(password),
        display_name=f"Test {login}",
        authority_id=authority_id,
    )


async def sign_in(client: TestClient[Any, Any], login: str, password: str = PASSWORD) -> str:
    """Sign in through the API; returns the CSRF token (the client keeps the cookies)."""
    response = await client.post("/api/login", json={"login": login, "password": password})
    assert response.status == 200, await response.text()
    token: str = (await response.json())["csrf_token"]
    return token
