"""Permission-checked loaders and permission rules: the API and the web pages use these
unchanged, so a page can never show what the API would refuse.

- Customers see their own requests and their public messages only.
- Agents see the tickets of their teams, tickets without a team (the untriaged queue), tickets
  assigned to them and tickets they follow, when team scope is on (``FLOWDESK_AGENT_TEAM_SCOPE``,
  on by default); admins see everything.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from flowdesk.accounts.models import User
from flowdesk.core.errors import Forbidden, NotFound
from flowdesk.engine.vocabulary import Status
from flowdesk.tickets.models import Message, Ticket


def team_scoped(user: User) -> bool:
    return bool(settings.FLOWDESK["AGENT_TEAM_SCOPE"]) and user.is_agent and not user.is_admin


#: the related rows a ticket list or page shows with each ticket (joined, never N+1)
TICKET_RELATED = ("requester", "organization", "assignee", "team")


def tickets_for(user: User) -> QuerySet[Ticket]:
    qs = Ticket.objects.select_related(*TICKET_RELATED)
    if not user.is_agent:
        return qs.filter(requester=user)
    if team_scoped(user):
        teams = list(user.teams.values_list("pk", flat=True))
        followed = Ticket.followers.through.objects.filter(user_id=user.pk).values("ticket_id")
        return qs.filter(
            Q(team__in=teams) | Q(team__isnull=True) | Q(assignee=user) | Q(pk__in=followed)
        )
    return qs


def access_ticket_by_id(user: User, ticket_id: int) -> Ticket:
    # A ticket the user may not see is "not found", so ids don't leak other customers' tickets.
    ticket = tickets_for(user).filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} not found")
    return ticket


def messages_for(user: User, ticket: Ticket) -> QuerySet[Message]:
    """The conversation as ``user`` may see it: customers never see internal notes."""
    qs = Message.objects.filter(ticket=ticket).select_related("author")
    return qs if user.is_agent else qs.filter(public=True)


def check_can_read_history(user: User) -> None:
    """The event log, updates and explanations are for agents."""
    if not user.is_agent:
        raise Forbidden("the history is visible to agents")


def customer_may_change(key: str, value: Any) -> bool:
    """Customers may talk and close their own request; everything else is the agents' job."""
    return key == "status" and value == Status.SOLVED
