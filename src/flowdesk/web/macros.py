"""Macros in the reply box: the picker and preview (GET), applying one (POST).

A plain form POST without JavaScript; htmx swaps the conversation, fields and timeline in
place. Applying is ``check_apply_macro``, the API's path: one update with the macro's reply or
note and field changes, checked against the version the agent's page showed, so a stale page
is refused (409) and shown what changed since, like a stale field save.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from flowdesk.accounts.models import User
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import Conflict, ValidationFailed
from flowdesk.macros.services import check_apply_macro
from flowdesk.tickets.selectors import access_ticket_by_id, tickets_for
from flowdesk.tickets.services import Cause
from flowdesk.web.auth import agent_view
from flowdesk.web.history import changes_since
from flowdesk.web.replybox import macro_panel
from flowdesk.web.ticket import int_or_none, page, redirect_to_ticket


@require_safe
@agent_view
def macro_picker(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    """The macro list (``q`` narrows it) and, with ``macro``, its preview on this ticket. An
    htmx request gets the panel alone, a plain one the whole ticket page with it open."""
    ticket = access_ticket_by_id(user, ticket_id)
    panel = macro_panel(
        user,
        ticket,
        q=request.GET.get("q", "").strip()[:200],
        chosen=int_or_none(request.GET.get("macro")),
        version=int_or_none(request.GET.get("version")),
        seen=int_or_none(request.GET.get("seen")),
    )
    return page(request, user, ticket, macros=panel, partial="web/_macros.html")


@require_POST
@agent_view
def apply_macro(request: HttpRequest, user: User, ticket_id: int, macro_id: int) -> HttpResponse:
    ticket = access_ticket_by_id(user, ticket_id)
    version = int_or_none(request.POST.get("version"))
    seen = int_or_none(request.POST.get("seen")) or 0
    expected = ticket.version if version is None else version
    try:
        applied = check_apply_macro(
            Cause.for_user(user), ticket_id, str(macro_id), expected_version=expected, now=utcnow()
        )
    except Conflict as error:
        current = access_ticket_by_id(user, ticket_id)
        if error.current_version is None:  # not stale: e.g. the macro was deactivated
            panel = macro_panel(user, current, error=str(error), open=True)
        else:
            panel = macro_panel(
                user, current, chosen=macro_id, conflict=changes_since(current, seen), open=True
            )
        return page(request, user, current, macros=panel, status=409)
    except ValidationFailed as error:
        reason = "; ".join(e.message for e in error.errors)
        panel = macro_panel(user, ticket, chosen=macro_id, error=reason, open=True)
        return page(request, user, ticket, macros=panel, status=422)
    done = _("Macro “%(name)s” applied.") % {"name": applied.macro.name}
    if not tickets_for(user).filter(pk=ticket_id).exists():
        # e.g. handed to a team the agent is not in: the ticket is no longer theirs to see.
        messages.success(request, done, extra_tags="inbox")
        return redirect_everywhere(request, reverse("web:inbox"))
    messages.success(request, done, extra_tags="reply")
    return redirect_to_ticket(ticket_id, "reply")


def redirect_everywhere(request: HttpRequest, url: str) -> HttpResponse:
    """A redirect that htmx follows as a whole page (not a part to select from)."""
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)
