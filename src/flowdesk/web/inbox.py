"""The agent inbox (/agent/): views with live counts, sorting, search and keyset pagination.

The page is the list alone; the views menu with its counts is a second request
(``/agent/counts``, asked for by htmx once the page is shown; ``?counts=1`` puts them in the page
for a browser without JavaScript), so a slow count never holds the list back.

Everything starts from ``tickets_for(user)``, the selector the API lists with, so a view can never
show a ticket the API would hide. Each view is one indexed filter (``assignee, status``,
``team, status``, ``status, priority``); its count is capped (COUNT over at most COUNT_CAP + 1
rows), so counting stays cheap on a big table. Pages are keyset-paginated (``after`` is the sort
key of the last row shown), so page 1,000 costs what page 1 costs; the number of queries of a
page does not depend on its size (the selector joins requester, organization, assignee and team;
tags live on the ticket row).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from flowdesk.accounts.models import User
from flowdesk.core.clock import utcnow
from flowdesk.tickets.models import PRIORITY_RANK, Priority, Status, Ticket
from flowdesk.tickets.selectors import TICKET_RELATED, tickets_for
from flowdesk.web.auth import agent_view
from flowdesk.web.bulk import bulk_options
from flowdesk.web.filters import apply_filters
from flowdesk.web.models import SavedView
from flowdesk.web.search import search

UNSOLVED = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)
COUNT_CAP = 999
PAGE_SIZE = 25
PAGE_SIZE_MAX = 100
RECENT_DAYS = 7
SAVED_MAX = 20
RELEVANCE_MAX = 1000


@dataclass(frozen=True)
class InboxView:
    key: str
    label: str | Promise
    condition: Callable[[User, list[int], datetime], Q]


VIEWS = {
    v.key: v
    for v in (
        InboxView("mine", _("Mine"), lambda u, teams, now: Q(assignee=u, status__in=UNSOLVED)),
        InboxView(
            "unassigned",
            _("Unassigned"),
            lambda u, teams, now: Q(assignee__isnull=True, status__in=UNSOLVED),
        ),
        InboxView(
            "teams", _("My teams"), lambda u, teams, now: Q(team__in=teams, status__in=UNSOLVED)
        ),
        InboxView(
            "urgent",
            _("Urgent"),
            lambda u, teams, now: Q(status__in=UNSOLVED, priority=Priority.URGENT),
        ),
        InboxView("pending", _("Pending"), lambda u, teams, now: Q(status=Status.PENDING)),
        InboxView(
            "solved",
            format_lazy(_("Solved ({days} days)"), days=RECENT_DAYS),
            lambda u, teams, now: Q(
                status__in=(Status.SOLVED, Status.CLOSED),
                solved_at__gte=now - timedelta(days=RECENT_DAYS),
            ),
        ),
        InboxView("all", _("All tickets"), lambda u, teams, now: Q()),
    )
}

#: sort name -> (label, the key columns, all descending; the last one is always the id)
SORTS: dict[str, tuple[str | Promise, tuple[str, ...]]] = {
    "updated": (_("Last updated"), ("updated_at", "id")),
    "priority": (_("Priority"), ("priority_rank", "updated_at", "id")),
    "created": (_("Newest"), ("created_at", "id")),
    "relevance": (_("Best match (with a search)"), ("search_rank", "id")),
}


def _encode_cursor(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode_cursor(raw: str, keys: tuple[str, ...]) -> list[Any] | None:
    """The sort key of the last row shown; None (the first page) for anything malformed."""
    try:
        values = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if not isinstance(values, list) or len(values) != len(keys):
            return None
        return [
            datetime.fromisoformat(v) if k.endswith("_at") else int(v)
            for k, v in zip(keys, values, strict=True)
        ]
    except (ValueError, TypeError):
        return None


def _after(keys: tuple[str, ...], values: list[Any]) -> Q:
    """Rows after ``values`` in descending lexicographic order of ``keys``."""
    condition = Q()
    for i, key in enumerate(keys):
        step = Q(**{f"{key}__lt": values[i]}, **dict(zip(keys[:i], values[:i], strict=True)))
        condition |= step
    return condition


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(raw or default)))
    except ValueError:
        return default


def capped_count(qs: QuerySet[Ticket]) -> int:
    return qs.order_by()[: COUNT_CAP + 1].count()


def saved_views_for(user: User) -> QuerySet[SavedView]:
    """The shared views and the user's own, bounded (each shows a count)."""
    qs = SavedView.objects.filter(Q(owner__isnull=True) | Q(owner=user))
    return qs.order_by(F("owner").asc(nulls_first=True), "position", "name", "id")[:SAVED_MAX]


@dataclass
class Page:
    tickets: list[Ticket]
    next_cursor: str
    paged: bool


