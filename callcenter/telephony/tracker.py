"""The call tracker: live channels, bridges, calls (linkedid groups) and agent device states.

Pure state, no I/O and no clock: :meth:`CallTracker.apply` takes one typed AMI event and returns
what changed (a tuple of small notices the rest of the system can act on). After every
(re)connect the AMI client hands over a fresh snapshot; :meth:`CallTracker.resync_channels` and
:meth:`CallTracker.resync_devices` replace the state with it and report what vanished or appeared
while events were being lost, so no stale call or agent survives a gap.

Robustness rules, because AMI has no replay and cross-channel order is not guaranteed:

* any event carrying a channel snapshot creates or refreshes the channel (a missed Newchannel
  does not hide a call);
* a hung-up Uniqueid is remembered (bounded), so a late or replayed event never resurrects it;
* applying the same event twice leaves the same state (idempotent).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace

from .events import (
    AmiEvent,
    BridgeCreate,
    BridgeDestroy,
    BridgeEnter,
    BridgeLeave,
    ChannelEvent,
    ChannelSnapshot,
    ChannelsResync,
    CoreShowChannel,
    DevicesResync,
    DeviceStateChange,
    DialBegin,
    DialEnd,
    DialState,
    Hangup,
)

__all__ = [
    "CallEnded",
    "CallStarted",
    "CallTracker",
    "ChannelGone",
    "ChannelNew",
    "DeviceChanged",
    "ResyncReport",
    "TrackedChannel",
    "TrackerChange",
]

#: How many hung-up Uniqueids to remember against late or replayed events.
TOMBSTONES = 20_000


@dataclass(frozen=True, slots=True)
class TrackedChannel:
    """What the tracker knows about one live channel."""

    uniqueid: str
    linkedid: str
    name: str
    state: int
    state_desc: str
    caller_num: str | None
    caller_name: str | None
    connected_num: str | None
    context: str
    exten: str
    bridge_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelNew:
    """A channel the tracker had not seen."""

    channel: TrackedChannel


@dataclass(frozen=True, slots=True)
class ChannelGone:
    """A channel hung up (``cause`` from Hangup) or vanished during a gap (``cause`` None)."""

    channel: TrackedChannel
    cause: int | None


@dataclass(frozen=True, slots=True)
class CallStarted:
    """The first channel of a linkedid group appeared."""

    linkedid: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The last channel of a linkedid group is gone."""

    linkedid: str


@dataclass(frozen=True, slots=True)
class DeviceChanged:
    """An agent device changed state (``previous`` None when first seen)."""

    device: str
    state: str
    previous: str | None


TrackerChange = ChannelNew | ChannelGone | CallStarted | CallEnded | DeviceChanged


@dataclass(frozen=True, slots=True)
class ResyncReport:
    """What a resync found different from the tracked state."""

    changes: tuple[TrackerChange, ...]

    @property
    def vanished(self) -> tuple[TrackedChannel, ...]:
        """Channels tracked before the resync that Asterisk no longer has."""
        return tuple(c.channel for c in self.changes if isinstance(c, ChannelGone))

    @property
    def appeared(self) -> tuple[TrackedChannel, ...]:
        """Channels Asterisk has that the tracker had missed."""
        return tuple(c.channel for c in self.changes if isinstance(c, ChannelNew))


def _tracked(snap: ChannelSnapshot, bridge_id: str | None) -> TrackedChannel:
    return TrackedChannel(
        uniqueid=snap.uniqueid,
        linkedid=snap.linkedid,
        name=snap.channel,
        state=snap.state,
        state_desc=snap.state_desc,
        caller_num=snap.caller_num,
        caller_name=snap.caller_name,
        connected_num=snap.connected_num,
        context=snap.context,
        exten=snap.exten,
        bridge_id=bridge_id,
    )


