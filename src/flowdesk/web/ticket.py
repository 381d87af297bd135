"""The ticket page (/agent/tickets/<id>): conversation, reply and note boxes, the field sidebar,
the customer sidebar and the history timeline; and the explanation of a rule-caused update.

Reads go through the selectors the API uses (``access_ticket_by_id``, ``messages_for``,
``check_can_read_history``); writes through ``check_update_ticket``, the path of the API's
``PATCH /api/tickets/{id}`` and ``POST /api/tickets/{id}/messages``, so a page can do exactly
what the API allows and every change is recorded the same way.

The field form carries the version it was loaded at, the values it showed and the last event it
saw. Only the fields the agent changed are sent, with that version: a stale save is refused by
the service, and the page says who changed what since (from the event log), keeps the agent's
edits and takes the other changes in, so saving again loses neither.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from flowdesk.accounts.models import Team, User
from flowdesk.accounts.selectors import agents_for, require_directory_access
from flowdesk.automation.explain import explain_update
from flowdesk.automation.textreport import explanation_lines
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import Conflict, NotFound, ValidationFailed
from flowdesk.tickets.models import (
    Channel,
    CustomFieldDef,
    Priority,
    Status,
    Ticket,
    TicketType,
    TicketUpdate,
)
from flowdesk.tickets.selectors import (
    access_ticket_by_id,
    check_can_read_history,
    messages_for,
    tickets_for,
)
from flowdesk.tickets.services import Cause, ChangeSet, NewMessage, check_update_ticket
from flowdesk.web.auth import agent_view
from flowdesk.web.history import changes_since, last_event_id, timeline
from flowdesk.web.presence import POLL_SECONDS
from flowdesk.web.replybox import article_panel, macro_panel
from flowdesk.web.templatetags.web_tags import word

BASE_FIELDS = ("status", "priority", "type", "assignee", "team", "tags")
OTHER_TICKETS = 10


def custom_defs() -> list[CustomFieldDef]:
    """The admin's custom fields, shown under the base fields (as ``custom.<key>``)."""
    return list(CustomFieldDef.objects.order_by("key"))


def fields_of(defs: list[CustomFieldDef]) -> tuple[str, ...]:
    return BASE_FIELDS + tuple(f"custom.{d.key}" for d in defs)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_tags(raw: str) -> list[str]:
    """Tags as typed: separated by commas or spaces, lower-cased, each once, in order."""
    seen: dict[str, None] = {}
    for tag in raw.replace(",", " ").split():
        seen.setdefault(tag.lower(), None)
    return list(seen)


def current_values(t: Ticket, defs: list[CustomFieldDef] | None = None) -> dict[str, str]:
    values = {
        "status": t.status,
        "priority": t.priority,
        "type": t.type or "",
        "assignee": t.assignee.email if t.assignee else "",
        "team": t.team.name if t.team else "",
        "tags": " ".join(t.tags),
    }
    custom = t.custom_fields or {}
    for d in custom_defs() if defs is None else defs:
        values[f"custom.{d.key}"] = _text(custom.get(d.key))
    return values


def _same(field: str, a: str, b: str) -> bool:
    return parse_tags(a) == parse_tags(b) if field == "tags" else a.strip() == b.strip()


def _change_value(field: str, raw: str, kinds: dict[str, str]) -> Any:
    """The posted text as the ticket services take it: tags a list, a custom field's value of
    its kind (text the services refuse, naming the field, when it is not one), empty clears."""
    if field == "tags":
        return parse_tags(raw)
    text = raw.strip()
    if not text:
        return None  # an empty assignee, team, type or custom field clears it
    kind = kinds.get(field)
    try:
        if kind == "int":
            return int(text)
        if kind == "number":
            number = float(text)
            return number if math.isfinite(number) else text  # nan/inf: refused by name
    except ValueError:
        return text
    if kind == "bool":
        return {"true": True, "false": False}.get(text, text)
    return text


def _form(ticket: Ticket, **extra: Any) -> dict[str, Any]:
    values = current_values(ticket, extra.pop("defs", None))
    return {
        "values": values,
        "orig": values,
        "version": ticket.version,
        "seen": last_event_id(ticket),
        "errors": {},
        "conflict": [],
        "clashes": set(),
        **extra,
    }


def page(
    request: HttpRequest,
    user: User,
    ticket: Ticket,
    *,
    form: dict[str, Any] | None = None,
    reply: dict[str, str] | None = None,
    macros: dict[str, Any] | None = None,
    articles: dict[str, Any] | None = None,
    partial: str = "",
    status: int = 200,
) -> HttpResponse:
    """The ticket page; an htmx request for one of its panels (``partial``) gets that panel."""
    if partial and request.headers.get("HX-Request"):
        context: dict[str, Any] = {"ticket": ticket, "macros": macros, "articles": articles}
        return render(request, partial, context, status=status)
    check_can_read_history(user)
    require_directory_access(user)
    others = (
        tickets_for(user)
        .filter(requester=ticket.requester)
        .exclude(pk=ticket.pk)
        .order_by("-updated_at", "-id")[:OTHER_TICKETS]
    )
    defs = custom_defs()
    form = form or _form(ticket, defs=defs)
    context = {
        "ticket": ticket,
        "conversation": list(messages_for(user, ticket).select_related("mail")),
        "timeline": timeline(ticket),
        "form": form,
        "reply": reply or {"body": "", "kind": "reply", "error": ""},
        "macros": macros or macro_panel(user, ticket, seen=form["seen"]),
        "articles": articles or article_panel(request, ticket),
        "statuses": [s.value for s in Status],
        "priorities": [p.value for p in Priority],
        "types": [t.value for t in TicketType],
        "custom_defs": defs,
        "agents": list(agents_for(user, active=True).values_list("email", "name")),
        "teams": list(Team.objects.order_by("name").values_list("name", flat=True)),
        "other_tickets": list(others),
        "fields": fields_of(defs),
        "presence_poll": POLL_SECONDS,
    }
    return render(request, "web/ticket.html", context, status=status)


