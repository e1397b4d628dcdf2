"""Numbered SQL migrations, applied in order, once, by one process at a time.

Migrations are the files ``callcenter/storage/migrations/NNNN_<name>.sql``. Each runs in its own
transaction together with the row that records it in ``schema_migrations``, so a failed file
leaves nothing half-applied. A transaction-level advisory lock, keyed by the schema, makes two
processes that start at once (two backends, or ``db migrate`` beside a running service) take
turns: the second finds the work done. A file whose content changed after it was applied is
reported, because silently running a database on a different schema than the code expects is
the 3 a.m. kind of trouble.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from callcenter.errors import StorageError
from callcenter.logs import get_logger

__all__ = ["Migration", "available_migrations", "migrate"]

log = get_logger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# An arbitrary constant; combined with the schema name so separate schemas migrate independently.
_LOCK_NAMESPACE = 0x0CA11CE


@dataclass(frozen=True, slots=True)
class Migration:
    """One SQL file: its number, name, text and checksum."""

    number: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    """The migrations shipped in the package, sorted by number; duplicate numbers are an error."""
    folder = resources.files("callcenter.storage") / "migrations"
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if not match:
            if entry.name.endswith(".sql"):
                raise StorageError(f"migration file {entry.name!r} is not named NNNN_name.sql")
            continue
        number = int(match.group(1))
        if number in found:
            raise StorageError(
                f"two migrations share number {number:04d}: {found[number].name}, {entry.name}"
            )
        found[number] = Migration(number, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[n] for n in sorted(found)]


async def migrate(pool: Any) -> list[str]:
    """Apply every pending migration; return the names applied (empty when up to date)."""
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        schema = await conn.fetchval("SELECT current_schema()")
        if schema is None:
            raise StorageError("no current schema: the search_path names a schema that does not exist")
        lock_key = _LOCK_NAMESPACE ^ (int(hashlib.sha256(schema.encode()).hexdigest()[:7], 16))
        for migration in available_migrations():
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key)
                await conn.execute(
                    """CREATE TABLE IF NOT EXISTS schema_migrations (
                           number integer PRIMARY KEY,
                           name text NOT NULL,
                           checksum text NOT NULL,
                           applied_at timestamptz NOT NULL DEFAULT now())"""
                )
                row = await conn.fetchrow(
                    "SELECT name, checksum FROM schema_migrations WHERE number = $1", migration.number
                )
                if row is not None:
                    if row["checksum"] != migration.checksum:
                        log.warning(
                            "migration_changed_after_apply", number=migration.number, name=migration.name
                        )
                    continue
                try:
                    await conn.execute(migration.sql)
                except Exception as exc:
                    raise StorageError(
                        f"migration {migration.number:04d}_{migration.name}.sql failed: {exc}"
                    ) from exc
                await conn.execute(
                    "INSERT INTO schema_migrations (number, name, checksum) VALUES ($1, $2, $3)",
                    migration.number,
                    migration.name,
                    migration.checksum,
                )
                applied_now.append(f"{migration.number:04d}_{migration.name}")
                log.info("migration_applied", number=migration.number, name=migration.name)
    return applied_now
