"""The one definition of every queue KPI, shared by the live wallboard and the reports (pure).

Both sides feed the same counters: the live side adds calls one by one to a ``KpiAccumulator``
as they finish; the report side sums rollup columns in SQL and builds a ``KpiCounters`` from the
sums.  Every ratio is then computed by the same properties, so a wallboard figure and a report
figure over the same calls are equal by construction.  The definitions, and why they were
chosen over app_queue's SL/SL2, Wazo's QoS and Amazon Connect's "service level X", are written
down in ``docs/kpi.md``; the short form:

* **offered**: a caller entered the queue (one per queue stint; one per call in the overall row).
* **short abandon**: the caller hung up in the queue after waiting less than ``SHORT_ABANDON_S``
  (5 s): a misdial or an instant change of mind, not a caller the line failed.
* **abandoned**: hung up in the queue after waiting at least ``SHORT_ABANDON_S``.
* **answered within target**: answered after waiting ``<= target_s`` (app_queue compares with
  ``<=`` too).
* **SL** = answered within target / (answered + abandoned + overflowed).  Short abandons,
  callbacks and stints moved to another queue are left out of the denominator.
* **ASA** = Σ wait of answered calls / answered.   **AHT** = Σ (talk + hold + wrap-up) / answered.
* **abandon rate** = abandoned / (offered − short abandons − moved).
* **occupancy** = agent-seconds handling calls / staffed agent-seconds (logged in, not paused;
  wrap-up counts as handling, not as a pause).

A ratio with an empty denominator is ``None`` ("no data"), never 0 or 100 %: a quiet night is not
a perfect night.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "DEFAULT_TARGET_S",
    "SHORT_ABANDON_S",
    "KpiAccumulator",
    "KpiCounters",
    "StintOutcome",
    "answered_within_target",
    "is_short_abandon",
]

# Hang-ups in the queue quicker than this are short abandons (the common industry threshold).
SHORT_ABANDON_S = 5.0
# The service-level answer target when a queue sets none: the classic 80/20 goal's 20 s.
DEFAULT_TARGET_S = 20.0


class StintOutcome(enum.StrEnum):
    """How one stay in one queue ended."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"  # caller hung up after >= SHORT_ABANDON_S
    SHORT_ABANDON = "short_abandon"  # caller hung up after < SHORT_ABANDON_S
    CALLBACK = "callback"  # caller asked to be called back, keeping the place
    OVERFLOW = "overflow"  # sent elsewhere by the queue (timeout, full, no agents, exit key)
    MOVED = "moved"  # moved on to another queue (multi-stint call)


def is_short_abandon(wait_s: float) -> bool:
    """Whether a hang-up after ``wait_s`` in the queue is a short abandon."""
    return wait_s < SHORT_ABANDON_S


def answered_within_target(wait_s: float, target_s: float) -> bool:
    """Whether an answer after ``wait_s`` meets the target (inclusive, as app_queue does)."""
    return wait_s <= target_s


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


@dataclass(frozen=True, slots=True)
class KpiCounters:
    """Additive counters for one scope (a queue or the whole line) over some span of time.

    Every field is a plain sum except ``longest_wait_s`` (a maximum), so counters from intervals,
    queues or servers merge by ``+``.  Field names are also the rollup table's column names.
    """

    calls: int = 0  # demand: calls arriving (per queue: offered + after-hours calls meant for it)
    offered: int = 0
    offered_closed: int = 0  # offered while the queue's schedule said closed
    answered: int = 0
    answered_in_target: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    callbacks: int = 0
    overflowed: int = 0
    moved: int = 0
    abandoned_ivr: int = 0
    ivr_completed: int = 0
    after_hours: int = 0
    survival: int = 0
    transferred: int = 0
    wait_answered_s: float = 0.0
    wait_abandoned_s: float = 0.0
    longest_wait_s: float = 0.0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrap_s: float = 0.0
    staffed_s: float = 0.0  # agent-seconds logged in and not paused (wrap-up is not a pause)
    handling_s: float = 0.0  # agent-seconds talking, holding or in wrap-up

    def __add__(self, other: KpiCounters) -> KpiCounters:
        values: dict[str, Any] = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            values[f.name] = max(a, b) if f.name == "longest_wait_s" else a + b
        return KpiCounters(**values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, float | None]) -> KpiCounters:
        """Counters from a name → number mapping (e.g. a row of SQL sums); missing/NULL count as 0."""
        converted: dict[str, Any] = {}
        for f in fields(cls):
            raw = values.get(f.name)
            number = 0 if raw is None else raw
            converted[f.name] = int(number) if f.name in _INT_FIELDS else float(number)
        return cls(**converted)

    @classmethod
    def column_names(cls) -> tuple[str, ...]:
        """The counter names, in declaration order (the rollup table uses the same names)."""
        return tuple(f.name for f in fields(cls))

    @property
    def sl_denominator(self) -> int:
        """Calls that count for the service level: answered, abandoned (not short) or overflowed."""
        return self.answered + self.abandoned + self.overflowed

    @property
    def service_level(self) -> float | None:
        """Answered within target / (answered + abandoned + overflowed); None without such calls."""
        return _ratio(self.answered_in_target, self.sl_denominator)

    @property
    def asa_s(self) -> float | None:
        """Average speed of answer: mean wait of answered calls, in seconds."""
        return _ratio(self.wait_answered_s, self.answered)

    @property
    def aht_s(self) -> float | None:
        """Average handle time: (talk + hold + wrap-up) / answered, in seconds."""
        return _ratio(self.talk_s + self.hold_s + self.wrap_s, self.answered)

    @property
    def abandon_rate(self) -> float | None:
        """Abandoned / (offered − short abandons − moved on)."""
        return _ratio(self.abandoned, self.offered - self.short_abandoned - self.moved)

    @property
    def answer_rate(self) -> float | None:
        """Answered / (offered − short abandons − moved on)."""
        return _ratio(self.answered, self.offered - self.short_abandoned - self.moved)

    @property
    def occupancy(self) -> float | None:
        """Handling agent-seconds / staffed agent-seconds (may exceed 1 if pauses are misused)."""
        return _ratio(self.handling_s, self.staffed_s)


