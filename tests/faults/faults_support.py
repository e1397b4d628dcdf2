"""Helpers for the fault tests: a scratch database, the backend as a process, the shipped dialplan.

The fault tests run the backend the way it is deployed (``python -m callcenter.cli serve`` in a
process of its own, so it can be killed with SIGKILL) against the simulated PBX in the test
process. The PBX runs the rendered ``extensions.conf`` and ``queues.conf`` (the survival path
with the real ``agi/survival_spool.py``, run as Asterisk runs a classic AGI) so the calls the
backend loses take exactly the path a real PBX would send them down; that rig is the Asterisk
configuration tests' own, from ``tests/integration/test_asterisk_conf_support.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from callcenter.app import Database, Runtime, start_runtime
from callcenter.bootstrap import CallHandling, start_call_handling
from callcenter.config import AgiSettings, AmiSettings, IvrSettings, PathSettings, Settings
from callcenter.services.live_stats import LiveStats
from callcenter.sim.asterisk import AgiTarget
from callcenter.sim.clock import SimClock
from callcenter.sim.load import SimulatedPbx
from callcenter.sim.models import AgentPhone, CallerModel, Distribution
from callcenter.storage.users import Role
from tests.integration.test_asterisk_conf_support import (
    REPO_ROOT,
    Rendered,
    closed_port,
    pbx_with,
    render_for_sim,
)
from tests.integration.test_auth_support import PASSWORD, add_user

#: A short line for the fault tests: a greeting, then a menu where 0 joins the general queue.
#: Callers who press nothing stay in the IVR (the menu repeats) until they give up.
FAULT_FLOW = """\
description: Fault-test line; a greeting, a menu, 0 for the general queue.
languages: [uk]
start: welcome
prompts:
  welcome: {language: uk, text: "Вітаємо на гарячій лінії."}
  menu: {language: uk, text: "Щоб поговорити з оператором, натисніть 0."}
nodes:
  welcome: {type: play, prompt: welcome, interruptible: false, next: menu}
  menu:
    type: menu
    prompt: menu
    choices: {"0": operator}
    retries: 10
    timeout: 10
    fallback: bye
  operator: {type: queue, queue: general, skills: [general], fallback: bye}
  bye: {type: hangup}
"""


#: A local TCP port nothing listens on now, for the backend's servers.
free_port = closed_port


async def until(predicate: Callable[[], bool], what: str, limit_s: float = 20.0) -> None:
    """Wait (real time) until ``predicate`` holds; fail naming ``what`` after ``limit_s``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit_s
    while not predicate():
        assert loop.time() < end, f"never happened: {what}"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def scratch_database(server_dsn: str) -> AsyncIterator[str]:
    """A whole database of its own on the test server (the backend migrates its public schema)."""
    name = f"cc_fault_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, query = server_dsn.partition("?")
    dsn = base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")
    try:
        yield dsn
    finally:
        conn = await asyncpg.connect(server_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@dataclass
class Backend:
    """``callcenter serve`` in a process of its own, restartable, killable."""

    env: dict[str, str]
    http_port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        """Start the process (its output goes to ``log_path``, appended across restarts)."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "callcenter.cli", "serve"],
                cwd=REPO_ROOT,
                env={**base, "CALLCENTER_CONFIG": "/dev/null", **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def wait_healthy(self, limit_s: float = 40.0) -> dict[str, Any]:
        """Poll ``/healthz`` until it answers; fail with the log if the process exits first."""
        url = f"http://127.0.0.1:{self.http_port}/healthz"
        deadline = time.monotonic() + limit_s
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise AssertionError(f"backend exited {self.proc.returncode}:\n{self.log()}")
                with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
                    async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                        body: dict[str, Any] = json.loads(await response.text())
                        return body
                await asyncio.sleep(0.1)
        raise AssertionError(f"no /healthz answer in time:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, open sockets are simply gone."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Ctrl-C and wait; SIGKILL if it does not stop in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log(self) -> str:
        """The process output so far (for failure messages)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-6000:]


@dataclass(kw_only=True)
class FaultRig(Rendered):
    """The rendered configuration (spool folder included) and the flows and queue folders of one fault test."""

    flows: Path
    queues: Path


def make_rig(tmp_path: Path) -> FaultRig:
    """Render the Asterisk files (spool folder ``tmp_path/spool``) and write the fault-test flow."""
    rendered = render_for_sim(tmp_path)
    flows = tmp_path / "flows"
    flows.mkdir()
    # The shipped queue files, with a one-second wrap-up so a call's facts are final at once.
    queues = tmp_path / "queue"
    queues.mkdir()
    for source in (REPO_ROOT / "queue").glob("*.yaml"):
        text = re.sub(r"wrap_up_s: \d+", "wrap_up_s: 1", source.read_text(encoding="utf-8"))
        (queues / source.name).write_text(text, encoding="utf-8")
    (flows / "hotline.yaml").write_text(FAULT_FLOW, encoding="utf-8")
    return FaultRig(**vars(rendered), flows=flows, queues=queues)


def backend_env(rig: FaultRig, dsn: str, *, ami_port: int, agi_port: int, http_port: int) -> dict[str, str]:
    """The ``CALLCENTER_*`` settings of the backend under test."""
    return {
        "CALLCENTER_DATABASE_URL": dsn,
        "CALLCENTER_AMI_HOST": "127.0.0.1",
        "CALLCENTER_AMI_PORT": str(ami_port),
        "CALLCENTER_AMI_USERNAME": "cc",
        "CALLCENTER_AMI_SECRET": "ccsecret",
        "CALLCENTER_AGI_HOST": "127.0.0.1",
        "CALLCENTER_AGI_PORT": str(agi_port),
        "CALLCENTER_HTTP_PORT": str(http_port),
        "CALLCENTER_PATHS_FLOWS_DIR": str(rig.flows),
        "CALLCENTER_PATHS_QUEUE_DIR": str(rig.queues),
        "CALLCENTER_PATHS_SPOOL_DIR": str(rig.spool),
        "CALLCENTER_PATHS_SOUNDS_DIR": str(rig.root / "sounds"),
        "CALLCENTER_PATHS_RECORDINGS_DIR": str(rig.root / "recordings"),
        "CALLCENTER_IVR_PRERENDER_PROMPTS": "false",
        "CALLCENTER_LOG_FORMAT": "json",
    }


