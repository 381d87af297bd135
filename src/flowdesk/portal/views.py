"""The signed-in customer's pages: my tickets, a ticket's public conversation, replies with
files, marking a ticket solved, and attachment downloads.

Reads go through ``portal.access`` (the ticket selectors, plus the organization's tickets when
shown) and ``messages_for`` (customers never get internal notes); writes only through
``check_update_ticket`` with the portal's cause, the path of the API's customer writes.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from flowdesk.accounts.models import User
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import Forbidden, NotFound, ValidationFailed
from flowdesk.portal import attachments
from flowdesk.portal.access import (
    access_own_ticket,
    access_portal_ticket,
    may_write,
    org_tickets_shown,
    portal_tickets,
)
from flowdesk.portal.auth import customer_view, reader_view
from flowdesk.portal.forms import ReplyForm
from flowdesk.tickets.cause import CauseKind
from flowdesk.tickets.models import Channel, Status, Ticket
from flowdesk.tickets.selectors import messages_for
from flowdesk.tickets.services import Cause, ChangeSet, NewMessage, check_update_ticket

PAGE_SIZE = 25
DONE = (Status.SOLVED, Status.CLOSED)


def portal_cause(user: User) -> Cause:
    return Cause.channel(CauseKind.PORTAL, "portal", user)


@require_safe
@customer_view
def home(request: HttpRequest, user: User) -> HttpResponse:
    qs = portal_tickets(user).order_by("-created_at", "-id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "org_tickets": org_tickets_shown(user)}
    return render(request, "portal/home.html", context)


def _page(
    request: HttpRequest,
    user: User,
    ticket: Ticket,
    *,
    form: ReplyForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "ticket": ticket,
        "conversation": list(messages_for(user, ticket)),
        "can_write": may_write(user, ticket),
        "done": ticket.status in DONE,
        "form": form or ReplyForm(),
        "limits": attachments.limits(),
    }
    return render(request, "portal/ticket.html", context, status=status)


def ticket_url(ticket_id: int, anchor: str = "") -> str:
    url = reverse("portal:ticket", args=[ticket_id])
    return f"{url}#{anchor}" if anchor else url


@require_safe
@customer_view
def ticket_page(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    return _page(request, user, access_portal_ticket(user, ticket_id))


def errors_of(error: ValidationFailed | Forbidden) -> str:
    if isinstance(error, ValidationFailed):
        return "; ".join(e.message for e in error.errors)
    return str(error)


@require_POST
@customer_view
def reply(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    ticket = access_own_ticket(user, ticket_id)
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, user, ticket, form=form, status=422)
    files = form.cleaned_data["upload"]
    try:
        attachments.check_files(files)
    except attachments.Refused as refused:
        form.add_error("upload", refused.message)
        return _page(request, user, ticket, form=form, status=422)
    stored = attachments.store_files(user.pk, files)
    message = NewMessage(
        body_text=form.cleaned_data["body"], channel=Channel.PORTAL, attachments=stored
    )
    try:
        check_update_ticket(
            ticket,
            changes=ChangeSet(),
            message=message,
            expected_version=None,
            cause=portal_cause(user),
            now=utcnow(),
        )
    except (ValidationFailed, Forbidden) as error:
        attachments.discard(user.pk, stored)
        form.add_error("body", errors_of(error))
        return _page(request, user, ticket, form=form, status=422)
    messages.success(request, _("Your reply was sent."), extra_tags="reply")
    return redirect(ticket_url(ticket_id, "reply"), permanent=False)


@require_POST
@customer_view
def solve(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    """The customer closes their own request: status solved, the one field they may change
    (``customer_may_change``)."""
    ticket = access_own_ticket(user, ticket_id)
    check_update_ticket(
        ticket,
        changes=ChangeSet(values={"status": Status.SOLVED}),
        message=None,
        expected_version=None,
        cause=portal_cause(user),
        now=utcnow(),
    )
    messages.success(request, _("Marked as solved. Thank you!"), extra_tags="status")
    return redirect(ticket_url(ticket_id), permanent=False)


@require_safe
@reader_view
def download(
    request: HttpRequest, user: User, ticket_id: int, message_id: int, file_id: str
) -> FileResponse:
    """A file of a message the user can read (customers: public messages of tickets they see;
    agents: as on the workspace), always as a download."""
    ticket = access_portal_ticket(user, ticket_id)
    message = messages_for(user, ticket).filter(pk=message_id).first()
    found = attachments.find(message, file_id) if message is not None else None
    if found is None:
        raise NotFound("no such attachment")
    meta, path = found
    response = FileResponse(
        default_storage.open(path, "rb"),
        as_attachment=True,
        filename=str(meta.get("filename") or "file"),
        content_type=str(meta.get("content_type") or "application/octet-stream"),
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
