"""Property tests: the operations agree with each other and with a slow reference, on generated
calendars (split days, 24-hour days, holidays, overrides, DST and half-hour-DST zones)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from calendar_helpers import reference_add, reference_between
from hypothesis import given, settings
from hypothesis import strategies as st

from flowdesk import calendars as fc

ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # DST of 30 minutes
    "America/Sao_Paulo",
]
SECOND = dt.timedelta(seconds=1)


def _day_periods(draw: st.DrawFn) -> list[dict[str, str]]:
    """0-3 sorted, non-overlapping periods on a quarter-hour grid, 24:00 allowed as an end."""
    marks = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
    if len(marks) % 2:
        marks = marks[:-1]
    out = []
    for a, b in zip(marks[::2], marks[1::2], strict=True):
        out.append(
            {"start": f"{a // 4:02d}:{a % 4 * 15:02d}", "end": f"{b // 4:02d}:{b % 4 * 15:02d}"}
        )
    return out


@st.composite
def calendars(draw: st.DrawFn) -> fc.Calendar:
    weekly: dict[str, Any] = {day: _day_periods(draw) for day in fc.WEEKDAYS}
    if not any(weekly.values()):
        weekly["wed"] = [{"start": "09:00", "end": "17:00"}]
    days = st.dates(dt.date(2024, 1, 1), dt.date(2026, 12, 31))
    closed = draw(st.sets(days, max_size=8))
    overrides = {
        d.isoformat(): _day_periods(draw)
        for d in draw(st.sets(days, max_size=6))
        if d not in closed
    }
    data = {
        "time_zone": draw(st.sampled_from(ZONES)),
        "weekly": weekly,
        "holidays": draw(
            st.sampled_from([None, {"country": "FR"}, {"country": "US", "subdivision": "NY"}])
        ),
        "closed_dates": [d.isoformat() for d in sorted(closed)],
        "overrides": overrides,
    }
    return fc.calendar_from_dict(data)


# hypothesis takes naive bounds and attaches the time zone itself
instants = st.datetimes(
    dt.datetime(2024, 6, 1),  # noqa: DTZ001
    dt.datetime(2026, 6, 1),  # noqa: DTZ001
    timezones=st.just(dt.UTC),
).map(lambda t: t.replace(microsecond=0))
durations = st.one_of(st.integers(1, 3600), st.integers(1, 40 * 3600), st.integers(1, 400 * 3600))

SETTINGS = settings(max_examples=150, deadline=None)


def _is_close(cal: fc.Calendar, r: dt.datetime) -> bool:
    return not fc.is_open(cal, r) and fc.is_open(cal, r - SECOND)


@SETTINGS
@given(calendars(), instants, durations)
def test_add_gives_back_the_duration_and_is_earliest(
    cal: fc.Calendar, t: dt.datetime, s: int
) -> None:
    r = fc.add_business_time(cal, t, s)
    assert r.tzinfo is dt.UTC
    assert fc.business_seconds_between(cal, t, r) == s
    assert fc.business_seconds_between(cal, t, r - SECOND) == s - 1  # the earliest such instant
    assert fc.is_open(cal, r) or _is_close(cal, r)  # open, or a closing boundary
    assert r == reference_add(cal, t, s)


@SETTINGS
@given(calendars(), instants, durations)
def test_subtract_inverts_add(cal: fc.Calendar, t: dt.datetime, s: int) -> None:
    r = fc.add_business_time(cal, t, s)
    assert fc.subtract_business_time(cal, r, s) == fc.next_open(cal, t)
    back = fc.subtract_business_time(cal, t, s)
    assert fc.is_open(cal, back)  # subtracting lands on business time (an opening at worst)
    assert fc.business_seconds_between(cal, back, t) == s
    assert fc.add_business_time(cal, back, s) == fc.prev_open(cal, t)


@SETTINGS
@given(calendars(), instants, durations, durations)
def test_add_composes(cal: fc.Calendar, t: dt.datetime, a: int, b: int) -> None:
    assert fc.add_business_time(cal, fc.add_business_time(cal, t, a), b) == fc.add_business_time(
        cal, t, a + b
    )
    assert fc.add_business_time(cal, t, min(a, b)) <= fc.add_business_time(cal, t, max(a, b))


@SETTINGS
@given(calendars(), instants, instants, instants)
def test_elapsed_is_additive_and_antisymmetric(
    cal: fc.Calendar, a: dt.datetime, b: dt.datetime, c: dt.datetime
) -> None:
    ab, bc = fc.business_seconds_between(cal, a, b), fc.business_seconds_between(cal, b, c)
    assert ab + bc == fc.business_seconds_between(cal, a, c)
    assert fc.business_seconds_between(cal, b, a) == -ab
    assert ab == reference_between(cal, a, b)


@SETTINGS
@given(calendars(), instants)
def test_open_close_and_zero_durations(cal: fc.Calendar, t: dt.datetime) -> None:
    nxt = fc.next_open(cal, t)
    assert fc.is_open(cal, nxt)
    assert fc.business_seconds_between(cal, t, nxt) == 0
    assert nxt == t or not fc.is_open(cal, t)
    assert fc.add_business_time(cal, t, 0) == nxt
    prv = fc.prev_open(cal, t)
    assert prv <= t
    assert fc.business_seconds_between(cal, prv, t) == 0
    assert fc.is_open(cal, prv - SECOND)
    assert fc.subtract_business_time(cal, t, 0) == prv
    close = fc.next_close(cal, t)
    if close is not None:
        assert close > nxt
        assert _is_close(cal, close)
        assert fc.business_seconds_between(cal, nxt, close) == (close - nxt).total_seconds()


@SETTINGS
@given(calendars(), instants, st.integers(0, 40))
def test_business_days(cal: fc.Calendar, t: dt.datetime, n: int) -> None:
    later = fc.add_business_days(cal, t, n)
    assert fc.is_open(cal, later)
    assert later >= fc.next_open(cal, t)
    earlier = fc.subtract_business_days(cal, t, n)
    assert earlier <= t
    assert fc.prev_open(cal, earlier) == earlier
    day = t.date()
    target = fc.add_business_dates(cal, day, n)
    assert fc.is_business_date(cal, target)
    start = fc.add_business_dates(cal, day, 0)
    assert fc.business_days_between(cal, start, target) == n
    assert fc.business_days_between_inclusive(cal, start, target) == n + 1
    assert fc.add_business_dates(cal, target, -n) == start
