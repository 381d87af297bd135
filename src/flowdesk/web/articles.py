"""Knowledge-base links in the reply box: search the public articles (GET) and show each with
its portal address; the reply box's script inserts title and address into the reply, and
without JavaScript the addresses are there to copy."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from flowdesk.accounts.models import User
from flowdesk.tickets.selectors import access_ticket_by_id
from flowdesk.web.auth import agent_view
from flowdesk.web.replybox import article_panel
from flowdesk.web.ticket import page


@require_safe
@agent_view
def article_search(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    ticket = access_ticket_by_id(user, ticket_id)
    panel = article_panel(request, ticket, request.GET.get("q", ""))
    return page(request, user, ticket, articles=panel, partial="web/_articles.html")
