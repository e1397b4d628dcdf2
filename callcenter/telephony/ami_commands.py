"""Typed AMI actions the backend uses, on top of ``send_action`` (mixed into ``AmiClient``).

Each method builds the headers Asterisk 22 expects (PROTOCOL.md A7), sends the action, and turns
the reply into plain values or typed events. Errors are those of ``send_action``:
``AmiActionError`` with Asterisk's message, ``AmiTimeout``, ``AmiConnectionLost``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from callcenter.logs import get_logger

from .ami_actions import AmiResponse, HeaderValue
from .ami_errors import AmiActionError, redact
from .ami_frames import Frame
from .events import AmiEvent, CoreShowChannel, DeviceStateChange, MalformedEvent, OriginateResponse, translate

__all__ = ["AmiCommands", "typed_items"]

log = get_logger(__name__)

_T = TypeVar("_T")


def typed_items(frames: tuple[Frame, ...], kind: type[_T]) -> list[_T]:
    """Translate list items, keeping those of type ``kind`` (malformed ones are logged, skipped)."""
    out: list[_T] = []
    for frame in frames:
        try:
            event = translate(frame)
        except MalformedEvent as exc:
            # The message may quote a header value: mask phone-like digits (personal data).
            log.warning("ami_malformed_list_item", error=redact(str(exc)))
            continue
        if isinstance(event, kind):
            out.append(event)
    return out


class AmiCommands:
    """Typed wrappers; the concrete client provides ``send_action`` and ``action_timeout``."""

    @property
    def action_timeout(self) -> float:
        """Default per-action timeout in seconds."""
        raise NotImplementedError

    async def send_action(
        self,
        action: str,
        headers: Mapping[str, HeaderValue] | None = None,
        *,
        timeout_s: float | None = None,
        wait_event: str | None = None,
    ) -> AmiResponse:
        """Send one action and return its complete reply (implemented by ``AmiClient``)."""
        raise NotImplementedError

    # --- typed actions --------------------------------------------------------------------

    async def ping(self) -> float:
        """Round-trip a Ping; returns Asterisk's timestamp."""
        reply = await self.send_action("Ping")
        return float(reply.get("Timestamp") or 0.0)

    async def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int | str = 1,
        application: str | None = None,
        data: str | None = None,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        ring_timeout_ms: int = 30_000,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        account: str | None = None,
        timeout_s: float | None = None,
    ) -> str:
        """Queue an Originate (always ``Async: true``); returns its ActionID.

        The outcome arrives later as an ``OriginateResponse`` event carrying that ActionID.
        A synchronous Originate would hold back every event on the connection while it rings
        (PROTOCOL A1, A7), so this client never sends one.
        """
        headers = _originate_headers(
            channel, context, exten, priority, application, data, caller_id, variables,
            ring_timeout_ms, channel_id, other_channel_id, account,
        )  # fmt: skip
        reply = await self.send_action("Originate", headers, timeout_s=timeout_s)
        return reply.get("ActionID") or ""

    async def originate_and_wait(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int | str = 1,
        application: str | None = None,
        data: str | None = None,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        ring_timeout_ms: int = 30_000,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        account: str | None = None,
    ) -> OriginateResponse:
        """Async Originate that waits for its ``OriginateResponse`` (check ``.success``)."""
        headers = _originate_headers(
            channel, context, exten, priority, application, data, caller_id, variables,
            ring_timeout_ms, channel_id, other_channel_id, account,
        )  # fmt: skip
        limit = ring_timeout_ms / 1000 + self.action_timeout
        reply = await self.send_action("Originate", headers, timeout_s=limit, wait_event="OriginateResponse")
        outcome = typed_items(reply.items, OriginateResponse)
        if not outcome:
            raise AmiActionError("Originate", "reply without OriginateResponse")
        return outcome[0]

    async def hangup(self, channel: str, cause: int | None = None) -> None:
        """Hang up a channel (name, or ``/regex/`` for several)."""
        headers: dict[str, HeaderValue] = {"Channel": channel}
        if cause is not None:
            headers["Cause"] = cause
        await self.send_action("Hangup", headers)

    async def redirect(self, channel: str, context: str, exten: str, priority: int | str = 1) -> None:
        """Send a channel to another dialplan place."""
        await self.send_action(
            "Redirect", {"Channel": channel, "Context": context, "Exten": exten, "Priority": priority}
        )

    async def setvar(self, variable: str, value: str, channel: str | None = None) -> None:
        """Set a channel variable (or a global one when ``channel`` is None)."""
        headers: dict[str, HeaderValue] = {"Variable": variable, "Value": value}
        if channel is not None:
            headers["Channel"] = channel
        await self.send_action("Setvar", headers)

    async def getvar(self, variable: str, channel: str | None = None) -> str | None:
        """Read a variable or function (``CHANNEL(language)``); None if Asterisk sent no value."""
        headers: dict[str, HeaderValue] = {"Variable": variable}
        if channel is not None:
            headers["Channel"] = channel
        reply = await self.send_action("Getvar", headers)
        return reply.get("Value")

    async def core_show_channels(self) -> list[CoreShowChannel]:
        """Every live channel."""
        reply = await self.send_action("CoreShowChannels")
        return typed_items(reply.items, CoreShowChannel)

    async def device_state_list(self) -> list[DeviceStateChange]:
        """Every device state Asterisk knows."""
        reply = await self.send_action("DeviceStateList")
        return typed_items(reply.items, DeviceStateChange)

    async def mixmonitor(
        self, channel: str, file: str, options: str | None = None, command: str | None = None
    ) -> str | None:
        """Start recording a channel; returns the MixMonitorID if option ``i(var)`` asked for one."""
        headers: dict[str, HeaderValue] = {"Channel": channel, "File": file}
        if options:
            headers["Options"] = options
        if command:
            headers["Command"] = command
        reply = await self.send_action("MixMonitor", headers)
        return reply.get("MixMonitorID")

    async def stop_mixmonitor(self, channel: str, mixmonitor_id: str | None = None) -> None:
        """Stop recording a channel."""
        headers: dict[str, HeaderValue] = {"Channel": channel}
        if mixmonitor_id:
            headers["MixMonitorID"] = mixmonitor_id
        await self.send_action("StopMixMonitor", headers)

    async def queue_status(self, queue: str | None = None, member: str | None = None) -> list[AmiEvent]:
        """app_queue state: QueueParams, QueueMember and QueueEntry items."""
        headers: dict[str, HeaderValue] = {}
        if queue:
            headers["Queue"] = queue
        if member:
            headers["Member"] = member
        reply = await self.send_action("QueueStatus", headers)
        return typed_items(reply.items, AmiEvent)

    async def command(self, command: str) -> list[str]:
        """Run a CLI command; returns its output lines."""
        reply = await self.send_action("Command", {"Command": command})
        return reply.frame.getall("Output")


