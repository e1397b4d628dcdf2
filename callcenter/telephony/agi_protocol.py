"""FastAGI wire format, without I/O: the ``agi_*`` header, reply lines and command rendering.

Everything here is plain functions and one incremental parser (``AgiStreamParser``) that is fed
bytes and hands back what they complete: first the typed header (``AgiEnvironment``), then one
``AgiReply`` per reply or the ``HANGUP`` notice. The asyncio server only moves bytes; this module is
what the conformance and property tests exercise directly (the shape of asyncpg's ``CoreProtocol``
and panoramisk's ``parse_agi_result``, minus their desync bugs, PROTOCOL.md B6).

What the parser knows about Asterisk (PROTOCOL.md B1-B4, ``res/res_agi.c``):

* lines end in a bare LF (a stray CR is tolerated and dropped);
* a reply is ``200 result=<v>[ (<data>)][ endpos=<n>]``, or ``510 …``, ``511 …``, ``100 …``, or a
  ``520`` usage block spanning ``520-…`` up to a line that starts with ``520 ``;
* ``HANGUP`` may arrive on its own line between replies, before the reply of the running command.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, NamedTuple
from urllib.parse import parse_qsl

from callcenter.telephony.agi_errors import AgiProtocolError

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_MAX_LINE_BYTES",
    "HANGUP",
    "AgiEnvironment",
    "AgiEvent",
    "AgiReply",
    "AgiStreamParser",
    "HangupNotice",
    "parse_environment",
    "parse_reply_line",
    "quote",
    "render_arg",
]

#: An ``agi_*`` header is ~700 bytes; arguments can add some. Anything far bigger is not Asterisk.
DEFAULT_MAX_HEADER_BYTES: Final = 16 * 1024
#: A reply line carries at most a variable's value; Asterisk's own buffer is 64 KiB (AGI_BUF_SIZE).
DEFAULT_MAX_LINE_BYTES: Final = 64 * 1024

_UNKNOWN: Final = "unknown"


@dataclass(frozen=True, slots=True)
class AgiEnvironment:
    """The ``agi_*`` header of one FastAGI request, typed (PROTOCOL.md B2)."""

    network_script: str
    query: Mapping[str, str]
    request: str
    channel: str
    language: str
    type: str
    uniqueid: str
    version: str
    callerid: str | None
    calleridname: str | None
    dnid: str | None
    rdnis: str | None
    context: str
    extension: str
    priority: str
    accountcode: str
    threadid: str
    args: tuple[str, ...]
    raw: Mapping[str, str] = field(repr=False)


class AgiReply(NamedTuple):
    """One reply from Asterisk.

    ``result`` is the text after ``result=`` (``""`` for ``result= (timeout)``, None when the reply
    has no ``result=``: 510, 511, 520); ``data`` the text in parentheses or the trailing words
    (``Trying...``); ``endpos`` the ``endpos=`` number; ``usage`` the body of a 520 block;
    ``message`` the text after the code of a non-200 reply.

    A NamedTuple rather than a frozen dataclass: one is built per command, and a frozen
    dataclass's ``__init__`` (``object.__setattr__`` per field) costs several times more.
    """

    code: int
    result: str | None = None
    data: str | None = None
    endpos: int | None = None
    usage: str | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class HangupNotice:
    """The ``HANGUP`` line Asterisk writes when the channel hangs up (not a reply)."""


#: The one ``HangupNotice`` the parser returns.
HANGUP: Final = HangupNotice()

AgiEvent = AgiEnvironment | AgiReply | HangupNotice


def _strip_unknown(value: str | None) -> str | None:
    if value is None or value == _UNKNOWN or value == "":
        return None
    return value


def _arg_index(key: str) -> int:
    suffix = key[len("agi_arg_") :]
    return int(suffix) if suffix.isdigit() else 0


def parse_environment(raw: Mapping[str, str]) -> AgiEnvironment:
    """Build the typed environment from the header's key/value pairs.

    ``agi_network_script`` is split at the first ``?``: the path is the route, the query string
    becomes ``query`` (PROTOCOL.md B1 says Asterisk passes it unchanged). Values Asterisk writes as
    ``unknown`` (caller ID, DNID, RDNIS) become None.
    """
    script = raw.get("agi_network_script", "")
    route, _, query_text = script.partition("?")
    query = dict(parse_qsl(query_text, keep_blank_values=True)) if query_text else {}
    arg_keys = sorted((k for k in raw if k.startswith("agi_arg_")), key=_arg_index)
    return AgiEnvironment(
        network_script=route.strip("/"),
        query=MappingProxyType(query),
        request=raw.get("agi_request", ""),
        channel=raw.get("agi_channel", ""),
        language=raw.get("agi_language", ""),
        type=raw.get("agi_type", ""),
        uniqueid=raw.get("agi_uniqueid", ""),
        version=raw.get("agi_version", ""),
        callerid=_strip_unknown(raw.get("agi_callerid")),
        calleridname=_strip_unknown(raw.get("agi_calleridname")),
        dnid=_strip_unknown(raw.get("agi_dnid")),
        rdnis=_strip_unknown(raw.get("agi_rdnis")),
        context=raw.get("agi_context", ""),
        extension=raw.get("agi_extension", ""),
        priority=raw.get("agi_priority", ""),
        accountcode=raw.get("agi_accountcode", ""),
        threadid=raw.get("agi_threadid", ""),
        args=tuple(raw[k] for k in arg_keys),
        raw=MappingProxyType(dict(raw)),
    )


def _parse_header_line(line: str) -> tuple[str, str]:
    key, sep, value = line.partition(":")
    # Keys are ``agi_`` plus lower-case letters, digits and underscores; anything else means the
    # peer is not Asterisk (or the stream is out of step), and we say so without echoing the value.
    if not sep or not key.startswith("agi_") or not key.replace("_", "").isalnum() or not key.isascii():
        shown = key[:40] if sep else line[:40]
        raise AgiProtocolError(f"malformed AGI header line starting {shown!r}")
    if value.startswith(" "):
        value = value[1:]
    return key, value


def _bad_reply(line: str) -> AgiProtocolError:
    return AgiProtocolError(f"malformed AGI reply line {line[:80]!r}")


def _parse_200_body(code: int, body: str, line: str) -> AgiReply:
    # ``body`` is what follows ``NNN ``: ``result=<v>[ (<data>)][ endpos=<n>]`` or trailing words.
    if not body.startswith("result="):
        raise _bad_reply(line)
    value, _, rest = body[7:].partition(" ")
    if not rest:
        return AgiReply(code, value)
    if rest[-1] == ")" and rest[0] == "(":
        # ``(data)`` with nothing after it: an ``endpos=<digits>`` would end the line instead.
        return AgiReply(code, value, rest[1:-1])
    endpos: int | None = None
    if "endpos=" in rest:
        head, _, tail = rest.rpartition("endpos=")
        if tail.isdigit() and (head == "" or head.endswith(" ")):
            endpos = int(tail)
            rest = head.rstrip(" ")
    data: str | None = None
    if rest:
        data = rest[1:-1] if rest[0] == "(" and rest[-1] == ")" else rest
    return AgiReply(code, value, data, endpos)


def parse_reply_line(line: str) -> AgiReply:
    """Parse one single-line reply (not ``HANGUP``, not a ``520-`` block start).

    Raises ``AgiProtocolError`` for a line that is not an AGI reply.
    """
    # Fast path: nearly every reply is ``200 result=…``.
    if line.startswith("200 "):
        return _parse_200_body(200, line[4:], line)
    code_text = line[:3]
    if len(line) < 3 or not code_text.isdigit() or not code_text.isascii() or code_text[0] == "0":
        raise _bad_reply(line)
    if len(line) > 3 and line[3] != " ":
        raise _bad_reply(line)
    code = int(code_text)
    text = line[4:]
    if code == 100 and text.startswith("result="):
        # ``100 result=0 Trying...`` (GOSUB): keep the words as data, the session skips it.
        return _parse_200_body(code, text, line)
    if code == 200:
        raise _bad_reply(line)
    return AgiReply(code, message=text)


class AgiStreamParser:
    """Incremental parser for the bytes Asterisk sends on one FastAGI connection.

    ``feed(data)`` returns the header (once, as ``AgiEnvironment``), then replies and ``HANGUP``
    notices in order. A partial line is kept for the next call. Any malformed input raises
    ``AgiProtocolError`` and the parser refuses further input: the connection must be closed,
    because after garbage there is no way to know which reply belongs to which command.
    """

    __slots__ = ("_buf", "_failed", "_header", "_header_bytes", "_max_header", "_max_line", "_usage")

    def __init__(
        self,
        *,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self._buf = b""
        self._max_header = max_header_bytes
        self._max_line = max_line_bytes
        #: header pairs while the header is being read; None once it is complete
        self._header: dict[str, str] | None = {}
        self._header_bytes = 0
        #: lines of a 520 block being read: [first line text, usage lines…]
        self._usage: list[str] | None = None
        self._failed = False

    @property
    def header_done(self) -> bool:
        """True once the blank line that ends the ``agi_*`` header has been read."""
        return self._header is None

    def fast_reply(self, data: bytes) -> AgiReply | None:
        """The reply if ``data`` is exactly one plain ``200`` line and nothing is pending, else None.

        The common case (one read = one ``200 result=…`` line) skips the general machinery; on
        None the caller uses ``feed``, which handles everything else. Errors are the same as feed's.
        """
        if (
            self._header is not None
            or self._buf
            or self._usage is not None
            or self._failed
            or not data.startswith(b"200 ")
            or data.find(b"\n") != len(data) - 1
            or data[-2:-1] == b"\r"
        ):
            return None
        line = data[:-1].decode("utf-8", "replace")
        try:
            return _parse_200_body(200, line[4:], line)
        except AgiProtocolError:
            self._failed = True
            raise

    def feed(self, data: bytes) -> list[AgiEvent]:
        """Take the next bytes read from the socket; return the events they complete."""
        if self._failed:
            raise AgiProtocolError("the AGI stream is already out of step")
        if self._buf:
            data = self._buf + data
            self._buf = b""
        events: list[AgiEvent] = []
        start = 0
        find = data.find
        try:
            while (nl := find(b"\n", start)) >= 0:
                raw = data[start:nl]
                start = nl + 1
                if raw[-1:] == b"\r":
                    raw = raw[:-1]
                self._line(raw.decode("utf-8", "replace"), len(raw) + 1, events)
            if start < len(data):
                rest = data[start:]
                limit = self._max_header - self._header_bytes if self._header is not None else self._max_line
                if len(rest) > limit:
                    what = "AGI header" if self._header is not None else "AGI reply line"
                    raise AgiProtocolError(f"{what} longer than {limit} bytes")
                self._buf = rest
        except AgiProtocolError:
            self._failed = True
            raise
        return events

    def _line(self, line: str, size: int, events: list[AgiEvent]) -> None:
        header = self._header
        if header is not None:
            self._header_bytes += size
            if self._header_bytes > self._max_header:
                raise AgiProtocolError(f"AGI header longer than {self._max_header} bytes")
            if line:
                key, value = _parse_header_line(line)
                header[key] = value
                return
            if not header:
                raise AgiProtocolError("empty AGI header")
            self._header = None
            events.append(parse_environment(header))
            return
        usage = self._usage
        if usage is not None:
            if line.startswith("520 "):
                self._usage = None
                events.append(AgiReply(520, message=usage[0], usage="\n".join(usage[1:])))
            else:
                usage.append(line)
            return
        if line == "HANGUP":
            events.append(HANGUP)
        elif line.startswith("520-"):
            self._usage = [line[4:]]
        else:
            events.append(parse_reply_line(line))


_NEEDS_QUOTES: Final = frozenset(' \t"\\,')
_FORBIDDEN: Final = frozenset("\n\r\0")
#: Either kind: an argument with none of these is written as it is (one scan on the fast path).
_SPECIAL: Final = _NEEDS_QUOTES | _FORBIDDEN


def _check(value: str) -> None:
    # A newline inside an argument would end the command early and let the rest run as a second
    # command (injection, and a desynchronised session), so it is refused outright.
    if not _FORBIDDEN.isdisjoint(value):
        raise ValueError("AGI arguments cannot contain newlines or NUL")


def quote(value: str) -> str:
    """Always quote: ``"…"`` with ``\\`` and ``"`` escaped, as Asterisk's ``parse_args`` reads them."""
    _check(value)
    if '"' in value or "\\" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{value}"'


def render_arg(value: str | int) -> str:
    """Quote an argument only when it must be: empty, or holding blanks, quotes, backslashes, commas.

    Commas are quoted although ``parse_args`` does not split on them, so an application's option
    list (``EXEC Dial "PJSIP/201,20,g"``) reads as the one argument it is (the trace does this).
    """
    if isinstance(value, int):
        return str(value)
    if value and _SPECIAL.isdisjoint(value):
        return value
    return quote(value)
