"""Business-time operations: aware datetimes in, aware UTC datetimes out, whole seconds.

Semantics (docs/sla.md, "Business-hours calendars"), in one place:
- Periods are half-open: the opening instant is business time, the closing instant is not.
- ``add_business_time(t, s)``, s > 0: the *earliest* instant by which s business seconds have
  elapsed since t. Used up exactly at a closing time, that is the closing time itself.
- ``subtract_business_time(t, s)``, s > 0: the *latest* instant from which s business seconds
  elapse until t. Used up exactly at an opening, that is the opening itself.
- s == 0: ``add`` gives ``next_open(t)``, ``subtract`` gives ``prev_open(t)``. A negative s
  goes the other way (``add(t, -s) == subtract(t, s)``).
- ``business_seconds_between(a, b)`` is negative when b < a: ``between(a, b) == -between(b, a)``.
- Elapsed time is real time: a DST day's 00:00-24:00 counts 23 or 25 hours.
- Inputs are truncated to the whole second; durations are whole seconds.
"""

from __future__ import annotations

import datetime as dt

from .errors import NaiveDatetimeError, NoBusinessTimeError
from .model import Calendar
from .timeline import EPOCH, HORIZON_DAYS, Timeline, timeline, weekday

_SECOND = dt.timedelta(seconds=1)


def to_ts(t: object, name: str = "t") -> int:
    """Epoch seconds of an aware datetime (floored to the second); naive is an error."""
    if not isinstance(t, dt.datetime):
        raise TypeError(f"{name}: expected an aware datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{name}: {t.isoformat()} is a naive datetime; business time needs an instant, "
            "pass an aware datetime (e.g. tzinfo=datetime.UTC)"
        )
    return (t - EPOCH) // _SECOND


def from_ts(ts: int) -> dt.datetime:
    return EPOCH + dt.timedelta(seconds=ts)


def _seconds(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"seconds: expected an int, got {type(value).__name__}")
    return value


def _never_open(tl: Timeline, ordinal: int, direction: str) -> NoBusinessTimeError:
    return NoBusinessTimeError(
        f"calendar ({tl.calendar.time_zone}) has no business hours in the 3 years {direction} "
        f"{dt.date.fromordinal(ordinal).isoformat()}; it is never open"
    )


def _check_ever_open(tl: Timeline, ordinal: int, direction: str) -> None:
    if not tl.ever_open:
        raise _never_open(tl, ordinal, direction)


# -- core arithmetic on epoch seconds --------------------------------------------------------


