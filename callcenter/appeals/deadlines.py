"""Legal terms of an appeal under the Law "Про звернення громадян" (Art. 7, 20), in Europe/Kyiv.

How days are counted (DOMAIN.md §4):

* T0 is the Kyiv calendar date the appeal was received (the call's arrival), whatever the UTC
  date was: a call at 23:30 Kyiv belongs to that Kyiv day.
* Terms are calendar days, weekends included: ``T0 + 15 days`` when no extra study is needed,
  otherwise ``T0 + 1 month``, where a month is the same day of the next month, clamped to that
  month's last day (31 January → 28 or 29 February).
* Forwarding to the competent body (or returning for insufficient data): ``T0 + 5 days``.
  Returning for a formal defect: ``T0 + 10 days``. An extension may not go past ``T0 + 45 days``.
* The law is silent on a term that ends on a day off, so ``OffDayRule`` makes it a setting:
  keep the day (the default, as the calendar-day reading suggests), or move to the next working
  day (as the Civil Code's Art. 254 does for civil terms).
* A term ends when its last Kyiv day ends: the record is overdue from the following Kyiv
  midnight, so DST changes never shorten or stretch a term by an hour.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "DEFAULT_POLICY",
    "KYIV",
    "DeadlinePolicy",
    "OffDayRule",
    "add_months",
    "consideration_due",
    "defect_return_due",
    "end_of_day",
    "forward_due",
    "kyiv_date",
    "max_extended_due",
    "past_term",
]

KYIV = ZoneInfo("Europe/Kyiv")


class OffDayRule(enum.StrEnum):
    """What happens to a term whose last day is a day off."""

    KEEP = "keep"
    NEXT_WORKING_DAY = "next_working_day"


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    """The numbers of the law plus the local choices the law leaves open."""

    prompt_days: int = 15  # "promptly, no later than 15 days" when no extra study is needed
    study_months: int = 1  # "no more than one month"
    forward_days: int = 5  # Art. 7: forward to the competent body / return for missing data
    defect_return_days: int = 10  # Art. 5: return a defective appeal with an explanation
    max_total_days: int = 45  # Art. 20: the extended term in total
    off_day_rule: OffDayRule = OffDayRule.KEEP
    weekend_days: frozenset[int] = frozenset({5, 6})  # Saturday, Sunday (date.weekday())
    holidays: frozenset[date] = field(default_factory=frozenset)  # extra days off

    def is_day_off(self, day: date) -> bool:
        """True when ``day`` is a weekend day or a listed holiday."""
        return day.weekday() in self.weekend_days or day in self.holidays

    def settle(self, day: date) -> date:
        """Apply the off-day rule to a computed last day of a term."""
        if self.off_day_rule is OffDayRule.KEEP:
            return day
        # A year of consecutive days off cannot happen; the bound guards a bad holiday list.
        for _ in range(366):
            if not self.is_day_off(day):
                return day
            day += timedelta(days=1)
        raise ValueError("no working day within a year: check the holiday list")

    def with_holidays(self, days: Iterable[date]) -> DeadlinePolicy:
        """A copy of this policy with ``days`` added to the days off."""
        return DeadlinePolicy(
            prompt_days=self.prompt_days,
            study_months=self.study_months,
            forward_days=self.forward_days,
            defect_return_days=self.defect_return_days,
            max_total_days=self.max_total_days,
            off_day_rule=self.off_day_rule,
            weekend_days=self.weekend_days,
            holidays=self.holidays | frozenset(days),
        )


DEFAULT_POLICY = DeadlinePolicy()


def kyiv_date(at: datetime) -> date:
    """The Kyiv calendar date of an aware instant; naive datetimes are refused."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a naive datetime has no place in deadline arithmetic; pass an aware one")
    return at.astimezone(KYIV).date()


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the last day of the target month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def end_of_day(day: date) -> datetime:
    """The instant a Kyiv calendar day ends (the next Kyiv midnight), as an aware UTC datetime.

    Returned in UTC because Python compares and subtracts two datetimes that share a tzinfo by
    their wall-clock times, which is an hour off across a DST change.
    """
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=KYIV).astimezone(UTC)


def consideration_due(
    received_on: date, *, requires_study: bool, policy: DeadlinePolicy = DEFAULT_POLICY
) -> date:
    """The last day of the consideration term: 15 days, or one month if study is needed."""
    if requires_study:
        return policy.settle(add_months(received_on, policy.study_months))
    return policy.settle(received_on + timedelta(days=policy.prompt_days))


def forward_due(received_on: date, policy: DeadlinePolicy = DEFAULT_POLICY) -> date:
    """The last day to forward an appeal to the competent body (Art. 7)."""
    return policy.settle(received_on + timedelta(days=policy.forward_days))


def defect_return_due(received_on: date, policy: DeadlinePolicy = DEFAULT_POLICY) -> date:
    """The last day to return a defective appeal with an explanation (Art. 5)."""
    return policy.settle(received_on + timedelta(days=policy.defect_return_days))


def max_extended_due(received_on: date, policy: DeadlinePolicy = DEFAULT_POLICY) -> date:
    """The latest day an extended term may end on (45 days in total)."""
    return policy.settle(received_on + timedelta(days=policy.max_total_days))


def past_term(last_day: date | None, now: datetime) -> bool:
    """True once ``now`` is after the end of the Kyiv day ``last_day`` (no term: never)."""
    if last_day is None:
        return False
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    return now >= end_of_day(last_day)
