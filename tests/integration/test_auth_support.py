"""Helpers for the auth tests: the real app with cheap password hashes and a clock the test moves.

No tests here; the auth, route-table, CLI and browser tests import these.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
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


REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, database_url: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``python -m callcenter.cli`` against ``database_url``; stdin is fed (a password line)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    env = {**base, "CALLCENTER_CONFIG": "/dev/null", "CALLCENTER_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "callcenter.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def scratch_database(pg_server_dsn: str) -> Iterator[str]:
    """A whole database of its own, for commands that migrate the public schema; dropped after."""
    name = f"cc_auth_{uuid.uuid4().hex[:8]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(pg_server_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base, _, query = pg_server_dsn.partition("?")
    dsn = base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")
    try:
        yield dsn
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
