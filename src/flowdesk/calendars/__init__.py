"""Business-hours calendars: pure functions over immutable calendar values.

No Django, no database, no clock: every instant is an argument. Aware datetimes in, aware UTC
datetimes out, whole seconds. Semantics: docs/sla.md ("Business-hours calendars").
"""

from .days import (
    add_business_dates,
    add_business_days,
    business_days_between,
    business_days_between_inclusive,
    is_business_date,
    subtract_business_days,
)
from .errors import (
    CalendarError,
    CalendarValidationError,
    NaiveDatetimeError,
    NoBusinessTimeError,
    Problem,
)
from .model import WEEKDAYS, Calendar, HolidayRule, Period
from .ops import (
    add_business_time,
    business_seconds_between,
    is_open,
    next_close,
    next_open,
    prev_open,
    subtract_business_time,
)
from .parse import calendar_from_dict, calendar_to_dict
from .query import holidays_in, open_periods_on
from .timeline import HORIZON_DAYS

__all__ = [
    "HORIZON_DAYS",
    "WEEKDAYS",
    "Calendar",
    "CalendarError",
    "CalendarValidationError",
    "HolidayRule",
    "NaiveDatetimeError",
    "NoBusinessTimeError",
    "Period",
    "Problem",
    "add_business_dates",
    "add_business_days",
    "add_business_time",
    "business_days_between",
    "business_days_between_inclusive",
    "business_seconds_between",
    "calendar_from_dict",
    "calendar_to_dict",
    "holidays_in",
    "is_business_date",
    "is_open",
    "next_close",
    "next_open",
    "open_periods_on",
    "prev_open",
    "subtract_business_days",
    "subtract_business_time",
]
