"""Driving the engine without a phone: a scripted caller and fixed schedules.

Like httpx's ``MockTransport``: tests, the simulator and ``callcenter flows`` dry runs answer the
engine's commands from a script instead of a channel. Keys in ``ScriptedCaller.keys`` are used
in order by the commands that read keys:

* ``"1"`` is pressed after the prompts (answers WaitDigit, or CollectDigits as a whole string);
* ``"!1"`` is pressed during an interruptible prompt (answers Play);
* ``None`` (or ``""`` for CollectDigits) is silence: the wait times out.

A Play whose next key is not a ``!`` key plays to the end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from callcenter.ivr.commands import (
    CollectDigits,
    Command,
    Digits,
    Hangup,
    KeyPress,
    Lookup,
    LookupResult,
    Play,
    Queue,
    QueueResult,
    QueueStatus,
    Record,
    Recording,
    Result,
    Say,
    SetVariable,
    Transfer,
    TransferResult,
    WaitDigit,
)
from callcenter.ivr.engine import FlowRun, Outcome

__all__ = ["FixedSchedules", "ScriptError", "ScriptedCaller", "drive"]


class ScriptError(AssertionError):
    """The flow asked for more input than the script has."""


@dataclass
class FixedSchedules:
    """A schedule oracle whose answers do not depend on the time."""

    open: frozenset[str] = frozenset()
    holidays: frozenset[str] = frozenset()
    asked: list[tuple[str, str, dt.datetime]] = field(default_factory=list)

    def is_open(self, schedule_name: str, at: dt.datetime) -> bool:
        """Open if listed in ``open``."""
        self.asked.append(("open", schedule_name, at))
        return schedule_name in self.open

    def is_holiday(self, schedule_name: str, at: dt.datetime) -> bool:
        """A holiday if listed in ``holidays``."""
        self.asked.append(("holiday", schedule_name, at))
        return schedule_name in self.holidays


@dataclass
class ScriptedCaller:
    """Answers commands like a caller and the backend would, from a script."""

    keys: list[str | None] = field(default_factory=list)
    lookups: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)
    queue_results: list[QueueStatus] = field(default_factory=list)
    transfer_results: list[str] = field(default_factory=list)
    recording: Recording = field(default_factory=lambda: Recording("/recordings/ivr-1.wav", 12_000))

    def _key(self, command: Command) -> str | None:
        if not self.keys:
            raise ScriptError(f"the script has no key left for {command!r}")
        return self.keys.pop(0)

    def __call__(self, command: Command) -> Result:
        if isinstance(command, Play):
            if command.escape_digits and self.keys and (self.keys[0] or "").startswith("!"):
                key = self._key(command) or ""
                return KeyPress(key[1:])
            return KeyPress(None)
        if isinstance(command, WaitDigit):
            return KeyPress(self._key(command))
        if isinstance(command, CollectDigits):
            typed = self._key(command) or ""
            return Digits(command.initial + typed, timed_out=not typed)
        if isinstance(command, Lookup):
            values = self.lookups.get((command.kind, command.key))
            return LookupResult(values is not None, values or {})
        if isinstance(command, Record):
            return self.recording
        if isinstance(command, Queue):
            if not self.queue_results:
                raise ScriptError(f"the script has no queue result for {command!r}")
            return QueueResult(self.queue_results.pop(0), agent="op101")
        if isinstance(command, Transfer):
            if not self.transfer_results:
                raise ScriptError(f"the script has no transfer result for {command!r}")
            return TransferResult(self.transfer_results.pop(0))
        if isinstance(command, Say | SetVariable | Hangup):
            return None
        raise ScriptError(f"unexpected command {command!r}")


def drive(run: FlowRun, respond: Callable[[Command], Result]) -> tuple[list[Command], Outcome]:
    """Run a flow to its end, answering every command with ``respond``."""
    commands: list[Command] = []
    steps = run.commands()
    try:
        command = next(steps)
        while True:
            commands.append(command)
            command = steps.send(respond(command))
    except StopIteration as stop:
        outcome: Outcome = stop.value
        return commands, outcome
