"""What the engine asks its driver to do, and what the driver answers.

The engine is a generator: it yields one command, the driver performs it on the channel and
sends back the matching result (``None`` for commands that have none). Timeouts are in
milliseconds, as Asterisk takes them.

| command         | result            |
|-----------------|-------------------|
| Play            | KeyPress          |
| WaitDigit       | KeyPress          |
| CollectDigits   | Digits            |
| Say             | None              |
| SetVariable     | None              |
| Lookup          | LookupResult      |
| Record          | Recording         |
| Queue           | QueueResult       |
| Transfer        | TransferResult    |
| Hangup          | None              |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ALL_KEYS",
    "CollectDigits",
    "Command",
    "Digits",
    "Hangup",
    "KeyPress",
    "Lookup",
    "LookupResult",
    "Play",
    "Prompt",
    "Queue",
    "QueueResult",
    "QueueStatus",
    "Record",
    "Recording",
    "Result",
    "Say",
    "SetVariable",
    "Transfer",
    "TransferResult",
    "WaitDigit",
]

#: Every key of a phone pad, in the order Asterisk's escape-digit strings use.
ALL_KEYS = "0123456789*#"

QueueStatus = Literal["answered", "no_agents", "closed", "callback_requested", "timeout"]


@dataclass(frozen=True)
class Prompt:
    """One piece of audio in a language: a recorded ``file`` if there is one, else ``text`` to synthesize."""

    language: str
    file: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class Play:
    """Play the prompts in order; with escape digits, a key press stops playback (result: KeyPress)."""

    prompts: tuple[Prompt, ...]
    interruptible: bool
    escape_digits: str = ""


@dataclass(frozen=True)
class WaitDigit:
    """Wait for one key press (result: KeyPress, digit None on timeout)."""

    timeout_ms: int


@dataclass(frozen=True)
class CollectDigits:
    """Play the prompts and collect up to ``max_digits`` keys ended by the terminator (result: Digits).

    ``initial`` holds a key already pressed during an earlier prompt; it is the first digit and
    the prompts are then skipped.
    """

    prompts: tuple[Prompt, ...]
    max_digits: int
    timeout_ms: int
    terminator: str = "#"
    initial: str = ""


@dataclass(frozen=True)
class Say:
    """Say ``value`` in the channel's language: ``digits`` (text of 0-9*#), ``number`` (an integer),
    ``date`` (epoch seconds)."""

    kind: Literal["digits", "number", "date"]
    value: str
    escape_digits: str = ""


@dataclass(frozen=True)
class SetVariable:
    """Set a channel variable on the call (``CHANNEL(language)`` switches Asterisk's prompts)."""

    name: str
    value: str


@dataclass(frozen=True)
class Lookup:
    """Ask the backend for data of a kind by key, e.g. ``appeal_status`` of ``123456`` (result: LookupResult)."""

    kind: str
    key: str


@dataclass(frozen=True)
class Record:
    """Record the caller (result: Recording). The driver picks the file name."""

    max_seconds: int
    silence_seconds: int | None
    beep: bool
    escape_digits: str = "#"
    purpose: str = "appeal"


@dataclass(frozen=True)
class Queue:
    """Hand the caller to the ACD and wait for it to give the call back (result: QueueResult)."""

    queue: str
    priority: int
    skills: tuple[str, ...]
    language: str
    topic: str | None = None
    #: the IVR nodes visited so far, for the agent's screen-pop card
    ivr_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Transfer:
    """Dial an outside number and bridge the caller to it (result: TransferResult)."""

    number: str
    timeout_s: int


@dataclass(frozen=True)
class Hangup:
    """End the call."""

    reason: str = "completed"


Command = Play | WaitDigit | CollectDigits | Say | SetVariable | Lookup | Record | Queue | Transfer | Hangup


@dataclass(frozen=True)
class KeyPress:
    """The key pressed, or None when none was (playback finished or the wait timed out)."""

    digit: str | None = None


@dataclass(frozen=True)
class Digits:
    """Keys collected (without the terminator); ``timed_out`` when the caller stopped typing."""

    digits: str
    timed_out: bool = False


@dataclass(frozen=True)
class LookupResult:
    """What a lookup found: ``values`` become ``<result>.<name>`` variables."""

    found: bool
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Recording:
    """A recorded message: the file written (None if nothing was recorded) and its length."""

    file: str | None
    duration_ms: int = 0


@dataclass(frozen=True)
class QueueResult:
    """How the ACD gave the call back; ``agent`` names who answered."""

    status: QueueStatus
    agent: str | None = None


@dataclass(frozen=True)
class TransferResult:
    """Asterisk's DIALSTATUS of the transfer: ANSWER, BUSY, NOANSWER, CHANUNAVAIL, CONGESTION, CANCEL."""

    status: str


Result = KeyPress | Digits | LookupResult | Recording | QueueResult | TransferResult | None