class CallTracker:
    """Channels, bridges, linkedid groups and device states, fed with typed AMI events."""

    def __init__(self) -> None:
        self._channels: dict[str, TrackedChannel] = {}
        self._calls: dict[str, set[str]] = {}  # linkedid -> uniqueids
        self._bridges: dict[str, set[str]] = {}  # bridge uniqueid -> member uniqueids
        self._devices: dict[str, str] = {}
        self._dead: OrderedDict[str, None] = OrderedDict()  # tombstones, oldest first

    # --- read side ------------------------------------------------------------------------

    @property
    def channels(self) -> dict[str, TrackedChannel]:
        """Live channels by Uniqueid (a copy)."""
        return dict(self._channels)

    def channel(self, uniqueid: str) -> TrackedChannel | None:
        """One live channel, or None."""
        return self._channels.get(uniqueid)

    @property
    def calls(self) -> dict[str, frozenset[str]]:
        """Live calls: linkedid -> the Uniqueids of its legs."""
        return {linkedid: frozenset(legs) for linkedid, legs in self._calls.items()}

    def call_legs(self, linkedid: str) -> tuple[TrackedChannel, ...]:
        """The live legs of one call, ordered by Uniqueid."""
        legs = self._calls.get(linkedid, set())
        return tuple(self._channels[u] for u in sorted(legs))

    @property
    def bridges(self) -> dict[str, frozenset[str]]:
        """Live bridges: bridge id -> member Uniqueids."""
        return {bridge: frozenset(members) for bridge, members in self._bridges.items()}

    @property
    def devices(self) -> dict[str, str]:
        """Device states (``PJSIP/201`` -> ``NOT_INUSE``), as last reported."""
        return dict(self._devices)

    def device_state(self, device: str) -> str | None:
        """The last known state of one device, or None."""
        return self._devices.get(device)

    # --- events ---------------------------------------------------------------------------

    def apply(self, event: AmiEvent) -> tuple[TrackerChange, ...]:
        """Update the state with one event; return what changed (often nothing)."""
        if isinstance(event, ChannelsResync):
            return self.resync_channels(event.channels).changes
        if isinstance(event, DevicesResync):
            return self.resync_devices(event.devices).changes
        changes: list[TrackerChange] = []
        if isinstance(event, DeviceStateChange):
            self._set_device(event.device, event.state, changes)
        elif isinstance(event, Hangup):
            self._remove(event.channel.uniqueid, event.cause, changes)
            self._bury(event.channel.uniqueid)
        elif isinstance(event, BridgeCreate):
            self._bridges.setdefault(event.bridge.uniqueid, set())
        elif isinstance(event, BridgeDestroy):
            for member in self._bridges.pop(event.bridge.uniqueid, set()):
                self._set_bridge(member, None)
        elif isinstance(event, ChannelEvent):
            bridge_id = self._bridge_of(event)
            self._upsert(event.channel, bridge_id, changes)
            if isinstance(event, BridgeEnter | BridgeLeave):
                self._move_bridge(event)
            elif (
                isinstance(event, CoreShowChannel) and bridge_id and event.channel.uniqueid in self._channels
            ):
                self._bridges.setdefault(bridge_id, set()).add(event.channel.uniqueid)
        elif isinstance(event, DialBegin | DialState | DialEnd):
            if event.channel is not None:
                self._upsert(event.channel, self._bridge_of_uid(event.channel.uniqueid), changes)
            self._upsert(event.dest, self._bridge_of_uid(event.dest.uniqueid), changes)
        return tuple(changes)

    def apply_all(self, events: Iterable[AmiEvent]) -> list[TrackerChange]:
        """Apply events in order; return every change."""
        out: list[TrackerChange] = []
        for event in events:
            out.extend(self.apply(event))
        return out

    # --- resync ---------------------------------------------------------------------------

    def resync_channels(self, items: Iterable[CoreShowChannel]) -> ResyncReport:
        """Replace the channel and bridge state with a CoreShowChannels result."""
        changes: list[TrackerChange] = []
        fresh = {item.channel.uniqueid: item for item in items}
        for uniqueid in list(self._channels):
            if uniqueid not in fresh:
                self._remove(uniqueid, None, changes)
        self._bridges.clear()
        for uniqueid, item in fresh.items():
            self._dead.pop(uniqueid, None)  # Asterisk says it lives: trust the snapshot
            self._upsert(item.channel, item.bridge_id, changes)
            if item.bridge_id:
                self._bridges.setdefault(item.bridge_id, set()).add(uniqueid)
        return ResyncReport(tuple(changes))

    def resync_devices(self, items: Iterable[DeviceStateChange]) -> ResyncReport:
        """Replace device states with a DeviceStateList result."""
        changes: list[TrackerChange] = []
        fresh = {item.device: item.state for item in items}
        for device in list(self._devices):
            if device not in fresh:
                del self._devices[device]
        for device, state in fresh.items():
            self._set_device(device, state, changes)
        return ResyncReport(tuple(changes))

    def resync(
        self, channels: Iterable[CoreShowChannel], devices: Iterable[DeviceStateChange] | None = None
    ) -> ResyncReport:
        """Both resyncs at once (devices only when given)."""
        report = self.resync_channels(channels)
        if devices is None:
            return report
        return ResyncReport(report.changes + self.resync_devices(devices).changes)

    # --- internals ------------------------------------------------------------------------

    def _bridge_of_uid(self, uniqueid: str) -> str | None:
        current = self._channels.get(uniqueid)
        return current.bridge_id if current is not None else None

    def _bridge_of(self, event: ChannelEvent) -> str | None:
        if isinstance(event, CoreShowChannel):
            return event.bridge_id
        return self._bridge_of_uid(event.channel.uniqueid)

    def _upsert(self, snap: ChannelSnapshot, bridge_id: str | None, changes: list[TrackerChange]) -> None:
        uniqueid = snap.uniqueid
        if uniqueid in self._dead:
            return  # a late or replayed event about a channel that already hung up
        previous = self._channels.get(uniqueid)
        tracked = _tracked(snap, bridge_id)
        if previous == tracked:
            return
        self._channels[uniqueid] = tracked
        if previous is None:
            changes.append(ChannelNew(tracked))
        elif previous.linkedid != tracked.linkedid:
            self._leave_call(previous.linkedid, uniqueid, changes)
        else:
            return
        legs = self._calls.get(tracked.linkedid)
        if legs is None:
            legs = self._calls[tracked.linkedid] = set()
            changes.append(CallStarted(tracked.linkedid))
        legs.add(uniqueid)

    def _remove(self, uniqueid: str, cause: int | None, changes: list[TrackerChange]) -> None:
        gone = self._channels.pop(uniqueid, None)
        if gone is None:
            return
        if gone.bridge_id is not None:
            members = self._bridges.get(gone.bridge_id)
            if members is not None:
                members.discard(uniqueid)
        changes.append(ChannelGone(gone, cause))
        self._leave_call(gone.linkedid, uniqueid, changes)

    def _leave_call(self, linkedid: str, uniqueid: str, changes: list[TrackerChange]) -> None:
        legs = self._calls.get(linkedid)
        if legs is None:
            return
        legs.discard(uniqueid)
        if not legs:
            del self._calls[linkedid]
            changes.append(CallEnded(linkedid))

    def _bury(self, uniqueid: str) -> None:
        self._dead[uniqueid] = None
        self._dead.move_to_end(uniqueid)
        while len(self._dead) > TOMBSTONES:
            self._dead.popitem(last=False)

    def _set_bridge(self, uniqueid: str, bridge_id: str | None) -> None:
        current = self._channels.get(uniqueid)
        if current is not None and current.bridge_id != bridge_id:
            self._channels[uniqueid] = replace(current, bridge_id=bridge_id)

    def _move_bridge(self, event: BridgeEnter | BridgeLeave) -> None:
        uniqueid = event.channel.uniqueid
        if uniqueid not in self._channels:
            return
        bridge_id = event.bridge.uniqueid
        if isinstance(event, BridgeEnter):
            self._bridges.setdefault(bridge_id, set()).add(uniqueid)
            if event.swap_uniqueid:
                self._bridges[bridge_id].discard(event.swap_uniqueid)
            self._set_bridge(uniqueid, bridge_id)
        else:
            members = self._bridges.get(bridge_id)
            if members is not None:
                members.discard(uniqueid)
            current = self._channels[uniqueid]
            if current.bridge_id == bridge_id:
                self._set_bridge(uniqueid, None)

    def _set_device(self, device: str, state: str, changes: list[TrackerChange]) -> None:
        previous = self._devices.get(device)
        if previous != state:
            self._devices[device] = state
            changes.append(DeviceChanged(device, state, previous))
