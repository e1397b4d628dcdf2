"""The advisory lock of an active/standby pair (``callcenter/services/leadership.py``) on a real PostgreSQL.

Each test takes a lock key of its own, so tests running at the same time on the shared test
server never compete for one lock. Sessions are ended the way an operator or a restart ends
them: ``pg_terminate_backend`` from another connection, or the server stopped and started.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from structlog.testing import capture_logs

from callcenter.config import load_settings
from callcenter.errors import ConfigError
from callcenter.services.leadership import Leadership, Role, lock_tag
from callcenter.storage.db import start_embedded

FAST = {"poll_s": 0.05, "check_s": 0.2, "regain_s": 30.0}


async def until(predicate: Callable[[], bool], what: str, limit_s: float = 30.0) -> None:
    """Wait (real time) until ``predicate`` holds; fail naming ``what`` after a generous limit."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while not predicate():
        assert loop.time() < end, f"never happened: {what}"
        await asyncio.sleep(0.02)


async def until_async(
    fetch: Callable[[], Any], predicate: Callable[[Any], bool], what: str, limit_s: float = 30.0
) -> None:
    """``until`` for a condition read by a coroutine (the database, a health check)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while not predicate(await fetch()):
        assert loop.time() < end, f"never happened: {what}"
        await asyncio.sleep(0.02)


def new_key() -> int:
    """A lock key no other test uses (negative, and beyond 32 bits, to cover both halves of the tag)."""
    return -random.randrange(2**33, 2**62)


@contextlib.asynccontextmanager
async def leadership(dsn: str, key: int, **kwargs: float) -> AsyncIterator[Leadership]:
    lead = Leadership(dsn, lock_key=key, **{**FAST, **kwargs})
    try:
        yield lead
    finally:
        await lead.close()


async def holders(conn: Any, key: int) -> list[tuple[int, bool]]:
    """(pid, granted) of every session holding or waiting for advisory lock ``key``."""
    classid, objid = lock_tag(key)
    rows = await conn.fetch(
        "SELECT pid, granted FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1"
        " AND classid::bigint = $1 AND objid::bigint = $2"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        classid,
        objid,
    )
    return sorted((row["pid"], row["granted"]) for row in rows)


async def holder_pid(conn: Any, key: int) -> int:
    granted = [pid for pid, ok in await holders(conn, key) if ok]
    assert len(granted) == 1, granted
    return granted[0]


async def test_first_wins_the_second_waits_and_takes_over_when_the_first_lets_go(pg_server_dsn: str) -> None:
    """One backend holds the lock; the other stays standby, saying who holds it, until it is released."""
    key = new_key()
    conn = await asyncpg.connect(pg_server_dsn)
    try:
        async with leadership(pg_server_dsn, key) as first, leadership(pg_server_dsn, key) as second:
            with capture_logs() as logs:
                await asyncio.wait_for(first.wait_until_active(), 30)
                assert first.active and first.role is Role.ACTIVE
                assert await first.check() == (True, f"active, holding lock {key}")
                first_pid = await holder_pid(conn, key)

                waiting = asyncio.create_task(second.wait_until_active())
                await until_async(second.check, lambda r: "held by" in r[1], "the standby seeing the holder")
                ok, detail = await second.check()
                assert not ok and not second.active
                assert (
                    detail
                    == f"standby, waiting for lock {key}: held by another backend's session (pid {first_pid})"
                )
                # It keeps trying without taking anything (the lock is still the first one's).
                await asyncio.sleep(0.3)
                assert not waiting.done()
                assert await holder_pid(conn, key) == first_pid

                await first.close()
                await asyncio.wait_for(waiting, 30)
                assert second.role is Role.ACTIVE
                assert await holder_pid(conn, key) != first_pid
            events = [entry["event"] for entry in logs]
            assert events.count("ha_standby") == 1  # logged once, not at every try
            assert events.count("ha_active") == 2
    finally:
        await conn.close()


async def test_regains_its_lock_after_its_connection_is_killed_when_nobody_competes(
    pg_server_dsn: str,
) -> None:
    """``pg_terminate_backend`` on the lock's session: a new session takes the lock, nothing steps down."""
    key = new_key()
    conn = await asyncpg.connect(pg_server_dsn)
    try:
        async with leadership(pg_server_dsn, key) as lead:
            await asyncio.wait_for(lead.wait_until_active(), 30)
            old_pid = await holder_pid(conn, key)
            with capture_logs() as logs:
                assert await conn.fetchval("SELECT pg_terminate_backend($1)", old_pid)
                await until(lambda: any(e["event"] == "ha_lock_regained" for e in logs), "the lock won back")
            assert lead.role is Role.ACTIVE and not lead.lost.is_set()
            new_pid = await holder_pid(conn, key)
            assert new_pid != old_pid
            assert [e["event"] for e in logs if e["event"].startswith("ha_")] == [
                "ha_lock_connection_lost",
                "ha_lock_regained",
            ]
            # And it goes on watching the new session: killed again, won back again.
            with capture_logs() as logs:
                assert await conn.fetchval("SELECT pg_terminate_backend($1)", new_pid)
                await until(
                    lambda: any(e["event"] == "ha_lock_regained" for e in logs), "the lock won back again"
                )
            assert lead.active and await holder_pid(conn, key) not in (old_pid, new_pid)
    finally:
        await conn.close()


