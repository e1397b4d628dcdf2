"""The FastAGI server: accepts Asterisk's ``AGI(agi://host:4573/<route>)`` connections.

Why not a library: panoramisk's ``fast_agi.Application`` reads the header with a loop that spins
forever on EOF, routes only on an exact ``agi_network_script`` (a ``?query`` breaks it), reads one
line of a 520 block and hands a stray ``HANGUP`` line to the next command, after which every reply
is off by one (PROTOCOL.md B6). pyst2's ``fastagi`` is Python 2 and blocking (B5). So the backend
has its own server: an ``asyncio.BufferedProtocol`` (no stream reader in between, and no fresh
receive buffer per read: see ``_AgiConnection``) around the sans-I/O ``AgiStreamParser``.

One connection is one call. The connection reads the header, then starts a task that runs the
route handler with an ``AgiSession``; the handler's commands go out one at a time (AGI has no
pipelining: a second line would interrupt the first command, B3).

How a call leaves the backend, and what the dialplan sees (contract in ``agi/README.md``):

* the handler returns: the server sets ``CC_HANDLED=1`` (unless the caller hung up) and closes;
  AGISTATUS=SUCCESS;
* anything else (unknown route, over ``max_sessions``, shutdown grace exceeded, a bug in the
  handler, garbage on the wire, header too slow): the server writes ``FAILURE`` (res_agi ends the
  AGI with AGISTATUS=FAILURE when the script sends a line starting with "failure", B4) and closes;
  ``CC_HANDLED`` stays unset, so the dialplan takes the survival path either way;
* peers outside ``allowed_peers`` are closed without a word.

A ``ChannelHungUp`` escaping the handler is the normal end of a call and is logged without a
traceback; so are protocol errors. Only a real bug in a handler is logged with one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from callcenter.logs import get_logger, mask_phone
from callcenter.telephony.agi_errors import AgiError, AgiProtocolError, ChannelHungUp
from callcenter.telephony.agi_protocol import (
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_LINE_BYTES,
    AgiEnvironment,
    AgiEvent,
    AgiReply,
    AgiStreamParser,
)
from callcenter.telephony.agi_session import AgiSession

__all__ = [
    "DEFAULT_ALLOWED_PEERS",
    "DEFAULT_PORT",
    "FastAgiServer",
    "FastAgiStats",
    "IPNetwork",
    "RouteHandler",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
RouteHandler = Callable[[AgiSession], Awaitable[None]]

DEFAULT_PORT = 4573
#: Without configuration only the local Asterisk may connect (issue 10: PBX addresses only).
DEFAULT_ALLOWED_PEERS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)

_FAILURE = b"FAILURE\n"
_LONG_DIGITS = re.compile(r"\d{7,}")

log = get_logger("callcenter.telephony.agi")


def _mask_digits(text: str) -> str:
    """Mask anything in ``text`` that could be a phone number (routes and queries are free text)."""
    return _LONG_DIGITS.sub(lambda m: mask_phone(m.group(0)), text)


@dataclass
class FastAgiStats:
    """Counters for metrics (the Prometheus wiring reads these plain attributes)."""

    connections: int = 0
    sessions_started: int = 0
    sessions_completed: int = 0
    sessions_hung_up: int = 0
    sessions_failed: int = 0
    sessions_cancelled: int = 0
    rejected_busy: int = 0
    rejected_peer: int = 0
    unknown_route: int = 0
    protocol_errors: int = 0
    header_timeouts: int = 0


#: Bytes read from a socket in one go. Replies are short; longer input just takes more reads.
_READ_SIZE = 64 * 1024


class _AgiConnection(asyncio.BufferedProtocol):
    """One FastAGI connection: bytes in through the parser, replies out to the waiting command.

    A ``BufferedProtocol`` that reads into one buffer shared by all connections of the server:
    a plain ``Protocol`` gets a fresh ``sock.recv(256 KiB)`` result for every read, and under
    load that allocation costs more CPU than the rest of a command round trip (profiled with
    bench/bench_fastagi.py). Sharing is safe because asyncio calls ``get_buffer``, ``recv_into``
    and ``buffer_updated`` back to back in one callback, and ``buffer_updated`` copies out at once.
    """

    __slots__ = (
        "_header_timer",
        "_parser",
        "_server",
        "_transport",
        "_waiter",
        "closed",
        "hung_up",
        "loop",
        "peer",
        "task",
    )

    def __init__(self, server: FastAgiServer) -> None:
        self._server = server
        # Protocol factories run inside the loop, so this is the loop that owns the socket.
        self.loop = asyncio.get_running_loop()
        self._parser = AgiStreamParser(
            max_header_bytes=server.max_header_bytes, max_line_bytes=server.max_line_bytes
        )
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[AgiReply] | None = None
        self._header_timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None
        self.hung_up = False
        self.closed = False
        self.peer = "?"

    # -- asyncio.BufferedProtocol ----------------------------------------------------------------

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._server._read_view

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._server._read_view[:nbytes].tobytes())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server._admit(self, transport)

    def data_received(self, data: bytes) -> None:
        try:
            reply = self._parser.fast_reply(data)
            if reply is not None:
                waiter = self._waiter
                if waiter is not None:
                    self._waiter = None
                    if not waiter.done():
                        waiter.set_result(reply)
                    return
                events: list[AgiEvent] = [reply]
            else:
                events = self._parser.feed(data)
        except AgiProtocolError as exc:
            self._server.stats.protocol_errors += 1
            log.warning("agi_protocol_error", error=str(exc), peer=self.peer)
            self._fail(exc)
            return
        for event in events:
            if type(event) is AgiReply:
                if event.code == 100:
                    continue  # "100 result=0 Trying..." precedes GOSUB's real reply
                waiter = self._waiter
                if waiter is None:
                    # No command is running, so nobody asked for this; AGI is strictly
                    # request-reply, so it can only be noise. Drop it and keep the call.
                    log.warning("agi_unsolicited_reply", code=event.code, peer=self.peer)
                    continue
                self._waiter = None
                if not waiter.done():
                    waiter.set_result(event)
            elif type(event) is AgiEnvironment:
                self._cancel_header_timer()
                self._server._start_session(self, event)
            else:
                self.hung_up = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.hung_up = True
        self._cancel_header_timer()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(ChannelHungUp("the FastAGI connection was closed"))
        self._server._forget(self)

    # -- used by the session and the server ------------------------------------------------------

    def request(self, data: bytes) -> asyncio.Future[AgiReply]:
        """Write one command line; the future resolves with its reply (see ``CommandChannel``)."""
        transport = self._transport
        if self.closed or transport is None or transport.is_closing():
            raise ChannelHungUp("the FastAGI connection is closed")
        if self._waiter is not None:
            raise AgiError("a FastAGI command is already running on this call (AGI cannot pipeline)")
        waiter: asyncio.Future[AgiReply] = self.loop.create_future()
        self._waiter = waiter
        transport.write(data)
        return waiter

    def start_header_timer(self, timeout_s: float) -> None:
        self._header_timer = self.loop.call_later(timeout_s, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.closed or self._parser.header_done:
            return
        self._server.stats.header_timeouts += 1
        log.warning("agi_header_timeout", peer=self.peer)
        self.leave(failure=True)

    def _fail(self, exc: BaseException) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.leave(failure=True)

    def leave(self, *, failure: bool) -> None:
        """Close the connection; with ``failure`` first tell Asterisk to set AGISTATUS=FAILURE."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if failure and not self.hung_up:
            transport.write(_FAILURE)
        transport.close()


