"""Collision detection on the ticket page: who else has this ticket open, and who is replying.

The page posts its state (``viewing``, or ``replying`` while the reply box has focus or text)
every POLL_SECONDS through htmx and gets back the banner of the others. A row older than
PRESENCE_TTL seconds is someone who left (closed the tab, lost the network): it is ignored and
swept, so presence expires by itself; a page that is closed says ``gone`` when it can. A table,
not the cache, so every web process sees the same agents with the default settings, SQLite
included. Presence is not ticket data: it never goes through the ticket services.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from flowdesk.accounts.models import User
from flowdesk.core.clock import utcnow
from flowdesk.tickets.selectors import access_ticket_by_id
from flowdesk.web.auth import agent_view
from flowdesk.web.models import Presence

PRESENCE_TTL = 30
POLL_SECONDS = 10
STATES = ("viewing", "replying")


def touch(user: User, ticket_id: int, state: str) -> None:
    now = utcnow()
    if state not in STATES:
        Presence.objects.filter(ticket_id=ticket_id, user=user).delete()
        return
    if Presence.objects.filter(ticket_id=ticket_id, user=user).update(state=state, seen_at=now):
        return
    try:
        with transaction.atomic():
            Presence.objects.create(ticket_id=ticket_id, user=user, state=state, seen_at=now)
    except IntegrityError:  # the same agent's other tab got there first
        Presence.objects.filter(ticket_id=ticket_id, user=user).update(state=state, seen_at=now)


def others(user: User, ticket_id: int) -> list[Presence]:
    """The other agents on this ticket now, replying ones first; expired rows are swept."""
    cutoff = utcnow() - timedelta(seconds=PRESENCE_TTL)
    Presence.objects.filter(ticket_id=ticket_id, seen_at__lt=cutoff).delete()
    qs = Presence.objects.filter(ticket_id=ticket_id, seen_at__gte=cutoff).exclude(user=user)
    rows = list(qs.select_related("user").order_by("user__name", "user__email"))
    return sorted(rows, key=lambda p: p.state != "replying")


@require_POST
@agent_view
def presence(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    ticket = access_ticket_by_id(user, ticket_id)  # the same scope as the page
    touch(user, ticket.pk, request.POST.get("state", "viewing"))
    context = {"others": others(user, ticket.pk)}
    return render(request, "web/_presence.html", context)