def redirect_to_ticket(ticket_id: int, anchor: str = "") -> HttpResponse:
    url = reverse("web:ticket", args=[ticket_id])
    return redirect(f"{url}#{anchor}" if anchor else url, permanent=False)


@require_safe
@agent_view
def ticket_page(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    return page(request, user, access_ticket_by_id(user, ticket_id))


@require_POST
@agent_view
def add_message(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    """A public reply or an internal note, through the path of POST /api/tickets/{id}/messages
    (no version: a message never overwrites anything, so it is never refused as stale)."""
    ticket = access_ticket_by_id(user, ticket_id)
    body = request.POST.get("body", "")
    public = request.POST.get("kind", "reply") != "note"
    try:
        check_update_ticket(
            ticket,
            changes=ChangeSet(),
            message=NewMessage(body_text=body, public=public, channel=Channel.WEB),
            expected_version=None,
            cause=Cause.for_user(user),
            now=utcnow(),
        )
    except ValidationFailed as error:
        reply = {
            "body": body,
            "kind": "reply" if public else "note",
            "error": "; ".join(e.message for e in error.errors),
        }
        return page(request, user, ticket, reply=reply, status=422)
    messages.success(request, _("Reply sent.") if public else _("Note added."), extra_tags="reply")
    return redirect_to_ticket(ticket_id, "reply")


@require_POST
@agent_view
def save_fields(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    ticket = access_ticket_by_id(user, ticket_id)
    defs = custom_defs()
    fields = fields_of(defs)
    kinds = {f"custom.{d.key}": d.kind for d in defs}
    posted = {f: request.POST.get(f, "") for f in fields}
    orig = {f: request.POST.get(f"orig_{f}", "") for f in fields}
    changed = [f for f in fields if f in request.POST and not _same(f, posted[f], orig[f])]
    version = int_or_none(request.POST.get("version"))
    seen = int_or_none(request.POST.get("seen")) or 0
    if not changed:
        messages.info(request, _("Nothing to save: no field was changed."), extra_tags="fields")
        return redirect_to_ticket(ticket_id, "fields")
    try:
        check_update_ticket(
            ticket,
            changes=ChangeSet(values={f: _change_value(f, posted[f], kinds) for f in changed}),
            message=None,
            expected_version=version,
            cause=Cause.for_user(user),
            now=utcnow(),
        )
    except Conflict:
        current = access_ticket_by_id(user, ticket_id)
        since = changes_since(current, seen)
        # Their changes are taken in; the agent's own edits stay in the form, unsaved.
        theirs = current_values(current, defs)
        values = {f: posted[f] if f in changed else theirs[f] for f in fields}
        clashes = {f for f in changed if any(e.field == f for e in since)}
        form = _form(current, values=values, conflict=since, clashes=clashes, theirs=theirs)
        return page(request, user, current, form=form, status=409)
    except ValidationFailed as error:
        errors = {_form_field(e.field): e.message for e in error.errors}
        form = _form(ticket, values=posted, orig=orig, version=version, seen=seen, errors=errors)
        return page(request, user, ticket, form=form, status=422)
    saved = ", ".join(str(word(f)) for f in changed)
    messages.success(request, _("Saved: %(fields)s.") % {"fields": saved}, extra_tags="fields")
    return redirect_to_ticket(ticket_id, "fields")


def _form_field(name: str) -> str:
    """The form field an error of the services names (``custom_fields.plan`` is
    ``custom.plan``; ``tags.0`` is ``tags``)."""
    if name.startswith("custom_fields."):
        return "custom." + name.removeprefix("custom_fields.").split(".")[0]
    return name.split(".")[0]


def int_or_none(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


@require_safe
@agent_view
def explanation_page(request: HttpRequest, user: User, ticket_id: int) -> HttpResponse:
    """Why the rules did what they did on one update: the explanation of
    GET /api/tickets/{id}/explanation, as the CLI renders it."""
    check_can_read_history(user)
    ticket = access_ticket_by_id(user, ticket_id)
    update = int_or_none(request.GET.get("update"))
    qs = TicketUpdate.objects.filter(ticket=ticket, ruleset_version__isnull=False)
    row = qs.filter(pk=update).first() if update is not None else qs.order_by("-id").first()
    if row is None:
        raise NotFound(f"no update of ticket {ticket_id} evaluated by rules")
    lines = list(explanation_lines(explain_update(row)))
    context = {"ticket": ticket, "update": row, "lines": lines}
    return render(request, "web/explanation.html", context)
