"""Replay a recorded scenario against the simulator: the client side of the real traces.

A trace (``asterisk-traces/<scenario>/ami.jsonl``, ``agi-1.jsonl``) holds what the backend sent
and received. :func:`replay_ami` sends the same actions to the simulated AMI server, each once
the simulator has produced at least as many frames of every kind as Asterisk had when the
action was sent (so timing differences cannot reorder the conversation), and returns the bytes
received. :class:`ScriptedAgiServer` is a FastAGI server that sends a trace's commands in order.
MD5 logins are re-keyed with the simulator's own challenge.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.sim.clock import SimClock
from callcenter.sim.compare import parse_frames

__all__ = ["Record", "ScriptedAgiServer", "load_trace", "received", "replay_ami"]


@dataclass(frozen=True)
class Record:
    """One line of a trace file."""

    t: float
    direction: str
    data: str


def load_trace(path: Path) -> list[Record]:
    """Read a ``*.jsonl`` trace."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            out.append(Record(float(item["t"]), item["dir"], item["data"]))
    return out


def received(records: list[Record]) -> str:
    """Everything the backend side received, concatenated."""
    return "".join(r.data for r in records if r.direction == "recv")


def _counts(text: str) -> Counter[str]:
    complete = text[: text.rfind("\r\n\r\n") + 4] if "\r\n\r\n" in text else ""
    return Counter(f.kind for f in parse_frames(complete))


async def replay_ami(
    host: str,
    port: int,
    records: list[Record],
    clock: SimClock,
    secret: str = "ccsecret",
    wait_limit: float = 5.0,
) -> bytes:
    """Send the trace's actions to an AMI server and return every byte it sent back."""
    reader, writer = await asyncio.open_connection(host, port)
    got = bytearray()
    changed = asyncio.Event()

    async def pump() -> None:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            got.extend(chunk)
            changed.set()

    pump_task = asyncio.ensure_future(pump())
    seen_before = ""
    last_recv_t = 0.0
    loop = asyncio.get_running_loop()
    try:
        for record in records:
            if record.direction == "recv":
                seen_before += record.data
                last_recv_t = record.t
                continue
            need = _counts(seen_before)
            deadline = loop.time() + wait_limit
            while loop.time() < deadline:
                have = _counts(got.decode("utf-8", "replace"))
                if all(have[k] >= n for k, n in need.items()):
                    break
                changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=max(0.0, deadline - loop.time()))
            await clock.sleep(max(0.0, record.t - last_recv_t))
            data = record.data
            if re.search(r"(?im)^Key: ", data):
                challenges = re.findall(r"Challenge: (\d+)", got.decode("utf-8", "replace"))
                key = hashlib.md5(((challenges[-1] if challenges else "") + secret).encode()).hexdigest()
                data = "\r\n".join(
                    f"Key: {key}" if line.lower().startswith("key: ") else line for line in data.split("\r\n")
                )
            writer.write(data.encode())
            await writer.drain()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pump_task, timeout=wait_limit)
    finally:
        pump_task.cancel()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return bytes(got)


@dataclass
class ScriptedAgiServer:
    """A FastAGI server that plays a trace's commands to each session and records what it got."""

    commands: list[str]
    clock: SimClock
    close_delay: float = 1.5
    host: str = "127.0.0.1"
    port: int = 0
    transcripts: list[str] = field(default_factory=list)
    _server: asyncio.base_events.Server | None = None

    @classmethod
    def from_trace(cls, records: list[Record], clock: SimClock) -> ScriptedAgiServer:
        """The commands are the trace's ``send`` lines."""
        return cls([r.data for r in records if r.direction == "send"], clock)

    async def start(self) -> None:
        """Listen on a free port."""
        self._server = await asyncio.start_server(self._session, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        log: list[str] = []
        self.transcripts.append("")
        index = len(self.transcripts) - 1
        try:
            while True:
                line = (await reader.readline()).decode()
                log.append(line)
                if line in ("\n", ""):
                    break
            for command in self.commands:
                writer.write(command.encode())
                await writer.drain()
                while True:
                    line = (await reader.readline()).decode()
                    if not line:
                        return
                    log.append(line)
                    if line.startswith("520-"):
                        continue
                    if re.match(r"^\d{3} ", line):
                        break
            await self.clock.sleep(self.close_delay)
        finally:
            self.transcripts[index] = "".join(log)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
