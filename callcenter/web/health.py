"""``/healthz``: is the process up, can it reach the database, is it connected to Asterisk.

Components register a named check (``HealthRegistry.add``); a check is an async callable that
returns ``(ok, detail)``. The endpoint runs them all with a timeout each and answers 200 only
when every check passes, 503 otherwise, always with the per-component details, so a load
balancer and the engineer at 3 a.m. read the same answer.

A backend of an active/standby pair (``[ha]``) also says its ``role``; the standby's answer is
always 503, so a load balancer sends nothing to it, with its ``ha`` check saying what it waits for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from callcenter.web.auth import public

__all__ = ["HEALTH", "ROLE", "Check", "HealthRegistry", "database_check", "routes"]

Check = Callable[[], Awaitable[tuple[bool, str]]]


class HealthRegistry:
    """Named health checks, run together by ``/healthz``."""

    def __init__(self, *, timeout_s: float = 2.0) -> None:
        self._checks: dict[str, Check] = {}
        self._timeout_s = timeout_s
        self.started_at = time.time()

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    async def run(self) -> dict[str, dict[str, Any]]:
        async def one(check: Check) -> tuple[bool, str]:
            try:
                return await asyncio.wait_for(check(), self._timeout_s)
            except TimeoutError:
                return False, f"no answer within {self._timeout_s:g} s"
            except Exception as exc:  # a health check must report, never raise
                return False, f"{type(exc).__name__}: {exc}"

        names = list(self._checks)
        results = await asyncio.gather(*(one(self._checks[n]) for n in names))
        return {name: {"ok": ok, "detail": detail} for name, (ok, detail) in zip(names, results, strict=True)}


HEALTH: web.AppKey[HealthRegistry] = web.AppKey("health", HealthRegistry)
#: "active" or "standby" in a backend of an active/standby pair; absent otherwise.
ROLE: web.AppKey[str] = web.AppKey("ha_role", str)


def database_check(pool: Any) -> Check:
    """A check that runs ``SELECT 1`` on the pool."""

    async def check() -> tuple[bool, str]:
        value = await pool.fetchval("SELECT 1")
        return value == 1, "SELECT 1 answered"

    return check


routes = web.RouteTableDef()


@routes.get("/healthz")
@public
async def healthz(request: web.Request) -> web.Response:
    """200 when every component is healthy, 503 otherwise; JSON details either way."""
    registry = request.app[HEALTH]
    components = await registry.run()
    role = request.app.get(ROLE)
    ok = all(c["ok"] for c in components.values()) and role != "standby"
    body: dict[str, object] = {
        "status": "standby" if role == "standby" else "ok" if ok else "degraded",
        "uptime_s": round(time.time() - registry.started_at, 1),
        "components": {"process": {"ok": True, "detail": "running"}, **components},
    }
    if role is not None:
        body["role"] = role
    return web.json_response(body, status=200 if ok else 503)
