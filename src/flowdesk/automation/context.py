"""The engine's read-only context for one update: the stored business-hours calendars."""

from __future__ import annotations

from flowdesk.engine.context import EngineContext
from flowdesk.sla.cache import calendars, default_calendar_name


def engine_context() -> EngineContext:
    """Built from the per-process calendar cache (one fingerprint read when nothing changed)."""
    return EngineContext(calendars=calendars(), default_calendar=default_calendar_name())
