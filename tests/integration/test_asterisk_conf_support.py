"""Helpers for the Asterisk configuration tests: pyst2's config parser made safe, the render
command with test settings, and the rendered dialplan run in the simulated PBX (the survival path's
classic AGI bridged to the real spool script); the fault tests use the last one too.

pyst2 0.5.1's ``asterisk.config.Config`` is the Asterisk-format parser the issue asks for, but
on Python 3.11 under ``filterwarnings=error`` it needs three work-arounds, all here:

* ``Config.load`` opens the file without closing it (and in the locale's encoding): the leaked
  file object raises ``ResourceWarning`` when collected, which pytest turns into a failure.
  :class:`TextConfig` feeds it lines read with UTF-8 instead.
* Section headers with templates, ``[op101](cc-phone-endpoint)`` and ``[cc-phone-aor](!)``, are
  a ``ParseError`` ("Missing '[' or ']'"); pjsip.conf depends on them. The suffix is taken off
  before pyst2 sees the line and kept in :attr:`Section.templates`.
* Values keep the blank after ``=`` (``secret = x`` gives ``" x"``); :class:`Section` strips them.

pyst2 also cuts every line at the first ``;``, escaped or not; the rendered files never put a
``;`` inside a value (the renderer refuses secrets with one), so that quirk needs no work-around.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asterisk.config

from callcenter.asterisk_conf_cli import add_asterisk_conf_parser, asterisk_conf_command
from callcenter.config import AgiSettings, AmiSettings, PathSettings, Settings
from callcenter.sim.asterisk import AgiTarget
from callcenter.sim.clock import SimClock
from callcenter.sim.load import SimulatedPbx
from callcenter.sim.models import AgentPhone, Distribution
from callcenter.telephony import dialplan_contract as contract

REPO_ROOT = Path(__file__).resolve().parents[2]
BACKEND = "10.20.0.5"
AMI_HOST = "10.20.0.2"
TRUNK = "203.0.113.7"
SPOOL_SCRIPT = REPO_ROOT / "agi" / "survival_spool.py"
#: How the survival members' phones answer and talk unless a test says otherwise (random, as people).
ANSWER = Distribution(2.0, 0.0)
TALK = Distribution(20.0, 0.0)

_TEMPLATED = re.compile(r"^\s*\[([^\]]+)\]\(([^)]*)\)\s*(;.*)?$")


@dataclass
class Section:
    """One ``[name]`` of a config file: its templates and its ``key = value`` items in order."""

    name: str
    templates: tuple[str, ...] = ()
    is_template: bool = False
    items: list[tuple[str, str]] = field(default_factory=list)

    def all(self, key: str) -> list[str]:
        """Every value of ``key`` in file order."""
        return [value for name, value in self.items if name == key]

    def get(self, key: str) -> str | None:
        """The last value of ``key`` (Asterisk's rule for single-valued options), None if absent."""
        values = self.all(key)
        return values[-1] if values else None


class TextConfig(asterisk.config.Config):  # type: ignore[misc]  # pyst2 has no type information
    """pyst2's parser over lines we read ourselves (its own ``load`` leaks the open file)."""

    def __init__(self, filename: str, lines: list[str]) -> None:
        self._given = lines
        super().__init__(filename)

    def load(self) -> None:
        self.raw_lines = self._given


def parse_conf(path: Path) -> list[Section]:
    """Parse an Asterisk config file with pyst2 (work-arounds above); sections in file order."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    suffixes: dict[int, tuple[str, ...]] = {}
    for number, line in enumerate(lines, 1):
        match = _TEMPLATED.match(line)
        if match:
            suffixes[number] = tuple(t.strip() for t in match.group(2).split(",") if t.strip())
            lines[number - 1] = f"[{match.group(1)}]\n"
    config = TextConfig(str(path), lines)
    sections: list[Section] = []
    for category in config.categories:
        templates = suffixes.get(category.number, ())
        sections.append(
            Section(
                name=category.name,
                templates=tuple(t for t in templates if t != "!"),
                is_template="!" in templates,
                items=[(item.name.strip(), item.value.strip()) for item in category.items],
            )
        )
    return sections


def effective(sections: list[Section], section: Section) -> dict[str, list[str]]:
    """The options of ``section`` with its templates' options underneath (Asterisk's inheritance)."""
    merged: dict[str, list[str]] = {}
    for template in section.templates:
        base = next(s for s in sections if s.name == template and s.is_template)
        for key, values in effective(sections, base).items():
            merged[key] = list(values)
    own: dict[str, list[str]] = {}
    for key, value in section.items:
        own.setdefault(key, []).append(value)
    merged.update(own)
    return merged


def make_settings(tmp_path: Path) -> Settings:
    """Settings of a two-host deployment: Asterisk's AMI on a private address, the backend beside it."""
    return Settings(
        ami=AmiSettings(host=AMI_HOST, port=5038, username="callcenter", secret="Ami-Secret-1"),
        agi=AgiSettings(host=BACKEND, port=4573),
        paths=PathSettings(queue_dir=REPO_ROOT / "queue", spool_dir=tmp_path / "spool"),
    )


