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
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from flowdesk.tickets.models import CauseKind, EventKind, Ticket, TicketEvent
from flowdesk.web.templatetags.web_tags import word

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
        return _("(none)")
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
        return _("outbox")
    if e.cause_kind == CauseKind.RULE or (e.kind == EventKind.RULE_FIRED and e.rule):
        return _("rule “%(rule)s”") % {"rule": e.rule}
    if e.cause_kind == CauseKind.TIMER:
        return _("timer (%(why)s)") % {"why": e.cause_detail} if e.cause_detail else _("a timer")
    name = (e.actor.name or e.actor.email) if e.actor else ""
    if e.cause_kind == CauseKind.TOKEN:
        token = e.token.name if e.token else "?"
        if name:
            return _("%(name)s (API token %(token)s)") % {"name": name, "token": token}
        return _("API token %(token)s") % {"token": token}
    return name or e.cause_detail or str(e.cause_kind)


def what(e: TicketEvent) -> str:
    kind, field = e.kind, e.field
    if kind in (EventKind.FIELD_CHANGED, EventKind.ASSIGNED):
        return _("changed %(field)s from %(old)s to %(new)s") % {
            "field": word(field or "assignee"),
            "old": _value(e.old_value),
            "new": _value(e.new_value),
        }
    sentences = {
        EventKind.CREATED: _("created the ticket"),
        EventKind.MESSAGE_ADDED: _("replied"),
        EventKind.NOTE_ADDED: _("added an internal note"),
        EventKind.TAG_ADDED: _("added tag %(tag)s")
        % {"tag": _value(e.new_value or e.data.get("tag"))},
        EventKind.TAG_REMOVED: _("removed tag %(tag)s")
        % {"tag": _value(e.old_value or e.data.get("tag"))},
        EventKind.FOLLOWER_ADDED: _("added follower %(who)s") % {"who": _value(e.new_value)},
        EventKind.FOLLOWER_REMOVED: _("removed follower %(who)s") % {"who": _value(e.old_value)},
        EventKind.RULE_FIRED: _fired(e.data),
        EventKind.ESCALATED: _("escalated the ticket: %(reason)s")
        % {"reason": e.data.get("reason") or _("no reason given")},
        EventKind.DELIVERED: _("delivered the %(kind)s")
        % {"kind": e.data.get("kind") or _("message")},
        EventKind.DELIVERY_FAILED: _("could not deliver the %(kind)s")
        % {"kind": e.data.get("kind") or _("message")},
        EventKind.AUTOMATION_ERROR: _("failed to evaluate"),
        EventKind.ROUTED: _("routed the ticket"),
        EventKind.SLA_CHANGED: _sla_clock(field, e.new_value),
        EventKind.SLA_BREACHED: _("%(metric)s target breached (policy %(policy)s)")
        % {"metric": _metric(field), "policy": e.data["policy"]}
        if e.data.get("policy")
        else _("%(metric)s target breached") % {"metric": _metric(field)},
        EventKind.TICKET_MERGED: _ticket_merge(e, _("merged ticket #%(source)s into #%(target)s")),
        EventKind.TICKET_UNMERGED: _ticket_merge(
            e, _("unmerged ticket #%(source)s from #%(target)s")
        ),
        EventKind.CUSTOMER_MERGED: _("merged customer #%(source)s into customer #%(target)s")
        % {"source": e.data.get("from", "?"), "target": e.data.get("into", "?")},
        EventKind.CUSTOMER_UNMERGED: _("unmerged customer #%(source)s from customer #%(target)s")
        % {"source": e.data.get("from", "?"), "target": e.data.get("into", "?")},
    }
    return sentences.get(EventKind(kind), kind.replace("_", " "))


def _ticket_merge(e: TicketEvent, sentence: str) -> str:
    moved = len(e.data.get("messages") or [])
    text = sentence % {"source": e.data.get("source", "?"), "target": e.data.get("target", "?")}
    return text + " " + ngettext("(%(n)d message)", "(%(n)d messages)", moved) % {"n": moved}


def _fired(data: dict[str, Any]) -> str:
    effects = data.get("effects") or []
    if not effects:
        return _("fired")
    return _("fired (%(effects)s)") % {"effects": ", ".join(str(x) for x in effects)}


def _metric(field: str) -> str:
    return field.removeprefix("sla.").replace("_", " ") or "a"


def _sla_clock(field: str, new: Any) -> str:
    state = new.get("state") if isinstance(new, dict) else None
    due = new.get("due_at") if isinstance(new, dict) else None
    metric = _metric(field)
    if due:
        return _("%(metric)s clock %(state)s, due %(due)s") % {
            "metric": metric,
            "state": state or _("changed"),
            "due": due,
        }
    return _("%(metric)s clock %(state)s") % {"metric": metric, "state": state or _("changed")}


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
