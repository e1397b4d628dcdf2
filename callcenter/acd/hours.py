"""Working hours: weekly schedules in Europe/Kyiv, Ukrainian public holidays, local overrides.

A ``Schedule`` is a set of wall-clock intervals per weekday ("08:00"–"17:00"; "24:00" ends a
day). Comparing wall-clock times in the schedule's zone is what keeps DST harmless: on the last
Sunday of March 08:00 is still 08:00, and the hour that does not exist (03:00–04:00) or repeats
(in October) falls inside or outside an interval exactly as a clock on the wall says.

For a date the rules apply in this order:

1. an ``open_days`` entry of the schedule (extra working day or special hours) wins;
2. a ``closed_days`` entry of the schedule closes it;
3. a holiday closes it if the schedule has ``closed_on_holidays``;
4. otherwise the weekly intervals of that weekday.

Holidays are the ``holidays`` library's Ukrainian calendar (categories chosen in
``queue/hours.yaml``) plus the local holidays listed there. Under martial law (Law 2136-IX,
since 24 February 2022) public holidays are working days and a holiday falling on a weekend is
not moved to Monday; the library follows this: from 2023 on its ``public`` category for UA is
empty and the nominal holidays are in the ``workday`` category. A center that still closes on
those days lists ``workday`` among the categories.

``ScheduleBook`` implements the ``ScheduleOracle`` protocol the IVR engine and the router use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays

from callcenter.errors import ValidationError

__all__ = ["Interval", "Schedule", "ScheduleBook", "ScheduleOracle"]

_DAY_END = 24 * 60


class ScheduleOracle(Protocol):
    """Answers "is this schedule open / is this a holiday" for an aware datetime."""

    def is_open(self, schedule_name: str, at: datetime) -> bool:
        """True if the schedule is open at ``at``."""
        ...

    def is_holiday(self, schedule_name: str, at: datetime) -> bool:
        """True if ``at`` falls on a holiday of the schedule's calendar."""
        ...


@dataclass(frozen=True, order=True)
class Interval:
    """Wall-clock minutes since midnight, ``start`` included and ``end`` excluded."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> Interval:
        """Parse ``"08:00-17:00"`` (``"24:00"`` is allowed as an end)."""
        try:
            a, b = (part.strip() for part in text.split("-"))
            start, end = _minutes(a), _minutes(b)
        except ValueError as exc:
            raise ValidationError(f"bad interval {text!r}: expected HH:MM-HH:MM") from exc
        if not 0 <= start < end <= _DAY_END:
            raise ValidationError(f"bad interval {text!r}: start must be before end")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    if len(minutes) != 2 or not hours.isdigit() or not minutes.isdigit():
        raise ValueError(text)
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > _DAY_END:
        raise ValueError(text)
    return value


@dataclass(frozen=True)
class Schedule:
    """Weekly opening intervals (Monday = 0) with per-date overrides."""

    name: str
    weekly: Mapping[int, tuple[Interval, ...]]
    closed_on_holidays: bool = True
    closed_days: frozenset[date] = frozenset()
    open_days: Mapping[date, tuple[Interval, ...]] = field(default_factory=dict)
    title: str = ""


class ScheduleBook:
    """Named schedules sharing one time zone and one holiday calendar."""

    def __init__(
        self,
        schedules: Mapping[str, Schedule],
        *,
        tz: str = "Europe/Kyiv",
        country: str | None = "UA",
        categories: tuple[str, ...] = ("public",),
        local_holidays: Mapping[date, str] | None = None,
    ) -> None:
        self.schedules = dict(schedules)
        self.tz = ZoneInfo(tz)
        self.country = country
        self.categories = categories
        self.local_holidays = dict(local_holidays or {})
        self._years: dict[int, dict[date, str]] = {}

    def schedule(self, name: str) -> Schedule:
        """The named schedule; ``ValidationError`` if there is none."""
        try:
            return self.schedules[name]
        except KeyError:
            raise ValidationError(f"unknown schedule {name!r}", field="schedule") from None

    def holiday_name(self, day: date) -> str | None:
        """The holiday's name on ``day`` (local holidays first), or None."""
        if day in self.local_holidays:
            return self.local_holidays[day]
        return self._calendar(day.year).get(day)

    def _calendar(self, year: int) -> dict[date, str]:
        cal = self._years.get(year)
        if cal is None:
            cal = {}
            if self.country is not None:
                found = holidays.country_holidays(self.country, years=year, categories=self.categories)
                cal = {d: str(n) for d, n in found.items()}
            self._years[year] = cal
        return cal

    def _local(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValidationError("a schedule needs an aware datetime", field="at")
        return at.astimezone(self.tz)

    def intervals(self, name: str, day: date) -> tuple[Interval, ...]:
        """The opening intervals of ``day`` after overrides and holidays."""
        sched = self.schedule(name)
        if day in sched.open_days:
            return sched.open_days[day]
        if day in sched.closed_days:
            return ()
        if sched.closed_on_holidays and self.holiday_name(day) is not None:
            return ()
        return sched.weekly.get(day.weekday(), ())

    def is_open(self, schedule_name: str, at: datetime) -> bool:
        """True if the schedule is open at ``at`` (an aware datetime, any zone)."""
        local = self._local(at)
        minute = local.hour * 60 + local.minute
        return any(iv.start <= minute < iv.end for iv in self.intervals(schedule_name, local.date()))

    def is_holiday(self, schedule_name: str, at: datetime) -> bool:
        """True if ``at`` is on a holiday of the calendar (whether the schedule closes or not)."""
        self.schedule(schedule_name)
        return self.holiday_name(self._local(at).date()) is not None

    def next_open(self, schedule_name: str, at: datetime) -> datetime | None:
        """The first moment at or after ``at`` when the schedule is open (None within a year)."""
        local = self._local(at)
        day, minute = local.date(), local.hour * 60 + local.minute
        for offset in range(400):
            current = day + timedelta(days=offset)
            for iv in sorted(self.intervals(schedule_name, current)):
                if offset == 0 and iv.end <= minute:
                    continue
                if offset == 0 and iv.start <= minute:
                    return at
                return _aware(current, iv.start, self.tz)
        return None


def _aware(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """Local wall time as an aware datetime; a time inside the spring DST gap moves forward."""
    if minute >= _DAY_END:
        return _aware(day + timedelta(days=1), 0, tz)
    naive = datetime.combine(day, time(minute // 60, minute % 60))
    aware = naive.replace(tzinfo=tz)
    # A non-existent wall time does not survive a round trip through UTC; fold=0 then maps it
    # with the pre-transition offset, which lands just after the gap — the first open moment.
    return aware.astimezone(UTC).astimezone(tz)
