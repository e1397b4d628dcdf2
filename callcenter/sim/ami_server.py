"""The AMI server of the simulated Asterisk (TCP, as ``main/manager.c`` speaks it).

Greeting ``Asterisk Call Manager/11.0.0``, CRLF framing (bare LF accepted), plain and MD5
(Challenge) login, 1 s delay then Error and close on a bad login, FullyBooted after Success,
event masks from Login ``Events:`` and ``Action: Events``, ActionID echoed only when sent, list
actions with ack / items / ``…Complete``, OriginateResponse only for Async Originate, events
held back while an action (notably a synchronous Originate) runs, ``Shutdown`` then close on stop.
Fault hooks for tests: :meth:`AmiServer.drop_all` and :meth:`AmiServer.stall`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from callcenter.logs import get_logger
from callcenter.sim.ami_actions import ActionHandler

if TYPE_CHECKING:
    from callcenter.sim.asterisk import SimAsterisk

__all__ = [
    "ALL_CLASSES",
    "GREETING",
    "AmiServer",
    "AmiSession",
    "AmiUser",
    "EventFilter",
    "format_message",
    "parse_callerid",
    "parse_filter",
    "parse_mask",
    "passes_filters",
]

GREETING = b"Asterisk Call Manager/11.0.0\r\n"
ALL_CLASSES = frozenset(
    "system call log verbose command agent user config dtmf reporting cdr dialplan originate agi cc aoc "
    "test security message".split()
)
_TRUE = {"on", "yes", "true", "y", "t", "1"}
_log = get_logger(__name__)


def format_message(fields: list[tuple[str, str]]) -> bytes:
    """``Key: Value`` lines with CRLF and the blank line that ends a message."""
    return "".join(f"{k}: {v}\r\n" for k, v in fields).encode() + b"\r\n"


def parse_mask(value: str) -> frozenset[str]:
    """An ``Events:``/``EventMask:`` value as a set of classes (``strings_to_mask``)."""
    text = value.strip().lower()
    if text in _TRUE:
        return ALL_CLASSES
    if text.isdigit():
        return ALL_CLASSES if int(text) else frozenset()
    parts = {p.strip() for p in text.split(",")}
    if parts & ALL_CLASSES:
        return frozenset(parts & ALL_CLASSES)
    return frozenset()


@dataclass(frozen=True)
class AmiUser:
    """A ``manager.conf`` user: secret and read/write classes."""

    secret: str
    read: frozenset[str] = ALL_CLASSES
    write: frozenset[str] = ALL_CLASSES


class AmiSession:
    """One connected AMI client."""

    def __init__(self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.reader, self.writer = reader, writer
        self.user: AmiUser | None = None
        self.username = ""
        self.mask: frozenset[str] = ALL_CLASSES
        self.challenge = ""
        self.busy = False
        self.held: list[bytes] = []
        self.closed = False
        self.session_id = f"0x{id(self):x}"
        self.filters: list[EventFilter] = []
        self.handler = ActionHandler(self)

    # -- output -----------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Write now, or keep it while the server is stalled."""
        if self.closed:
            return
        if self.server.stalled_until > time.monotonic():
            self.server.stall_buffer.append((self, data))
            return
        try:
            self.writer.write(data)
        except (ConnectionError, RuntimeError):
            self.closed = True
            return
        # Asterisk drops a client that does not keep up (writetimeout); a bounded buffer does the same.
        if self.writer.transport.get_write_buffer_size() > self.server.max_backlog:
            _log.warning("ami client too slow, disconnecting", session=self.session_id)
            self.close()

    def send(self, fields: list[tuple[str, str]]) -> None:
        """Write one message."""
        self.write(format_message(fields))

    def event(self, name: str, privilege: str, body: list[tuple[str, str]]) -> None:
        """Deliver an event if the user's read permission and the session mask allow its class."""
        if self.user is None or self.closed:
            return
        classes = {c for c in privilege.split(",") if c != "all"}
        if not classes <= (self.user.read & self.mask):
            return
        data = format_message([("Event", name), ("Privilege", privilege), *body])
        if self.filters and not passes_filters(self.filters, name, body, data.decode("utf-8", "replace")):
            return
        if self.busy:
            self.held.append(data)
        else:
            self.write(data)

    def flush_held(self) -> None:
        """Write the events that waited while an action ran."""
        held, self.held = self.held, []
        for data in held:
            self.write(data)

    def security_event(self, name: str, severity: str, *extra: tuple[str, str]) -> None:
        """A security-class event about this session (SuccessfulAuth, RequestBadFormat…)."""
        now = (
            datetime.fromtimestamp(self.server.ast.clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
            + "+0000"
        )
        local = self.writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        remote = self.writer.get_extra_info("peername") or ("127.0.0.1", 0)
        fields = [
            ("EventTV", now),
            ("Severity", severity),
            ("Service", "AMI"),
            ("EventVersion", "1"),
        ]
        if name == "SuccessfulAuth":
            fields.append(("AccountID", self.username))
        fields += [
            ("SessionID", self.session_id),
            ("LocalAddress", f"IPV4/TCP/{local[0]}/{local[1]}"),
            ("RemoteAddress", f"IPV4/TCP/{remote[0]}/{remote[1]}"),
        ]
        if name == "SuccessfulAuth":
            fields += [("UsingPassword", "0"), ("SessionTV", now)]
        else:
            fields += [*extra, ("SessionTV", now), ("AccountID", self.username)]
        self.event(name, "security,all", fields)

    # -- input ------------------------------------------------------------------------------

    async def read_message(self) -> list[tuple[str, str]] | None:
        """One request: header lines up to a blank line (CRLF or LF); None at EOF."""
        fields: list[tuple[str, str]] = []
        while True:
            raw = await self.reader.readline()
            if not raw:
                return None
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                if fields:
                    return fields
                continue
            name, _, value = line.partition(":")
            fields.append((name.strip(), value.strip()))

    async def serve(self) -> None:
        """Greet, then handle actions one at a time until the client leaves or is dropped."""
        self.write(GREETING)
        try:
            while not self.closed:
                if self.user is None:
                    # authtimeout: a client that does not log in in time is dropped.
                    try:
                        message = await asyncio.wait_for(self.read_message(), self.server.auth_timeout)
                    except TimeoutError:
                        break
                else:
                    message = await self.read_message()
                if message is None:
                    break
                self.busy = True
                try:
                    keep = await self.handler.handle(message)
                finally:
                    self.busy = False
                self.flush_held()
                with contextlib.suppress(ConnectionError):
                    await self.writer.drain()
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.close()

    def close(self) -> None:
        """Close the connection."""
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                self.writer.close()
        self.server.sessions.discard(self)

    def check_key(self, key: str, secret: str) -> bool:
        """MD5 login: ``md5(challenge + secret)`` in lower-case hex."""
        expected = hashlib.md5((self.challenge + secret).encode()).hexdigest()
        return bool(self.challenge) and key.lower() == expected


@dataclass
class AmiServer:
    """Listens for AMI clients and feeds them the simulated Asterisk's events."""

    ast: SimAsterisk
    users: dict[str, AmiUser] = field(default_factory=lambda: {"cc": AmiUser("ccsecret")})
    host: str = "127.0.0.1"
    port: int = 0
    sessions: set[AmiSession] = field(default_factory=set)
    #: Real seconds an unauthenticated client may stay (Asterisk's authtimeout).
    auth_timeout: float = 30.0
    #: Bytes of unsent output after which a slow client is disconnected.
    max_backlog: int = 4 * 1024 * 1024
    stalled_until: float = 0.0
    stall_buffer: list[tuple[AmiSession, bytes]] = field(default_factory=list)
    _server: asyncio.base_events.Server | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def start(self) -> None:
        """Start listening (``port`` 0 picks a free one, readable afterwards)."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.ast.pbx.listeners.append(self._on_event)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        session = AmiSession(self, reader, writer)
        self.sessions.add(session)
        try:
            await session.serve()
        finally:
            if task is not None:
                self._tasks.discard(task)

    def _on_event(self, name: str, privilege: str, body: list[tuple[str, str]]) -> None:
        for session in list(self.sessions):
            session.event(name, privilege, body)

    async def stop(self, restart: bool = False) -> None:
        """Send Shutdown to every session, close them and stop listening."""
        for session in list(self.sessions):
            session.busy = False
            session.event("Shutdown", "system,all", [("Shutdown", "Cleanly"), ("Restart", str(restart))])
            with contextlib.suppress(ConnectionError):
                await session.writer.drain()
            session.close()
        if self._on_event in self.ast.pbx.listeners:
            self.ast.pbx.listeners.remove(self._on_event)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=1.0)

    def drop_all(self) -> None:
        """Fault hook: cut every connection at once, without Shutdown."""
        for session in list(self.sessions):
            with contextlib.suppress(Exception):
                session.writer.transport.abort()
            session.close()

    def stall(self, seconds: float) -> None:
        """Fault hook: send nothing (not even Ping replies) for ``seconds`` of real time."""
        self.stalled_until = time.monotonic() + seconds
        loop = asyncio.get_running_loop()
        loop.call_later(seconds, self._unstall)

    def _unstall(self) -> None:
        buffered, self.stall_buffer = self.stall_buffer, []
        for session, data in buffered:
            session.write(data)


@dataclass(frozen=True)
class EventFilter:
    """One ``Action: Filter`` entry (``should_send_event`` in manager.c)."""

    include: bool
    pattern: str = ""
    event_name: str = ""
    header: str = ""
    method: str = "regex"

    def matches(self, name: str, body: list[tuple[str, str]], text: str) -> bool:
        """Whether an event is matched by this filter."""
        if self.event_name and self.event_name.lower() != name.lower():
            return False
        if not self.pattern:
            return True
        if self.header:
            values = [v for k, v in body if k.lower() == self.header.lower()]
            return any(self._test(v) for v in values)
        return self._test(text)

    def _test(self, value: str) -> bool:
        if self.method == "exact":
            return value == self.pattern
        if self.method == "starts_with":
            return value.startswith(self.pattern)
        if self.method == "ends_with":
            return value.endswith(self.pattern)
        if self.method == "contains":
            return self.pattern in value
        if self.method == "none":
            return True
        return re.search(self.pattern, value) is not None


def parse_filter(pattern: str, criteria: str) -> EventFilter:
    """A Filter action's ``Filter`` and optional ``MatchCriteria`` headers."""
    if not criteria:
        if pattern.startswith("!"):
            return EventFilter(False, pattern[1:])
        return EventFilter(True, pattern)
    parts = dict(re.findall(r"(\w+)\(([^)]*)\)", criteria))
    return EventFilter(
        parts.get("action", "include").lower() != "exclude",
        pattern,
        parts.get("name", ""),
        parts.get("header", ""),
        parts.get("method", "regex").lower(),
    )


def passes_filters(filters: list[EventFilter], name: str, body: list[tuple[str, str]], text: str) -> bool:
    """Include filters only: a match is needed; exclude only: no match; both: include and not exclude."""
    includes = [f for f in filters if f.include]
    excludes = [f for f in filters if not f.include]
    if includes and not any(f.matches(name, body, text) for f in includes):
        return False
    return not any(f.matches(name, body, text) for f in excludes)


def parse_callerid(text: str) -> tuple[str, str]:
    """``"Name" <num>`` / ``Name <num>`` / ``num`` into (number, name)."""
    match = re.match(r'\s*"?([^"<]*?)"?\s*<([^>]*)>', text)
    if match:
        return match.group(2), match.group(1).strip()
    return text.strip(), ""
