"""app_queue as the survival path: the "survival" queue, its members and the Queue() application.

Events, fields and their order per channel are those of the queue_answered and queue_abandoned
traces: QueueCallerJoin, MusicOnHoldStart, AgentCalled + DialBegin per ring, DialEnd,
QueueCallerLeave, AgentConnect, the bridge, AgentComplete; or QueueCallerAbandon then
QueueCallerLeave. Member events (QueueMemberStatus/Pause/Added/Removed) follow device states and
the AMI actions, with the ``Queue:<name>``, ``Queue:<name>_avail`` and
``Queue:<name>_pause_<interface>`` pseudo-devices app_queue keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from callcenter.sim.channels import Channel
from callcenter.sim.dialplan import split_args

if TYPE_CHECKING:
    from callcenter.sim.asterisk import SimAsterisk

__all__ = ["DEVICE_STATUS", "Member", "Queue", "QueueModel"]

DEVICE_STATUS = {
    "UNKNOWN": 0,
    "NOT_INUSE": 1,
    "INUSE": 2,
    "BUSY": 3,
    "INVALID": 4,
    "UNAVAILABLE": 5,
    "RINGING": 6,
    "RINGINUSE": 7,
    "ONHOLD": 8,
}


@dataclass
class Member:
    """One queue member (an interface such as ``Local/201@agents/n`` or ``PJSIP/201``)."""

    interface: str
    name: str
    membership: str = "static"
    penalty: int = 0
    paused: bool = False
    reason: str = ""
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    status: int = 1
    busy: bool = False

    @property
    def device(self) -> str:
        """The device whose state this member follows."""
        return self.interface.removesuffix("/n")

    def fields(self, queue: str) -> list[tuple[str, str]]:
        """The member block of QueueMember* events."""
        return [
            ("Queue", queue),
            ("MemberName", self.name),
            ("Interface", self.interface),
            ("StateInterface", self.interface),
            ("Membership", self.membership),
            ("Penalty", str(self.penalty)),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)),
            ("InCall", "1" if self.busy else "0"),
            ("Status", str(self.status)),
            ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.reason),
            ("Ringinuse", "1"),
            ("Wrapuptime", "0"),
        ]


@dataclass
class Queue:
    """A queue: strategy, ring timeout, retry pause, members and waiting callers."""

    name: str
    strategy: str = "leastrecent"
    timeout: float = 15.0
    retry: float = 1.0
    members: list[Member] = field(default_factory=list)
    callers: list[Channel] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0
    holdtime: float = 0.0
    talktime: float = 0.0
    available: bool = True


class QueueModel:
    """All queues of the simulated Asterisk and their AMI-visible behaviour."""

    def __init__(self, ast: SimAsterisk) -> None:
        self.ast = ast
        now = int(ast.clock.now())
        self.queues: dict[str, Queue] = {
            "survival": Queue(
                "survival",
                members=[Member(iface, name, login_time=now) for iface, name in ast.survival_members],
            )
        }
        ast.pbx.device_watchers.append(self._device_changed)

    def _device_changed(self, device: str, state: str) -> None:
        status = DEVICE_STATUS.get(state, 0)
        for queue in self.queues.values():
            for member in queue.members:
                if member.device == device and member.status != status:
                    member.status = status
                    self._member_event("QueueMemberStatus", queue, member)

    def _member_event(self, name: str, queue: Queue, member: Member) -> None:
        self.ast.pbx.emit(name, "agent,all", member.fields(queue.name))

    def _update_avail(self, queue: Queue) -> None:
        available = any(not m.paused for m in queue.members)
        if available != queue.available:
            queue.available = available
            state = "NOT_INUSE" if available else "INUSE"
            self.ast.pbx.device_state(f"Queue:{queue.name}_avail", state)

    # -- AMI actions ------------------------------------------------------------------------

    def pause(self, interface: str, paused: bool, queue_name: str = "", reason: str = "") -> bool:
        """QueuePause; False when no such member."""
        found = False
        for queue in self.queues.values():
            if queue_name and queue.name != queue_name:
                continue
            for member in queue.members:
                if member.interface != interface:
                    continue
                found = True
                member.paused, member.reason = paused, reason if paused else ""
                member.last_pause = int(self.ast.clock.now())
                state = "INUSE" if paused else "NOT_INUSE"
                self.ast.pbx.device_state(f"Queue:{queue.name}_pause_{interface}", state)
                self._update_avail(queue)
                self._member_event("QueueMemberPause", queue, member)
        return found

    def add(
        self, queue_name: str, interface: str, name: str = "", penalty: int = 0, paused: bool = False
    ) -> str | None:
        """QueueAdd; an error text or None."""
        queue = self.queues.get(queue_name)
        if queue is None:
            return "Unable to add interface to queue: No such queue"
        if any(m.interface == interface for m in queue.members):
            return "Unable to add interface: Already there"
        member = Member(
            interface, name or interface, "dynamic", penalty, paused, login_time=int(self.ast.clock.now())
        )
        state = self.ast.pbx.device_states.get(member.device, "NOT_INUSE")
        member.status = DEVICE_STATUS.get(state, 1)
        queue.members.append(member)
        self._member_event("QueueMemberAdded", queue, member)
        self._update_avail(queue)
        return None

    def remove(self, queue_name: str, interface: str) -> str | None:
        """QueueRemove; an error text or None."""
        queue = self.queues.get(queue_name)
        if queue is None:
            return "Unable to remove interface from queue: No such queue"
        member = next((m for m in queue.members if m.interface == interface), None)
        if member is None:
            return "Unable to remove interface: Not there"
        queue.members.remove(member)
        self._member_event("QueueMemberRemoved", queue, member)
        self._update_avail(queue)
        return None

    def status_items(self, queue_filter: str = "") -> list[tuple[str, list[tuple[str, str]]]]:
        """QueueStatus list items (without ActionID): QueueParams, QueueMember…, QueueEntry…."""
        now = self.ast.clock.now()
        items: list[tuple[str, list[tuple[str, str]]]] = []
        for queue in self.queues.values():
            if queue_filter and queue.name != queue_filter:
                continue
            done = max(queue.completed, 1)
            items.append(
                (
                    "QueueParams",
                    [
                        ("Queue", queue.name),
                        ("Max", "0"),
                        ("Strategy", queue.strategy),
                        ("Calls", str(len(queue.callers))),
                        ("Holdtime", str(int(queue.holdtime / done))),
                        ("TalkTime", str(int(queue.talktime / done))),
                        ("Completed", str(queue.completed)),
                        ("Abandoned", str(queue.abandoned)),
                        ("ServiceLevel", "0"),
                        ("ServicelevelPerf", "0.0"),
                        ("ServicelevelPerf2", "0.0"),
                        ("Weight", "0"),
                    ],
                )
            )
            # app_queue keeps members in a hash container; the traces list the newest first.
            for m in reversed(queue.members):
                fields = m.fields(queue.name)
                fields[1] = ("Name", m.name)
                fields[2] = ("Location", m.interface)
                items.append(("QueueMember", [f for f in fields if f[0] != "Ringinuse"]))
            for pos, chan in enumerate(queue.callers, 1):
                items.append(
                    (
                        "QueueEntry",
                        [
                            ("Queue", queue.name),
                            ("Position", str(pos)),
                            ("Channel", chan.name),
                            ("Uniqueid", chan.uniqueid),
                            ("CallerIDNum", chan.cid_num or "unknown"),
                            ("CallerIDName", chan.cid_name or "unknown"),
                            ("ConnectedLineNum", chan.conn_num or "unknown"),
                            ("ConnectedLineName", chan.conn_name or "unknown"),
                            ("Wait", str(int(now - float(chan.meta.get("qjoin", now))))),
                            ("Priority", "0"),
                        ],
                    )
                )
        return items

    def summary_items(self, queue_filter: str = "") -> list[tuple[str, list[tuple[str, str]]]]:
        """QueueSummary list items (without ActionID)."""
        now = self.ast.clock.now()
        items = []
        for queue in self.queues.values():
            if queue_filter and queue.name != queue_filter:
                continue
            done = max(queue.completed, 1)
            longest = max((now - float(c.meta.get("qjoin", now)) for c in queue.callers), default=0)
            items.append(
                (
                    "QueueSummary",
                    [
                        ("Queue", queue.name),
                        ("LoggedIn", str(len(queue.members))),
                        ("Available", str(sum(1 for m in queue.members if not m.paused and m.status == 1))),
                        ("Callers", str(len(queue.callers))),
                        ("HoldTime", str(int(queue.holdtime / done))),
                        ("TalkTime", str(int(queue.talktime / done))),
                        ("LongestHoldTime", str(int(longest))),
                    ],
                )
            )
        return items

    # -- the Queue() application ------------------------------------------------------------

    def _pick(self, queue: Queue, ringing: set[str]) -> Member | None:
        free = [
            m
            for m in queue.members
            if not m.paused and not m.busy and m.status in (0, 1) and m.interface not in ringing
        ]
        if not free:
            return None
        return min(free, key=lambda m: (m.last_call, m.calls_taken))

    async def run(self, caller: Channel, data: str) -> int:
        """Queue(name,options,URL,announce,timeout): -1 when the call ends here, 0 to continue."""
        ast, pbx = self.ast, self.ast.pbx
        args = [*split_args(data), "", "", "", "", ""]
        queue = self.queues.get(args[0])
        if queue is None:
            pbx.set_var(caller, "QUEUESTATUS", "UNKNOWN")
            return 0
        max_wait = float(args[4]) if args[4] else None
        for name in (
            "ANSWEREDTIME",
            "ANSWEREDTIME_MS",
            "DIALEDTIME",
            "DIALEDTIME_MS",
            "QUEUEWAIT",
            "QUEUEWAIT_MS",
        ):
            pbx.set_var(caller, name, "")
        joined = ast.clock.now()
        caller.meta["qjoin"] = joined
        queue.callers.append(caller)
        if len(queue.callers) == 1:
            pbx.device_state(f"Queue:{queue.name}", "RINGING")
        position = len(queue.callers)
        pbx.chan_event(
            "QueueCallerJoin",
            caller,
            ("Queue", queue.name),
            ("Position", str(position)),
            ("Count", str(len(queue.callers))),
            privilege="agent",
        )
        pbx.chan_event("MusicOnHoldStart", caller, ("Class", "default"))

        def leave() -> None:
            pos = queue.callers.index(caller) + 1 if caller in queue.callers else 1
            if caller in queue.callers:
                queue.callers.remove(caller)
            if not queue.callers:
                pbx.device_state(f"Queue:{queue.name}", "NOT_INUSE")
            pbx.chan_event(
                "QueueCallerLeave",
                caller,
                ("Queue", queue.name),
                ("Position", str(pos)),
                ("Count", str(len(queue.callers))),
                privilege="agent",
            )
            pbx.set_var(caller, "QUEUEPOSITION", str(pos))

        def waited() -> float:
            return ast.clock.now() - joined

        while True:
            remaining = None if max_wait is None else max_wait - waited()
            if remaining is not None and remaining <= 0:
                pbx.chan_event("MusicOnHoldStop", caller)
                leave()
                pbx.set_var(caller, "QUEUESTATUS", "TIMEOUT")
                return 0
            member = self._pick(queue, set()) if queue.callers and queue.callers[0] is caller else None
            if member is None:
                if not await ast.wait(caller, min(1.0, remaining or 1.0)):
                    if not caller.is_alive():
                        return self._abandon(queue, caller, waited(), leave, rang=False)
                continue
            outcome = await self._ring(queue, caller, member, waited, leave)
            if outcome is not None:
                return outcome
            if not caller.is_alive():
                return -1
            if not await ast.wait(caller, queue.retry) and not caller.is_alive():
                return self._abandon(queue, caller, waited(), leave, rang=False)

    def _abandon(
        self, queue: Queue, caller: Channel, held: float, leave: Callable[[], None], rang: bool
    ) -> int:
        pbx = self.ast.pbx
        if not rang:
            pbx.chan_event("MusicOnHoldStop", caller)
        for name, value in (
            ("QUEUEWAIT", str(int(held))),
            ("QUEUEWAIT_MS", str(int(held * 1000))),
            ("DIALEDTIME", str(int(held))),
            ("DIALEDTIME_MS", str(int(held * 1000))),
            ("ANSWEREDTIME", "0"),
            ("ANSWEREDTIME_MS", "0"),
            ("ABANDONED", "TRUE"),
        ):
            pbx.set_var(caller, name, value)
        pos = queue.callers.index(caller) + 1 if caller in queue.callers else 1
        pbx.chan_event(
            "QueueCallerAbandon",
            caller,
            ("Queue", queue.name),
            ("Position", str(pos)),
            ("OriginalPosition", str(pos)),
            ("HoldTime", str(int(held))),
            privilege="agent",
        )
        queue.abandoned += 1
        leave()
        return -1

    async def _ring(
        self,
        queue: Queue,
        caller: Channel,
        member: Member,
        waited: Callable[[], float],
        leave: Callable[[], None],
    ) -> int | None:
        ast, pbx = self.ast, self.ast.pbx
        leg = ast.new_leg(member.interface, caller, "queue")
        if leg is None:
            return None
        agent = leg.chan
        member_fields = [("Queue", queue.name), ("Interface", member.interface), ("MemberName", member.name)]
        pbx.emit("AgentCalled", "agent,all", [*caller.snapshot(), *agent.snapshot("Dest"), *member_fields])
        pbx.emit(
            "DialBegin",
            "call,all",
            [*caller.snapshot(), *agent.snapshot("Dest"), ("DialString", member.interface)],
        )
        rang_at = ast.clock.now()
        leg.start()
        answered = await ast.wait(caller, queue.timeout, agent.answered, agent.hangup_requested)
        answered = agent.answered.is_set() and agent.is_alive() and caller.is_alive()
        ring_time = ast.clock.now() - rang_at

        def dial_end(status: str) -> None:
            pbx.emit(
                "DialEnd", "call,all", [*caller.snapshot(), *agent.snapshot("Dest"), ("DialStatus", status)]
            )

        if not answered:
            if not caller.is_alive():
                pbx.chan_event("MusicOnHoldStop", caller)
                dial_end("CANCEL")
                dial_end("CANCEL")
                pbx.hangup(agent, 0)
                pbx.set_connected(agent, caller.cid_num, caller.cid_name)
                return self._abandon(queue, caller, waited(), leave, rang=True)
            pbx.emit(
                "AgentRingNoAnswer",
                "agent,all",
                [
                    *caller.snapshot(),
                    *agent.snapshot("Dest"),
                    *member_fields,
                    ("RingTime", str(int(ring_time * 1000))),
                ],
            )
            dial_end("NOANSWER" if agent.is_alive() else "BUSY")
            pbx.hangup(agent, 0 if agent.is_alive() else agent.hangup_cause)
            return None
        if leg.far is not None:
            pbx.newexten(agent, "AppQueue", "(Outgoing Line)", agent.exten)
            pbx.set_connected(agent, caller.cid_num, caller.cid_name)
        dial_end("ANSWER")
        pbx.chan_event("MusicOnHoldStop", caller)
        held = waited()
        leave()
        pbx.set_var(caller, "QUEUEWAIT", str(int(held)))
        pbx.set_var(caller, "QUEUEWAIT_MS", str(int(held * 1000)))
        pbx.emit(
            "AgentConnect",
            "agent,all",
            [
                *caller.snapshot(),
                *agent.snapshot("Dest"),
                *member_fields,
                ("HoldTime", str(int(held))),
                ("RingTime", str(int(ring_time))),
            ],
        )
        member.busy = True
        talk_start = ast.clock.now()

        def complete(first: Channel) -> None:
            talk = ast.clock.now() - talk_start
            pbx.emit(
                "AgentComplete",
                "agent,all",
                [
                    *caller.snapshot(),
                    *agent.snapshot("Dest"),
                    *member_fields,
                    ("HoldTime", str(int(held))),
                    ("TalkTime", str(int(talk))),
                    ("Reason", "caller" if first is caller else "agent"),
                ],
            )

        await ast.bridge(caller, agent, complete)
        member.busy = False
        member.calls_taken += 1
        member.last_call = int(ast.clock.now())
        queue.completed += 1
        queue.holdtime += held
        queue.talktime += ast.clock.now() - talk_start
        total = ast.clock.now() - talk_start
        dialed = ast.clock.now() - (talk_start - ring_time)
        pbx.set_var(caller, "ANSWEREDTIME", str(int(total)))
        pbx.set_var(caller, "ANSWEREDTIME_MS", str(int(total * 1000)))
        pbx.set_var(caller, "DIALEDTIME", str(int(dialed)))
        pbx.set_var(caller, "DIALEDTIME_MS", str(int(dialed * 1000)))
        return -1
