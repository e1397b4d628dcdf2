"""The simulated Asterisk: dialplan execution, Originate, outbound legs and the bridge.

:class:`SimAsterisk` ties the channel model (:mod:`callcenter.sim.channels`), the dialplan
(:mod:`callcenter.sim.dialplan`), the survival queue (:mod:`callcenter.sim.queues`), the agent
phones (:mod:`callcenter.sim.models`) and the FastAGI client together. Applications live in
:mod:`callcenter.sim.apps`. The AMI server (:mod:`callcenter.sim.ami_server`) is its window.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callcenter.logs import get_logger
from callcenter.sim.channels import UP, Channel, Pbx
from callcenter.sim.clock import SimClock
from callcenter.sim.dialplan import DEFAULT_DIALPLAN, Dialplan
from callcenter.sim.models import AgentPhone
from callcenter.sim.queues import QueueModel

__all__ = ["SOUNDS", "AgiTarget", "Leg", "OriginateResult", "SimAsterisk"]

_log = get_logger(__name__)

#: Prompt lengths in seconds of the sound files the simulated PBX "has"; others are missing.
SOUNDS: dict[str, float] = {
    "demo-congrats": 7.0,
    "beep": 0.42,
    "silence/1": 1.0,
    "vm-goodbye": 0.9,
    "queue-thankyou": 2.0,
    "queue-callswaiting": 2.2,
    "queue-holdtime": 1.6,
    "queue-youarenext": 1.4,
    "queue-thereare": 1.0,
    "queue-minutes": 0.8,
    "pls-hold-while-try": 2.1,
    "auth-thankyou": 1.1,
    "hello-world": 1.5,
}


@dataclass
class OriginateResult:
    """What an Originate attempt ended with (the OriginateResponse fields)."""

    success: bool
    reason: int
    channel: str
    uniqueid: str
    cid_num: str
    cid_name: str


@dataclass
class Leg:
    """An outbound leg being dialled: the channel the dialler sees and how to start it ringing."""

    chan: Channel
    dial_string: str
    start: Callable[[], None]
    #: The ``;2`` side of a Local leg (runs the dialplan), None for a phone.
    far: Channel | None = None
    phone: AgentPhone | None = None


@dataclass
class AgiTarget:
    """Where the dialplan's ``agi://host:port`` really connects (tests map it to their own port)."""

    host: str
    port: int


