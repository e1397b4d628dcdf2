"""Dialplan applications of the simulated Asterisk, and the media helpers AGI commands share.

``run_app`` returns what ``pbx_exec`` would: 0 to go on, -1 to end the call, or a :class:`Goto`.
Durations (prompts, waits, answer delay, DTMF) are simulated seconds on the instance's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from callcenter.sim.channels import UP, Channel
from callcenter.sim.dialplan import expand, split_args

if TYPE_CHECKING:
    from callcenter.sim.asterisk import SimAsterisk

__all__ = [
    "ANSWER_DELAY",
    "DIAL_VARS",
    "Goto",
    "play",
    "recording_path",
    "run_app",
    "send_dtmf",
    "start_mixmonitor",
    "stop_mixmonitor",
    "wait_digit",
    "write_wav",
]

#: Asterisk waits this long after answering before media flows (``ast_answer`` for Local/PJSIP).
ANSWER_DELAY = 0.5
#: Variables Dial() clears when it starts, in the order the traces show.
DIAL_VARS = (
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
)
SAMPLE_RATE = 8000


@dataclass(frozen=True)
class Goto:
    """Continue the dialplan elsewhere (empty parts keep the current value)."""

    context: str
    exten: str
    priority: str


App = Callable[["SimAsterisk", Channel, str], Awaitable["int | Goto"]]


async def run_app(ast: SimAsterisk, chan: Channel, app: str, data: str) -> int | Goto:
    """Run one application; -2 when it does not exist (what AGI EXEC reports)."""
    handler = _APPS.get(app.lower())
    if handler is None:
        return -2
    return await handler(ast, chan, data)


# -- media helpers --------------------------------------------------------------------------


async def wait_digit(
    ast: SimAsterisk, chan: Channel, seconds: float | None, accept: str | None
) -> str | None:
    """The next digit in ``accept`` (None: any) within ``seconds``; '' on timeout, None on hang-up."""
    loop = asyncio.get_running_loop()
    deadline = None if seconds is None else loop.time() + ast.clock.real(seconds)
    while True:
        if not chan.is_alive() or chan.kick.is_set():
            return None
        while not chan.dtmf.empty():
            digit = chan.dtmf.get_nowait()
            if accept is None or digit in accept:
                return digit
        remaining = None if deadline is None else deadline - loop.time()
        if remaining is not None and remaining <= 0:
            return ""
        getter = asyncio.ensure_future(chan.dtmf.get())
        stop = asyncio.ensure_future(chan.hangup_requested.wait())
        kick = asyncio.ensure_future(chan.kick.wait())
        done, _ = await asyncio.wait(
            {getter, stop, kick}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
        )
        stop.cancel()
        kick.cancel()
        if getter in done:
            digit = getter.result()
            if accept is None or digit in accept:
                return digit
        else:
            getter.cancel()


async def play(ast: SimAsterisk, chan: Channel, name: str, escape: str, offset: int = 0) -> tuple[int, int]:
    """Play ``name`` (``&``-joined list allowed): (result, endpos) as STREAM FILE reports them.

    result is 0 at the end, the ASCII code of an escape digit, or -1 (hang-up or missing file).
    """
    ast.prompt_started(chan, name)
    total = 0.0
    for part in name.split("&"):
        length = ast.sound_length(part)
        if length is None:
            return -1, 0
        total += length
    remaining = max(0.0, total - offset / SAMPLE_RATE)
    started = ast.clock.now()
    digit = await wait_digit(ast, chan, remaining, escape or "")
    played = min(total, offset / SAMPLE_RATE + ast.clock.now() - started)
    endpos = int(played * SAMPLE_RATE)
    if digit is None:
        return -1, endpos
    if digit == "":
        return 0, int(total * SAMPLE_RATE)
    return ord(digit), endpos


async def send_dtmf(ast: SimAsterisk, target: Channel, digits: str, between: float = 0.25) -> None:
    """Deliver ``digits`` to ``target`` as received DTMF (DTMFBegin, 100 ms, DTMFEnd)."""
    for digit in digits:
        if target.is_dead():
            return
        await ast.clock.sleep(0.1)
        ast.pbx.chan_event("DTMFBegin", target, ("Digit", digit), ("Direction", "Received"), privilege="dtmf")
        await ast.clock.sleep(0.1)
        if target.is_dead():
            return
        ast.pbx.chan_event(
            "DTMFEnd",
            target,
            ("Digit", digit),
            ("DurationMs", "100"),
            ("Direction", "Received"),
            privilege="dtmf",
        )
        target.dtmf.put_nowait(digit)
        await ast.clock.sleep(between - 0.1)


def recording_path(ast: SimAsterisk, path: Path) -> Path | None:
    """Where a recording named ``path`` is written; None when the instance writes no files.

    A path inside ``recordings_dir`` (the folder the backend shares with the PBX) is written as
    given; a relative path is taken from that folder; any other absolute path is re-rooted under
    it, so a test replaying ``/var/spool/asterisk/monitor/x.wav`` cannot write outside it.
    """
    root = ast.recordings_dir
    if root is None:
        return None
    if not path.is_absolute():
        return root / path
    if path.is_relative_to(root.resolve()) or path.is_relative_to(root):
        return path
    return root / path.relative_to(path.anchor)


def write_wav(path: Path, seconds: float) -> None:
    """Write a silent 8 kHz 16-bit mono WAV file of ``seconds`` length."""
    frames = int(max(0.0, seconds) * SAMPLE_RATE)
    data = b"\x00\x00" * frames
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + fmt + b"data" + struct.pack("<I", len(data)) + data)


# -- applications ---------------------------------------------------------------------------


async def _noop(ast: SimAsterisk, chan: Channel, data: str) -> int:
    return 0


async def _set(ast: SimAsterisk, chan: Channel, data: str) -> int:
    name, _, value = data.partition("=")
    if name.upper() == "CHANNEL(LANGUAGE)":
        chan.language = value
    elif name.startswith("CALLERID("):
        part = name[9:-1].lower()
        if part.startswith("num"):
            ast.pbx.set_callerid(chan, value, chan.cid_name)
        else:
            ast.pbx.set_callerid(chan, chan.cid_num, value)
    else:
        ast.pbx.set_var(chan, name.lstrip("_"), value)
    return 0


async def _gotoif(ast: SimAsterisk, chan: Channel, data: str) -> int | Goto:
    cond, _, dests = data.partition("?")
    yes, _, no = dests.partition(":")
    target = yes if cond.strip() not in ("", "0") else no
    return _goto_target(target) if target else 0


def _goto_target(text: str) -> Goto:
    parts = text.split(",")
    if len(parts) == 1:
        return Goto("", "", parts[0])
    if len(parts) == 2:
        return Goto("", parts[0], parts[1])
    return Goto(parts[0], parts[1], parts[2])


async def _goto(ast: SimAsterisk, chan: Channel, data: str) -> Goto:
    return _goto_target(data)


async def _hangup(ast: SimAsterisk, chan: Channel, data: str) -> int:
    ast.pbx.soft_hangup(chan, 16)
    return -1


async def _answer(ast: SimAsterisk, chan: Channel, data: str) -> int:
    if ast.answer(chan):
        await ast.wait(chan, ANSWER_DELAY)
    return 0 if chan.is_alive() else -1


async def _wait(ast: SimAsterisk, chan: Channel, data: str) -> int:
    try:
        seconds = float(data or 0)
    except ValueError:
        seconds = 0.0
    await ast.wait(chan, seconds)
    return 0 if chan.is_alive() else -1


async def _send_dtmf(ast: SimAsterisk, chan: Channel, data: str) -> int:
    digits = split_args(data)[0]
    target = chan.local_peer
    if target is None and chan.bridge is not None:
        target = next((c for c in chan.bridge.channels if c is not chan), None)
    if target is not None:
        await send_dtmf(ast, target, digits)
    return 0 if chan.is_alive() else -1


async def _playback(ast: SimAsterisk, chan: Channel, data: str) -> int:
    name = split_args(data)[0]
    if chan.state != UP:
        ast.answer(chan)
    result, _ = await play(ast, chan, name, "")
    ast.pbx.set_var(chan, "PLAYBACKSTATUS", "SUCCESS" if result == 0 else "FAILED")
    return 0 if chan.is_alive() else -1


async def _start_moh(ast: SimAsterisk, chan: Channel, data: str) -> int:
    ast.pbx.chan_event("MusicOnHoldStart", chan, ("Class", split_args(data)[0] or "default"))
    chan.meta["moh"] = True
    return 0


async def _stop_moh(ast: SimAsterisk, chan: Channel, data: str) -> int:
    if chan.meta.pop("moh", None):
        ast.pbx.chan_event("MusicOnHoldStop", chan)
    return 0


async def _moh(ast: SimAsterisk, chan: Channel, data: str) -> int:
    args = [*split_args(data), ""]
    await _start_moh(ast, chan, args[0])
    await ast.wait(chan, float(args[1]) if args[1] else None)
    await _stop_moh(ast, chan, "")
    return 0 if chan.is_alive() else -1


async def _mixmonitor(ast: SimAsterisk, chan: Channel, data: str) -> int:
    start_mixmonitor(ast, chan, split_args(data)[0])
    return 0


def start_mixmonitor(ast: SimAsterisk, chan: Channel, filename: str) -> None:
    """Start recording ``chan`` to ``filename``; the WAV file is written when the recording stops.

    A channel may carry several recordings at once, as with Asterisk's MixMonitor.
    """
    ast.pbx.set_var(chan, "MIXMONITOR_FILENAME", filename)
    ast.pbx.chan_event("MixMonitorStart", chan)
    first = not chan.mixmonitors
    chan.mixmonitors[filename] = ast.clock.now()

    async def until_hangup() -> None:
        await chan.hangup_requested.wait()
        stop_mixmonitor(ast, chan)

    if first:
        ast.spawn(until_hangup())


def stop_mixmonitor(ast: SimAsterisk, chan: Channel) -> bool:
    """Stop the recordings of ``chan`` (MixMonitorStop each) and write their files; False if none ran."""
    if not chan.mixmonitors:
        return False
    running, chan.mixmonitors = chan.mixmonitors, {}
    for filename, started in running.items():
        target = recording_path(ast, Path(filename))
        if target is not None:
            with contextlib.suppress(OSError):
                write_wav(target, ast.clock.now() - started)
        ast.pbx.chan_event("MixMonitorStop", chan)
    return True


async def _stop_mixmonitor(ast: SimAsterisk, chan: Channel, data: str) -> int:
    stop_mixmonitor(ast, chan)
    return 0


async def _queue(ast: SimAsterisk, chan: Channel, data: str) -> int:
    return await ast.queues.run(chan, data)


async def _agi(ast: SimAsterisk, chan: Channel, data: str) -> int:
    from callcenter.sim.agi_client import run_agi

    return await run_agi(ast, chan, data)


async def _dial(ast: SimAsterisk, chan: Channel, data: str) -> int:
    """Dial(Tech/resource[&...],timeout,options): ring one target, bridge on answer, set DIALSTATUS."""
    pbx = ast.pbx
    args = [*split_args(data), "", ""]
    target = args[0].split("&")[0]
    timeout = float(args[1]) if args[1] else None
    options = args[2]
    for name in DIAL_VARS:
        pbx.set_var(chan, name, "")
    started = ast.clock.now()
    leg = ast.new_leg(target, chan, "dial")
    if leg is None:
        pbx.set_var(chan, "DIALSTATUS", "CHANUNAVAIL")
        return 0
    agent = leg.chan
    pbx.emit(
        "DialBegin", "call,all", [*chan.snapshot(), *agent.snapshot("Dest"), ("DialString", leg.dial_string)]
    )
    leg.start()
    if leg.phone is not None:
        await asyncio.sleep(0)
        pbx.emit(
            "DialState", "call,all", [*chan.snapshot(), *agent.snapshot("Dest"), ("DialStatus", "RINGING")]
        )
    await ast.wait(chan, timeout, agent.answered, agent.hangup_requested)

    def end(status: str) -> None:
        pbx.emit("DialEnd", "call,all", [*chan.snapshot(), *agent.snapshot("Dest"), ("DialStatus", status)])

    if not chan.is_alive():
        end("CANCEL")
        pbx.hangup(agent, 0)
        pbx.set_var(chan, "DIALSTATUS", "CANCEL")
        return -1
    if not agent.answered.is_set() or not agent.is_alive():
        cause = agent.hangup_cause if not agent.is_alive() else 0
        status = {17: "BUSY", 21: "BUSY", 34: "CONGESTION", 0: "NOANSWER"}.get(cause, "NOANSWER")
        if agent.dead and cause == 0:
            status = "CHANUNAVAIL"
        end(status)
        pbx.hangup(agent, cause if cause else None)
        pbx.set_var(chan, "DIALSTATUS", status)
        return 0
    pbx.set_var(chan, "DIALSTATUS", "ANSWER")
    pbx.set_var(chan, "DIALEDPEERNAME", agent.name)
    pbx.set_var(chan, "DIALEDPEERNUMBER", target.partition("/")[2])
    end("ANSWER")
    answered_at = ast.clock.now()
    if leg.far is not None:
        pbx.newexten(agent, "AppDial", "(Outgoing Line)", agent.exten)
    first = await ast.bridge(chan, agent)
    talk = ast.clock.now() - answered_at
    dialed = ast.clock.now() - started
    pbx.set_var(chan, "ANSWEREDTIME", str(int(talk)))
    pbx.set_var(chan, "ANSWEREDTIME_MS", str(int(talk * 1000)))
    pbx.set_var(chan, "DIALEDTIME", str(int(dialed)))
    pbx.set_var(chan, "DIALEDTIME_MS", str(int(dialed * 1000)))
    pbx.set_var(chan, "DIALSTATUS", "ANSWER")
    if first is chan or not chan.is_alive():
        return -1
    return 0 if "g" in options else -1


async def _chanspy(ast: SimAsterisk, chan: Channel, data: str) -> int:
    """ChanSpy(prefix,options): listen to the first channel whose name starts with ``prefix``."""
    prefix = split_args(data)[0]
    target = next((c for c in ast.pbx.channels.values() if c.name.startswith(prefix) and c is not chan), None)
    if target is None:
        return 0
    await ast.wait(chan, None, target.ended)
    return 0 if chan.is_alive() else -1


async def _verbose(ast: SimAsterisk, chan: Channel, data: str) -> int:
    return 0


async def _execif(ast: SimAsterisk, chan: Channel, data: str) -> int | Goto:
    cond, _, rest = data.partition("?")
    if cond.strip() in ("", "0"):
        return 0
    from callcenter.sim.dialplan import split_app

    app, args = split_app(rest.split(":")[0])
    return await run_app(ast, chan, app, expand(args, chan))


_APPS: dict[str, App] = {
    "noop": _noop,
    "set": _set,
    "gotoif": _gotoif,
    "goto": _goto,
    "hangup": _hangup,
    "answer": _answer,
    "wait": _wait,
    "senddtmf": _send_dtmf,
    "playback": _playback,
    "startmusiconhold": _start_moh,
    "stopmusiconhold": _stop_moh,
    "musiconhold": _moh,
    "mixmonitor": _mixmonitor,
    "stopmixmonitor": _stop_mixmonitor,
    "queue": _queue,
    "agi": _agi,
    "dial": _dial,
    "chanspy": _chanspy,
    "verbose": _verbose,
    "log": _verbose,
    "execif": _execif,
}
