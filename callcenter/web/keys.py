"""Typed keys for what the composition root stores on the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from callcenter.config import Settings

#: The asyncpg pool (typed as Any because asyncpg ships no type information).
DB_POOL: web.AppKey[Any] = web.AppKey("db_pool", object)
#: The frozen settings the process started with.
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", object)  # type: ignore[arg-type]