@dataclass
class SimAsterisk:
    """One simulated Asterisk 22 instance."""

    clock: SimClock
    dialplan: Dialplan = field(default_factory=lambda: Dialplan.parse(DEFAULT_DIALPLAN))
    sounds: dict[str, float] = field(default_factory=lambda: dict(SOUNDS))
    #: Duration of a prompt that is not in ``sounds``; None makes it a missing file (``-1 endpos=0``).
    default_sound: float | None = None
    agi_map: dict[str, AgiTarget] = field(default_factory=dict)
    phones: dict[str, AgentPhone] = field(default_factory=dict)
    recordings_dir: Path | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(1))
    #: Members of the "survival" queue: (interface, member name).
    survival_members: list[tuple[str, str]] = field(
        default_factory=lambda: [("Local/201@agents/n", "Agent201"), ("Local/202@agents/n", "Agent202")]
    )
    #: Told when a prompt starts on a channel (caller models type their digits from here).
    prompt_hooks: list[Callable[[Channel, str], None]] = field(default_factory=list)
    queues: QueueModel = field(init=False)
    pbx: Pbx = field(init=False)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set, init=False)

    #: Who answers outbound trunk calls (``PJSIP/<number>@trunk``): a callback's citizen.
    outbound_callee: AgentPhone = field(default_factory=lambda: AgentPhone("trunk", single_line=False))

    def __post_init__(self) -> None:
        self.pbx = Pbx(self.clock)
        for endpoint, phone in self.phones.items():
            self.pbx.device_states[f"PJSIP/{endpoint}"] = "NOT_INUSE" if phone.registered else "UNAVAILABLE"
        self.queues = QueueModel(self)

    def set_registered(self, endpoint: str, registered: bool) -> None:
        """A phone registers or goes away (DeviceStateChange NOT_INUSE / UNAVAILABLE)."""
        phone = self.phones.setdefault(endpoint, AgentPhone(endpoint))
        phone.registered = registered
        self.pbx.device_state(f"PJSIP/{endpoint}", "NOT_INUSE" if registered else "UNAVAILABLE")

    # -- tasks ------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background and keep a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        # A bug in a channel task must show up in the logs, not vanish with the task.
        if not task.cancelled() and task.exception() is not None:
            _log.error("simulated channel task failed", exc_info=task.exception())

    async def stop(self) -> None:
        """Cancel every running channel task."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def sound_length(self, name: str) -> float | None:
        """Seconds of a prompt, None when the file is missing."""
        return self.sounds.get(name, self.default_sound)

    def prompt_started(self, chan: Channel, name: str) -> None:
        """Tell the prompt hooks that ``name`` starts playing on ``chan``."""
        for hook in list(self.prompt_hooks):
            hook(chan, name)

    # -- waiting ----------------------------------------------------------------------------

    async def wait(self, chan: Channel, seconds: float | None, *extra: asyncio.Event) -> bool:
        """Sleep ``seconds`` of simulated time (None: forever) unless the channel is hung up or kicked.

        True when the full time passed.
        """
        events = [chan.hangup_requested, chan.kick, *extra]
        if any(e.is_set() for e in events):
            return False
        waiters = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            done, _ = await asyncio.wait(
                waiters,
                timeout=None if seconds is None else self.clock.real(seconds),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for w in waiters:
                w.cancel()
        return not done

    # -- dialplan ---------------------------------------------------------------------------

    def start_pbx(self, chan: Channel, context: str, exten: str, priority: int = 1) -> asyncio.Task[Any]:
        """Run the dialplan on ``chan`` from ``exten@context``."""
        chan.in_pbx = True
        return self.spawn(self.run_dialplan(chan, context, exten, priority))

    async def run_dialplan(self, chan: Channel, context: str, exten: str, priority: int = 1) -> None:
        """Step through the dialplan until it ends, the channel hangs up or an app returns -1."""
        from callcenter.sim.apps import Goto, run_app
        from callcenter.sim.dialplan import expand

        chan.in_pbx = True
        try:
            while not chan.dead:
                found = self.dialplan.find(context, exten)
                if found is None:
                    break
                _, steps = found
                step = next((s for s in steps if s.priority == priority), None)
                if step is None:
                    break
                chan.context, chan.exten, chan.priority = context, exten, priority
                data = expand(step.data, chan, self.pbx.global_vars)
                self.pbx.newexten(chan, step.app, data)
                result = await run_app(self, chan, step.app, data)
                if chan.redirect is not None:
                    context, exten, priority = chan.redirect
                    chan.redirect = None
                    chan.kick.clear()
                    continue
                if isinstance(result, Goto):
                    context = result.context or context
                    exten = result.exten or exten
                    priority = self._resolve(context, exten, result.priority)
                    continue
                if result < 0 or not chan.is_alive():
                    break
                priority += 1
        finally:
            self.pbx.end_pbx(chan)

    def _resolve(self, context: str, exten: str, target: str) -> int:
        if target.isdigit():
            return int(target)
        found = self.dialplan.find(context, exten)
        for step in found[1] if found else []:
            if step.label == target:
                return step.priority
        return 10_000

    # -- outbound legs ----------------------------------------------------------------------

    def new_leg(
        self,
        target: str,
        caller: Channel | None,
        kind: str,
        linkedid: str | None = None,
        uniqueid: str | None = None,
    ) -> Leg | None:
        """Create the channel(s) for dialling ``target`` (``Local/x@ctx[/n]`` or ``PJSIP/x``).

        ``kind`` is ``dial``, ``queue`` or ``originate``: each raises the events its application
        does in the traces. None when the target cannot be dialled (unknown endpoint).
        """
        tech, _, resource = target.partition("/")
        link = linkedid or (caller.linkedid if caller else None)
        if tech == "Local":
            optimize = not resource.endswith("/n")
            dest = resource.removesuffix("/n")
            exten, _, context = dest.partition("@")
            one, two = self.pbx.new_local_pair(exten, context, link, uniqueid, optimize)
            return self._local_leg(one, two, target, caller, kind, dest, resource)
        if tech == "PJSIP":
            # PJSIP/<number>@trunk is an outbound call to a citizen (a callback).
            phone = self.outbound_callee if "@" in resource else self.phones.get(resource)
            if phone is None or not phone.registered:
                return None
            if "@" in resource:
                resource = resource.partition("@")[2]
            chan = Channel(
                f"PJSIP/{resource}-{self.pbx.next_seq()}",
                uniqueid or self.pbx.new_uniqueid(),
                "",
                "agents",
                "s",
                device=f"PJSIP/{resource}",
            )
            chan.linkedid = link or chan.uniqueid
            self.pbx.add_channel(chan)
            if caller is not None:
                self.pbx.set_connected(chan, caller.cid_num, caller.cid_name)
            return Leg(chan, target, lambda: self._ring_phone(chan, phone), phone=phone)
        return None

    def _local_leg(
        self,
        one: Channel,
        two: Channel,
        target: str,
        caller: Channel | None,
        kind: str,
        dest: str,
        resource: str,
    ) -> Leg:
        pbx = self.pbx
        exten = dest.partition("@")[0]
        if kind == "queue":
            pbx.newexten(one, "AppQueue", "(Outgoing Line)", exten)
            if caller is not None:
                pbx.set_callerid(one, caller.cid_num, caller.cid_name)
            pbx.set_var(one, "DIALEDPEERNUMBER", resource)
            pbx.set_var(two, "DIALEDPEERNUMBER", resource)
        elif kind == "dial":
            pbx.set_var(one, "DIALEDPEERNUMBER", resource)
            pbx.newexten(one, "AppDial", "(Outgoing Line)", exten)
            if caller is not None:
                pbx.set_callerid(one, caller.exten, caller.cid_name)
                pbx.set_connected(one, caller.cid_num, caller.cid_name)
            pbx.set_var(two, "DIALEDPEERNUMBER", resource)
        if caller is not None and kind in ("queue", "dial"):
            two.conn_num, two.conn_name = caller.exten, caller.cid_name
            pbx.set_callerid(two, caller.cid_num, caller.cid_name)
            pbx.set_connected(two, caller.exten, caller.cid_name)
        if kind in ("queue", "dial"):
            pbx.local_bridge(one, two)

        def start() -> None:
            if not self.dialplan.exists(two.context, two.exten):
                pbx.hangup(two, 0)
                return
            self.start_pbx(two, two.context, two.exten)

        return Leg(one, dest if kind != "queue" else target, start, far=two)

    def _ring_phone(self, chan: Channel, phone: AgentPhone) -> None:
        self.spawn(phone.run(self, chan))

    # -- originate --------------------------------------------------------------------------

    async def originate(
        self,
        target: str,
        *,
        context: str = "",
        exten: str = "",
        priority: str = "1",
        application: str = "",
        data: str = "",
        ring_timeout: float = 30.0,
        callerid: tuple[str, str] = ("", ""),
        variables: list[tuple[str, str]] | None = None,
        channel_id: str | None = None,
    ) -> OriginateResult:
        """Place a call to ``target``; when answered run ``exten@context`` or the application on it."""
        from callcenter.sim.apps import run_app

        pbx = self.pbx
        variables = variables or []
        tech, _, resource = target.partition("/")
        failed = OriginateResult(False, 0, target, "<unknown>", callerid[0], callerid[1])
        if tech == "Local":
            dest = resource.removesuffix("/n")
            lexten, _, lcontext = dest.partition("@")
            one, two = pbx.new_local_pair(lexten, lcontext, None, channel_id, not resource.endswith("/n"))
            pbx.newexten(one, "AppDial2", "(Outgoing Line)", lexten)
            if not self.dialplan.exists(lcontext, lexten):
                one.local_peer = two.local_peer = None
                for chan in (two, one):
                    chan.meta["device_end"] = "INVALID"
                    pbx.hangup(chan, 0)
                return failed
            for name, value in reversed(variables):
                pbx.set_var(one, name, value)
            if callerid[0] or callerid[1]:
                pbx.set_callerid(one, *callerid)
                pbx.set_connected(one, *callerid)
            for name, value in variables:
                pbx.set_var(two, name, value)
            if callerid[0] or callerid[1]:
                two.conn_num, two.conn_name = callerid
                pbx.set_callerid(two, *callerid)
                pbx.set_connected(two, *callerid)
            pbx.local_bridge(one, two)

            def start_far() -> None:
                self.start_pbx(two, lcontext, lexten)

            leg = Leg(one, dest, start_far, far=two)
        else:
            maybe = self.new_leg(target, None, "originate", uniqueid=channel_id)
            if maybe is None:
                return failed
            leg = maybe
            for name, value in variables:
                pbx.set_var(leg.chan, name, value)
            if callerid[0] or callerid[1]:
                pbx.set_callerid(leg.chan, *callerid)
        chan = leg.chan
        pbx.emit("DialBegin", "call,all", [*chan.snapshot("Dest"), ("DialString", leg.dial_string)])
        leg.start()
        answered = await self.wait(chan, ring_timeout, chan.answered) is False and chan.answered.is_set()
        if not answered:
            # Reason 3 (no answer) when the ring timed out, 1 (hung up) when the far end went away.
            reason = 3 if chan.is_alive() else 1
            pbx.emit("DialEnd", "call,all", [*chan.snapshot("Dest"), ("DialStatus", "NOANSWER")])
            pbx.hangup(chan)
            return OriginateResult(False, reason, target, "<unknown>", *callerid)
        pbx.emit("DialEnd", "call,all", [*chan.snapshot("Dest"), ("DialStatus", "ANSWER")])
        result = OriginateResult(True, 4, chan.name, chan.uniqueid, chan.cid_num, chan.cid_name)
        if application:
            chan.application, chan.appdata, chan.in_pbx = application, data, True

            async def run() -> None:
                await run_app(self, chan, application, data)
                if chan.redirect is not None:
                    ctx, ext, prio = chan.redirect
                    chan.redirect = None
                    chan.kick.clear()
                    await self.run_dialplan(chan, ctx, ext, prio)
                else:
                    pbx.end_pbx(chan)

            self.spawn(run())
        else:
            chan.context, chan.exten = context, exten
            self.start_pbx(chan, context, exten, self._resolve(context, exten, priority))
        return result

    # -- bridging ---------------------------------------------------------------------------

    async def bridge(
        self,
        caller: Channel,
        agent: Channel,
        on_end: Callable[[Channel], None] | None = None,
    ) -> Channel:
        """Bridge two answered channels until one hangs up; hang up the agent leg; return who left first."""
        pbx = self.pbx
        bridge = pbx.new_bridge()
        pbx.bridge_enter(bridge, agent)
        pbx.bridge_enter(bridge, caller)
        pbx.set_var(agent, "BRIDGEPEER", caller.name)
        pbx.set_var(caller, "BRIDGEPEER", agent.name)
        await self.wait(caller, None, agent.hangup_requested)
        first = agent if agent.hangup_requested.is_set() else caller
        if on_end is not None:
            on_end(first)
        pbx.set_var(agent, "BRIDGEPEER", "")
        pbx.set_var(caller, "BRIDGEPEER", "")
        pbx.bridge_leave(bridge, agent)
        pbx.hangup(agent)
        pbx.bridge_leave(bridge, caller)
        pbx.bridge_destroy(bridge)
        return first

    def answer(self, chan: Channel) -> bool:
        """Answer ``chan`` if it is not up yet; True if it was answered now."""
        if chan.state == UP:
            return False
        self.pbx.set_state(chan, UP)
        return True
