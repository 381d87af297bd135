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

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from flowdesk.accounts.models import User
from flowdesk.core.clock import utcnow
from flowdesk.tickets.models import PRIORITY_RANK, Priority, Status, Ticket
from flowdesk.tickets.selectors import TICKET_RELATED, tickets_for
from flowdesk.web.auth import agent_view

UNSOLVED = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)
COUNT_CAP = 999
PAGE_SIZE = 25
PAGE_SIZE_MAX = 100
RECENT_DAYS = 7


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
    )
}

#: sort name -> (label, the key columns, all descending; the last one is always the id)
SORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "updated": ("Last updated", ("updated_at", "id")),
    "priority": ("Priority", ("priority_rank", "updated_at", "id")),
    "created": ("Newest", ("created_at", "id")),
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


def _search(qs: QuerySet[Ticket], q: str) -> QuerySet[Ticket]:
    for word in q.split():
        qs = qs.filter(subject__icontains=word)
    return qs


def capped_count(qs: QuerySet[Ticket]) -> int:
    return qs.order_by()[: COUNT_CAP + 1].count()


def page_of(
    qs: QuerySet[Ticket], keys: tuple[str, ...], size: int
) -> tuple[list[Ticket], bool, list[Any]]:
    """One page in two statements: the ids and sort keys of the page (narrow rows, so a
    database that must sort the matches sorts only those, and joins nothing for them), then
    those tickets with their related rows. Returns the page, whether more follow, and the last
    row's sort keys (the next page's cursor)."""
    heads = list(qs.order_by(*(f"-{k}" for k in keys)).values_list("pk", *keys)[: size + 1])
    more = len(heads) > size
    heads = heads[:size]
    found = qs.model.objects.select_related(*TICKET_RELATED).in_bulk([h[0] for h in heads])
    page = [found[h[0]] for h in heads if h[0] in found]
    return page, more, list(heads[-1][1:]) if heads else []


@require_safe
@agent_view
def inbox(request: HttpRequest, user: User) -> HttpResponse:
    now = utcnow()
    visible = tickets_for(user)
    teams = list(user.teams.values_list("pk", flat=True))
    view = VIEWS.get(request.GET.get("view", ""), VIEWS["mine"])
    sort = request.GET.get("sort", "") if request.GET.get("sort") in SORTS else "updated"
    q = request.GET.get("q", "").strip()[:200]
    size = _int(request.GET.get("size"), PAGE_SIZE, 1, PAGE_SIZE_MAX)
    counts = {
        key: capped_count(visible.filter(v.condition(user, teams, now))) for key, v in VIEWS.items()
    }
    keys = SORTS[sort][1]
    qs = _search(visible.filter(view.condition(user, teams, now)), q)
    if sort == "priority":
        qs = qs.annotate(priority_rank=PRIORITY_RANK)
    cursor = _decode_cursor(request.GET.get("after", ""), keys)
    if cursor is not None:
        qs = qs.filter(_after(keys, cursor))
    page, more, last = page_of(qs, keys, size)
    next_cursor = _encode_cursor(last) if more else ""
    context = {
        "views": [(v, counts[k]) for k, v in VIEWS.items()],
        "view": view,
        "sorts": [(k, label) for k, (label, _) in SORTS.items()],
        "sort": sort,
        "q": q,
        "size": size if size != PAGE_SIZE else None,
        "tickets": page,
        "next_cursor": next_cursor,
        "paged": cursor is not None,
        "count_cap": COUNT_CAP,
        "now": now,
    }
    template = "web/_ticket_list.html" if request.headers.get("HX-Request") else "web/inbox.html"
    return render(request, template, context)
