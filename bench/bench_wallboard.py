"""Benchmark: wallboard fan-out to 200 WebSocket clients vs REST polling at the same rate.

Set-up (loopback only, bounded in time): a server process runs the wallboard (``LiveStats`` and
the ``callcenter.web.wallboard`` routes) on the real ACD runtime (``AcdService``) with 3 queues
and 40 agents, while a call driver keeps 50 calls in progress: each arrives
(``CallArrived``), spends 0.5–2 s in the IVR, joins a queue, is rung to the agent the ACD picks,
answered (the ``DialEnd ANSWER`` the AMI adapter would see), talks 2–8 s, hangs up
(``CallFinished``), and the agent wraps up for 1 s. The composition root does not route real
calls through FastAGI yet, so the driver plays the call pipeline's part on the same bus and
ACD the pipeline will use; timings are compressed so the board changes several times a second.

Lag is measured on a probe: an agent with a skill no queue asks for (so it never takes a
call) is paused and made available again at random intervals of 0.25–0.6 s through the ACD, as
a supervisor's click would. Its ``AgentStateChanged`` carries the server's time, the board shows
it as the agent's ``since``, and a client's lag is its receive time minus that instant, the
first time it sees it. Both processes share one clock. A client process measures, for the
same server:

* **ours**: 200 WebSocket clients on ``/ws/wallboard`` applying the updates;
* **peer**: 200 clients polling ``GET /api/wallboard`` at the rate the WebSocket clients were
  sent updates (each at a random phase); a probe change they never saw (two toggles between
  polls) is counted as missed.

Reported: updates (or poll responses) delivered per second over all clients, probe lag median
and p99, the server-send-to-client time of updates, and the bytes of a full state vs an
average update (why updates are diffs). Neither side checks sign-in (no database): the auth
layer's cost would fall on every poll and only on the socket's handshake.

    .venv/bin/python bench/bench_wallboard.py [--clients 200] [--calls 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from callcenter.acd.loader import load_acd_config
from callcenter.acd.model import Assignment
from callcenter.bus import EventBus
from callcenter.services.acd import AcdService, CallerSlot, OfferInfo
from callcenter.services.live_events import TOPIC_CALLS, CallArrived, CallFinished
from callcenter.services.live_stats import LiveStats, LiveStatsSettings
from callcenter.telephony.events import ChannelSnapshot, DialEnd
from callcenter.web import wallboard

QUEUES = ("general", "social", "legal")
PROBE = "probe"
AGENTS = 40
FILES = {
    "queue/skills.yaml": "skills:\n  general: {title: General}\n  probe: {title: Probe}\n",
    "queue/hours.yaml": (
        "timezone: Europe/Kyiv\nholidays: {country: UA, categories: [public], local: []}\n"
        'schedules:\n  always: {weekly: {mon-sun: "00:00-24:00"}, closed_on_holidays: false}\n'
    ),
    "queue/queues.yaml": "default_queue: general\nqueues:\n"
    + "".join(
        f"  {q}:\n    skills: {{general: 1}}\n    schedule: always\n    wrap_up_s: 1\n    ring_timeout_s: 10\n"
        for q in QUEUES
    ),
    "queue/agents.yaml": "agents:\n"
    + "".join(f'  - {{id: op{n}, name: "Agent {n}", skills: {{general: 3}}}}\n' for n in range(AGENTS))
    + f'  - {{id: {PROBE}, name: "Probe", skills: {{probe: 1}}}}\n',
}


# ---- server process -------------------------------------------------------------------------------


def _channel(uniqueid: str, name: str = "PJSIP/trunk-00000001") -> ChannelSnapshot:
    return ChannelSnapshot(
        channel=name, state=6, state_desc="Up", caller_num=None, caller_name=None,
        connected_num=None, connected_name=None, language="uk", account_code="", context="hotline",
        exten="s", priority=1, uniqueid=uniqueid, linkedid=uniqueid,
    )  # fmt: skip


async def _one_call(acd: AcdService, bus: EventBus, n: int, rng: random.Random) -> None:
    """One call through the ACD runtime, with the pipeline's events around it."""
    call_id = f"bench-{n}"
    bus.publish(TOPIC_CALLS, CallArrived(call_id, call_id, None, "0800", "hotline", time.time()))
    await asyncio.sleep(rng.uniform(0.5, 2.0))
    queue = rng.choice(QUEUES)
    slot: CallerSlot = acd.join(call_id, queue, OfferInfo(call_id, call_id, None, "uk", None))
    while True:
        decision = slot.pop()
        if decision is None:
            await asyncio.sleep(0.1)  # the AGI session looks between WAIT FOR DIGIT slices too
            continue
        if isinstance(decision, Assignment):
            break
        # Left the queue (timeout): the call ends without an agent.
        bus.publish(TOPIC_CALLS, CallFinished(call_id, "overflow", queue, None, time.time()))
        return
    acd.offered(slot, decision)
    await asyncio.sleep(rng.uniform(0.1, 0.4))  # ringing
    agent_leg = _channel(f"{call_id}.2", f"{acd.agent_device(decision.agent_id)}-{n:08x}")
    acd.on_ami_event(DialEnd(channel=_channel(call_id), dest=agent_leg, dial_status="ANSWER", forward=None))
    await asyncio.sleep(rng.uniform(2.0, 8.0))  # talking
    acd.ring_result(slot, decision.agent_id, "ANSWER")
    bus.publish(TOPIC_CALLS, CallFinished(call_id, "answered", queue, decision.agent_id, time.time()))


