"""The engine's read-only context for one update: the stored business-hours calendars."""

from __future__ import annotations

from flowdesk.engine.context import EngineContext
from flowdesk.sla.cache import current, for_write
from flowdesk.tickets.services import TicketWrite


def engine_context(w: TicketWrite | None = None) -> EngineContext:
    """Built from the per-process calendar cache (one fingerprint read per update, none when
    the update's hooks already read it)."""
    store = for_write(w) if w is not None else current()
    return EngineContext(calendars=store.calendars, default_calendar=store.default)
