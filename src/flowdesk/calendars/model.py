"""The calendar data: plain, immutable, comparable values (no behaviour beyond validation).

A ``Calendar`` is what an admin defines: a time zone, a weekly schedule in local wall-clock time,
public holidays by country (and subdivision), custom closed dates and per-date overrides. The
operations live in ``ops.py`` and ``days.py``; they compile a calendar into a ``Timeline`` once
(kept in a private memo on the calendar) and never change the calendar itself.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import CalendarValidationError, Problem, show
from .holiday_source import holiday_rule_problems

DAY_SECONDS = 86_400
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def clock(seconds: int) -> str:
    """Seconds after local midnight as ``HH:MM`` (``HH:MM:SS`` when not on a minute)."""
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}" if s == 0 else f"{h:02d}:{m:02d}:{s:02d}"


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """Open from ``start`` (included) to ``end`` (excluded), in seconds after local midnight.

    ``end`` may be 86400 (``24:00``): the period then runs to the next local midnight.
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        if not (0 <= self.start < DAY_SECONDS and 0 < self.end <= DAY_SECONDS):
            raise ValueError(f"period {self.start}..{self.end} is outside 00:00..24:00")
        if self.start >= self.end:
            raise ValueError(f"period start {clock(self.start)} is not before {clock(self.end)}")

    def __str__(self) -> str:
        return f"{clock(self.start)}-{clock(self.end)}"

    @property
    def seconds(self) -> int:
        return self.end - self.start


Periods = tuple[Period, ...]


@dataclass(frozen=True, slots=True)
class HolidayRule:
    """Public holidays of a country (ISO alpha-2) and optional subdivision, from ``holidays``."""

    country: str
    subdivision: str | None = None


def period_problems(periods: Sequence[Period], path: str) -> list[Problem]:
    """Overlaps among one day's periods (touching is fine: 09:00-12:00 then 12:00-17:00)."""
    order = sorted(range(len(periods)), key=lambda i: (periods[i].start, periods[i].end))
    problems = []
    reach: int | None = None  # the period reaching furthest so far
    for cur in order:
        if reach is not None and periods[cur].start < periods[reach].end:
            first, later = sorted((reach, cur))  # name the one written later
            problems.append(
                Problem(
                    f"{path}[{later}]",
                    f"{periods[later]} overlaps {path}[{first}] ({periods[first]})",
                )
            )
        if reach is None or periods[cur].end > periods[reach].end:
            reach = cur
    return problems


# files in the zone database that are not places: the server's own zone, a build artefact, and
# the placeholder "-00" zone; a stored calendar must mean the same on every machine
_NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})


def zone_problem(name: object, path: str = "time_zone") -> Problem | None:
    if isinstance(name, str) and name and name not in _NOT_PLACES:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
        else:
            return None
    return Problem(path, f"{show(name)} is not an IANA time zone (such as Europe/Paris)")


@dataclass(frozen=True)
class Calendar:
    """Business hours. Construct it directly or with ``calendar_from_dict``; both validate.

    - ``weekly``: seven tuples of periods, Monday first, in local wall-clock time.
    - ``holidays``: public holidays (closed all day) or None.
    - ``closed_dates``: extra dates closed all day (company events, bridges).
    - ``overrides``: dates with their own periods, replacing the weekly ones and any holiday
      (an empty tuple closes the date). A date may not be both closed and overridden.

    Equal calendars compare and hash equal; the memo of compiled data takes no part in that.
    """

    time_zone: str
    weekly: tuple[Periods, ...]
    holidays: HolidayRule | None = None
    closed_dates: frozenset[dt.date] = frozenset()
    overrides: tuple[tuple[dt.date, Periods], ...] = ()
    _memo: dict[str, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        # Normalise order so that equal definitions are equal values, then validate.
        weekly = tuple(_sorted(day) for day in self.weekly)
        overrides = tuple(_sorted((day, _sorted(ps)) for day, ps in self.overrides))
        object.__setattr__(self, "weekly", weekly)
        object.__setattr__(self, "closed_dates", frozenset(self.closed_dates))
        object.__setattr__(self, "overrides", overrides)
        problems = calendar_problems(self)
        if problems:
            raise CalendarValidationError(problems)

    @property
    def override_map(self) -> dict[dt.date, Periods]:
        return dict(self.overrides)


def calendar_problems(cal: Calendar) -> list[Problem]:
    """Structural problems of an assembled calendar (the dict parser reports input-level ones)."""
    problems: list[Problem] = []
    zone = zone_problem(cal.time_zone)
    if zone is not None:
        problems.append(zone)
    if len(cal.weekly) != len(WEEKDAYS):
        problems.append(Problem("weekly", f"needs 7 days (Monday first), got {len(cal.weekly)}"))
    for name, periods in zip(WEEKDAYS, cal.weekly, strict=False):
        problems += _typed_periods(periods, f"weekly.{name}")
    if cal.holidays is not None:
        rule = cal.holidays
        problems += holiday_rule_problems(rule.country, rule.subdivision, "holidays")
    seen: set[dt.date] = set()
    for day, periods in cal.overrides:
        where = f"overrides.{day.isoformat()}"
        if not _is_date(day):
            problems.append(Problem(where, f"{show(day)} is not a date"))
            continue
        if day in seen:
            problems.append(Problem(where, "is overridden twice"))
        seen.add(day)
        if day in cal.closed_dates:
            problems.append(Problem(where, "is also in closed_dates; keep one of the two"))
        problems += _typed_periods(periods, where)
    problems += [
        Problem("closed_dates", f"{show(day)} is not a date")
        for day in cal.closed_dates
        if not _is_date(day)
    ]
    return problems


def _sorted(items: Iterable[Any]) -> tuple[Any, ...]:
    """Sorted when comparable; otherwise as given, for validation to report what is wrong."""
    as_tuple = tuple(items)
    try:
        return tuple(sorted(as_tuple))
    except TypeError:
        return as_tuple


def _is_date(value: object) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _typed_periods(periods: Iterable[object], path: str) -> list[Problem]:
    items = list(periods)
    bad = [
        Problem(f"{path}[{i}]", f"{item!r} is not a Period")
        for i, item in enumerate(items)
        if not isinstance(item, Period)
    ]
    if bad:
        return bad
    return period_problems([p for p in items if isinstance(p, Period)], path)