class FastAgiServer:
    """Routes FastAGI connections to ``async def handler(session)`` by ``agi_network_script``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        allowed_peers: Sequence[IPNetwork | str] | None = DEFAULT_ALLOWED_PEERS,
        max_sessions: int = 500,
        header_timeout_s: float = 5.0,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        handled_variable: str | None = "CC_HANDLED",
    ) -> None:
        """``allowed_peers`` are networks or their text (``"10.0.0.5/32"``); None accepts anyone.

        None is for tests and benchmarks only: FastAGI has no authentication, so in production the
        PBX addresses are the only gate (issue 10).
        """
        self.host = host
        self.port = port
        self.allowed_peers: tuple[IPNetwork, ...] | None = (
            tuple(ipaddress.ip_network(p, strict=False) if isinstance(p, str) else p for p in allowed_peers)
            if allowed_peers is not None
            else None
        )
        self.max_sessions = max_sessions
        self.header_timeout_s = header_timeout_s
        self.max_header_bytes = max_header_bytes
        self.max_line_bytes = max_line_bytes
        self.handled_variable = handled_variable
        self.stats = FastAgiStats()
        self._routes: dict[str, RouteHandler] = {}
        self._default_route: RouteHandler | None = None
        self._connections: set[_AgiConnection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._closing = False
        self._read_view = memoryview(bytearray(_READ_SIZE))

    # -- configuration ---------------------------------------------------------------------------

    def set_default_route(self, handler: RouteHandler | None) -> None:
        """Serve every ``agi://host/<name>`` that has no route of its own with ``handler``.

        The IVR serves flows by name, and an admin can publish a new flow while the server runs:
        the default route lets the flow service decide, per call, whether a flow exists.
        """
        self._default_route = handler

    def add_route(self, name: str, handler: RouteHandler) -> None:
        """Serve ``agi://host/<name>`` (any ``?query`` is split off into ``session.env.query``)."""
        # Refuse a plain function now rather than fail on the first call (panoramisk wraps one
        # with the removed asyncio.coroutine and breaks on 3.11, PROTOCOL.md B6).
        call = getattr(handler, "__call__", None)  # noqa: B004 (an object with async __call__ is fine)
        if not (asyncio.iscoroutinefunction(handler) or asyncio.iscoroutinefunction(call)):
            raise TypeError("a FastAGI route handler must be an async function")
        name = name.strip("/")
        if name in self._routes:
            raise ValueError(f"FastAGI route {name!r} is already registered")
        self._routes[name] = handler

    @property
    def active_sessions(self) -> int:
        """Connections being served now (header phase included)."""
        return len(self._connections)

    @property
    def bound_port(self) -> int:
        """The port actually listened on (useful with ``port=0``)."""
        if self._server is None or not self._server.sockets:
            return self.port
        return int(self._server.sockets[0].getsockname()[1])

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _AgiConnection(self), self.host, self.port, reuse_address=True
        )
        log.info("agi_listening", host=self.host, port=self.bound_port, max_sessions=self.max_sessions)

    async def close(self, grace_s: float = 10.0) -> None:
        """Stop accepting; let calls finish for ``grace_s``, then cancel the rest.

        A cancelled session writes ``FAILURE`` and closes, so Asterisk ends the AGI with
        AGISTATUS=FAILURE and the dialplan moves the caller to the survival queue.
        """
        self._closing = True
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            if conn.task is None:  # still reading its header: no call to finish
                conn.leave(failure=True)
        tasks = set(self._tasks)
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        log.info("agi_closed")

    async def __aenter__(self) -> FastAgiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- called by connections -------------------------------------------------------------------

    def _admit(self, conn: _AgiConnection, transport: asyncio.Transport) -> None:
        self.stats.connections += 1
        peername = transport.get_extra_info("peername")
        host = peername[0] if isinstance(peername, tuple) and peername else ""
        conn.peer = str(host)
        if not self._peer_allowed(conn.peer):
            self.stats.rejected_peer += 1
            log.warning("agi_peer_refused", peer=conn.peer)
            transport.close()
            return
        if self._closing or len(self._connections) >= self.max_sessions:
            self.stats.rejected_busy += 1
            log.warning("agi_busy", peer=conn.peer, active=len(self._connections), limit=self.max_sessions)
            conn.leave(failure=True)
            return
        self._connections.add(conn)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # A call can sit in WAIT FOR DIGIT -1 or EXEC Dial for a long time; keep-alive
            # probes are what notice a PBX host that vanished without closing the socket.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        conn.start_header_timer(self.header_timeout_s)

    def _peer_allowed(self, host: str) -> bool:
        if self.allowed_peers is None:
            return True
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.allowed_peers)

    def _forget(self, conn: _AgiConnection) -> None:
        self._connections.discard(conn)

    def _start_session(self, conn: _AgiConnection, env: AgiEnvironment) -> None:
        task = conn.loop.create_task(self._serve(conn, env))
        conn.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, conn: _AgiConnection, env: AgiEnvironment) -> None:
        with structlog.contextvars.bound_contextvars(uniqueid=env.uniqueid, agi_route=env.network_script):
            handler = self._routes.get(env.network_script, self._default_route)
            if handler is None:
                self.stats.unknown_route += 1
                log.warning("agi_unknown_route", route=_mask_digits(env.network_script), peer=conn.peer)
                conn.leave(failure=True)
                return
            self.stats.sessions_started += 1
            started = time.monotonic()
            log.info("agi_session_start", caller=mask_phone(env.callerid), channel=_mask_digits(env.channel))
            session = AgiSession(env, conn)
            outcome = "completed"
            failure = False
            try:
                await handler(session)
                if self.handled_variable and not conn.hung_up:
                    await session.set_variable(self.handled_variable, "1")
            except ChannelHungUp:
                outcome = "hung_up"
            except AgiError as exc:
                # Protocol trouble or a command the flow did not expect to fail: a fault of
                # this call only, already described by the message, so no traceback.
                outcome, failure = "failed", True
                log.warning("agi_session_error", error=str(exc), error_type=type(exc).__name__)
            except asyncio.CancelledError:
                outcome, failure = "cancelled", True
            except Exception:
                outcome, failure = "failed", True
                log.exception("agi_route_failed")
            finally:
                conn.leave(failure=failure)
            self._count(outcome)
            log.info(
                "agi_session_end",
                outcome=outcome,
                hung_up=conn.hung_up,
                duration_s=round(time.monotonic() - started, 3),
            )

    def _count(self, outcome: str) -> None:
        stats = self.stats
        if outcome == "completed":
            stats.sessions_completed += 1
        elif outcome == "hung_up":
            stats.sessions_hung_up += 1
        elif outcome == "cancelled":
            stats.sessions_cancelled += 1
        else:
            stats.sessions_failed += 1