async def test_steps_down_when_another_backend_holds_the_lock_once_its_connection_died(
    pg_server_dsn: str,
) -> None:
    """Another session queued for the lock gets it when the active's session dies: the active steps down."""
    key = new_key()
    conn = await asyncpg.connect(pg_server_dsn)
    other = await asyncpg.connect(pg_server_dsn)
    try:
        async with leadership(pg_server_dsn, key) as lead:
            await asyncio.wait_for(lead.wait_until_active(), 30)
            active_pid = await holder_pid(conn, key)
            other_pid = other.get_server_pid()
            # The other backend waits in the server's lock queue, so it is granted the lock the
            # moment the active's session ends, before the active can reconnect.
            queued = asyncio.create_task(other.execute("SELECT pg_advisory_lock($1)", key))
            await until_async(
                lambda: holders(conn, key),
                lambda rows: (other_pid, False) in rows,
                "the other backend queued",
            )
            with capture_logs() as logs:
                assert await conn.fetchval("SELECT pg_terminate_backend($1)", active_pid)
                await asyncio.wait_for(queued, 30)
                await asyncio.wait_for(lead.lost.wait(), 30)
            assert lead.role is Role.STEPPED_DOWN and not lead.active
            assert lead.step_down_reason == (
                f"lock {key} is now held by another backend's session (pid {other_pid})"
            )
            assert await lead.check() == (False, f"stepped down: {lead.step_down_reason}")
            lost = [e for e in logs if e["event"] == "ha_lost_to_other"]
            assert [e["holder_pid"] for e in lost] == [other_pid]
            assert await holder_pid(conn, key) == other_pid
    finally:
        await other.close()
        await conn.close()


