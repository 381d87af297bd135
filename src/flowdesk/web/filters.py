"""The filters of a saved view: the fields the API's ticket list accepts (``GET /api/tickets``:
status, priority, channel, assignee, team, tag, q), with the same meaning: status and priority
match any of their values; assignee and team take an e-mail or name, or ``none``; every tag must
be on the ticket; ``q`` is the inbox's full-text search (flowdesk.web.search)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from flowdesk.tickets.models import Channel, Priority, Status, Ticket
from flowdesk.web.search import search

KEYS = ("status", "priority", "channel", "assignee", "team", "tags", "q")


def clean_filters(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Filters as stored (empty ones left out), and an error per bad field."""
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, choices in (("status", Status), ("priority", Priority)):
        values = [str(v) for v in data.get(key) or []]
        bad = [v for v in values if v not in {c.value for c in choices}]
        if bad:
            errors[key] = f"unknown {key}: {', '.join(bad)}"
        elif values:
            out[key] = values
    channel = str(data.get("channel") or "").strip()
    if channel and channel not in {c.value for c in Channel}:
        errors["channel"] = f"unknown channel: {channel}"
    elif channel:
        out["channel"] = channel
    for key in ("assignee", "team", "q"):
        value = str(data.get(key) or "").strip()[:200]
        if value:
            out[key] = value.lower() if key == "assignee" else value
    tags = data.get("tags") or []
    tags = tags.replace(",", " ").split() if isinstance(tags, str) else tags
    if tags:
        out["tags"] = sorted({str(t).lower() for t in tags})
    return out, errors


def apply_filters(qs: QuerySet[Ticket], filters: dict[str, Any]) -> QuerySet[Ticket]:
    if filters.get("status"):
        qs = qs.filter(status__in=filters["status"])
    if filters.get("priority"):
        qs = qs.filter(priority__in=filters["priority"])
    if filters.get("channel"):
        qs = qs.filter(channel=filters["channel"])
    for key, lookup in (("assignee", "assignee__email"), ("team", "team__name")):
        value = filters.get(key)
        if value == "none":
            qs = qs.filter(**{f"{key}__isnull": True})
        elif value:
            qs = qs.filter(**{lookup: value})
    for tag in filters.get("tags") or ():
        qs = qs.filter(tag_rows__name=tag)
    if filters.get("q"):
        qs = search(qs, filters["q"])
    return qs


def describe(filters: dict[str, Any]) -> str:
    """One line for the views page: "status: open, pending · team: Tier 1"."""
    parts = []
    for key in KEYS:
        value = filters.get(key)
        if value:
            parts.append(f"{key}: {', '.join(value) if isinstance(value, list) else value}")
    return " · ".join(parts) or str(_("all tickets"))
