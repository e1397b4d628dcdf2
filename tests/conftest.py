"""Fixtures shared by the whole suite: the test PostgreSQL and a fresh schema per test module.

The server is ``CALLCENTER_TEST_DSN`` when set (CI: PostgreSQL on 127.0.0.1:5432, database
``test``); otherwise an embedded PostgreSQL in ``var/test-pg`` started once per session. Each test
module gets its own schema with every migration applied, dropped when the module is done, so
modules never see each other's rows and a failed run leaves nothing behind that matters.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from callcenter.storage.db import open_pool, start_embedded
from callcenter.storage.migrate import migrate

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"


@dataclass(frozen=True)
class TestDatabase:
    """Where a test module's data lives: the server's DSN and the module's own schema."""

    __test__ = False  # not a test class, despite the name

    dsn: str
    schema: str

    async def pool(self, **kwargs: Any) -> Any:
        """A new asyncpg pool bound to this schema (the caller closes it)."""
        return await open_pool(self.dsn, schema=self.schema, **kwargs)


@pytest.fixture(scope="session")
def pg_server_dsn() -> Iterator[str]:
    """The DSN of the PostgreSQL server the tests use."""
    dsn = os.environ.get("CALLCENTER_TEST_DSN")
    if dsn:
        yield dsn
        return
    server = start_embedded(REPO_ROOT / "var" / "test-pg")
    try:
        yield server.dsn("postgres")
    finally:
        server.stop()


@pytest.fixture(scope="module")
def test_database(pg_server_dsn: str, request: pytest.FixtureRequest) -> Iterator[TestDatabase]:
    """A schema of this module's own, migrated, dropped afterwards."""
    stem = re.sub(r"[^a-z0-9]+", "_", request.module.__name__.rsplit(".", 1)[-1].lower())[:30]
    schema = f"t_{stem}_{uuid.uuid4().hex[:8]}"
    database = TestDatabase(pg_server_dsn, schema)

    async def setup() -> None:
        pool = await database.pool(min_size=1, max_size=2)
        try:
            await migrate(pool)
        finally:
            await pool.close()

    async def teardown() -> None:
        conn = await asyncpg.connect(pg_server_dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(setup())
    try:
        yield database
    finally:
        asyncio.run(teardown())


@pytest.fixture
async def db_pool(test_database: TestDatabase) -> AsyncIterator[Any]:
    """An asyncpg pool on the module's migrated schema (closed after the test)."""
    pool = await test_database.pool(min_size=1, max_size=10)
    try:
        yield pool
    finally:
        await pool.close()
