"""Bulk actions of the inbox (POST /agent/bulk): assign, set status, set priority, add tags to
the selected tickets.

Each ticket is its own update through ``check_update_ticket``, with its own transaction and the
version the inbox showed: one stale or refused ticket never holds back the others, and a ticket
someone changed since the list was loaded is reported as a conflict, not overwritten. The answer
lists every ticket's outcome: done, unchanged, conflict, forbidden (including a ticket the agent
may not see, which the selectors report as not found) or a validation error with its message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from flowdesk.accounts.models import User
from flowdesk.accounts.selectors import agents_for
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from flowdesk.tickets.models import Priority, Status
from flowdesk.tickets.selectors import access_ticket_by_id
from flowdesk.tickets.services import Cause, ChangeSet, check_update_ticket
from flowdesk.web.auth import agent_view
from flowdesk.web.ticket import parse_tags

BULK_MAX = 100


@dataclass(frozen=True)
class Outcome:
    ticket_id: int
    outcome: str  # done | unchanged | conflict | forbidden | invalid
    message: str
    subject: str = ""


def bulk_options(user: User) -> dict[str, Any]:
    return {
        "agents": list(agents_for(user, active=True).values_list("email", "name")),
        "statuses": [s.value for s in Status],
        "priorities": [p.value for p in Priority],
        "max": BULK_MAX,
    }


def _selected(raw: list[str]) -> list[tuple[int, int | None]]:
    """``id:version`` pairs as posted by the checkboxes (a bare id: no version check)."""
    out: dict[int, int | None] = {}
    for item in raw[:BULK_MAX]:
        ticket_id, _, version = item.partition(":")
        try:
            out.setdefault(int(ticket_id), int(version) if version else None)
        except ValueError:
            continue
    return list(out.items())


def change_set(post: Any, user: User) -> ChangeSet:
    values: dict[str, Any] = {}
    assignee = post.get("assignee", "").strip()
    if assignee:
        values["assignee"] = (
            user.email if assignee == "me" else None if assignee == "none" else assignee
        )
    for key in ("status", "priority"):
        if post.get(key, "").strip():
            values[key] = post[key].strip()
    return ChangeSet(values=values, add={"tags": parse_tags(post.get("add_tags", ""))})


def apply_one(user: User, ticket_id: int, version: int | None, changes: ChangeSet) -> Outcome:
    try:
        t = access_ticket_by_id(user, ticket_id)
    except NotFound:
        return Outcome(ticket_id, "forbidden", _("not visible to you"))
    try:
        updated = check_update_ticket(
            t,
            changes=changes,
            message=None,
            expected_version=version,
            cause=Cause.for_user(user),
            now=utcnow(),
        )
    except Conflict as error:
        text = (
            _("changed by someone else (now version %(n)s)") % {"n": error.current_version}
            if error.current_version
            else _("changed by someone else")
        )
        return Outcome(ticket_id, "conflict", text, t.subject)
    except Forbidden as error:
        return Outcome(ticket_id, "forbidden", str(error), t.subject)
    except ValidationFailed as error:
        text = "; ".join(f"{e.field}: {e.message}" for e in error.errors)
        return Outcome(ticket_id, "invalid", text, t.subject)
    if updated.version == t.version:
        return Outcome(ticket_id, "unchanged", _("already so"), t.subject)
    return Outcome(ticket_id, "done", _("now version %(n)s") % {"n": updated.version}, t.subject)


@require_POST
@agent_view
def bulk(request: HttpRequest, user: User) -> HttpResponse:
    selected = _selected(request.POST.getlist("ticket"))
    changes = change_set(request.POST, user)
    error = ""
    if not selected:
        error = _("Select at least one ticket.")
    elif not changes:
        error = _("Choose what to change: an assignee, a status, a priority or tags to add.")
    results = [] if error else [apply_one(user, i, v, changes) for i, v in selected]
    tally: dict[str, int] = {}
    for r in results:
        tally[r.outcome] = tally.get(r.outcome, 0) + 1
    context = {"results": results, "tally": sorted(tally.items()), "error": error}
    partial = bool(request.headers.get("HX-Request"))
    template = "web/_bulk_result.html" if partial else "web/bulk.html"
    return render(request, template, context, status=422 if error else 200)
