"""Benchmark: FastAGI command round trips, our server against panoramisk and bare asyncio streams.

DESIGN.md target: server CPU per command round trip with 50 sessions x 1,000 commands and the
client in another process; peers on a 2-core machine: panoramisk ``fast_agi`` ~40 µs, bare
asyncio streams ~33 µs; target <= 20 µs (2x panoramisk).

Each server variant runs in its own process and measures its own CPU time
(``resource.getrusage(RUSAGE_SELF)``, user + system) between "start" and "stop" marks sent by the
orchestrator; a separate client process (a bare epoll loop, cheaper than any server variant)
plays Asterisk for all sessions, replying ``200 result=1 (value)`` to each ``GET VARIABLE``, and
measures wall time. The three variants do the same work per round trip: write the command, read
one reply line, parse it into a value.

What separates them, found with cProfile on this benchmark: stock asyncio transports read with
``sock.recv(256 KiB)``, a fresh 256 KiB allocation per read that costs ~10 µs when the server is
busy; our server reads into one shared buffer (``BufferedProtocol``), then parses the common
one-line ``200`` reply on a short path.

    .venv/bin/python bench/bench_fastagi.py [--sessions 50] [--commands 1000] [--rounds 3]

Prints one line per variant and round, then the medians and the ratios against our server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import select
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("ours", "panoramisk", "streams")
HEADER = (
    b"agi_network: yes\nagi_network_script: bench\nagi_request: agi://127.0.0.1/bench\n"
    b"agi_channel: PJSIP/trunk-00000001\nagi_language: en\nagi_type: PJSIP\nagi_uniqueid: 1.1\n"
    b"agi_version: 22.10.1\nagi_callerid: 380501234567\nagi_calleridname: unknown\n"
    b"agi_dnid: 0800507506\nagi_context: from-pstn\nagi_extension: 0800507506\nagi_priority: 3\n"
    b"agi_accountcode: \nagi_threadid: 1\n\n"
)
REPLY = b"200 result=1 (380501234567)\n"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- server side: one variant per process ------------------------------------------------------


async def start_ours(commands: int) -> tuple[Any, int]:
    import structlog

    from callcenter.telephony.agi import AgiSession, FastAgiServer

    def drop_info(_logger: Any, method: str, event: Any) -> Any:
        if method in ("debug", "info"):
            raise structlog.DropEvent
        return event

    # Drop the per-session info lines, as panoramisk's stdlib logger does when unconfigured.
    # The list is changed in place (as structlog.testing.capture_logs does) because loggers
    # bound at import time hold on to it.
    structlog.get_config()["processors"].insert(0, drop_info)
    server = FastAgiServer("127.0.0.1", 0, allowed_peers=None, max_sessions=10_000, handled_variable=None)

    async def route(session: AgiSession) -> None:
        for _ in range(commands):
            await session.get_variable("BENCH")

    server.add_route("bench", route)
    await server.start()
    return server, server.bound_port


async def start_panoramisk(commands: int) -> tuple[Any, int]:
    from panoramisk.fast_agi import Application

    app = Application()

    async def route(request: Any) -> None:
        for _ in range(commands):
            await request.send_command("GET VARIABLE BENCH")

    app.add_route("bench", route)
    server = await asyncio.start_server(app.handler, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


async def start_streams(commands: int) -> tuple[Any, int]:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        headers = {}
        while line := (await reader.readline()).rstrip(b"\n"):
            key, _, value = line.decode().partition(": ")
            headers[key] = value
        for _ in range(commands):
            writer.write(b"GET VARIABLE BENCH\n")
            await writer.drain()
            reply = (await reader.readline()).decode()
            if reply.startswith("200 result=1 ("):
                _value = reply[14 : reply.rindex(")")]
        writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


async def serve(variant: str, commands: int) -> None:
    starter = {"ours": start_ours, "panoramisk": start_panoramisk, "streams": start_streams}[variant]
    _server, port = await starter(commands)
    loop = asyncio.get_running_loop()
    print(f"READY {port}", flush=True)
    started = 0.0
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line == "start":
            started = cpu_seconds()
            print("OK", flush=True)
        elif line == "stop":
            print(f"CPU {cpu_seconds() - started:.6f}", flush=True)
        else:
            return


# -- client side: plays Asterisk for every session --------------------------------------------
# A bare epoll loop rather than asyncio: the client must be cheaper than any server variant, or
# the server waits on it and pays an event-loop wake-up per round trip instead of serving many
# sessions per wake-up, which would penalise the faster server (seen on a loaded 2-core box).


def client(port: int, sessions: int) -> None:
    poller = select.epoll()
    conns: dict[int, list[Any]] = {}
    started = time.perf_counter()
    for _ in range(sessions):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(HEADER)
        sock.setblocking(False)
        poller.register(sock.fileno(), select.EPOLLIN)
        conns[sock.fileno()] = [sock, 0, b""]  # socket, commands answered, partial line
    total = 0
    while conns:
        for fd, _events in poller.poll():
            state = conns[fd]
            sock = state[0]
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                poller.unregister(fd)
                sock.close()
                total += state[1]
                del conns[fd]
                continue
            data = state[2] + data
            lines = data.count(b"\n")
            state[2] = data[data.rfind(b"\n") + 1 :]
            if lines:
                state[1] += lines
                sock.sendall(REPLY * lines)
    wall = time.perf_counter() - started
    print(json.dumps({"round_trips": total, "wall_s": wall}), flush=True)


# -- orchestrator ------------------------------------------------------------------------------


def run_once(variant: str, sessions: int, commands: int) -> dict[str, float]:
    me = [sys.executable, str(Path(__file__).resolve())]
    server = subprocess.Popen(
        [*me, "--serve", variant, "--commands", str(commands)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        line = server.stdout.readline()
        while line and not line.startswith("READY "):
            line = server.stdout.readline()
        port = int(line.split()[1])
        server.stdin.write("start\n")
        server.stdin.flush()
        assert server.stdout.readline().strip() == "OK"
        out = subprocess.run(
            [*me, "--client", str(port), "--sessions", str(sessions)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        result = json.loads(out.stdout)
        server.stdin.write("stop\n")
        server.stdin.flush()
        cpu = float(server.stdout.readline().split()[1])
        server.stdin.write("quit\n")
        server.stdin.flush()
    finally:
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    expected = sessions * commands
    if result["round_trips"] != expected:
        raise RuntimeError(f"{variant}: {result['round_trips']} round trips, expected {expected}")
    return {
        "cpu_us_per_rt": cpu / expected * 1e6,
        "rt_per_s": expected / result["wall_s"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", choices=VARIANTS)
    parser.add_argument("--client", type=int, metavar="PORT")
    args = parser.parse_args()
    if args.serve:
        sys.path.insert(0, str(ROOT))
        asyncio.run(serve(args.serve, args.commands))
        return
    if args.client:
        client(args.client, args.sessions)
        return
    results: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    for round_no in range(args.rounds):
        for variant in VARIANTS:  # interleaved, so drift in machine load hits every variant
            r = run_once(variant, args.sessions, args.commands)
            results[variant].append(r)
            print(
                f"round {round_no + 1} {variant:<11} {r['cpu_us_per_rt']:6.1f} µs CPU/round trip"
                f"  {r['rt_per_s']:9.0f} round trips/s",
                flush=True,
            )
    med = {
        v: {k: statistics.median(r[k] for r in rs) for k in ("cpu_us_per_rt", "rt_per_s")}
        for v, rs in results.items()
    }
    ours = med["ours"]
    print(f"\n{args.sessions} sessions x {args.commands} commands, median of {args.rounds} rounds")
    for variant in VARIANTS:
        m = med[variant]
        print(
            f"{variant:<11} {m['cpu_us_per_rt']:6.1f} µs CPU/rt  {m['rt_per_s']:9.0f} rt/s"
            f"  CPU ratio (peer/ours) {m['cpu_us_per_rt'] / ours['cpu_us_per_rt']:.2f}"
            f"  throughput ratio (ours/peer) {ours['rt_per_s'] / m['rt_per_s']:.2f}"
        )
    print(json.dumps({"median": med}))


if __name__ == "__main__":
    main()
