"""Working hours: weekly intervals in Europe/Kyiv, DST, Ukrainian holidays and martial law, overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from callcenter.acd.hours import Interval, Schedule, ScheduleBook, ScheduleOracle
from callcenter.errors import ValidationError
from callcenter.ivr.conditions import ScheduleOracle as IvrScheduleOracle

KYIV = ZoneInfo("Europe/Kyiv")
OFFICE = Interval.parse("08:00-17:00")


def book(**kw: object) -> ScheduleBook:
    office = Schedule(
        name="office",
        weekly={d: (OFFICE,) for d in range(5)},
        closed_days=frozenset({date(2026, 12, 31)}),
        open_days={date(2026, 12, 26): (Interval.parse("09:00-13:00"),)},
    )
    always = Schedule(name="always", weekly={d: (Interval.parse("00:00-24:00"),) for d in range(7)},
                      closed_on_holidays=False)  # fmt: skip
    return ScheduleBook({"office": office, "always": always}, **kw)  # type: ignore[arg-type]


def kyiv(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=KYIV)


def test_weekday_hours_are_open_and_evenings_and_weekends_closed() -> None:
    """Mon–Fri 08:00–17:00 is open at 08:00 and 16:59, closed at 17:00, 07:59 and on Saturday."""
    b = book()
    assert b.is_open("office", kyiv(2026, 11, 23, 8, 0))  # Monday
    assert b.is_open("office", kyiv(2026, 11, 27, 16, 59))  # Friday
    assert not b.is_open("office", kyiv(2026, 11, 27, 17, 0))
    assert not b.is_open("office", kyiv(2026, 11, 23, 7, 59))
    assert not b.is_open("office", kyiv(2026, 11, 28, 12, 0))  # Saturday
    assert b.is_open("always", kyiv(2026, 11, 28, 3, 0))


def test_times_in_other_zones_are_converted_to_kyiv() -> None:
    """An aware UTC time is judged by Kyiv wall-clock time (UTC+2 in winter, UTC+3 in summer)."""
    b = book()
    assert b.is_open("office", datetime(2026, 11, 23, 6, 0, tzinfo=UTC))  # 08:00 Kyiv
    assert not b.is_open("office", datetime(2026, 7, 6, 4, 59, tzinfo=UTC))  # 07:59 Kyiv (EEST)
    assert b.is_open("office", datetime(2026, 7, 6, 5, 0, tzinfo=UTC))
    with pytest.raises(ValidationError):
        b.is_open("office", datetime(2026, 7, 6, 5, 0))


def test_dst_transitions_do_not_shift_the_hours() -> None:
    """On the Mondays after the spring and autumn clock changes the office still opens at 08:00 local."""
    b = book()
    # 2026: clocks go forward on 29 March and back on 25 October (last Sundays).
    for day in (date(2026, 3, 30), date(2026, 10, 26)):
        assert b.next_open("office", kyiv(day.year, day.month, day.day - 1, 12, 0)) == kyiv(
            day.year, day.month, day.day, 8, 0
        )
    # A 24/7 line is open through the non-existent and the repeated hour.
    assert b.is_open("always", datetime(2026, 3, 29, 1, 30, tzinfo=UTC))  # 04:30 EEST
    assert b.is_open("always", datetime(2026, 10, 25, 0, 30, tzinfo=UTC))  # 03:30 EEST (first)
    assert b.is_open("always", datetime(2026, 10, 25, 1, 30, tzinfo=UTC))  # 03:30 EET (second)


def test_public_holiday_closes_the_office_before_martial_law() -> None:
    """In 2021 Independence Day (24 Aug, a Tuesday) closes an office schedule; a 24/7 line stays open."""
    b = book()
    assert b.is_holiday("office", kyiv(2021, 8, 24, 10, 0))
    assert not b.is_open("office", kyiv(2021, 8, 24, 10, 0))
    assert b.is_open("always", kyiv(2021, 8, 24, 10, 0))
    # Before martial law a weekend holiday moved to Monday: 1 May 2021 (Saturday) → Monday 3 May.
    assert not b.is_open("office", kyiv(2021, 5, 3, 10, 0))


def test_martial_law_holidays_are_working_days() -> None:
    """Under martial law Independence Day 2026 (a Monday) is a working day unless the center opts in."""
    b = book()
    assert not b.is_holiday("office", kyiv(2026, 8, 24, 10, 0))
    assert b.is_open("office", kyiv(2026, 8, 24, 10, 0))
    nominal = book(categories=("public", "workday"))
    assert nominal.is_holiday("office", kyiv(2026, 8, 24, 10, 0))
    assert not nominal.is_open("office", kyiv(2026, 8, 24, 10, 0))


def test_local_overrides() -> None:
    """A closed day, an extra open Saturday and a local holiday override the weekly hours."""
    b = book(local_holidays={date(2026, 11, 25): "День міста"})
    assert not b.is_open("office", kyiv(2026, 12, 31, 10, 0))  # Thursday, closed by override
    assert b.is_open("office", kyiv(2026, 12, 26, 10, 0))  # Saturday duty 09–13
    assert not b.is_open("office", kyiv(2026, 12, 26, 13, 0))
    assert b.is_holiday("office", kyiv(2026, 11, 25, 10, 0))
    assert not b.is_open("office", kyiv(2026, 11, 25, 10, 0))
    assert b.is_open("always", kyiv(2026, 11, 25, 10, 0))


def test_next_open() -> None:
    """next_open gives now when open, else the next opening, skipping weekends and closed days."""
    b = book()
    assert b.next_open("office", kyiv(2026, 11, 23, 9, 0)) == kyiv(2026, 11, 23, 9, 0)
    assert b.next_open("office", kyiv(2026, 11, 27, 18, 0)) == kyiv(2026, 11, 30, 8, 0)
    assert b.next_open("office", kyiv(2026, 12, 30, 17, 30)) == kyiv(2027, 1, 1, 8, 0)
    never = ScheduleBook({"never": Schedule(name="never", weekly={})})
    assert never.next_open("never", kyiv(2026, 1, 1, 0, 0)) is None


def test_schedule_book_is_a_schedule_oracle() -> None:
    """ScheduleBook satisfies both the ACD and the IVR engine's ScheduleOracle protocols."""
    oracle: ScheduleOracle = book()
    ivr_oracle: IvrScheduleOracle = book()  # the protocol the IVR engine declares
    assert oracle.is_open("always", kyiv(2026, 1, 1, 0, 0))
    assert not ivr_oracle.is_holiday("office", kyiv(2026, 1, 1, 10, 0))  # martial law
    with pytest.raises(ValidationError):
        oracle.is_open("unknown", kyiv(2026, 1, 1, 0, 0))


def test_interval_parsing() -> None:
    """Intervals parse HH:MM-HH:MM with 24:00 as an end and reject nonsense."""
    assert str(Interval.parse("00:00-24:00")) == "00:00-24:00"
    for bad in ("8-17", "08:00-25:00", "12:00-12:00", "08:60-09:00", "x"):
        with pytest.raises(ValidationError):
            Interval.parse(bad)