def render_args(out: Path, passwords: Path, *extra: str) -> argparse.Namespace:
    """The parsed command line of ``callcenter asterisk-conf render`` with test defaults."""
    parser = argparse.ArgumentParser()
    add_asterisk_conf_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(
        [
            "asterisk-conf",
            "render",
            "--out",
            str(out),
            "--templates",
            str(REPO_ROOT / "asterisk-conf"),
            "--phone-passwords",
            str(passwords),
            "--trunk-host",
            TRUNK,
            "--supervisor-phone",
            "sup1",
            *extra,
        ]
    )


def render(tmp_path: Path, *extra: str, settings: Settings | None = None) -> int:
    """Run the render command into ``tmp_path/out``; its exit status."""
    args = render_args(tmp_path / "out", tmp_path / "phone-passwords", *extra)
    return asterisk_conf_command(settings or make_settings(tmp_path), args)


@dataclass
class Rendered:
    """The rendered folder and what the simulated PBX needs from it."""

    root: Path
    spool: Path
    dialplan: str
    #: The survival queue's members in ``queues.conf``, as devices (``PJSIP/op101``).
    members: list[str] = field(default_factory=list)


def render_for_sim(tmp_path: Path) -> Rendered:
    """Render into ``tmp_path``; the spool folder is the settings' absolute ``paths.spool_dir``."""
    assert render(tmp_path) == 0
    survival = next(
        s for s in parse_conf(tmp_path / "out" / "queues.conf") if s.name == contract.SURVIVAL_QUEUE
    )
    return Rendered(
        root=tmp_path,
        spool=tmp_path / "spool",
        dialplan=(tmp_path / "out" / "extensions.conf").read_text(encoding="utf-8"),
        members=[m.split(",")[0] for m in survival.all("member")],
    )


def closed_port() -> int:
    """A local port nothing listens on (bound, then released): a backend that is down, or a free port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def classic_agi_bridge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Run the spool script as Asterisk runs a classic AGI: arguments in argv, the header on stdin."""
    header: list[str] = []
    while (line := (await reader.readline()).decode()) not in ("\n", ""):
        header.append(line)
    args = [line.split(": ", 1)[1].rstrip("\n") for line in header if line.startswith("agi_arg_")]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SPOOL_SCRIPT),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    # A classic AGI's header has no agi_network lines.
    proc.stdin.write("".join(h for h in header if not h.startswith("agi_network")).encode() + b"\n")

    async def replies() -> None:
        assert proc.stdin is not None
        while data := await reader.read(4096):
            proc.stdin.write(data)
            with contextlib.suppress(ConnectionError):
                await proc.stdin.drain()
        proc.stdin.close()

    pump = asyncio.create_task(replies())
    while data := await proc.stdout.read(4096):
        writer.write(data)
        # The call may hang up while the script still talks; what it says then goes nowhere.
        with contextlib.suppress(ConnectionError):
            await writer.drain()
    await proc.wait()
    pump.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pump
    writer.close()


@contextlib.asynccontextmanager
async def pbx_with(
    rendered: Rendered,
    backend_port: int,
    *,
    scale: float = 20.0,
    answer: Distribution = ANSWER,
    talk: Distribution = TALK,
    default_sound: float = 1.0,
) -> AsyncIterator[SimulatedPbx]:
    """A simulated PBX running the rendered dialplan, one registered phone per survival member.

    The dialplan's FastAGI address (the rendered backend's) goes to ``backend_port``; the classic
    AGI of the survival path, which has no host, goes to a bridge to the real spool script.
    """
    spool_server = await asyncio.start_server(classic_agi_bridge, "127.0.0.1", 0)
    phones = [
        AgentPhone(member.partition("/")[2], answer_delay=answer, talk_time=talk)
        for member in rendered.members
    ]
    pbx = SimulatedPbx(
        SimClock(scale), dialplan=rendered.dialplan, phones=phones, default_sound=default_sound
    )
    pbx.ast.agi_map[f"{BACKEND}:4573"] = AgiTarget("127.0.0.1", backend_port)
    # A classic AGI path has no host: the simulated PBX sends it to 127.0.0.1:4573, our bridge.
    pbx.ast.agi_map["127.0.0.1:4573"] = AgiTarget("127.0.0.1", spool_server.sockets[0].getsockname()[1])
    await pbx.start()
    try:
        yield pbx
    finally:
        await pbx.stop()
        spool_server.close()
        await spool_server.wait_closed()