def page_of(qs: QuerySet[Ticket], sort: str, after: str, size: int) -> Page:
    """One page of ``qs`` in ``sort`` order: keyset pages, or offsets for relevance (search
    results are read from the top; at most RELEVANCE_MAX deep)."""
    if sort == "relevance":
        cursor = _decode_cursor(after, ("offset",))
        start = min(cursor[0], RELEVANCE_MAX) if cursor else 0
        rows = list(qs.order_by("-search_rank", "-id")[start : start + size + 1])
        more = len(rows) > size and start + size < RELEVANCE_MAX
        return Page(rows[:size], _encode_cursor([start + size]) if more else "", start > 0)
    keys = SORTS[sort][1]
    if sort == "priority":
        qs = qs.annotate(priority_rank=PRIORITY_RANK)
    cursor = _decode_cursor(after, keys)
    if cursor is not None:
        qs = qs.filter(_after(keys, cursor))
    # Two statements: the ids and sort keys of the page first (narrow rows, so a database that
    # must sort the matches sorts only those and joins nothing for them), then those tickets
    # with their related rows.
    heads = list(qs.order_by(*(f"-{k}" for k in keys)).values_list("pk", *keys)[: size + 1])
    more = len(heads) > size
    heads = heads[:size]
    found = Ticket.objects.select_related(*TICKET_RELATED).in_bulk([h[0] for h in heads])
    page = [found[h[0]] for h in heads if h[0] in found]
    next_cursor = _encode_cursor(list(heads[-1][1:])) if more and heads else ""
    return Page(page, next_cursor, cursor is not None)


@dataclass
class Scope:
    """What both the list and the counts read: the visible tickets, the agent's teams, the
    saved views and which view (built in or saved) is shown."""

    visible: QuerySet[Ticket]
    teams: list[int]
    saved: list[SavedView]
    current: SavedView | None
    view: InboxView
    now: datetime

    @property
    def base_query(self) -> str:
        return f"saved={self.current.pk}" if self.current else f"view={self.view.key}"


def scope_of(request: HttpRequest, user: User) -> Scope:
    saved = list(saved_views_for(user))
    return Scope(
        visible=tickets_for(user),
        teams=list(user.teams.values_list("pk", flat=True)),
        saved=saved,
        current=next((v for v in saved if str(v.pk) == request.GET.get("saved")), None),
        view=VIEWS.get(request.GET.get("view", ""), VIEWS["mine"]),
        now=utcnow(),
    )


def nav_context(user: User, scope: Scope, *, counted: bool) -> dict[str, Any]:
    """The views menu; with ``counted``, each view's capped count (one COUNT per view)."""
    views: list[tuple[InboxView, int | None]] = [
        (
            v,
            capped_count(scope.visible.filter(v.condition(user, scope.teams, scope.now)))
            if counted
            else None,
        )
        for v in VIEWS.values()
    ]
    saved: list[tuple[SavedView, int | None]] = [
        (v, capped_count(apply_filters(scope.visible, v.filters)) if counted else None)
        for v in scope.saved
    ]
    return {
        "views": views,
        "saved_views": saved,
        "counted": counted,
        "current_saved": scope.current,
        "view": scope.view,
        "base_query": scope.base_query,
        "count_cap": COUNT_CAP,
    }


@require_safe
@agent_view
def inbox(request: HttpRequest, user: User) -> HttpResponse:
    """The list first: the counts come from ``inbox_counts`` (htmx, after the page has loaded),
    or inline with ``counts=1`` (the link a browser without JavaScript follows)."""
    scope = scope_of(request, user)
    current, view = scope.current, scope.view
    q = request.GET.get("q", "").strip()[:200]
    default_sort = current.sort if current else ("relevance" if q else "updated")
    sort = request.GET.get("sort") or default_sort
    if sort not in SORTS or (
        sort == "relevance" and not (q or (current and current.filters.get("q")))
    ):
        sort = "updated"
    size = _int(request.GET.get("size"), PAGE_SIZE, 1, PAGE_SIZE_MAX)
    if current is not None:
        qs = apply_filters(scope.visible, current.filters)
    else:
        qs = scope.visible.filter(view.condition(user, scope.teams, scope.now))
    qs = search(qs, q) if q else qs
    page = page_of(qs, sort, request.GET.get("after", ""), size)
    partial = bool(request.headers.get("HX-Request"))
    context = {
        **nav_context(user, scope, counted=request.GET.get("counts") == "1" and not partial),
        "title": current.name if current else view.label,
        "sorts": [(k, label) for k, (label, _) in SORTS.items()],
        "sort": sort,
        "q": q,
        "size": size if size != PAGE_SIZE else None,
        "tickets": page.tickets,
        "next_cursor": page.next_cursor,
        "paged": page.paged,
        "now": scope.now,
        "bulk": bulk_options(user),
    }
    template = "web/_ticket_list.html" if partial else "web/inbox.html"
    return render(request, template, context)


@require_safe
@agent_view
def inbox_counts(request: HttpRequest, user: User) -> HttpResponse:
    """The views menu with its counts (``?view=`` or ``?saved=`` marks the current one): what
    the inbox page asks for once its list is shown."""
    context = nav_context(user, scope_of(request, user), counted=True)
    return render(request, "web/_views_nav.html", context)
