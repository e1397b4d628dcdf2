"""The typed FastAGI session a route handler drives: one object per call, one command at a time.

Each method renders one AGI command, waits for its reply and turns the reply into a Python value
or an exception (PROTOCOL.md B3/B4):

* digits come back as ASCII codes (``result=49`` is ``"1"``); 0 means "no digit";
* ``-1`` on a media command (ANSWER, STREAM FILE, GET OPTION/DATA, WAIT FOR DIGIT, SAY *,
  RECORD FILE) means the caller hung up and raises ``ChannelHungUp``, with one exception:
  STREAM FILE and GET OPTION answer ``-1 endpos=0`` for a sound file Asterisk does not have,
  with the channel still up, so that reply is logged and played as silence (a missing prompt
  must not cost the caller the call; a hang-up at that instant still shows as the HANGUP line
  before the next reply). ``hung_up`` is only set on the definite signs below;
* a ``HANGUP`` line or a 511 reply sets ``hung_up`` for good; 511 raises ``ChannelHungUp``;
* GET/SET VARIABLE, GET FULL VARIABLE, EXEC and VERBOSE keep working after a hang-up (Asterisk
  allows them on a dead channel) so the flow can save its state;
* 510 and 520 raise ``AgiCommandError`` (520 carries the usage text).

Commands are still sent after a hang-up is known rather than refused locally: Asterisk is the
authority on what a dead channel allows, and the conformance traces show it answering 511.

The session talks to any ``CommandChannel`` (the server's connection, or an in-memory fake in
tests), which owns the socket, the ``HANGUP`` notices and the "no pipelining" rule.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from callcenter.logs import get_logger
from callcenter.telephony.agi_errors import AgiCommandError, ChannelHungUp
from callcenter.telephony.agi_protocol import AgiEnvironment, AgiReply, quote, render_arg

_log = get_logger("callcenter.telephony.agi")

__all__ = ["AgiSession", "CommandChannel", "DigitsResult", "PlaybackResult", "RecordResult"]


@dataclass(frozen=True, slots=True)
class PlaybackResult:
    """STREAM FILE / GET OPTION: the escape digit pressed (None if none) and where playback stopped."""

    digit: str | None
    endpos: int


@dataclass(frozen=True, slots=True)
class DigitsResult:
    """GET DATA: the digits typed (maybe empty) and whether input ended by timeout."""

    digits: str
    timed_out: bool


@dataclass(frozen=True, slots=True)
class RecordResult:
    """RECORD FILE: the DTMF digit that ended it (None otherwise), the end position, and timeout."""

    digit: str | None
    endpos: int
    timed_out: bool


class CommandChannel(Protocol):
    """What a session needs from its connection: send one command line, get its reply."""

    hung_up: bool

    def request(self, data: bytes) -> Awaitable[AgiReply]:
        """Write ``data`` (one command ending in LF) and resolve with its reply.

        Raises ``ChannelHungUp`` when the connection is gone.
        """
        ...


def _unexpected(command: str, reply: AgiReply) -> AgiCommandError:
    return AgiCommandError(reply.code, f"unexpected result {reply.result!r}", command=command)


class AgiSession:
    """One FastAGI call, handed to the route handler registered for its ``agi_network_script``."""

    __slots__ = ("_chan", "env")

    def __init__(self, env: AgiEnvironment, channel: CommandChannel) -> None:
        self.env = env
        self._chan = channel

    @property
    def hung_up(self) -> bool:
        """True once Asterisk said the channel hung up (``HANGUP`` line, 511, or the socket closed)."""
        return self._chan.hung_up

    async def _run(self, line: str) -> AgiReply:
        """Send one command; return its 200 reply or raise for 510/511/520/other codes."""
        reply = await self._chan.request((line + "\n").encode())
        if reply.code == 200:
            return reply
        if reply.code == 511:
            self._chan.hung_up = True
            raise ChannelHungUp(f"{line.split(' ', 1)[0]}: channel is dead (511)")
        raise AgiCommandError(reply.code, reply.message, command=line.split(" ", 1)[0], usage=reply.usage)

    async def _media(self, line: str) -> AgiReply:
        """Send a command that needs a live channel: ``result=-1`` means the caller hung up."""
        reply = await self._run(line)
        if reply.result == "-1":
            raise ChannelHungUp(f"{line.split(' ', 1)[0]}: result=-1 (hang-up)")
        return reply

    @staticmethod
    def _digit(line: str, reply: AgiReply) -> str | None:
        """An ASCII-code result as the digit it stands for; 0 is None."""
        result = reply.result
        if result == "0":
            return None
        if result is None or not result.isdigit() or not 0 < int(result) < 128:
            raise _unexpected(line, reply)
        return chr(int(result))

    async def command(self, line: str) -> AgiReply:
        """Send an AGI command line as written (for commands without a method: GOSUB, DATABASE …).

        Returns the 200 reply untouched; 510/520 raise ``AgiCommandError``, 511 ``ChannelHungUp``.
        """
        if "\n" in line or "\r" in line:
            raise ValueError("one AGI command per call, without newlines")
        return await self._run(line)

    async def answer(self) -> None:
        """ANSWER the channel (a no-op on an answered channel)."""
        await self._media("ANSWER")

    async def stream_file(
        self, file: str, escape_digits: str = "", offset: int | None = None
    ) -> PlaybackResult:
        """Play ``file`` (no extension); a key in ``escape_digits`` stops it and is returned."""
        line = f"STREAM FILE {render_arg(file)} {quote(escape_digits)}"
        if offset is not None:
            line = f"{line} {int(offset)}"
        return await self._playback(line)

    async def _playback(self, line: str) -> PlaybackResult:
        """STREAM FILE / GET OPTION. ``result=-1 endpos=0`` is how Asterisk answers a sound file it
        does not have (PROTOCOL.md B3), and the channel is still up: a missing prompt must cost
        the caller a moment of silence, not the call. A real hang-up at that very instant is
        still noticed, by the HANGUP line that then arrives before the next reply."""
        reply = await self._run(line)
        if reply.result == "-1" and reply.endpos == 0 and not self.hung_up:
            _log.warning("sound_file_missing", command=line.split(" ", 2)[:2], file=line.split(" ")[2])
            return PlaybackResult(None, 0)
        if reply.result == "-1":
            raise ChannelHungUp(f"{line.split(' ', 1)[0]}: result=-1 (hang-up)")
        return PlaybackResult(self._digit(line, reply), reply.endpos or 0)

    async def get_option(
        self, file: str, escape_digits: str, timeout_ms: int | None = None
    ) -> PlaybackResult:
        """Play ``file`` then wait for one of ``escape_digits`` (Asterisk's default wait is 5 s)."""
        line = f"GET OPTION {render_arg(file)} {quote(escape_digits)}"
        if timeout_ms is not None:
            line = f"{line} {int(timeout_ms)}"
        return await self._playback(line)

    async def get_data(
        self, file: str, timeout_ms: int | None = None, max_digits: int | None = None
    ) -> DigitsResult:
        """Play ``file`` and collect digits until ``#``, ``max_digits`` or the timeout."""
        line = f"GET DATA {render_arg(file)}"
        if timeout_ms is not None or max_digits is not None:
            # A timeout of 0 makes Asterisk use its default, which lets max_digits stand alone.
            line = f"{line} {int(timeout_ms or 0)}"
            if max_digits is not None:
                line = f"{line} {int(max_digits)}"
        reply = await self._media(line)
        return DigitsResult(reply.result or "", reply.data == "timeout")

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        """Wait up to ``timeout_ms`` (-1: forever) for one DTMF digit; None on timeout."""
        line = f"WAIT FOR DIGIT {int(timeout_ms)}"
        return self._digit(line, await self._media(line))

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        """Say ``digits`` one by one; returns the escape digit pressed, if any."""
        line = f"SAY DIGITS {render_arg(digits)} {quote(escape_digits)}"
        return self._digit(line, await self._media(line))

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        """Say ``number`` in the channel's language; returns the escape digit pressed, if any."""
        line = f"SAY NUMBER {int(number)} {quote(escape_digits)}"
        return self._digit(line, await self._media(line))

    async def say_date(self, epoch_seconds: int, escape_digits: str = "") -> str | None:
        """Say the date of ``epoch_seconds``; returns the escape digit pressed, if any."""
        line = f"SAY DATE {int(epoch_seconds)} {quote(escape_digits)}"
        return self._digit(line, await self._media(line))

    async def set_variable(self, name: str, value: str) -> None:
        """Set a channel variable (works after a hang-up)."""
        await self._run(f"SET VARIABLE {render_arg(name)} {render_arg(value)}")

    async def get_variable(self, name: str) -> str | None:
        """A channel variable or function (``CALLERID(num)``); None when unset (works after hang-up)."""
        reply = await self._run(f"GET VARIABLE {render_arg(name)}")
        return (reply.data or "") if reply.result == "1" else None

    async def get_full_variable(self, expression: str, channel: str | None = None) -> str | None:
        """Expand ``${…}`` expressions, on this or another channel; None if that channel is gone."""
        line = f"GET FULL VARIABLE {render_arg(expression)}"
        if channel is not None:
            line = f"{line} {render_arg(channel)}"
        reply = await self._run(line)
        return (reply.data or "") if reply.result == "1" else None

    async def exec(self, application: str, options: str = "") -> int:
        """Run a dialplan application; returns its code (-1: it wants the call ended).

        -2 (no such application) raises ``AgiCommandError``. Works after a hang-up.
        """
        line = f"EXEC {render_arg(application)}"
        if options:
            line = f"{line} {render_arg(options)}"
        reply = await self._run(line)
        result = reply.result or ""
        if result == "-2":
            raise AgiCommandError(200, f"application {application!r} not found", command="EXEC")
        try:
            return int(result)
        except ValueError:
            raise _unexpected(line, reply) from None

    async def set_context(self, context: str) -> None:
        """Where the dialplan continues after AGI (see PROTOCOL.md B3 on the priority gotcha)."""
        await self._run(f"SET CONTEXT {render_arg(context)}")

    async def set_extension(self, extension: str) -> None:
        """The extension the dialplan continues at after AGI."""
        await self._run(f"SET EXTENSION {render_arg(extension)}")

    async def set_priority(self, priority: str | int) -> None:
        """The priority (number or label) the dialplan continues at; an unknown label raises 520."""
        await self._run(f"SET PRIORITY {render_arg(priority)}")

    async def record_file(
        self,
        file: str,
        fmt: str = "wav",
        escape_digits: str = "#",
        timeout_ms: int = 60000,
        beep: bool = True,
        silence_s: int | None = None,
    ) -> RecordResult:
        """Record to ``file.fmt`` until an escape digit, ``timeout_ms`` or ``silence_s`` of silence."""
        line = f"RECORD FILE {render_arg(file)} {render_arg(fmt)} {quote(escape_digits)} {int(timeout_ms)}"
        if beep:
            line = f"{line} BEEP"
        if silence_s is not None:
            line = f"{line} s={int(silence_s)}"
        reply = await self._run(line)
        data = reply.data
        if data == "hangup":
            raise ChannelHungUp("RECORD FILE: hang-up while recording")
        if data in ("writefile", "randomerror") or reply.result == "-1":
            raise AgiCommandError(200, f"recording failed ({data})", command="RECORD FILE")
        digit = self._digit(line, reply) if data == "dtmf" else None
        return RecordResult(digit, reply.endpos or 0, data == "timeout")

    async def verbose(self, message: str, level: int = 1) -> None:
        """Write ``message`` to the Asterisk console at verbosity ``level`` (works after hang-up)."""
        await self._run(f"VERBOSE {quote(message)} {int(level)}")

    async def hangup(self) -> None:
        """Hang up this channel; the session ends once the handler returns."""
        reply = await self._run("HANGUP")
        if reply.result != "1":
            raise _unexpected("HANGUP", reply)
        self._chan.hung_up = True
