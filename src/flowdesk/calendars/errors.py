"""Errors of the calendar package; every one is a ValueError, so callers can map them to HTTP 400.

A bad calendar reports *all* its problems at once, each naming the field path and the bad value,
because an admin fixes a calendar in one go only if they see everything that is wrong with it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass


def show(value: object) -> str:
    """A bad value as the admin wrote it: JSON spelling for JSON values, repr for the rest."""
    if isinstance(value, dt.date):  # YAML turns 2025-12-24 into a date: show it as written
        return value.isoformat()
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


class CalendarError(ValueError):
    """Base of every error raised by flowdesk.calendars."""


@dataclass(frozen=True)
class Problem:
    """One problem of a calendar definition: where (``weekly.mon[1].end``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class CalendarValidationError(CalendarError):
    """A calendar definition with one or more problems, all of them listed."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        n = len(self.problems)
        if n == 1:
            text = str(self.problems[0])
        else:
            text = f"{n} problems in calendar" + "".join(f"\n  {p}" for p in self.problems)
        super().__init__(text)


class NaiveDatetimeError(CalendarError):
    """A datetime without a time zone: its instant is unknown, so no answer would be right."""


class NoBusinessTimeError(CalendarError):
    """The calendar has no business time within the search horizon (it is never open)."""
