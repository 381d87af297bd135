"""Saved views (/agent/views): named inbox filters over the API's ticket-list fields.

Admins manage the shared views (everyone's inbox shows them); every agent may save personal
views, which only they see and manage. A view's filters are applied to ``tickets_for(user)``,
so a shared view never shows anyone a ticket outside their scope.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from flowdesk.accounts.models import Team, User
from flowdesk.core.errors import Forbidden, NotFound
from flowdesk.tickets.models import Channel, Priority, Status
from flowdesk.web.auth import agent_view
from flowdesk.web.filters import clean_filters, describe
from flowdesk.web.inbox import SORTS, saved_views_for
from flowdesk.web.models import SavedView


def check_can_manage(user: User, view: SavedView | None, *, shared: bool) -> None:
    """Admins manage shared views; an agent only their own."""
    if shared and not user.is_admin:
        raise Forbidden("only admins manage shared views")
    if view is not None and view.owner_id is not None and view.owner_id != user.pk:
        raise NotFound(f"saved view {view.pk} not found")


def _form_context(user: User, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    return {
        "saved": [(v, describe(v.filters)) for v in saved_views_for(user)],
        "values": values,
        "errors": errors,
        "statuses": [s.value for s in Status],
        "priorities": [p.value for p in Priority],
        "channels": [c.value for c in Channel],
        "teams": list(Team.objects.order_by("name").values_list("name", flat=True)),
        "sorts": [(k, label) for k, (label, _) in SORTS.items()],
    }


def _values_of(view: SavedView) -> dict[str, Any]:
    """A stored view as the form's values (the inverse of clean_filters)."""
    f = view.filters
    return {
        **{k: f.get(k, "") for k in ("team", "assignee", "channel", "q")},
        "status": f.get("status", []),
        "priority": f.get("priority", []),
        "tags": " ".join(f.get("tags", [])),
        "name": view.name,
        "sort": view.sort,
        "shared": view.owner_id is None,
        "view_id": view.pk,
    }


def _editable(user: User, raw: str | None) -> SavedView | None:
    """The view named by ``raw`` (an id) that ``user`` may change; None when none is named."""
    if not raw:
        return None
    ok = raw.isascii() and raw.isdigit() and len(raw) < 10  # an id that fits the column
    view = SavedView.objects.filter(pk=int(raw)).first() if ok else None
    if view is None:
        raise NotFound(f"saved view {raw} not found")
    check_can_manage(user, view, shared=view.owner_id is None)
    return view


@require_http_methods(["GET", "HEAD", "POST"])
@agent_view
def saved_views(request: HttpRequest, user: User) -> HttpResponse:
    """The list and a form that creates a view, or changes one (``?edit=<id>``, then a POST
    with ``view_id``): the same validation either way; a shared view stays admins' to change."""
    if request.method != "POST":
        editing = _editable(user, request.GET.get("edit"))
        values = _values_of(editing) if editing else {}
        return render(request, "web/saved_views.html", _form_context(user, values, {}))
    post = request.POST
    view = _editable(user, post.get("view_id"))
    shared = post.get("shared") == "on"
    check_can_manage(user, view, shared=shared)
    data = {k: post.getlist(k) if k in ("status", "priority") else post.get(k, "") for k in post}
    filters, errors = clean_filters(data)
    name = post.get("name", "").strip()[:80]
    if not name:
        errors["name"] = _("a view needs a name")
    sort = post.get("sort", "updated")
    if sort not in SORTS:
        errors["sort"] = _("unknown sort: %(sort)s") % {"sort": sort}
    if errors:
        values = {**data, "name": name, "shared": shared, "view_id": view.pk if view else ""}
        return render(
            request, "web/saved_views.html", _form_context(user, values, errors), status=422
        )
    owner = None if shared else (view.owner if view and view.owner_id else user)
    if view is None:
        view = SavedView.objects.create(name=name, owner=owner, filters=filters, sort=sort)
        done = _("Saved view “%(name)s” created.")
    else:
        view.name, view.owner, view.filters, view.sort = name, owner, filters, sort
        view.save(update_fields=["name", "owner", "filters", "sort"])
        done = _("Saved view “%(name)s” changed.")
    messages.success(request, done % {"name": view.name}, extra_tags="views")
    return redirect(f"{reverse('web:inbox')}?saved={view.pk}")


@require_POST
@agent_view
def delete_saved_view(request: HttpRequest, user: User, view_id: int) -> HttpResponse:
    view = SavedView.objects.filter(pk=view_id).first()
    if view is None:
        raise NotFound(f"saved view {view_id} not found")
    check_can_manage(user, view, shared=view.owner_id is None)
    view.delete()
    messages.success(
        request, _("Saved view “%(name)s” deleted.") % {"name": view.name}, extra_tags="views"
    )
    return redirect("web:saved_views")