async def _drive_calls(acd: AcdService, bus: EventBus, concurrent: int) -> None:
    rng = random.Random(7)
    numbers = count()
    running: set[asyncio.Task[None]] = set()
    try:
        while True:
            while len(running) < concurrent:
                task = asyncio.create_task(_one_call(acd, bus, next(numbers), rng))
                running.add(task)
                task.add_done_callback(running.discard)
            await asyncio.sleep(0.05)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def _toggle_probe(acd: AcdService) -> None:
    rng = random.Random(11)
    while True:
        await asyncio.sleep(rng.uniform(0.25, 0.6))
        if acd.state.agent_state(PROBE).value == "available":
            acd.pause(PROBE, "break")
        else:
            acd.available(PROBE)


async def serve(port: int, concurrent: int, min_interval_s: float) -> None:
    """The wallboard with the ACD runtime and the call driver, until stdin closes."""
    bus = EventBus()
    acd = AcdService(load_acd_config(FILES), bus)
    live = LiveStats(bus, acd, settings=LiveStatsSettings(min_interval_s=min_interval_s))
    app = web.Application()
    wallboard.setup(app, live, acd=acd)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    async with acd:
        for n in range(AGENTS):
            acd.login(f"op{n}")
        acd.login(PROBE)
        tasks = [
            asyncio.create_task(_drive_calls(acd, bus, concurrent)),
            asyncio.create_task(_toggle_probe(acd)),
        ]
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await runner.cleanup()


# ---- client process -------------------------------------------------------------------------------


@dataclass
class Tally:
    """Probe lags (seconds), messages, and message sizes seen by the clients."""

    lags: list[float] = field(default_factory=list)
    fanout_lags: list[float] = field(default_factory=list)  # server send → client, updates only
    messages: int = 0
    update_bytes: list[int] = field(default_factory=list)
    state_bytes: list[int] = field(default_factory=list)
    probe_values: set[float] = field(default_factory=set)  # distinct probe instants seen


def _probe_since(agents: dict[str, Any]) -> float | None:
    probe = agents.get(PROBE)
    return None if probe is None else float(probe["since"])


async def _ws_client(session: aiohttp.ClientSession, base: str, tally: Tally, until: float) -> None:
    seen: float | None = None
    async with session.ws_connect(f"{base}/ws/wallboard", headers={"Origin": base}) as ws:
        while True:
            left = until - time.time()
            if left <= 0:
                return
            try:
                message = await ws.receive(timeout=left)
            except TimeoutError:
                return
            if message.type is not aiohttp.WSMsgType.TEXT:
                return
            received = time.time()
            data = json.loads(message.data)
            since = _probe_since(data.get("agents", {}))
            if data["type"] == "state":
                tally.state_bytes.append(len(message.data))
                seen = since
                continue
            tally.messages += 1
            tally.update_bytes.append(len(message.data))
            tally.fanout_lags.append(received - data["at"])
            if since is not None and since != seen:
                tally.lags.append(received - since)
                tally.probe_values.add(since)
                seen = since


