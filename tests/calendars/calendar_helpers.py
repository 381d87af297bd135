"""Shared helpers for the calendar tests: the peer-library data and small calendar builders."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from functools import cache
from pathlib import Path
from typing import Any

from flowdesk.calendars import Calendar, calendar_from_dict

DATA = Path(__file__).resolve().parent / "data"
UTC = dt.UTC


@cache
def peer_data() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DATA / "cases.json").read_text())
    return loaded


def _minutes(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minus(periods: list[list[str]], breaks: list[list[str]]) -> list[list[str]]:
    """Periods with the break intervals cut out (biz 'breaks' are inactive sub-periods)."""
    out = [(_minutes(a), _minutes(b)) for a, b in periods]
    for b_start, b_end in ((_minutes(a), _minutes(b)) for a, b in breaks):
        cut: list[tuple[int, int]] = []
        for a, b in out:
            if b <= b_start or a >= b_end:
                cut.append((a, b))
                continue
            if a < b_start:
                cut.append((a, b_start))
            if b > b_end:
                cut.append((b_end, b))
        out = cut
    return [[_hhmm(a), _hhmm(b)] for a, b in out]


def _period_dicts(pairs: list[list[str]]) -> list[dict[str, str]]:
    return [{"start": a, "end": b} for a, b in pairs]


def peer_calendar_dict(spec: dict[str, Any]) -> dict[str, Any]:
    """The data set's calendar format in ours. Upstream 'holidays' are listed dates, so they
    become closed_dates; 'shifts' and 'date_overrides' replace a date's hours (overrides);
    'breaks' cut time out of that date's hours (an override too). A holiday wins over a shift
    on the same date, as in biz (active_spec: 'holiday => inactive')."""
    weekly = spec["weekly"]
    holidays = set(spec.get("holidays", []))
    replaced: dict[str, list[list[str]]] = {}
    replaced.update(spec.get("shifts", {}))
    replaced.update(spec.get("date_overrides", {}))
    for day, breaks in spec.get("breaks", {}).items():
        if day not in replaced:
            weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[
                dt.date.fromisoformat(day).weekday()
            ]
            replaced[day] = weekly.get(weekday, [])
        replaced[day] = _minus(replaced[day], breaks)
    return {
        "time_zone": spec["time_zone"],
        "weekly": {day: _period_dicts(periods) for day, periods in weekly.items()},
        "closed_dates": sorted(holidays),
        "overrides": {
            day: _period_dicts(periods)
            for day, periods in sorted(replaced.items())
            if day not in holidays
        },
    }


@cache
def peer_calendar(name: str) -> Calendar:
    return calendar_from_dict(peer_calendar_dict(peer_data()["calendars"][name]))


def parse_value(text: str, zone: str) -> dt.datetime | dt.date:
    """An input or expected value of the data set: a date, or an instant (naive = the
    calendar's wall clock, per the data set's description)."""
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    return value


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def at(zone: str, *args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo(zone), fold=fold)  # type: ignore[misc]


def periods(*spans: str) -> list[dict[str, str]]:
    """periods("09:00-12:00", "13:00-17:00") in the dict form."""
    return [{"start": s.split("-")[0], "end": s.split("-")[1]} for s in spans]


def office(
    zone: str = "UTC",
    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri"),
    spans: tuple[str, ...] = ("09:00-17:00",),
    **extra: Any,
) -> Calendar:
    """The same hours on each of ``days``; ``extra`` adds holidays, closed_dates, overrides."""
    return calendar_from_dict(
        {"time_zone": zone, "weekly": {d: periods(*spans) for d in days}, **extra}
    )


def _local_date(cal: Calendar, t: dt.datetime) -> dt.date:
    return t.astimezone(zoneinfo.ZoneInfo(cal.time_zone)).date()


def reference_between(cal: Calendar, a: dt.datetime, b: dt.datetime) -> int:
    """Business seconds in [a, b) summed date by date from the published periods: no week
    skipping, no shortcuts, to check the arithmetic against."""
    from flowdesk.calendars import open_periods_on

    if b < a:
        return -reference_between(cal, b, a)
    total = 0
    day = _local_date(cal, a) - dt.timedelta(days=1)
    while day <= _local_date(cal, b) + dt.timedelta(days=1):
        for start, end in open_periods_on(cal, day):
            lo, hi = max(start, a), min(end, b)
            if hi > lo:
                total += int((hi - lo).total_seconds())
        day += dt.timedelta(days=1)
    return total


def reference_add(cal: Calendar, t: dt.datetime, seconds: int) -> dt.datetime:
    """add_business_time the slow way: consume the published periods date by date."""
    from flowdesk.calendars import open_periods_on

    day = _local_date(cal, t) - dt.timedelta(days=1)
    remaining = dt.timedelta(seconds=seconds)
    for _ in range(50_000):
        for start, end in open_periods_on(cal, day):
            if end <= t:
                continue
            start = max(start, t)
            if remaining <= end - start:
                return start + remaining
            remaining -= end - start
        day += dt.timedelta(days=1)
    raise AssertionError("no business time found")
