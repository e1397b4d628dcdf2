"""Soak: ~1,000 concurrent simulated calls for 10 simulated minutes against the whole backend.

The backend runs in a process of its own, built by the composition root exactly as ``callcenter
serve`` builds it (``open_database``, ``start_runtime``, ``start_call_handling``), with its
FastAGI server and AMI client on loopback; the simulated PBX (``callcenter.sim``) runs in this
process and places calls with Poisson arrivals, time-scaled by ``--scale``. Callers press 1 for
an operator (most) or 2 for an information message and then hang up; agents answer in about 3 s
and talk for about ``--talk`` seconds; callers give up after about ``--patience`` seconds.

Per simulated minute it prints:

* AGI reply latency, p50 and p99: the backend's turnaround, measured on the PBX side as the
  real time between the PBX answering one AGI command and the backend's next command on the
  same channel (what a caller would hear as dead air);
* ACD routing latency, p50 and p99: real time spent in the ACD core's decisions (a caller
  arrives, an agent is free, a call ends, a timer fires), measured inside the backend;
* the backend's resident memory (VmRSS) and its CPU use (process time over wall time, %);
* the p99 event-loop lag of the backend process and of this (PBX) process, in ms: when the PBX's
  own loop is saturated, the AGI figure measures the simulator, not the backend;
* calls in the system, and offered / answered / abandoned / lost so far.

A call is *lost* when the backend did not handle it (AGISTATUS=FAILURE: refused, overloaded or
failed, so it took the survival path, or the backend never set its IVR result). Calls still up
when the drain ends are counted apart (talking or waiting). At the end every offered call must
have its appeal record in the database (counted by linkedid). Exit status 1 if any is missing.

Bounded: ``--minutes`` simulated minutes of arrivals, then at most ``--drain`` simulated seconds
for the calls still up. Loopback only; the database is ``--database-url`` or an embedded
PostgreSQL in ``var/bench-soak-pg`` (a fresh database per run, dropped afterwards).

    .venv/bin/python bench/soak_load.py [--scale 4] [--rate 5] [--agents 500] [--minutes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parents[1]

FLOW = """\
description: Soak line; 1 for an operator, 2 for an information message.
languages: [uk]
start: welcome
prompts:
  welcome: {language: uk, text: "Вітаємо на гарячій лінії. Розмова записується."}
  menu: {language: uk, text: "Оператор — 1. Довідка — 2."}
  info: {language: uk, text: "Довідкова інформація."}
nodes:
  welcome: {type: play, prompt: welcome, interruptible: false, next: menu}
  menu:
    type: menu
    prompt: menu
    choices: {"1": operator, "2": info}
    fallback: operator
  operator: {type: queue, queue: general, skills: [general], fallback: bye}
  info: {type: play, prompt: info, next: bye}
  bye: {type: hangup}
"""

#: The ACD core's decision entry points whose time is the routing latency.
DECISIONS = (
    "caller_arrives",
    "caller_abandons",
    "call_answered",
    "call_ended",
    "ring_no_answer",
    "tick",
    "agent_available",
    "agent_login",
)


def quantiles(values: list[float]) -> tuple[float, float]:
    """p50 and p99 of ``values`` (0, 0 when empty)."""
    if not values:
        return 0.0, 0.0
    ordered = sorted(values)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def write_config(folder: Path, agents: int) -> tuple[Path, Path]:
    """The soak flow and the shipped queue files with ``agents`` general agents and 5 s wrap-up."""
    flows, queues = folder / "flows", folder / "queue"
    flows.mkdir()
    queues.mkdir()
    (flows / "hotline.yaml").write_text(FLOW, encoding="utf-8")
    for source in (ROOT / "queue").glob("*.yaml"):
        text = re.sub(r"wrap_up_s: \d+", "wrap_up_s: 5", source.read_text(encoding="utf-8"))
        (queues / source.name).write_text(text, encoding="utf-8")
    lines = ["agents:"] + [
        f'  - {{id: op{1000 + i}, name: "Оператор {1000 + i}", device: "PJSIP/op{1000 + i}", skills: {{general: 2}}}}'
        for i in range(agents)
    ]
    (queues / "agents.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return flows, queues


# ---- the backend process ---------------------------------------------------------------------


def instrument(state: Any, sink: list[float]) -> None:
    """Time every decision entry point of the ACD core into ``sink`` (seconds)."""
    for name in DECISIONS:
        original = getattr(state, name, None)
        if original is None:
            continue

        def timed(*args: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                sink.append(time.perf_counter() - started)

        setattr(state, name, timed)


class LoopLag:
    """How late a 50 ms timer fires on this process's event loop: a saturated loop shows here."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.window: list[float] = []

    async def run(self) -> None:
        """Sample until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self.interval_s)
            self.window.append(max(0.0, loop.time() - started - self.interval_s))

    def take(self) -> list[float]:
        """The samples since the last call."""
        window, self.window = self.window, []
        return window


def rss_kib() -> int:
    """This process's resident memory (KiB) from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def object_counts() -> dict[str, int]:
    """Live objects by type name (gc-tracked ones): what grows between two calls is a lead."""
    counts: dict[str, int] = {}
    for obj in gc.get_objects():
        name = type(obj).__qualname__
        counts[name] = counts.get(name, 0) + 1
    return counts


