"""Durations in time rules: ``"90s"``, ``"30m"``, ``"24h"``, ``"3d"``, ``"1w"``, combinations such
as ``"1h30m"``, or an integer number of seconds.

A duration is kept as its canonical string (weeks, days, then hours, minutes, seconds: ``"1h30m"``
for 5400 seconds), because in business time days and weeks are not a number of seconds:
``h``/``m``/``s`` are business seconds (``add_business_time``), ``d`` and ``w`` are business days
(``add_business_days``; a week is as many business days as the calendar's weekly schedule has open
weekdays). In calendar time a day is 86,400 real seconds and a week 7 days.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

from flowdesk.calendars import (
    Calendar,
    add_business_days,
    add_business_time,
    subtract_business_days,
    subtract_business_time,
)

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([wdhms])")
_WHOLE = re.compile(r"(?:\d+[wdhms])+")
#: longer than this is a typo, not a rule (and keeps the calendar arithmetic in range)
MAX_SECONDS = 3660 * 86400

_HINT = (
    "write a number with a unit s, m, h, d or w ('90s', '30m', '24h', '3d', '1w'), "
    "units combined from largest to smallest ('1h30m'), or an integer number of seconds"
)


@dataclass(frozen=True)
class Span:
    """A parsed duration: weeks and days (business days in business time) plus seconds."""

    weeks: int
    days: int
    seconds: int

    @property
    def total_seconds(self) -> int:
        """Its length in calendar time."""
        return (self.weeks * 7 + self.days) * 86400 + self.seconds


def parse_span(value: str) -> Span:
    """The span of a canonical (validated) duration string."""
    parts = {u: int(n) for n, u in _PART.findall(value)}
    secs = parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)
    return Span(parts.get("w", 0), parts.get("d", 0), secs)


def canonical(span: Span) -> str:
    out = []
    if span.weeks:
        out.append(f"{span.weeks}w")
    if span.days:
        out.append(f"{span.days}d")
    h, rest = divmod(span.seconds, 3600)
    m, s = divmod(rest, 60)
    out += [f"{n}{u}" for n, u in ((h, "h"), (m, "m"), (s, "s")) if n]
    return "".join(out)


def _validate(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a duration: {_HINT}")
    if isinstance(value, int):
        span = Span(0, 0, value)
    else:
        text = value.strip().lower().replace(" ", "")
        if not _WHOLE.fullmatch(text):
            raise ValueError(f"{value!r} is not a duration: {_HINT}")
        units = [u for _, u in _PART.findall(text)]
        order = [list(_UNITS).index(u) for u in units]
        if order != sorted(set(order)):
            raise ValueError(
                f"{value!r} is not a duration: each unit once, largest first ('1h30m')"
            )
        span = parse_span(text)
    if span.total_seconds <= 0:
        raise ValueError(f"{value!r} is not a duration: it must be longer than zero")
    if span.total_seconds > MAX_SECONDS:
        raise ValueError(f"{value!r} is too long a duration: at most 3660 days")
    return canonical(span)


#: The pydantic type of every duration in a rule set (kept as its canonical string).
Duration = Annotated[
    str,
    BeforeValidator(_validate),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*(\d+\s*[wdhmsWDHMS]\s*)+$"},
                {"type": "integer", "minimum": 1},
            ],
            "description": "A duration: '90s', '30m', '24h', '3d', '1w', '1h30m', or seconds.",
        }
    ),
]


def _week_days(cal: Calendar) -> int:
    """Business days in a regular week: the weekdays with open periods (at least 1)."""
    return max(1, sum(1 for periods in cal.weekly if periods))


def shift(
    t: dt.datetime, span: Span, *, business: bool, cal: Calendar | None, sign: int = 1
) -> dt.datetime:
    """``t`` moved by ``span`` forward (sign 1) or backward (-1).

    Calendar time (or business time without a calendar): real elapsed seconds. Business time:
    business days first (``add_business_days``, weeks counted as the calendar's business days per
    week), then business seconds (``add_business_time``)."""
    if not business or cal is None:
        return (t + sign * dt.timedelta(seconds=span.total_seconds)).astimezone(dt.UTC)
    days = span.weeks * _week_days(cal) + span.days
    out = t
    if sign > 0:
        if days:
            out = add_business_days(cal, out, days)
        if span.seconds:
            out = add_business_time(cal, out, span.seconds)
    else:
        if days:
            out = subtract_business_days(cal, out, days)
        if span.seconds:
            out = subtract_business_time(cal, out, span.seconds)
    return out