@dataclass(slots=True)
class KpiAccumulator:
    """Running totals the live side feeds call by call; ``snapshot()`` gives ``KpiCounters``.

    ``add_stint`` records one queue stay as it ends; ``add_handling`` the agent's work on an
    answered call once wrap-up ends; ``add_staffed`` staffed agent time as it accrues.
    """

    _values: dict[str, float] = field(default_factory=lambda: dict.fromkeys(KpiCounters.column_names(), 0))

    def add(self, name: str, amount: float = 1) -> None:
        """Add ``amount`` to the counter ``name`` (``longest_wait_s`` keeps the maximum)."""
        if name not in self._values:
            raise KeyError(f"unknown KPI counter {name!r}")
        if name == "longest_wait_s":
            self._values[name] = max(self._values[name], amount)
        else:
            self._values[name] += amount

    def add_stint(self, outcome: StintOutcome, wait_s: float, target_s: float = DEFAULT_TARGET_S) -> None:
        """Count one queue stay that ended with ``outcome`` after ``wait_s`` in the queue."""
        self.add("offered")
        self.add("longest_wait_s", wait_s)
        if outcome is StintOutcome.ANSWERED:
            self.add("answered")
            self.add("wait_answered_s", wait_s)
            if answered_within_target(wait_s, target_s):
                self.add("answered_in_target")
        elif outcome is StintOutcome.ABANDONED:
            self.add("abandoned")
            self.add("wait_abandoned_s", wait_s)
        elif outcome is StintOutcome.SHORT_ABANDON:
            self.add("short_abandoned")
        elif outcome is StintOutcome.CALLBACK:
            self.add("callbacks")
        elif outcome is StintOutcome.OVERFLOW:
            self.add("overflowed")
        else:
            self.add("moved")

    def add_call(
        self,
        outcome: StintOutcome | None,
        wait_s: float = 0.0,
        target_s: float = DEFAULT_TARGET_S,
        *,
        talk_s: float = 0.0,
        hold_s: float = 0.0,
        wrap_s: float = 0.0,
    ) -> None:
        """Count one finished call: demand, its queue outcome (None if it never queued), handling.

        This is what the wallboard calls per finished call; ``rollup.call_contributions`` does
        the same per interval for reports, with the call-level outcome mapped the same way.
        """
        self.add("calls")
        if outcome is not None:
            self.add_stint(outcome, wait_s, target_s)
            if outcome is StintOutcome.ANSWERED:
                self.add_handling(talk_s, hold_s, wrap_s)

    def add_handling(self, talk_s: float, hold_s: float, wrap_s: float) -> None:
        """Count an answered call's talk, hold and wrap-up time toward AHT."""
        self.add("talk_s", talk_s)
        self.add("hold_s", hold_s)
        self.add("wrap_s", wrap_s)

    def add_staffed(self, staffed_s: float, handling_s: float = 0.0) -> None:
        """Count staffed agent-seconds and, of those, the seconds spent handling calls."""
        self.add("staffed_s", staffed_s)
        self.add("handling_s", handling_s)

    def merge(self, other: KpiAccumulator | KpiCounters) -> None:
        """Fold another accumulator's (or counters') totals into this one."""
        counters = other.snapshot() if isinstance(other, KpiAccumulator) else other
        for name in KpiCounters.column_names():
            self.add(name, getattr(counters, name))

    def snapshot(self) -> KpiCounters:
        """The current totals as immutable counters (with every KPI as a property)."""
        return KpiCounters.from_mapping(self._values)


_INT_FIELDS = frozenset(f.name for f in fields(KpiCounters) if f.type in ("int", int))