class StallingProxy:
    """A TCP relay to the PostgreSQL server whose open connections can be frozen, as a network fault would.

    A frozen connection carries nothing either way but stays open at both ends, so the server
    keeps its session (and any lock it holds) while the client hears nothing: the client's
    "goodbye" never arrives either. Connections made after the freeze are relayed normally.
    """

    def __init__(self, upstream_dsn: str) -> None:
        self.upstream = urlsplit(upstream_dsn)
        self.frozen: list[asyncio.Event] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        """Start listening; the DSN to reach the server through the relay."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        user = self.upstream.username or "postgres"
        return urlunsplit(self.upstream._replace(netloc=f"{user}@127.0.0.1:{port}"))

    def freeze(self) -> None:
        for event in self.frozen:
            event.set()

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.upstream.hostname, self.upstream.port)
        frozen = asyncio.Event()
        self.frozen.append(frozen)
        self._writers += [writer, up_writer]

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                if frozen.is_set():
                    await asyncio.Event().wait()  # hold it, and everything after it, for ever
                dst.write(data)
                await dst.drain()
            dst.close()

        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(pump(src, dst))
            self._tasks.add(task)


async def test_a_stalled_lock_connection_is_replaced_and_its_old_session_ended(pg_server_dsn: str) -> None:
    """The lock's connection stops carrying anything (a network fault) while its session lives on.

    The server's session still holds the lock, so no standby could ever take it; the active sees
    that the holder is its own old session, ends it and takes the lock on a new one.
    """
    key = new_key()
    proxy = StallingProxy(pg_server_dsn)
    dsn = await proxy.start()
    conn = await asyncpg.connect(pg_server_dsn)
    try:
        async with leadership(dsn, key) as lead:
            await asyncio.wait_for(lead.wait_until_active(), 30)
            old_pid = await holder_pid(conn, key)
            with capture_logs() as logs:
                proxy.freeze()
                await until(
                    lambda: any(e["event"] == "ha_lock_regained" for e in logs), "the lock won back", 60
                )
            events = [e["event"] for e in logs if e["event"].startswith("ha_")]
            assert events == ["ha_lock_connection_lost", "ha_old_lock_session_ended", "ha_lock_regained"]
            assert [e["ended"] for e in logs if e["event"] == "ha_old_lock_session_ended"] == [True]
            assert lead.role is Role.ACTIVE and not lead.lost.is_set()
            new_pid = await holder_pid(conn, key)
            assert new_pid != old_pid
            await until_async(
                lambda: conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", old_pid),
                lambda n: n == 0,
                "the old session gone",
            )
    finally:
        await conn.close()
        await proxy.close()


async def test_postgres_restart_active_keeps_serving_and_wins_its_lock_back_before_the_standby(
    tmp_path: Path,
) -> None:
    """The server stops for a while and comes back: the active serves throughout and keeps the role.

    The standby lost its session too; it gives the active time to win its lock back first, so a
    restart never hands the calls to the other backend.
    """
    servers = [await asyncio.to_thread(start_embedded, tmp_path / "pg")]
    try:
        dsn = servers[0].dsn("postgres")
        key = new_key()
        async with leadership(dsn, key) as active, leadership(dsn, key) as standby:
            await asyncio.wait_for(active.wait_until_active(), 30)
            waiting = asyncio.create_task(standby.wait_until_active())
            await until_async(standby.check, lambda r: "held by" in r[1], "the standby seeing the holder")
            with capture_logs() as logs:
                await asyncio.to_thread(servers[-1].stop)
                await until(lambda: active.role is Role.REGAINING, "the active noticing the restart")
                ok, detail = await active.check()
                assert not ok and detail.startswith(f"active, still serving, but lock {key} was lost")
                await asyncio.sleep(1.0)  # the database stays away a while
                assert active.active and not active.lost.is_set()  # still serving
                servers.append(await asyncio.to_thread(start_embedded, tmp_path / "pg"))
                await until(lambda: active.role is Role.ACTIVE, "the active winning its lock back", 60)
                # The standby is back to waiting for the lock, which it sees held by the active.
                await until(
                    lambda: any(e["event"] == "ha_standby_reconnected" for e in logs),
                    "the standby reconnected",
                    60,
                )
                await until_async(
                    standby.check, lambda r: "held by" in r[1], "the standby seeing the holder again", 60
                )
            assert not waiting.done() and not standby.active
            assert not active.lost.is_set()
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
    finally:
        await asyncio.to_thread(servers[-1].stop)


def test_the_pair_settings_are_read_from_the_environment_and_need_a_database_url(tmp_path: Path) -> None:
    """``CALLCENTER_HA_*`` set the ``[ha]`` section; a pair without ``database.url`` is refused."""
    env = {
        "CALLCENTER_HA_ENABLED": "true",
        "CALLCENTER_HA_LOCK_KEY": "-42",
        "CALLCENTER_HA_POLL_S": "0.5",
        "CALLCENTER_DATABASE_URL": "postgresql://cc@db/cc",
    }
    settings = load_settings(config_file=None, environ={**env, "CALLCENTER_CONFIG": "/dev/null"})
    assert settings.ha.enabled and settings.ha.lock_key == -42 and settings.ha.poll_s == 0.5
    assert (settings.ha.check_s, settings.ha.regain_s) == (2.0, 30.0)
    assert not load_settings(environ={"CALLCENTER_CONFIG": "/dev/null"}).ha.enabled

    no_url = {k: v for k, v in env.items() if k != "CALLCENTER_DATABASE_URL"}
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={**no_url, "CALLCENTER_CONFIG": "/dev/null"})
    assert [p for p in refused.value.problems if p.startswith("ha.enabled needs database.url")]
    with pytest.raises(ConfigError) as too_big:
        load_settings(environ={**env, "CALLCENTER_HA_LOCK_KEY": str(2**63), "CALLCENTER_CONFIG": "/dev/null"})
    assert "expected a whole number that fits in 64 bits" in too_big.value.problems[0]
