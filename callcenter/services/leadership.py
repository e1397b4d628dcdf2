"""Which backend of an active/standby pair serves: the one holding a PostgreSQL advisory lock.

DESIGN.md, "Scale": two backends on one database; the active one holds a session-level advisory
lock (``pg_try_advisory_lock``) on a connection of its own, never one from the pool, because the
lock lives exactly as long as that session. PostgreSQL is the only judge; there is no home-made
consensus between the backends.

* ``wait_until_active()`` tries the lock every ``poll_s`` (logging ``ha_standby`` once) until it
  wins it (``ha_active``), then starts a watcher. A standby whose own connection was lost (most
  often a PostgreSQL restart, which ends the active's session too) waits ``check_s + 2 * poll_s``
  after reconnecting before it tries again, so the active, which tries at once, wins its lock
  back rather than losing it to the standby in a race.
* The watcher checks the lock's connection every ``check_s``, and at once when asyncpg reports
  the connection closed. A dead connection (PostgreSQL restarted, a network fault, an operator's
  ``pg_terminate_backend``) took the lock with it, so the active reconnects and takes it again:
  callers notice nothing (``ha_lock_regained``). If the lock is seen held by another session now,
  another backend is serving and this one steps down (``ha_lost_to_other``): ``lost`` is set and
  the composition root stops serving and exits with its own status, so systemd restarts the
  process as the standby.
* While the database cannot be reached nobody can take the lock, so the active keeps serving
  however long that lasts. ``regain_s`` bounds only the time spent with the database answering
  and the lock still not won (e.g. held by this backend's own previous session, which the server
  has not yet noticed is gone and which could not be ended): then it steps down too.

The lock connection asks the server for short TCP keepalives, so the server drops the session of
a backend whose host or network vanished within seconds and the standby can take over.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any

import asyncpg

from callcenter.config import HaSettings
from callcenter.errors import CallcenterError
from callcenter.logs import get_logger

__all__ = ["Leadership", "Role", "SteppedDown"]

log = get_logger(__name__)

#: How long one connection attempt or one query on the lock connection may take.
TIMEOUT_S = 5.0
#: Shown in ``pg_stat_activity`` so an operator can tell the lock session from the pool's.
APPLICATION_NAME = "callcenter ha lock"
#: Server-side keepalives of the lock session (seconds): a vanished backend's session, and its
#: lock, are dropped after about idle + interval * count = 11 s instead of the kernel's hours.
KEEPALIVES = {"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "3"}

# What a lost or refused connection raises: socket errors, timeouts, the server's FATAL
# (admin shutdown, "the database system is starting up") and asyncpg's closed-connection errors.
_CONNECTION_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)

_HOLDER_SQL = """
SELECT l.pid, a.backend_start, a.application_name, a.client_addr::text AS client_addr
FROM pg_locks AS l LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = $1 AND l.objid::bigint = $2
"""

_SESSION_SQL = "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"


class SteppedDown(CallcenterError):
    """The active backend gave up serving: another one holds the lock, or it could not win it back."""


class Role(enum.Enum):
    STANDBY = "standby"
    ACTIVE = "active"
    REGAINING = "regaining"  # active, serving, its lock lost with its connection
    STEPPED_DOWN = "stepped down"


@dataclass(frozen=True, slots=True)
class _Session:
    """A server session, told apart from a later one that reuses its pid by its start time."""

    pid: int
    started: dt.datetime | None


def lock_tag(key: int) -> tuple[int, int]:
    """``pg_locks``' (classid, objid) of a bigint advisory key: its high and low 32 bits."""
    return (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF


class Leadership:
    """The advisory lock of one backend of the pair, on a connection of its own."""

    def __init__(self, dsn: str, *, lock_key: int, poll_s: float, check_s: float, regain_s: float) -> None:
        self.dsn = dsn
        self.lock_key = lock_key
        self.poll_s = poll_s
        self.check_s = check_s
        self.regain_s = regain_s
        self.role = Role.STANDBY
        #: Set when the active steps down; ``step_down_reason`` says why.
        self.lost = asyncio.Event()
        self.step_down_reason = ""
        self._conn: Any = None
        self._session: _Session | None = None
        self._pending = "connecting to the database"
        self._holder_seen: _Session | None = None  # who held the lock at the last failed try
        self._lost_since = 0.0  # loop time the lock's connection was found dead
        self._watcher: asyncio.Task[None] | None = None
        # Woken by asyncpg when the lock connection closes, so a dead session is noticed at once
        # rather than at the next check.
        self._connection_closed = asyncio.Event()

    @classmethod
    def from_settings(cls, dsn: str, settings: HaSettings) -> Leadership:
        return cls(
            dsn,
            lock_key=settings.lock_key,
            poll_s=settings.poll_s,
            check_s=settings.check_s,
            regain_s=settings.regain_s,
        )

    @property
    def active(self) -> bool:
        """True while this backend serves (holding the lock, or winning it back)."""
        return self.role in (Role.ACTIVE, Role.REGAINING)

    async def wait_until_active(self) -> None:
        """Return once this backend holds the lock; the watcher then keeps it."""
        announced = False
        connected_before = False
        while True:
            defer_s = self.check_s + 2 * self.poll_s if connected_before else 0.0
            if await self._try_lock(defer_s=defer_s):
                break
            connected_before = connected_before or self._conn is not None
            if not announced:
                announced = True
                log.info("ha_standby", lock_key=self.lock_key, waiting_for=self._pending)
            await asyncio.sleep(self.poll_s)
        self.role = Role.ACTIVE
        log.info("ha_active", lock_key=self.lock_key, lock_pid=self._session.pid if self._session else None)
        self._watcher = asyncio.create_task(self._watch(), name="ha-lock-watcher")

    async def check(self) -> tuple[bool, str]:
        """The ``ha`` health check: the role and what it waits for, from state (no query)."""
        loop = asyncio.get_running_loop()
        if self.role is Role.ACTIVE:
            return True, f"active, holding lock {self.lock_key}"
        if self.role is Role.REGAINING:
            since = loop.time() - self._lost_since
            return False, (
                f"active, still serving, but lock {self.lock_key} was lost with its connection "
                f"{since:.0f} s ago; winning it back: {self._pending}"
            )
        if self.role is Role.STEPPED_DOWN:
            return False, f"stepped down: {self.step_down_reason}"
        return False, f"standby, waiting for lock {self.lock_key}: {self._pending}"

    async def close(self) -> None:
        """Stop watching and end the lock's session, which releases the lock."""
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        await self._drop_connection()

    # --- the lock's connection

    async def _connect(self) -> None:
        self._connection_closed.clear()
        conn = await asyncpg.connect(
            self.dsn,
            timeout=TIMEOUT_S,
            server_settings={"application_name": APPLICATION_NAME, **KEEPALIVES},
        )
        conn.add_termination_listener(self._on_closed)
        self._conn = conn

    def _on_closed(self, conn: Any) -> None:
        if conn is self._conn:
            self._connection_closed.set()

    async def _drop_connection(self, *, graceful: bool = True) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if not graceful:
            # A connection found dead or stalled: a polite close would wait on it for nothing.
            conn.terminate()
            return
        try:
            await asyncio.wait_for(conn.close(), TIMEOUT_S)
        except _CONNECTION_ERRORS:
            conn.terminate()

    async def _try_lock(self, *, defer_s: float = 0.0) -> bool:
        """One try: connect if needed, ``pg_try_advisory_lock``; False if it is held or unreachable.

        ``defer_s``: after making a new connection, wait this long before trying. After a False,
        ``_conn`` is None when the database could not be reached, and ``_holder_seen`` is the
        session holding the lock otherwise.
        """
        self._holder_seen = None
        try:
            if self._conn is None or self._conn.is_closed():
                await self._drop_connection(graceful=False)
                await self._connect()
                if defer_s > 0:
                    self._pending = f"reconnected; the active backend has {defer_s:g} s to take its lock back"
                    log.info("ha_standby_reconnected", lock_key=self.lock_key, defer_s=defer_s)
                    await asyncio.sleep(defer_s)
            won = await self._conn.fetchval(
                "SELECT pg_try_advisory_lock($1)", self.lock_key, timeout=TIMEOUT_S
            )
            if won:
                row = await self._conn.fetchrow(_SESSION_SQL, timeout=TIMEOUT_S)
                self._session = _Session(row["pid"], row["backend_start"])
                return True
            self._holder_seen = await self._holder()
            self._pending = "held by " + _describe(self._holder_seen)
        except _CONNECTION_ERRORS as exc:
            self._pending = f"database unreachable ({_reason(exc)})"
            await self._drop_connection(graceful=False)
        return False

    async def _holder(self) -> _Session | None:
        """The session holding the lock now, if any."""
        classid, objid = lock_tag(self.lock_key)
        row = await self._conn.fetchrow(_HOLDER_SQL, classid, objid, timeout=TIMEOUT_S)
        if row is None:
            return None
        return _Session(row["pid"], row["backend_start"])

    async def _lock_still_held(self) -> bool:
        try:
            holder = await self._holder()
        except _CONNECTION_ERRORS:
            return False
        return holder is not None and holder == self._session

    # --- the active's watcher

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.check_s):
                    await self._connection_closed.wait()
            if not self._connection_closed.is_set() and await self._lock_still_held():
                continue
            if not await self._regain():
                return

    async def _regain(self) -> bool:
        """Win the lock back after its session ended; False once this backend has stepped down."""
        loop = asyncio.get_running_loop()
        self.role = Role.REGAINING
        self._lost_since = loop.time()
        self._pending = "reconnecting"
        previous = self._session
        log.warning(
            "ha_lock_connection_lost", lock_key=self.lock_key, lock_pid=previous.pid if previous else None
        )
        await self._drop_connection(graceful=False)
        answering_s = 0.0  # time spent with the database answering and the lock not won
        overdue_logged = False
        while True:
            started = loop.time()
            reachable = True
            try:
                if await self._try_lock():
                    self.role = Role.ACTIVE
                    log.info(
                        "ha_lock_regained",
                        lock_key=self.lock_key,
                        after_s=round(loop.time() - self._lost_since, 2),
                        lock_pid=self._session.pid if self._session else None,
                    )
                    return True
                holder = self._holder_seen
                if self._conn is None:
                    reachable = False
                elif holder is not None and previous is not None and holder == previous:
                    # Our own old session: the server has not noticed it is gone. End it.
                    ended = await self._conn.fetchval("SELECT pg_terminate_backend($1)", holder.pid)
                    log.warning("ha_old_lock_session_ended", lock_pid=holder.pid, ended=ended)
                elif holder is not None:
                    self._step_down(f"lock {self.lock_key} is now held by {_describe(holder)}")
                    log.error("ha_lost_to_other", lock_key=self.lock_key, holder_pid=holder.pid)
                    return False
            except asyncpg.InsufficientPrivilegeError as exc:
                log.warning("ha_old_lock_session_not_ended", reason=_reason(exc))
            except _CONNECTION_ERRORS as exc:
                self._pending = f"database unreachable ({_reason(exc)})"
                reachable = False
                await self._drop_connection(graceful=False)
            await asyncio.sleep(self.poll_s)
            if reachable:
                answering_s += loop.time() - started
                if answering_s >= self.regain_s:
                    self._step_down(
                        f"lock {self.lock_key} not won back in {self.regain_s:g} s: {self._pending}"
                    )
                    log.error("ha_lock_not_regained", lock_key=self.lock_key, waiting_for=self._pending)
                    return False
            elif not overdue_logged and loop.time() - self._lost_since >= self.regain_s:
                # Still serving: with the database away no standby can take the lock either.
                overdue_logged = True
                log.warning("ha_lock_regain_overdue", lock_key=self.lock_key, waiting_for=self._pending)

    def _step_down(self, reason: str) -> None:
        self.role = Role.STEPPED_DOWN
        self.step_down_reason = reason
        self.lost.set()


def _describe(holder: _Session | None) -> str:
    if holder is None:
        return "nobody (released just now)"
    return f"another backend's session (pid {holder.pid})"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
