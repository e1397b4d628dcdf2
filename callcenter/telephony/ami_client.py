"""The AMI client: one supervised, self-healing connection to Asterisk's manager interface.

What is panoramisk's and what is ours, piece by piece (PROTOCOL.md A11 lists what is broken in
panoramisk 1.4):

* **ActionIDs** — panoramisk's ``utils.IdGenerator`` (process-unique uuid prefix); it holds.
* **Transport** — an ``asyncio.Protocol`` of ours. panoramisk's ``AMIProtocol.data_received``
  decodes each TCP read with ``errors='ignore'`` (UTF-8 characters split across reads are lost),
  glues the greeting to the next frame and strips empty trailing values; subclassing it would
  have meant overriding every method, so we feed our sans-I/O :class:`AmiFramer` instead.
* **Reply correlation and list completion** — ours (:mod:`ami_actions`): by ActionID and
  ``EventList: start``/``Complete``, not panoramisk's guesses from Message wording (QueueAdd hangs,
  a synchronous Originate without ``Async`` raises ``KeyError`` and kills the transport).
* **Login** — ours: plain and MD5 challenge (panoramisk 1.4 has no MD5), and no action is
  written before the login succeeded (panoramisk sends them right after connect).
* **Keep-alive** — ours: a Ping whose reply is awaited; a missing reply counts as a dead
  connection (panoramisk pings but never checks the answer, so a hung server goes unnoticed).
* **Reconnect** — ours: exponential backoff, capped and jittered; a refused login is logged as
  such and retried with the same backoff (panoramisk retries every 2 s forever, hot-looping on a
  bad password).
* **After every (re)connect** — ours: a resync (CoreShowChannels, DeviceStateList, optionally
  QueueStatus) delivered to subscribers in stream order as ``ChannelsResync``/``DevicesResync``.
  Pending actions fail with :class:`AmiConnectionLost` when the connection drops; they are never
  resent behind the caller's back (panoramisk resends them, e.g. an Originate, on FullyBooted).
* **Events** — translated at the edge into typed frozen events (:mod:`events`) and handed to
  listeners and async subscribers; the core never sees raw dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

from callcenter.logs import get_logger

from .ami_actions import AmiResponse, HeaderValue, PendingAction, new_action_id, render_action
from .ami_commands import AmiCommands, typed_items
from .ami_errors import AmiAuthError, AmiConnectionLost, AmiError, AmiNotConnected, AmiTimeout, redact
from .ami_frames import AmiFramer, Frame, FrameError
from .events import (
    AmiConnected,
    AmiDisconnected,
    AmiEvent,
    ChannelsResync,
    CoreShowChannel,
    DevicesResync,
    DeviceStateChange,
    MalformedEvent,
    QueuesResync,
    Shutdown,
    translate,
)

__all__ = ["AmiClient", "AmiSettings", "AmiSubscription"]

log = get_logger(__name__)


EventListener = Callable[[AmiEvent], object]  # the return value is ignored


@dataclass(frozen=True, slots=True)
class AmiSettings:
    """Where and how to connect; times in seconds."""

    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "callcenter"
    secret: str = ""
    auth: str = "md5"  # "md5" (challenge) or "plain"
    events: str = "on"  # Login ``Events:`` mask
    connect_timeout: float = 5.0
    action_timeout: float = 10.0
    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    resync_queues: bool = False

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay before reconnect ``attempt`` (1-based): doubling, capped, with full jitter."""
        ceiling = min(self.backoff_max, self.backoff_initial * (2.0 ** max(0, attempt - 1)))
        # Jitter between half and all of the ceiling: spreads a fleet of clients after an
        # Asterisk restart, yet never retries faster than half the nominal delay.
        return ceiling * (0.5 + 0.5 * rng.random())


