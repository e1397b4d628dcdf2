"""Composition root: builds the adapters from the settings, wires the services, runs them.

Nothing else in the package constructs long-lived resources. ``run`` is what ``callcenter serve``
and ``callcenter demo`` call: it opens the database (starting the embedded PostgreSQL when no
URL is configured), applies migrations, starts the web server and the telephony adapters, and
on SIGINT/SIGTERM stops them in the reverse order so that nothing is left running.

With ``[ha] enabled`` the process is one of an active/standby pair (``services/leadership.py``):
until it holds the advisory lock it serves only ``/healthz`` (503, role standby) and
``/metrics`` on the HTTP port and nothing on the FastAGI port, so the PBX's FastAGI failover goes
to the active one; once it wins the lock it starts everything. If it has to step down it stops
serving and ``run`` raises ``SteppedDown`` (``callcenter serve`` exits with status 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from callcenter.bootstrap import CallHandling, start_call_handling
from callcenter.bus import EventBus
from callcenter.config import Settings
from callcenter.logs import get_logger
from callcenter.services.leadership import Leadership, SteppedDown
from callcenter.services.survival import ingest_periodically
from callcenter.storage.appeals import AppealRepository, AppealsSettings
from callcenter.storage.db import EmbeddedPostgres, ensure_database, open_pool, start_embedded
from callcenter.storage.migrate import migrate
from callcenter.telephony.agi_server import FastAgiServer
from callcenter.telephony.ami_client import AmiClient
from callcenter.telephony.ami_client import AmiSettings as AmiClientSettings
from callcenter.web import health, metrics
from callcenter.web.auth import AuthConfig
from callcenter.web.auth_ratelimit import LoginLimits
from callcenter.web.auth_routes import setup_auth
from callcenter.web.keys import DB_POOL, SETTINGS

__all__ = ["Database", "Runtime", "create_web_app", "open_database", "run"]

log = get_logger(__name__)


@dataclass
class Database:
    """The pool and, when we started one, the embedded server behind it."""

    pool: Any
    dsn: str
    embedded: EmbeddedPostgres | None = None

    async def close(self) -> None:
        await self.pool.close()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)


@contextlib.asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """Connect (starting the embedded server if no URL is set) and migrate; close on exit."""
    embedded: EmbeddedPostgres | None = None
    if settings.database.url:
        dsn = settings.database.url
    else:
        log.info("embedded_postgres_starting", data_dir=str(settings.database.data_dir))
        embedded = await asyncio.to_thread(start_embedded, settings.database.data_dir)
        await ensure_database(embedded.dsn("postgres"), settings.database.name)
        dsn = embedded.dsn(settings.database.name)
    try:
        pool = await open_pool(dsn, min_size=settings.database.pool_min, max_size=settings.database.pool_max)
    except BaseException:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        raise
    database = Database(pool=pool, dsn=dsn, embedded=embedded)
    try:
        applied = await migrate(pool)
        log.info("database_ready", migrations_applied=applied, embedded=embedded is not None)
        yield database
    finally:
        await database.close()


def create_web_app(
    settings: Settings,
    database: Database,
    registry: health.HealthRegistry,
    call_metrics: metrics.CallMetrics | None = None,
) -> web.Application:
    """The aiohttp application with every route, sharing the process's resources."""
    app = web.Application()
    # Security (issue 10) first: error, auth and CSRF middlewares and the sign-in routes, so no
    # route escapes the access check. Handlers written before it are declared public here.
    setup_auth(app, auth_config(settings))
    app[SETTINGS] = settings
    app[DB_POOL] = database.pool
    app[health.HEALTH] = registry
    if call_metrics is None:
        call_metrics = metrics.CallMetrics()
    call_metrics.db_pool = database.pool
    app[metrics.METRICS] = call_metrics
    app.add_routes(health.routes)
    app.add_routes(metrics.routes)
    return app


def auth_config(settings: Settings) -> AuthConfig:
    """The auth layer's configuration from the ``[auth]`` settings."""
    a = settings.auth
    return AuthConfig(
        cookie_secure=a.cookie_secure,
        idle_timeout=dt.timedelta(seconds=a.idle_timeout_s),
        session_lifetime=dt.timedelta(seconds=a.session_lifetime_s),
        login_limits=LoginLimits(
            per_login=a.login_failures_per_login,
            per_address=a.login_failures_per_address,
            window_s=float(a.login_window_s),
        ),
        trusted_origins=a.trusted_origins,
    )


def ami_client_settings(settings: Settings) -> AmiClientSettings:
    """The AMI client's connection settings from the ``[ami]`` section."""
    a = settings.ami
    return AmiClientSettings(
        host=a.host,
        port=a.port,
        username=a.username,
        secret=a.secret,
        auth=a.auth,
        action_timeout=a.action_timeout_s,
        ping_interval=a.ping_interval_s,
    )


@dataclass
class Runtime:
    """What ``run`` started: the shared resources the services and the demo's PBX hook into."""

    settings: Settings
    database: Database
    health: health.HealthRegistry
    metrics: metrics.CallMetrics
    bus: EventBus
    web_app: web.Application
    agi: FastAgiServer
    ami: AmiClient | None
    appeals: AppealRepository
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    calls: CallHandling | None = None