async def backend_child(config: dict[str, Any]) -> None:
    """Run the backend; answer ``stats`` lines on stdin with one JSON line on stdout."""
    from callcenter.app import open_database, start_runtime
    from callcenter.bootstrap import start_call_handling
    from callcenter.config import (
        AgiSettings,
        AmiSettings,
        DatabaseSettings,
        IvrSettings,
        PathSettings,
        Settings,
    )
    from callcenter.logs import configure_logging

    configure_logging(json=True, level="warning")
    folder = Path(config["folder"])
    settings = Settings(
        database=DatabaseSettings(url=config["dsn"], pool_min=2, pool_max=20),
        ami=AmiSettings(port=config["ami_port"], username="cc", secret="ccsecret", ping_interval_s=5.0),
        agi=AgiSettings(port=0, max_sessions=5000),
        paths=PathSettings(
            flows_dir=folder / "flows",
            queue_dir=folder / "queue",
            spool_dir=folder / "spool",
            sounds_dir=folder / "sounds",
            recordings_dir=folder / "recordings",
        ),
        ivr=IvrSettings(prerender_prompts=False),
    )
    routing: list[float] = []
    baseline = None
    if config.get("trace_memory"):
        tracemalloc.start(1)
        baseline = tracemalloc.take_snapshot()
    counts_before = object_counts() if config.get("object_counts") else None
    previous_snap: tracemalloc.Snapshot | None = None
    cpu_mark = (time.process_time(), time.monotonic())
    lag = LoopLag()
    lag_task = asyncio.ensure_future(lag.run())
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    async with open_database(settings) as database, contextlib.AsyncExitStack() as stack:
        runtime = await start_runtime(settings, database, stack)
        handling = await start_call_handling(runtime, stack)
        instrument(handling.acd.state, routing)
        await runtime.agi.start()
        stack.push_async_callback(runtime.agi.close)
        assert runtime.ami is not None
        await runtime.ami.wait_ready(10.0)
        for agent in list(handling.acd.state.config.agents):
            handling.acd.login(agent)
        print(json.dumps({"agi_port": runtime.agi.bound_port}), flush=True)
        while line := await stdin.readline():
            if line.strip() != b"stats":
                break
            window, routing[:] = list(routing), []
            p50, p99 = quantiles(window)
            cpu_now = (time.process_time(), time.monotonic())
            cpu_share = (cpu_now[0] - cpu_mark[0]) / max(1e-9, cpu_now[1] - cpu_mark[1])
            cpu_mark = cpu_now
            stats: dict[str, Any] = {
                "cpu_percent": cpu_share * 100,
                "loop_lag_p99_ms": quantiles(lag.take())[1] * 1e3,
                "routing_p50_us": p50 * 1e6,
                "routing_p99_us": p99 * 1e6,
                "decisions": len(window),
                "rss_mib": rss_kib() / 1024,
                "agi_sessions": runtime.agi.active_sessions,
            }
            if baseline is not None:
                snap = tracemalloc.take_snapshot()
                growth = snap.compare_to(baseline, "filename")[:6]
                stats["growth_kib"] = [
                    [str(g.traceback[0].filename).removeprefix(str(ROOT) + "/"), g.size_diff / 1024]
                    for g in growth
                ]
                # What grew in the last minute, by line: a steady leak shows every minute.
                last = snap.compare_to(previous_snap or baseline, "lineno")[:5]
                stats["minute_growth_kib"] = [
                    [
                        f"{str(g.traceback[0].filename).removeprefix(str(ROOT) + '/')}:{g.traceback[0].lineno}",
                        g.size_diff / 1024,
                    ]
                    for g in last
                ]
                previous_snap = snap
                stats["traced_mib"] = tracemalloc.get_traced_memory()[0] / 2**20
            if counts_before is not None:
                counts_now = object_counts()
                growth_n = sorted(
                    ((counts_now[k] - counts_before.get(k, 0), k) for k in counts_now), reverse=True
                )[:8]
                stats["object_growth"] = [[k, n] for n, k in growth_n]
            print(json.dumps(stats), flush=True)
    lag_task.cancel()