async def _poller(session: aiohttp.ClientSession, base: str, tally: Tally, until: float, rate: float) -> None:
    interval = 1.0 / rate
    seen: float | None = None
    await asyncio.sleep(random.uniform(0, interval))  # independent screens poll at random phases
    next_at = time.monotonic()
    while time.time() < until:
        async with session.get(f"{base}/api/wallboard") as response:
            body = await response.read()
        received = time.time()
        tally.messages += 1
        tally.state_bytes.append(len(body))
        since = _probe_since(json.loads(body)["agents"])
        if since is not None and since != seen:
            if seen is not None:
                tally.lags.append(received - since)
                tally.probe_values.add(since)
            seen = since
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def measure(base: str, clients: int, seconds: float, mode: str, rate: float = 0.0) -> Tally:
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        until = time.time() + seconds
        if mode == "ws":
            jobs = [_ws_client(session, base, tally, until) for _ in range(clients)]
        else:
            jobs = [_poller(session, base, tally, until, rate) for _ in range(clients)]
        await asyncio.gather(*jobs)
    return tally


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument(
        "--min-interval", type=float, default=LiveStatsSettings.min_interval_s, help="seconds between updates"
    )
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.serve, args.calls, args.min_interval))
        return
    port = _free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, __file__, "--serve", str(port), "--calls", str(args.calls)),
            *("--min-interval", str(args.min_interval)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        base = f"http://127.0.0.1:{port}"
        time.sleep(args.warmup)  # let 50 calls get under way
        cpu_start = _cpu_seconds(server.pid)
        ws = asyncio.run(measure(base, args.clients, args.seconds, "ws"))
        cpu_ws = _cpu_seconds(server.pid) - cpu_start
        per_client_rate = ws.messages / args.clients / args.seconds
        cpu_start = _cpu_seconds(server.pid)
        poll = asyncio.run(measure(base, args.clients, args.seconds, "poll", rate=max(per_client_rate, 0.5)))
        cpu_poll = _cpu_seconds(server.pid) - cpu_start
    finally:
        if server.stdin is not None:
            server.stdin.close()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    full = statistics.mean(ws.state_bytes) if ws.state_bytes else float("nan")
    update = statistics.mean(ws.update_bytes) if ws.update_bytes else float("nan")
    toggles = len(ws.probe_values)
    # Changes any poller saw; a poller that never saw one of them missed it.
    missed = 1 - len(poll.lags) / (args.clients * max(1, len(poll.probe_values)))
    print(
        f"clients {args.clients}, concurrent calls {args.calls}, {args.seconds:.0f} s each, "
        f"updates at most every {args.min_interval:.2f} s, probe changes ~{toggles:.0f} per run"
    )
    print(f"peer (REST polling at {per_client_rate:.2f}/s per client): {poll.messages / args.seconds:.0f} responses/s, "
          f"probe lag median {_ms(poll.lags, 0.5):.1f} ms, p99 {_ms(poll.lags, 0.99):.1f} ms, "
          f"{missed:.0%} of probe changes never seen; server CPU {cpu_poll / args.seconds:.0%}")  # fmt: skip
    print(f"ours (WebSocket updates): {ws.messages / args.seconds:.0f} updates/s delivered, "
          f"probe lag median {_ms(ws.lags, 0.5):.1f} ms, p99 {_ms(ws.lags, 0.99):.1f} ms; "
          f"server send to client median {_ms(ws.fanout_lags, 0.5):.1f} ms, p99 {_ms(ws.fanout_lags, 0.99):.1f} ms; "
          f"server CPU {cpu_ws / args.seconds:.0%}")  # fmt: skip
    print(f"ratio (peer/ours): median {_ms(poll.lags, 0.5) / _ms(ws.lags, 0.5):.1f}x, "
          f"p99 {_ms(poll.lags, 0.99) / _ms(ws.lags, 0.99):.1f}x")  # fmt: skip
    print(f"bytes: full state {full:.0f}, average update {update:.0f} ({update / full:.0%} of a full state)")


if __name__ == "__main__":
    main()