class AmiSubscription:
    """An async iterator over typed events; ``close()`` (or leaving ``async with``) stops it."""

    def __init__(self, client: AmiClient, maxsize: int) -> None:
        self._client = client
        self._queue: asyncio.Queue[AmiEvent | None] = asyncio.Queue(maxsize)
        self.dropped = 0  # events lost because the consumer fell behind a bounded queue

    def _put(self, event: AmiEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1

    def close(self) -> None:
        """Stop the iteration (the consumer sees the end after the queued events)."""
        self._client._subscriptions.discard(self)
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[AmiEvent]:
        return self

    async def __anext__(self) -> AmiEvent:
        event = await self._queue.get()
        if event is None:
            raise StopAsyncIteration
        return event

    async def __aenter__(self) -> AmiSubscription:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


class _Protocol(asyncio.Protocol):
    """One TCP session: frames in, actions out; owned by :class:`AmiClient`."""

    def __init__(self, client: AmiClient) -> None:
        loop = asyncio.get_running_loop()
        self.client = client
        self.framer = AmiFramer()
        self.transport: asyncio.Transport | None = None
        self.greeting: asyncio.Future[str] = loop.create_future()
        self.closed: asyncio.Future[str] = loop.create_future()
        self.pending: dict[str, PendingAction] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        for item in self.framer.feed(data):
            if isinstance(item, FrameError):
                log.warning("ami_bad_frame", reason=redact(item.reason), raw=redact(item.raw[:120]))
                continue
            self._handle(item)
        if not self.greeting.done() and not self.framer.awaiting_greeting:
            # A server that skips the greeting (version None) is tolerated: login decides.
            self.greeting.set_result(self.framer.version or "")

    def _handle(self, frame: Frame) -> None:
        action_id = frame.get("ActionID")
        if action_id is not None:
            pending = self.pending.get(action_id)
            if pending is not None:
                if pending.feed(frame):
                    del self.pending[action_id]
                # Only an awaited event (OriginateResponse) is also news for subscribers;
                # list items answer our question and are not events that happened.
                if frame.get("Event") != pending.wait_event:
                    return
        if frame.get("Event") is None:
            if action_id is not None:
                log.debug("ami_unmatched_response", action_id=action_id, response=frame.get("Response"))
            return
        try:
            event = translate(frame)
        except MalformedEvent as exc:
            log.warning("ami_malformed_event", error=redact(str(exc)))
            return
        self.client._dispatch(event)
        if isinstance(event, Shutdown):
            # Asterisk is going away and closes every session; reconnect (with backoff) now
            # rather than wait for the socket to close or a ping to go unanswered.
            if not self.closed.done():
                self.closed.set_result(f"Asterisk shutdown ({event.shutdown or 'unknown'})")
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f"connection lost: {exc}" if exc else "connection closed by Asterisk"
        for pending in list(self.pending.values()):
            if not pending.done:
                pending.result = AmiConnectionLost(pending.action, reason)
                if pending.on_done is not None:
                    pending.on_done(pending)
        self.pending.clear()
        if not self.greeting.done():
            self.greeting.set_exception(ConnectionError(reason))
            # Mark it retrieved: the session may have stopped waiting (connect timeout), and an
            # unread future exception would be reported as an error at garbage collection.
            self.greeting.exception()
        if not self.closed.done():
            self.closed.set_result(reason)

    def send(self, pending: PendingAction, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            raise AmiConnectionLost(pending.action, "not connected")
        self.pending[pending.action_id] = pending
        self.transport.write(data)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class AmiClient(AmiCommands):
    """A supervised AMI connection: login, keep-alive, reconnect, resync, typed actions and events.

    ``await client.start()`` launches the connection supervisor and returns at once;
    ``await client.wait_ready()`` waits for the first login. Actions issued while disconnected
    wait (within their timeout) for the next login.
    """

    def __init__(self, settings: AmiSettings, *, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._rng = rng or random.Random()
        self._listeners: list[EventListener] = []
        self._subscriptions: set[AmiSubscription] = set()
        self._protocol: _Protocol | None = None
        self._ready = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False
        #: completed sessions so far (0 during the first)
        self.sessions = 0
        #: the latest reconnect delays, for monitoring and tests
        self.last_backoff: float | None = None
        self.last_error: str | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background (idempotent)."""
        if self._supervisor is None:
            self._closing = False
            self._supervisor = asyncio.create_task(self._supervise(), name="ami-supervisor")

    async def wait_ready(self, timeout_s: float | None = None) -> None:
        """Wait until logged in; raises :class:`AmiTimeout` after ``timeout_s`` seconds."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._ready.wait()
        except TimeoutError:
            raise AmiTimeout("login", timeout_s or 0.0) from None

    @property
    def action_timeout(self) -> float:
        """Default per-action timeout in seconds (from the settings)."""
        return self.settings.action_timeout

    @property
    def connected(self) -> bool:
        """Whether a logged-in session is up."""
        return self._ready.is_set()

    async def close(self) -> None:
        """Log off if connected, stop reconnecting, fail pending actions."""
        self._closing = True
        protocol = self._protocol
        if protocol is not None and self._ready.is_set():
            with contextlib.suppress(AmiError, OSError):
                await self._request(protocol, "Logoff", {}, timeout_s=1.0)
        task, self._supervisor = self._supervisor, None
        if task is not None:
            # Cancel until it is really gone: a cancellation can be absorbed by code racing it
            # (a reply completing at the same moment), and close() must not hang on that.
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=1.0)
            if not task.cancelled() and task.exception() is not None:
                log.error("ami_supervisor_failed", error=str(task.exception()))
        if self._protocol is not None:
            self._protocol.abort()
            self._protocol = None
        self._ready.clear()
        for sub in list(self._subscriptions):
            sub.close()

    # --- events ---------------------------------------------------------------------------

    def add_listener(self, listener: EventListener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event, in stream order; returns a remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def subscribe(self, maxsize: int = 10_000) -> AmiSubscription:
        """An async iterator of every event from now on (bounded; overflow is counted, not kept)."""
        sub = AmiSubscription(self, maxsize)
        self._subscriptions.add(sub)
        return sub

    def _dispatch(self, event: AmiEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not stop the stream for the others
                log.exception("ami_listener_failed", event_name=event.NAME)
        for sub in list(self._subscriptions):
            sub._put(event)

    # --- actions --------------------------------------------------------------------------

    async def send_action(
        self,
        action: str,
        headers: Mapping[str, HeaderValue] | None = None,
        *,
        timeout_s: float | None = None,
        wait_event: str | None = None,
    ) -> AmiResponse:
        """Send one action once logged in and return its complete reply.

        Raises :class:`AmiActionError` (Asterisk's message) on ``Response: Error``,
        :class:`AmiTimeout` after ``timeout_s`` (default ``settings.action_timeout``),
        :class:`AmiConnectionLost` if the connection drops first.
        """
        limit = self.settings.action_timeout if timeout_s is None else timeout_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        if self._closing:
            raise AmiNotConnected(f"AMI client closed; cannot send {action}")
        try:
            async with asyncio.timeout(limit):
                await self._ready.wait()
        except TimeoutError:
            raise AmiTimeout(action, limit) from None
        protocol = self._protocol
        if protocol is None:
            raise AmiConnectionLost(action, "not connected")
        return await self._request(
            protocol, action, headers or {}, timeout_s=max(0.0, deadline - loop.time()), wait_event=wait_event
        )

    async def _request(
        self,
        protocol: _Protocol,
        action: str,
        headers: Mapping[str, HeaderValue],
        *,
        timeout_s: float,
        wait_event: str | None = None,
        on_done: Callable[[PendingAction], None] | None = None,
    ) -> AmiResponse:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[AmiResponse] = loop.create_future()

        def finished(pending: PendingAction) -> None:
            if on_done is not None:
                on_done(pending)  # runs in the reader, in stream order
            if future.done():
                return
            if isinstance(pending.result, AmiResponse):
                future.set_result(pending.result)
            elif pending.result is not None:
                future.set_exception(pending.result)

        pending = PendingAction(action, new_action_id(), wait_event=wait_event, on_done=finished)
        protocol.send(pending, render_action(action, pending.action_id, headers))
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # races with the reply, which left the keep-alive loop running after close().
            async with asyncio.timeout(timeout_s):
                return await future
        except TimeoutError:
            raise AmiTimeout(action, timeout_s) from None
        finally:
            protocol.pending.pop(pending.action_id, None)

    # --- supervisor -----------------------------------------------------------------------

    async def _supervise(self) -> None:
        attempt = 0
        while not self._closing:
            logged_in = False
            try:
                logged_in = await self._session()
            except AmiAuthError as exc:
                self.last_error = str(exc)
                log.error("ami_login_refused", user=self.settings.username, message=exc.message)
            except (OSError, AmiError, TimeoutError) as exc:
                self.last_error = str(exc) or type(exc).__name__
                log.warning("ami_connect_failed", error=self.last_error)
            finally:
                self._ready.clear()
                self._protocol = None
            if self._is_closing():
                break
            attempt = 1 if logged_in else attempt + 1
            self.last_backoff = delay = self.settings.backoff(attempt, self._rng)
            log.info("ami_reconnect_scheduled", delay=round(delay, 3), attempt=attempt)
            await asyncio.sleep(delay)

    def _is_closing(self) -> bool:
        # A method, not the attribute: close() flips it while this task is suspended.
        return self._closing

    async def _session(self) -> bool:
        """Run one connection until it dies; True if it got logged in."""
        s = self.settings
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(s.connect_timeout):
            _, protocol = await loop.create_connection(lambda: _Protocol(self), s.host, s.port)
        self._protocol = protocol
        try:
            async with asyncio.timeout(s.connect_timeout):
                version = await asyncio.shield(protocol.greeting)
            await self._login(protocol)
            log.info("ami_logged_in", host=s.host, port=s.port, version=version, session=self.sessions)
            self._ready.set()
            self._dispatch(AmiConnected(version or None, self.sessions))
            reason = await self._run(protocol)
            log.warning("ami_session_ended", reason=reason)
            self._dispatch(AmiDisconnected(reason))
            self.sessions += 1
            return True
        finally:
            self._ready.clear()
            protocol.abort()

    async def _login(self, protocol: _Protocol) -> None:
        s = self.settings
        headers: dict[str, HeaderValue] = {"Username": s.username, "Events": s.events}
        if s.auth == "md5":
            challenge = await self._request(
                protocol, "Challenge", {"AuthType": "MD5"}, timeout_s=s.action_timeout
            )
            token = challenge.get("Challenge")
            if not token:
                raise AmiAuthError("Challenge", "no Challenge in the reply")
            headers["AuthType"] = "MD5"
            headers["Key"] = hashlib.md5((token + s.secret).encode()).hexdigest()
        else:
            headers["Secret"] = s.secret
        await self._request(protocol, "Login", headers, timeout_s=s.action_timeout)

    async def _run(self, protocol: _Protocol) -> str:
        """Resync, then keep pinging until the connection closes or a ping goes unanswered."""
        tasks = [
            asyncio.create_task(self._resync(protocol), name="ami-resync"),
            asyncio.create_task(self._keepalive(protocol), name="ami-keepalive"),
        ]
        try:
            return await asyncio.shield(protocol.closed)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _keepalive(self, protocol: _Protocol) -> None:
        s = self.settings
        while True:
            await asyncio.sleep(s.ping_interval)
            try:
                await self._request(protocol, "Ping", {}, timeout_s=s.ping_timeout)
            except AmiTimeout:
                log.warning("ami_ping_unanswered", timeout_s=s.ping_timeout)
                if not protocol.closed.done():
                    protocol.closed.set_result(f"no Ping reply within {s.ping_timeout:g} s")
                protocol.abort()
                return
            except AmiError:
                return

    async def _resync(self, protocol: _Protocol) -> None:
        """Ask for the live state; the results reach subscribers in stream order."""
        timeout = self.settings.action_timeout

        def channels_done(pending: PendingAction) -> None:
            if isinstance(pending.result, AmiResponse):
                items = typed_items(pending.result.items, CoreShowChannel)
                self._dispatch(ChannelsResync(tuple(items)))

        def devices_done(pending: PendingAction) -> None:
            if isinstance(pending.result, AmiResponse):
                items = typed_items(pending.result.items, DeviceStateChange)
                self._dispatch(DevicesResync(tuple(items)))

        def queues_done(pending: PendingAction) -> None:
            if isinstance(pending.result, AmiResponse):
                self._dispatch(QueuesResync(tuple(typed_items(pending.result.items, AmiEvent))))

        try:
            await self._request(protocol, "CoreShowChannels", {}, timeout_s=timeout, on_done=channels_done)
            await self._request(protocol, "DeviceStateList", {}, timeout_s=timeout, on_done=devices_done)
            if self.settings.resync_queues:
                await self._request(protocol, "QueueStatus", {}, timeout_s=timeout, on_done=queues_done)
        except AmiError as exc:
            # A failed resync leaves state unknown: drop the connection and try again cleanly.
            log.error("ami_resync_failed", error=str(exc))
            if not protocol.closed.done():
                protocol.closed.set_result(f"resync failed: {exc}")
            protocol.abort()
