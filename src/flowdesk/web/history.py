"""The history timeline and the conflict message, both read from the ticket's event log.

One sentence per event, naming who or what caused it: an agent or customer by name, an API
token, a rule (with the rules that led to it), a timer's purpose. The conflict message of a stale
save is the same sentences for the events recorded since the form was loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from flowdesk.tickets.models import CauseKind, EventKind, Ticket, TicketEvent

#: Events shown in the timeline; the outbox's own bookkeeping (queued, attempts) is left out.
SHOWN = frozenset(EventKind) - {EventKind.OUTBOX_QUEUED, EventKind.DELIVERY_ATTEMPT_FAILED}
#: What a concurrent edit is made of: what changes the ticket under an open form.
CHANGES = frozenset(
    {
        EventKind.FIELD_CHANGED,
        EventKind.ASSIGNED,
        EventKind.TAG_ADDED,
        EventKind.TAG_REMOVED,
        EventKind.MESSAGE_ADDED,
        EventKind.NOTE_ADDED,
        EventKind.ESCALATED,
        EventKind.ROUTED,
        EventKind.FOLLOWER_ADDED,
        EventKind.FOLLOWER_REMOVED,
    }
)
TIMELINE_MAX = 300


@dataclass(frozen=True)
class Entry:
    id: int
    update_id: int
    at: datetime
    who: str
    what: str
    rule: str
    rule_chain: tuple[str, ...]
    by_rule: bool
    field: str


def _value(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "(none)"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return json.dumps(value, default=str)


SLA_KINDS = frozenset({EventKind.SLA_CHANGED, EventKind.SLA_BREACHED})
DELIVERY_KINDS = frozenset({EventKind.DELIVERED, EventKind.DELIVERY_FAILED})


def who(e: TicketEvent) -> str:
    """Who or what did it. SLA clocks move as a consequence of an update, whoever made it, and
    deliveries are the outbox's: naming the update's author there would mislead."""
    if e.kind in SLA_KINDS:
        return "SLA"
    if e.kind in DELIVERY_KINDS:
        return "outbox"
    if e.cause_kind == CauseKind.RULE or (e.kind == EventKind.RULE_FIRED and e.rule):
        return f"rule “{e.rule}”"
    if e.cause_kind == CauseKind.TIMER:
        return f"timer ({e.cause_detail})" if e.cause_detail else "a timer"
    name = (e.actor.name or e.actor.email) if e.actor else ""
    if e.cause_kind == CauseKind.TOKEN:
        token = e.token.name if e.token else "?"
        return f"{name} (API token {token})" if name else f"API token {token}"
    return name or e.cause_detail or str(e.cause_kind)


def what(e: TicketEvent) -> str:
    kind, field = e.kind, e.field
    if kind in (EventKind.FIELD_CHANGED, EventKind.ASSIGNED):
        return f"changed {field or 'assignee'} from {_value(e.old_value)} to {_value(e.new_value)}"
    sentences = {
        EventKind.CREATED: "created the ticket",
        EventKind.MESSAGE_ADDED: "replied",
        EventKind.NOTE_ADDED: "added an internal note",
        EventKind.TAG_ADDED: f"added tag {_value(e.new_value or e.data.get('tag'))}",
        EventKind.TAG_REMOVED: f"removed tag {_value(e.old_value or e.data.get('tag'))}",
        EventKind.FOLLOWER_ADDED: f"added follower {_value(e.new_value)}",
        EventKind.FOLLOWER_REMOVED: f"removed follower {_value(e.old_value)}",
        EventKind.RULE_FIRED: _fired(e.data),
        EventKind.ESCALATED: f"escalated the ticket: {e.data.get('reason') or 'no reason given'}",
        EventKind.DELIVERED: f"delivered the {e.data.get('kind') or 'message'}",
        EventKind.DELIVERY_FAILED: f"could not deliver the {e.data.get('kind') or 'message'}",
        EventKind.AUTOMATION_ERROR: "failed to evaluate",
        EventKind.ROUTED: "routed the ticket",
        EventKind.SLA_CHANGED: _sla_clock(field, e.new_value),
        EventKind.SLA_BREACHED: f"{_metric(field)} target breached"
        + (f" (policy {e.data['policy']})" if e.data.get("policy") else ""),
    }
    return sentences.get(EventKind(kind), kind.replace("_", " "))


def _fired(data: dict[str, Any]) -> str:
    effects = data.get("effects") or []
    return "fired" + (f" ({', '.join(str(x) for x in effects)})" if effects else "")


def _metric(field: str) -> str:
    return field.removeprefix("sla.").replace("_", " ") or "a"


def _sla_clock(field: str, new: Any) -> str:
    state = new.get("state") if isinstance(new, dict) else None
    due = new.get("due_at") if isinstance(new, dict) else None
    text = f"{_metric(field)} clock {state or 'changed'}"
    return text + (f", due {due}" if due else "")


def entry(e: TicketEvent) -> Entry:
    return Entry(
        id=e.pk,
        update_id=e.update_id,
        at=e.created_at,
        who=who(e),
        what=what(e),
        rule=e.rule,
        rule_chain=tuple(e.rule_chain or ()),
        by_rule=bool(e.rule) and e.kind not in SLA_KINDS | DELIVERY_KINDS,
        field=e.field or ("assignee" if e.kind == EventKind.ASSIGNED else ""),
    )


def _events(ticket: Ticket) -> QuerySet[TicketEvent]:
    return TicketEvent.objects.filter(ticket=ticket).select_related("actor", "token")


def timeline(ticket: Ticket) -> list[Entry]:
    """The latest TIMELINE_MAX shown events, oldest first (the caller checked history access)."""
    rows = _events(ticket).filter(kind__in=SHOWN).order_by("-id")[:TIMELINE_MAX]
    return [entry(e) for e in reversed(rows)]


def last_event_id(ticket: Ticket) -> int:
    last = TicketEvent.objects.filter(ticket=ticket).order_by("-id").values_list("id", flat=True)
    return last.first() or 0


def changes_since(ticket: Ticket, event_id: int) -> list[Entry]:
    """What others changed since the form was loaded (events after ``event_id``)."""
    rows = _events(ticket).filter(id__gt=event_id, kind__in=CHANGES).order_by("id")
    return [entry(e) for e in rows[:50]]
