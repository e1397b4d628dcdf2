"""What only AMI sees about calls: holds, transfers and the end of calls the FastAGI session missed.

The call pipeline follows each call through its FastAGI session, but three things happen outside
it, and only the AMI stream reports them:

* **hold** — an agent puts the caller on hold from the phone. Asterisk 22 raises ``Hold`` /
  ``Unhold`` on the channel that asked for it and, when the bridge plays music to the other
  party, ``MusicOnHoldStart``/``Stop`` on the caller's channel. The same music events also come
  while a caller waits in a queue (see the ``queue_answered`` trace), so music counts as a hold
  only on a *bridged* channel of a call an agent has answered. Both kinds are folded into one
  held/not-held state per call, so a hold reported twice is published once
  (:class:`~callcenter.services.live_events.CallHoldChanged`);
* **transfer** — ``BlindTransfer`` / ``AttendedTransfer`` with ``Result: Success``
  (:class:`~callcenter.services.live_events.CallTransferred`; the target is the blind transfer's
  extension or the attended transfer's target number);
* **the end of survival-path calls** — a call the backend never took (it was down, full or
  refused the call) or gave back to the dialplan ends inside app_queue. When its last channel is
  gone (a ``Hangup``, or a channel missing from the resync snapshot after an AMI reconnect) the
  call's appeal record gets ``CallEnded``. The record is usually opened later by the spool
  ingestion; ``AppealRepository.apply_call_progress`` opens it first when needed and the
  arrival report then merges into it (``merge_arrival``). Applying it twice changes nothing.

Only calls that came in on the hotline trunk (a channel seen in
:data:`~callcenter.telephony.dialplan_contract.INBOUND_CONTEXT`) get a record: callbacks,
listen-ins and agents' own calls are not appeals. Calls whose FastAGI session is still running
or that the session ended itself are left to the call pipeline: this service learns both from
the bus (``CallArrived``/``CallFinished``; outcome ``survival_path`` means the call left the
session alive).

The AMI listener is synchronous (it runs inside the AMI client's dispatch); database writes go
to a queue drained by one worker task, so a slow database never holds up the AMI stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from callcenter.appeals.calls import CallEnded as RecordCallEnded
from callcenter.bus import EventBus, Subscription
from callcenter.errors import CallcenterError
from callcenter.logs import get_logger
from callcenter.services.live_events import (
    TOPIC_CALLS,
    CallArrived,
    CallConnected,
    CallFinished,
    CallHoldChanged,
    CallTransferred,
)
from callcenter.telephony.dialplan_contract import INBOUND_CONTEXT
from callcenter.telephony.events import (
    AgentConnect,
    AmiEvent,
    ChannelEvent,
    ChannelSnapshot,
    ChannelsResync,
    Hangup,
    MusicOnHoldStart,
    MusicOnHoldStop,
    UnknownEvent,
)
from callcenter.telephony.tracker import CallEnded, CallTracker

__all__ = ["AmiCallEvents", "AmiListenerPort", "AppealsPort", "agent_resolver", "device_of"]

log = get_logger(__name__)

Clock = Callable[[], dt.datetime]
#: Device (``PJSIP/201``) -> agent id, or None for a phone that is no agent's.
AgentOfDevice = Callable[[str], str | None]

#: Outcome of a ``CallFinished`` whose call went on in the dialplan (the survival path).
_LEFT_ALIVE = "survival_path"
#: How many calls ended by our own sessions to remember against late AMI events.
DONE_REMEMBERED = 20_000
#: Attempts at writing one call's end before giving up (the log keeps its linkedid).
WRITE_ATTEMPTS = 3


class AmiListenerPort(Protocol):
    """The part of ``AmiClient`` this service uses."""

    def add_listener(self, listener: Callable[[AmiEvent], object]) -> Callable[[], None]: ...


class AppealsPort(Protocol):
    """The part of ``AppealRepository`` this service uses."""

    async def apply_call_progress(self, event: RecordCallEnded) -> Any: ...


def device_of(channel: str) -> str:
    """The device of a channel name: ``PJSIP/201-0000002a`` -> ``PJSIP/201``.

    Asterisk names a channel ``<tech>/<resource>-<sequence>`` with an 8-digit hex sequence
    (``%08x``); Local channels add ``;1``/``;2``. A dash elsewhere belongs to the resource.
    """
    name = channel.split(";", 1)[0]
    head, sep, tail = name.rpartition("-")
    if sep and head and len(tail) == 8 and all(c in "0123456789abcdef" for c in tail.lower()):
        return head
    return name


def agent_resolver(agents: Callable[[], dict[str, str]]) -> AgentOfDevice:
    """A device -> agent lookup over ``agents()`` (agent id -> device), read at every call so a
    reloaded agents file is followed. ``AcdService`` gives the map as
    ``{a: acd.agent_device(a) for a in acd.state.config.agents}``."""

    def resolve(device: str) -> str | None:
        for agent_id, agent_device in agents().items():
            if agent_device == device:
                return agent_id
        return None

    return resolve


@dataclass
class _Call:
    inbound: bool = False
    session: bool = False  # a FastAGI session of ours is running it
    agent: str | None = None
    held: bool = False


@dataclass
class _Stats:
    holds: int = 0
    transfers: int = 0
    ends_written: int = 0
    ends_failed: int = 0
    pending: set[str] = field(default_factory=set)


class AmiCallEvents:
    """The AMI listener that publishes holds and transfers and ends survival-path calls."""

    def __init__(
        self,
        bus: EventBus,
        appeals: AppealsPort,
        *,
        clock: Clock = lambda: dt.datetime.now(dt.UTC),
        agent_of_device: AgentOfDevice = lambda _device: None,
        tracker: CallTracker | None = None,
        retry_delay_s: float = 1.0,
    ) -> None:
        self._bus = bus
        self._appeals = appeals
        self._clock = clock
        self._agent_of_device = agent_of_device
        self.tracker = tracker or CallTracker()
        self._retry_delay_s = retry_delay_s
        self._calls: dict[str, _Call] = {}
        # Calls our FastAGI session ended itself (bounded, oldest dropped first): later AMI events
        # about them must not bring them back as survival-path calls.
        self._done: OrderedDict[str, None] = OrderedDict()
        self._ends: asyncio.Queue[tuple[str, dt.datetime]] = asyncio.Queue()
        self._sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._remove_listener: Callable[[], None] | None = None
        self.stats = _Stats()

    # --- life cycle -----------------------------------------------------------------------

    async def start(self, ami: AmiListenerPort | None) -> None:
        """Follow ``ami``'s events and the bus; with no AMI client (``ami.enabled = false``) there
        is nothing to follow and the service stays idle."""
        if ami is None:
            log.info("ami_call_events_idle", reason="no AMI client")
            return
        self._sub = self._bus.subscribe({TOPIC_CALLS}, maxsize=10_000)
        self._tasks = [
            asyncio.create_task(self._follow_bus(self._sub), name="ami-calls-bus"),
            asyncio.create_task(self._write_ends(), name="ami-calls-ends"),
        ]
        self._remove_listener = ami.add_listener(self.on_ami_event)

    async def stop(self) -> None:
        """Stop listening; call ends still queued are written first (bounded by the attempts)."""
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.drain(), timeout=5.0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._sub is not None:
            self._sub.close()
            self._sub = None

    async def drain(self) -> None:
        """Wait until every call end handed to the worker has been written (or given up)."""
        await self._ends.join()

    # --- bus ------------------------------------------------------------------------------

    async def _follow_bus(self, sub: Subscription) -> None:
        while True:
            _topic, event = await sub.get()
            self._on_bus(event)

    def _pump_bus(self) -> None:
        # The AMI listener runs synchronously; take what the bus has so far before deciding,
        # so a CallArrived published just before the hang-up is not missed.
        if self._sub is None:
            return
        while (item := self._sub.get_nowait()) is not None:
            self._on_bus(item[1])

    def _on_bus(self, event: object) -> None:
        if isinstance(event, CallArrived):
            call = self._calls.setdefault(event.linkedid, _Call())
            call.inbound = call.session = True
        elif isinstance(event, CallConnected):
            self._calls.setdefault(event.linkedid, _Call()).agent = event.agent_id
        elif isinstance(event, CallFinished):
            if event.outcome == _LEFT_ALIVE:
                self._calls.setdefault(event.linkedid, _Call(inbound=True)).session = False
                return
            self._calls.pop(event.linkedid, None)
            self._done[event.linkedid] = None
            while len(self._done) > DONE_REMEMBERED:
                self._done.popitem(last=False)

    # --- AMI ------------------------------------------------------------------------------

    def on_ami_event(self, event: AmiEvent) -> None:
        """The ``AmiClient`` listener: never raises, never blocks."""
        self._pump_bus()
        # An inbound call's first channel is created in the inbound context (Newchannel, or a
        # CoreShowChannel item after a reconnect); the survival queue runs in it too.
        if isinstance(event, ChannelEvent):
            self._mark_inbound(event.channel)
        elif isinstance(event, ChannelsResync):
            for item in event.channels:
                self._mark_inbound(item.channel)
        changes = self.tracker.apply(event)
        if isinstance(event, AgentConnect):
            self._agent_connect(event)
        elif isinstance(event, MusicOnHoldStart | MusicOnHoldStop):
            self._music(event)
        elif isinstance(event, UnknownEvent):
            self._unknown(event)
        for change in changes:
            if isinstance(change, CallEnded):
                self._call_ended(change.linkedid, hung_up=isinstance(event, Hangup))

    def _mark_inbound(self, snap: ChannelSnapshot) -> None:
        if snap.context == INBOUND_CONTEXT and snap.linkedid not in self._done:
            self._calls.setdefault(snap.linkedid, _Call()).inbound = True

    def _agent_connect(self, event: AgentConnect) -> None:
        # app_queue answered a survival-path call: the member's device names the agent.
        agent = self._agent_of_device(device_of(event.interface)) or event.member_name or None
        if agent is not None:
            self._calls.setdefault(event.channel.linkedid, _Call()).agent = agent

    def _music(self, event: MusicOnHoldStart | MusicOnHoldStop) -> None:
        tracked = self.tracker.channel(event.channel.uniqueid)
        if tracked is None or tracked.bridge_id is None:
            return  # music while waiting in a queue, not a hold
        self._set_held(event.channel.linkedid, isinstance(event, MusicOnHoldStart), None)

    def _unknown(self, event: UnknownEvent) -> None:
        name = event.name
        if name in ("Hold", "Unhold"):
            linkedid = event.get("Linkedid")
            channel = event.get("Channel") or ""
            if linkedid:
                self._set_held(linkedid, name == "Hold", self._agent_of_device(device_of(channel)))
        elif name == "BlindTransfer":
            self._transfer(event, "Transferer", event.get("Extension") or "")
        elif name == "AttendedTransfer":
            target = (
                event.get("TransferTargetCallerIDNum")
                or event.get("SecondTransfererExten")
                or event.get("DestApp")
                or ""
            )
            self._transfer(event, "OrigTransferer", target)

    def _set_held(self, linkedid: str, held: bool, agent_hint: str | None) -> None:
        call = self._calls.get(linkedid)
        agent = (call.agent if call is not None else None) or agent_hint
        if agent is None:
            return  # no agent has this call: not a hold in the desk's sense
        call = self._calls.setdefault(linkedid, _Call())
        call.agent = agent
        if call.held == held:
            return
        call.held = held
        self.stats.holds += held
        self._bus.publish(TOPIC_CALLS, CallHoldChanged(linkedid, agent, held, self._clock().timestamp()))
        log.info("call_hold_changed", linkedid=linkedid, agent_id=agent, held=held)

    def _transfer(self, event: UnknownEvent, transferer: str, target: str) -> None:
        if (event.get("Result") or "").lower() != "success":
            return
        linkedid = event.get("TransfereeLinkedid") or event.get(f"{transferer}Linkedid") or ""
        if not linkedid:
            return
        call = self._calls.get(linkedid)
        agent = (call.agent if call is not None else None) or self._agent_of_device(
            device_of(event.get(f"{transferer}Channel") or "")
        )
        self.stats.transfers += 1
        self._bus.publish(TOPIC_CALLS, CallTransferred(linkedid, target, agent, self._clock().timestamp()))
        log.info("call_transferred", linkedid=linkedid, agent_id=agent, kind=event.name)

    def _call_ended(self, linkedid: str, *, hung_up: bool) -> None:
        call = self._calls.pop(linkedid, None)
        if call is None or not call.inbound or linkedid in self._done:
            return
        if call.session:
            return  # the call pipeline's session is still on it and writes the end itself
        self.stats.pending.add(linkedid)
        self._ends.put_nowait((linkedid, self._clock()))
        log.info("survival_call_ended", linkedid=linkedid, seen="hangup" if hung_up else "resync")

    async def _write_ends(self) -> None:
        while True:
            linkedid, at = await self._ends.get()
            try:
                await self._write_end(linkedid, at)
            finally:
                self.stats.pending.discard(linkedid)
                self._ends.task_done()

    async def _write_end(self, linkedid: str, at: dt.datetime) -> None:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                await self._appeals.apply_call_progress(RecordCallEnded(linkedid, at))
            except CallcenterError:
                log.exception("survival_call_end_failed", linkedid=linkedid, attempt=attempt)
                if attempt < WRITE_ATTEMPTS:
                    await asyncio.sleep(self._retry_delay_s * attempt)
                continue
            self.stats.ends_written += 1
            return
        self.stats.ends_failed += 1
