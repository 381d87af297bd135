"""The flat snapshot of a ticket that the engine reads (see docs/engine-contract.md), built from
the field registry (fields.py).

Two forms: the engine form (set-valued keys as frozensets) and the JSON form stored on
TicketUpdate (sorted lists), so a stored snapshot reproduces the engine input exactly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowdesk.engine.vocabulary import HEADER_PREFIX, INSTANT_KEYS
from flowdesk.tickets.fields import BASE, DERIVED_KEYS, SET_KEYS, ReadState, source_headers
from flowdesk.tickets.hooks import provided_values
from flowdesk.tickets.models import Message, Ticket

__all__ = [
    "DERIVED_KEYS",
    "INSTANT_KEYS",
    "SET_KEYS",
    "build_snapshot",
    "diff",
    "from_json",
    "load_snapshot",
    "to_json",
]


def build_snapshot(ticket: Ticket, state: ReadState) -> dict[str, Any]:
    snap: dict[str, Any] = {key: b.read(ticket, state) for key, b in BASE.items()}
    requester = ticket.requester
    org = ticket.organization
    for key, value in (requester.attributes or {}).items():
        snap[f"requester.{key}"] = value
    for key, value in ((org.attributes if org else None) or {}).items():
        snap[f"organization.{key}"] = value
    for key, value in (ticket.custom_fields or {}).items():
        snap[f"custom.{key}"] = value
    for key, value in source_headers(ticket).items():
        snap[HEADER_PREFIX + key] = value
    return snap


def load_snapshot(ticket: Ticket, now: datetime) -> dict[str, Any]:
    """A stored ticket's snapshot, reading its followers and latest message (outside a write),
    with the values other packages provide (calendar, SLA clocks: tickets.hooks)."""
    latest = Message.objects.filter(ticket=ticket).order_by("-id").first()
    followers = frozenset(ticket.followers.values_list("email", flat=True))
    return build_snapshot(ticket, ReadState(now, followers, latest, provided_values(ticket, now)))


def _json_value(value: Any) -> Any:
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def to_json(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: _json_value(v) for k, v in snapshot.items()}


def from_json(data: dict[str, Any]) -> dict[str, Any]:
    snap = dict(data)
    for key in SET_KEYS:
        if snap.get(key) is not None:
            snap[key] = frozenset(snap[key])
    for key in INSTANT_KEYS:
        if isinstance(snap.get(key), str):
            snap[key] = datetime.fromisoformat(snap[key])
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