def _originate_headers(
    channel: str,
    context: str | None,
    exten: str | None,
    priority: int | str,
    application: str | None,
    data: str | None,
    caller_id: str | None,
    variables: Mapping[str, str] | None,
    ring_timeout_ms: int,
    channel_id: str | None,
    other_channel_id: str | None,
    account: str | None,
) -> dict[str, HeaderValue]:
    if (application is None) == (exten is None):
        raise ValueError("originate needs either context/exten or application, not both")
    headers: dict[str, HeaderValue] = {"Channel": channel}
    if application is not None:
        headers["Application"] = application
        if data is not None:
            headers["Data"] = data
    else:
        if context is None:
            raise ValueError("originate to an extension needs a context")
        headers.update({"Context": context, "Exten": exten or "", "Priority": priority})
    headers["Timeout"] = ring_timeout_ms
    # Always asynchronous: lower-case "true", the form Asterisk and every client agree on.
    headers["Async"] = "true"
    if caller_id is not None:
        headers["CallerID"] = caller_id
    if variables:
        headers["Variable"] = [f"{name}={value}" for name, value in variables.items()]
    if channel_id is not None:
        headers["ChannelId"] = channel_id
    if other_channel_id is not None:
        headers["OtherChannelId"] = other_channel_id
    if account is not None:
        headers["Account"] = account
    return headers
