"""The FastAGI client side of the simulated Asterisk: ``AGI(agi://host:port/script,args)``.

One session per call, as ``res_agi.c`` runs it: a connect with a 2 s limit (AGISTATUS=FAILURE
and the dialplan goes on when it fails), the ``agi_*`` environment in its exact order ended by a
blank line, then one command line at a time, each answered with one reply line (the 520 usage
block spans several) and raising AGIExecStart/AGIExecEnd. When the channel hangs up, the running
command finishes with its own result, ``HANGUP`` is written, and the session stays open until
the server closes the socket, answering 511 to commands not allowed on a dead channel.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from callcenter.sim.apps import ANSWER_DELAY, play, recording_path, run_app, wait_digit, write_wav
from callcenter.sim.channels import UP, Channel
from callcenter.sim.dialplan import expand, get_value, split_args

if TYPE_CHECKING:
    from callcenter.sim.asterisk import SimAsterisk

__all__ = ["AGI_VERSION", "DEAD_OK", "parse_args", "run_agi", "usage_block"]

AGI_VERSION = "22.10.1"
#: Commands Asterisk still runs after the channel hung up (everything else gets 511).
DEAD_OK = (
    "EXEC",
    "GET VARIABLE",
    "GET FULL VARIABLE",
    "SET VARIABLE",
    "VERBOSE",
    "NOOP",
    "DATABASE",
    "ASYNCAGI BREAK",
)
CONNECT_TIMEOUT = 2.0
#: Sound files in a spoken date or time (weekday, month, day…), for their length.
_SAY_TIME_FILES = {"SAY DATE": 4, "SAY TIME": 4, "SAY DATETIME": 8}
R_511 = "511 Command Not Permitted on a dead channel or intercept routine"
R_510 = "510 Invalid or unknown command"
_USAGE = {
    "GET DATA": "Stream the given <replaceable>file</replaceable>, and receive DTMF data.\n"
    "Returns the digits received from the channel at the other end.",
    "STREAM FILE": "Send the given file, allowing playback to be interrupted by the given digits, if any.",
    "CONTROL STREAM FILE": "Send the given file, allowing playback to be controlled by the given digits, if any.",
    "GET OPTION": "Behaves similar to STREAM FILE but used with a timeout option.",
    "WAIT FOR DIGIT": "Waits up to <replaceable>timeout</replaceable> milliseconds for channel to receive a DTMF digit.",
    "SAY NUMBER": "Say a given number, returning early if any of the given DTMF digits are received on the channel.",
    "SAY DIGITS": "Say a given digit string, returning early if any of the given DTMF digits are received on the channel.",
    "SAY ALPHA": "Say a given character string, returning early if any of the given DTMF digits are received on the channel.",
    "SAY PHONETIC": "Say a given character string with phonetics, returning early if any of the given DTMF digits are received on the channel.",
    "SAY DATE": "Say a given date, returning early if any of the given DTMF digits are received on the channel.",
    "SAY TIME": "Say a given time, returning early if any of the given DTMF digits are received on the channel.",
    "SAY DATETIME": "Say a given time, returning early if any of the given DTMF digits are received on the channel.",
    "SET VARIABLE": "Sets a variable to the current channel.",
    "GET VARIABLE": "Returns <literal>0</literal> if <replaceable>variablename</replaceable> is not set.",
    "GET FULL VARIABLE": "Evaluates the given <replaceable>expression</replaceable> against the channel specified.",
    "EXEC": "Executes <replaceable>application</replaceable> with given <replaceable>options</replaceable>.",
    "RECORD FILE": "Record to a file until a given dtmf digit in the sequence is received.",
    "SET CONTEXT": "Sets the context for continuation upon exiting the application.",
    "SET EXTENSION": "Changes the extension for continuation upon exiting the application.",
    "SET PRIORITY": "Changes the priority for continuation upon exiting the application.",
    "SET MUSIC": "Enables/Disables the music on hold generator.",
    "SET CALLERID": "Changes the callerid of the current channel.",
    "DATABASE GET": "Retrieves an entry in the Asterisk database for a given <replaceable>family</replaceable> and "
    "<replaceable>key</replaceable>.",
    "DATABASE PUT": "Adds or updates an entry in the Asterisk database for a given <replaceable>family</replaceable>, "
    "<replaceable>key</replaceable>, and <replaceable>value</replaceable>.",
    "DATABASE DEL": "Deletes an entry in the Asterisk database for a given <replaceable>family</replaceable> and "
    "<replaceable>key</replaceable>.",
}
_COMMANDS = (
    "ANSWER",
    "HANGUP",
    "STREAM FILE",
    "CONTROL STREAM FILE",
    "GET OPTION",
    "GET DATA",
    "WAIT FOR DIGIT",
    "SAY NUMBER",
    "SAY DIGITS",
    "SAY ALPHA",
    "SAY PHONETIC",
    "SAY DATE",
    "SAY TIME",
    "SAY DATETIME",
    "SET VARIABLE",
    "GET VARIABLE",
    "GET FULL VARIABLE",
    "EXEC",
    "SET CONTEXT",
    "SET EXTENSION",
    "SET PRIORITY",
    "VERBOSE",
    "NOOP",
    "CHANNEL STATUS",
    "RECORD FILE",
    "SET MUSIC",
    "DATABASE GET",
    "DATABASE PUT",
    "DATABASE DEL",
    "SET CALLERID",
)


def parse_args(line: str) -> list[str]:
    """Split a command line as ``parse_args`` in res_agi.c: spaces, ``"quotes"``, backslash escapes."""
    out: list[str] = []
    cur, quoted, escaped, started = "", False, False, False
    for ch in line:
        if escaped:
            cur += ch
            escaped, started = False, True
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
            started = True
        elif ch in " \t" and not quoted:
            if started:
                out.append(cur)
            cur, started = "", False
        else:
            cur += ch
            started = True
    if started:
        out.append(cur)
    return out


def usage_block(command: str) -> str:
    """The 520 reply for ``command``."""
    text = _USAGE.get(command)
    if text is None:
        return "520 Invalid command syntax.  Proper usage not available.\n"
    return f"520-Invalid command syntax.  Proper usage follows:\n{text}\n520 End of proper usage.\n"


def _match(words: list[str]) -> tuple[str, list[str]] | None:
    upper = [w.upper() for w in words]
    for size in (3, 2, 1):
        name = " ".join(upper[:size])
        if len(upper) >= size and name in _COMMANDS:
            return name, words[size:]
    return None


class _Usage(Exception):
    """Wrong arguments: the command answers with its 520 block."""


def _say_words(number: int) -> int:
    """How many sound files ``SAY NUMBER`` plays for ``number`` (English rules)."""
    if number < 0:
        return 1 + _say_words(-number)
    if number < 21:
        return 1
    if number < 100:
        return 1 + (number % 10 != 0)
    if number < 1000:
        return 2 + (_say_words(number % 100) if number % 100 else 0)
    if number < 1_000_000:
        return _say_words(number // 1000) + 1 + (_say_words(number % 1000) if number % 1000 else 0)
    return _say_words(number // 1_000_000) + 1 + (_say_words(number % 1_000_000) if number % 1_000_000 else 0)


class AgiSession:
    """One FastAGI conversation for one channel."""

    def __init__(
        self, ast: SimAsterisk, chan: Channel, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.ast, self.chan, self.reader, self.writer = ast, chan, reader, writer
        self.hangup_sent = False
        self.failure = False

    async def send(self, text: str) -> None:
        self.writer.write(text.encode())
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    async def maybe_hangup(self) -> None:
        if not self.chan.is_alive() and not self.hangup_sent:
            self.hangup_sent = True
            await self.send("HANGUP\n")

    async def read_command(self) -> str | None:
        """The next command line; writes HANGUP meanwhile if the channel hangs up."""
        line_task = asyncio.ensure_future(self.reader.readline())
        try:
            while True:
                await self.maybe_hangup()
                # A Redirect (async goto) ends the AGI session; the dialplan goes on elsewhere.
                kick: asyncio.Future[Any] = asyncio.ensure_future(self.chan.kick.wait())
                waiters: set[asyncio.Future[Any]] = {line_task, kick}
                hang: asyncio.Future[Any] | None = None
                if not self.hangup_sent:
                    hang = asyncio.ensure_future(self.chan.hangup_requested.wait())
                    waiters.add(hang)
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                kick.cancel()
                if hang is not None:
                    hang.cancel()
                if self.chan.kick.is_set() and not line_task.done():
                    return None
                if line_task.done():
                    data = line_task.result()
                    if not data:
                        return None
                    return data.decode("utf-8", "replace").removesuffix("\n")
        except (ConnectionError, asyncio.IncompleteReadError):
            return None
        finally:
            line_task.cancel()

    async def run(self, header: str) -> None:
        await self.send(header)
        pbx = self.ast.pbx
        while True:
            line = await self.read_command()
            if line is None:
                return
            if line.lower().startswith("failure"):
                self.failure = True
                return
            command_id = str(self.ast.rng.randrange(1, 2**31))
            pbx.chan_event(
                "AGIExecStart", self.chan, ("CommandId", command_id), ("Command", line), privilege="agi"
            )
            reply = await self.execute(line)
            code = reply[:3]
            result = {"200": "Success", "510": "Invalid or unknown command", "520": "Usage"}.get(code, "")
            if code == "511":
                result = R_511[4:]
            if code == "200" and reply.startswith("200 result=-1"):
                code, result = "-1", "Failure"
            pbx.chan_event(
                "AGIExecEnd",
                self.chan,
                ("CommandId", command_id),
                ("Command", line),
                ("ResultCode", code),
                ("Result", result),
                privilege="agi",
            )
            await self.send(reply)
            await self.maybe_hangup()

    async def execute(self, line: str) -> str:
        found = _match(parse_args(line))
        if found is None:
            return R_510 + "\n"
        name, args = found
        if not self.chan.is_alive() and not any(name.startswith(ok) for ok in DEAD_OK):
            return R_511 + "\n"
        try:
            return await self._dispatch(name, args)
        except (_Usage, ValueError, IndexError):
            return usage_block(name)

    async def _dispatch(self, name: str, args: list[str]) -> str:
        ast, chan, pbx = self.ast, self.chan, self.ast.pbx
        if name == "ANSWER":
            if ast.answer(chan):
                await ast.wait(chan, ANSWER_DELAY)
            return "200 result=0\n" if chan.is_alive() else "200 result=-1\n"
        if name == "HANGUP":
            target = pbx.find(args[0]) if args else chan
            if target is None:
                return "200 result=-1\n"
            pbx.soft_hangup(target, 32)
            return "200 result=1\n"
        if name in ("STREAM FILE", "CONTROL STREAM FILE"):
            if len(args) < 2:
                raise _Usage
            result, endpos = await play(ast, chan, args[0], args[1], int(args[2]) if len(args) > 2 else 0)
            pbx.set_var(chan, "PLAYBACKSTATUS", "SUCCESS" if result == 0 else "FAILED")
            if result == -1 and chan.is_alive():
                self.failure = True
            return f"200 result={result} endpos={endpos}\n"
        if name == "GET OPTION":
            if len(args) < 2:
                raise _Usage
            result, endpos = await play(ast, chan, args[0], args[1])
            if result == 0:
                timeout = float(args[2]) / 1000 if len(args) > 2 else 5.0
                digit = await wait_digit(ast, chan, timeout, args[1])
                result = ord(digit) if digit else 0
            return f"200 result={result} endpos={endpos}\n"
        if name == "GET DATA":
            return await self._get_data(args)
        if name == "WAIT FOR DIGIT":
            if not args:
                raise _Usage
            ms = int(args[0])
            ast.prompt_started(chan, "")
            digit = await wait_digit(ast, chan, None if ms < 0 else ms / 1000, None)
            return f"200 result={-1 if digit is None else (ord(digit) if digit else 0)}\n"
        if name.startswith("SAY "):
            if len(args) < 2:
                raise _Usage
            # How many sound files Asterisk strings together for this (a bad number raises: 520).
            if name == "SAY NUMBER":
                count = _say_words(int(args[0]))
            elif name in _SAY_TIME_FILES:
                int(args[0])
                count = _SAY_TIME_FILES[name]
            else:
                count = len(args[0])
            ast.prompt_started(chan, f"say:{args[0]}")
            digit = await wait_digit(ast, chan, 0.88 * count, args[1])
            return f"200 result={-1 if digit is None else (ord(digit) if digit else 0)}\n"
        if name == "SET VARIABLE":
            if len(args) < 2:
                raise _Usage
            await run_app(ast, chan, "Set", f"{args[0]}={args[1]}")
            return "200 result=1\n"
        if name == "GET VARIABLE":
            if not args:
                raise _Usage
            value = get_value(chan, args[0], pbx.global_vars)
            return "200 result=0\n" if value is None else f"200 result=1 ({value})\n"
        if name == "GET FULL VARIABLE":
            if not args:
                raise _Usage
            target = pbx.find(args[1]) if len(args) > 1 else chan
            if target is None:
                return "200 result=0\n"
            return f"200 result=1 ({expand(args[0], target, pbx.global_vars)})\n"
        if name == "EXEC":
            if not args:
                raise _Usage
            data = args[1] if len(args) > 1 else ""
            outcome = await run_app(ast, chan, args[0], data)
            return f"200 result={outcome if isinstance(outcome, int) else 0}\n"
        if name in ("SET CONTEXT", "SET EXTENSION", "SET PRIORITY"):
            if not args:
                raise _Usage
            if name == "SET CONTEXT":
                chan.context = args[0]
            elif name == "SET EXTENSION":
                chan.exten = args[0]
            else:
                chan.priority = int(args[0]) if args[0].isdigit() else chan.priority
            return "200 result=0\n"
        if name == "VERBOSE":
            return "200 result=1\n"
        if name == "NOOP":
            return "200 result=0\n"
        if name == "CHANNEL STATUS":
            target = pbx.find(args[0]) if args else chan
            return f"200 result={-1 if target is None else target.state}\n"
        if name == "SET MUSIC":
            app = "StartMusicOnHold" if args and args[0].lower() == "on" else "StopMusicOnHold"
            await run_app(ast, chan, app, args[1] if len(args) > 1 else "")
            return "200 result=0\n"
        if name == "SET CALLERID":
            if not args:
                raise _Usage
            pbx.set_callerid(chan, args[0], chan.cid_name)
            return "200 result=1\n"
        if name == "RECORD FILE":
            return await self._record(args)
        return await self._database(name, args)

    async def _get_data(self, args: list[str]) -> str:
        ast, chan = self.ast, self.chan
        if not args:
            raise _Usage
        timeout = float(args[1]) / 1000 if len(args) > 1 and int(args[1]) > 0 else None
        limit = int(args[2]) if len(args) > 2 else 1024
        result, _ = await play(ast, chan, args[0], "0123456789*#")
        if result == -1:
            return "200 result=-1\n"
        digits = chr(result) if result > 0 else ""
        while True:
            if digits.endswith("#"):
                return f"200 result={digits[:-1]}\n"
            if len(digits) >= limit:
                return f"200 result={digits}\n"
            wait = timeout if timeout is not None else (6.0 if not digits else 2.0)
            digit = await wait_digit(ast, chan, wait, None)
            if digit is None:
                return "200 result=-1\n"
            if digit == "":
                return f"200 result={digits} (timeout)\n"
            digits += digit

    async def _record(self, args: list[str]) -> str:
        ast, chan = self.ast, self.chan
        if len(args) < 4:
            raise _Usage
        filename, fmt, escape, timeout_ms = args[:4]
        seconds = int(timeout_ms) / 1000 if int(timeout_ms) > 0 else None
        if "BEEP" in (a.upper() for a in args[4:]):
            await play(ast, chan, "beep", "")
        started = ast.clock.now()
        digit = await wait_digit(ast, chan, seconds, escape)
        length = ast.clock.now() - started
        path = recording_path(ast, Path(f"{filename}.{fmt}"))
        try:
            if path is not None:
                write_wav(path, length)
        except OSError:
            return "200 result=-1 (writefile)\n"
        endpos = int(length * 8000)
        if digit is None:
            return f"200 result=-1 (hangup) endpos={endpos}\n"
        if digit == "":
            return f"200 result=0 (timeout) endpos={endpos}\n"
        return f"200 result={ord(digit)} (dtmf) endpos={endpos}\n"

    async def _database(self, name: str, args: list[str]) -> str:
        db = self.ast.pbx.global_vars
        if name == "DATABASE PUT" and len(args) >= 3:
            db[f"/{args[0]}/{args[1]}"] = args[2]
            return "200 result=1\n"
        if name == "DATABASE GET" and len(args) >= 2:
            value = db.get(f"/{args[0]}/{args[1]}")
            return "200 result=0\n" if value is None else f"200 result=1 ({value})\n"
        if name == "DATABASE DEL" and len(args) >= 2:
            return "200 result=1\n" if db.pop(f"/{args[0]}/{args[1]}", None) is not None else "200 result=0\n"
        raise _Usage


def _header(ast: SimAsterisk, chan: Channel, url: str, script: str, args: list[str]) -> str:
    dnid = str(chan.meta.get("dnid", "unknown"))
    lines = [("agi_network", "yes")]
    if script:
        lines.append(("agi_network_script", script))
    lines += [
        ("agi_request", url),
        ("agi_channel", chan.name),
        ("agi_language", chan.language),
        ("agi_type", chan.tech),
        ("agi_uniqueid", chan.uniqueid),
        ("agi_version", AGI_VERSION),
        ("agi_callerid", chan.cid_num or "unknown"),
        ("agi_calleridname", chan.cid_name or "unknown"),
        ("agi_callingpres", "0"),
        ("agi_callingani2", "0"),
        ("agi_callington", "0"),
        ("agi_callingtns", "0"),
        ("agi_dnid", dnid),
        ("agi_rdnis", "unknown"),
        ("agi_context", chan.context),
        ("agi_extension", chan.exten),
        ("agi_priority", str(chan.priority)),
        ("agi_enhanced", "0.0"),
        ("agi_accountcode", chan.accountcode),
        ("agi_threadid", str(139639760000000 + ast.rng.randrange(1, 10**9))),
    ]
    lines += [(f"agi_arg_{i}", arg) for i, arg in enumerate(args, 1)]
    return "".join(f"{k}: {v}\n" for k, v in lines) + "\n"


async def run_agi(ast: SimAsterisk, chan: Channel, data: str) -> int:
    """The AGI() application: 0 to continue the dialplan, -1 when the channel hung up."""
    pbx = ast.pbx
    parts = split_args(data)
    url = parts[0]
    split = urlsplit(url)
    host, port = split.hostname or "127.0.0.1", split.port or 4573
    script = url.split("/", 3)[3] if url.count("/") >= 3 else ""
    target = ast.agi_map.get(f"{host}:{port}")
    real_host, real_port = (target.host, target.port) if target else (host, port)
    try:
        reader, writer = await asyncio.wait_for(
            # A connect is a network event, not simulated time: the 2 s limit is not scaled.
            asyncio.open_connection(real_host, real_port),
            timeout=CONNECT_TIMEOUT,
        )
    except (OSError, TimeoutError):
        pbx.set_var(chan, "AGISTATUS", "FAILURE")
        return 0
    session = AgiSession(ast, chan, reader, writer)
    try:
        await session.run(_header(ast, chan, url, script, parts[1:]))
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
    if not chan.is_alive():
        pbx.set_var(chan, "AGISTATUS", "HANGUP")
        return -1
    pbx.set_var(chan, "AGISTATUS", "FAILURE" if session.failure else "SUCCESS")
    return 0 if chan.state == UP or chan.is_alive() else -1
