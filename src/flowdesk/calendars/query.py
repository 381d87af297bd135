"""Read-only views of a calendar for people (an admin page, an explanation of a deadline)."""

from __future__ import annotations

import datetime as dt

from .holiday_source import holiday_dates
from .model import Calendar
from .ops import from_ts
from .timeline import timeline


def open_periods_on(cal: Calendar, day: dt.date) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """The business periods of a local date as (open, close) UTC instants, after holidays,
    closed dates, overrides and clock changes; touching periods come out as one."""
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise TypeError(f"day: expected a date, got {type(day).__name__}")
    return tuple((from_ts(a), from_ts(b)) for a, b in timeline(cal).day(day.toordinal()))


def holidays_in(cal: Calendar, year: int) -> frozenset[dt.date]:
    """The public holidays of the calendar's country (and subdivision) in ``year``; custom
    closed dates are ``cal.closed_dates``."""
    if cal.holidays is None:
        return frozenset()
    return holiday_dates(cal.holidays.country, cal.holidays.subdivision, year)
