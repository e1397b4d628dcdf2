"""Compare two AMI streams by shape: event names, their order per channel, and field names.

Asterisk gives no order across channels (events come from separate Stasis topics), so a stream
is cut into groups whose internal order *is* meaningful, and the groups are compared one by one:

* ``callN <channel>``: the events of one channel of the N-th call (calls are told apart by
  Linkedid and numbered in order of appearance; channel names lose their ``-%08x`` sequence
  number, so ``Local/201@agents-0000000c;1`` becomes ``Local/201@agents;1``). Events naming only
  a ``Dest`` channel (an Originate's DialBegin) or a ``LocalOne`` channel (LocalBridge) go to it.
* ``callN bridgeK``: BridgeCreate/BridgeDestroy of the K-th bridge of that call.
* ``device <name>``, ``member <queue> <interface>``: device-state and queue-member events.
* ``action <ActionID>``: responses, list items and OriginateResponse of one action.
* ``session``: FullyBooted, security events, Shutdown.

Values are never compared; only names. :func:`compare_streams` returns readable differences,
an empty list when the shapes agree.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Frame", "agi_shape", "compare_agi", "compare_streams", "group_frames", "parse_frames"]

_SEQ = re.compile(r"-[0-9a-f]{8}(?=;|$)")
_MEMBER_EVENTS = {"QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded", "QueueMemberRemoved"}


@dataclass(frozen=True)
class Frame:
    """One AMI message: header names in order and the first value of each name."""

    names: tuple[str, ...]
    values: dict[str, str] = field(compare=False)

    @property
    def kind(self) -> str:
        """``Event: X`` gives ``X``; a response gives ``Response:<value>``."""
        if "Event" in self.values:
            return self.values["Event"]
        return "Response:" + self.values.get("Response", "?")

    def get(self, name: str) -> str:
        """The value of ``name``, or an empty string."""
        return self.values.get(name, "")


def parse_frames(stream: bytes | str) -> list[Frame]:
    """Split an AMI byte stream (as received, greeting included) into frames."""
    text = stream.decode("utf-8", "replace") if isinstance(stream, bytes) else stream
    text = text.replace("\r\n", "\n")
    if text.startswith("Asterisk Call Manager/"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
    frames: list[Frame] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        names: list[str] = []
        values: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            if not _ and line.endswith(":"):
                name, value = line[:-1], ""
            names.append(name)
            values.setdefault(name, value)
        frames.append(Frame(tuple(names), values))
    return frames


def _norm_channel(name: str) -> str:
    return _SEQ.sub("", name)


def group_frames(frames: Iterable[Frame]) -> dict[str, list[Frame]]:
    """Cut frames into the groups described in the module docstring, keeping stream order."""
    frames = list(frames)
    calls: dict[str, int] = {}
    chan_keys: dict[str, str] = {}
    used: dict[int, set[str]] = {}
    bridges: dict[str, str] = {}
    bridge_count: dict[int, int] = {}

    def call_of(linkedid: str) -> int:
        if linkedid not in calls:
            calls[linkedid] = len(calls) + 1
        return calls[linkedid]

    def channel_key(prefix: str, frame: Frame) -> str:
        uniqueid = frame.get(prefix + "Uniqueid")
        if uniqueid in chan_keys:
            return chan_keys[uniqueid]
        call = call_of(frame.get(prefix + "Linkedid") or uniqueid)
        base = _norm_channel(frame.get(prefix + "Channel"))
        taken = used.setdefault(call, set())
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}#{n}"
        taken.add(name)
        chan_keys[uniqueid] = f"call{call} {name}"
        return chan_keys[uniqueid]

    # Bridges are tied to a call by the first channel that enters them.
    for frame in frames:
        bid = frame.get("BridgeUniqueid")
        if bid and bid not in bridges and frame.get("Linkedid"):
            call = call_of(frame.get("Linkedid"))
            bridge_count[call] = bridge_count.get(call, 0) + 1
            bridges[bid] = f"call{call} bridge{bridge_count[call]}"

    groups: dict[str, list[Frame]] = {}
    for frame in frames:
        event = frame.get("Event")
        if not event or ("ActionID" in frame.values and event not in _MEMBER_EVENTS):
            key = "action " + frame.get("ActionID")
        elif frame.get("Uniqueid") and frame.get("Channel") and frame.get("Linkedid"):
            key = channel_key("", frame)
        elif frame.get("DestUniqueid") and frame.get("DestLinkedid"):
            key = channel_key("Dest", frame)
        elif frame.get("LocalOneUniqueid"):
            key = channel_key("LocalOne", frame)
        elif frame.get("BridgeUniqueid"):
            key = bridges.get(frame.get("BridgeUniqueid"), "bridge ?")
        elif event == "DeviceStateChange":
            key = "device " + _norm_channel(frame.get("Device"))
        elif event in _MEMBER_EVENTS:
            key = f"member {frame.get('Queue')} {frame.get('Interface')}"
        else:
            key = "session"
        groups.setdefault(key, []).append(frame)
    return groups


def _compare_group(key: str, want: list[Frame], got: list[Frame]) -> list[str]:
    want_names = [f.kind for f in want]
    got_names = [f.kind for f in got]
    if want_names != got_names:
        diff = difflib.unified_diff(want_names, got_names, "expected", "actual", n=2, lineterm="")
        return [f"[{key}] event sequence differs:", *("    " + line for line in list(diff)[2:])]
    out: list[str] = []
    for i, (a, b) in enumerate(zip(want, got, strict=True)):
        if a.names != b.names:
            missing = [n for n in a.names if n not in b.names]
            extra = [n for n in b.names if n not in a.names]
            detail = f"missing {missing} extra {extra}" if missing or extra else "same names, other order"
            out.append(f"[{key}] #{i + 1} {a.kind}: field names differ ({detail})")
            out.append(f"    expected: {', '.join(a.names)}")
            out.append(f"    actual:   {', '.join(b.names)}")
    return out


def compare_streams(expected: bytes | str, actual: bytes | str) -> list[str]:
    """Readable differences in shape between two AMI streams; empty when they agree."""
    want = group_frames(parse_frames(expected))
    got = group_frames(parse_frames(actual))
    out: list[str] = []
    for key in [*want, *(k for k in got if k not in want)]:
        if key not in got:
            out.append(f"[{key}] missing from actual: {[f.kind for f in want[key]]}")
        elif key not in want:
            out.append(f"[{key}] unexpected in actual: {[f.kind for f in got[key]]}")
        else:
            out.extend(_compare_group(key, want[key], got[key]))
    return out


def agi_shape(transcript: str) -> list[str]:
    """What Asterisk wrote in a FastAGI session, values removed.

    Header lines keep their names (``agi_channel``); replies keep the code and the names of
    their parts (``200 result endpos``, ``200 result (data)``); ``HANGUP`` and usage text lines
    stay as they are.
    """
    out: list[str] = []
    head, _, body = transcript.partition("\n\n")
    out.extend(line.partition(":")[0] for line in head.splitlines())
    out.append("")
    for line in body.splitlines():
        match = re.match(r"^(\d{3})([ -])(.*)$", line)
        if not match:
            out.append(line)
            continue
        code, sep, rest = match.groups()
        if code != "200":
            out.append(f"{code}{sep}{rest}")
            continue
        parts = [name for name in re.findall(r"(\w+)=", rest)]
        if "(" in rest:
            parts.append("(data)")
        out.append(" ".join([code, *parts]))
    return out


def compare_agi(expected: str, actual: str) -> list[str]:
    """Readable differences between two FastAGI transcripts by :func:`agi_shape`."""
    want, got = agi_shape(expected), agi_shape(actual)
    if want == got:
        return []
    diff = difflib.unified_diff(want, got, "expected", "actual", n=2, lineterm="")
    return ["[agi] transcript differs:", *("    " + line for line in list(diff)[2:])]
