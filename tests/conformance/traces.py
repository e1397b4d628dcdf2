"""Load the recorded Asterisk wire traces (ground truth) for tests and the simulator's checks.

The traces live outside the repository, in ``/work/shared/asterisk-traces`` (``REPO_ROOT.parent /
"shared"``), and are read in place, never copied. Each ``*.jsonl`` line is ``{"t", "dir", "data"}``:
``recv`` is what the backend received from Asterisk, ``send`` what it wrote. AMI ``recv`` chunks are
raw TCP reads, so their boundaries are real read boundaries (kept by ``ami_received_chunks``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = [
    "AGI_SCENARIOS",
    "AMI_SCENARIOS",
    "REPO_ROOT",
    "TRACES_DIR",
    "TraceLine",
    "agi_lines",
    "ami_received_bytes",
    "ami_received_chunks",
    "ami_sent_frames",
    "load_trace",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
TRACES_DIR = REPO_ROOT.parent / "shared" / "asterisk-traces"

#: Scenarios that have an ``ami.jsonl`` trace, in a stable order.
AMI_SCENARIOS: tuple[str, ...] = (
    "actions",
    "agi_unreachable",
    "caller_hangup",
    "ivr_dial",
    "queue_abandoned",
    "queue_answered",
)
#: Scenarios that have an ``agi-1.jsonl`` trace.
AGI_SCENARIOS: tuple[str, ...] = ("caller_hangup", "ivr_dial")


@dataclass(frozen=True, slots=True)
class TraceLine:
    """One recorded read or write: seconds since the scenario started, ``recv``/``send``, and text."""

    t: float
    direction: str
    data: str


@cache
def _load(scenario: str, name: str) -> tuple[TraceLine, ...]:
    path = TRACES_DIR / scenario / f"{name}.jsonl"
    lines: list[TraceLine] = []
    with path.open(encoding="utf-8") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            item = json.loads(raw)
            lines.append(TraceLine(t=float(item["t"]), direction=str(item["dir"]), data=str(item["data"])))
    return tuple(lines)


def load_trace(scenario: str, name: str = "ami") -> list[TraceLine]:
    """All lines of ``<scenario>/<name>.jsonl`` (``name`` is ``ami`` or ``agi-1``) in recorded order."""
    return list(_load(scenario, name))


def ami_received_chunks(scenario: str) -> list[bytes]:
    """The AMI bytes Asterisk sent, one item per recorded TCP read (real chunk boundaries)."""
    return [line.data.encode("utf-8") for line in _load(scenario, "ami") if line.direction == "recv"]


def ami_received_bytes(scenario: str) -> bytes:
    """The whole AMI stream Asterisk sent in the scenario, greeting line included, joined."""
    return b"".join(ami_received_chunks(scenario))


def ami_sent_frames(scenario: str) -> list[str]:
    """The AMI action frames the backend wrote, one string per frame ending in CRLF CRLF."""
    frames: list[str] = []
    for line in _load(scenario, "ami"):
        if line.direction != "send":
            continue
        for part in line.data.split("\r\n\r\n"):
            if part.strip():
                frames.append(part + "\r\n\r\n")
    return frames


def agi_lines(scenario: str, direction: str | None = None) -> list[TraceLine]:
    """The FastAGI lines of ``<scenario>/agi-1.jsonl``, optionally only ``recv`` or ``send`` ones."""
    return [line for line in _load(scenario, "agi-1") if direction is None or line.direction == direction]
