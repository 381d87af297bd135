"""A calendar from the plain dict an admin sends (JSON or YAML), and back.

    {
      "time_zone": "Europe/Paris",
      "weekly": {"mon": [{"start": "09:00", "end": "12:30"}, {"start": "13:30", "end": "18:00"}],
                 "sat": [{"start": "10:00", "end": "24:00"}]},
      "holidays": {"country": "DE", "subdivision": "BY"},
      "closed_dates": ["2025-12-24"],
      "overrides": {"2025-12-31": [{"start": "09:00", "end": "13:00"}], "2025-05-02": []}
    }

Weekdays left out are closed; ``holidays``, ``closed_dates`` and ``overrides`` are optional. Every
problem is collected and raised together in a ``CalendarValidationError`` whose lines read like
``weekly.mon[1].end: "25:00" is not a time (HH:MM)``. ``calendar_to_dict`` writes all seven days
and every key, so ``calendar_from_dict(calendar_to_dict(cal)) == cal``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from .errors import CalendarValidationError, Problem, show
from .holiday_source import holiday_rule_problems
from .model import (
    DAY_SECONDS,
    WEEKDAYS,
    Calendar,
    HolidayRule,
    Period,
    Periods,
    clock,
    period_problems,
    zone_problem,
)

_KEYS = ("time_zone", "weekly", "holidays", "closed_dates", "overrides")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _Problems(list[Problem]):
    def add(self, path: str, message: str) -> None:
        self.append(Problem(path, message))


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _unknown_keys(
    data: Mapping[Any, Any], known: tuple[str, ...], path: str, out: _Problems
) -> None:
    for key in data:
        if key not in known:
            out.add(_join(path, str(key)), f"unknown field; expected {', '.join(known)}")


def parse_time(value: object, path: str, out: _Problems, *, end: bool) -> int | None:
    """``HH:MM`` as seconds after midnight; ``24:00`` only as an end."""
    if isinstance(value, str):
        m = _TIME.fullmatch(value.strip())
        if m is not None:
            h, mi, sec = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
            if (h, mi, sec) == (24, 0, 0):
                if end:
                    return DAY_SECONDS
                out.add(path, f"{show(value)} is only allowed as an end (the end of the day)")
                return None
            if h < 24 and mi < 60 and sec < 60:
                return h * 3600 + mi * 60 + sec
    hint = ""
    if isinstance(value, int) and not isinstance(value, bool):
        hint = '; in YAML quote times ("17:00"), unquoted 17:00 is read as a number'
    out.add(path, f"{show(value)} is not a time (HH:MM){hint}")
    return None


def parse_date(value: object, path: str, out: _Problems) -> dt.date | None:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value  # YAML already read an unquoted 2025-12-24 as a date
    if isinstance(value, str) and _DATE.fullmatch(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    out.add(path, f"{show(value)} is not a date (YYYY-MM-DD)")
    return None


def parse_periods(value: object, path: str, out: _Problems) -> Periods | None:
    if not isinstance(value, list | tuple):
        out.add(path, f"{show(value)} is not a list of periods ([] for closed)")
        return None
    periods: list[Period] = []
    ok = True
    for i, item in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(item, Mapping):
            out.add(where, f'{show(item)} is not a period {{"start": "HH:MM", "end": "HH:MM"}}')
            ok = False
            continue
        _unknown_keys(item, ("start", "end"), where, out)
        bounds: list[int | None] = []
        for key in ("start", "end"):
            if key not in item:
                out.add(f"{where}.{key}", "is required")
                bounds.append(None)
            else:
                bounds.append(parse_time(item[key], f"{where}.{key}", out, end=key == "end"))
        start, end = bounds
        if start is None or end is None:
            ok = False
            continue
        if start >= end:
            out.add(where, f"start {show(item['start'])} is not before end {show(item['end'])}")
            ok = False
            continue
        periods.append(Period(start, end))
    if not ok:
        return None
    problems = period_problems(periods, path)
    out.extend(problems)
    return None if problems else tuple(periods)


def _weekly(value: object, out: _Problems) -> tuple[Periods, ...] | None:
    if not isinstance(value, Mapping):
        out.add("weekly", f"{show(value)} is not an object of weekdays (mon ... sun)")
        return None
    days: dict[str, Periods] = {}
    ok = True
    for key, periods in value.items():
        path = f"weekly.{key}"
        if key not in WEEKDAYS:
            out.add(path, f"{show(key)} is not a weekday; use {', '.join(WEEKDAYS)}")
            ok = False
            continue
        parsed = parse_periods(periods, path, out)
        if parsed is None:
            ok = False
        else:
            days[key] = parsed
    return tuple(days.get(name, ()) for name in WEEKDAYS) if ok else None


def _holidays(value: object, out: _Problems) -> HolidayRule | None:
    if not isinstance(value, Mapping):
        out.add(
            "holidays", f'{show(value)} is not an object {{"country": ..., "subdivision": ...}}'
        )
        return None
    _unknown_keys(value, ("country", "subdivision"), "holidays", out)
    if "country" not in value:
        out.add("holidays.country", "is required")
        return None
    country, subdivision = value["country"], value.get("subdivision")
    problems = holiday_rule_problems(country, subdivision, "holidays")
    out.extend(problems)
    if problems:
        return None
    assert isinstance(country, str)
    assert subdivision is None or isinstance(subdivision, str)
    return HolidayRule(country, subdivision)


def _closed_dates(value: object, out: _Problems) -> dict[dt.date, int] | None:
    if not isinstance(value, list | tuple):
        out.add("closed_dates", f"{show(value)} is not a list of dates")
        return None
    found: dict[dt.date, int] = {}
    for i, item in enumerate(value):
        day = parse_date(item, f"closed_dates[{i}]", out)
        if day is None:
            continue
        if day in found:
            out.add(f"closed_dates[{i}]", f"{show(item)} is already closed_dates[{found[day]}]")
        else:
            found[day] = i
    return found


def _overrides(
    value: object, closed: Mapping[dt.date, int], out: _Problems
) -> dict[dt.date, Periods]:
    if not isinstance(value, Mapping):
        out.add("overrides", f"{show(value)} is not an object of dates to periods")
        return {}
    found: dict[dt.date, Periods] = {}
    for key, periods in value.items():
        label = key.isoformat() if isinstance(key, dt.date) else str(key)
        path = f"overrides.{label}"
        day = parse_date(key, path, out)
        parsed = parse_periods(periods, path, out)
        if day is None or parsed is None:
            continue
        if day in found:
            out.add(path, "is overridden twice")
        elif day in closed:
            out.add(path, f"is also closed_dates[{closed[day]}]; keep one of the two")
        found[day] = parsed
    return found


def calendar_from_dict(data: object) -> Calendar:
    """Validate and build; raises CalendarValidationError listing every problem."""
    out = _Problems()
    if not isinstance(data, Mapping):
        raise CalendarValidationError([Problem("", f"{show(data)} is not a calendar object")])
    _unknown_keys(data, _KEYS, "", out)
    zone = data.get("time_zone")
    if "time_zone" not in data:
        out.add("time_zone", "is required")
    else:
        problem = zone_problem(zone)
        if problem is not None:
            out.append(problem)
    weekly = None
    if "weekly" not in data:
        out.add("weekly", "is required (weekdays left out are closed)")
    else:
        weekly = _weekly(data["weekly"], out)
    rule = None if data.get("holidays") is None else _holidays(data["holidays"], out)
    closed = _closed_dates(data.get("closed_dates", []), out) or {}
    overrides = _overrides(data.get("overrides", {}), closed, out)
    if out or weekly is None or not isinstance(zone, str):
        raise CalendarValidationError(out)
    return Calendar(
        time_zone=zone,
        weekly=weekly,
        holidays=rule,
        closed_dates=frozenset(closed),
        overrides=tuple(overrides.items()),
    )


def _periods_out(periods: Periods) -> list[dict[str, str]]:
    return [{"start": clock(p.start), "end": clock(p.end)} for p in periods]


def calendar_to_dict(cal: Calendar) -> dict[str, Any]:
    """The JSON-able definition (all keys, all seven weekdays, dates as ISO strings)."""
    return {
        "time_zone": cal.time_zone,
        "weekly": {name: _periods_out(day) for name, day in zip(WEEKDAYS, cal.weekly, strict=True)},
        "holidays": None
        if cal.holidays is None
        else {"country": cal.holidays.country, "subdivision": cal.holidays.subdivision},
        "closed_dates": [day.isoformat() for day in sorted(cal.closed_dates)],
        "overrides": {day.isoformat(): _periods_out(ps) for day, ps in cal.overrides},
    }