def forward(tl: Timeline, ts: int, seconds: int) -> int:
    """The earliest u >= ts with ``seconds`` of business time in [ts, u), u never a closed
    instant when seconds == 0 (then u is the next opening or ts itself)."""
    start = tl.local_ordinal(ts)
    _check_ever_open(tl, start, "after")
    o, remaining, last_open = start - 1, seconds, start
    week = tl.week_seconds
    while True:
        if week and remaining > week and o > start and weekday(o) == 0:
            k = tl.regular_weeks_from(o, (remaining - 1) // week)
            if k:
                remaining -= k * week
                o += 7 * k
                last_open = o
                continue
        for a, b in tl.day(o):
            if b <= ts:
                continue
            a = max(a, ts)
            if remaining <= b - a:
                return a + remaining
            remaining -= b - a
            last_open = o
        o += 1
        if o - last_open > HORIZON_DAYS:
            raise _never_open(tl, last_open, "after")


def backward(tl: Timeline, ts: int, seconds: int) -> int:
    """The latest u <= ts with ``seconds`` of business time in [u, ts); with seconds == 0 the
    latest business instant at or before ts, periods taken as (open, close]."""
    start = tl.local_ordinal(ts)
    _check_ever_open(tl, start, "before")
    o, remaining, last_open = start + 1, seconds, start
    week = tl.week_seconds
    while True:
        if week and remaining > week and o < start and weekday(o) == 6:
            k = tl.regular_weeks_to(o, (remaining - 1) // week)
            if k:
                remaining -= k * week
                o -= 7 * k
                last_open = o
                continue
        for a, b in reversed(tl.day(o)):
            if a >= ts:
                continue
            b = min(b, ts)
            if remaining <= b - a:
                return b - remaining
            remaining -= b - a
            last_open = o
        o -= 1
        if last_open - o > HORIZON_DAYS:
            raise _never_open(tl, last_open, "before")


def between(tl: Timeline, a: int, b: int) -> int:
    """Business seconds in [a, b); negative when b < a."""
    if b < a:
        return -between(tl, b, a)
    first, last = tl.local_ordinal(a), tl.local_ordinal(b)
    week = tl.week_seconds
    total, o = 0, first - 1
    while o <= last + 1:
        if week and o > first and weekday(o) == 0 and o + 7 <= last:
            k = tl.regular_weeks_from(o, (last - o) // 7)
            if k:
                total += k * week
                o += 7 * k
                continue
        for x, y in tl.day(o):
            lo, hi = max(x, a), min(y, b)
            if hi > lo:
                total += hi - lo
        o += 1
    return total


def contains(tl: Timeline, ts: int) -> bool:
    o = tl.local_ordinal(ts)
    return any(a <= ts < b for day in (o - 1, o, o + 1) for a, b in tl.day(day))


def closing(tl: Timeline, ts: int) -> int | None:
    """End of the open stretch containing ts, or of the next one; periods that touch (also
    across midnight) are one stretch. None when it stays open for the whole horizon."""
    opened = forward(tl, ts, 0)
    o = tl.local_ordinal(opened) - 1
    end: int | None = None
    first = o
    while o - first <= HORIZON_DAYS:
        for a, b in tl.day(o):
            if end is None:
                if b > opened:
                    end = b
            elif a > end:
                return end
            else:
                end = max(end, b)
        if end is not None and not tl.day(o + 1):
            return end
        o += 1
    return None


# -- the public operations -------------------------------------------------------------------


def is_open(cal: Calendar, t: dt.datetime) -> bool:
    """Is the instant t business time? An opening instant is, a closing instant is not."""
    return contains(timeline(cal), to_ts(t))


def next_open(cal: Calendar, t: dt.datetime) -> dt.datetime:
    """The first business instant at or after t (t itself when open)."""
    return from_ts(forward(timeline(cal), to_ts(t), 0))


def prev_open(cal: Calendar, t: dt.datetime) -> dt.datetime:
    """The latest instant at or before t that ends business time: t itself when open and not an
    opening; otherwise the closing time of the previous period (periods taken as (open, close])."""
    return from_ts(backward(timeline(cal), to_ts(t), 0))


def next_close(cal: Calendar, t: dt.datetime) -> dt.datetime | None:
    """The closing instant of the period containing t, or of the next period when t is closed.
    None for a calendar that stays open through the 3-year horizon (24/7 without holidays)."""
    end = closing(timeline(cal), to_ts(t))
    return None if end is None else from_ts(end)


def add_business_time(cal: Calendar, t: dt.datetime, seconds: int) -> dt.datetime:
    """The deadline ``seconds`` business seconds after t (see the module docstring)."""
    s, ts = _seconds(seconds), to_ts(t)
    if s < 0:
        return from_ts(backward(timeline(cal), ts, -s))
    return from_ts(forward(timeline(cal), ts, s))


def subtract_business_time(cal: Calendar, t: dt.datetime, seconds: int) -> dt.datetime:
    """The instant ``seconds`` business seconds before t (see the module docstring)."""
    s, ts = _seconds(seconds), to_ts(t)
    if s < 0:
        return from_ts(forward(timeline(cal), ts, -s))
    return from_ts(backward(timeline(cal), ts, s))


def business_seconds_between(cal: Calendar, a: dt.datetime, b: dt.datetime) -> int:
    """Business seconds from a to b; negative when b is before a."""
    return between(timeline(cal), to_ts(a, "a"), to_ts(b, "b"))
