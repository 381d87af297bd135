from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.apps import AppConfig

if TYPE_CHECKING:
    from flowdesk.engine import Event
    from flowdesk.tickets.models import Ticket
    from flowdesk.tickets.services import TicketWrite


def prepare_calendar(w: TicketWrite, event: Event, snapshot: dict[str, Any]) -> None:
    """The ``calendar`` key: the calendar the ticket's channel chose (its mailbox's,
    ``Ticket.source["calendar"]``), else its team's, else the default, else None. In the
    ``prepare`` phase, before SLA clocks and rules read it (later prepare hooks see it)."""
    from flowdesk.sla.cache import calendar_of_write

    name = calendar_of_write(w)
    w.derived["calendar"] = name
    snapshot["calendar"] = name


def provide_calendar(ticket: Ticket, now: datetime) -> dict[str, Any]:
    """The same key for a read outside a write (dry runs, explanations)."""
    from flowdesk.sla.cache import calendar_name_for, chosen_calendar

    return {"calendar": calendar_name_for(ticket.team_id, chosen_calendar(ticket))}


class SlaConfig(AppConfig):
    name = "flowdesk.sla"
    label = "sla"

    def ready(self) -> None:
        # The ticket services call the SLA package through these seams; they never import it.
        from flowdesk.sla.runtime import preload_sla, sla_prepare, sla_settle, sla_snapshot
        from flowdesk.tickets.batch import register_preloader
        from flowdesk.tickets.hooks import register_snapshot_provider, register_update_hook

        # The calendar first: the SLA clocks of business targets are measured on it.
        register_update_hook(prepare_calendar, "prepare")
        register_update_hook(sla_prepare, "prepare")
        register_update_hook(sla_settle, "settle")
        register_snapshot_provider(provide_calendar)
        register_snapshot_provider(sla_snapshot)
        register_preloader(preload_sla)
