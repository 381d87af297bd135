"""Read-only input the engine gets next to the snapshot: the business-hours calendars.

The Django side builds one ``EngineContext`` per installation (or per call) from its stored
calendars; the engine never loads anything itself. Time triggers ask ``calendar_for(snapshot)``
which calendar measures "3 business days" for a ticket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowdesk.calendars import Calendar


@dataclass(frozen=True)
class EngineContext:
    """``calendars``: calendar name -> calendar; ``default_calendar``: the name used for a ticket
    whose snapshot names none (or names one that is not in ``calendars``)."""

    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    default_calendar: str | None = None

    def calendar_for(self, snapshot: Mapping[str, Any]) -> Calendar | None:
        """The ticket's calendar (``snapshot["calendar"]``), else the default calendar, else
        None: no calendar, time is measured as calendar time (24/7)."""
        name = snapshot.get("calendar")
        if isinstance(name, str):
            cal = self.calendars.get(name)
            if cal is not None:
                return cal
        if self.default_calendar is not None:
            return self.calendars.get(self.default_calendar)
        return None

    def named(self, name: str | None, snapshot: Mapping[str, Any]) -> Calendar | None:
        """The calendar called ``name`` if known, else ``calendar_for(snapshot)``."""
        if name is not None:
            cal = self.calendars.get(name)
            if cal is not None:
                return cal
        return self.calendar_for(snapshot)


#: what callers that pass no context get: no calendars, so business time is calendar time
EMPTY_CONTEXT = EngineContext()
