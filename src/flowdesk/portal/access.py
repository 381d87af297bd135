"""What a customer may see and change on the portal, on top of the ticket selectors.

A customer reads their own tickets (``tickets_for``) and, when
``FLOWDESK_PORTAL_ORG_TICKETS`` is on, their organization's, read only. They write (reply,
attach, mark solved) only their own, through ``access_ticket_by_id``: exactly what the API lets
a customer do. Any other ticket is "not found", so ids leak nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from flowdesk.accounts.models import User
from flowdesk.core.errors import NotFound
from flowdesk.tickets.models import Ticket
from flowdesk.tickets.selectors import access_ticket_by_id, tickets_for


def org_tickets_shown(user: User) -> bool:
    return bool(settings.FLOWDESK["PORTAL_ORG_TICKETS"]) and user.organization_id is not None


def portal_tickets(user: User) -> QuerySet[Ticket]:
    qs = tickets_for(user)
    org = user.organization_id
    if org is not None and org_tickets_shown(user) and not user.is_agent:
        qs = qs | Ticket.objects.filter(organization_id=org)
    return qs


def access_portal_ticket(user: User, ticket_id: int) -> Ticket:
    """A ticket to read: the customer's own, or their organization's when shown."""
    ticket = portal_tickets(user).filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} not found")
    return ticket


def may_write(user: User, ticket: Ticket) -> bool:
    return user.is_agent or ticket.requester_id == user.pk


def access_own_ticket(user: User, ticket_id: int) -> Ticket:
    """A ticket to write to: the selectors' answer, unchanged."""
    return access_ticket_by_id(user, ticket_id)
