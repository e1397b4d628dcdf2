"""Migrations: applied once, in order, safely from two processes at once."""

from __future__ import annotations

import asyncio
from typing import Any

from callcenter.storage.migrate import available_migrations, migrate


def test_shipped_migrations_are_numbered_uniquely_and_in_order() -> None:
    """The package ships its SQL files with distinct, increasing numbers."""
    numbers = [m.number for m in available_migrations()]
    assert numbers == sorted(set(numbers))
    assert numbers[0] == 1


async def test_fixture_schema_has_every_migration(db_pool: Any) -> None:
    """The per-module schema the fixture made has all migrations recorded."""
    rows = await db_pool.fetch("SELECT number FROM schema_migrations ORDER BY number")
    assert [r["number"] for r in rows] == [m.number for m in available_migrations()]


async def test_migrate_twice_applies_nothing_the_second_time(db_pool: Any) -> None:
    """Running migrate on an up-to-date schema is a no-op."""
    assert await migrate(db_pool) == []


async def test_concurrent_migrations_apply_each_file_once(pg_server_dsn: str) -> None:
    """Two pools racing to migrate a new schema apply every file exactly once between them."""
    import uuid

    from callcenter.storage.db import open_pool

    schema = f"t_race_{uuid.uuid4().hex[:8]}"
    pools = [await open_pool(pg_server_dsn, schema=schema, max_size=2) for _ in range(2)]
    try:
        results = await asyncio.gather(*(migrate(p) for p in pools))
        applied = results[0] + results[1]
        assert sorted(applied) == sorted(f"{m.number:04d}_{m.name}" for m in available_migrations())
        count = await pools[0].fetchval("SELECT count(*) FROM schema_migrations")
        assert count == len(available_migrations())
    finally:
        await pools[0].execute(f'DROP SCHEMA "{schema}" CASCADE')
        for p in pools:
            await p.close()
