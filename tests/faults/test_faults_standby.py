"""Promise: an active/standby pair serves with exactly one backend, and the standby takes over.

Two ``callcenter serve`` processes run with ``[ha] enabled`` on one database. The one holding the
PostgreSQL advisory lock serves; the other answers ``/healthz`` with 503 and ``role: standby`` and
has nothing on its FastAGI port. The simulated PBX runs the shipped dialplan rendered for a pair
(``--standby-address``): each call tries the first backend's FastAGI address, then the second's,
then the survival path, as a real Asterisk does with the two addresses or with ``hagi://``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from callcenter.config import DEFAULT_HA_LOCK_KEY
from callcenter.services.leadership import lock_tag
from callcenter.sim.asterisk import AgiTarget
from callcenter.sim.models import CallerModel, Distribution
from callcenter.telephony import dialplan_contract as contract
from tests.faults.faults_support import (
    Backend,
    FaultRig,
    appeal_rows,
    backend_env,
    free_port,
    make_rig,
    scratch_database,
    shipped_pbx,
)
from tests.integration.test_asterisk_conf_support import render

SCALE = 10.0
#: The standby's address in the rendered dialplan; the simulated PBX maps it to the second backend.
STANDBY = "10.20.0.6"
EXIT_STEPPED_DOWN = 3
#: Short periods so the test does not wait on defaults meant for production.
HA_ENV = {
    "CALLCENTER_HA_ENABLED": "true",
    "CALLCENTER_HA_POLL_S": "0.2",
    "CALLCENTER_HA_CHECK_S": "0.5",
}


def pair_rig(tmp_path: Path) -> FaultRig:
    """The fault-test rig with the dialplan rendered for a pair: the standby is tried after the active."""
    rig = make_rig(tmp_path)
    assert render(tmp_path, "--standby-address", STANDBY, "--force") == 0
    dialplan = (tmp_path / "out" / "extensions.conf").read_text(encoding="utf-8")
    assert f"agi://{STANDBY}:4573/" in dialplan
    return dataclasses.replace(rig, dialplan=dialplan)


def pair_backend(rig: FaultRig, dsn: str, name: str, *, ami_port: int, agi_port: int) -> Backend:
    """One backend of the pair, not started yet."""
    http_port = free_port()
    env = backend_env(rig, dsn, ami_port=ami_port, agi_port=agi_port, http_port=http_port)
    return Backend({**env, **HA_ENV}, http_port, rig.root / f"{name}.log")


async def health(backend: Backend) -> tuple[int, dict[str, Any]] | None:
    """``/healthz``'s status and body, or None when nothing answers."""
    url = f"http://127.0.0.1:{backend.http_port}/healthz"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
                return response.status, json.loads(await response.text())
    except (aiohttp.ClientError, OSError, TimeoutError):
        return None


def role(answer: tuple[int, dict[str, Any]] | None) -> str | None:
    """``active`` (200 and the lock held), ``standby`` (503), or None for anything else."""
    if answer is None:
        return None
    status, body = answer
    ha = body.get("components", {}).get("ha", {})
    if (
        status == 200
        and body.get("role") == "active"
        and ha.get("detail", "").startswith("active, holding lock")
    ):
        return "active"
    if status == 503 and body.get("role") == "standby" and body.get("status") == "standby":
        return "standby"
    return None


async def wait_role(backend: Backend, wanted: str, limit_s: float = 60.0) -> dict[str, Any]:
    """Poll ``/healthz`` until the backend reports ``wanted``; fail with its log if it exits first."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while True:
        assert backend.proc is not None
        if backend.proc.poll() is not None:
            raise AssertionError(f"backend exited {backend.proc.returncode}:\n{backend.log()}")
        answer = await health(backend)
        if role(answer) == wanted:
            assert answer is not None
            return answer[1]
        assert loop.time() < end, f"never {wanted}; last /healthz {answer}:\n{backend.log()}"
        await asyncio.sleep(0.1)


async def refuses(port: int) -> bool:
    """True when nothing listens on the local TCP ``port`` (Asterisk's connect fails at once)."""
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return False


async def metric(backend: Backend, name: str) -> float:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{backend.http_port}/metrics") as response:
            text = await response.text()
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, text
    return float(found.group(1))


async def lock_holders(dsn: str) -> list[int]:
    """The server pids holding the pair's advisory lock in the backends' database."""
    classid, objid = lock_tag(DEFAULT_HA_LOCK_KEY)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            " AND classid::bigint = $1 AND objid::bigint = $2"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            classid,
            objid,
        )
    finally:
        await conn.close()
    return [row["pid"] for row in rows]