def shipped_pbx(
    rig: FaultRig, backend_agi_port: int, *, scale: float
) -> AbstractAsyncContextManager[SimulatedPbx]:
    """A simulated PBX running the rendered dialplan; the survival members' phones answer in 1 s
    and talk for 5 s, always, so the fault tests can count on when a survival call ends."""
    return pbx_with(
        rig,
        backend_agi_port,
        scale=scale,
        answer=Distribution(1.0, fixed=True),
        talk=Distribution(5.0, fixed=True),
        default_sound=2.0,
    )


async def staff_paused_agent(dsn: str, http_port: int, agent_id: str) -> None:
    """Create ``agent_id``'s user, sign in, log in to the ACD and pause: callers then wait."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    try:
        await add_user(pool, agent_id, Role.AGENT)
    finally:
        await pool.close()
    base = f"http://127.0.0.1:{http_port}"
    # The session cookie comes from an IP address, which aiohttp's default jar refuses to keep.
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{base}/api/login", json={"login": agent_id, "password": PASSWORD}) as r:
            assert r.status == 200, await r.text()
            csrf = (await r.json())["csrf_token"]
        headers = {"X-CSRF-Token": csrf, "Origin": base}
        async with http.post(f"{base}/api/agents/me/login", headers=headers) as r:
            assert r.status == 200, await r.text()
        async with http.post(f"{base}/api/agents/me/pause", headers=headers, json={"reason": "break"}) as r:
            assert r.status == 200, await r.text()


async def appeal_rows(dsn: str) -> list[tuple[str, str | None]]:
    """Every appeal record's (linkedid, survival reason)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT linkedid, survival_reason FROM appeals")
    finally:
        await conn.close()
    return [(row["linkedid"], row["survival_reason"]) for row in rows]


@contextlib.asynccontextmanager
async def backend_in_process(settings: Settings, pool: Any) -> AsyncIterator[tuple[Runtime, CallHandling]]:
    """The backend's services wired by the composition root on ``pool``, FastAGI listening.

    The web server is not started (the tests read the services directly); everything else is
    what ``callcenter serve`` runs.
    """
    async with contextlib.AsyncExitStack() as stack:
        runtime = await start_runtime(settings, Database(pool=pool, dsn=""), stack)
        handling = await start_call_handling(runtime, stack)
        await runtime.agi.start()
        stack.push_async_callback(runtime.agi.close)
        yield runtime, handling


def in_process_settings(
    rig: FaultRig, *, ami_port: int, ping_interval_s: float = 0.5, action_timeout_s: float = 2.0
) -> Settings:
    """Settings of an in-process backend: FastAGI on a free port, AMI at the simulated PBX."""
    return Settings(
        ami=AmiSettings(
            host="127.0.0.1",
            port=ami_port,
            username="cc",
            secret="ccsecret",
            ping_interval_s=ping_interval_s,
            action_timeout_s=action_timeout_s,
        ),
        agi=AgiSettings(host="127.0.0.1", port=0),
        paths=PathSettings(
            flows_dir=rig.flows,
            queue_dir=rig.queues,
            spool_dir=rig.spool,
            sounds_dir=rig.root / "sounds",
            recordings_dir=rig.root / "recordings",
        ),
        ivr=IvrSettings(prerender_prompts=False),
    )


TALK_S = 3.0


@dataclass
class Line:
    """The simulated PBX, the backend's services and a wallboard fed from the backend's bus."""

    pbx: SimulatedPbx
    handling: CallHandling
    ami: Any
    live: LiveStats


@contextlib.asynccontextmanager
async def running_line(rig: FaultRig, pool: Any) -> AsyncIterator[Line]:
    """Two agents logged in with phones that answer in 1 s and talk for ``TALK_S``."""
    phones = [
        AgentPhone(
            agent, answer_delay=Distribution(1.0, fixed=True), talk_time=Distribution(TALK_S, fixed=True)
        )
        for agent in ("op101", "op102")
    ]
    # Real time (scale 1): the backend's clock and the PBX's durations must agree to compare them.
    pbx = SimulatedPbx(SimClock(1.0), phones=phones, default_sound=0.5)
    await pbx.start()
    try:
        settings = in_process_settings(rig, ami_port=pbx.ami.port)
        async with backend_in_process(settings, pool) as (runtime, handling):
            pbx.ast.agi_map["127.0.0.1:4573"] = AgiTarget("127.0.0.1", runtime.agi.bound_port)
            assert runtime.ami is not None
            await runtime.ami.wait_ready(5.0)
            live = LiveStats(runtime.bus, handling.acd)
            await live.start()
            try:
                for agent in ("op101", "op102"):
                    handling.acd.login(agent)
                yield Line(pbx, handling, runtime.ami, live)
            finally:
                await live.stop()
    finally:
        await pbx.stop()


def queue_caller(n: int) -> CallerModel:
    """A caller who presses 0 for an operator and lets the agent end the call."""
    return CallerModel(
        number=f"38063{n:07d}",
        dtmf={"*": "0"},
        reaction=Distribution(0.3, fixed=True),
        patience=Distribution(120, fixed=True),
    )
