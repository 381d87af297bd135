"""Edge cases a help desk meets: lunch breaks, regional holidays, custom dates, overrides, DST,
never-open calendars and durations of months."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from calendar_helpers import at, office, periods, reference_add, reference_between, utc

from flowdesk import calendars as fc
from flowdesk.calendars import NaiveDatetimeError, NoBusinessTimeError

H = 3600
PARIS = "Europe/Paris"
NEW_YORK = "America/New_York"
LUNCH = office(PARIS, spans=("09:00-12:30", "13:30-18:00"))  # 8 h a day


# -- lunch breaks ---------------------------------------------------------------------------


def test_lunch_break_is_skipped_and_its_edges_are_half_open() -> None:
    noon = at(PARIS, 2025, 1, 6, 12, 0)  # Monday, CET (UTC+1)
    assert fc.add_business_time(LUNCH, noon, H) == at(PARIS, 2025, 1, 6, 14, 0)
    # used up exactly when the morning closes: the deadline is that close, not 13:30
    assert fc.add_business_time(LUNCH, noon, 30 * 60) == at(PARIS, 2025, 1, 6, 12, 30)
    assert fc.next_close(LUNCH, noon) == at(PARIS, 2025, 1, 6, 12, 30)
    assert not fc.is_open(LUNCH, at(PARIS, 2025, 1, 6, 12, 30))
    assert fc.is_open(LUNCH, at(PARIS, 2025, 1, 6, 13, 30))
    assert fc.next_open(LUNCH, at(PARIS, 2025, 1, 6, 12, 45)) == at(PARIS, 2025, 1, 6, 13, 30)
    assert fc.prev_open(LUNCH, at(PARIS, 2025, 1, 6, 13, 0)) == at(PARIS, 2025, 1, 6, 12, 30)
    assert fc.prev_open(LUNCH, at(PARIS, 2025, 1, 6, 13, 30)) == at(PARIS, 2025, 1, 6, 12, 30)
    assert fc.business_seconds_between(LUNCH, noon, at(PARIS, 2025, 1, 6, 14, 0)) == H
    # subtracting lands on an opening rather than the close before the break
    assert fc.subtract_business_time(LUNCH, at(PARIS, 2025, 1, 6, 14, 0), 30 * 60) == at(
        PARIS, 2025, 1, 6, 13, 30
    )
    assert fc.open_periods_on(LUNCH, dt.date(2025, 1, 6)) == (
        (utc(2025, 1, 6, 8), utc(2025, 1, 6, 11, 30)),
        (utc(2025, 1, 6, 12, 30), utc(2025, 1, 6, 17)),
    )


def test_touching_periods_are_one_stretch_even_across_midnight() -> None:
    split = office(spans=("09:00-12:00", "12:00-17:00"))
    assert fc.next_close(split, utc(2025, 1, 6, 10)) == utc(2025, 1, 6, 17)
    night = fc.calendar_from_dict(
        {
            "time_zone": "UTC",
            "weekly": {"mon": periods("00:00-24:00"), "tue": periods("00:00-08:00")},
        }
    )
    assert fc.next_close(night, utc(2025, 1, 6, 10)) == utc(2025, 1, 7, 8)
    assert fc.add_business_time(night, utc(2025, 1, 6, 23), 2 * H) == utc(2025, 1, 7, 1)


# -- holidays by country and subdivision ----------------------------------------------------


def test_philippines_independence_day() -> None:
    manila = office("Asia/Manila", spans=("08:00-12:00", "13:00-17:00"), holidays={"country": "PH"})
    wed = at("Asia/Manila", 2025, 6, 11, 16, 0)  # Thu 2025-06-12 is Independence Day
    assert fc.add_business_time(manila, wed, 2 * H) == at("Asia/Manila", 2025, 6, 13, 9, 0)
    assert not fc.is_business_date(manila, dt.date(2025, 6, 12))
    assert dt.date(2025, 6, 12) in fc.holidays_in(manila, 2025)


def test_california_holiday_is_not_federal() -> None:
    la = "America/Los_Angeles"
    california = office(la, holidays={"country": "US", "subdivision": "CA"})
    federal = office(la, holidays={"country": "US"})
    friday = at(la, 2025, 3, 28, 16, 0)  # Mon 2025-03-31 is Cesar Chavez Day in California only
    assert fc.add_business_time(california, friday, 2 * H) == at(la, 2025, 4, 1, 10, 0)
    assert fc.add_business_time(federal, friday, 2 * H) == at(la, 2025, 3, 31, 10, 0)


def test_bavaria_corpus_christi_is_not_berlins() -> None:
    berlin = "Europe/Berlin"
    bavaria = office(berlin, holidays={"country": "DE", "subdivision": "BY"})
    capital = office(berlin, holidays={"country": "DE", "subdivision": "BE"})
    corpus_christi = dt.date(2025, 6, 19)
    assert not fc.is_business_date(bavaria, corpus_christi)
    assert fc.is_business_date(capital, corpus_christi)
    wed = at(berlin, 2025, 6, 18, 10, 0)
    assert fc.add_business_days(bavaria, wed, 1) == at(berlin, 2025, 6, 20, 10, 0)
    assert fc.add_business_days(capital, wed, 1) == at(berlin, 2025, 6, 19, 10, 0)
    # holidays are built per year on demand: any year works
    assert dt.date(2091, 1, 6) in fc.holidays_in(bavaria, 2091)  # Epiphany
    assert not fc.is_business_date(bavaria, dt.date(2094, 1, 6))  # a Wednesday


# -- custom closed dates and overrides --------------------------------------------------------


def test_overrides_beat_holidays_and_closed_dates_close() -> None:
    cal = office(
        PARIS,
        holidays={"country": "FR"},
        closed_dates=["2025-07-15"],
        overrides={
            "2025-07-14": periods("10:00-14:00"),  # open on the National Day, shorter
            "2025-07-16": [],  # closed Wednesday
            "2025-07-19": periods("10:00-12:00"),  # a Saturday morning
        },
    )
    assert fc.is_open(cal, at(PARIS, 2025, 7, 14, 11, 0))
    assert not fc.is_open(cal, at(PARIS, 2025, 7, 14, 9, 30))
    assert fc.add_business_time(cal, at(PARIS, 2025, 7, 14, 13, 0), 2 * H) == at(
        PARIS, 2025, 7, 17, 10, 0
    )
    assert [fc.is_business_date(cal, dt.date(2025, 7, d)) for d in range(14, 21)] == [
        True,  # override
        False,  # closed date
        False,  # override []
        True,
        True,
        True,  # Saturday override
        False,
    ]
    assert fc.add_business_time(cal, at(PARIS, 2025, 7, 18, 17, 0), 2 * H) == at(
        PARIS, 2025, 7, 19, 12, 0
    )
    assert fc.business_days_between(cal, dt.date(2025, 7, 14), dt.date(2025, 7, 21)) == 4


# -- DST: real elapsed time ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "saturday", "hours"),
    [
        (PARIS, dt.date(2025, 3, 29), 24 + 23),
        (PARIS, dt.date(2025, 10, 25), 24 + 25),
        (NEW_YORK, dt.date(2025, 3, 8), 24 + 23),
        (NEW_YORK, dt.date(2025, 11, 1), 24 + 25),
    ],
)
def test_a_dst_weekend_counts_real_hours(zone: str, saturday: dt.date, hours: int) -> None:
    always = office(zone, days=("sat", "sun"), spans=("00:00-24:00",))
    start = at(zone, saturday.year, saturday.month, saturday.day)
    monday = start + dt.timedelta(days=2)  # wall-clock arithmetic: local Monday 00:00
    assert fc.business_seconds_between(always, start, monday) == hours * H
    assert fc.add_business_time(always, start, hours * H) == monday
    assert fc.next_close(always, start) == monday


@pytest.mark.parametrize(
    ("zone", "friday"),
    [
        (PARIS, dt.date(2025, 3, 28)),
        (PARIS, dt.date(2025, 10, 24)),
        (NEW_YORK, dt.date(2025, 3, 7)),
    ],
)
def test_office_hours_across_a_clock_change_keep_local_times(zone: str, friday: dt.date) -> None:
    cal = office(zone)
    y, m, d = friday.year, friday.month, friday.day
    monday = friday + dt.timedelta(days=3)
    result = fc.add_business_time(cal, at(zone, y, m, d, 16, 0), 2 * H)
    assert result == at(zone, monday.year, monday.month, monday.day, 10, 0)
    assert fc.add_business_days(cal, at(zone, y, m, d, 11, 0), 1) == at(
        zone, monday.year, monday.month, monday.day, 11, 0
    )


def test_periods_that_straddle_the_jump() -> None:
    sunday = office(PARIS, days=("sun",), spans=("01:00-04:00",))
    # spring: 02:00-03:00 does not exist, 01:00 CET -> 04:00 CEST is 2 real hours
    assert fc.open_periods_on(sunday, dt.date(2025, 3, 30)) == (
        (utc(2025, 3, 30, 0), utc(2025, 3, 30, 2)),
    )
    # autumn: 02:00-03:00 happens twice, 01:00 CEST -> 04:00 CET is 4 real hours
    assert fc.open_periods_on(sunday, dt.date(2025, 10, 26)) == (
        (utc(2025, 10, 25, 23), utc(2025, 10, 26, 3)),
    )
    # a wall time the clock skips opens that long after the jump: 02:30 -> 03:30 EDT
    gap = office(NEW_YORK, days=("sun",), spans=("02:30-04:00",))
    assert fc.next_open(gap, at(NEW_YORK, 2025, 3, 9, 0, 0)) == utc(2025, 3, 9, 7, 30)
    assert fc.open_periods_on(gap, dt.date(2025, 3, 9)) == (
        (utc(2025, 3, 9, 7, 30), utc(2025, 3, 9, 8)),
    )
    # a repeated wall time means its first occurrence: 01:30 EDT -> 02:30 EST is 2 real hours
    fold = office(NEW_YORK, days=("sun",), spans=("01:30-02:30",))
    assert fc.open_periods_on(fold, dt.date(2025, 11, 2)) == (
        (utc(2025, 11, 2, 5, 30), utc(2025, 11, 2, 7, 30)),
    )
    # inside the repeated hour, the second 01:45 (fold=1, EST) is still open
    assert fc.is_open(fold, at(NEW_YORK, 2025, 11, 2, 1, 45, fold=1))


# -- never open and always open -------------------------------------------------------------


def test_a_never_open_calendar_fails_fast_with_a_clear_error() -> None:
    never = fc.calendar_from_dict({"time_zone": "UTC", "weekly": {}})
    t = utc(2025, 1, 1)
    began = time.perf_counter()
    with pytest.raises(NoBusinessTimeError, match="never open"):
        fc.add_business_time(never, t, 60)
    with pytest.raises(NoBusinessTimeError, match="never open"):
        fc.next_open(never, t)
    with pytest.raises(NoBusinessTimeError, match="never open"):
        fc.subtract_business_time(never, t, 60)
    with pytest.raises(NoBusinessTimeError, match="never open"):
        fc.add_business_days(never, t, 1)
    with pytest.raises(NoBusinessTimeError, match="never open"):
        fc.next_close(never, t)
    assert time.perf_counter() - began < 1
    assert fc.business_seconds_between(never, t, utc(2030, 1, 1)) == 0
    assert not fc.is_open(never, t)


def test_a_calendar_open_only_on_overrides_searches_three_years() -> None:
    rare = fc.calendar_from_dict(
        {"time_zone": "UTC", "weekly": {}, "overrides": {"2030-06-03": periods("09:00-10:00")}}
    )
    assert fc.next_open(rare, utc(2028, 1, 1)) == utc(2030, 6, 3, 9)
    assert fc.add_business_time(rare, utc(2028, 1, 1), 600) == utc(2030, 6, 3, 9, 10)
    assert fc.prev_open(rare, utc(2032, 1, 1)) == utc(2030, 6, 3, 10)
    assert fc.add_business_dates(rare, dt.date(2028, 1, 1), 0) == dt.date(2030, 6, 3)
    with pytest.raises(NoBusinessTimeError, match="3 years after 2025-01-01"):
        fc.next_open(rare, utc(2025, 1, 1))
    with pytest.raises(NoBusinessTimeError, match="never open"):
        fc.add_business_time(rare, utc(2028, 1, 1), 7200)  # one hour exists, not two
    with pytest.raises(NoBusinessTimeError, match="business date"):
        fc.add_business_dates(rare, dt.date(2028, 1, 1), 1)


def test_always_open() -> None:
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    always = office(PARIS, days=days, spans=("00:00-24:00",))
    t = utc(2025, 3, 29, 12, 34, 56)
    assert fc.is_open(always, t)
    assert fc.next_close(always, t) is None
    assert fc.add_business_time(always, t, 90 * 24 * H) == t + dt.timedelta(days=90)
    with_holiday = office(PARIS, days=days, spans=("00:00-24:00",), holidays={"country": "FR"})
    assert fc.next_close(with_holiday, t) == at(PARIS, 2025, 4, 21)  # Easter Monday
    assert fc.next_open(with_holiday, at(PARIS, 2025, 4, 21, 12)) == at(PARIS, 2025, 4, 22)


# -- long durations -------------------------------------------------------------------------


def test_durations_of_months_match_the_slow_reference() -> None:
    cal = office(
        PARIS,
        spans=("09:00-12:30", "13:30-18:00"),
        holidays={"country": "FR"},
        closed_dates=["2025-12-24"],
        overrides={"2026-03-30": periods("10:00-11:00")},
    )
    t = at(PARIS, 2025, 1, 2, 10, 15, 7)
    for hours in (8 * 21, 8 * 65, 1000, 8 * 250 * 3):  # a month, a quarter, ..., three years
        deadline = fc.add_business_time(cal, t, hours * H)
        assert deadline == reference_add(cal, t, hours * H), hours
        assert fc.business_seconds_between(cal, t, deadline) == hours * H
        assert fc.subtract_business_time(cal, deadline, hours * H) == t
    far = at(PARIS, 2035, 7, 1, 16, 0)
    assert fc.business_seconds_between(cal, t, far) == reference_between(cal, t, far)
    assert fc.business_days_between(cal, dt.date(2025, 1, 1), dt.date(2035, 1, 1)) == sum(
        fc.is_business_date(cal, dt.date(2025, 1, 1) + dt.timedelta(days=i))
        for i in range((dt.date(2035, 1, 1) - dt.date(2025, 1, 1)).days)
    )


def test_ten_years_of_business_time_is_quick() -> None:
    cal = office(PARIS, holidays={"country": "FR"})
    began = time.perf_counter()
    deadline = fc.add_business_time(cal, utc(2025, 1, 1), 10 * 250 * 8 * H)
    assert fc.business_seconds_between(cal, utc(2025, 1, 1), deadline) == 10 * 250 * 8 * H
    assert deadline.year == 2034  # about 252 working days a year in France
    assert time.perf_counter() - began < 2


# -- business days ---------------------------------------------------------------------------


def test_business_days_from_closed_times() -> None:
    cal = office()
    assert fc.add_business_days(cal, utc(2025, 1, 4, 12), 1) == utc(2025, 1, 7, 9)  # Sat
    assert fc.add_business_days(cal, utc(2025, 1, 6, 18), 1) == utc(2025, 1, 8, 9)  # Mon eve
    assert fc.add_business_days(cal, utc(2025, 1, 6, 7), 1) == utc(2025, 1, 7, 9)  # Mon early
    assert fc.subtract_business_days(cal, utc(2025, 1, 5, 12), 1) == utc(2025, 1, 2, 17)  # Sun
    assert fc.add_business_days(cal, utc(2025, 1, 4, 12), 0) == utc(2025, 1, 6, 9)
    assert fc.subtract_business_days(cal, utc(2025, 1, 4, 12), 0) == utc(2025, 1, 3, 17)
    assert fc.add_business_days(cal, utc(2025, 1, 8, 10), -2) == utc(2025, 1, 6, 10)
    assert fc.add_business_dates(cal, dt.date(2025, 1, 4), 1) == dt.date(2025, 1, 7)
    assert fc.add_business_dates(cal, dt.date(2025, 1, 4), -1) == dt.date(2025, 1, 2)
    assert fc.add_business_dates(cal, dt.date(2025, 1, 1), 260 * 4) == dt.date(2028, 12, 27)
    assert fc.business_days_between(cal, dt.date(2025, 1, 10), dt.date(2025, 1, 6)) == -4
    assert fc.business_days_between_inclusive(cal, dt.date(2025, 1, 10), dt.date(2025, 1, 6)) == -5


# -- inputs ---------------------------------------------------------------------------------


def test_naive_and_mistyped_inputs_are_clear_errors() -> None:
    cal = office()
    with pytest.raises(NaiveDatetimeError, match="2025-01-06T10:00:00 is a naive datetime"):
        fc.is_open(cal, dt.datetime(2025, 1, 6, 10))  # noqa: DTZ001
    with pytest.raises(NaiveDatetimeError, match=r"^b: "):
        fc.business_seconds_between(cal, utc(2025, 1, 6), dt.datetime(2025, 1, 7))  # noqa: DTZ001
    with pytest.raises(TypeError, match="expected an aware datetime, got date"):
        fc.next_open(cal, dt.date(2025, 1, 6))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seconds: expected an int"):
        fc.add_business_time(cal, utc(2025, 1, 6), 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seconds: expected an int"):
        fc.add_business_time(cal, utc(2025, 1, 6), True)
    with pytest.raises(TypeError, match="expected a date, got datetime"):
        fc.add_business_dates(cal, utc(2025, 1, 6), 1)
    assert issubclass(NaiveDatetimeError, ValueError)


def test_any_zone_in_utc_out_whole_seconds() -> None:
    cal = office()
    tokyo = at("Asia/Tokyo", 2025, 1, 6, 19, 0, 0)  # 10:00 UTC
    result = fc.add_business_time(cal, tokyo, H)
    assert result == utc(2025, 1, 6, 11)
    assert result.tzinfo is dt.UTC
    fraction = utc(2025, 1, 6, 10) + dt.timedelta(microseconds=999_999)
    assert fc.add_business_time(cal, fraction, 1) == utc(2025, 1, 6, 10, 0, 1)
    assert fc.add_business_time(cal, utc(2025, 1, 6, 10), -H) == utc(2025, 1, 6, 9)
    assert fc.subtract_business_time(cal, utc(2025, 1, 6, 10), -H) == utc(2025, 1, 6, 11)
