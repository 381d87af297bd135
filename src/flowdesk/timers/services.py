"""Setting and reading a ticket's timers inside an update (``TicketWrite``).

Owners of a purpose call ``schedule`` from their ``settle`` update hook (tickets.hooks) with the
new due instant (None: nothing to wait for), and read what they keep with it via ``timer_state``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowdesk.tickets.services import TicketWrite
from flowdesk.timers.models import Timer


def timer_state(w: TicketWrite, purpose: str) -> dict[str, Any]:
    row = Timer.objects.filter(ticket_id=w.ticket.pk, purpose=purpose).first()
    return dict(row.state) if row is not None else {}


def schedule(
    w: TicketWrite, purpose: str, due_at: datetime | None, state: dict[str, Any] | None = None
) -> None:
    """Move the ticket's ``purpose`` timer to ``due_at`` (and store ``state`` with it, if given).
    A timer with nothing to wait for and no state is deleted."""
    row = Timer.objects.filter(ticket_id=w.ticket.pk, purpose=purpose).first()
    if row is None:
        if due_at is None and not state:
            return
        Timer.objects.create(
            ticket_id=w.ticket.pk,
            purpose=purpose,
            due_at=due_at,
            state=state or {},
            updated_at=w.now,
        )
        return
    new_state = row.state if state is None else state
    if due_at is None and not new_state:
        row.delete()
        return
    if row.due_at == due_at and row.state == new_state:
        return
    row.due_at, row.state, row.updated_at = due_at, new_state, w.now
    row.save(update_fields=["due_at", "state", "updated_at"])
