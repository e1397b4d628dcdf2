"""Sans-I/O AMI framer: bytes from the socket in, header frames out.

``AmiFramer.feed(data)`` takes whatever one TCP read returned and gives back the frames that are
now complete, as :class:`Frame` (a header block) or :class:`FrameError` (a block that could not be
parsed; the framer carries on with the next block). It never raises on input: garbage costs one
``FrameError`` and nothing else.

What it handles that panoramisk's ``AMIProtocol`` does not (PROTOCOL.md A1, A11):

* the greeting line ``Asterisk Call Manager/11.0.0`` that has no blank line after it (kept in
  :attr:`AmiFramer.version`, never glued onto the next frame);
* CRLF and bare LF line ends, also mixed, and a CR/LF pair split across two reads (CR is
  only a line-end character in AMI, so every CR is dropped on arrival);
* UTF-8 characters split across reads: bytes are decoded only once a whole frame is in, so no
  character is lost (panoramisk decodes each chunk with ``errors='ignore'``);
* empty values, including on the last line (``BridgeId: ``), which panoramisk strips away;
* repeated headers: ``ChanVariable``, ``Output`` and ``Variable`` keep every value (read them with
  :meth:`Frame.getall`); for any other header the first value wins, as in Asterisk;
* case-insensitive header lookup, with a fast path for Asterisk's own spelling;
* bounded memory: a line longer than :data:`MAX_LINE` or a block longer than :data:`MAX_FRAME`
  becomes a ``FrameError`` instead of growing the buffer without limit.

Speed matters (DESIGN.md: at least 3× panoramisk's parser), so the common case is one
``bytes.translate`` per read, one decode per batch of frames, and one ``dict`` per frame built in C;
anything unusual (a repeated header, an empty line, a line without ``": "``) falls back to a
careful line-by-line parse of that frame only.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat

__all__ = ["MAX_FRAME", "MAX_LINE", "MULTI_VALUE_HEADERS", "AmiFramer", "Frame", "FrameError"]

#: Asterisk's own limit is 1024 bytes a line; a line this much longer is not AMI.
MAX_LINE = 8192
#: 128 headers of 1024 bytes is Asterisk's largest frame; allow a wide margin, then give up.
MAX_FRAME = 256 * 1024
#: Headers that legitimately repeat and accumulate (lower case).
MULTI_VALUE_HEADERS = frozenset({"chanvariable", "output", "variable"})

_GREETING = "Asterisk Call Manager/"
_RAW_EXCERPT = 200
_dict_get = dict.get
_SEP = repeat(": ")  # endless argument streams for map(str.split, lines, _SEP, _ONE)
_ONE = repeat(1)


class Frame(dict[str, str]):
    """One AMI header block: an event, a response or (on the server side) an action.

    It is a ``dict`` of header name (spelled as on the wire) to its first value, so building one
    costs a single C-level ``dict`` construction. ``frame[name]``, :meth:`get` and ``in`` also
    find a header written in another case; :meth:`getall` returns every value of a repeated
    header (``ChanVariable``, ``Output``, ``Variable``).
    """

    #: lower-cased name -> all values, set only when a multi-value header occurred twice or more
    multi: dict[str, list[str]] | None = None
    _lower: dict[str, str] | None = None

    def _lowered(self) -> dict[str, str]:
        lower = self._lower
        if lower is None:
            # Built in C, walking backwards so that the first spelling of a name wins.
            lower = self._lower = dict(
                zip(map(str.lower, reversed(self.keys())), reversed(self.values()), strict=True)
            )
        return lower

    def __missing__(self, name: str) -> str:
        # Only reached when the exact spelling is absent, so Asterisk's own names stay fast.
        return self._lowered()[name.lower()]

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """The first value of header ``name`` (any case), or ``default``."""
        value = _dict_get(self, name)
        if value is not None:
            return value
        return self._lowered().get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def getall(self, name: str) -> list[str]:
        """Every value of header ``name`` in wire order (empty list if absent)."""
        if self.multi is not None:
            values = self.multi.get(name.lower())
            if values is not None:
                return list(values)
        value = self.get(name)
        return [] if value is None else [value]

    @property
    def event(self) -> str | None:
        """The ``Event`` header, or None for a response."""
        return self.get("Event")

    @property
    def response(self) -> str | None:
        """The ``Response`` header (``Success``, ``Error``, ``Goodbye``), or None for an event."""
        return self.get("Response")

    @property
    def action_id(self) -> str | None:
        """The ``ActionID`` header, present on responses, list items and OriginateResponse."""
        return self.get("ActionID")

    def __repr__(self) -> str:
        return f"Frame({dict.__repr__(self)})"


@dataclass(frozen=True, slots=True)
class FrameError:
    """A block that is not a valid AMI frame: why, and the start of its text (for the log)."""

    reason: str
    raw: str


def _parse_block_slow(block: str) -> Frame | FrameError:
    """The careful parse: repeated headers, stray blank lines, bad lines, over-long lines."""
    lines = block.split("\n")
    if len(block) > MAX_LINE and any(len(line) > MAX_LINE for line in lines):
        return FrameError(f"line longer than {MAX_LINE} characters", block[:_RAW_EXCERPT])
    headers: dict[str, str] = {}
    seen: dict[str, str] = {}  # lower-cased name -> name as first spelled
    multi: dict[str, list[str]] | None = None
    for line in lines:
        if not line:
            continue  # stray blank line from a "\n\n\n" run
        key, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":") and len(line) > 1:
                key, value = line[:-1], ""  # "Key:" with the trailing space trimmed by a client
            else:
                return FrameError(f"line without ': ' separator: {line[:80]!r}", block[:_RAW_EXCERPT])
        if not key or key != key.strip():
            return FrameError(f"bad header name {key[:80]!r}", block[:_RAW_EXCERPT])
        lower = key.lower()
        first = seen.get(lower)
        if first is None:
            seen[lower] = key
            headers[key] = value
            continue
        if multi is None:
            multi = {}
        values = multi.get(lower)
        if values is None:
            values = multi[lower] = [headers[first]]
        values.append(value)
    if not headers:
        return FrameError("empty frame", block[:_RAW_EXCERPT])
    if multi is not None:
        # Only the known multi-value headers accumulate; for the rest the first value stands
        # and the extra values are simply dropped, as Asterisk's astman_get_header does.
        multi = {k: v for k, v in multi.items() if k in MULTI_VALUE_HEADERS} or None
    frame = Frame(headers)
    if multi is not None:
        frame.multi = multi
    return frame


class AmiFramer:
    """Incremental AMI framer; feed it raw reads, get complete frames.

    ``expect_greeting`` is True for a client (Asterisk speaks first with its version line) and
    False for a server reading actions.
    """

    __slots__ = ("_buf", "_discarding", "_greeting_pending", "version")

    def __init__(self, *, expect_greeting: bool = True) -> None:
        self._buf = b""  # bytes not yet part of a complete frame
        self._greeting_pending = expect_greeting
        self._discarding = False  # dropping an over-long block up to its blank line
        #: Protocol version from the greeting (``"11.0.0"`` on Asterisk 22), once received.
        self.version: str | None = None

    def reset(self) -> None:
        """Forget everything buffered, e.g. after a reconnect; the next read starts with a greeting."""
        self._buf = b""
        self._greeting_pending = True
        self._discarding = False
        self.version = None

    @property
    def awaiting_greeting(self) -> bool:
        """True until the first line has been seen (and taken as the greeting if it is one)."""
        return self._greeting_pending

    @property
    def buffered(self) -> int:
        """How many bytes of an incomplete frame are waiting."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame | FrameError]:
        """Add one read's bytes; return the frames (and bad blocks) completed by them, in order."""
        # CR is only ever part of a line end in AMI, so deleting every CR turns CRLF into LF in
        # one fast pass (cheaper than detecting which line ends a read uses), also when a CRLF
        # pair is split across two reads. The buffer keeps the normalised bytes.
        data = data.translate(None, b"\r")
        buf = self._buf + data if self._buf else data
        out: list[Frame | FrameError] = []
        if self._greeting_pending:
            buf = self._take_greeting(buf)
            if self._greeting_pending:
                self._buf = buf
                return out
        if self._discarding:
            end = buf.find(b"\n\n")
            if end < 0:
                self._buf = buf[-1:]  # a blank line may straddle this read and the next
                return out
            buf = buf[end + 2 :]
            self._discarding = False
        end = buf.rfind(b"\n\n")
        if end < 0:
            self._buf = buf
            if len(buf) > MAX_FRAME:
                self._start_discarding(out)
            return out
        self._buf = buf[end + 2 :]
        text = buf[:end].decode("utf-8", "replace")
        append = out.append
        split = str.split
        sep_arg, one_arg = _SEP, _ONE
        # No line can be over-long if the whole batch is short (the usual case): skip the check.
        max_line = MAX_LINE if len(text) > MAX_LINE else len(text)
        for block in text.split("\n\n"):
            # The parser's hot path: map() over str.split keeps the per-line work in C (no
            # bytecode runs per header line), and the checks below are O(1) per frame.
            lines = block.split("\n")
            try:
                frame = Frame(map(split, lines, sep_arg, one_arg))
            except ValueError:  # a line without ": " (or an empty block)
                if block:  # an empty block is a run of extra blank lines: nothing to report
                    append(_parse_block_slow(block))
                continue
            if len(frame) != len(lines) or len(block) > max_line:
                append(_parse_block_slow(block))
            else:
                append(frame)
        if len(self._buf) > MAX_FRAME:
            self._start_discarding(out)
        return out

    def _start_discarding(self, out: list[Frame | FrameError]) -> None:
        out.append(FrameError(f"frame longer than {MAX_FRAME} bytes", self._excerpt(self._buf)))
        self._buf = self._buf[-1:]
        self._discarding = True

    def _take_greeting(self, buf: bytes) -> bytes:
        newline = buf.find(b"\n")
        if newline < 0:
            if len(buf) > MAX_LINE:
                # No line end in sight: this is not an Asterisk greeting; parse as frames.
                self._greeting_pending = False
            return buf
        self._greeting_pending = False
        line = buf[:newline].decode("utf-8", "replace")
        if line.startswith(_GREETING):
            self.version = line[len(_GREETING) :].strip()
            return buf[newline + 1 :]
        return buf  # no greeting (a server that skips it, or a test stream): keep every byte

    @staticmethod
    def _excerpt(buf: bytes) -> str:
        return buf[:_RAW_EXCERPT].decode("utf-8", "replace")