async def _start_ami(
    settings: Settings, registry: health.HealthRegistry, stack: contextlib.AsyncExitStack
) -> AmiClient | None:
    if not settings.ami.enabled:

        async def ami_disabled() -> tuple[bool, str]:
            return True, "disabled by ami.enabled = false"

        registry.add("ami", ami_disabled)
        return None
    client = AmiClient(ami_client_settings(settings))
    await client.start()
    stack.push_async_callback(client.close)

    async def ami_check() -> tuple[bool, str]:
        if client.connected:
            return True, f"logged in to {settings.ami.host}:{settings.ami.port}"
        return (
            False,
            f"not connected to {settings.ami.host}:{settings.ami.port}: {client.last_error or 'connecting'}",
        )

    registry.add("ami", ami_check)
    return client


async def start_runtime(settings: Settings, database: Database, stack: contextlib.AsyncExitStack) -> Runtime:
    """Build and start every service on ``database``; ``stack`` stops them in reverse order."""
    registry = health.HealthRegistry()
    registry.add("database", health.database_check(database.pool))
    call_metrics = metrics.CallMetrics()
    bus = EventBus()
    ami = await _start_ami(settings, registry, stack)
    if ami is not None:
        call_metrics.ami_connected = lambda: ami.connected
    appeals = AppealRepository(database.pool, settings=AppealsSettings.from_config(settings.appeals))
    await stack.enter_async_context(
        ingest_periodically(settings.paths.spool_dir, appeals.handle_spooled_call)
    )
    agi = FastAgiServer(
        settings.agi.host,
        settings.agi.port,
        allowed_peers=settings.agi.allowed_peers,
        max_sessions=settings.agi.max_sessions,
    )
    call_metrics.agi_sessions = lambda: agi.active_sessions
    web_app = create_web_app(settings, database, registry, call_metrics)
    return Runtime(settings, database, registry, call_metrics, bus, web_app, agi, ami, appeals)


async def _serve(runtime: Runtime, stack: contextlib.AsyncExitStack) -> None:
    settings = runtime.settings
    await runtime.agi.start()
    stack.push_async_callback(runtime.agi.close)
    log.info("fastagi_listening", address=f"agi://{settings.agi.host}:{runtime.agi.bound_port}/")
    runner = web.AppRunner(runtime.web_app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, settings.http.host, settings.http.port)
    await site.start()
    log.info("http_listening", url=f"http://{settings.http.host}:{settings.http.port}/")


async def stand_by(settings: Settings, leadership: Leadership, stop: asyncio.Event) -> bool:
    """Serve the standby's ``/healthz`` and ``/metrics`` until the lock is won (True) or ``stop`` is set."""
    registry = health.HealthRegistry()
    registry.add("ha", leadership.check)
    standby_metrics = metrics.CallMetrics()
    standby_metrics.ha_active = lambda: leadership.active
    app = web.Application()
    app[health.HEALTH] = registry
    app[health.ROLE] = "standby"
    app[metrics.METRICS] = standby_metrics
    app.add_routes(health.routes)
    app.add_routes(metrics.routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.http.host, settings.http.port).start()
        log.info("http_listening", url=f"http://{settings.http.host}:{settings.http.port}/", role="standby")
        won = asyncio.create_task(leadership.wait_until_active(), name="ha-wait")
        stopped = asyncio.create_task(stop.wait(), name="ha-stop")
        try:
            await asyncio.wait({won, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stopped, won):  # won last: a failure in it is raised
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        # A failure in ``won`` other than the database's (a bug) was raised by the await above.
        return not won.cancelled()
    finally:
        # The full application binds the same port next.
        await runner.cleanup()


async def _until_stopped(stop: asyncio.Event, leadership: Leadership | None) -> None:
    if leadership is None:
        await stop.wait()
        return
    waits = {asyncio.create_task(stop.wait()), asyncio.create_task(leadership.lost.wait())}
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def run(settings: Settings, *, extra: Callable[[Runtime], AsyncIterator[None]] | None = None) -> None:
    """Run the service until SIGINT or SIGTERM; ``extra`` adds services (e.g. the demo PBX).

    Raises ``SteppedDown`` when, as the active backend of a pair, it lost its lock for good.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with contextlib.AsyncExitStack() as ha_stack:
            leadership: Leadership | None = None
            if settings.ha.enabled:
                assert settings.database.url is not None  # load_settings refuses [ha] without it
                leadership = Leadership.from_settings(settings.database.url, settings.ha)
                # Closed last, after everything else stopped: the standby must not start serving
                # while this process still is.
                ha_stack.push_async_callback(leadership.close)
                if not await stand_by(settings, leadership, stop):
                    log.info("stopping", role="standby")
                    return
            async with open_database(settings) as database, contextlib.AsyncExitStack() as stack:
                runtime = await start_runtime(settings, database, stack)
                runtime.stop_event = stop
                if leadership is not None:
                    _watch_leadership(runtime, leadership)
                runtime.calls = await start_call_handling(runtime, stack)
                await _serve(runtime, stack)
                if extra is not None:
                    await stack.enter_async_context(contextlib.asynccontextmanager(extra)(runtime))
                await _until_stopped(stop, leadership)
                if leadership is not None and leadership.lost.is_set():
                    log.error("ha_stepping_down", reason=leadership.step_down_reason)
                else:
                    log.info("stopping")
            if leadership is not None and leadership.lost.is_set():
                raise SteppedDown(leadership.step_down_reason)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _watch_leadership(runtime: Runtime, leadership: Leadership) -> None:
    """The active's ``ha`` health check, role and metric."""
    runtime.health.add("ha", leadership.check)
    runtime.web_app[health.ROLE] = "active"
    runtime.metrics.ha_active = lambda: leadership.active
