"""The only permission-checked loaders of tickets: customers see their own requests, agents all."""

from __future__ import annotations

from django.db.models import QuerySet

from flowdesk.accounts.models import User
from flowdesk.core.errors import NotFound
from flowdesk.tickets.models import Ticket


def tickets_for(user: User) -> QuerySet[Ticket]:
    qs = Ticket.objects.select_related("requester", "organization", "assignee", "team")
    if user.is_agent:
        return qs
    return qs.filter(requester=user)


def access_ticket_by_id(user: User, ticket_id: int) -> Ticket:
    # A ticket the user may not see is "not found", so ids don't leak other customers' tickets.
    ticket = tickets_for(user).filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} not found")
    return ticket
