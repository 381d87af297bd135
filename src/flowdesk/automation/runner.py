"""Runs the active rule set on one ticket update and applies the plan through the services.

Called by the ticket services inside the update's transaction, after the update's own changes.
The engine input (snapshot + event) is stored on the TicketUpdate so the explanation can be
recomputed exactly later; what fired is stored as events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flowdesk.accounts.models import Team, User
from flowdesk.automation.effects import EFFECTS, EffectContext
from flowdesk.automation.services import active_ruleset
from flowdesk.engine import CascadeResult, Event, MessageInfo, run_cascade
from flowdesk.engine.types import to_jsonable
from flowdesk.tickets import snapshot as snap
from flowdesk.tickets.events import record_event, record_field_changes
from flowdesk.tickets.models import EventKind, Ticket, TicketUpdate
from flowdesk.tickets.services import Cause


def event_to_json(event: Event) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "changes": {k: [to_jsonable(o), to_jsonable(n)] for k, (o, n) in event.changes.items()},
        "messages": [{"author_kind": m.author_kind, "public": m.public} for m in event.messages],
    }


def event_from_json(data: dict[str, Any]) -> Event:
    def value(key: str, v: Any) -> Any:
        return frozenset(v) if key in snap.SET_KEYS and v is not None else v

    return Event(
        kind=data["kind"],
        changes={k: (value(k, o), value(k, n)) for k, (o, n) in data.get("changes", {}).items()},
        messages=tuple(
            MessageInfo(m["author_kind"], m.get("public", True)) for m in data.get("messages", [])
        ),
    )


def _chain(rule: str, causes: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The rules that led to `rule`, earliest first (transitive over caused_by)."""
    seen: list[str] = []
    stack = list(causes.get(rule, ()))
    while stack:
        r = stack.pop(0)
        if r not in seen:
            seen.append(r)
            stack.extend(causes.get(r, ()))
    return tuple(reversed(seen))


def _apply_field(ticket: Ticket, key: str, new: Any) -> str | None:
    """Sets one snapshot field on the model; returns an error text instead of raising."""
    if key in ("status", "priority", "type"):
        setattr(ticket, key, new)
    elif key == "tags":
        ticket.tags = sorted(new or ())
    elif key == "assignee":
        if new is None:
            ticket.assignee = None
        else:
            user = User.objects.filter(email=new, is_active=True).first()
            if user is None or not user.is_agent:
                return f"no active agent {new!r}"
            ticket.assignee = user
    elif key == "team":
        if new is None:
            ticket.team = None
        else:
            team = Team.objects.filter(name=new).first()
            if team is None:
                return f"no team named {new!r}"
            ticket.team = team
    elif key == "followers":
        users = User.objects.filter(email__in=sorted(new or ()), is_active=True)
        ticket.followers.add(*users)
    elif key.startswith("custom."):
        fields = dict(ticket.custom_fields)
        fields[key.removeprefix("custom.")] = new
        ticket.custom_fields = fields
    else:
        return f"field {key!r} cannot be set by a rule"
    return None


def run_automation(
    ticket: Ticket,
    update: TicketUpdate,
    kind: str,
    changes: dict[str, tuple[Any, Any]],
    messages: list[tuple[str, bool]],
    now: datetime,
    snapshot: dict[str, Any],
) -> CascadeResult | None:
    """`snapshot` is the ticket as the update left it, already built by the caller."""
    active = active_ruleset()
    if active is None:
        return None
    snapshot = dict(snapshot)
    for name in active.fields:
        snapshot.setdefault(name, None)
    event = Event(
        kind=kind, changes=changes, messages=tuple(MessageInfo(a, p) for a, p in messages)
    )
    result = run_cascade(active.ruleset, snapshot, event, now=now)

    update.ruleset_version = active.number
    update.engine_snapshot = snap.to_json(snapshot)
    update.engine_event = event_to_json(event)
    update.automation = {
        "fired": [f.rule for f in result.fired],
        "passes": result.passes,
        "stopped_by": result.stopped_by,
        "hit_pass_limit": result.hit_pass_limit,
        "suppressed": list(result.suppressed),
        "conflicts": [
            {"field": c.field, "writes": [[r, to_jsonable(v)] for r, v in c.writes]}
            for c in result.conflicts
        ],
        "errors": [{"rule": e.rule, "message": e.message} for e in result.errors],
    }
    update.save(update_fields=["ruleset_version", "engine_snapshot", "engine_event", "automation"])

    base = Cause.system()
    causes = {f.rule: tuple(f.caused_by) for f in result.fired}
    for fired in result.fired:
        cause = base.for_rule(fired.rule, _chain(fired.rule, causes))
        record_event(
            ticket,
            update,
            EventKind.RULE_FIRED,
            cause,
            now,
            data={
                "pass": fired.pass_no,
                "changes": {
                    k: {"o": to_jsonable(o), "n": to_jsonable(n)}
                    for k, (o, n) in fired.changes.items()
                },
                "effects": [e.type for e in fired.effects],
                "caused_by": list(fired.caused_by),
                "ruleset_version": active.number,
            },
        )
        applied: dict[str, tuple[Any, Any]] = {}
        for key, (old, new) in fired.changes.items():
            error = _apply_field(ticket, key, new)
            if error is None:
                applied[key] = (old, new)
            else:
                record_event(
                    ticket,
                    update,
                    EventKind.AUTOMATION_ERROR,
                    cause,
                    now,
                    field=key,
                    data={"message": error},
                )
        record_field_changes(ticket, update, applied, cause, now)
        for position, effect in enumerate(fired.effects):
            if effect.type not in EFFECTS:
                # A new engine action without its Django applier: say so, never crash the update.
                record_event(
                    ticket,
                    update,
                    EventKind.AUTOMATION_ERROR,
                    cause,
                    now,
                    data={"message": f"no applier for effect {effect.type!r}"},
                )
                continue
            ctx = EffectContext(
                ticket, update, cause, now, key=f"u{update.pk}:{fired.rule}:{position}"
            )
            EFFECTS.get(effect.type).apply(ctx, dict(effect.config))
    for failure in result.errors:
        record_event(
            ticket,
            update,
            EventKind.AUTOMATION_ERROR,
            base.for_rule(failure.rule, ()),
            now,
            data={"message": failure.message},
        )
    return result
