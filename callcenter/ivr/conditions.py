"""Evaluating the conditions of ``branch`` nodes against a call's state and the time."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from callcenter.ivr.model import Condition

__all__ = ["KYIV", "ConditionState", "ScheduleOracle", "holds"]

KYIV = ZoneInfo("Europe/Kyiv")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ScheduleOracle(Protocol):
    """Working hours and holidays of named schedules (``callcenter.acd.hours`` implements it)."""

    def is_open(self, schedule_name: str, at: dt.datetime) -> bool:
        """The schedule's line is staffed at this moment."""
        ...

    def is_holiday(self, schedule_name: str, at: dt.datetime) -> bool:
        """This moment falls on one of the schedule's holidays."""
        ...


@dataclass(frozen=True)
class ConditionState:
    """What a condition may look at."""

    now: dt.datetime
    language: str
    caller: str | None
    variables: Mapping[str, str]
    schedules: ScheduleOracle


def holds(condition: Condition, state: ConditionState) -> bool:
    """Whether a condition is true for this call now (local time is Europe/Kyiv)."""
    kind, args = condition.kind, condition.args
    if kind == "all":
        return all(holds(child, state) for child in condition.children)
    if kind == "any":
        return any(holds(child, state) for child in condition.children)
    if kind == "not":
        return not holds(condition.children[0], state)
    if kind == "open":
        return state.schedules.is_open(str(args["schedule"]), state.now)
    if kind == "holiday":
        return state.schedules.is_holiday(str(args["schedule"]), state.now)
    if kind == "language":
        return state.language in _strings(args["values"])
    caller_digits = "".join(ch for ch in state.caller or "" if ch.isdigit())
    if kind == "caller_prefix":
        return any(caller_digits.startswith(prefix) for prefix in _strings(args["values"]))
    if kind == "caller_anonymous":
        return (not caller_digits) == bool(args["value"])
    local = state.now.astimezone(KYIV)
    if kind == "dates":
        return str(args["from"]) <= local.date().isoformat() <= str(args["to"])
    if kind == "time":
        low, high, now_hm = str(args["from"]), str(args["to"]), local.strftime("%H:%M")
        # A range such as 20:00-08:00 runs over midnight.
        return low <= now_hm < high if low <= high else (now_hm >= low or now_hm < high)
    if kind == "weekdays":
        return _WEEKDAYS[local.weekday()] in _strings(args["values"])
    if kind == "variable":
        return _variable_holds(state.variables.get(str(args["name"])), str(args["test"]), args["arg"])
    raise ValueError(f"unknown condition kind {kind!r}")


def _variable_holds(value: str | None, test: str, arg: object) -> bool:
    if test == "set":
        return (value is not None and value != "") == bool(arg)
    if value is None:
        return False
    if test == "equals":
        return value == arg
    if test == "in":
        return value in _strings(arg)
    if test == "matches":
        return re.fullmatch(str(arg), value) is not None
    raise ValueError(f"unknown variable test {test!r}")


def _strings(values: object) -> tuple[str, ...]:
    return tuple(str(v) for v in values) if isinstance(values, tuple) else ()