async def terminate_lock_session(dsn: str) -> int:
    """``pg_terminate_backend`` on the session holding the lock (the active's lock connection)."""
    [pid] = await lock_holders(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()
    return pid


async def eventually(predicate: Callable[[], Any], what: str, limit_s: float = 60.0) -> None:
    """Wait until the async ``predicate`` is true; fail naming ``what`` after a generous limit."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while not await predicate():
        assert loop.time() < end, f"never happened: {what}"
        await asyncio.sleep(0.1)


def hangs_up_in_the_ivr(n: int) -> CallerModel:
    """A caller who listens to the greeting and hangs up: the backend that took it records the call."""
    return CallerModel(number=f"38067{n:07d}", patience=Distribution(3.0, fixed=True))


async def test_standby_refuses_fastagi_and_takes_over_within_seconds_of_a_sigkill(
    tmp_path: Path, pg_server_dsn: str
) -> None:
    """Active serves, standby refuses FastAGI and says so; SIGKILL the active: the standby serves the next call."""
    rig = pair_rig(tmp_path)
    first_agi, second_agi = free_port(), free_port()
    async with scratch_database(pg_server_dsn) as dsn, shipped_pbx(rig, first_agi, scale=SCALE) as pbx:
        pbx.ast.agi_map[f"{STANDBY}:4573"] = AgiTarget("127.0.0.1", second_agi)
        first = pair_backend(rig, dsn, "first", ami_port=pbx.ami.port, agi_port=first_agi)
        second = pair_backend(rig, dsn, "second", ami_port=pbx.ami.port, agi_port=second_agi)
        first.start()
        try:
            body = await wait_role(first, "active")
            assert body["components"]["ha"] == {
                "ok": True,
                "detail": f"active, holding lock {DEFAULT_HA_LOCK_KEY}",
            }
            second.start()
            await wait_role(second, "standby")

            async def says_who_holds_it() -> bool:
                answer = await health(second)
                assert answer is not None and role(answer) == "standby", answer
                ha = answer[1]["components"]["ha"]
                assert not ha["ok"]
                # First "connecting to the database", then the holder once it has tried.
                return bool(
                    ha["detail"].startswith(f"standby, waiting for lock {DEFAULT_HA_LOCK_KEY}: held by")
                )

            await eventually(says_who_holds_it, "the standby naming the lock's holder")
            assert not await refuses(first_agi)
            assert await refuses(second_agi)
            assert await metric(first, "callcenter_ha_active") == 1.0
            assert await metric(second, "callcenter_ha_active") == 0.0

            before = await asyncio.wait_for(pbx.call(hangs_up_in_the_ivr(1)), 60)

            first.kill()
            await wait_role(second, "active")  # polled; the limit is only there to end a hang
            assert not await refuses(second_agi)
            assert await refuses(first_agi)
            after = await asyncio.wait_for(pbx.call(hangs_up_in_the_ivr(2)), 60)

            ids = {before.uniqueid, after.uniqueid}
            await eventually(lambda: _recorded(dsn, ids), "both calls recorded by the backend that took them")
        finally:
            first.stop()
            second.stop()
    # Neither call took the survival path: each was taken by the active backend of its moment.
    for outcome in (before, after):
        assert contract.SPOOLED_VARIABLE not in outcome.variables, outcome.variables
    assert not list(rig.spool.glob("*.json"))
    second_log = second.log_path.read_text(encoding="utf-8")
    assert "ha_standby" in second_log and "ha_active" in second_log


async def _recorded(dsn: str, linkedids: set[str]) -> bool:
    """True once every call in ``linkedids`` has an appeal record the backend wrote itself."""
    rows = dict(await appeal_rows(dsn))
    return all(linkedid in rows and rows[linkedid] is None for linkedid in linkedids)


#: The lock tests need no PBX: without AMI the active's /healthz is 200 on the database and the lock.
NO_AMI = {"CALLCENTER_AMI_ENABLED": "false"}


def lone_backend(rig: FaultRig, dsn: str, name: str) -> tuple[Backend, int]:
    """A backend of the pair without AMI, and its FastAGI port."""
    agi_port = free_port()
    backend = pair_backend(rig, dsn, name, ami_port=free_port(), agi_port=agi_port)
    backend.env.update(NO_AMI)
    return backend, agi_port


def log_of(backend: Backend) -> str:
    return backend.log_path.read_text(encoding="utf-8", errors="replace")


async def test_killing_the_active_lock_session_leaves_exactly_one_backend_active(
    tmp_path: Path, pg_server_dsn: str
) -> None:
    """``pg_terminate_backend`` on the active's lock session while the standby runs: one active, never two.

    Either the active wins its lock back at once (the standby stays standby), or the standby took
    it first and the old active steps down with exit status 3. Both are right; two active is not.
    """
    rig = make_rig(tmp_path)
    async with scratch_database(pg_server_dsn) as dsn:
        first, first_agi = lone_backend(rig, dsn, "first")
        second, second_agi = lone_backend(rig, dsn, "second")
        first.start()
        try:
            await wait_role(first, "active")
            second.start()
            await wait_role(second, "standby")
            killed = await terminate_lock_session(dsn)

            async def settled() -> bool:
                assert first.proc is not None
                if first.proc.poll() is not None:
                    return role(await health(second)) == "active"
                return (
                    "ha_lock_regained" in log_of(first)
                    and role(await health(first)) == "active"
                    and role(await health(second)) == "standby"
                )

            await eventually(settled, "one backend active again")
            assert first.proc is not None
            if first.proc.poll() is not None:
                # The standby won the race: the old active stepped down and exited for systemd.
                assert first.proc.returncode == EXIT_STEPPED_DOWN, log_of(first)
                assert "ha_lost_to_other" in log_of(first)
                assert "ha_active" in log_of(second)
                survivors = [second]
            else:
                assert "ha_active" not in log_of(second)
                survivors = [first, second]
            # Settled means settled: a while later it is still exactly one.
            await asyncio.sleep(1.0)
            roles = [role(await health(b)) for b in survivors]
            assert roles.count("active") == 1 and roles.count(None) == 0, roles
            listening = [not await refuses(port) for port in (first_agi, second_agi)]
            assert listening.count(True) == 1, listening
            holders = await lock_holders(dsn)
            assert len(holders) == 1 and holders != [killed]
        finally:
            first.stop()
            second.stop()


async def test_an_active_that_finds_its_lock_taken_steps_down_exits_3_and_returns_as_standby(
    tmp_path: Path, pg_server_dsn: str
) -> None:
    """Another session is granted the lock when the active's session dies: exit 3, then standby until it is free."""
    rig = make_rig(tmp_path)
    async with scratch_database(pg_server_dsn) as dsn:
        backend, agi_port = lone_backend(rig, dsn, "backend")
        other = await asyncpg.connect(dsn)
        backend.start()
        try:
            await wait_role(backend, "active")
            # The other session queues for the lock, so the server grants it the moment the
            # active's session ends, before the active can reconnect.
            queued = asyncio.create_task(other.execute("SELECT pg_advisory_lock($1)", DEFAULT_HA_LOCK_KEY))
            other_pid = other.get_server_pid()

            async def waiting() -> bool:
                conn = await asyncpg.connect(dsn)
                try:
                    granted = await conn.fetchval(
                        "SELECT granted FROM pg_locks WHERE locktype = 'advisory' AND pid = $1", other_pid
                    )
                finally:
                    await conn.close()
                return granted is False

            await eventually(waiting, "the other session queued for the lock")
            await terminate_lock_session(dsn)
            await asyncio.wait_for(queued, 30)
            assert backend.proc is not None
            status = await asyncio.to_thread(backend.proc.wait, 60)
            assert status == EXIT_STEPPED_DOWN, log_of(backend)
            assert "ha_lost_to_other" in log_of(backend)
            assert "stepped down as the active backend" in log_of(backend)
            assert await refuses(agi_port)

            # systemd's restart: it comes back as the standby while the lock is held elsewhere...
            backend.start()
            await wait_role(backend, "standby")

            async def names_the_holder() -> bool:
                answer = await health(backend)
                assert answer is not None and role(answer) == "standby", answer
                return f"(pid {other_pid})" in answer[1]["components"]["ha"]["detail"]

            await eventually(names_the_holder, "the standby naming the other session")
            assert await refuses(agi_port)
            # ...and serves once the lock is free.
            assert await other.fetchval("SELECT pg_advisory_unlock($1)", DEFAULT_HA_LOCK_KEY)
            await wait_role(backend, "active")
            assert not await refuses(agi_port)
        finally:
            backend.stop()
            await other.close()
