"""The PBX model: channels, Local channel pairs, bridges and device states, and the AMI events they raise.

Every state change goes through :class:`Pbx`, which emits the AMI events with the exact field
layout of Asterisk 22 (``manager_channels.c``): the channel snapshot block in its fixed order,
``<unknown>`` for missing caller ids, ``AccountCode: `` with its trailing space, ``Dest``/
``LocalOne``/``LocalTwo`` prefixed blocks for the second channel. Subscribers (the AMI server's
sessions) receive ``(name, privilege, body)`` triples and do their own class filtering.

The hang-up rules follow what the recorded traces show:

* a channel that ends its own dialplan or runs ``Hangup()`` gets ``SoftHangupRequest`` (Cause 16);
* the other half of a Local pair then gets ``HangupRequest``, and, if the half that hung up was the
  ``;2`` side and had a DIALSTATUS, ``CHANLOCALSTATUS`` is set on the ``;1`` side first
  (``unreal_hangup`` in ``core_unreal.c``);
* a channel whose dialplan was interrupted that way ends it with ``SoftHangupRequest`` too;
* a Local device gets ``DeviceStateChange`` INUSE each time one of its halves is answered and
  NOT_INUSE (INVALID for a missing extension) each time one hangs up.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from callcenter.sim.clock import SimClock

__all__ = [
    "CAUSE_TEXT",
    "STATE_DESC",
    "Bridge",
    "Channel",
    "EventListener",
    "Pbx",
]

STATE_DESC = {
    0: "Down",
    1: "Rsrvd",
    2: "OffHook",
    3: "Dialing",
    4: "Ring",
    5: "Ringing",
    6: "Up",
    7: "Busy",
    8: "Dialing Offhook",
    9: "Pre-ring",
}
CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
}
UP = 6
RINGING = 5

#: ``(event name, privilege, body)`` as handed to every listener.
EventListener = Callable[[str, str, list[tuple[str, str]]], None]


@dataclass(eq=False)
class Channel:
    """One Asterisk channel and the dialplan position shown in its snapshot."""

    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    priority: int = 1
    state: int = 0
    cid_num: str = ""
    cid_name: str = ""
    conn_num: str = ""
    conn_name: str = ""
    language: str = "en"
    accountcode: str = ""
    created: float = 0.0
    variables: dict[str, str] = field(default_factory=dict)
    #: Simulator bookkeeping that is not a channel variable (queue join time, DNID, MOH on…).
    meta: dict[str, Any] = field(default_factory=dict)
    application: str = ""
    appdata: str = ""
    bridge: Bridge | None = None
    #: The other half of a Local channel pair, and whether this one is the ``;1`` (owner) side.
    local_peer: Channel | None = None
    local_owner: bool = False
    #: The Local device (``Local/201@agents``) or PJSIP endpoint this channel counts against.
    device: str = ""
    #: True while a dialplan (or an originated application) runs on the channel.
    in_pbx: bool = False
    soft_hangup_sent: bool = False
    dead: bool = False
    hangup_cause: int = 16
    hangup_requested: asyncio.Event = field(default_factory=asyncio.Event)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set once the channel is destroyed (after its Hangup event).
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    dtmf: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    #: Set by AMI Redirect: where the dialplan continues once the running application stops.
    redirect: tuple[str, str, int] | None = None
    #: Wakes a waiting application early (a Redirect).
    kick: asyncio.Event = field(default_factory=asyncio.Event)
    #: Running MixMonitor recordings: file name → simulated start time.
    mixmonitors: dict[str, float] = field(default_factory=dict)

    @property
    def tech(self) -> str:
        """``Local`` or ``PJSIP``."""
        return self.name.split("/", 1)[0]

    def is_alive(self) -> bool:
        """Not hung up and no hang-up requested (a method, so type checkers do not narrow it)."""
        return not self.dead and not self.hangup_requested.is_set()

    def is_dead(self) -> bool:
        """Hung up."""
        return self.dead

    def snapshot(self, prefix: str = "") -> list[tuple[str, str]]:
        """The channel snapshot block, field names prefixed by ``prefix``."""
        fields = [
            ("Channel", self.name),
            ("ChannelState", str(self.state)),
            ("ChannelStateDesc", STATE_DESC[self.state]),
            ("CallerIDNum", self.cid_num or "<unknown>"),
            ("CallerIDName", self.cid_name or "<unknown>"),
            ("ConnectedLineNum", self.conn_num or "<unknown>"),
            ("ConnectedLineName", self.conn_name or "<unknown>"),
            ("Language", self.language),
            ("AccountCode", self.accountcode),
            ("Context", self.context),
            ("Exten", self.exten),
            ("Priority", str(self.priority)),
            ("Uniqueid", self.uniqueid),
            ("Linkedid", self.linkedid),
        ]
        return [(prefix + k, v) for k, v in fields]


@dataclass(eq=False)
class Bridge:
    """A basic two-party bridge."""

    uniqueid: str
    channels: list[Channel] = field(default_factory=list)

    def fields(self) -> list[tuple[str, str]]:
        """The bridge block of Bridge* events."""
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", "<unknown>"),
            ("BridgeName", "<unknown>"),
            ("BridgeNumChannels", str(len(self.channels))),
            ("BridgeVideoSourceMode", "none"),
        ]


class Pbx:
    """The channel registry and event source of the simulated Asterisk."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.listeners: list[EventListener] = []
        self.channels: dict[str, Channel] = {}
        self.global_vars: dict[str, str] = {}
        self.device_states: dict[str, str] = {}
        #: Called on every device state change (the queue model turns them into member status).
        self.device_watchers: list[Callable[[str, str], None]] = []
        self._seq = itertools.count(1)
        self._uid = itertools.count(1)
        # Seeded, so bridge ids repeat from run to run like everything else in the simulator.
        self._rng = random.Random(0)
        self.booted_at = clock.now()

    # -- events -----------------------------------------------------------------------------

    def emit(self, name: str, privilege: str, body: list[tuple[str, str]]) -> None:
        """Hand one event to every listener."""
        for listener in list(self.listeners):
            listener(name, privilege, body)

    def chan_event(self, name: str, chan: Channel, *extra: tuple[str, str], privilege: str = "call") -> None:
        """Emit an event made of ``chan``'s snapshot followed by ``extra`` fields."""
        self.emit(name, privilege + ",all", [*chan.snapshot(), *extra])

    def set_var(self, chan: Channel, name: str, value: str) -> None:
        """Set a channel variable, raising VarSet as Asterisk does."""
        chan.variables[name] = value
        self.chan_event("VarSet", chan, ("Variable", name), ("Value", value), privilege="dialplan")

    def newexten(self, chan: Channel, app: str, data: str, exten: str | None = None) -> None:
        """Record that ``chan`` runs ``app(data)`` at its current priority."""
        chan.application, chan.appdata = app, data
        self.chan_event(
            "Newexten",
            chan,
            ("Extension", chan.exten if exten is None else exten),
            ("Application", app),
            ("AppData", data),
            privilege="dialplan",
        )

    # -- channels ---------------------------------------------------------------------------

    def new_uniqueid(self) -> str:
        """``<epoch>.<counter>``: the creation second and a counter, as Asterisk numbers channels."""
        return f"{int(self.clock.now())}.{next(self._uid)}"

    def next_seq(self) -> str:
        """The ``%08x`` sequence number in channel names."""
        return f"{next(self._seq):08x}"

    def add_channel(self, chan: Channel) -> Channel:
        """Register a channel and raise Newchannel."""
        chan.created = self.clock.now()
        self.channels[chan.name] = chan
        self.chan_event("Newchannel", chan)
        return chan

    def find(self, name_or_id: str) -> Channel | None:
        """A live channel by name or Uniqueid."""
        chan = self.channels.get(name_or_id)
        if chan is not None:
            return chan
        for chan in self.channels.values():
            if chan.uniqueid == name_or_id:
                return chan
        return None

    def set_callerid(self, chan: Channel, num: str, name: str) -> None:
        """Change the caller id (raises NewCallerid)."""
        chan.cid_num, chan.cid_name = num, name
        self.chan_event("NewCallerid", chan, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)"))

    def set_connected(self, chan: Channel, num: str, name: str) -> None:
        """Change the connected line (raises NewConnectedLine)."""
        chan.conn_num, chan.conn_name = num, name
        self.chan_event("NewConnectedLine", chan)

    def new_local_pair(
        self,
        exten: str,
        context: str,
        linkedid: str | None = None,
        uniqueid: str | None = None,
        optimize: bool = True,
    ) -> tuple[Channel, Channel]:
        """Create ``Local/<exten>@<context>-XXXXXXXX;1`` and ``;2`` (Newchannel for both)."""
        base = f"Local/{exten}@{context}-{self.next_seq()}"
        uid1 = uniqueid or self.new_uniqueid()
        uid2 = f"{uniqueid};2" if uniqueid else self.new_uniqueid()
        link = linkedid or uid1
        device = f"Local/{exten}@{context}"
        one = Channel(f"{base};1", uid1, link, context, exten, local_owner=True, device=device)
        two = Channel(f"{base};2", uid2, link, context, exten, state=4, device=device)
        one.local_peer, two.local_peer = two, one
        one.meta["optimize"] = "Yes" if optimize else "No"
        self.add_channel(one)
        self.add_channel(two)
        return one, two

    def local_bridge(self, one: Channel, two: Channel) -> None:
        """The LocalBridge event raised when the two halves are tied together."""
        self.emit(
            "LocalBridge",
            "call,all",
            [
                *one.snapshot("LocalOne"),
                *two.snapshot("LocalTwo"),
                ("Context", two.context),
                ("Exten", two.exten),
                ("LocalOptimization", str(one.meta.pop("optimize", "Yes"))),
            ],
        )

    def set_state(self, chan: Channel, state: int) -> None:
        """Change a channel's state (Newstate); answering one half of a Local pair answers the other."""
        if chan.state == state or chan.dead:
            return
        chan.state = state
        self.chan_event("Newstate", chan)
        if state == UP:
            if chan.device:
                self.device_state(chan.device, "INUSE")
            chan.answered.set()
            peer = chan.local_peer
            if peer is not None and not peer.dead and peer.state != UP:
                self.set_state(peer, UP)

    def device_state(self, device: str, state: str) -> None:
        """Raise DeviceStateChange and tell the watchers."""
        self.device_states[device] = state
        self.emit("DeviceStateChange", "call,all", [("Device", device), ("State", state)])
        for watcher in list(self.device_watchers):
            watcher(device, state)

    # -- hang-up ----------------------------------------------------------------------------

    def soft_hangup(self, chan: Channel, cause: int = 16) -> None:
        """``ast_softhangup``: SoftHangupRequest, and whatever runs on the channel stops."""
        if chan.dead:
            return
        if not chan.soft_hangup_sent:
            chan.soft_hangup_sent = True
            self.chan_event("SoftHangupRequest", chan, ("Cause", str(cause)))
        chan.hangup_requested.set()

    def request_hangup(self, chan: Channel, cause: int = 16) -> None:
        """A hang-up coming from the far end: HangupRequest."""
        if chan.dead or chan.hangup_requested.is_set():
            return
        chan.hangup_cause = cause
        self.chan_event("HangupRequest", chan, ("Cause", str(cause)))
        chan.hangup_requested.set()

    def hangup(self, chan: Channel, cause: int | None = None) -> None:
        """Destroy a channel: tell its Local peer, raise Hangup, update the device state."""
        if chan.dead:
            return
        chan.dead = True
        chan.hangup_requested.set()
        if cause is not None:
            chan.hangup_cause = cause
        peer = chan.local_peer
        if peer is not None and not peer.dead:
            status = chan.variables.get("DIALSTATUS")
            if not chan.local_owner and status is not None:
                self.set_var(peer, "CHANLOCALSTATUS", status)
            self.request_hangup(peer, chan.hangup_cause)
        self.channels.pop(chan.name, None)
        self.chan_event(
            "Hangup",
            chan,
            ("Cause", str(chan.hangup_cause)),
            ("Cause-txt", CAUSE_TEXT.get(chan.hangup_cause, "Unknown")),
        )
        if chan.tech == "Local":
            self.device_state(chan.device, str(chan.meta.get("device_end", "NOT_INUSE")))
        elif chan.device:
            self.device_state(chan.device, "NOT_INUSE")
        chan.ended.set()

    def end_pbx(self, chan: Channel) -> None:
        """The dialplan of ``chan`` is over: SoftHangupRequest (once) and Hangup."""
        chan.in_pbx = False
        if chan.dead:
            return
        self.soft_hangup(chan)
        self.hangup(chan)

    # -- bridges ----------------------------------------------------------------------------

    def new_bridge(self) -> Bridge:
        """BridgeCreate."""
        bridge = Bridge(str(uuid.UUID(int=self._rng.getrandbits(128), version=4)))
        self.emit("BridgeCreate", "call,all", bridge.fields())
        return bridge

    def bridge_enter(self, bridge: Bridge, chan: Channel) -> None:
        """A channel joins a bridge."""
        bridge.channels.append(chan)
        chan.bridge = bridge
        self.emit("BridgeEnter", "call,all", [*bridge.fields(), *chan.snapshot()])

    def bridge_leave(self, bridge: Bridge, chan: Channel) -> None:
        """A channel leaves a bridge."""
        if chan in bridge.channels:
            bridge.channels.remove(chan)
        chan.bridge = None
        self.emit("BridgeLeave", "call,all", [*bridge.fields(), *chan.snapshot()])

    def bridge_destroy(self, bridge: Bridge) -> None:
        """BridgeDestroy."""
        self.emit("BridgeDestroy", "call,all", bridge.fields())
