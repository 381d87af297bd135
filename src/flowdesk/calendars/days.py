"""Business-day operations. A business date is a local date with some business hours on it
(after holidays, closed dates and overrides).

- Dates (``add_business_dates``, ``business_days_between``): counting starts on a business
  date, so a non-business start first rolls to the nearest business date in the direction of
  travel (forward for n >= 0, backward for n < 0), then moves n business dates.
- Datetimes (``add_business_days``/``subtract_business_days``): the same move on t's local date,
  keeping t's wall-clock time, then snapped into business time: forward to ``next_open``,
  backward to ``prev_open``. A start on a non-business date counts from the start (forward) or
  end (backward) of the date it rolls to, so a ticket that arrives on Saturday and is due in
  one business day is due at Tuesday's opening, like one that arrived on Monday before opening.
"""

from __future__ import annotations

import datetime as dt

from .errors import NoBusinessTimeError
from .model import DAY_SECONDS, Calendar
from .ops import backward, forward, from_ts, to_ts
from .timeline import HORIZON_DAYS, Timeline, timeline, weekday


def _date(value: object, name: str) -> int:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(
            f"{name}: expected a date, got {type(value).__name__} "
            "(for a datetime use add_business_days / subtract_business_days)"
        )
    return value.toordinal()


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"days: expected an int, got {type(value).__name__}")
    return value


def _no_business_date(tl: Timeline, ordinal: int, direction: str) -> NoBusinessTimeError:
    return NoBusinessTimeError(
        f"calendar ({tl.calendar.time_zone}) has no business date in the 3 years {direction} "
        f"{dt.date.fromordinal(ordinal).isoformat()}; it is never open"
    )


def _step(tl: Timeline, ordinal: int, n: int, direction: int) -> int:
    """The n-th business date strictly after (direction 1) or before (-1) ``ordinal``, n >= 1."""
    if not tl.ever_open:
        raise _no_business_date(tl, ordinal, "after" if direction > 0 else "before")
    per_week = tl.week_open_days
    o, last = ordinal + direction, ordinal
    while True:
        if per_week and n > per_week and weekday(o) == (0 if direction > 0 else 6):
            cap = (n - 1) // per_week
            k = tl.regular_weeks_from(o, cap) if direction > 0 else tl.regular_weeks_to(o, cap)
            if k:
                n -= k * per_week
                o += direction * 7 * k
                last = o
                continue
        if tl.day(o):
            n -= 1
            if n == 0:
                return o
            last = o
        elif abs(o - last) > HORIZON_DAYS:
            raise _no_business_date(tl, last, "after" if direction > 0 else "before")
        o += direction


def _roll(tl: Timeline, ordinal: int, direction: int) -> int:
    return ordinal if tl.day(ordinal) else _step(tl, ordinal, 1, direction)


def _move(tl: Timeline, ordinal: int, n: int) -> int:
    """Roll to a business date in the direction of n, then move |n| business dates."""
    direction = 1 if n >= 0 else -1
    start = _roll(tl, ordinal, direction)
    return start if n == 0 else _step(tl, start, abs(n), direction)


def is_business_date(cal: Calendar, day: dt.date) -> bool:
    """Does the local date have any business hours (after holidays and overrides)?"""
    return bool(timeline(cal).day(_date(day, "day")))


def add_business_dates(cal: Calendar, day: dt.date, days: int) -> dt.date:
    """The business date ``days`` business dates after ``day`` (before it when negative)."""
    return dt.date.fromordinal(_move(timeline(cal), _date(day, "day"), _count(days)))


def business_days_between(cal: Calendar, start: dt.date, end: dt.date) -> int:
    """Business dates in [start, end): end excluded; negative when end is before start."""
    a, b = _date(start, "start"), _date(end, "end")
    if b < a:
        return -_count_dates(timeline(cal), b, a)
    return _count_dates(timeline(cal), a, b)


def business_days_between_inclusive(cal: Calendar, start: dt.date, end: dt.date) -> int:
    """Business dates in [start, end], both ends counted; negative when end is before start."""
    a, b = _date(start, "start"), _date(end, "end")
    if b < a:
        return -_count_dates(timeline(cal), b, a + 1)
    return _count_dates(timeline(cal), a, b + 1)


def _count_dates(tl: Timeline, a: int, b: int) -> int:
    """Business dates with ordinals in [a, b)."""
    per_week = tl.week_open_days
    total, o = 0, a
    while o < b:
        if per_week and weekday(o) == 0 and o + 7 <= b:
            k = tl.regular_weeks_from(o, (b - o) // 7)
            if k:
                total += k * per_week
                o += 7 * k
                continue
        total += bool(tl.day(o))
        o += 1
    return total


def add_business_days(cal: Calendar, t: dt.datetime, days: int) -> dt.datetime:
    """Same wall-clock time ``days`` business dates later, snapped forward to ``next_open``.
    Negative ``days`` is ``subtract_business_days(t, -days)``; 0 gives ``next_open(t)``."""
    n = _count(days)
    if n < 0:
        return subtract_business_days(cal, t, -n)
    tl = timeline(cal)
    ordinal, clock = tl.local_clock(to_ts(t))
    if not tl.day(ordinal):
        ordinal, clock = _roll(tl, ordinal, 1), 0
    target = ordinal if n == 0 else _step(tl, ordinal, n, 1)
    return from_ts(forward(tl, tl.wall(target, clock), 0))


def subtract_business_days(cal: Calendar, t: dt.datetime, days: int) -> dt.datetime:
    """Same wall-clock time ``days`` business dates earlier, snapped back to ``prev_open``.
    Negative ``days`` is ``add_business_days(t, -days)``; 0 gives ``prev_open(t)``."""
    n = _count(days)
    if n < 0:
        return add_business_days(cal, t, -n)
    tl = timeline(cal)
    ordinal, clock = tl.local_clock(to_ts(t))
    if not tl.day(ordinal):
        ordinal, clock = _roll(tl, ordinal, -1), DAY_SECONDS
    target = ordinal if n == 0 else _step(tl, ordinal, n, -1)
    return from_ts(backward(tl, tl.wall(target, clock), 0))