# ---- the PBX side ----------------------------------------------------------------------------


class AgiTurnaround:
    """Real time from the PBX's reply to an AGI command to the backend's next command, per channel."""

    def __init__(self) -> None:
        self.replied: dict[str, float] = {}
        self.window: list[float] = []

    def __call__(self, name: str, privilege: str, body: list[tuple[str, str]]) -> None:
        if name == "AGIExecEnd":
            self.replied[dict(body).get("Uniqueid", "")] = time.perf_counter()
        elif name == "AGIExecStart":
            sent = self.replied.pop(dict(body).get("Uniqueid", ""), None)
            if sent is not None:
                self.window.append(time.perf_counter() - sent)
        elif name == "Hangup":
            self.replied.pop(dict(body).get("Uniqueid", ""), None)

    def take(self) -> list[float]:
        """The latencies since the last call."""
        window, self.window = self.window, []
        return window


def classify(outcome: Any) -> str:
    """answered / abandoned / ivr (information only) / lost / up (not ended yet)."""
    if outcome.ended is None:
        return "up"
    if outcome.variables.get("AGISTATUS") == "FAILURE" or not outcome.variables.get("CC_IVR_RESULT"):
        return "lost"
    if outcome.talked:
        return "answered"
    if outcome.abandoned:
        return "abandoned"
    return "ivr"


