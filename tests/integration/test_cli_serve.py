"""The `callcenter` command end to end: it refuses bad settings, serves /healthz, stops cleanly."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def callcenter(*args: str, env: dict[str, str] | None = None, **kwargs: object) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    return subprocess.Popen(
        [sys.executable, "-m", "callcenter.cli", *args],
        cwd=REPO_ROOT,
        env={**base, "CALLCENTER_CONFIG": "/dev/null", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


def wait_for_health(port: int, proc: subprocess.Popen[str], timeout_s: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"process exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                body: dict[str, object] = json.load(response)
                return body
        except OSError:
            time.sleep(0.1)
    raise AssertionError("no /healthz answer in time")


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, err


@pytest.fixture
def scratch_database(pg_server_dsn: str) -> Iterator[str]:
    """A whole database of its own (the service under test migrates its public schema)."""
    import asyncio

    name = f"cc_cli_{uuid.uuid4().hex[:8]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(pg_server_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base, _, query = pg_server_dsn.partition("?")
    dsn = base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")
    try:
        yield dsn
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_bad_settings_stop_the_process_before_it_starts() -> None:
    """Bad values exit with status 2 and list each problem with its source; nothing listens."""
    port = free_port()
    proc = callcenter(
        "--set",
        f"http.port={port}",
        "serve",
        env={"CALLCENTER_AGI_PORT": "70000", "CALLCENTER_AMI_AUTH": "kerberos"},
    )
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "environment CALLCENTER_AGI_PORT = '70000': expected a TCP port between 1 and 65535" in err
    assert "environment CALLCENTER_AMI_AUTH = 'kerberos'" in err
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_every_command_has_help() -> None:
    """`--help` works at every level of the command."""
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["demo", "--help"],
        ["db", "migrate", "--help"],
        ["flows", "validate", "--help"],
        ["users", "add", "--help"],
        ["report", "--help"],
        ["report-official", "--help"],
        ["export-appeals", "--help"],
        ["asterisk-conf", "render", "--help"],
        ["settings", "--help"],
    ):
        proc = callcenter(*args)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "usage: callcenter" in out


def test_serve_answers_healthz_and_stops_on_sigint(scratch_database: str) -> None:
    """`serve` migrates the database, reports healthy components, and exits 0 on Ctrl-C."""
    port = free_port()
    proc = callcenter(
        "serve",
        "--http-port",
        str(port),
        env={"CALLCENTER_DATABASE_URL": scratch_database, "CALLCENTER_AMI_ENABLED": "false"},
    )
    try:
        body = wait_for_health(port, proc)
    finally:
        code, err = stop(proc)
    assert body["status"] == "ok"
    components = body["components"]
    assert isinstance(components, dict)
    assert components["database"]["ok"] is True
    assert components["ami"]["ok"] is True
    assert code == 0, err
    assert "Traceback" not in err


def test_db_migrate_twice_is_safe(scratch_database: str) -> None:
    """`db migrate` applies every migration and a second run changes nothing."""
    outputs = []
    for _ in range(2):
        proc = callcenter("db", "migrate", env={"CALLCENTER_DATABASE_URL": scratch_database})
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        outputs.append(out)
    assert "0001_foundation" in outputs[0]
    assert outputs[0] == outputs[1]


@pytest.fixture
def embedded_data_dir() -> Iterator[Path]:
    """A data folder for an embedded server, under var/ (not the private pytest temp folder:
    the server runs as its own system user and must be able to reach the folder)."""
    path = REPO_ROOT / "var" / f"test-demo-{uuid.uuid4().hex[:8]}" / "pg"
    try:
        yield path
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


def test_demo_starts_embedded_postgres_and_keeps_data_between_runs(embedded_data_dir: Path) -> None:
    """The demo runs on an embedded PostgreSQL in its data folder, answers /healthz, and leaves no server running."""
    data_dir = embedded_data_dir
    for _ in range(2):
        port = free_port()
        proc = callcenter(
            "demo",
            "--http-port",
            str(port),
            "--agi-port",
            str(free_port()),
            env={"CALLCENTER_DATABASE_DATA_DIR": str(data_dir)},
        )
        try:
            body = wait_for_health(port, proc, timeout_s=90)
        finally:
            code, err = stop(proc)
        assert body["status"] == "ok", body
        assert code == 0, err
        assert not (data_dir / "postmaster.pid").exists(), "the embedded server was left running"
    assert (data_dir / "PG_VERSION").exists()
