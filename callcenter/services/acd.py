"""The ACD runtime: owns the pure router (``callcenter.acd.router.AcdState``) and carries out its
decisions with the real adapters.

One ``AcdService`` per process. It

* drives time: one timer task calls ``tick`` when ``next_due()`` falls due (and at least every
  ``tick_interval_s``, for queues closing with ``close_waiting``);
* wakes a waiting caller's FastAGI session (``callcenter.services.queue_wait``) when an
  ``Assignment`` names it: every waiting call has a ``CallerSlot`` whose inbox receives the
  decisions about it, and the session rings the agent itself (``EXEC Dial``);
* places callbacks: a callback ``Assignment`` becomes an AMI Originate (always Async) of the
  agent's phone into the dialplan's callback context (``dialplan_contract.CALLBACK_CONTEXT``,
  shipped in ``asterisk-conf/extensions.conf.tmpl``), which then dials the citizen; agent no answer → ``ring_no_answer``, citizen no answer or an AMI
  failure → ``callback_failed`` (the core retries after ``callback_retry_s``);
* follows agent phones' device states from AMI: a phone that goes ``UNAVAILABLE`` pauses its
  free agent (reason ``device_unavailable``) so nobody rings a dead phone, and its return
  makes the agent available again;
* publishes every decision of the core on the bus (topic ``"acd"``) and the call's progress
  (``CallQueued``, ``CallOffered``, ``CallConnected``) on topic ``"calls"``.

Everything runs on the event loop thread; the router is synchronous, so no lock is needed.
Manual changes are audited by the web layer (``callcenter.web.agents_api``), which knows who
made them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from callcenter.acd.loader import LoadedAcd
from callcenter.acd.model import (
    AgentConfig,
    AgentState,
    Assignment,
    CallbackGaveUp,
    CallerLeft,
    CallerMoved,
    CancelRing,
    Decision,
)
from callcenter.acd.router import KYIV, AcdState
from callcenter.bus import EventBus
from callcenter.errors import CallcenterError, ValidationError
from callcenter.logs import get_logger, mask_phone
from callcenter.services.live_events import (
    TOPIC_ACD,
    TOPIC_CALLS,
    CallConnected,
    CallOffered,
    CallQueued,
)
from callcenter.telephony.dialplan_contract import (
    CALLBACK_AGENT_VARIABLE,
    CALLBACK_CONTEXT,
    CALLBACK_ID_VARIABLE,
)
from callcenter.telephony.events import (
    AmiEvent,
    DevicesResync,
    DeviceStateChange,
    DialBegin,
    DialEnd,
    Hangup,
    OriginateResponse,
)

__all__ = [
    "CALLBACK_CONTEXT",
    "DEFAULT_PAUSE_REASONS",
    "DEVICE_UNAVAILABLE",
    "AcdService",
    "AcdSettings",
    "AmiPort",
    "CallerSlot",
    "OfferInfo",
]

log = get_logger(__name__)

#: Pause reason of an agent whose phone is unreachable (set and cleared by the service itself).
DEVICE_UNAVAILABLE = "device_unavailable"
DEFAULT_PAUSE_REASONS = ("break", "lunch", "training", "meeting", "paperwork", "technical")
_DEAD_DEVICE_STATES = frozenset({"UNAVAILABLE", "INVALID", "UNKNOWN"})


class AmiPort(Protocol):
    """The part of ``AmiClient`` the service uses (a fake implements it in tests)."""

    async def originate_and_wait(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int | str = 1,
        variables: Mapping[str, str] | None = None,
        ring_timeout_ms: int = 30_000,
        channel_id: str | None = None,
    ) -> OriginateResponse: ...

    async def hangup(self, channel: str, cause: int | None = None) -> None: ...

    def add_listener(self, listener: Callable[[AmiEvent], object]) -> Callable[[], None]: ...


@dataclass(frozen=True)
class AcdSettings:
    """Tunables of the runtime (the routing rules themselves live in ``queue/*.yaml``)."""

    #: the key a waiting caller presses to be called back instead
    callback_key: str = "*"
    #: seconds between position/EWT announcements (the first is on entry)
    announce_every_s: float = 60.0
    #: a WAIT FOR DIGIT slice: how soon a waiting session notices its agent or a key
    wait_slice_ms: int = 1000
    #: Asterisk music-on-hold class played while waiting
    moh_class: str = "default"
    pause_reasons: tuple[str, ...] = DEFAULT_PAUSE_REASONS
    callback_context: str = CALLBACK_CONTEXT
    #: the longest a callback's citizen leg may ring plus margin, before it counts as failed
    callback_dial_timeout_s: float = 90.0
    tick_interval_s: float = 1.0


@dataclass(frozen=True)
class OfferInfo:
    """What the agent desk shows when the call is offered (from the IVR)."""

    linkedid: str
    uniqueid: str
    caller: str | None
    language: str | None
    topic: str | None
    ivr_path: tuple[str, ...] = ()
    priority: int = 0
    categories: tuple[str, ...] = ()


@dataclass
class CallerSlot:
    """A call the ACD holds: the decisions about it, delivered to the session that waits on it."""

    call_id: str
    queue: str
    info: OfferInfo
    inbox: list[Decision] = field(default_factory=list)
    #: the agent whose ring is in progress, its channel (AMI DialBegin), and whether AMI
    #: already saw it answered
    ringing: str | None = None
    agent_channel: str | None = None
    connected: bool = False
    callback: bool = False
    contact: str | None = None

    def push(self, decision: Decision) -> None:
        self.inbox.append(decision)

    def pop(self) -> Decision | None:
        """The oldest undelivered decision, or None (the session looks between WAIT slices)."""
        return self.inbox.pop(0) if self.inbox else None


@dataclass
class _CallbackLeg:
    """A callback attempt in progress: the agent leg's uniqueid and what AMI told about it."""

    call_id: str
    agent_id: str
    channel_id: str
    dial_status: asyncio.Future[str]
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)


class AcdService:
    """The router plus its timers, its callers' sessions, callbacks and device states."""

    def __init__(
        self,
        loaded: LoadedAcd,
        bus: EventBus,
        *,
        ami: AmiPort | None = None,
        settings: AcdSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or AcdSettings()
        self.bus = bus
        self.ami = ami
        self.clock = clock
        self.state = AcdState(loaded.config, schedules=loaded.schedules)
        self.slots: dict[str, CallerSlot] = {}
        self.device_states: dict[str, str] = {}
        #: agent id -> the queue of the agent's last answered call (its wrap-up follows that queue)
        self.last_queue: dict[str, str] = {}
        self._legs: dict[str, _CallbackLeg] = {}
        self._leg_ids = itertools.count(1)
        self._day: dt.date | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._unlisten: Callable[[], None] | None = None

    # ---- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the timer task and listen to AMI events."""
        if self._timer is not None:
            return
        if self.ami is not None:
            self._unlisten = self.ami.add_listener(self.on_ami_event)
        self._timer = asyncio.get_running_loop().create_task(self._run_timer(), name="acd-timer")

    async def stop(self) -> None:
        """Stop the timer and every callback in flight (waiting sessions end with their calls)."""
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        tasks = [t for t in (self._timer, *self._tasks) if t is not None]
        self._timer = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> AcdService:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _run_timer(self) -> None:
        while True:
            now = self.clock()
            due = self.state.next_due()
            delay = (
                self.settings.tick_interval_s
                if due is None
                else min(due - now, self.settings.tick_interval_s)
            )
            self._wake.clear()
            if delay > 0:
                # asyncio.wait, not wait_for: on 3.11 wait_for can swallow a cancellation that
                # coincides with the event being set, and stop() would then wait forever.
                waiter = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait({waiter}, timeout=delay)
                finally:
                    waiter.cancel()
            else:
                await asyncio.sleep(0)  # never starve the loop, whatever the timers say
            try:
                self.tick()
            except Exception:  # a bug must not stop every later timer
                log.exception("acd_tick_failed")

    def tick(self) -> None:
        """Fire due timers; at local midnight start a new day's counters (calls today, queue figures)."""
        now = self.clock()
        day = dt.datetime.fromtimestamp(now, KYIV).date()
        if self._day is None:
            self._day = day
        elif day != self._day:
            self._day = day
            self.apply(self.state.reset_daily_counters(now))
        self.apply(self.state.tick(now))

    # ---- decisions ----------------------------------------------------------------------------

    def apply(self, decisions: list[Decision]) -> None:
        """Carry out the router's decisions and publish them on the bus."""
        for decision in decisions:
            self.bus.publish(TOPIC_ACD, decision)
            slot = self.slots.get(getattr(decision, "call_id", ""))
            if isinstance(decision, Assignment):
                if slot is not None:
                    slot.ringing, slot.agent_channel = decision.agent_id, None
                if decision.is_callback:
                    self._spawn(self._run_callback(decision))
                elif slot is not None:
                    slot.push(decision)
                else:  # the session is gone without telling us: free the agent
                    self.apply(self.state.caller_abandons(decision.call_id, self.clock()))
            elif isinstance(decision, CancelRing) and slot is not None and slot.ringing == decision.agent_id:
                # The agent logged out while its phone rang: stop that ring, the caller is back
                # in its place (the core already re-queued it).
                slot.ringing = None
                if decision.reason != "caller_left" and slot.agent_channel and self.ami is not None:
                    self._spawn(self._hang_up(slot.agent_channel))
            elif isinstance(decision, CallerMoved) and slot is not None:
                slot.queue = decision.to_queue
            elif isinstance(decision, CallerLeft | CallbackGaveUp) and slot is not None:
                if slot.callback:
                    del self.slots[decision.call_id]
                else:
                    slot.push(decision)
        self._wake.set()

    async def _hang_up(self, channel: str) -> None:
        assert self.ami is not None
        try:
            await self.ami.hangup(channel)
        except CallcenterError as exc:  # already gone: nothing to stop
            log.info("acd_hangup_failed", channel=channel, error=str(exc))

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- callers (used by the waiting session) ------------------------------------------------

    def join(
        self,
        call_id: str,
        queue: str,
        info: OfferInfo,
        *,
        skills: Mapping[str, int] | None = None,
    ) -> CallerSlot:
        """A caller enters ``queue``; its slot receives the decisions about it (maybe already one)."""
        slot = CallerSlot(call_id, queue, info, contact=info.caller)
        self.slots[call_id] = slot
        now = self.clock()
        try:
            decisions = self.state.caller_arrives(
                call_id, queue, now, priority=info.priority, skills=skills, contact=info.caller
            )
        except CallcenterError:
            del self.slots[call_id]
            raise
        if self.state.caller(call_id, now) is not None:
            self.bus.publish(TOPIC_CALLS, CallQueued(info.linkedid, queue, info.priority, now))
        self.apply(decisions)
        return slot

    def leave(self, call_id: str) -> None:
        """The caller is gone (hung up, or the session gives the call back to the IVR)."""
        slot = self.slots.pop(call_id, None)
        if slot is not None and slot.callback:
            self.slots[call_id] = slot  # a callback outlives the session that asked for it
            return
        self.apply(self.state.caller_abandons(call_id, self.clock()))

    def request_callback(self, call_id: str) -> int:
        """The waiting caller asked to be called back; returns its kept position."""
        slot = self.slots[call_id]
        if not slot.contact:
            raise ValidationError("no number to call back", field="contact")
        decisions = self.state.request_callback(call_id, self.clock(), slot.contact)
        slot.callback = True
        slot.inbox.clear()
        self.apply(decisions)
        return self.state.position(call_id) or 0

    def offered(self, slot: CallerSlot, assignment: Assignment) -> None:
        """Tell the desk the agent's phone rings with this call (the screen-pop)."""
        info = slot.info
        self.bus.publish(
            TOPIC_CALLS,
            CallOffered(
                linkedid=info.linkedid,
                uniqueid=info.uniqueid,
                agent_id=assignment.agent_id,
                queue=assignment.queue,
                waited_s=assignment.waited_s,
                caller=slot.contact if assignment.is_callback else info.caller,
                language=info.language,
                topic=info.topic,
                ivr_path=info.ivr_path,
                priority=info.priority,
                categories=info.categories,
                is_callback=assignment.is_callback,
                at=self.clock(),
            ),
        )

    def ring_result(
        self, slot: CallerSlot, agent_id: str, dial_status: str, *, talked_s: float | None = None
    ) -> None:
        """The Dial to the agent returned with ``dial_status``; ANSWER means the call is over now.

        ``talked_s`` is how long the bridge lasted (Dial's ANSWEREDTIME): when AMI did not report
        the answer (the connection was down or stalled), the answer is dated that long ago rather
        than now, so the wait and the talk time stay true.
        """
        now = self.clock()
        if slot.ringing != agent_id:
            # The ring was cancelled (the agent logged out) and the core moved on; if the agent
            # answered anyway the caller was served, so it leaves the queue.
            if dial_status == "ANSWER":
                self.leave(slot.call_id)
            return
        slot.ringing = None
        if dial_status == "ANSWER":
            if not slot.connected:
                self._connected(slot, agent_id, now - max(0.0, talked_s or 0.0))
            self.apply(self.state.call_ended(slot.call_id, now))
            self.slots.pop(slot.call_id, None)
            return
        if dial_status == "CHANUNAVAIL":
            self._device_lost(self.agent_device(agent_id), "CHANUNAVAIL")
        slot.connected = False
        self.apply(self.state.ring_no_answer(slot.call_id, now))

    def _connected(self, slot: CallerSlot, agent_id: str, now: float) -> None:
        slot.connected = True
        self.last_queue[agent_id] = slot.queue
        self.apply(self.state.call_answered(slot.call_id, now))
        self.bus.publish(TOPIC_CALLS, CallConnected(slot.info.linkedid, agent_id, slot.queue, now))

    def agents_logged_in(self, queue: str) -> int:
        """Agents not logged out whose skills fit ``queue``'s own requirements (0 for no such queue)."""
        if queue not in self.state.config.queues:
            return 0
        return self.state.logged_in(queue)

    # ---- agents -------------------------------------------------------------------------------

    def agent_config(self, agent_id: str) -> AgentConfig:
        config = self.state.config.agents.get(agent_id)
        if config is None:
            raise ValidationError(f"unknown agent {agent_id!r}", field="agent_id")
        return config

    def wrap_up_s(self, agent_id: str) -> float | None:
        """The wrap-up time of the agent's last answered call's queue (None before any call)."""
        queue = self.state.config.queues.get(self.last_queue.get(agent_id, ""))
        return None if queue is None else float(queue.wrap_up_s)

    def agent_device(self, agent_id: str) -> str:
        """The Dial string of the agent's phone (``PJSIP/<id>`` unless agents.yaml says otherwise)."""
        return self.agent_config(agent_id).device or f"PJSIP/{agent_id}"

    def login(self, agent_id: str) -> AgentState:
        """Log the agent in: available, or paused while its phone is unreachable."""
        self.agent_config(agent_id)
        dead = self.device_states.get(self.agent_device(agent_id)) in _DEAD_DEVICE_STATES
        reason = DEVICE_UNAVAILABLE if dead else None
        self.apply(self.state.agent_login(agent_id, self.clock(), paused_reason=reason))
        return self.state.agent_state(agent_id)

    def pause(self, agent_id: str, reason: str) -> AgentState:
        """Pause with one of the configured reasons (after the current call when busy)."""
        if reason not in self.settings.pause_reasons:
            raise ValidationError(
                f"pause reason must be one of {', '.join(self.settings.pause_reasons)}", field="reason"
            )
        self.agent_config(agent_id)
        self.apply(self.state.agent_pause(agent_id, reason, self.clock()))
        return self.state.agent_state(agent_id)

    def available(self, agent_id: str) -> AgentState:
        """Unpause or end wrap-up early."""
        self.agent_config(agent_id)
        self.apply(self.state.agent_available(agent_id, self.clock()))
        return self.state.agent_state(agent_id)

    def logout(self, agent_id: str) -> AgentState:
        """Log out (after the current call when busy)."""
        self.agent_config(agent_id)
        self.apply(self.state.agent_logout(agent_id, self.clock()))
        return self.state.agent_state(agent_id)

    # ---- callbacks ----------------------------------------------------------------------------

    def take_callback(self, call_id: str) -> str | None:
        """A supervisor takes a pending callback out of the automatic queue; returns the number."""
        view = self.state.caller(call_id, self.clock())
        if view is None or not view.is_callback or view.status == "ringing":
            raise ValidationError(f"no pending callback {call_id}", field="call_id")
        slot = self.slots.pop(call_id, None)
        self.apply(self.state.caller_abandons(call_id, self.clock()))
        return slot.contact if slot is not None else None

    async def _run_callback(self, assignment: Assignment) -> None:
        """One callback attempt: the agent's phone first, then (in the dialplan) the citizen."""
        call_id, agent_id = assignment.call_id, assignment.agent_id
        slot = self.slots.get(call_id)
        contact = assignment.contact or (slot.contact if slot is not None else None)
        if self.ami is None or not contact or slot is None:
            log.warning("acd_callback_impossible", call_id=call_id, ami=self.ami is not None)
            self.apply(self.state.callback_failed(call_id, self.clock()))
            return
        # Asterisk wants a channel id nobody else uses; the prefix lets the dialplan see callbacks.
        channel_id = f"cb-{next(self._leg_ids)}-{call_id}"
        leg = _CallbackLeg(call_id, agent_id, channel_id, asyncio.get_running_loop().create_future())
        self._legs[channel_id] = leg
        self.offered(slot, assignment)
        bound = log.bind(call_id=call_id, agent_id=agent_id, attempt=assignment.attempt)
        try:
            try:
                response = await self.ami.originate_and_wait(
                    self.agent_device(agent_id),
                    context=self.settings.callback_context,
                    exten=contact,
                    priority=1,
                    variables={CALLBACK_ID_VARIABLE: call_id, CALLBACK_AGENT_VARIABLE: agent_id},
                    ring_timeout_ms=int(assignment.ring_timeout_s * 1000),
                    channel_id=channel_id,
                )
            except CallcenterError as exc:
                bound.warning("acd_callback_originate_failed", error=str(exc))
                slot.ringing = None
                self.apply(self.state.callback_failed(call_id, self.clock()))
                return
            if not response.success:
                bound.info("acd_callback_agent_no_answer", reason=response.reason)
                if slot.ringing == agent_id:
                    slot.ringing = None
                    self.apply(self.state.ring_no_answer(call_id, self.clock()))
                return
            if slot.ringing != agent_id:  # cancelled while the agent's phone rang (logged out)
                await self._hang_up(response.channel)
                return
            bound.info("acd_callback_dialling", contact=mask_phone(contact))
            try:
                status = await asyncio.wait_for(leg.dial_status, self.settings.callback_dial_timeout_s)
            except TimeoutError:
                status = "TIMEOUT"
            slot.ringing = None
            if status != "ANSWER":
                bound.info("acd_callback_citizen_no_answer", status=status)
                self.apply(self.state.callback_failed(call_id, self.clock()))
                return
            self._connected(slot, agent_id, self.clock())
            await leg.hung_up.wait()
            self.apply(self.state.call_ended(call_id, self.clock()))
            self.slots.pop(call_id, None)
        finally:
            self._legs.pop(channel_id, None)

    # ---- AMI ----------------------------------------------------------------------------------

    def on_ami_event(self, event: AmiEvent) -> None:
        """Device states of agents' phones, and the progress of rings and callback legs."""
        if isinstance(event, DeviceStateChange):
            self._device_state(event.device, event.state)
        elif isinstance(event, DevicesResync):  # after every (re)connection: the whole picture
            for device in event.devices:
                self._device_state(device.device, device.state)
        elif isinstance(event, DialBegin) and event.channel is not None:
            slot = self.slots.get(event.channel.uniqueid)
            if slot is not None and slot.ringing is not None:
                slot.agent_channel = event.dest.channel
        elif isinstance(event, DialEnd) and event.channel is not None:
            leg = self._legs.get(event.channel.uniqueid)
            if leg is not None and not leg.dial_status.done():
                leg.dial_status.set_result(event.dial_status)
            slot = self.slots.get(event.channel.uniqueid)
            if (
                slot is not None
                and slot.ringing is not None
                and event.dial_status == "ANSWER"
                and not slot.connected
                and event.dest.channel.startswith(self.agent_device(slot.ringing) + "-")
            ):
                self._connected(slot, slot.ringing, self.clock())
        elif isinstance(event, Hangup):
            leg = self._legs.get(event.channel.uniqueid)
            if leg is not None:
                if not leg.dial_status.done():
                    leg.dial_status.set_result("HANGUP")
                leg.hung_up.set()

    def _agents_on(self, device: str) -> list[str]:
        return [a.id for a in self.state.config.agents.values() if (a.device or f"PJSIP/{a.id}") == device]

    def _device_state(self, device: str, state: str) -> None:
        previous = self.device_states.get(device)
        self.device_states[device] = state
        if state in _DEAD_DEVICE_STATES:
            self._device_lost(device, state)
        elif previous in _DEAD_DEVICE_STATES:
            now = self.clock()
            for agent_id in self._agents_on(device):
                view = next((v for v in self.state.agents(now) if v.agent_id == agent_id), None)
                if view is not None and view.state is AgentState.PAUSED and view.reason == DEVICE_UNAVAILABLE:
                    self.apply(self.state.agent_available(agent_id, now))

    def _device_lost(self, device: str, state: str) -> None:
        now = self.clock()
        self.device_states[device] = "UNAVAILABLE" if state == "CHANUNAVAIL" else state
        for agent_id in self._agents_on(device):
            # A busy agent (ringing, on a call) is paused as soon as that is over.
            if self.state.agent_state(agent_id) not in (AgentState.LOGGED_OUT, AgentState.PAUSED):
                self.apply(self.state.agent_pause(agent_id, DEVICE_UNAVAILABLE, now))

    # ---- configuration and views --------------------------------------------------------------

    def reconfigure(self, loaded: LoadedAcd) -> None:
        """Apply new definitions; waiting callers keep their places (``AcdState.reconfigure``)."""
        self.apply(self.state.reconfigure(loaded.config, self.clock(), schedules=loaded.schedules))

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """What the wallboard shows: per queue the live stats, per agent its state, the callbacks."""
        at = self.clock() if now is None else now
        queues = {name: self.state.queue_stats(name, at) for name in self.state.config.queues}
        agents = [
            {
                "agent_id": v.agent_id,
                "name": self.state.config.agents[v.agent_id].name
                if v.agent_id in self.state.config.agents
                else "",
                "state": v.state.value,
                "reason": v.reason,
                "time_in_state_s": round(v.time_in_state_s, 1),
                "calls_today": v.calls_taken,
            }
            for v in self.state.agents(at)
        ]
        callbacks = [
            {
                "call_id": c.call_id,
                "queue": c.queue,
                "status": c.status,
                "position": c.position,
                "waited_s": round(c.waited_s, 1),
                "attempts": c.attempts,
                "contact": mask_phone(self.slots[c.call_id].contact) if c.call_id in self.slots else None,
            }
            for c in self.state.callbacks(at)
        ]
        return {"at": at, "queues": queues, "agents": agents, "callbacks": callbacks}
