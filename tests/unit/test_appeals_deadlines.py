"""Deadline arithmetic for appeals: Kyiv dates, month ends, leap years, DST, off days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.appeals.deadlines import (
    KYIV,
    DeadlinePolicy,
    OffDayRule,
    add_months,
    consideration_due,
    defect_return_due,
    end_of_day,
    forward_due,
    kyiv_date,
    max_extended_due,
    past_term,
)


def test_prompt_term_is_fifteen_calendar_days() -> None:
    """Without extra study the term ends 15 calendar days after receipt, weekends included."""
    assert consideration_due(date(2026, 3, 2), requires_study=False) == date(2026, 3, 17)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 1, 31), date(2026, 2, 28)),  # clamped to the end of a 28-day February
        (date(2028, 1, 31), date(2028, 2, 29)),  # leap year
        (date(2028, 1, 29), date(2028, 2, 29)),
        (date(2027, 1, 29), date(2027, 2, 28)),
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 12, 31), date(2027, 1, 31)),  # across the year end
        (date(2028, 2, 29), date(2028, 3, 29)),
        (date(2026, 5, 15), date(2026, 6, 15)),
    ],
)
def test_study_term_is_one_month_clamped_to_month_end(received: date, due: date) -> None:
    """With extra study the term is the same day next month, clamped to that month's last day."""
    assert consideration_due(received, requires_study=True) == due


def test_add_months_handles_many_months_and_years() -> None:
    """add_months walks across years and clamps the day."""
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 30), 14) == date(2028, 1, 30)


def test_forward_defect_and_extension_limits() -> None:
    """Forwarding is due in 5 days, a defect return in 10, and no extension past 45 days."""
    received = date(2028, 2, 20)
    assert forward_due(received) == date(2028, 2, 25)
    assert defect_return_due(received) == date(2028, 3, 1)  # 2028 has 29 February
    assert max_extended_due(received) == date(2028, 4, 5)


def test_kyiv_date_near_midnight_differs_from_utc_date() -> None:
    """A call at 23:30 Kyiv is on that Kyiv day though UTC is still on the previous evening's date."""
    late_kyiv = datetime(2026, 6, 30, 21, 30, tzinfo=UTC)  # 00:30 on 1 July in Kyiv (UTC+3)
    assert kyiv_date(late_kyiv) == date(2026, 7, 1)
    before_midnight = datetime(2026, 1, 15, 21, 59, tzinfo=UTC)  # 23:59 Kyiv (UTC+2)
    assert kyiv_date(before_midnight) == date(2026, 1, 15)
    assert kyiv_date(before_midnight + timedelta(minutes=1)) == date(2026, 1, 16)


def test_naive_datetime_is_refused() -> None:
    """Deadline arithmetic refuses naive datetimes rather than guessing their zone."""
    with pytest.raises(ValueError, match="naive"):
        kyiv_date(datetime(2026, 1, 1, 12, 0))


def test_end_of_day_is_kyiv_midnight_across_dst_changes() -> None:
    """A term ends at the next Kyiv midnight, with the right UTC offset on both sides of DST."""
    # 29 March 2026 is the last Sunday of March: clocks go 03:00 → 04:00, so the day has 23 hours.
    spring = end_of_day(date(2026, 3, 28))
    assert spring.astimezone(UTC) == datetime(2026, 3, 28, 22, 0, tzinfo=UTC)
    after_spring = end_of_day(date(2026, 3, 29))
    assert after_spring.astimezone(UTC) == datetime(2026, 3, 29, 21, 0, tzinfo=UTC)
    assert after_spring - spring == timedelta(hours=23)
    # 25 October 2026 is the last Sunday of October: 04:00 → 03:00, a 25-hour day.
    autumn_start = end_of_day(date(2026, 10, 24))
    autumn_end = end_of_day(date(2026, 10, 25))
    assert autumn_start.astimezone(UTC) == datetime(2026, 10, 24, 21, 0, tzinfo=UTC)
    assert autumn_end - autumn_start == timedelta(hours=25)


def test_registration_during_dst_change_counts_kyiv_days() -> None:
    """A call in the skipped or repeated hour still gets the plain calendar-day term."""
    in_spring_gap = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 04:30 EEST, just after the jump
    assert kyiv_date(in_spring_gap) == date(2026, 3, 29)
    assert consideration_due(kyiv_date(in_spring_gap), requires_study=False) == date(2026, 4, 13)
    repeated_hour = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 03:30 EEST, first pass
    assert kyiv_date(repeated_hour) == date(2026, 10, 25)
    assert consideration_due(date(2026, 10, 25), requires_study=True) == date(2026, 11, 25)


def test_past_term_switches_exactly_at_kyiv_midnight() -> None:
    """An appeal is overdue from the first instant after its last Kyiv day, not a moment before."""
    last_day = date(2026, 10, 25)
    end = end_of_day(last_day)  # 2026-10-26 00:00 Kyiv = 2026-10-25 22:00 UTC (winter time)
    assert end.astimezone(UTC) == datetime(2026, 10, 25, 22, 0, tzinfo=UTC)
    assert not past_term(last_day, end - timedelta(microseconds=1))
    assert past_term(last_day, end)
    assert not past_term(None, end)


def test_off_day_rule_next_working_day_moves_weekend_and_holiday_ends() -> None:
    """With the next-working-day rule a term ending on a Saturday or holiday moves forward."""
    policy = DeadlinePolicy(off_day_rule=OffDayRule.NEXT_WORKING_DAY, holidays=frozenset({date(2026, 3, 23)}))
    # 6 March + 15 days = Saturday 21 March → Monday 23 March is a holiday → Tuesday 24 March.
    assert consideration_due(date(2026, 3, 6), requires_study=False, policy=policy) == date(2026, 3, 24)
    # The default keeps the calendar day.
    assert consideration_due(date(2026, 3, 6), requires_study=False) == date(2026, 3, 21)


def test_with_holidays_adds_days_off_without_touching_the_original() -> None:
    """with_holidays returns a new policy; the original keeps its holiday list."""
    base = DeadlinePolicy(off_day_rule=OffDayRule.NEXT_WORKING_DAY)
    extended = base.with_holidays([date(2026, 8, 24)])
    assert extended.is_day_off(date(2026, 8, 24)) and not base.is_day_off(date(2026, 8, 24))
    assert extended.settle(date(2026, 8, 22)) == date(2026, 8, 25)  # Sat, Sun, holiday Mon


def test_kyiv_zone_is_europe_kyiv() -> None:
    """Deadlines use the Europe/Kyiv zone."""
    assert str(KYIV) == "Europe/Kyiv"


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)), st.integers(1, 24))
def test_add_months_lands_in_the_right_month_never_past_the_day(day: date, months: int) -> None:
    """Adding months moves exactly that many calendar months and never past the original day."""
    result = add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    assert result.day <= day.day
    assert (
        result.day == day.day or (result + timedelta(days=1)).month != result.month
    )  # clamped only at month end


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_term_ends_at_kyiv_midnight_for_any_instant(now: datetime) -> None:
    """For any instant, its Kyiv day has not passed yet, and it has passed at the day's end."""
    today = kyiv_date(now)
    assert not past_term(today, now)
    end = end_of_day(today)
    assert past_term(today, end) and end.astimezone(KYIV).time() == datetime.min.time()
    assert (
        timedelta(hours=23)
        <= end - datetime.combine(today, datetime.min.time(), tzinfo=KYIV)
        <= timedelta(hours=25)
    )