async def soak(args: argparse.Namespace) -> int:
    """Run the load, print the per-minute table and the totals; 1 if a call or a record was lost."""
    from callcenter.logs import configure_logging
    from callcenter.sim.ami_server import AmiUser
    from callcenter.sim.asterisk import AgiTarget
    from callcenter.sim.clock import SimClock
    from callcenter.sim.load import SimulatedPbx
    from callcenter.sim.models import AgentPhone, CallerModel, Distribution
    from callcenter.storage.db import ensure_database, start_embedded

    configure_logging(json=True, level="error")
    embedded = None
    server_dsn = args.database_url
    if not server_dsn:
        embedded = await asyncio.to_thread(start_embedded, ROOT / "var" / "bench-soak-pg")
        server_dsn = embedded.dsn("postgres")
    name = f"soak_{uuid.uuid4().hex[:8]}"
    await ensure_database(server_dsn, name)
    base, _, query = server_dsn.partition("?")
    dsn = base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")
    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    write_config(folder, args.agents)
    rng = random.Random(args.seed)
    clock = SimClock(args.scale, epoch=time.time())
    phones = [
        AgentPhone(
            f"op{1000 + i}", answer_delay=Distribution(3.0, 1.0), talk_time=Distribution(args.talk, 20.0)
        )
        for i in range(args.agents)
    ]
    # The AMI user's classes are those of the shipped manager.conf (read = system,call,agent):
    # no dialplan or agi events, which a real deployment does not send to the backend either.
    user = AmiUser("ccsecret", read=frozenset({"system", "call", "agent"}))
    pbx = SimulatedPbx(clock, phones=phones, default_sound=4.0, seed=args.seed, ami_users={"cc": user})
    await pbx.start()
    turnaround = AgiTurnaround()
    sim_lag = LoopLag()
    sim_lag_task = asyncio.ensure_future(sim_lag.run())
    pbx.ast.pbx.listeners.append(turnaround)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--backend-child",
        json.dumps(
            {
                "dsn": dsn,
                "ami_port": pbx.ami.port,
                "folder": str(folder),
                "trace_memory": args.trace_memory,
                "object_counts": args.object_counts,
            }
        ),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=(folder / "backend.log").open("wb"),
        limit=1 << 20,
    )
    assert child.stdin is not None and child.stdout is not None
    status = 1
    try:
        ready = json.loads(await asyncio.wait_for(child.stdout.readline(), 120))
        pbx.ast.agi_map["127.0.0.1:4573"] = AgiTarget("127.0.0.1", ready["agi_port"])

        async def child_stats() -> dict[str, Any]:
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(b"stats\n")
            await child.stdin.drain()
            stats: dict[str, Any] = json.loads(await child.stdout.readline())
            return stats

        await child_stats()  # start the first window now
        calls: list[asyncio.Task[Any]] = []

        def caller(n: int) -> CallerModel:
            to_operator = rng.random() < 0.85
            return CallerModel(
                number=f"38050{n:07d}",
                dtmf={"*": "1" if to_operator else "2"},
                reaction=Distribution(2.0, 0.5),
                patience=Distribution(args.patience, 20.0),
            )

        async def arrivals() -> None:
            begun, elapsed, n = clock.now(), 0.0, 0
            while True:
                elapsed += rng.expovariate(args.rate)
                if elapsed >= args.minutes * 60:
                    return
                await clock.sleep(max(0.0, begun + elapsed - clock.now()))
                calls.append(asyncio.ensure_future(pbx.call(caller(n))))
                n += 1

        header = (
            f"{'min':>4} {'agi p50 ms':>10} {'agi p99 ms':>10} {'route p50 µs':>12} {'route p99 µs':>12} "
            f"{'rss MiB':>8} {'be cpu%':>7} {'be lag':>7} {'sim lag':>7} {'in sys':>7} {'offered':>8} {'answered':>8} {'abandon':>8} {'lost':>5}"
        )
        print(
            f"soak: scale {args.scale}, {args.agents} agents, {args.rate}/s arrivals, {args.minutes} sim-min"
        )
        print(header)
        feeder = asyncio.ensure_future(arrivals())
        rows: list[dict[str, float]] = []
        minute = 0
        drain_end = args.minutes * 60 + args.drain
        start = clock.now()
        while True:
            minute += 1
            await clock.sleep(start + minute * 60 - clock.now())
            agi = quantiles(turnaround.take())
            stats = await child_stats()
            kinds = [classify(o) for o in pbx.outcomes]
            row = {
                "agi_p50_ms": agi[0] * 1e3,
                "agi_p99_ms": agi[1] * 1e3,
                "route_p50_us": stats["routing_p50_us"],
                "route_p99_us": stats["routing_p99_us"],
                "rss_mib": stats["rss_mib"],
                "backend_cpu_percent": stats["cpu_percent"],
                "backend_lag_p99_ms": stats["loop_lag_p99_ms"],
                "sim_lag_p99_ms": quantiles(sim_lag.take())[1] * 1e3,
                "in_system": kinds.count("up"),
            }
            rows.append(row)
            print(
                f"{minute:>4} {row['agi_p50_ms']:>10.2f} {row['agi_p99_ms']:>10.2f} "
                f"{row['route_p50_us']:>12.1f} {row['route_p99_us']:>12.1f} {row['rss_mib']:>8.1f} "
                f"{row['backend_cpu_percent']:>7.0f} {row['backend_lag_p99_ms']:>7.1f} {row['sim_lag_p99_ms']:>7.1f} {row['in_system']:>7} {len(kinds):>8} {kinds.count('answered'):>8} "
                f"{kinds.count('abandoned'):>8} {kinds.count('lost'):>5}",
                flush=True,
            )
            if "minute_growth_kib" in stats:
                print(
                    f"      Python heap in use {stats['traced_mib']:.1f} MiB; grew this minute (KiB):",
                    ", ".join(f"{where} {kib:+.0f}" for where, kib in stats["minute_growth_kib"]),
                )
            if "object_growth" in stats:
                print(
                    "      objects grown since start:",
                    ", ".join(f"{k} {n:+d}" for k, n in stats["object_growth"]),
                )
            if feeder.done() and (all(c.done() for c in calls) or minute * 60 >= drain_end):
                break
        if "growth_kib" in stats:
            print("backend memory growth since start, by file (KiB):")
            for filename, kib in stats["growth_kib"]:
                print(f"  {kib:>10.0f}  {filename}")
        kinds = [classify(o) for o in pbx.outcomes]
        conn = await asyncpg.connect(dsn)
        try:
            recorded = await conn.fetchval(
                "SELECT count(*) FROM appeals WHERE linkedid = ANY($1::text[])",
                [o.uniqueid for o in pbx.outcomes],
            )
        finally:
            await conn.close()
        arrival_rows = rows[: args.minutes]
        peak = max(r["in_system"] for r in rows)
        print(
            f"totals: offered {len(kinds)}, answered {kinds.count('answered')}, abandoned "
            f"{kinds.count('abandoned')}, information only {kinds.count('ivr')}, lost "
            f"{kinds.count('lost')}, still up {kinds.count('up')}; appeal records {recorded}/{len(kinds)}; "
            f"peak calls in system {peak}"
        )
        for key, label in (
            ("agi_p99_ms", "AGI p99 ms"),
            ("route_p99_us", "routing p99 µs"),
            ("rss_mib", "RSS MiB"),
        ):
            values = [r[key] for r in arrival_rows[1:]] or [r[key] for r in arrival_rows]
            print(
                f"flatness {label}: min {min(values):.2f} median {statistics.median(values):.2f} "
                f"max {max(values):.2f} (minutes 2..{len(arrival_rows)})"
            )
        # Calls still up at the end of the drain are talking or waiting, not lost; they have records.
        status = 0 if kinds.count("lost") == 0 and recorded == len(kinds) else 1
        for task in calls:
            task.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
    finally:
        with contextlib.suppress(ProcessLookupError, BrokenPipeError, ConnectionResetError):
            child.stdin.write(b"stop\n")
            await child.stdin.drain()
        try:
            await asyncio.wait_for(child.wait(), 30)
        except TimeoutError:
            child.kill()
            await child.wait()
        sim_lag_task.cancel()
        await pbx.stop()
        conn = await asyncpg.connect(server_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        if status == 0:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"backend log kept in {folder / 'backend.log'}")
    return status


def main() -> int:
    """Parse the command line; run the soak, or the backend when started as its child."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=4.0, help="simulated seconds per real second")
    parser.add_argument("--rate", type=float, default=5.0, help="arrivals per simulated second")
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--talk", type=float, default=150.0, help="mean talk time, simulated seconds")
    parser.add_argument("--patience", type=float, default=150.0, help="mean patience, simulated seconds")
    parser.add_argument("--minutes", type=int, default=10, help="simulated minutes of arrivals")
    parser.add_argument("--drain", type=float, default=420.0, help="simulated seconds left for calls up")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--trace-memory", action="store_true", help="tracemalloc in the backend (slow): where memory grows"
    )
    parser.add_argument(
        "--object-counts",
        action="store_true",
        help="print the backend's live objects that grew most, by type, each minute",
    )
    parser.add_argument("--database-url", default="", help="PostgreSQL server (default: embedded)")
    parser.add_argument("--backend-child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.backend_child:
        asyncio.run(backend_child(json.loads(args.backend_child)))
        return 0
    return asyncio.run(soak(args))


if __name__ == "__main__":
    sys.exit(main())
