"""The flat snapshot of a ticket that the engine reads (see docs/engine-contract.md).

Two forms: the engine form (tags/followers as frozensets) and the JSON form stored on
TicketUpdate (sorted lists), so a stored snapshot reproduces the engine input exactly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowdesk.tickets.models import Message, Ticket

SET_KEYS = ("tags", "followers")
# Keys derived from the clock or the message list: never reported as "changed" by an update.
DERIVED_KEYS = frozenset(
    {
        "message_count",
        "age_hours",
        "hours_since_update",
        "latest_message.body",
        "latest_message.author_kind",
        "latest_message.public",
    }
)


def build_snapshot(ticket: Ticket, now: datetime) -> dict[str, Any]:
    requester = ticket.requester
    org = ticket.organization
    latest = Message.objects.filter(ticket=ticket).order_by("-id").first()
    snap: dict[str, Any] = {
        "id": ticket.pk,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "type": ticket.type,
        "channel": ticket.channel,
        "tags": frozenset(ticket.tags),
        "assignee": ticket.assignee.email if ticket.assignee_id and ticket.assignee else None,
        "team": ticket.team.name if ticket.team_id and ticket.team else None,
        "followers": frozenset(ticket.followers.values_list("email", flat=True)),
        "requester.email": requester.email,
        "requester.name": requester.name,
        "organization.name": org.name if org else None,
        "message_count": ticket.message_count,
        "age_hours": round((now - ticket.created_at).total_seconds() / 3600, 4),
        "hours_since_update": round((now - ticket.updated_at).total_seconds() / 3600, 4),
        "latest_message.body": latest.body_text if latest else None,
        "latest_message.author_kind": latest.author_kind if latest else None,
        "latest_message.public": latest.public if latest else None,
    }
    for key, value in (requester.attributes or {}).items():
        snap[f"requester.{key}"] = value
    for key, value in ((org.attributes if org else None) or {}).items():
        snap[f"organization.{key}"] = value
    for key, value in (ticket.custom_fields or {}).items():
        snap[f"custom.{key}"] = value
    return snap


def to_json(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: sorted(v) if isinstance(v, frozenset | set) else v for k, v in snapshot.items()}


def from_json(data: dict[str, Any]) -> dict[str, Any]:
    snap = dict(data)
    for key in SET_KEYS:
        if snap.get(key) is not None:
            snap[key] = frozenset(snap[key])
    return snap


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Field changes an update made itself (derived keys excluded)."""
    changes: dict[str, tuple[Any, Any]] = {}
    for key in before.keys() | after.keys():
        if key in DERIVED_KEYS:
            continue
        old, new = before.get(key), after.get(key)
        if old != new:
            changes[key] = (old, new)
    return changes
