"""The agent inbox (/agent/): views with live counts, sorting, search and keyset pagination.

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
    label: str
    condition: Callable[[User, list[int], datetime], Q]


VIEWS = {
    v.key: v
    for v in (
        InboxView("mine", "Mine", lambda u, teams, now: Q(assignee=u, status__in=UNSOLVED)),
        InboxView(
            "unassigned",
            "Unassigned",
            lambda u, teams, now: Q(assignee__isnull=True, status__in=UNSOLVED),
        ),
        InboxView(
            "teams", "My teams", lambda u, teams, now: Q(team__in=teams, status__in=UNSOLVED)
        ),
        InboxView(
            "urgent",
            "Urgent",
            lambda u, teams, now: Q(status__in=UNSOLVED, priority=Priority.URGENT),
        ),
        InboxView("pending", "Pending", lambda u, teams, now: Q(status=Status.PENDING)),
        InboxView(
            "solved",
            f"Solved ({RECENT_DAYS} days)",
            lambda u, teams, now: Q(
                status__in=(Status.SOLVED, Status.CLOSED),
                solved_at__gte=now - timedelta(days=RECENT_DAYS),
            ),
        ),
        InboxView("all", "All tickets", lambda u, teams, now: Q()),
    )
}

#: sort name -> (label, the key columns, all descending; the last one is always the id)
SORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "updated": ("Last updated", ("updated_at", "id")),
    "priority": ("Priority", ("priority_rank", "updated_at", "id")),
    "created": ("Newest", ("created_at", "id")),
    "relevance": ("Best match (with a search)", ("search_rank", "id")),
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


@require_safe
@agent_view
def inbox(request: HttpRequest, user: User) -> HttpResponse:
    now = utcnow()
    visible = tickets_for(user)
    teams = list(user.teams.values_list("pk", flat=True))
    saved = list(saved_views_for(user))
    current = next((v for v in saved if str(v.pk) == request.GET.get("saved")), None)
    view = VIEWS.get(request.GET.get("view", ""), VIEWS["mine"])
    q = request.GET.get("q", "").strip()[:200]
    default_sort = current.sort if current else ("relevance" if q else "updated")
    sort = request.GET.get("sort") or default_sort
    if sort not in SORTS or (
        sort == "relevance" and not (q or (current and current.filters.get("q")))
    ):
        sort = "updated"
    size = _int(request.GET.get("size"), PAGE_SIZE, 1, PAGE_SIZE_MAX)
    counts = {
        key: capped_count(visible.filter(v.condition(user, teams, now))) for key, v in VIEWS.items()
    }
    saved_counts = [(v, capped_count(apply_filters(visible, v.filters))) for v in saved]
    if current is not None:
        qs = apply_filters(visible, current.filters)
    else:
        qs = visible.filter(view.condition(user, teams, now))
    qs = search(qs, q) if q else qs
    page = page_of(qs, sort, request.GET.get("after", ""), size)
    context = {
        "views": [(v, counts[k]) for k, v in VIEWS.items()],
        "saved_views": saved_counts,
        "current_saved": current,
        "view": view,
        "title": current.name if current else view.label,
        "base_query": f"saved={current.pk}" if current else f"view={view.key}",
        "sorts": [(k, label) for k, (label, _) in SORTS.items()],
        "sort": sort,
        "q": q,
        "size": size if size != PAGE_SIZE else None,
        "tickets": page.tickets,
        "next_cursor": page.next_cursor,
        "paged": page.paged,
        "count_cap": COUNT_CAP,
        "now": now,
        "bulk": bulk_options(user),
    }
    template = "web/_ticket_list.html" if request.headers.get("HX-Request") else "web/inbox.html"
    return render(request, template, context)
