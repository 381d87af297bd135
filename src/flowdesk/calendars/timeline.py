"""A calendar compiled for arithmetic: open intervals per local date as UTC epoch seconds.

Everything the operations need is derived here once per calendar and memoised on it:
- ``day(o)``: the open intervals of local date ``o`` (a proleptic ordinal), as half-open
  ``(start, end)`` pairs of UTC epoch seconds, sorted, touching periods merged. Local wall-clock
  periods become real instants here, so a DST day's 00:00-24:00 lasts 23 or 25 hours.
- ``irregular(year)``: dates whose hours may differ from the weekly template (holidays, closed
  dates, overrides, and the days around a UTC-offset change). Between two irregular dates every
  week is the template, so long durations skip whole weeks arithmetically (``regular_weeks_*``).
"""

from __future__ import annotations

import bisect
import datetime as dt
import zoneinfo

from .holiday_source import holiday_dates
from .model import DAY_SECONDS, Calendar, Periods

Intervals = tuple[tuple[int, int], ...]

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
HORIZON_DAYS = 3 * 366
"""How far a search for business time goes (3 years) before calling a calendar never open."""
_MAX_CACHED_DAYS = 100_000
_DATE_MIN = dt.date.min.toordinal()
_DATE_MAX = dt.date.max.toordinal()


def weekday(ordinal: int) -> int:
    """Monday 0 ... Sunday 6 (ordinal 1, 0001-01-01, was a Monday)."""
    return (ordinal - 1) % 7


class Timeline:
    """The compiled calendar. Build it with ``timeline(cal)``, which memoises it on ``cal``."""

    def __init__(self, cal: Calendar) -> None:
        self.calendar = cal
        self.zone = zoneinfo.ZoneInfo(cal.time_zone)
        self.weekly = cal.weekly
        self.overrides = cal.override_map
        self.closed = cal.closed_dates
        self.rule = cal.holidays
        self.week_seconds = sum(p.seconds for day in cal.weekly for p in day)
        self.week_open_days = sum(1 for day in cal.weekly if day)
        self.ever_open = self.week_seconds > 0 or any(self.overrides.values())
        self._days: dict[int, Intervals] = {}
        self._irregular: dict[int, tuple[int, ...]] = {}

    # -- conversions -------------------------------------------------------------------------

    def local_ordinal(self, ts: int) -> int:
        return dt.datetime.fromtimestamp(ts, self.zone).toordinal()

    def local_clock(self, ts: int) -> tuple[int, int]:
        """(local date ordinal, seconds after local midnight on the wall clock)."""
        local = dt.datetime.fromtimestamp(ts, self.zone)
        return local.toordinal(), local.hour * 3600 + local.minute * 60 + local.second

    def wall(self, ordinal: int, seconds: int) -> int:
        """The instant of a local wall-clock time. A time the clock skips (spring forward) maps
        to the instant that many seconds after the jump; a time it repeats (autumn) to its first
        occurrence (zoneinfo's ``fold=0``)."""
        extra, seconds = divmod(seconds, DAY_SECONDS)
        day = dt.date.fromordinal(ordinal + extra)
        h, rest = divmod(seconds, 3600)
        local = dt.datetime(
            day.year, day.month, day.day, h, rest // 60, rest % 60, tzinfo=self.zone
        )
        return int(local.timestamp())

    # -- hours of one date -------------------------------------------------------------------

    def periods_on(self, day: dt.date) -> Periods:
        override = self.overrides.get(day)
        if override is not None:
            return override
        if day in self.closed:
            return ()
        if self.rule is not None and day in holiday_dates(
            self.rule.country, self.rule.subdivision, day.year
        ):
            return ()
        return self.weekly[day.weekday()]

    def day(self, ordinal: int) -> Intervals:
        found = self._days.get(ordinal)
        if found is None:
            if len(self._days) >= _MAX_CACHED_DAYS:
                self._days.clear()
            found = self._days[ordinal] = self._compute_day(ordinal)
        return found

    def _compute_day(self, ordinal: int) -> Intervals:
        if not _DATE_MIN < ordinal < _DATE_MAX:
            return ()
        out: list[list[int]] = []
        for period in self.periods_on(dt.date.fromordinal(ordinal)):
            start, end = self.wall(ordinal, period.start), self.wall(ordinal, period.end)
            if out and start <= out[-1][1]:
                # touching periods (12:00-12:00) are one; after a clock change wall times can
                # even overlap in real time: never count a second twice
                out[-1][1] = max(out[-1][1], end)
            elif end > start:
                out.append([start, end])
        return tuple((a, b) for a, b in out)

    # -- where the weekly template holds -----------------------------------------------------

    def irregular(self, year: int) -> tuple[int, ...]:
        found = self._irregular.get(year)
        if found is None:
            found = self._irregular[year] = self._compute_irregular(year)
        return found

    def _compute_irregular(self, year: int) -> tuple[int, ...]:
        first, last = dt.date(year, 1, 1).toordinal(), dt.date(year, 12, 31).toordinal()
        days: set[int] = set()
        if self.rule is not None:
            days.update(
                d.toordinal() for d in holiday_dates(self.rule.country, self.rule.subdivision, year)
            )
        days.update(d.toordinal() for d in self.closed if d.year == year)
        days.update(d.toordinal() for d in self.overrides if d.year == year)
        # a UTC-offset change between local midnights o and o+1: o-1..o+1 are not template days
        lo, hi = max(first - 1, _DATE_MIN + 1), min(last + 1, _DATE_MAX - 2)
        offset = self._midnight_offset(lo)
        for o in range(lo, hi + 1):
            following = self._midnight_offset(o + 1)
            if following != offset:
                days.update((o - 1, o, o + 1))
            offset = following
        return tuple(sorted(o for o in days if first <= o <= last))

    def _midnight_offset(self, ordinal: int) -> dt.timedelta | None:
        return self.zone.utcoffset(dt.datetime.fromordinal(ordinal))

    def _years(self, lo: int, hi: int) -> range:
        return range(dt.date.fromordinal(lo).year, dt.date.fromordinal(hi).year + 1)

    def regular_weeks_from(self, ordinal: int, cap: int) -> int:
        """How many whole template weeks (at most ``cap``) start at local date ``ordinal``."""
        if cap <= 0:
            return 0
        limit = min(ordinal + 7 * cap, _DATE_MAX - 7)
        for year in self._years(ordinal, limit):
            days = self.irregular(year)
            i = bisect.bisect_left(days, ordinal)
            if i < len(days):
                return min(cap, (days[i] - ordinal) // 7)
        return max(0, min(cap, (limit - ordinal) // 7))

    def regular_weeks_to(self, ordinal: int, cap: int) -> int:
        """How many whole template weeks (at most ``cap``) end at local date ``ordinal``."""
        if cap <= 0:
            return 0
        limit = max(ordinal - 7 * cap, _DATE_MIN + 7)
        for year in reversed(self._years(limit, ordinal)):
            days = self.irregular(year)
            i = bisect.bisect_right(days, ordinal)
            if i > 0:
                return min(cap, (ordinal - days[i - 1]) // 7)
        return max(0, min(cap, (ordinal - limit) // 7))


def timeline(cal: Calendar) -> Timeline:
    found = cal._memo.get("timeline")
    if found is None:
        found = cal._memo["timeline"] = Timeline(cal)
    assert isinstance(found, Timeline)
    return found
